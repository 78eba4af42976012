"""The elementwise array ops that layer kernels share, as one NumPy reference implementation.

Layer kernels (``nn/layers``) receive an ``ops`` object through their execution context and call
``ops.bias_relu(z, b, out)`` and the like. ``NUMPY_OPS`` below is the reference; the training
driver may pass a compiled implementation instead (``training/kernels.py``, numba), which
performs exactly these operations — the same single rounding per element, in the same order —
so the choice never changes a bit of the result (the tests check each op). Which one runs is
decided by whoever builds the context, never by a module-level switch read inside a kernel.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .nn import dropout_threshold, softmax_cross_entropy_delta, softmax_cross_entropy_parts

__all__ = ["NumpyOps", "NUMPY_OPS", "dropout_constants"]


@functools.lru_cache(maxsize=64)
def dropout_constants(rate: float, dtype: np.dtype) -> tuple[Any, np.uint32, Any]:
    """(1/(1 − rate), the bit threshold, 0) in the array's dtype: computed once per rate."""
    return dtype.type(1.0 / (1.0 - rate)), dropout_threshold(rate), dtype.type(0)


class NumpyOps:
    """The reference implementation of each op (NumPy ufuncs, written into ``out``)."""

    name = "numpy"

    def scale_into(self, x: np.ndarray, scale: float, out: np.ndarray) -> np.ndarray:
        """out = x · scale in out's dtype (x cast first): Rescaling's one pass over a batch."""
        return np.multiply(x, out.dtype.type(scale), out=out, dtype=out.dtype)

    def bias_relu(self, z: np.ndarray, b: np.ndarray | None, out: np.ndarray) -> np.ndarray:
        """z += b (in place), then out = max(z, 0): a Dense layer's bias and ReLU."""
        if b is not None:
            z += b
        return np.maximum(z, 0, out=out)

    def apply_dropout(
        self, x: np.ndarray, bits: np.ndarray, rate: float, out: np.ndarray
    ) -> np.ndarray:
        """x · mask with mask = 1/(1 − rate) where bits ≥ threshold, else 0."""
        keep_scale, threshold, _ = dropout_constants(rate, x.dtype)
        mask = np.multiply(bits >= threshold, keep_scale, dtype=x.dtype)
        return np.multiply(x, mask, out=out)

    def relu_vjp(self, z: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
        """g ⊙ σ'(z) for ReLU (σ'(0) = 0)."""
        return np.multiply(g, z > 0, out=out)

    def column_sums(self, g: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out = Σ_n g[n] (BP3: ∂C/∂b summed over the batch)."""
        return np.sum(g, axis=0, out=out)

    def sparse_softmax_cross_entropy(
        self, z: np.ndarray, labels: np.ndarray, delta: np.ndarray, scale: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """(per-sample cost, a = softmax(z)), with δ^L = (a − onehot(y))·scale written to delta."""
        per, a = softmax_cross_entropy_parts(z, labels=labels)
        softmax_cross_entropy_delta(a, scale, labels=labels, out=delta)
        return per, a

    def mean(self, x: np.ndarray) -> float:
        """``float(x.mean())`` for a 1-D float array without ndarray.mean's wrapper.

        The same number: ndarray.mean adds with ``np.add.reduce`` and divides by the count in
        float64 before rounding back to x's dtype.
        """
        return float(x.dtype.type(np.add.reduce(x) / x.size))


NUMPY_OPS = NumpyOps()
