"""ONNX export of a Sequential model: every layer as standard ONNX operators (``onnx.helper``).

``export_onnx(model, "model.onnx")`` (also ``model.export(...)`` and ``glassnet export``) writes
an inference graph: input ``input`` of shape (batch, *input_shape), output ``output``, in the
model's float dtype (float32 or float64; int64 when the first layer is an Embedding). Each
layer class has one converter registered below in ``CONVERTERS``; a subclass uses its nearest
ancestor's converter only when no class in between redefines the math (``forward_kernel``,
``backward_kernel``, ``forward``, ``call``), so keras.layers.Dense (another weight layout in
get/set_weights, the same math) exports as Dense, and a subclass with its own math is refused.
Each activation kernel has one converter in ``ACTIVATIONS``. A layer or activation without one
is refused with an error naming it, and tests/ecosystem enumerate every layer class and kernel
glassnet defines, so a layer added later fails the tests until its mapping is written. Merge
layers need several inputs, so they live only in functional models (``keras.Model(inputs,
outputs)``): those export too, each input and output a graph input and output under its name,
merge layers as Add, Sub, Mul, Max, Min, Add·Div (Average), Concat and Dot (Transpose,
Reshape, MatMul); operations on symbolic tensors, nested models and calls with keyword
arguments are refused by name.

    Dense            Gemm(x, W, b, transB=1) for (batch, features); MatMul(x, Wᵀ) + Add(b) for
                     more axes — W is already (units, in_features), as Gemm's transB expects
    activations      Relu, Sigmoid, Tanh, LeakyRelu(alpha), Elu(alpha), Softplus, Gelu
                     (approximate="tanh", opset 20), Softmax(axis=-1); linear adds nothing
    Dropout, Input   Identity (inference) / nothing
    Flatten          Flatten(axis=1)
    Rescaling        Mul(scale) [Add(offset)]
    Normalization    Sub(mean), Mul(1/√variance) — the same order as the layer's kernel
    Conv1D, Conv2D   Conv(pads, strides, dilations) on (N, C, *spatial): Transpose around it
                     when channels_last; W (*kernel, in, out) → (out, in, *kernel)
    Conv2DTranspose  ConvTranspose(pads, output_padding) — W (kh, kw, out, in) → (in, out, kh, kw)
    Max/AveragePool  MaxPool / AveragePool(count_include_pad=0: a padded window averages its
                     real values, as the kernel does), Transpose around when channels_last
    Global*Pooling   ReduceMean / ReduceMax over the spatial axes (keepdims as the layer)
    BatchNorm.       Sub(moving mean), Mul(1/√(moving var + ε)), Mul(γ), Add(β) on the feature axis
    LayerNorm.       ReduceMean, Sub, Mul, ReduceMean, Add(ε), Sqrt, Reciprocal, Mul, Mul(γ), Add(β)
    Reshape          Reshape([-1, *target])
    ZeroPadding2D    Pad (zeros)
    UpSampling2D     Resize(nearest, asymmetric, floor): a repeat of rows and columns
    Embedding        Gather(table, indices) — Cast to int64 first unless indices are the input

In float64 graphs LeakyRelu, Elu, Softplus and Gelu are written with elementwise ops (Where,
Exp, Log, Tanh, Mul, Add) computing the layer's own formula: ONNX attributes such as alpha are
float32 (0.2 would become 0.20000000298), onnxruntime has no float64 Elu or Softplus kernel, and
its float64 Gelu is accurate only to about 1e-8. onnxruntime's CPU provider has no float64
Conv, ConvTranspose, AveragePool or Resize: such float64 graphs are valid ONNX but run only in
float32 there (export a float32 model).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, require
from ..functional.activations import _GELU_A, _GELU_C
from ..nn.layers import (
    Activation,
    AveragePooling1D,
    AveragePooling2D,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    Input,
    Layer,
    LayerNormalization,
    MaxPooling1D,
    MaxPooling2D,
    Merge,
    Normalization,
    Rescaling,
    Reshape,
    UpSampling2D,
    ZeroPadding2D,
)
from ..nn.layers import activation as activation_layers
from ..nn.layers.conv import spatial_of
from . import registry
from ._sequential import mapped_ancestor, sequential_layers
from .atomic import atomic_write_bytes, check_target

__all__ = ["to_onnx", "export_onnx", "CONVERTERS", "ACTIVATIONS", "BASE_OPSET"]

#: The opset every graph declares at least; a converter may ask for more (Gelu needs 20).
BASE_OPSET = 17


class GraphBuilder:
    """The nodes and initializers of one graph, in the model's float dtype."""

    def __init__(self, dtype: np.dtype) -> None:
        self.onnx = require("onnx", "ONNX export", "onnx")
        self.dtype = np.dtype(dtype)
        self.elem_type = {np.float32: 1, np.float64: 11}[self.dtype.type]  # FLOAT, DOUBLE
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.opset = BASE_OPSET
        self.int_names: set[str] = set()  # graph inputs holding int64 indices (Embedding)
        self._count = 0

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}/{self._count}"

    def const(self, prefix: str, value: Any) -> str:
        """An initializer holding ``value`` in the graph's dtype; returns its name."""
        name = self._name(prefix)
        array = np.ascontiguousarray(np.asarray(value, dtype=self.dtype))
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def ints(self, prefix: str, value: Any) -> str:
        """An int64 initializer (shapes, pads); returns its name."""
        name = self._name(prefix)
        array = np.asarray(value, dtype=np.int64)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], prefix: str, opset: int = 0, **attrs: Any) -> str:
        """Append one node; returns the name of its (single) output."""
        out = self._name(f"{prefix}/{op}")
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], name=out, **attrs))
        self.opset = max(self.opset, opset)
        return out


