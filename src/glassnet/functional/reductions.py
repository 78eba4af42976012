"""Reductions: sum, mean, max, min, var, logsumexp (axis= and keepdims= as in NumPy)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..errors import InvalidArgumentError, ShapeError
from ._core import lift, normalize_axis, to_float

__all__ = ["sum", "mean", "max", "min", "var", "logsumexp", "cumsum", "prod"]

Axis = int | tuple[int, ...] | None


def _expand(
    g: np.ndarray, axes: tuple[int, ...] | None, keepdims: bool, shape: tuple[int, ...]
) -> np.ndarray:
    """Give a reduced gradient back its reduced axes so it broadcasts against the input."""
    if not keepdims:
        if axes is None:
            g = np.reshape(g, (1,) * len(shape))
        else:
            g = np.expand_dims(g, axes)
    return g


def _count(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> int:
    if axes is None:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Σ over ``axis`` (all axes by default). Each input element receives the upstream grad."""
    x = lift(x, "sum")
    axes = normalize_axis(axis, x.data.ndim, "sum")
    shape = x.data.shape
    out = x.data.sum(axis=axes, keepdims=keepdims)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (np.broadcast_to(_expand(g, axes, keepdims, shape), shape),)

    return Tensor._make(np.asarray(out), (x,), backward, "sum")


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Average over ``axis``. Each input element receives upstream grad / (number averaged)."""
    x = to_float(x, "mean")
    axes = normalize_axis(axis, x.data.ndim, "mean")
    shape = x.data.shape
    n = _count(shape, axes)
    if n == 0:
        raise ShapeError(f"mean: cannot average over an empty axis of a tensor of shape {shape}")
    out = x.data.mean(axis=axes, keepdims=keepdims)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (np.broadcast_to(_expand(g, axes, keepdims, shape) / n, shape),)

    return Tensor._make(np.asarray(out, dtype=x.data.dtype), (x,), backward, "mean")


def _extreme(x: Any, axis: Axis, keepdims: bool, op: str) -> Tensor:
    x = lift(x, op)
    axes = normalize_axis(axis, x.data.ndim, op)
    shape = x.data.shape
    if x.data.size == 0:
        raise ShapeError(f"{op}: cannot reduce an empty tensor of shape {shape}")
    reducer = np.max if op == "max" else np.min
    kept = reducer(x.data, axis=axes, keepdims=True)
    out = kept if keepdims else (kept.reshape(()) if axes is None else np.squeeze(kept, axes))
    xd = x.data

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        # Ties share the gradient equally (as PyTorch's amax/amin do).
        mask = (xd == kept).astype(g.dtype)
        mask /= mask.sum(axis=axes, keepdims=True)
        return (mask * _expand(g, axes, keepdims, shape),)

    return Tensor._make(np.asarray(out), (x,), backward, op)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Largest element over ``axis``; the gradient goes to the maximum (shared on ties)."""
    return _extreme(x, axis, keepdims, "max")


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Smallest element over ``axis``; the gradient goes to the minimum (shared on ties)."""
    return _extreme(x, axis, keepdims, "min")


def var(x: Any, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance Σ(x − x̄)² / (n − ddof) over ``axis`` (ddof=0 as NumPy and Keras; 1 = unbiased).

    Backward: ∂var/∂x_i = 2(x_i − x̄)/(n − ddof).
    """
    x = to_float(x, "var")
    axes = normalize_axis(axis, x.data.ndim, "var")
    shape = x.data.shape
    n = _count(shape, axes)
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or ddof < 0:
        raise InvalidArgumentError(f"var: ddof must be a non-negative integer, received {ddof!r}")
    if n - ddof <= 0:
        raise ShapeError(
            f"var: {n} element(s) per variance with ddof={ddof} leave no degrees of freedom"
        )
    centred = x.data - x.data.mean(axis=axes, keepdims=True)
    out = (centred * centred).sum(axis=axes, keepdims=keepdims) / (n - ddof)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (_expand(g, axes, keepdims, shape) * centred * (2.0 / (n - ddof)),)

    return Tensor._make(np.asarray(out, dtype=x.data.dtype), (x,), backward, "var")


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """log Σ eˣ over ``axis``, stable (the max is factored out). Backward: g ⊙ softmax(x)."""
    x = to_float(x, "logsumexp")
    axes = normalize_axis(axis, x.data.ndim, "logsumexp")
    shape = x.data.shape
    if x.data.size == 0:
        raise ShapeError(f"logsumexp: cannot reduce an empty tensor of shape {shape}")
    xd = x.data
    m = xd.max(axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # an all −inf row stays −inf without NaN
    shifted = xd - m
    log_s = np.log(np.exp(shifted).sum(axis=axes, keepdims=True))
    lse_kept = log_s + m
    out = (
        lse_kept
        if keepdims
        else (lse_kept.reshape(()) if axes is None else np.squeeze(lse_kept, axes))
    )

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        # softmax(x) = e^((x − m) − log s): x − lse would round lse at |x| ~ 1000 in float32
        # (one ulp there is 6e-5) and cost the gradient four digits.
        return (_expand(g, axes, keepdims, shape) * np.exp(shifted - log_s),)

    return Tensor._make(np.asarray(out, dtype=xd.dtype), (x,), backward, "logsumexp")


def cumsum(x: Any, axis: int = 0) -> Tensor:
    """Running sums along ``axis``. Input i feeds outputs i, i+1, …: its gradient is the
    reversed running sum of the upstream gradient."""
    x = lift(x, "cumsum")
    (ax,) = normalize_axis(axis, x.data.ndim, "cumsum") or (0,)
    out = np.cumsum(x.data, axis=ax)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (np.flip(np.cumsum(np.flip(g, ax), axis=ax), ax),)

    return Tensor._make(out, (x,), backward, "cumsum")


def prod(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Π over ``axis``. Local derivative of each factor: the product of the others (computed
    without dividing, so a zero factor is handled)."""
    x = to_float(x, "prod")
    axes = normalize_axis(axis, x.data.ndim, "prod")
    xd = x.data
    out = np.prod(xd, axis=axes, keepdims=keepdims)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        reduced = tuple(range(xd.ndim)) if axes is None else axes
        order = list(reduced) + [a for a in range(xd.ndim) if a not in reduced]
        moved = np.transpose(xd, order)
        flat = moved.reshape((-1,) + moved.shape[len(reduced) :])
        ones = np.ones_like(flat[:1])
        left = np.cumprod(np.concatenate([ones, flat[:-1]]), axis=0)  # Π of those before
        right = np.cumprod(np.concatenate([ones, flat[::-1][:-1]]), axis=0)[::-1]  # after
        others = np.transpose((left * right).reshape(moved.shape), np.argsort(order))
        return (others * _expand(g, axes, keepdims, xd.shape),)

    return Tensor._make(np.asarray(out), (x,), backward, "prod")
