"""The one source of randomness: ``glassnet.seed(n)`` makes everything after it repeatable.

Initialisers, dropout masks, shuffling and generated data sets all draw from ``generator()``,
a NumPy ``Generator`` (PCG64). Its state can be captured and restored, which checkpoints use so
that a resumed run continues the exact random stream of the uninterrupted one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InvalidArgumentError

__all__ = ["seed", "generator", "get_state", "set_state"]

_generator: np.random.Generator = np.random.default_rng()


def seed(n: int) -> None:
    """Seed glassnet's generator; a seeded run is bit-for-bit repeatable.

    Example: ``glassnet.seed(0)`` before building and fitting a model.
    """
    global _generator
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InvalidArgumentError(f"seed: expected a non-negative integer, received n={n!r}")
    _generator = np.random.default_rng(int(n))


def generator() -> np.random.Generator:
    """The generator every random draw in glassnet uses."""
    return _generator


def get_state() -> dict[str, Any]:
    """The generator's state as a JSON-friendly dict (for checkpoints)."""
    return dict(_generator.bit_generator.state)


def set_state(state: dict[str, Any]) -> None:
    """Restore a state produced by ``get_state``."""
    bit_generator = np.random.PCG64()
    bit_generator.state = state  # type: ignore[assignment]
    global _generator
    _generator = np.random.Generator(bit_generator)
