"""Shape ops: they move values around, so their backward moves gradients back the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..errors import DTypeError, InvalidArgumentError, ShapeError, describe
from ._core import lift, lift_like, normalize_axis, result_dtype, unbroadcast

__all__ = [
    "reshape",
    "flatten",
    "transpose",
    "permute",
    "broadcast_to",
    "squeeze",
    "unsqueeze",
    "concat",
    "stack",
    "getitem",
    "take",
]


def reshape(x: Any, *shape: Any) -> Tensor:
    """The same values in a new shape (one size may be −1). Backward: reshape back."""
    x = lift(x, "reshape")
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        out = x.data.reshape(shape)
    except (ValueError, TypeError):
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.data.size} elements) "
            f"into {tuple(shape)}"
        ) from None
    original = x.data.shape

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (g.reshape(original),)

    return Tensor._make(out, (x,), backward, "reshape")


def flatten(x: Any, start_axis: int = 1) -> Tensor:
    """Merge every axis from ``start_axis`` on: (N, 28, 28) → (N, 784) by default."""
    x = lift(x, "flatten")
    (start,) = normalize_axis(start_axis, x.data.ndim, "flatten") or (0,)
    return reshape(x, x.data.shape[:start] + (-1,))


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Permute axes (reverse them by default, as ``.T``). Backward: the inverse permutation."""
    x = lift(x, "transpose")
    if axes is None:
        perm = tuple(range(x.data.ndim))[::-1]
    else:
        nd = x.data.ndim
        # Out-of-range axes are an error, not wrapped around (axis 5 of a 2-d tensor ≠ axis 1).
        in_range = all(isinstance(a, (int, np.integer)) and -nd <= a < nd for a in axes)
        perm = tuple(int(a) % nd for a in axes) if in_range else tuple(axes)
        if not in_range or sorted(perm) != list(range(nd)):
            raise ShapeError(
                f"transpose: axes {tuple(axes)} are not a permutation of the "
                f"{x.data.ndim} axes of a tensor of shape {x.shape}"
            )
    inverse = tuple(np.argsort(perm))

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (g.transpose(inverse),)

    return Tensor._make(x.data.transpose(perm), (x,), backward, "transpose")


