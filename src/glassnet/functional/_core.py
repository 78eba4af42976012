"""Shared plumbing for the ops: lifting operands to tensors, dtype rules, undoing broadcasting."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.tensor import DEFAULT_FLOAT, Tensor, as_array
from ..errors import DTypeError, ShapeError, describe

__all__ = ["lift", "lift_like", "lift_pair", "unbroadcast", "require_float", "normalize_axis"]


def lift(x: Any, where: str) -> Tensor:
    """``x`` as a Tensor: tensors pass through, anything else becomes a constant."""
    if isinstance(x, Tensor):
        return x
    return Tensor(as_array(x, None, where))


def _const_like(x: Any, dtype: np.dtype, where: str) -> Tensor:
    # Constants take the floating dtype of the tensor they meet, like Python scalars do, so a
    # float64 NumPy array never silently upcasts a float32 model. They are converted straight
    # to that dtype: through the float32 default first, 0.1 would become 0.10000000149 inside
    # a float64 model.
    if dtype.kind != "f":
        return Tensor(as_array(x, None, where))
    if type(x) is float or type(x) is int:  # the usual constant: a Python number
        return Tensor._leaf(np.asarray(x, dtype=dtype))
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError):
        raw = None
    if raw is None or raw.dtype.kind not in "fiub":
        return Tensor(as_array(x, None, where))  # raises the usual DTypeError
    return Tensor(raw, dtype=dtype)


def lift_like(x: Any, dtype: np.dtype, where: str) -> Tensor:
    """``x`` as a Tensor; a constant takes ``dtype`` when that is a float dtype (see lift_pair)."""
    return x if isinstance(x, Tensor) else _const_like(x, np.dtype(dtype), where)


def result_dtype(a: np.dtype, b: np.dtype) -> np.dtype:
    """float64 if either is float64, else float32 if either is floating, else NumPy's rule."""
    if a.kind == "f" or b.kind == "f":
        if a == np.float64 or b == np.float64:
            return np.dtype(np.float64)
        return DEFAULT_FLOAT
    return np.result_type(a, b)


def lift_pair(a: Any, b: Any, where: str) -> tuple[Tensor, Tensor, np.ndarray, np.ndarray]:
    """Both operands as tensors, plus their data cast to one common dtype."""
    if isinstance(a, Tensor):
        b = lift_like(b, a.data.dtype, where)
    elif isinstance(b, Tensor):
        a = lift_like(a, b.data.dtype, where)
    else:
        a, b = lift(a, where), lift(b, where)
    da, db = a.data, b.data
    if da.dtype != db.dtype:
        dt = result_dtype(da.dtype, db.dtype)
        da = da.astype(dt, copy=False)
        db = db.astype(dt, copy=False)
    return a, b, da, db


def unbroadcast(grad: np.ndarray, like: Tensor) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, back to ``like``'s shape.

    If y = x + b broadcasts b of shape (3,) across a batch (N, 3), each b_j was used N times,
    so ∂C/∂b_j sums the N upstream gradients. The result also takes ``like``'s dtype.
    """
    shape = like.data.shape
    if grad.shape != shape:
        extra = grad.ndim - len(shape)
        if extra > 0:
            grad = grad.sum(axis=tuple(range(extra)))
        stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
        if stretched:
            grad = grad.sum(axis=stretched, keepdims=True)
    if grad.dtype != like.data.dtype:
        grad = grad.astype(like.data.dtype)
    return grad


def require_float(x: Tensor, op: str) -> None:
    """Differentiable math needs float32/float64 input."""
    if x.data.dtype.kind != "f":
        raise DTypeError(
            f"{op}: expected a float32 or float64 tensor, received dtype {x.data.dtype}; "
            f"convert with .astype('float32')"
        )


def to_float(x: Any, op: str) -> Tensor:
    """Lift and convert integer/bool data to the default float dtype (for math like exp)."""
    t = lift(x, op)
    if t.data.dtype.kind != "f":
        if t.requires_grad:
            require_float(t, op)
        t = Tensor(t.data.astype(DEFAULT_FLOAT))
    return t


def normalize_axis(axis: Any, ndim: int, op: str) -> tuple[int, ...] | None:
    """Axis argument as a tuple of non-negative ints (None: all axes), validated."""
    if axis is None:
        return None
    if not isinstance(axis, (int, np.integer, tuple, list)):
        raise ShapeError(f"{op}: axis must be an int or a tuple of ints, received {axis!r}")
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        if isinstance(ax, bool) or not isinstance(ax, (int, np.integer)):
            raise ShapeError(f"{op}: axis must be an int or a tuple of ints, received {axis!r}")
        if ndim == 0 and ax in (0, -1):
            continue  # as in PyTorch, a 0-d tensor reduces over "axis 0" to itself
        if not -ndim <= ax < ndim:
            raise ShapeError(
                f"{op}: axis {ax} is out of range for a tensor with {ndim} dimension(s)"
            )
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: axis {axis!r} repeats an axis")
    return tuple(out)


def broadcast_shapes(a: tuple[int, ...], b: tuple[int, ...], op: str) -> tuple[int, ...]:
    """NumPy's broadcast result, with an error that names the op."""
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        raise ShapeError(
            f"{op}: shapes {a} and {b} cannot be broadcast together; trailing sizes must "
            f"match or be 1"
        ) from None


def check_finite_scalar(value: Any, name: str, op: str) -> float:
    """A Python float from a real-number argument, or a clear error."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DTypeError(f"{op}: {name} must be a number, received {describe(value)}") from None
    return v
