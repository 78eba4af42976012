"""Convolutions: Conv1D, Conv2D and Conv2DTranspose, forward and backward in one place.

On a channels-last batch x (N, *spatial, C) with a kernel W of shape (*kernel, C, filters)
(Keras's layout: ``W[i, j, c, f]`` weighs input channel c at kernel position (i, j) for filter
f), a convolution is one matrix product over every window (im2col, ``_windows.py``):

    forward   cols = im2col(pad(x))             (N·positions, kernel·C)
              z = cols · W_mat + b              W_mat = W reshaped to (kernel·C, filters)
              a = σ(z)
    backward  δ = g ⊙ σ'(z)                     (BP1/BP2's ⊙ σ'(z), per position)
              ∂C/∂b = Σ δ over batch and positions                       (BP3)
              ∂C/∂W = colsᵀ δ                   (BP4: the correlation of a_prev with δ)
              ∂C/∂x = col2im(δ W_matᵀ)          (the full correlation of δ with the
                                                 180°-rotated kernel, as col2im adds it up)

The transposed convolution runs the same two copies the other way round: its forward is the
input gradient of a convolution (a product, then col2im), its backward an im2col and products.
``data_format="channels_first"`` (N, C, *spatial) is moved to channels-last at the edges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ...errors import InvalidArgumentError, ShapeError, describe
from ...functional.activations import Kernel
from .. import initializers
from ..module import Parameter
from . import _windows as win
from .activation import Activation, activate, activation_vjp, get_activation
from .base import Context, Layer, Shape, inference_mode

__all__ = ["Conv1D", "Conv2D", "Conv2DTranspose"]


# Inference (predict, evaluate) runs a convolution on at most this many samples at a time, so
# that im2col's copy (kernel·C values per output position) and z stay in the cache: on the
# Keras convnet, slices of 16–32 images run twice as fast as one of 1,000, and 16 (1.4 MB of
# z in its first layer) 14 % faster than 32 on a 2-core EPYC (benchmarks/convnet_predict.py).
INFERENCE_CHUNK = 16


def to_last(x: np.ndarray, data_format: str) -> np.ndarray:
    """(N, C, *spatial) → (N, *spatial, C) as a view; channels-last is returned as it is."""
    return x if data_format == "channels_last" else np.moveaxis(x, 1, -1)


def from_last(y: np.ndarray, data_format: str) -> np.ndarray:
    """The inverse of ``to_last`` (a view)."""
    return y if data_format == "channels_last" else np.moveaxis(y, -1, 1)


def channels_of(input_shape: Shape, data_format: str, rank: int, layer: Layer) -> int:
    """The channel count of a per-sample shape, checking that it has rank + 1 axes."""
    if len(input_shape) != rank + 1 or any(d is None for d in input_shape):
        layout = "(" + ", ".join(["steps"] if rank == 1 else ["rows", "cols"][:rank])
        layout = (
            f"{layout}, channels)"
            if data_format == "channels_last"
            else "(channels, " + layout[1:] + ")"
        )
        raise ShapeError(
            f"{layer.name}: {type(layer).__name__} needs inputs of per-sample shape {layout}, "
            f"received {tuple(input_shape)}"
        )
    return int(input_shape[-1] if data_format == "channels_last" else input_shape[0])  # type: ignore[arg-type]


def spatial_of(input_shape: Shape, data_format: str) -> tuple[int, ...]:
    dims = input_shape[:-1] if data_format == "channels_last" else input_shape[1:]
    return tuple(int(d) for d in dims)  # type: ignore[arg-type]


def with_channels(spatial: tuple[int, ...], channels: int, data_format: str) -> Shape:
    if data_format == "channels_last":
        return (*spatial, channels)
    return (channels, *spatial)


def as_matrix(arr: np.ndarray, rows: int, cols: int) -> np.ndarray | None:
    """arr as a (rows, cols) view sharing its memory, or None if that needs a copy."""
    view = arr.view()
    try:
        view.shape = (rows, cols)
    except AttributeError:
        return None
    return view


def _initializer_config(init: Any) -> dict[str, Any]:
    return {"name": init.name, **init.get_config()}


class _Conv(Layer):
    """What Conv1D, Conv2D and Conv2DTranspose share: arguments, parameters, the activation."""

    rank: ClassVar[int] = 2
    uses_gemm = True
    inference_rows = INFERENCE_CHUNK
    paddings: ClassVar[tuple[str, ...]] = ("valid", "same")

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        input_shape: Sequence[int] | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        cls = type(self).__name__
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise InvalidArgumentError(
                f"{cls}: filters must be a positive integer, received filters={filters!r}"
            )
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        n = self.rank
        self.filters = int(filters)
        self.kernel_size = win.tuple_arg(kernel_size, n, "kernel_size", cls)
        self.strides = win.tuple_arg(strides, n, "strides", cls)
        self.padding = win.padding_arg(padding, cls, self.paddings)
        self.data_format = win.data_format_arg(data_format, cls)
        self.dilation_rate = win.tuple_arg(dilation_rate, n, "dilation_rate", cls)
        self.activation = get_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.W: Parameter | None = None
        self.b: Parameter | None = None
        if self.input_shape is not None:
            self.build(self.input_shape)

    # -- declarations ------------------------------------------------------------------------
    def _weight_shape(self, channels: int) -> tuple[int, ...]:
        return (*self.kernel_size, channels, self.filters)

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        channels = channels_of(input_shape, self.data_format, self.rank, self)
        shapes: dict[str, tuple[int, ...]] = {"W": self._weight_shape(channels)}
        if self.use_bias:
            shapes["b"] = (self.filters,)
        return shapes

    def output_kernel(self) -> Kernel:
        """The activation this layer ends with (the loss may pair with it)."""
        return self.activation.kernel

    def _geometry(self, spatial: tuple[int, ...]) -> win.Geometry:
        return win.geometry(
            spatial, self.kernel_size, self.strides, self.dilation_rate, self.padding, self.name
        )

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self.parameter_shapes(input_shape)  # checks the rank
        geo = self._geometry(spatial_of(input_shape, self.data_format))
        return with_channels(geo.out, self.filters, self.data_format)

    def _draw_weights(self, shape: tuple[int, ...]) -> np.ndarray:
        # The initialisers read fans from glassnet's (out, in, *kernel) layout: draw there and
        # move the axes to Keras's (*kernel, in, out), which gives Keras's fans.
        n = self.rank
        drawn = self.kernel_initializer((shape[-1], shape[-2], *shape[:n]), self.dtype)
        order = (*range(2, 2 + n), 1, 0)
        return np.ascontiguousarray(drawn.transpose(order))

    def build(self, input_shape: Shape) -> None:
        shapes = self.parameter_shapes(input_shape)
        self._geometry(spatial_of(input_shape, self.data_format))  # the window must fit
        self.W = Parameter(self._draw_weights(shapes["W"]), name="W")
        if self.use_bias:
            self.b = Parameter(self.bias_initializer(shapes["b"], self.dtype), name="b")
        self._apply_trainable()
        self.built = True

    def _checked_input(self, x: np.ndarray, channels: int) -> np.ndarray:
        """x as channels-last in the weights' dtype, its rank and channels checked."""
        assert self.W is not None, "Layer.__call__ and the fast step build the layer first"
        fmt = self.data_format
        axis = -1 if fmt == "channels_last" else 1
        if x.ndim != self.rank + 2 or x.shape[axis] != channels:
            raise ShapeError(
                f"{self.name}: expected a batch of {self.rank + 2}-D inputs with {channels} "
                f"channels on axis {axis} ({fmt}), received {describe(x)}"
            )
        x = to_last(x, fmt)
        return x if x.dtype == self.W.data.dtype else x.astype(self.W.data.dtype)

    def _activate(self, z: np.ndarray, ctx: Context) -> np.ndarray:
        b = None if self.b is None else self.b.data
        if ctx.logits_only:
            if b is not None:
                z += b
            return z
        return activate(self.activation.kernel, z, b, ctx)

    def _delta(self, ctx: Context, g: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """δ = g ⊙ σ'(z) as (positions, filters) rows, from g in the layer's data format."""
        rows = to_last(g, self.data_format).reshape(z.shape)
        if ctx.logits_only:
            return rows
        return activation_vjp(self.activation.kernel, z, a, rows, ctx)

    #: The axis of W that indexes the filters (telemetry's per-filter statistics).
    filter_axis: ClassVar[int] = -1

    def telemetry_tap(self, ctx: Context) -> dict[str, Any] | None:
        """z, a and δ as (positions, filters) rows, W and ∂C/∂W: telemetry keeps the layer's
        statistics and, per filter (``filter_axis``), its zero, saturated and gradient share."""
        if ctx.saved is None or self.W is None or ctx.logits_only:
            return None
        _, inputs, z, a = ctx.saved
        return {
            "kernel": self.activation.kernel,
            "z": z,
            "a": a,
            "delta": ctx.delta,
            "W": self.W.data,
            "grad_W": ctx.grads[0] if ctx.grads else None,
            # The convolution keeps its input's windows (im2col): the same values, each
            # repeated once per window that covers it, plus padding.
            "inputs": inputs,
            "filter_axis": self.filter_axis,
        }

    def _bias_grad(self, ctx: Context, delta: np.ndarray) -> None:
        grad_b = ctx.grads[1] if self.b is not None else None
        if grad_b is not None:
            ctx.ops.column_sums(delta, grad_b)  # BP3

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        config = dict(config)
        act = config.get("activation")
        if isinstance(act, dict):
            act = dict(act)
            kind = act.pop("activation", None)
            config["activation"] = Activation(kind, name=act.pop("name", None), **act)
        return cls(**config)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=list(self.kernel_size),
            strides=list(self.strides),
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=list(self.dilation_rate),
            activation=self.activation.get_config(),
            use_bias=self.use_bias,
            kernel_initializer=_initializer_config(self.kernel_initializer),
            bias_initializer=_initializer_config(self.bias_initializer),
        )
        return config

    def extra_repr(self) -> str:
        return (
            f"{self.filters}, kernel_size={self.kernel_size}, strides={self.strides}, "
            f"padding={self.padding!r}, activation={self.activation.kernel.name!r}, "
            f"name={self.name!r}"
        )