def permute(x: Any, *dims: int) -> Tensor:
    """PyTorch's name for transpose with explicit axes: ``x.permute(0, 2, 1)``."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return transpose(x, dims)


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """x repeated to ``shape`` by broadcasting. Backward: sum over the repeated axes."""
    x = lift(x, "broadcast_to")
    shape = tuple(int(s) for s in shape)
    try:
        out = np.broadcast_to(x.data, shape)
    except ValueError:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (unbroadcast(g, x),)

    return Tensor._make(out, (x,), backward, "broadcast_to")


def squeeze(x: Any, axis: int | tuple[int, ...] | None = None) -> Tensor:
    """Drop axes of size 1 (all of them, or those in ``axis``)."""
    x = lift(x, "squeeze")
    axes = normalize_axis(axis, x.data.ndim, "squeeze")
    if axes is not None:
        for a in axes:
            if x.data.shape[a] != 1:
                raise ShapeError(
                    f"squeeze: axis {a} of a tensor of shape {x.shape} has size "
                    f"{x.data.shape[a]}, not 1"
                )
    return reshape(x, np.squeeze(x.data, axes).shape)


def unsqueeze(x: Any, axis: int) -> Tensor:
    """Insert an axis of size 1 at ``axis``."""
    x = lift(x, "unsqueeze")
    nd = x.data.ndim + 1
    if not -nd <= axis < nd:
        raise ShapeError(f"unsqueeze: axis {axis} is out of range for a result with {nd} axes")
    return reshape(x, np.expand_dims(x.data, axis).shape)


def _join_inputs(tensors: Sequence[Any], op: str) -> tuple[list[Tensor], list[np.ndarray]]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)) or not tensors:
        raise InvalidArgumentError(
            f"{op}: expected a non-empty list of tensors, received {type(tensors).__name__}"
        )
    # Constants take the float dtype of the tensors they are joined with.
    like: np.dtype | None = None
    for d in (t.data.dtype for t in tensors if isinstance(t, Tensor)):
        like = d if like is None else result_dtype(like, d)
    ts = [lift(t, op) if like is None else lift_like(t, like, op) for t in tensors]
    dt = ts[0].data.dtype
    for t in ts[1:]:
        dt = result_dtype(dt, t.data.dtype)
    return ts, [t.data.astype(dt, copy=False) for t in ts]


def concat(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis. Backward: split the gradient at the same places."""
    ts, arrays = _join_inputs(tensors, "concat")
    try:
        out = np.concatenate(arrays, axis=axis)
    except (ValueError, IndexError):
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ShapeError(
            f"concat: cannot join shapes {shapes} along axis {axis}; all other sizes must match"
        ) from None
    ax = axis % out.ndim
    bounds = np.cumsum([a.shape[ax] for a in arrays])[:-1]

    def backward(g: np.ndarray) -> list[np.ndarray]:
        return [
            piece.astype(t.data.dtype, copy=False)
            for piece, t in zip(np.split(g, bounds, axis=ax), ts)
        ]

    return Tensor._make(out, tuple(ts), backward, "concat")


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join same-shape tensors along a new axis. Backward: take each slice back out."""
    ts, arrays = _join_inputs(tensors, "stack")
    try:
        out = np.stack(arrays, axis=axis)
    except (ValueError, IndexError):
        shapes = ", ".join(str(a.shape) for a in arrays)
        if len({a.shape for a in arrays}) == 1:
            raise ShapeError(
                f"stack: axis {axis} is out of range for a result with {arrays[0].ndim + 1} axes"
            ) from None
        raise ShapeError(
            f"stack: tensors must all have the same shape, received {shapes}"
        ) from None
    ax = axis % out.ndim

    def backward(g: np.ndarray) -> list[np.ndarray]:
        return [np.take(g, i, axis=ax).astype(t.data.dtype, copy=False) for i, t in enumerate(ts)]

    return Tensor._make(out, tuple(ts), backward, "stack")


def _plain_index(index: Any) -> Any:
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_basic(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(
        i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)) for i in items
    ) and not any(isinstance(i, bool) for i in items)


def getitem(x: Any, index: Any) -> Tensor:
    """x[index] with basic (slices, ints) or integer-array/boolean indexing.

    Backward scatters the gradient into zeros at the indexed places; an element picked several
    times (repeated indices) receives the sum of its gradients (``np.add.at``).
    """
    x = lift(x, "getitem")
    idx = _plain_index(index)
    try:
        out = x.data[idx]
    except IndexError as exc:
        raise ShapeError(
            f"getitem: index {index!r} does not fit a tensor of shape {x.shape}: {exc}"
        ) from None
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"getitem: index {index!r} is not a valid index: {exc}"
        ) from None
    basic = _is_basic(idx)
    shape, dtype = x.data.shape, x.data.dtype

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        full = np.zeros(shape, dtype=dtype)
        if basic:
            full[idx] = g
        else:
            np.add.at(full, idx, g)
        return (full,)

    if not isinstance(out, np.ndarray):
        out = np.asarray(out)
    return Tensor._make(out, (x,), backward, "getitem")


def take(x: Any, indices: Any, axis: int | None = None) -> Tensor:
    """Entries of x at integer ``indices`` along ``axis`` (NumPy's take; x flattened when
    axis is None). An entry picked k times receives the sum of those k upstream gradients."""
    x = lift(x, "take")
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"take: indices must be integers, received {describe(idx)}")
    xd = x.data if axis is not None else x.data.reshape(-1)
    ax = 0 if axis is None else (normalize_axis(axis, xd.ndim, "take") or (0,))[0]
    size = xd.shape[ax]
    if idx.size and (idx.min() < -size or idx.max() >= size):
        raise ShapeError(
            f"take: indices must lie in [-{size}, {size}) for axis {ax} of size {size}, "
            f"received values from {idx.min()} to {idx.max()}"
        )
    out = np.take(xd, idx, axis=ax)
    shape = x.data.shape

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        grad = np.zeros(xd.shape, dtype=g.dtype)
        moved = np.moveaxis(grad, ax, 0)
        g_moved = np.moveaxis(g, list(range(ax, ax + idx.ndim)), list(range(idx.ndim)))
        np.add.at(moved, idx % size, g_moved)
        return (grad.reshape(shape),)

    return Tensor._make(out, (x,), backward, "take")
