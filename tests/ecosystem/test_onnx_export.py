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
import glassnet.layers as L  # noqa: E402
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
    **{
        cls: _activation_layer(cls)
        for cls in _glassnet_layer_classes()
        if issubclass(cls, L.Activation)
    },
}


def test_every_layer_class_has_an_onnx_mapping():
    classes = _glassnet_layer_classes()
    assert {L.Dense, L.ReLU, L.Dropout, L.Flatten, L.Normalization} <= classes
    missing = sorted(c.__name__ for c in classes if c not in onnx_export.CONVERTERS)
    assert not missing, f"layer classes without an ONNX mapping: {missing}"
    untested = sorted(c.__name__ for c in classes if c not in MAKERS)
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
    if len(shape) == 1:
        model.build(shape)
    return model, shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(12))
def test_random_models_match_onnxruntime(seed, dtype):
    rng = np.random.default_rng(100 + seed)
    glassnet.seed(seed)
    model, shape = _random_model(rng, dtype)
    _compare(model, rng.normal(size=(17, *shape)), dtype)


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


def test_a_subclass_is_not_exported_as_its_parent():
    class OddDense(L.Dense):
        pass

    model = glassnet.Sequential([OddDense(3, input_dim=2)])
    with pytest.raises(ValueError, match=r"\(OddDense\) has no ONNX mapping"):
        onnx_export.to_onnx(model)


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
