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
import itertools
from typing import Any

import numpy as np

from .nn import dropout_threshold, softmax_cross_entropy_delta, softmax_cross_entropy_parts

__all__ = [
    "NumpyOps",
    "NUMPY_OPS",
    "dropout_constants",
    "kernel_offsets",
    "window_index",
    "column_index",
]


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

    # -- sliding windows over channels-last batches (N, *spatial, C) ---------------------------
    # The spatial sizes come from the arrays: the padded input's from ``xp``/``dxp``, the
    # positions' from ``cols``/``out``/``g``. Each loop runs over the kernel offsets in
    # row-major order, one strided pass over the whole batch per offset.
    def im2col(
        self, xp: np.ndarray, kernel: Any, strides: Any, dilation: Any, cols: np.ndarray
    ) -> np.ndarray:
        """cols (N, *out, *kernel, C) = every window of xp, one row of kernel·C values each."""
        nd = len(kernel)
        out = cols.shape[1 : 1 + nd]
        for offset in kernel_offsets(kernel):
            cols[column_index(offset, nd)] = xp[window_index(offset, strides, dilation, out)]
        return cols

    def col2im(
        self, dcols: np.ndarray, kernel: Any, strides: Any, dilation: Any, dxp: np.ndarray
    ) -> np.ndarray:
        """The adjoint of im2col: dxp = Σ over offsets of each window's values added back at
        the positions they were copied from (dxp is overwritten)."""
        nd = len(kernel)
        out = dcols.shape[1 : 1 + nd]
        dxp.fill(0)
        for offset in kernel_offsets(kernel):
            dxp[window_index(offset, strides, dilation, out)] += dcols[column_index(offset, nd)]
        return dxp

    def window_max(
        self, xp: np.ndarray, kernel: Any, strides: Any, out: np.ndarray, argmax: Any
    ) -> np.ndarray:
        """out = each window's maximum and, unless argmax is None (inference), argmax = the
        offset (in row-major order) that held it: the first one when several are equal, and a
        NaN only where it is the first (the same comparisons with or without argmax, so that
        predict gives fit's forward values — np.maximum would not: it lets any NaN win, and
        its choice between +0 and −0 depends on NumPy's SIMD code)."""
        ones = (1,) * len(kernel)
        positions = list(kernel_offsets(kernel))
        first = xp[window_index(positions[0], strides, ones, out.shape[1:-1])]
        out[...] = first
        if argmax is not None:
            argmax.fill(0)
        better = np.empty(out.shape, dtype=bool)
        for t, offset in enumerate(positions[1:], start=1):
            values = xp[window_index(offset, strides, ones, out.shape[1:-1])]
            np.greater(values, out, out=better)  # strictly: a tie keeps the first offset
            np.copyto(out, values, where=better)
            if argmax is not None:
                np.copyto(argmax, np.uint8(t), where=better)
        return out

    def window_max_grad(
        self, g: np.ndarray, argmax: np.ndarray, kernel: Any, strides: Any, dxp: np.ndarray
    ) -> np.ndarray:
        """dxp = g routed to each window's maximum (dxp is overwritten)."""
        ones = (1,) * len(kernel)
        dxp.fill(0)
        chosen = np.empty(g.shape, dtype=bool)
        for t, offset in enumerate(kernel_offsets(kernel)):
            np.equal(argmax, t, out=chosen)
            target = dxp[window_index(offset, strides, ones, g.shape[1:-1])]
            np.add(target, g, out=target, where=chosen)
        return dxp


def kernel_offsets(kernel: Any) -> Any:
    """Every position inside a kernel, in row-major order."""
    return itertools.product(*(range(k) for k in kernel))


def window_index(offset: Any, strides: Any, dilation: Any, out: Any) -> tuple[slice, ...]:
    """The index of the (padded) input values at kernel position ``offset`` of every window."""
    spatial = tuple(
        slice(o * d, o * d + s * (m - 1) + 1, s)
        for o, d, s, m in zip(offset, dilation, strides, out)
    )
    return (slice(None), *spatial, slice(None))


def column_index(offset: Any, nd: int) -> tuple[Any, ...]:
    """The index of im2col's columns for kernel position ``offset``: (N, *out, C)."""
    lead: tuple[Any, ...] = (slice(None),) * (1 + nd)
    return lead + tuple(offset) + (slice(None),)


NUMPY_OPS = NumpyOps()