class _ConvND(_Conv):
    """A convolution over ``rank`` spatial axes (the module docstring's equations)."""

    # glassnet.explain.conv traces it (Conv1D and Conv2D; strides, dilation, every padding)
    explain_role = "conv"

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        assert self.W is not None
        x = self._checked_input(x, self.W.data.shape[-2])
        geo = self._geometry(tuple(x.shape[1:-1]))
        if len(x) > INFERENCE_CHUNK and inference_mode():
            # No backward follows: the same kernel on a chunk at a time, so that im2col's copy
            # of a large batch stays small.
            a = np.empty((len(x), *geo.out, self.filters), dtype=self.W.data.dtype)
            for start in range(0, len(x), INFERENCE_CHUNK):
                part = Context(training=False, ops=ctx.ops, product=ctx.product)
                part.logits_only = ctx.logits_only
                chunk = slice(start, start + INFERENCE_CHUNK)
                a[chunk] = self._forward_last(x[chunk], geo, part)
        else:
            a = self._forward_last(x, geo, ctx)
        return from_last(a, self.data_format)

    def _forward_last(self, x: np.ndarray, geo: win.Geometry, ctx: Context) -> np.ndarray:
        """The forward on a channels-last batch: (N, *out, filters), channels-last."""
        assert self.W is not None
        W = self.W.data
        channels = W.shape[-2]
        n, dt = len(x), W.dtype
        xp = win.pad_into(x, geo, ctx.buffer("xp", (n, *geo.padded, channels), dt), 0.0)
        cols = win.im2col(
            xp, geo, ctx.buffer("cols", (n, *geo.out, *geo.kernel, channels), dt), ctx.ops
        )
        rows = n * int(np.prod(geo.out))
        depth = cols.size // rows
        cols = cols.reshape(rows, depth)
        z = ctx.product.gemm(
            cols, W.reshape(depth, self.filters), ctx.buffer("z", (rows, self.filters), dt)
        )
        a = self._activate(z, ctx)
        ctx.saved = (geo, cols, z, a)
        return a.reshape(n, *geo.out, self.filters)

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        assert self.W is not None
        geo, cols, z, a = ctx.saved
        W = self.W.data
        rows, depth = cols.shape
        delta = self._delta(ctx, g, z, a)
        ctx.delta = delta
        grad_W = ctx.grads[0]
        if grad_W is not None:  # BP4: ∂C/∂W = colsᵀ δ
            target = as_matrix(grad_W, depth, self.filters)
            product = ctx.product.gemm(cols.T, delta, target)
            if target is None:
                grad_W[...] = product.reshape(grad_W.shape)
        self._bias_grad(ctx, delta)
        if not ctx.need_input_grad:
            return None
        # BP2 through the windows: ∂C/∂x = col2im(δ W_matᵀ)
        dxp = ctx.product.gemm_col2im(
            delta, W.reshape(depth, self.filters).T, geo, ctx, ("dcols", "dxp")
        )
        dx = dxp[win.interior(geo)] if geo.has_padding else dxp
        return from_last(dx, self.data_format)