Converter = Callable[[Any, GraphBuilder, str, tuple[Any, ...]], str]
ActivationConverter = Callable[[GraphBuilder, str, str, dict[str, float]], str]
CONVERTERS: dict[type[Layer], Converter] = {}
ACTIVATIONS: dict[str, ActivationConverter] = {}


def converts(*classes: type[Layer]) -> Callable[[Converter], Converter]:
    """Register a converter ``(layer, graph, x, input_shape) -> output name`` for classes."""

    def register(fn: Converter) -> Converter:
        for cls in classes:
            CONVERTERS[cls] = fn
        return fn

    return register


def converts_activation(*names: str) -> Callable[[ActivationConverter], ActivationConverter]:
    """Register ``(graph, x, prefix, params) -> output name`` for activation kernels."""

    def register(fn: ActivationConverter) -> ActivationConverter:
        for name in names:
            ACTIVATIONS[name] = fn
        return fn

    return register


# -- activations ---------------------------------------------------------------------------------
def _unary(op: str) -> ActivationConverter:
    def convert(g: GraphBuilder, x: str, prefix: str, params: dict[str, float]) -> str:
        return g.node(op, [x], prefix)

    return convert


for _kernel_name, _op in {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}.items():
    converts_activation(_kernel_name)(_unary(_op))


@converts_activation("linear")
def _linear(g: GraphBuilder, x: str, prefix: str, params: dict[str, float]) -> str:
    return x


@converts_activation("leaky_relu")
def _leaky_relu(g: GraphBuilder, x: str, prefix: str, params: dict[str, float]) -> str:
    if g.dtype == np.float32:
        return g.node("LeakyRelu", [x], prefix, alpha=params["negative_slope"])
    # ONNX attributes are float32: a float64 slope goes in as a float64 constant instead.
    scaled = g.node("Mul", [x, g.const(prefix, params["negative_slope"])], prefix)
    positive = g.node("Greater", [x, g.const(prefix, 0.0)], prefix)
    return g.node("Where", [positive, x, scaled], prefix)


@converts_activation("elu")
def _elu(g: GraphBuilder, x: str, prefix: str, params: dict[str, float]) -> str:
    if g.dtype == np.float32:
        return g.node("Elu", [x], prefix, alpha=params["alpha"])
    # α(e^min(z,0) − 1) where z ≤ 0, z elsewhere: the layer's own formula.
    zero, one = g.const(prefix, 0.0), g.const(prefix, 1.0)
    negative = g.node("Sub", [g.node("Exp", [g.node("Min", [x, zero], prefix)], prefix), one],
                      prefix)  # fmt: skip
    scaled = g.node("Mul", [g.const(prefix, params["alpha"]), negative], prefix)
    return g.node("Where", [g.node("Greater", [x, zero], prefix), x, scaled], prefix)


