"""The one source of randomness: ``glassnet.seed(n)`` makes everything after it repeatable.

Initialisers, dropout masks, shuffling and generated data sets all draw from ``generator()``,
a NumPy ``Generator`` (PCG64). Its state can be captured and restored, which checkpoints use so
that a resumed run continues the exact random stream of the uninterrupted one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import InvalidArgumentError

__all__ = ["seed", "generator", "get_state", "set_state", "using"]

_generator: np.random.Generator = np.random.default_rng()
# A generator given to ``using`` for the calling thread only: concurrent fits in threads (joblib)
# then each draw from their own stream, and none of them touches the global one.
_local = threading.local()


def seed(n: int) -> None:
    """Seed glassnet's generator; a seeded run is bit-for-bit repeatable.

    Example: ``glassnet.seed(0)`` before building and fitting a model.
    """
    global _generator
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InvalidArgumentError(f"seed: expected a non-negative integer, received n={n!r}")
    _generator = np.random.default_rng(int(n))


def generator() -> np.random.Generator:
    """The generator every random draw in glassnet uses (the calling thread's own one inside
    ``using``)."""
    own: np.random.Generator | None = getattr(_local, "generator", None)
    return _generator if own is None else own


@contextlib.contextmanager
def using(gen: np.random.Generator) -> Iterator[np.random.Generator]:
    """Draw every random number of the calling thread from ``gen`` inside the block.

    Other threads, and the global generator that ``seed`` sets, are not affected, so fits run
    in parallel threads are each repeatable given their own generator (scikit-learn's
    ``random_state`` uses this). Blocks may nest; the previous generator comes back on exit.
    """
    if not isinstance(gen, np.random.Generator):
        raise InvalidArgumentError(
            f"using: expected a numpy.random.Generator, received {type(gen).__name__}"
        )
    previous = getattr(_local, "generator", None)
    _local.generator = gen
    try:
        yield gen
    finally:
        _local.generator = previous


def get_state() -> dict[str, Any]:
    """The generator's state as a JSON-friendly dict (for checkpoints)."""
    return dict(generator().bit_generator.state)


def set_state(state: dict[str, Any]) -> None:
    """Restore a state produced by ``get_state``."""
    bit_generator = np.random.PCG64()
    bit_generator.state = state  # type: ignore[assignment]
    if getattr(_local, "generator", None) is not None:
        _local.generator = np.random.Generator(bit_generator)
        return
    global _generator
    _generator = np.random.Generator(bit_generator)
