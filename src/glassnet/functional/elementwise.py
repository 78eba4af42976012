"""Elementwise math ops, each forward beside its local derivative."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..errors import InvalidArgumentError
from ._core import broadcast_shapes, check_finite_scalar, lift, lift_pair, to_float, unbroadcast

__all__ = [
    "exp",
    "log",
    "log1p",
    "sqrt",
    "square",
    "sin",
    "cos",
    "abs",
    "clip",
    "maximum",
    "minimum",
    "where",
]


def exp(x: Any) -> Tensor:
    """eˣ. Local derivative: eˣ (the output itself)."""
    x = to_float(x, "exp")
    out = np.exp(x.data)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (g * out,)

    return Tensor._make(out, (x,), backward, "exp")


def log(x: Any) -> Tensor:
    """Natural log. Local derivative: 1/x. log(0) = −inf, as in NumPy, without a warning."""
    x = to_float(x, "log")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(x.data)
    xd = x.data

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g / xd,)

    return Tensor._make(out, (x,), backward, "log")


def log1p(x: Any) -> Tensor:
    """ln(1 + x), accurate for small x. Local derivative: 1/(1 + x)."""
    x = to_float(x, "log1p")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log1p(x.data)
    xd = x.data

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g / (1 + xd),)

    return Tensor._make(out, (x,), backward, "log1p")


def square(x: Any) -> Tensor:
    """x². Local derivative: 2x."""
    x = to_float(x, "square")
    xd = x.data

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (g * 2 * xd,)

    return Tensor._make(xd * xd, (x,), backward, "square")


def sin(x: Any) -> Tensor:
    """sin x. Local derivative: cos x."""
    x = to_float(x, "sin")
    xd = x.data

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (g * np.cos(xd),)

    return Tensor._make(np.sin(xd), (x,), backward, "sin")


def cos(x: Any) -> Tensor:
    """cos x. Local derivative: −sin x."""
    x = to_float(x, "cos")
    xd = x.data

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (-g * np.sin(xd),)

    return Tensor._make(np.cos(xd), (x,), backward, "cos")


def sqrt(x: Any) -> Tensor:
    """√x. Local derivative: 1/(2√x)."""
    x = to_float(x, "sqrt")
    with np.errstate(invalid="ignore"):
        out = np.sqrt(x.data)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g * 0.5 / out,)

    return Tensor._make(out, (x,), backward, "sqrt")


def abs(x: Any) -> Tensor:  # noqa: A001 - the op's natural name
    """|x|. Local derivative: sign(x) (0 at 0, as in PyTorch)."""
    x = lift(x, "abs")
    xd = x.data

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (g * np.sign(xd),)

    return Tensor._make(np.abs(xd), (x,), backward, "abs")


def clip(x: Any, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """x limited to [min, max]. The gradient passes where min ≤ x ≤ max, else 0."""
    x = to_float(x, "clip")
    if min is None and max is None:
        raise InvalidArgumentError("clip: give at least one of min= and max=, received neither")
    lo = None if min is None else check_finite_scalar(min, "min", "clip")
    hi = None if max is None else check_finite_scalar(max, "max", "clip")
    if lo is not None and hi is not None and lo > hi:
        raise InvalidArgumentError(f"clip: min must not exceed max, received min={lo}, max={hi}")
    xd = x.data
    out = np.clip(xd, lo, hi)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        inside = np.ones(xd.shape, dtype=bool)
        if lo is not None:
            inside &= xd >= lo
        if hi is not None:
            inside &= xd <= hi
        return (g * inside,)

    return Tensor._make(out, (x,), backward, "clip")


def _extremum(a: Any, b: Any, op: str, pick: Any) -> Tensor:
    a, b, da, db = lift_pair(a, b, op)
    if da.shape != db.shape:
        broadcast_shapes(da.shape, db.shape, op)
    out = pick(da, db)

    def backward(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Ties split the gradient in half, as PyTorch does.
        share_a = (out == da).astype(g.dtype)
        share_b = (out == db).astype(g.dtype)
        tie = share_a * share_b
        share_a -= 0.5 * tie
        share_b -= 0.5 * tie
        return unbroadcast(g * share_a, a), unbroadcast(g * share_b, b)

    return Tensor._make(out, (a, b), backward, op)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max(a, b); the gradient goes to the larger (split on ties)."""
    return _extremum(a, b, "maximum", np.maximum)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min(a, b); the gradient goes to the smaller (split on ties)."""
    return _extremum(a, b, "minimum", np.minimum)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a if condition else b``; the gradient follows the branch taken."""
    cond = lift(condition, "where").data.astype(bool, copy=False)
    a, b, da, db = lift_pair(a, b, "where")
    shape = broadcast_shapes(broadcast_shapes(cond.shape, da.shape, "where"), db.shape, "where")
    out = np.where(cond, da, db)

    def backward(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        zero = np.zeros((), dtype=g.dtype)
        gb = np.broadcast_to(g, shape)
        return unbroadcast(np.where(cond, gb, zero), a), unbroadcast(np.where(cond, zero, gb), b)

    return Tensor._make(out, (a, b), backward, "where")
