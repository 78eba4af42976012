"""``keras.random``: random tensors from glassnet's one generator (Keras 3's names).

``seed`` may be an int (a generator of its own, so the same seed gives the same values) or
a ``SeedGenerator``; without one the global generator (``glassnet.seed``) is used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _rng
from ..autograd.tensor import Tensor

__all__ = [
    "normal",
    "uniform",
    "truncated_normal",
    "randint",
    "shuffle",
    "dropout",
    "SeedGenerator",
]


class SeedGenerator:
    """A generator of its own, seeded once: successive draws differ, reruns repeat."""

    def __init__(self, seed: int | None = None) -> None:
        self.generator = np.random.default_rng(seed)


def _generator(seed: Any) -> np.random.Generator:
    if isinstance(seed, SeedGenerator):
        return seed.generator
    if seed is None:
        return _rng.generator()
    return np.random.default_rng(int(seed))


def _tensor(values: np.ndarray, dtype: Any) -> Tensor:
    arr = values.astype(dtype or "float32")
    return Tensor(arr, dtype=arr.dtype) if arr.dtype.kind == "f" else Tensor(arr)


def normal(
    shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None, seed: Any = None
) -> Tensor:
    """Samples of N(mean, stddev²)."""
    return _tensor(_generator(seed).normal(mean, stddev, size=shape), dtype)


def uniform(
    shape: Any, minval: float = 0.0, maxval: float = 1.0, dtype: Any = None, seed: Any = None
) -> Tensor:
    """Samples of U[minval, maxval)."""
    return _tensor(_generator(seed).uniform(minval, maxval, size=shape), dtype)


def truncated_normal(
    shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None, seed: Any = None
) -> Tensor:
    """N(mean, stddev²) redrawn outside two standard deviations."""
    gen = _generator(seed)
    values = gen.normal(size=shape)
    bad = np.abs(values) > 2
    while bad.any():
        values[bad] = gen.normal(size=int(bad.sum()))
        bad = np.abs(values) > 2
    return _tensor(mean + stddev * values, dtype)


def randint(shape: Any, minval: int, maxval: int, dtype: Any = "int32", seed: Any = None) -> Tensor:
    """Integers in [minval, maxval)."""
    return Tensor(_generator(seed).integers(minval, maxval, size=shape).astype(dtype))


def shuffle(x: Any, axis: int = 0, seed: Any = None) -> Tensor:
    """x with its entries along ``axis`` in a random order."""
    arr = np.asarray(x.data if isinstance(x, Tensor) else x)
    order = _generator(seed).permutation(arr.shape[axis])
    return _tensor(np.take(arr, order, axis=axis), arr.dtype)


def dropout(inputs: Any, rate: float, noise_shape: Any = None, seed: Any = None) -> Tensor:
    """Inputs with each entry zeroed with probability ``rate`` and the rest scaled 1/(1 − rate)
    (differentiable in the inputs)."""
    from .. import functional as F

    x = inputs if isinstance(inputs, Tensor) else Tensor(np.asarray(inputs, dtype=np.float32))
    keep = _generator(seed).random(size=noise_shape or x.shape) >= rate
    return F.mul(x, keep.astype(x.data.dtype) / (1.0 - rate))
