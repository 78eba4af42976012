"""Sliding windows over the spatial axes of a channels-last batch (N, *spatial, C): the
geometry of a window layer (padding, output size) and the two copies a convolution or pooling
layer is made of — im2col (every window's values side by side, so that a convolution is one
matrix product) and its adjoint col2im (each window's gradient added back where it came from).

The copies themselves are ops of the execution context (``functional.array_ops``: one strided
copy per kernel offset in the NumPy reference — the loops run over the kernel, never over the
batch or positions; one compiled loop each in the fast step's ``CompiledOps``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from ...errors import InvalidArgumentError, ShapeError
from ...functional.array_ops import kernel_offsets, window_index

__all__ = [
    "Geometry",
    "geometry",
    "tuple_arg",
    "padding_arg",
    "data_format_arg",
    "offsets",
    "window_slice",
    "pad_into",
    "im2col",
    "col2im",
]


class Geometry(NamedTuple):
    """Where a window layer's windows lie, per spatial axis."""

    size: tuple[int, ...]  # the input's spatial size
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilation: tuple[int, ...]
    before: tuple[int, ...]  # padding added before each axis
    after: tuple[int, ...]
    out: tuple[int, ...]  # the output's spatial size

    @property
    def padded(self) -> tuple[int, ...]:
        return tuple(n + b + a for n, b, a in zip(self.size, self.before, self.after))

    @property
    def has_padding(self) -> bool:
        return any(self.before) or any(self.after)


def tuple_arg(value: Any, n: int, arg: str, layer: str, minimum: int = 1) -> tuple[int, ...]:
    """An int or a tuple of n ints, each ≥ minimum (Keras's kernel_size, strides, ...)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * n
    if (
        not isinstance(value, (tuple, list))
        or len(value) != n
        or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum
            for v in value
        )
    ):
        raise InvalidArgumentError(
            f"{layer}: {arg} must be an integer ≥ {minimum} or a tuple of {n} such integers, "
            f"received {arg}={value!r}"
        )
    return tuple(int(v) for v in value)


def padding_arg(value: Any, layer: str, allowed: tuple[str, ...] = ("valid", "same")) -> str:
    key = value.lower() if isinstance(value, str) else value
    if key not in allowed:
        raise InvalidArgumentError(
            f"{layer}: padding must be one of {', '.join(map(repr, allowed))}, "
            f"received padding={value!r}"
        )
    return str(key)


def data_format_arg(value: Any, layer: str) -> str:
    if value is None:
        return "channels_last"
    if value not in ("channels_last", "channels_first"):
        raise InvalidArgumentError(
            f"{layer}: data_format must be 'channels_last' or 'channels_first', "
            f"received data_format={value!r}"
        )
    return str(value)


def geometry(
    size: tuple[int, ...],
    kernel: tuple[int, ...],
    strides: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: str,
    where: str,
) -> Geometry:
    """Keras's geometry: "valid" keeps whole windows (⌊(n − span)/s⌋ + 1 positions), "same"
    gives ⌈n/s⌉ positions with the padding split evenly, the extra one after; "causal" (1-D)
    pads span − 1 before only."""
    before, after, out = [], [], []
    for n, k, s, d in zip(size, kernel, strides, dilation):
        span = (k - 1) * d + 1
        if padding == "valid":
            b = a = 0
            m = (n - span) // s + 1 if n >= span else 0
        elif padding == "causal":
            b, a = span - 1, 0
            m = (n - 1) // s + 1
        else:
            m = -(-n // s)
            total = max((m - 1) * s + span - n, 0)
            b, a = total // 2, total - total // 2
        if m < 1:
            raise ShapeError(
                f"{where}: the window (span {span}) does not fit the input's spatial size "
                f"{tuple(size)} with padding {padding!r}"
            )
        before.append(b)
        after.append(a)
        out.append(m)
    return Geometry(tuple(size), kernel, strides, dilation, tuple(before), tuple(after), tuple(out))


def offsets(geo: Geometry) -> Iterator[tuple[int, ...]]:
    """Every position inside the kernel, in row-major order (the order of im2col's columns)."""
    return kernel_offsets(geo.kernel)  # type: ignore[no-any-return]


def window_slice(geo: Geometry, offset: tuple[int, ...]) -> tuple[slice, ...]:
    """The index of (padded) input values at kernel position ``offset`` of every window."""
    return window_index(offset, geo.strides, geo.dilation, geo.out)


def pad_into(x: np.ndarray, geo: Geometry, out: np.ndarray | None, fill: float) -> np.ndarray:
    """x (N, *size, C) padded with ``fill`` to (N, *padded, C); x itself when unpadded."""
    if not geo.has_padding:
        return x
    shape = (x.shape[0], *geo.padded, x.shape[-1])
    if out is None:
        out = np.empty(shape, dtype=x.dtype)
    out.fill(fill)
    out[interior(geo)] = x
    return out


def interior(geo: Geometry) -> tuple[slice, ...]:
    """The index of the unpadded input inside the padded one."""
    spatial = tuple(slice(b, b + n) for b, n in zip(geo.before, geo.size))
    return (slice(None), *spatial, slice(None))


def im2col(xp: np.ndarray, geo: Geometry, cols: np.ndarray | None, ops: Any) -> np.ndarray:
    """Every window of the padded batch xp (N, *padded, C) as a row: (N, *out, *kernel, C)."""
    if cols is None:
        cols = np.empty((xp.shape[0], *geo.out, *geo.kernel, xp.shape[-1]), dtype=xp.dtype)
    return ops.im2col(xp, geo.kernel, geo.strides, geo.dilation, cols)  # type: ignore[no-any-return]


def col2im(dcols: np.ndarray, geo: Geometry, dxp: np.ndarray | None, ops: Any) -> np.ndarray:
    """The adjoint of im2col: dxp (N, *padded, C) = Σ over kernel offsets of each window's
    gradient added at the values it was copied from."""
    if dxp is None:
        dxp = np.empty((dcols.shape[0], *geo.padded, dcols.shape[-1]), dtype=dcols.dtype)
    return ops.col2im(dcols, geo.kernel, geo.strides, geo.dilation, dxp)  # type: ignore[no-any-return]
