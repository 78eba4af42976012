"""ONNX export against onnxruntime: every layer class and activation, float32 and float64."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx package")
ort = pytest.importorskip("onnxruntime", reason="the oracle is onnxruntime")

import glassnet  # noqa: E402
import glassnet.keras.layers as KL  # noqa: E402 — its subclasses join the enumeration
import glassnet.layers as L  # noqa: E402
from glassnet.errors import ShapeError  # noqa: E402
from glassnet.functional.activations import KERNELS  # noqa: E402
from glassnet.io import onnx_export  # noqa: E402
from glassnet.nn.layers.base import Layer  # noqa: E402

TOL = {np.float32: 1e-5, np.float64: 1e-12}
ACTIVATION_PARAMS = {"leaky_relu": {"negative_slope": 0.2}, "elu": {"alpha": 0.7}}


def _glassnet_layer_classes() -> set[type]:
    """Every layer class glassnet defines: those exported by glassnet.layers, and every
    subclass of Layer in a glassnet module (a layer someone forgot to export included)."""
    exported = {
        obj
        for name in L.__all__
        if inspect.isclass(obj := getattr(L, name)) and issubclass(obj, Layer)
    }
    exported |= set(L.LAYER_CLASSES.values())
    found, todo = set(), [Layer]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    ours = {c for c in found if c.__module__.startswith("glassnet.") and c.__name__[0] != "_"}
    return (exported | ours) - {Layer}


# How the random models below make each layer class, from a generator and the per-sample
# input shape; a new layer class needs an entry here too, or the enumeration test fails.
def _activation_layer(cls):
    def make(rng, shape):
        if cls is L.Activation:
            return L.Activation(str(rng.choice(sorted(KERNELS))))
        if cls is L.LeakyReLU:
            return L.LeakyReLU(float(rng.uniform(0.01, 0.5)))
        if cls is L.ELU:
            return L.ELU(float(rng.uniform(0.2, 2.0)))
        return cls()

    return make


MAKERS = {
    L.Dense: lambda rng, shape: L.Dense(
        int(rng.integers(1, 9)),
        str(rng.choice(sorted(KERNELS))),
        use_bias=bool(rng.random() < 0.8),
    ),
    L.Dropout: lambda rng, shape: L.Dropout(float(rng.uniform(0, 0.9))),
    L.Flatten: lambda rng, shape: L.Flatten(),
    L.Input: None,  # only declares the shape; Sequential keeps no Input layer
    L.Rescaling: lambda rng, shape: L.Rescaling(float(rng.uniform(0.1, 2)), float(rng.normal())),
    L.Normalization: lambda rng, shape: L.Normalization().adapt(
        rng.normal(1.0, 2.0, size=(20, *shape))
    ),
    KL.Dense: lambda rng, shape: KL.Dense(
        int(rng.integers(1, 9)), str(rng.choice(["relu", "tanh"]))
    ),
    L.Reshape: lambda rng, shape: L.Reshape((-1, 1) if rng.random() < 0.5 else (1, -1)),
    L.BatchNormalization: lambda rng, shape: _with_statistics(
        L.BatchNormalization(
            epsilon=float(rng.uniform(1e-3, 0.1)),
            center=bool(rng.random() < 0.8),
            scale=bool(rng.random() < 0.8),
        ),
        rng,
        shape,
    ),
    L.LayerNormalization: lambda rng, shape: _with_statistics(
        L.LayerNormalization(
            epsilon=float(rng.uniform(1e-3, 0.1)), center=bool(rng.random() < 0.8)
        ),
        rng,
        shape,
    ),
    **{
        cls: _activation_layer(cls)
        for cls in _glassnet_layer_classes()
        if issubclass(cls, L.Activation)
    },
}


def _with_statistics(layer, rng, shape):
    return layer  # built with the model; _random_statistics then draws its values


def _random_statistics(model, rng):
    """Random γ, β and moving statistics (not 0 and 1) in every normalisation layer."""
    for layer in model.layers:
        if not isinstance(layer, (L.BatchNormalization, L.LayerNormalization)):
            continue
        for param in layer.parameters():
            values = (
                rng.uniform(0.5, 2.0, param.shape)
                if "variance" in param.name
                else rng.normal(size=param.shape)
            )
            param.data[...] = values


def _window(rng, shape, fmt, rank):
    """Random kernel, strides, dilation and padding whose window fits the spatial size."""
    spatial = shape[:rank] if fmt == "channels_last" else shape[1:]
    kernel = tuple(int(rng.integers(1, min(n, 3) + 1)) for n in spatial)
    return {
        "kernel": kernel,
        "strides": tuple(int(rng.integers(1, 3)) for _ in spatial),
        "padding": str(rng.choice(["valid", "same"])),
    }


def _conv(cls, rank):
    def make(rng, shape, fmt):
        w = _window(rng, shape, fmt, rank)
        transposed = cls is L.Conv2DTranspose
        dilate = 1 if transposed or max(w["strides"]) > 1 else int(rng.integers(1, 3))
        padding = w["padding"]
        if cls is L.Conv1D and rng.random() < 0.3:
            padding = "causal"
        return cls(int(rng.integers(1, 5)), w["kernel"], strides=w["strides"], padding=padding,
                   data_format=fmt, dilation_rate=dilate,
                   activation=str(rng.choice(["relu", "linear", "tanh", "softmax"])),
                   use_bias=bool(rng.random() < 0.8))  # fmt: skip

    return make


def _pool(cls, rank):
    def make(rng, shape, fmt):
        w = _window(rng, shape, fmt, rank)
        return cls(w["kernel"], strides=w["strides"], padding=w["padding"], data_format=fmt)

    return make


def _global(cls):
    return lambda rng, shape, fmt: cls(data_format=fmt, keepdims=bool(rng.random() < 0.5))


# Layers of images (rank 2) and sequences (rank 1): makers (rng, per-sample shape, data_format).
WINDOW_MAKERS = {
    2: {
        L.Conv2D: _conv(L.Conv2D, 2),
        L.Conv2DTranspose: _conv(L.Conv2DTranspose, 2),
        L.MaxPooling2D: _pool(L.MaxPooling2D, 2),
        L.AveragePooling2D: _pool(L.AveragePooling2D, 2),
        L.GlobalAveragePooling2D: _global(L.GlobalAveragePooling2D),
        L.GlobalMaxPooling2D: _global(L.GlobalMaxPooling2D),
        L.ZeroPadding2D: lambda rng, shape, fmt: L.ZeroPadding2D(
            tuple(tuple(int(v) for v in rng.integers(0, 3, 2)) for _ in range(2)), data_format=fmt
        ),
        L.UpSampling2D: lambda rng, shape, fmt: L.UpSampling2D(
            tuple(int(v) for v in rng.integers(1, 4, 2)), data_format=fmt
        ),
        L.BatchNormalization: lambda rng, shape, fmt: _with_statistics(
            L.BatchNormalization(axis=-1 if fmt == "channels_last" else 1), rng, shape
        ),
    },
    1: {
        L.Conv1D: _conv(L.Conv1D, 1),
        L.MaxPooling1D: _pool(L.MaxPooling1D, 1),
        L.AveragePooling1D: _pool(L.AveragePooling1D, 1),
        L.GlobalAveragePooling1D: _global(L.GlobalAveragePooling1D),
        L.GlobalMaxPooling1D: _global(L.GlobalMaxPooling1D),
        L.LayerNormalization: lambda rng, shape, fmt: _with_statistics(
            L.LayerNormalization(axis=[-2, -1] if rng.random() < 0.5 else -1), rng, shape
        ),
    },
}
# onnxruntime (CPU) has no float64 kernel for Conv, ConvTranspose, AveragePool or Resize: the
# float64 graphs are valid ONNX (checked) but cannot run there, so float64 models skip them.
NO_FLOAT64_IN_ORT = {
    L.Conv1D,
    L.Conv2D,
    L.Conv2DTranspose,
    L.AveragePooling1D,
    L.AveragePooling2D,
    L.UpSampling2D,
}
# Exercised by their own tests below: Embedding takes integer indices, so it comes first.
OWN_TESTS = {L.Embedding, KL.Embedding}


# Classes without a converter of one input: merge layers run only in functional models, where
# export maps them itself (test_functional_models_with_merge_layers_match_onnxruntime,
# test_functional_dot_matches_onnxruntime), and Keras's Layer is the base of users' own
# layers, whose call() is their own math.
NOT_EXPORTED = {KL.Layer} | {c for c in _glassnet_layer_classes() if issubclass(c, L.Merge)}


def test_every_layer_class_has_an_onnx_mapping():
    classes = _glassnet_layer_classes()
    assert {L.Dense, L.ReLU, L.Dropout, L.Flatten, L.Normalization, L.Conv2D, KL.Dense} <= classes
    assert {L.Add, L.Concatenate, L.Merge} <= NOT_EXPORTED
    missing = sorted(
        c.__qualname__ for c in classes - NOT_EXPORTED if onnx_export.converter_for(c) is None
    )
    assert not missing, f"layer classes without an ONNX mapping: {missing}"
    assert all(onnx_export.converter_for(c) is None for c in NOT_EXPORTED)
    made = set(MAKERS) | set(WINDOW_MAKERS[1]) | set(WINDOW_MAKERS[2]) | OWN_TESTS
    untested = sorted(c.__name__ for c in classes - NOT_EXPORTED if c not in made)
    assert not untested, f"layer classes the random ONNX models below never use: {untested}"


def test_every_activation_has_an_onnx_mapping():
    missing = sorted(set(KERNELS) - set(onnx_export.ACTIVATIONS))
    assert not missing, f"activations without an ONNX mapping: {missing}"


def _run(proto, x):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def _compare(model, x, dtype):
    proto = onnx_export.to_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    got = _run(proto, x.astype(dtype))
    ours = model.predict(x.astype(dtype))
    assert got.dtype == dtype and got.shape == ours.shape
    np.testing.assert_allclose(got, ours, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", sorted(KERNELS))
def test_each_activation_in_dense_and_as_a_layer(activation, dtype):
    rng = np.random.default_rng(sorted(KERNELS).index(activation))
    glassnet.seed(1)
    params = ACTIVATION_PARAMS.get(activation, {})
    model = glassnet.Sequential(
        [
            L.Dense(12, activation, input_dim=5, dtype=dtype),
            L.Activation(activation, dtype=dtype, **params),
            L.Dense(4, activation, dtype=dtype),
        ]
    )
    # Large inputs too, so saturated and overflowing regions (sigmoid, softplus, elu) count.
    x = np.concatenate([rng.normal(size=(30, 5)), 40 * rng.normal(size=(10, 5))])
    _compare(model, x, dtype)


def _random_model(rng, dtype):
    """A random stack: optional 3-D input through Flatten, then layers of every class."""
    shape = (int(rng.integers(2, 5)), int(rng.integers(2, 5))) if rng.random() < 0.5 else (6,)
    layers = [] if len(shape) == 1 else [L.Flatten(input_shape=shape, dtype=dtype)]
    width = (int(np.prod(shape)),)
    kinds = sorted((c for c, make in MAKERS.items() if make is not None), key=lambda c: c.__name__)
    for _ in range(int(rng.integers(2, 7))):
        cls = kinds[int(rng.integers(len(kinds)))]
        layer = MAKERS[cls](rng, width)
        layer.dtype = np.dtype(dtype)
        layers.append(layer)
        width = layer.compute_output_shape(width)
    layers.append(L.Dense(3, str(rng.choice(["softmax", "linear", "sigmoid"])), dtype=dtype))
    model = glassnet.Sequential(layers)
    model.build(shape)
    _random_statistics(model, rng)
    return model, shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(12))
def test_random_models_match_onnxruntime(seed, dtype):
    rng = np.random.default_rng(100 + seed)
    glassnet.seed(seed)
    model, shape = _random_model(rng, dtype)
    _compare(model, rng.normal(size=(17, *shape)), dtype)


def _random_window_model(rng, dtype, rank, fmt):
    """Random window layers on a random image or sequence batch, then Flatten and a Dense."""
    spatial = tuple(int(rng.integers(4, 9)) for _ in range(rank))
    channels = int(rng.integers(1, 4))
    shape = (*spatial, channels) if fmt == "channels_last" else (channels, *spatial)
    layers, current = [], shape
    kinds = sorted(WINDOW_MAKERS[rank], key=lambda c: c.__name__)
    if dtype == np.float64:
        kinds = [c for c in kinds if c not in NO_FLOAT64_IN_ORT]
    while len(layers) < int(rng.integers(2, 5)):
        layer = WINDOW_MAKERS[rank][kinds[int(rng.integers(len(kinds)))]](rng, current, fmt)
        layer.dtype = np.dtype(dtype)
        try:
            out = layer.compute_output_shape(current)
        except ShapeError:  # the window does not fit this size: draw another layer
            continue
        if len(out) != len(current) or int(np.prod(out)) > 4000:
            layers.append(layer)
            current = out
            break  # a global pooling ends the window part (or the image grew large)
        layers.append(layer)
        current = out
    if len(current) > 1:
        layers.append(L.Flatten(dtype=dtype))
    layers.append(L.Dense(3, str(rng.choice(["softmax", "linear"])), dtype=dtype))
    model = glassnet.Sequential(layers)
    model.build(shape)
    _random_statistics(model, rng)
    return model, shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("seed", range(8))
def test_random_window_models_match_onnxruntime(seed, rank, fmt, dtype):
    rng = np.random.default_rng(1000 * rank + seed + (500 if fmt == "channels_first" else 0))
    glassnet.seed(seed)
    model, shape = _random_window_model(rng, dtype, rank, fmt)
    _compare(model, rng.normal(size=(5, *shape)), dtype)


def test_random_window_models_cover_every_window_layer():
    for rank in (1, 2):
        seen = set()
        for seed in range(8):
            for fmt in ("channels_last", "channels_first"):
                offset = 500 if fmt == "channels_first" else 0
                rng = np.random.default_rng(1000 * rank + seed + offset)
                model, _ = _random_window_model(rng, np.float32, rank, fmt)
                seen |= {type(layer) for layer in model.layers}
        assert sorted(c.__name__ for c in set(WINDOW_MAKERS[rank]) - seen) == []


def test_float64_window_graphs_pass_the_checker():
    glassnet.seed(0)
    model = glassnet.Sequential(
        [
            L.Conv2D(2, 3, padding="same", input_shape=(6, 6, 1), dtype="float64"),
            L.AveragePooling2D(2, padding="same", dtype="float64"),
            L.UpSampling2D(2, dtype="float64"),
            L.Conv2DTranspose(1, 2, strides=2, dtype="float64"),
        ]
    )
    proto = onnx_export.to_onnx(model)  # checks the model, full_check
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


def test_simple_mnist_convnet_matches_onnxruntime():
    """Keras's "Simple MNIST convnet" example's architecture, random weights."""
    glassnet.seed(0)
    model = glassnet.Sequential(
        [
            L.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
            L.MaxPooling2D((2, 2)),
            L.Conv2D(64, (3, 3), activation="relu"),
            L.MaxPooling2D((2, 2)),
            L.Flatten(),
            L.Dropout(0.5),
            L.Dense(10, "softmax"),
        ]
    )
    x = np.random.default_rng(0).uniform(size=(16, 28, 28, 1))
    _compare(model, x, np.float32)


@pytest.mark.parametrize("cls", [L.Embedding, KL.Embedding])
def test_embedding_models_take_int64_indices(cls):
    glassnet.seed(0)
    model = glassnet.Sequential(
        [
            cls(20, 6, input_shape=(7,)),
            L.Conv1D(4, 3, activation="relu"),
            L.GlobalAveragePooling1D(),
            L.Dense(2, "softmax"),
        ]
    )
    proto = onnx_export.to_onnx(model)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    x = np.random.default_rng(1).integers(0, 20, size=(9, 7))
    got = _run(proto, x.astype(np.int64))
    np.testing.assert_allclose(got, model.predict(x), rtol=1e-5, atol=1e-5)


def test_conv_graph_transposes_around_conv_for_channels_last():
    glassnet.seed(0)
    model = glassnet.Sequential([L.Conv2D(2, 3, padding="same", input_shape=(5, 5, 1))])
    ops = [n.op_type for n in onnx_export.to_onnx(model).graph.node]
    assert ops == ["Transpose", "Conv", "Transpose"]
    first = glassnet.Sequential(
        [L.Conv2D(2, 3, data_format="channels_first", input_shape=(1, 5, 5))]
    )
    assert [n.op_type for n in onnx_export.to_onnx(first).graph.node] == ["Conv"]


def _two_input_model(merge):
    k = glassnet.keras
    left, right = k.Input((4,), name="left"), k.Input((3, 5, 2), name="image")
    a = L.Dense(6, "tanh")(left)
    features = L.Flatten()(L.Conv2D(2, 3, padding="same", activation="relu")(right))
    b = L.Dense(6, "elu")(features)
    c = L.Dense(6)(L.Concatenate()([a, b, a]))
    merged = merge()([a, b, c]) if merge not in (L.Subtract,) else merge()([a, b])
    return k.Model([left, right], [L.Dense(2, "softmax")(merged), c])


@pytest.mark.parametrize(
    "merge", [L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum, L.Concatenate]
)
def test_functional_models_with_merge_layers_match_onnxruntime(merge):
    glassnet.seed(0)
    model = _two_input_model(merge)
    proto = onnx_export.to_onnx(model)
    assert [i.name for i in proto.graph.input] == ["left", "image"]
    assert len(proto.graph.output) == 2
    rng = np.random.default_rng(2)
    xs = [
        rng.normal(size=(7, 4)).astype(np.float32),
        rng.normal(size=(7, 3, 5, 2)).astype(np.float32),
    ]
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"left": xs[0], "image": xs[1]})
    ours = model.predict(xs)
    for g_out, o_out in zip(got, ours):
        np.testing.assert_allclose(g_out, o_out, rtol=1e-5, atol=1e-5)


def test_functional_output_that_is_an_input_or_repeated():
    k = glassnet.keras
    glassnet.seed(0)
    x = k.Input((3,), name="x")
    h = L.Dense(2)(x)
    model = k.Model(x, [h, x, h])
    proto = onnx_export.to_onnx(model)
    data = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": data})
    for g_out, o_out in zip(got, model.predict(data)):
        np.testing.assert_allclose(g_out, o_out, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "shapes, axes",
    [
        (((4,), (4,)), 1),
        (((3, 4), (5, 4)), 2),
        (((3, 4), (3, 2)), (1, 1)),
        (((2, 3, 4), (4, 5)), (3, 1)),
    ],
)
@pytest.mark.parametrize("normalize", [False, True])
def test_functional_dot_matches_onnxruntime(shapes, axes, normalize):
    k = glassnet.keras
    glassnet.seed(0)
    a, b = k.Input(shapes[0], name="a"), k.Input(shapes[1], name="b")
    dotted = L.Dot(axes=axes, normalize=normalize)([L.Dense(shapes[0][-1])(a), b])
    model = k.Model([a, b], dotted)
    proto = onnx_export.to_onnx(model)
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(6, *s)).astype(np.float32) for s in shapes]
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"a": xs[0], "b": xs[1]})[0]
    np.testing.assert_allclose(got, model.predict(xs), rtol=1e-5, atol=1e-5)


def test_random_models_cover_every_layer_class():
    seen = set()
    for seed in range(12):
        model, _ = _random_model(np.random.default_rng(100 + seed), np.float32)
        seen |= {type(layer) for layer in model.layers}
    expected = {c for c, make in MAKERS.items() if make is not None}
    assert sorted(c.__name__ for c in expected - seen) == []


def test_dense_on_three_axes_uses_matmul():
    glassnet.seed(0)
    model = glassnet.Sequential([L.Dense(5, "tanh", input_shape=(4, 3))])
    proto = onnx_export.to_onnx(model)
    assert [n.op_type for n in proto.graph.node] == ["MatMul", "Add", "Tanh"]
    x = np.random.default_rng(0).normal(size=(6, 4, 3))
    _compare(model, x, np.float32)


def test_graph_uses_standard_operators_and_names():
    glassnet.seed(0)
    model = glassnet.Sequential(
        [L.Dense(8, "relu", input_dim=4), L.Dropout(0.5), L.Dense(3, "softmax")]
    )
    proto = onnx_export.to_onnx(model)
    assert [n.op_type for n in proto.graph.node] == ["Gemm", "Relu", "Identity", "Gemm",
                                                     "Softmax"]  # fmt: skip
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    assert proto.opset_import[0].version == onnx_export.BASE_OPSET
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 4]


def test_model_export_writes_a_checked_file(tmp_path):
    glassnet.seed(0)
    model = glassnet.Sequential([L.Dense(8, "gelu", input_dim=4), L.Dense(2, "softmax")])
    path = tmp_path / "model.onnx"
    model.export(path)
    loaded = onnx.load(str(path))
    onnx.checker.check_model(loaded, full_check=True)
    assert loaded.opset_import[0].version == 20  # Gelu is an opset-20 operator
    x = np.random.default_rng(1).normal(size=(9, 4)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0], model.predict(x), atol=1e-5)


class Doubler(Layer):
    """A layer glassnet does not know how to export."""

    def forward_kernel(self, x, ctx):
        return 2 * x

    def backward_kernel(self, ctx, g):
        return 2 * g


def test_a_layer_without_mapping_is_named():
    model = glassnet.Sequential([L.Dense(3, input_dim=2), Doubler(name="twice")])
    with pytest.raises(ValueError, match=r"layer 'twice' \(Doubler\) has no ONNX mapping"):
        model.export("unused.onnx")


def test_a_subclass_with_its_own_math_is_not_exported_as_its_parent():
    class OddDense(L.Dense):
        def forward_kernel(self, x, ctx):
            return 2 * super().forward_kernel(x, ctx)

    model = glassnet.Sequential([OddDense(3, input_dim=2)])
    with pytest.raises(ValueError, match=r"\(OddDense\) has no ONNX mapping"):
        onnx_export.to_onnx(model)


def test_a_subclass_with_the_same_math_is_exported_as_its_parent():
    class Renamed(L.Dense):
        def extra_repr(self):
            return "renamed"

    glassnet.seed(0)
    model = glassnet.Sequential([Renamed(3, "tanh", input_dim=2), KL.Dense(2)])
    x = np.random.default_rng(0).normal(size=(4, 2))
    _compare(model, x, np.float32)


def test_an_activation_without_mapping_is_named(monkeypatch):
    monkeypatch.delitem(onnx_export.ACTIVATIONS, "tanh")
    model = glassnet.Sequential([L.Dense(3, "tanh", input_dim=2, name="hidden")])
    with pytest.raises(ValueError, match="layer 'hidden' uses the activation 'tanh', which has no"):
        onnx_export.to_onnx(model)


def test_unbuilt_and_subclassed_models_are_refused():
    with pytest.raises(ValueError, match="no input shape yet"):
        onnx_export.to_onnx(glassnet.Sequential([L.Dense(3)]))

    class Custom(glassnet.Sequential):
        def forward(self, x):
            return super().forward(x) * 2

    with pytest.raises(ValueError, match="export: only a Sequential model .* received Custom"):
        onnx_export.to_onnx(Custom([L.Dense(3, input_dim=2)]))


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "glassnet", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_export(tmp_path):
    glassnet.seed(0)
    model = glassnet.Sequential([L.Dense(6, "elu", input_dim=3), L.Dense(2, "sigmoid")])
    model.save(tmp_path / "m.safetensors")
    out = _cli("export", str(tmp_path / "m.safetensors"), "-o", str(tmp_path / "m.onnx"))
    assert out.returncode == 0, out.stderr
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0], model.predict(x), atol=1e-5)


def test_cli_export_errors_exit_2_with_one_line(tmp_path):
    missing = _cli("export", str(tmp_path / "none.safetensors"), "-o", str(tmp_path / "m.onnx"))
    no_output = _cli("export", str(tmp_path / "none.safetensors"))
    (tmp_path / "bad.safetensors").write_bytes(b"not a model")
    corrupt = _cli("export", str(tmp_path / "bad.safetensors"), "-o", str(tmp_path / "m.onnx"))
    for result in (missing, no_output, corrupt):
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("glassnet export: error:"), lines
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_functional_embedding_input_is_int64():
    k = glassnet.keras
    glassnet.seed(0)
    tokens = k.Input((5,), name="tokens")
    pooled = L.GlobalAveragePooling1D()(L.Embedding(12, 3)(tokens))
    model = k.Model(tokens, L.Dense(2, "softmax")(pooled))
    proto = onnx_export.to_onnx(model)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    x = np.random.default_rng(0).integers(0, 12, size=(6, 5))
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"tokens": x.astype(np.int64)})[0]
    np.testing.assert_allclose(got, model.predict(x), rtol=1e-5, atol=1e-6)


def test_functional_with_unknown_sizes_is_refused():
    k = glassnet.keras
    x = k.Input((None, 3), name="seq")
    model = k.Model(x, L.GlobalAveragePooling1D()(x))
    with pytest.raises(ValueError, match=r"input 'seq' has the per-sample shape \(None, 3\)"):
        onnx_export.to_onnx(model)