@converts_activation("softplus")
def _softplus(g: GraphBuilder, x: str, prefix: str, params: dict[str, float]) -> str:
    if g.dtype == np.float32:
        return g.node("Softplus", [x], prefix)
    # max(z, 0) + log(1 + e^(−|z|)), the stable form the kernel uses.
    zero, one = g.const(prefix, 0.0), g.const(prefix, 1.0)
    tail = g.node("Exp", [g.node("Neg", [g.node("Abs", [x], prefix)], prefix)], prefix)
    log = g.node("Log", [g.node("Add", [tail, one], prefix)], prefix)
    return g.node("Add", [g.node("Max", [x, zero], prefix), log], prefix)


@converts_activation("gelu")
def _gelu(g: GraphBuilder, x: str, prefix: str, params: dict[str, float]) -> str:
    if g.dtype == np.float32:
        return g.node("Gelu", [x], prefix, opset=20, approximate="tanh")
    # ½ z (1 + tanh(√(2/π)(z + 0.044715 z³))), as the kernel writes it.
    cube = g.node("Mul", [g.node("Mul", [x, x], prefix), x], prefix)
    inner = g.node("Add", [x, g.node("Mul", [g.const(prefix, _GELU_A), cube], prefix)], prefix)
    t = g.node("Tanh", [g.node("Mul", [g.const(prefix, _GELU_C), inner], prefix)], prefix)
    half = g.node("Mul", [g.const(prefix, 0.5), x], prefix)
    return g.node("Mul", [half, g.node("Add", [g.const(prefix, 1.0), t], prefix)], prefix)


@converts_activation("softmax")
def _softmax(g: GraphBuilder, x: str, prefix: str, params: dict[str, float]) -> str:
    return g.node("Softmax", [x], prefix, axis=-1)


def _activation(g: GraphBuilder, x: str, layer_name: str, kernel: Any) -> str:
    convert = ACTIVATIONS.get(kernel.name)
    if convert is None:
        raise InvalidArgumentError(
            f"export: layer {layer_name!r} uses the activation {kernel.name!r}, which has no "
            f"ONNX mapping; mapped: {', '.join(sorted(ACTIVATIONS))}"
        )
    return convert(g, x, f"{layer_name}/{kernel.name}", dict(kernel.params))


