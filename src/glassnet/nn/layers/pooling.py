"""Pooling: MaxPooling1D/2D, AveragePooling1D/2D and the global poolings, forward and backward.

On a channels-last batch (N, *spatial, C), each window of ``pool_size`` values per channel
becomes one value:

    max       a = the window's largest value; backward routes g to that value only (the first
              one in row-major order when several are equal, as PyTorch and TensorFlow do)
    average   a = the window's mean; backward spreads g/count over the window, where count is
              the number of real (unpadded) values in it (Keras's "same" padding excludes the
              padding, as PyTorch's ``count_include_pad=False``)

Like the convolutions, the loops run over the positions inside a window (4 for 2×2), each a
strided pass over the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ...errors import InvalidArgumentError, ShapeError, describe
from . import _windows as win
from .base import Context, Layer, Shape, inference_mode
from .conv import from_last, spatial_of, to_last, with_channels

__all__ = [
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
]


def _checked(layer: Layer, x: np.ndarray, rank: int, data_format: str) -> np.ndarray:
    if x.ndim != rank + 2:
        raise ShapeError(
            f"{layer.name}: {type(layer).__name__} needs a batch of {rank + 2}-D inputs "
            f"({data_format}), received {describe(x)}"
        )
    x = to_last(x, data_format)
    return x if x.dtype.kind == "f" else x.astype(layer.dtype)


def _check_rank(layer: Layer, input_shape: Shape, rank: int) -> None:
    if len(input_shape) != rank + 1:
        raise ShapeError(
            f"{layer.name}: {type(layer).__name__} needs inputs of per-sample rank {rank + 1} "
            f"(spatial axes and channels), received {tuple(input_shape)}"
        )


class _Pooling(Layer):
    """A pooling window slid over ``rank`` spatial axes."""

    rank: ClassVar[int] = 2
    mode: ClassVar[str] = "max"
    explain_role = "pool"  # glassnet.explain.conv routes δ through it (1-D and 2-D)

    def __init__(
        self,
        pool_size: Any = 2,
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: Any = None,
    ) -> None:
        cls = type(self).__name__
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.pool_size = win.tuple_arg(pool_size, self.rank, "pool_size", cls)
        if int(np.prod(self.pool_size)) > 255:  # the window position is kept as a uint8
            raise InvalidArgumentError(
                f"{cls}: pool_size may cover at most 255 values, received "
                f"pool_size={pool_size!r}; use a Global pooling layer for whole images"
            )
        self.strides = (
            self.pool_size if strides is None else win.tuple_arg(strides, self.rank, "strides", cls)
        )
        self.padding = win.padding_arg(padding, cls)
        self.data_format = win.data_format_arg(data_format, cls)
        self.built = True

    def _geometry(self, spatial: tuple[int, ...]) -> win.Geometry:
        ones = (1,) * self.rank
        return win.geometry(spatial, self.pool_size, self.strides, ones, self.padding, self.name)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        _check_rank(self, input_shape, self.rank)
        fmt = self.data_format
        channels = input_shape[-1] if fmt == "channels_last" else input_shape[0]
        geo = self._geometry(spatial_of(input_shape, fmt))
        return with_channels(geo.out, channels, fmt)  # type: ignore[arg-type]

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        x = _checked(self, x, self.rank, self.data_format)
        geo = self._geometry(tuple(x.shape[1:-1]))
        n, c, dt = len(x), x.shape[-1], x.dtype
        fill = -np.inf if self.mode == "max" else 0.0
        xp = win.pad_into(x, geo, ctx.buffer("xp", (n, *geo.padded, c), dt), fill)
        out = ctx.buffer("a", (n, *geo.out, c), dt)
        if out is None:
            out = np.empty((n, *geo.out, c), dt)
        if self.mode == "max":
            ctx.saved = (geo, self._max(xp, geo, out, ctx))
        else:
            count = self._counts(geo, dt)
            self._sum(xp, geo, out)
            out /= count
            ctx.saved = (geo, count)
        return from_last(out, self.data_format)

    def _max(
        self, xp: np.ndarray, geo: win.Geometry, out: np.ndarray, ctx: Context
    ) -> np.ndarray | None:
        """out = each window's maximum; returns which position held it (None in inference,
        where no backward follows)."""
        argmax = None
        if not inference_mode():
            argmax = ctx.buffer("argmax", out.shape, np.dtype(np.uint8))
            argmax = np.empty(out.shape, np.uint8) if argmax is None else argmax
        ctx.ops.window_max(xp, geo.kernel, geo.strides, out, argmax)
        return argmax

    @staticmethod
    def _sum(xp: np.ndarray, geo: win.Geometry, out: np.ndarray) -> None:
        positions = list(win.offsets(geo))
        out[...] = xp[win.window_slice(geo, positions[0])]
        for offset in positions[1:]:
            out += xp[win.window_slice(geo, offset)]

    def _counts(self, geo: win.Geometry, dtype: np.dtype) -> Any:
        """How many real values each window averages: a scalar without padding, else an array
        (1, *out, 1) counting the unpadded positions."""
        if not geo.has_padding:
            return dtype.type(np.prod(geo.kernel))
        ones = win.pad_into(np.ones((1, *geo.size, 1), dtype), geo, None, 0.0)
        count = np.empty((1, *geo.out, 1), dtype)
        self._sum(ones, geo, count)
        return count

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        geo, saved = ctx.saved
        g = to_last(g, self.data_format)
        n, c = g.shape[0], g.shape[-1]
        dxp = ctx.buffer("dxp", (n, *geo.padded, c), g.dtype)
        dxp = np.empty((n, *geo.padded, c), g.dtype) if dxp is None else dxp
        if self.mode == "max":
            if saved is None:
                raise ShapeError(f"{self.name}: no backward after a forward in inference mode")
            ctx.ops.window_max_grad(g, saved, geo.kernel, geo.strides, dxp)
        else:
            dxp.fill(0)
            share = g / saved
            for offset in win.offsets(geo):
                dxp[win.window_slice(geo, offset)] += share
        dx = dxp[win.interior(geo)] if geo.has_padding else dxp
        return from_last(dx, self.data_format)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
        }

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}, strides={self.strides}, padding={self.padding!r}"


class MaxPooling1D(_Pooling):
    """The maximum of each window of ``pool_size`` steps, per channel."""

    rank, mode = 1, "max"


class MaxPooling2D(_Pooling):
    """The maximum of each ``pool_size`` window, per channel (2×2 halves rows and columns)."""

    rank, mode = 2, "max"


class AveragePooling1D(_Pooling):
    """The mean of each window of ``pool_size`` steps, per channel."""

    rank, mode = 1, "average"


class AveragePooling2D(_Pooling):
    """The mean of each ``pool_size`` window, per channel."""

    rank, mode = 2, "average"


class _GlobalPooling(Layer):
    """One value per channel from all the spatial positions: (N, *spatial, C) → (N, C)."""

    rank: ClassVar[int] = 2
    mode: ClassVar[str] = "average"
    explain_role = "global_pool"

    def __init__(
        self,
        data_format: str | None = None,
        keepdims: bool = False,
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.data_format = win.data_format_arg(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        _check_rank(self, input_shape, self.rank)
        fmt = self.data_format
        channels = input_shape[-1] if fmt == "channels_last" else input_shape[0]
        if self.keepdims:
            return with_channels((1,) * self.rank, channels, fmt)  # type: ignore[arg-type]
        return (channels,)

    def _shaped(self, y: np.ndarray) -> np.ndarray:
        """(N, C) → the layer's output shape."""
        if not self.keepdims:
            return y
        return from_last(y.reshape(len(y), *(1,) * self.rank, y.shape[-1]), self.data_format)

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        x = _checked(self, x, self.rank, self.data_format)
        n, c = len(x), x.shape[-1]
        flat = x.reshape(n, -1, c)
        if self.mode == "average":
            ctx.saved = x.shape
            return self._shaped(flat.mean(axis=1))
        where = flat.argmax(axis=1)  # the first maximum, as PyTorch's max pooling
        ctx.saved = (x.shape, where)
        return self._shaped(np.take_along_axis(flat, where[:, None, :], axis=1)[:, 0, :])

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        g = g.reshape(len(g), -1)  # (N, C) whatever keepdims did
        if self.mode == "average":
            shape = ctx.saved
            positions = int(np.prod(shape[1:-1]))
            dx = np.broadcast_to((g / positions)[:, None, :], (shape[0], positions, shape[-1]))
            return from_last(dx.reshape(shape), self.data_format)
        shape, where = ctx.saved
        dx = np.zeros((shape[0], int(np.prod(shape[1:-1])), shape[-1]), g.dtype)
        np.put_along_axis(dx, where[:, None, :], g[:, None, :], axis=1)
        return from_last(dx.reshape(shape), self.data_format)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over all steps, per channel."""

    rank, mode = 1, "average"


class GlobalAveragePooling2D(_GlobalPooling):
    """The mean over all rows and columns, per channel."""

    rank, mode = 2, "average"


class GlobalMaxPooling1D(_GlobalPooling):
    """The maximum over all steps, per channel."""

    rank, mode = 1, "max"


class GlobalMaxPooling2D(_GlobalPooling):
    """The maximum over all rows and columns, per channel."""

    rank, mode = 2, "max"
