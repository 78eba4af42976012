"""ONNX export of a Sequential model: every layer as standard ONNX operators (``onnx.helper``).

``export_onnx(model, "model.onnx")`` (also ``model.export(...)`` and ``glassnet export``) writes
an inference graph: input ``input`` of shape (batch, *input_shape), output ``output``, in the
model's float dtype (float32 or float64). Each layer class has one converter registered below
in ``CONVERTERS`` (exact class, so a subclass that changes the math is never exported as its
parent); each activation kernel one in ``ACTIVATIONS``. A layer or activation without one is
refused with an error naming it, and tests/ecosystem enumerate every layer class and kernel
that glassnet exports, so a layer added later fails the tests until its mapping is written.

    Dense            Gemm(x, W, b, transB=1) for (batch, features); MatMul(x, Wᵀ) + Add(b) for
                     more axes — W is already (units, in_features), as Gemm's transB expects
    activations      Relu, Sigmoid, Tanh, LeakyRelu(alpha), Elu(alpha), Softplus, Gelu
                     (approximate="tanh", opset 20), Softmax(axis=-1); linear adds nothing
    Dropout, Input   Identity (inference) / nothing
    Flatten          Flatten(axis=1)
    Rescaling        Mul(scale) [Add(offset)]
    Normalization    Sub(mean), Mul(1/√variance) — the same order as the layer's kernel

In float64 graphs LeakyRelu, Elu, Softplus and Gelu are written with elementwise ops (Where,
Exp, Log, Tanh, Mul, Add) computing the layer's own formula: ONNX attributes such as alpha are
float32 (0.2 would become 0.20000000298), onnxruntime has no float64 Elu or Softplus kernel, and
its float64 Gelu is accurate only to about 1e-8.
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
    Dense,
    Dropout,
    Flatten,
    Input,
    Layer,
    Normalization,
    Rescaling,
)
from ..nn.layers import activation as activation_layers
from ._sequential import sequential_layers
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


# -- the model -----------------------------------------------------------------------------------
def to_onnx(model: Any) -> Any:
    """The model as an ``onnx.ModelProto`` (checked by ``onnx.checker.check_model``)."""
    layers, input_shape = sequential_layers(model, "export")
    graph = GraphBuilder(model.dtype)
    onnx = graph.onnx
    name = "input"
    shape: tuple[Any, ...] = input_shape
    for layer in layers:
        convert = CONVERTERS.get(type(layer))
        if convert is None:
            raise InvalidArgumentError(
                f"export: layer {layer.name!r} ({type(layer).__name__}) has no ONNX mapping; "
                f"mapped layers: {', '.join(sorted(c.__name__ for c in CONVERTERS))}"
            )
        name = convert(layer, graph, name, shape)
        shape = layer.compute_output_shape(shape)
    if not graph.nodes or graph.nodes[-1].output[0] != name:
        graph.node("Identity", [name], "output")
    graph.nodes[-1].output[0] = "output"
    et = graph.elem_type
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(
            graph.nodes,
            model.name,
            [onnx.helper.make_tensor_value_info("input", et, ["batch", *input_shape])],
            [onnx.helper.make_tensor_value_info("output", et, ["batch", *shape])],
            graph.initializers,
        ),
        opset_imports=[onnx.helper.make_opsetid("", graph.opset)],
        producer_name="glassnet",
    )
    proto.ir_version = min(proto.ir_version, 9)  # readable by onnxruntime releases since 1.17
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write the model as an ONNX file at ``path`` (atomically); returns the path."""
    target = check_target(path, "export")  # before the work, not after it
    atomic_write_bytes(target, to_onnx(model).SerializeToString(), where="export")
    return target