# -- layers --------------------------------------------------------------------------------------
@converts(Dense)
def _dense(layer: Dense, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    assert layer.W is not None
    W = layer.W.data
    if len(shape) == 1:
        inputs = [x, g.const(f"{layer.name}/W", W)]
        if layer.b is not None:
            inputs.append(g.const(f"{layer.name}/b", layer.b.data))
        z = g.node("Gemm", inputs, layer.name, transB=1)
    else:  # (batch, …, in_features): the product over the last axis
        z = g.node("MatMul", [x, g.const(f"{layer.name}/W_T", W.T)], layer.name)
        if layer.b is not None:
            z = g.node("Add", [z, g.const(f"{layer.name}/b", layer.b.data)], layer.name)
    return _activation(g, z, layer.name, layer.activation.kernel)


@converts(*(getattr(activation_layers, name) for name in activation_layers.__all__
            if isinstance(getattr(activation_layers, name), type)
            and issubclass(getattr(activation_layers, name), Activation)))  # fmt: skip
def _activation_layer(layer: Activation, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    out = _activation(g, x, layer.name, layer.kernel)
    return g.node("Identity", [x], layer.name) if out == x else out


@converts(Dropout, Input)
def _identity(layer: Layer, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    return g.node("Identity", [x], layer.name)


@converts(Flatten)
def _flatten(layer: Flatten, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    return g.node("Flatten", [x], layer.name, axis=1)


@converts(Rescaling)
def _rescaling(layer: Rescaling, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    out = g.node("Mul", [x, g.const(f"{layer.name}/scale", layer.scale)], layer.name)
    if layer.offset:
        out = g.node("Add", [out, g.const(f"{layer.name}/offset", layer.offset)], layer.name)
    return out


@converts(Normalization)
def _normalization(layer: Normalization, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    inv, mean = layer.scale_and_shift()
    centred = g.node("Sub", [x, g.const(f"{layer.name}/mean", mean)], layer.name)
    return g.node("Mul", [centred, g.const(f"{layer.name}/inv_std", inv)], layer.name)


# -- window layers (data in NCHW inside, transposed around when channels_last) -------------------
def _to_first(g: GraphBuilder, x: str, rank: int, fmt: str, prefix: str) -> str:
    """ONNX's Conv, Pool and ConvTranspose read (N, C, *spatial)."""
    if fmt == "channels_first":
        return x
    return g.node("Transpose", [x], prefix, perm=[0, rank + 1, *range(1, rank + 1)])


def _from_first(g: GraphBuilder, y: str, rank: int, fmt: str, prefix: str) -> str:
    if fmt == "channels_first":
        return y
    return g.node("Transpose", [y], prefix, perm=[0, *range(2, rank + 2), 1])


def _conv_activation(g: GraphBuilder, z: str, layer: Any) -> str:
    """The activation of a convolution's (N, C, *spatial) output, back in the layer's format.
    The kernel activates (positions, filters) rows, so softmax runs over the channels in
    either data format."""
    kernel = layer.activation.kernel
    if layer.data_format == "channels_first" and kernel.name == "softmax":
        return g.node("Softmax", [z], f"{layer.name}/softmax", axis=1)
    return _activation(g, _from_first(g, z, layer.rank, layer.data_format, layer.name),
                       layer.name, kernel)  # fmt: skip


@converts(Conv1D, Conv2D)
def _conv(layer: Any, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    assert layer.W is not None
    n, fmt, name = layer.rank, layer.data_format, layer.name
    geo = layer._geometry(spatial_of(shape, fmt))
    # glassnet's (*kernel, in, out) → ONNX's (out, in, *kernel)
    W = layer.W.data.transpose(n + 1, n, *range(n))
    inputs = [_to_first(g, x, n, fmt, name), g.const(f"{name}/W", W)]
    if layer.b is not None:
        inputs.append(g.const(f"{name}/b", layer.b.data))
    z = g.node("Conv", inputs, name, kernel_shape=list(layer.kernel_size),
               strides=list(layer.strides), dilations=list(layer.dilation_rate),
               pads=[*geo.before, *geo.after])  # fmt: skip
    return _conv_activation(g, z, layer)


@converts(Conv2DTranspose)
def _conv_transpose(layer: Any, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    assert layer.W is not None
    fmt, name = layer.data_format, layer.name
    geo = layer._geometry(spatial_of(shape, fmt))
    # ONNX: out = s(n − 1) + output_padding + span − pad_before − pad_after; glassnet crops
    # the full (n − 1)s + span result to geo.size starting at geo.before.
    extra = []
    for n, k, s, d, b, a, size in zip(geo.out, geo.kernel, geo.strides, geo.dilation,
                                      geo.before, geo.after, geo.size):  # fmt: skip
        extra.append(size + b + a - (s * (n - 1) + (k - 1) * d + 1))
    # glassnet's (kh, kw, filters, in) → ONNX's (in, filters, kh, kw)
    inputs = [
        _to_first(g, x, 2, fmt, name),
        g.const(f"{name}/W", layer.W.data.transpose(3, 2, 0, 1)),
    ]
    if layer.b is not None:
        inputs.append(g.const(f"{name}/b", layer.b.data))
    z = g.node("ConvTranspose", inputs, name, kernel_shape=list(layer.kernel_size),
               strides=list(layer.strides), dilations=list(layer.dilation_rate),
               pads=[*geo.before, *geo.after], output_padding=extra)  # fmt: skip
    return _conv_activation(g, z, layer)


@converts(MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D)
def _pooling(layer: Any, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    n, fmt, name = layer.rank, layer.data_format, layer.name
    geo = layer._geometry(spatial_of(shape, fmt))
    attrs: dict[str, Any] = {
        "kernel_shape": list(layer.pool_size),
        "strides": list(layer.strides),
        "pads": [*geo.before, *geo.after],
    }
    if layer.mode == "max":
        op = "MaxPool"
    else:  # glassnet averages the real values of a padded window only
        op, attrs["count_include_pad"] = "AveragePool", 0
    y = g.node(op, [_to_first(g, x, n, fmt, name)], name, **attrs)
    return _from_first(g, y, n, fmt, name)


@converts(GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D)
def _global_pooling(layer: Any, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    n = layer.rank
    first = 1 if layer.data_format == "channels_last" else 2
    op = "ReduceMean" if layer.mode == "average" else "ReduceMax"
    axes = list(range(first, first + n))
    return g.node(op, [x], layer.name, axes=axes, keepdims=int(layer.keepdims))


# -- normalisation -------------------------------------------------------------------------------
@converts(BatchNormalization)
def _batch_norm(layer: Any, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    # Inference: the moving statistics, in the kernel's order of operations — (x − μ)·inv
    # then γ, β — with each constant shaped to broadcast along the layer's feature axis.
    assert layer.moving_mean is not None and layer.moving_variance is not None
    ndim, name = len(shape) + 1, layer.name
    axis = layer._feature_axis(ndim)
    bshape = tuple(shape[axis - 1] if i == axis else 1 for i in range(ndim))
    var = layer.moving_variance.data
    inv = 1.0 / np.sqrt(var + var.dtype.type(layer.epsilon))
    y = g.node("Sub", [x, g.const(f"{name}/mean", layer.moving_mean.data.reshape(bshape))], name)
    y = g.node("Mul", [y, g.const(f"{name}/inv_std", inv.reshape(bshape))], name)
    return _affine(layer, g, y, bshape)


def _affine(layer: Any, g: GraphBuilder, y: str, bshape: tuple[int, ...]) -> str:
    if layer.gamma is not None:
        y = g.node("Mul", [y, g.const(f"{layer.name}/gamma", layer.gamma.data.reshape(bshape))],
                   layer.name)  # fmt: skip
    if layer.beta is not None:
        y = g.node("Add", [y, g.const(f"{layer.name}/beta", layer.beta.data.reshape(bshape))],
                   layer.name)  # fmt: skip
    return y


@converts(LayerNormalization)
def _layer_norm(layer: Any, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    # Composed rather than opset 17's LayerNormalization: its epsilon attribute is float32,
    # and these are the kernel's own steps (mean, centred, biased variance, 1/√(σ² + ε)).
    name, k = layer.name, layer._count
    axes = list(range(-k, 0))
    mean = g.node("ReduceMean", [x], name, axes=axes, keepdims=1)
    centred = g.node("Sub", [x, mean], name)
    var = g.node("ReduceMean", [g.node("Mul", [centred, centred], name)], name, axes=axes,
                 keepdims=1)  # fmt: skip
    std = g.node("Sqrt", [g.node("Add", [var, g.const(f"{name}/eps", layer.epsilon)], name)], name)
    y = g.node("Mul", [centred, g.node("Reciprocal", [std], name)], name)
    return _affine(layer, g, y, tuple(layer._features))


# -- shapes and lookups --------------------------------------------------------------------------
@converts(Reshape)
def _reshape(layer: Reshape, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    target = layer.compute_output_shape(shape)
    return g.node("Reshape", [x, g.ints(f"{layer.name}/shape", [-1, *target])], layer.name)


def _image_axes(fmt: str) -> tuple[int, int]:
    return (1, 2) if fmt == "channels_last" else (2, 3)


@converts(ZeroPadding2D)
def _zero_padding(layer: ZeroPadding2D, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    before, after = [0] * 4, [0] * 4
    for axis, (lo, hi) in zip(_image_axes(layer.data_format), layer.padding):
        before[axis], after[axis] = lo, hi
    return g.node("Pad", [x, g.ints(f"{layer.name}/pads", before + after)], layer.name)


@converts(UpSampling2D)
def _upsampling(layer: UpSampling2D, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    # Nearest with "asymmetric" coordinates and floor: output i reads input ⌊i / k⌋ — a repeat.
    scales = [1.0] * 4
    for axis, k in zip(_image_axes(layer.data_format), layer.size):
        scales[axis] = float(k)
    name = g._name(f"{layer.name}/scales")
    g.initializers.append(g.onnx.numpy_helper.from_array(np.array(scales, np.float32), name))
    return g.node("Resize", [x, "", name], layer.name, mode="nearest",
                  coordinate_transformation_mode="asymmetric", nearest_mode="floor")  # fmt: skip


@converts(Embedding)
def _embedding(layer: Embedding, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    assert layer.embeddings is not None
    if x not in g.int_names:  # indices computed in floats by earlier layers
        x = g.node("Cast", [x], layer.name, to=7)  # INT64
    table = g.const(f"{layer.name}/embeddings", layer.embeddings.data)
    return g.node("Gather", [table, x], layer.name, axis=0)


# Layers of several inputs run only in functional models, which export does not cover yet.
MULTI_INPUT: tuple[type[Layer], ...] = (Merge,)  # exported by _merge, in functional models


def converter_for(cls: type[Layer]) -> Converter | None:
    """The converter of cls, or of its nearest ancestor when no class in between redefines
    the math (``_sequential.MATH_METHODS``)."""
    return mapped_ancestor(cls, CONVERTERS)  # type: ignore[no-any-return]


# -- the model -----------------------------------------------------------------------------------
def _convert_layer(layer: Layer, g: GraphBuilder, x: str, shape: tuple[Any, ...]) -> str:
    convert = converter_for(type(layer))
    if convert is None:
        raise InvalidArgumentError(
            f"export: layer {layer.name!r} ({type(layer).__name__}) has no ONNX mapping; "
            f"mapped layers: {', '.join(sorted(c.__name__ for c in CONVERTERS))}"
        )
    return convert(layer, g, x, shape)


def _finish(g: GraphBuilder, name: str, inputs: list[Any], outputs: list[Any]) -> Any:
    """The checked ModelProto of the graph's nodes, with these value infos."""
    onnx = g.onnx
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(g.nodes, name, inputs, outputs, g.initializers),
        opset_imports=[onnx.helper.make_opsetid("", g.opset)],
        producer_name="glassnet",
    )
    proto.ir_version = min(proto.ir_version, 9)  # readable by onnxruntime releases since 1.17
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _rename_output(g: GraphBuilder, name: str, new: str) -> None:
    """Make the node computing ``name`` write ``new`` instead (readers follow)."""
    for node in g.nodes:
        if node.output[0] == name and name != new:
            node.output[0] = new
            for other in g.nodes:  # later readers of the old name
                other.input[:] = [new if i == name else i for i in other.input]
            return


def to_onnx(model: Any) -> Any:
    """The model as an ``onnx.ModelProto`` (checked by ``onnx.checker.check_model``)."""
    if isinstance(model, registry.builtin("Functional")):
        return _functional_to_onnx(model)
    layers, input_shape = sequential_layers(model, "export")
    graph = GraphBuilder(model.dtype)
    if layers and isinstance(layers[0], Embedding):
        graph.int_names.add("input")
    name = "input"
    shape: tuple[Any, ...] = input_shape
    for layer in layers:
        name = _convert_layer(layer, graph, name, shape)
        shape = layer.compute_output_shape(shape)
    if not graph.nodes or graph.nodes[-1].output[0] != name:
        graph.node("Identity", [name], "output")
    graph.nodes[-1].output[0] = "output"
    info, et = graph.onnx.helper.make_tensor_value_info, graph.elem_type
    return _finish(
        graph,
        model.name,
        [info("input", 7 if graph.int_names else et, ["batch", *input_shape])],
        [info("output", et, ["batch", *shape])],
    )


# -- functional models ---------------------------------------------------------------------------
def _l2_normalize(g: GraphBuilder, x: str, axis: int, prefix: str) -> str:
    """x / √max(Σ x², 1e-12) along axis: the Dot kernel's normalisation."""
    total = g.node("ReduceSum", [g.node("Mul", [x, x], prefix), g.ints(prefix, [axis])], prefix,
                   keepdims=1)  # fmt: skip
    norm = g.node("Sqrt", [g.node("Max", [total, g.const(prefix, 1e-12)], prefix)], prefix)
    return g.node("Div", [x, norm], prefix)


def _dot(layer: Any, g: GraphBuilder, xs: list[str], shapes: list[tuple[int, ...]]) -> str:
    """The Dot kernel's steps: the summed axis moved last in x and first in y, both made 3-D,
    one batched MatMul, then the output's shape ((N, 1) when nothing else remains)."""
    name = layer.name
    (sx, sy), (x, y) = shapes, xs
    nx, ny = len(sx) + 1, len(sy) + 1
    ax, ay = (a if a >= 0 else nd + a for a, nd in zip(layer.axes, (nx, ny)))
    if layer.normalize:
        x, y = _l2_normalize(g, x, ax, name), _l2_normalize(g, y, ay, name)
    x_perm = [i for i in range(nx) if i != ax] + [ax]
    y_perm = [0, ay] + [i for i in range(1, ny) if i != ay]
    depth = sx[ax - 1]
    x3 = g.node("Reshape", [g.node("Transpose", [x], name, perm=x_perm),
                            g.ints(name, [0, -1, depth])], name)  # fmt: skip
    y3 = g.node("Reshape", [g.node("Transpose", [y], name, perm=y_perm),
                            g.ints(name, [0, depth, -1])], name)  # fmt: skip
    rest = [sx[i - 1] for i in x_perm[1:-1]] + [sy[i - 1] for i in y_perm[2:]]
    z = g.node("MatMul", [x3, y3], name)
    return g.node("Reshape", [z, g.ints(name, [0, *(rest or [1])])], name)


def _merge(layer: Any, g: GraphBuilder, xs: list[str], shapes: list[tuple[int, ...]]) -> str:
    """A merge layer's ONNX ops, adding in the kernel's order (x₁ + x₂ + …)."""
    kind, name = type(layer).__name__, layer.name
    if kind == "Dot" and type(layer).__module__ == Merge.__module__:
        return _dot(layer, g, xs, shapes)
    pairwise = {"Add": "Add", "Multiply": "Mul", "Average": "Add", "Maximum": "Max",
                "Minimum": "Min"}  # fmt: skip
    if kind == "Concatenate":
        return g.node("Concat", xs, name, axis=layer.axis)
    if kind == "Subtract":
        return g.node("Sub", xs, name)
    if kind in pairwise and type(layer).__module__ == Merge.__module__:
        out = xs[0]
        for x in xs[1:]:
            out = g.node(pairwise[kind], [out, x], name)
        if kind == "Average":
            out = g.node("Div", [out, g.const(f"{name}/count", len(xs))], name)
        return out
    raise InvalidArgumentError(
        f"export: layer {name!r} ({kind}) has no ONNX mapping in a functional model; mapped "
        f"merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot"
    )


def _static(t: Any, where: str) -> tuple[int, ...]:
    shape = tuple(t.shape[1:])
    if any(d is None for d in shape):
        raise InvalidArgumentError(
            f"export: {where} has the per-sample shape {shape}; export needs every size known "
            f"(give keras.Input a full shape)"
        )
    return tuple(int(d) for d in shape)


def _functional_to_onnx(model: Any) -> Any:
    """A functional model: its inputs and outputs as the graph's (by their names), each layer
    call as its converter, each merge layer as elementwise ops or Concat."""
    graph = GraphBuilder(model.dtype)
    names: dict[int, str] = {}
    inputs = []
    for t, name in zip(model.inputs, model.input_names):
        readers = [n.layer for n in model._nodes if any(i is t for i in n.inputs)]
        indices = bool(readers) and all(isinstance(r, Embedding) for r in readers)
        if indices:
            graph.int_names.add(name)
        names[id(t)] = name
        shape = _static(t, f"input {name!r}")
        et = 7 if indices else graph.elem_type
        inputs.append(graph.onnx.helper.make_tensor_value_info(name, et, ["batch", *shape]))
    for node in model._nodes:
        layer = node.layer
        if isinstance(layer, Input):
            continue
        where = f"the call of {getattr(layer, 'name', layer)!r}"
        if not isinstance(layer, Layer) or node.kwargs or len(node.outputs) != 1:
            raise InvalidArgumentError(
                f"export: {where} in {model.name} is not a layer call of one output without "
                f"keyword arguments (an operation on symbolic tensors, a nested model or a "
                f"call with arguments), which functional export does not map"
            )
        xs = [names[id(t)] for t in node.inputs]
        if isinstance(layer, Merge):
            out = _merge(layer, graph, xs, [_static(t, where) for t in node.inputs])
        else:
            out = _convert_layer(layer, graph, xs[0], _static(node.inputs[0], where))
        names[id(node.outputs[0])] = out
    outputs, fixed = [], set(graph.int_names) | set(model.input_names)
    for t, name in zip(model.outputs, model.output_names):
        current = names[id(t)]
        if current in fixed:  # a graph input or an earlier output: copy it
            graph.nodes.append(graph.onnx.helper.make_node("Identity", [current], [name]))
        else:
            _rename_output(graph, current, name)
            names = {k: (name if v == current else v) for k, v in names.items()}
        fixed.add(name)
        shape = _static(t, f"output {name!r}")
        outputs.append(
            graph.onnx.helper.make_tensor_value_info(name, graph.elem_type, ["batch", *shape])
        )
    return _finish(graph, model.name, inputs, outputs)


def export_onnx(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write the model as an ONNX file at ``path`` (atomically); returns the path."""
    target = check_target(path, "export")  # before the work, not after it
    atomic_write_bytes(target, to_onnx(model).SerializeToString(), where="export")
    return target