class Conv1D(_ConvND):
    """1-D convolution over (batch, steps, channels): Keras's Conv1D (padding "valid", "same"
    or "causal" — padded before only, so an output never sees a later step)."""

    rank = 1
    paddings = ("valid", "same", "causal")


class Conv2D(_ConvND):
    """2-D convolution over (batch, rows, cols, channels): Keras's Conv2D.

    ``W``: (kernel_rows, kernel_cols, in_channels, filters); ``b``: (filters,).
    """

    rank = 2


class Conv2DTranspose(_Conv):
    """The transposed 2-D convolution (Keras's Conv2DTranspose): the input gradient of a
    Conv2D with the same geometry, so strides enlarge the output.

    ``W``: (kernel_rows, kernel_cols, filters, in_channels) as in Keras. Output size per axis:
    n·s with "same", n·s + max(span − s, 0) with "valid" (span = (k − 1)·d + 1).
    """

    rank = 2
    filter_axis = -2
    # glassnet.explain.conv traces it (strides, dilation, "valid"/"same")
    explain_role = "tconv"

    def _weight_shape(self, channels: int) -> tuple[int, ...]:
        return (*self.kernel_size, self.filters, channels)

    def _draw_weights(self, shape: tuple[int, ...]) -> np.ndarray:
        # Keras's fans for this layout: fan_in = kernel·filters, fan_out = kernel·in.
        drawn = self.kernel_initializer((shape[-1], shape[-2], *shape[:2]), self.dtype)
        return np.ascontiguousarray(drawn.transpose(2, 3, 1, 0))

    def _geometry(self, spatial: tuple[int, ...]) -> win.Geometry:
        """The geometry of the convolution this layer is the transpose of: its ``size`` is
        this layer's output, its ``out`` this layer's input."""
        before, after, out = [], [], []
        for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate):
            span = (k - 1) * d + 1
            length = n * s + (max(span - s, 0) if self.padding == "valid" else 0)
            b = max(span - s, 0) // 2 if self.padding == "same" else 0
            before.append(b)
            after.append(max((n - 1) * s + span - b - length, 0))
            out.append(length)
        return win.Geometry(
            tuple(out),
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            tuple(before),
            tuple(after),
            tuple(spatial),
        )

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self.parameter_shapes(input_shape)
        geo = self._geometry(spatial_of(input_shape, self.data_format))
        return with_channels(geo.size, self.filters, self.data_format)

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        assert self.W is not None
        W = self.W.data
        channels = W.shape[-1]
        x = self._checked_input(x, channels)
        geo = self._geometry(tuple(x.shape[1:-1]))
        n, dt, f = len(x), W.dtype, self.filters
        inputs = np.ascontiguousarray(x).reshape(-1, channels)
        depth = int(np.prod(geo.kernel)) * f
        full = ctx.product.gemm_col2im(
            inputs, W.reshape(depth, channels).T, geo, ctx, ("cols", "full")
        )
        z = ctx.buffer("z", (n, *geo.size, f), dt)
        if z is None:
            z = np.empty((n, *geo.size, f), dt)
        z[...] = full[win.interior(geo)]
        z = z.reshape(-1, f)
        a = self._activate(z, ctx)
        ctx.saved = (geo, inputs, z, a)
        return from_last(a.reshape(n, *geo.size, f), self.data_format)

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        assert self.W is not None
        geo, inputs, z, a = ctx.saved
        W = self.W.data
        n, f, channels, dt = g.shape[0], self.filters, W.shape[-1], W.dtype
        delta = self._delta(ctx, g, z, a)
        ctx.delta = delta
        self._bias_grad(ctx, delta)
        padded = win.pad_into(
            delta.reshape(n, *geo.size, f), geo, ctx.buffer("dp", (n, *geo.padded, f), dt), 0.0
        )
        dcols = win.im2col(
            padded, geo, ctx.buffer("dcols", (n, *geo.out, *geo.kernel, f), dt), ctx.ops
        )
        depth = dcols.size // len(inputs)
        dcols = dcols.reshape(len(inputs), depth)
        grad_W = ctx.grads[0]
        if grad_W is not None:  # ∂C/∂W[k, f, c] = Σ dcols[:, (k, f)] · x[:, c]
            target = as_matrix(grad_W, depth, channels)
            product = ctx.product.gemm(dcols.T, inputs, target)
            if target is None:
                grad_W[...] = product.reshape(grad_W.shape)
        if not ctx.need_input_grad:
            return None
        dx = ctx.product.gemm(
            dcols, W.reshape(depth, channels), ctx.buffer("dx", (len(inputs), channels), dt)
        )
        return from_last(dx.reshape(n, *geo.out, channels), self.data_format)
