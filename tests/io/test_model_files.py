"""Model files: save → load gives the same predictions for every layer and activation, the
training config and optimiser state come back, the file is plain safetensors (NumPy and
PyTorch read it), registered classes round-trip, and mistakes get clear errors."""

from __future__ import annotations

import json
import os
import pathlib
import struct
from typing import Any

import numpy as np
import pytest
import safetensors.numpy as stn

import glassnet as gn
from glassnet import _rng
from glassnet.errors import FileFormatError, GlassnetError, InvalidArgumentError
from glassnet.functional import KERNELS
from glassnet.io import (
    FileAccessError,
    MissingFileError,
    save_checkpoint,
)
from glassnet.io import registry as reg
from glassnet.io._container import seal
from glassnet.io.model_files import load_model, load_weights, save_model, save_weights
from glassnet.nn import (
    ELU,
    GELU,
    Activation,
    Dense,
    Dropout,
    Flatten,
    Input,
    Layer,
    LeakyReLU,
    Linear,
    Module,
    Parameter,
    ReLU,
    Rescaling,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from glassnet.training.model import Sequential

DTYPES = ["float32", "float64"]


def _x(shape: tuple[int, ...], dtype: str = "float32", seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _every_layer_model(activation: str, dtype: str) -> Sequential:
    """Input, Rescaling, Flatten, Dense(activation), every activation layer, Dropout."""
    gn.seed(1)
    return Sequential(
        [
            Input(shape=(3, 4)),
            Rescaling(0.5, offset=0.25, dtype=dtype),
            Flatten(),
            Dense(
                7,
                activation=activation,
                dtype=dtype,
                kernel_initializer="he_normal",
                bias_initializer="normal",
            ),
            Dropout(0.3),
            Dense(6, activation=LeakyReLU(0.2), dtype=dtype, bias_initializer="normal"),
            LeakyReLU(negative_slope=0.3),
            ELU(alpha=0.7),
            Activation("elu", alpha=0.4),
            Activation("leaky_relu", negative_slope=0.05),
            GELU(),
            Softplus(),
            Tanh(),
            ReLU(),
            Linear(),
            Sigmoid(),
            Dense(5, activation="linear", dtype=dtype, bias_initializer="normal"),
            Softmax(),
        ],
        name="everything",
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", sorted(KERNELS))
def test_round_trip_every_layer_and_activation(
    tmp_path: pathlib.Path, activation: str, dtype: str
) -> None:
    model = _every_layer_model(activation, dtype)
    x = _x((9, 3, 4), dtype)
    expected = model.predict(x)
    assert expected.dtype == np.dtype(dtype)
    path = tmp_path / "model.safetensors"
    save_model(model, path)

    loaded = load_model(path)
    assert isinstance(loaded, Sequential)
    assert loaded.get_config() == model.get_config()
    got = loaded.predict(x)
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected)
    for (n1, p1), (n2, p2) in zip(model.named_parameters(), loaded.named_parameters()):
        assert n1 == n2 and p1.data.dtype == p2.data.dtype
        assert np.array_equal(p1.data, p2.data)


def test_round_trip_layer_built_lazily_and_by_first_layer(tmp_path: pathlib.Path) -> None:
    # No Input: the first layer declares input_shape; and a model built by its first call.
    gn.seed(2)
    declared = Sequential(
        [Flatten(input_shape=(2, 5)), Dense(4, activation="tanh"), Dense(3, activation="softmax")]
    )
    lazy = Sequential([Dense(4, activation="relu"), Dense(2)])
    x_lazy = _x((6, 3))
    lazy.predict(x_lazy)
    for model, x in ((declared, _x((4, 2, 5))), (lazy, x_lazy)):
        save_model(model, tmp_path / "m.safetensors")
        loaded = load_model(tmp_path / "m.safetensors")
        assert np.array_equal(loaded.predict(x), model.predict(x))
        assert loaded.get_config() == model.get_config()


def test_unbuilt_model_round_trips_as_unbuilt(tmp_path: pathlib.Path) -> None:
    model = Sequential([Dense(4, activation="relu"), Dense(2)])
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.parameters() == []
    assert loaded.get_config() == model.get_config()


def test_file_opens_with_safetensors_numpy(tmp_path: pathlib.Path) -> None:
    model = _every_layer_model("relu", "float32")
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    arrays = stn.load_file(path)
    state = model.state_dict()
    assert sorted(arrays) == sorted(state)
    for name, arr in state.items():
        assert arrays[name].dtype == arr.dtype
        assert np.array_equal(arrays[name], arr)
    assert state["dense.W"].shape == (7, 12)  # W is (units, in_features)
    # The metadata is readable with the plain safetensors API and is JSON inside.
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as handle:
        meta = handle.metadata()
    assert meta["format"] == "glassnet" and meta["format_version"] == "2"
    assert json.loads(meta["architecture"])["class_name"] == "Sequential"


def test_file_opens_with_safetensors_torch(tmp_path: pathlib.Path) -> None:
    torch = pytest.importorskip("torch")
    import safetensors.torch as stt

    for dtype in DTYPES:
        model = _every_layer_model("sigmoid", dtype)
        path = tmp_path / f"model-{dtype}.safetensors"
        save_model(model, path)
        tensors = stt.load_file(str(path))
        state = model.state_dict()
        assert sorted(tensors) == sorted(state)
        for name, arr in state.items():
            t = tensors[name]
            assert t.dtype == {"float32": torch.float32, "float64": torch.float64}[dtype]
            assert np.array_equal(t.numpy(), arr)
        # A torch Linear takes W as is: same (out, in) layout as glassnet's Dense.
        lin = torch.nn.Linear(12, 7, dtype=tensors["dense.W"].dtype)
        lin.load_state_dict({"weight": tensors["dense.W"], "bias": tensors["dense.b"]})


def _compiled_model(optimizer: Any = "adam") -> tuple[Sequential, np.ndarray, np.ndarray]:
    gn.seed(3)
    model = Sequential(
        [
            Input(shape=(6,)),
            Dense(8, activation="relu"),
            Dropout(0.2),
            Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = _x((40, 6), seed=5)
    y = np.random.default_rng(6).integers(0, 3, size=40)
    return model, x, y


def _assert_state_equal(a: Any, b: Any) -> None:
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b)
        for k in a:
            _assert_state_equal(a[k], b[k])
    else:
        assert a == b and type(a) is type(b)


def test_compiled_model_round_trips_training_config_and_optimizer_state(
    tmp_path: pathlib.Path,
) -> None:
    from glassnet.optim import Adam, schedules

    schedule = schedules.CosineDecay(0.01, decay_steps=50)
    model, x, y = _compiled_model(Adam(learning_rate=schedule, beta_1=0.8))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "trained.safetensors"
    save_model(model, path)

    loaded = load_model(path)
    assert loaded.compiled
    assert type(loaded.loss) is type(model.loss)
    assert loaded.loss.get_config() == model.loss.get_config()
    assert loaded.metric_specs == ["accuracy"]
    assert type(loaded.optimizer) is Adam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations == 10
    _assert_state_equal(loaded.optimizer.state_dict(), model.optimizer.state_dict())

    # Training on from the loaded file matches training on from the original, bit for bit.
    gn.seed(11)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    gn.seed(11)
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for p1, p2 in zip(model.parameters(), loaded.parameters()):
        assert np.array_equal(p1.data, p2.data)


def test_optimizer_state_left_out_when_asked(tmp_path: pathlib.Path) -> None:
    model, x, y = _compiled_model("sgd")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "m.safetensors"
    save_model(model, path, include_optimizer=False)
    assert all(not k.startswith("optimizer/") for k in stn.load_file(path))
    loaded = load_model(path)
    assert loaded.compiled and loaded.optimizer.iterations == 0
    assert loaded.optimizer.get_config() == model.optimizer.get_config()


def test_optimizer_tensors_sit_under_a_prefix(tmp_path: pathlib.Path) -> None:
    model, x, y = _compiled_model("adam")
    model.fit(x, y, epochs=1, batch_size=20, verbose=0)
    save_model(model, tmp_path / "m.safetensors")
    keys = set(stn.load_file(tmp_path / "m.safetensors"))
    weights = set(model.state_dict())
    assert weights <= keys
    assert keys - weights and all(k.startswith("optimizer/") for k in keys - weights)


def test_load_without_compile(tmp_path: pathlib.Path) -> None:
    model, x, y = _compiled_model()
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors", compile=False)
    assert not loaded.compiled and loaded.optimizer is None
    assert np.array_equal(loaded.predict(x), model.predict(x))


def test_loading_leaves_the_random_stream_alone(tmp_path: pathlib.Path) -> None:
    model = _every_layer_model("relu", "float32")
    save_model(model, tmp_path / "m.safetensors")
    gn.seed(123)
    expected = _rng.generator().random(5)
    gn.seed(123)
    load_model(tmp_path / "m.safetensors")
    assert np.array_equal(_rng.generator().random(5), expected)


def test_any_suffix_and_pathlike(tmp_path: pathlib.Path) -> None:
    model = _every_layer_model("tanh", "float32")
    x = _x((3, 3, 4))
    for name in ("model.keras", "model", "model.h5"):
        save_model(model, str(tmp_path / name))
        assert np.array_equal(load_model(os.fspath(tmp_path / name)).predict(x), model.predict(x))


def test_overwrite_replaces_the_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "m.safetensors"
    a = _every_layer_model("relu", "float32")
    save_model(a, path)
    b = Sequential([Input(shape=(2,)), Dense(1)])
    save_model(b, path)
    assert load_model(path).get_config() == b.get_config()
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp files left


# -- path errors ------------------------------------------------------------------------------
def test_path_errors(tmp_path: pathlib.Path) -> None:
    model = Sequential([Input(shape=(2,)), Dense(1)])
    with pytest.raises(InvalidArgumentError, match="is a directory"):
        save_model(model, tmp_path)
    with pytest.raises(InvalidArgumentError, match="path separator"):
        save_model(model, str(tmp_path / "newdir") + "/")
    with pytest.raises(InvalidArgumentError, match="path must be a str"):
        save_model(model, 42)  # type: ignore[arg-type]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FileAccessError, match="could not write"):
        save_model(model, blocker / "m.safetensors")
    with pytest.raises(MissingFileError, match="no file at") as info:
        load_model(tmp_path / "missing.safetensors")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, GlassnetError)
    with pytest.raises(FileAccessError, match="is a directory"):
        load_model(tmp_path)
    with pytest.raises(InvalidArgumentError, match="glassnet Module"):
        save_model("not a model", tmp_path / "m.safetensors")  # type: ignore[arg-type]


def test_parent_directories_are_created(tmp_path: pathlib.Path) -> None:
    model = Sequential([Input(shape=(2,)), Dense(1)])
    path = tmp_path / "a" / "b" / "m.safetensors"
    save_model(model, path)
    assert load_model(path).get_config() == model.get_config()


# -- format errors ----------------------------------------------------------------------------
def _rewrite_metadata(path: pathlib.Path, **changes: str | None) -> None:
    tensors = stn.load_file(path)
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as handle:
        meta = dict(handle.metadata())
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    path.write_bytes(seal(stn.save(tensors, metadata=meta)))  # past the checksum


def test_wrong_format_markers(tmp_path: pathlib.Path) -> None:
    model = Sequential([Input(shape=(2,)), Dense(1)])
    path = tmp_path / "m.safetensors"

    save_model(model, path)
    _rewrite_metadata(path, format_version="3")
    with pytest.raises(FileFormatError, match="newer than the version 2"):
        load_model(path)

    save_model(model, path)
    _rewrite_metadata(path, format_version="one")
    with pytest.raises(FileFormatError, match="format_version"):
        load_model(path)

    save_model(model, path)
    _rewrite_metadata(path, format=None)
    with pytest.raises(FileFormatError, match="load_weights"):
        load_model(path)

    save_weights(model, path)
    with pytest.raises(FileFormatError, match="only weights"):
        load_model(path)

    save_checkpoint(path, {"epoch": 1})
    with pytest.raises(FileFormatError, match="load_checkpoint"):
        load_model(path)


def test_architecture_and_weights_must_agree(tmp_path: pathlib.Path) -> None:
    model = Sequential([Input(shape=(4,)), Dense(3), Dense(2)])
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    arch = model.get_config()
    arch["layers"][1]["config"]["units"] = 5
    _rewrite_metadata(path, architecture=json.dumps({"class_name": "Sequential", "config": arch}))
    with pytest.raises(FileFormatError, match=r"dense_1\.W has shape \(2, 3\).*needs \(5, 3\)"):
        load_model(path)
    arch["layers"][1]["config"]["units"] = 2
    arch["layers"][0]["config"]["units"] = 5  # the next layer records 3 inputs
    _rewrite_metadata(path, architecture=json.dumps({"class_name": "Sequential", "config": arch}))
    with pytest.raises(FileFormatError, match="records 3 inputs but the layer before it gives 5"):
        load_model(path)


def test_huge_sizes_in_the_architecture_allocate_nothing(tmp_path: pathlib.Path) -> None:
    # A crafted architecture asking for a 10^12-element weight: refused before building.
    model = Sequential([Input(shape=(4,)), Dense(3)])
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    arch = {
        "class_name": "Sequential",
        "config": {
            "name": "evil",
            "input_shape": [10**6],
            "layers": [{"class_name": "Dense", "config": {"name": "dense", "units": 10**6}}],
        },
    }
    _rewrite_metadata(path, architecture=json.dumps(arch))
    with pytest.raises(FileFormatError, match="do not match its architecture"):
        load_model(path)


def test_unknown_layer_class_is_refused(tmp_path: pathlib.Path) -> None:
    model = Sequential([Input(shape=(4,)), Dense(3)])
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    for class_name in ("os.system", "builtins.eval", "subprocess.Popen", "Module"):
        arch = model.get_config()
        arch["layers"][0]["class_name"] = class_name
        _rewrite_metadata(
            path, architecture=json.dumps({"class_name": "Sequential", "config": arch})
        )
        with pytest.raises(FileFormatError, match="unknown layer class"):
            load_model(path)
    _rewrite_metadata(path, architecture=json.dumps({"class_name": "os.system", "config": {}}))
    with pytest.raises(FileFormatError, match="not registered"):
        load_model(path)


# -- registered classes -----------------------------------------------------------------------
@pytest.fixture
def clean_registry() -> Any:
    before = reg.registered_classes()
    yield
    for name in set(reg.registered_classes()) - set(before):
        reg.unregister(name)


class TwoLayerNet(Module):
    """A custom Module: σ(W2 relu(W1 x + b1) + b2), plus a raw Parameter."""

    def __init__(self, hidden: int = 5, inputs: int = 3, scale: float = 1.0) -> None:
        super().__init__()
        self.hidden, self.inputs, self.scale_value = hidden, inputs, scale
        self.fc1 = Dense(hidden, activation="relu", input_dim=inputs)
        self.fc2 = Dense(2, activation="sigmoid", input_dim=hidden)
        self.scale = Parameter(np.full((2,), scale, dtype=np.float32))

    def forward(self, x: Any) -> Any:
        return self.fc2(self.fc1(x)) * self.scale

    def get_config(self) -> dict[str, Any]:
        return {"hidden": self.hidden, "inputs": self.inputs, "scale": self.scale_value}


def test_registered_module_round_trips(tmp_path: pathlib.Path, clean_registry: Any) -> None:
    cls = gn.io.register(TwoLayerNet)
    assert cls is TwoLayerNet
    gn.seed(4)
    net = TwoLayerNet(hidden=6, scale=2.0)
    x = _x((5, 3))
    expected = net(gn.tensor(x)).data
    save_model(net, tmp_path / "net.safetensors")
    loaded = load_model(tmp_path / "net.safetensors")
    assert type(loaded) is TwoLayerNet and loaded.hidden == 6
    assert np.array_equal(loaded(gn.tensor(x)).data, expected)
    assert sorted(stn.load_file(tmp_path / "net.safetensors")) == [
        "fc1.W",
        "fc1.b",
        "fc2.W",
        "fc2.b",
        "scale",
    ]


def test_registered_with_name_and_from_config(tmp_path: pathlib.Path, clean_registry: Any) -> None:
    calls = []

    @gn.io.register(name="lab.Net")
    class Net(TwoLayerNet):
        @classmethod
        def from_config(cls, config: dict[str, Any]) -> Net:
            calls.append(config)
            return cls(**config)

    assert reg.registered_name(Net) == "lab.Net" and reg.get_registered("lab.Net") is Net
    net = Net(hidden=4)
    save_model(net, tmp_path / "n.safetensors")
    meta_arch = json.loads(_metadata(tmp_path / "n.safetensors")["architecture"])
    assert meta_arch == {
        "class_name": "lab.Net",
        "config": {"hidden": 4, "inputs": 3, "scale": 1.0},
    }
    loaded = load_model(tmp_path / "n.safetensors")
    assert type(loaded) is Net and calls == [{"hidden": 4, "inputs": 3, "scale": 1.0}]


def _metadata(path: pathlib.Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as handle:
        return dict(handle.metadata())


def test_registered_layer_inside_sequential(tmp_path: pathlib.Path, clean_registry: Any) -> None:
    @gn.io.register("Scale")
    class Scale(Layer):
        def __init__(self, factor: float = 2.0, name: str | None = None) -> None:
            super().__init__(name=name)
            self.factor = factor

        def forward(self, x: Any) -> Any:
            return x * self.factor

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "factor": self.factor}

    model = Sequential([Input(shape=(3,)), Dense(4), Scale(3.0), Dense(2)])
    x = _x((4, 3))
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert isinstance(loaded.layers[1], Scale) and loaded.layers[1].factor == 3.0
    assert np.array_equal(loaded.predict(x), model.predict(x))


def test_registered_sequential_subclass(tmp_path: pathlib.Path, clean_registry: Any) -> None:
    @gn.io.register(name="lab.Classifier")
    class Classifier(Sequential):
        def classify(self, x: np.ndarray) -> np.ndarray:
            return self.predict(x).argmax(axis=1)

    model = Classifier([Input(shape=(3,)), Dense(4, activation="relu"), Dense(2)], name="clf")
    x = _x((5, 3))
    save_model(model, tmp_path / "c.safetensors")
    loaded = load_model(tmp_path / "c.safetensors")
    assert type(loaded) is Classifier and loaded.name == "clf"
    assert np.array_equal(loaded.classify(x), model.classify(x))
    assert loaded.get_config() == model.get_config()


def test_registered_layer_that_changes_the_width(
    tmp_path: pathlib.Path, clean_registry: Any
) -> None:
    # A custom layer without compute_output_shape: the Dense after it records its real width.
    @gn.io.register
    class Duplicate(Layer):
        def forward(self, x: Any) -> Any:
            return gn.functional.concat([x, x], axis=-1)

    model = Sequential([Duplicate(), Dense(2)])
    x = _x((4, 3))
    expected = model.predict(x)
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.layers[1].W.shape == (2, 6)
    assert np.array_equal(loaded.predict(x), expected)


def test_unregistered_classes_get_a_clear_error(
    tmp_path: pathlib.Path, clean_registry: Any
) -> None:
    net = TwoLayerNet()
    with pytest.raises(InvalidArgumentError, match=r"@glassnet\.register"):
        save_model(net, tmp_path / "net.safetensors")

    class Odd(Layer):
        def forward(self, x: Any) -> Any:
            return x

    with pytest.raises(InvalidArgumentError, match=r"layer 'odd'.*@glassnet\.register"):
        save_model(Sequential([Input(shape=(2,)), Odd()]), tmp_path / "s.safetensors")

    # save_weights works for any Module.
    save_weights(net, tmp_path / "w.safetensors")
    # A file whose class is not registered in this process (e.g. the module not imported).
    gn.io.register(TwoLayerNet)
    save_model(net, tmp_path / "net.safetensors")
    reg.unregister(TwoLayerNet)
    with pytest.raises(FileFormatError, match=r"not registered.*@glassnet\.register"):
        load_model(tmp_path / "net.safetensors")


def test_register_rules(clean_registry: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="built-in"):
        gn.io.register(name="Dense")(TwoLayerNet)
    with pytest.raises(InvalidArgumentError, match="built-in"):
        gn.io.register(name="Sequential")(TwoLayerNet)
    with pytest.raises(InvalidArgumentError, match="subclass of glassnet.nn.Module"):
        gn.io.register(int)
    with pytest.raises(InvalidArgumentError, match="non-empty string"):
        gn.io.register(name="")(TwoLayerNet)
    gn.io.register(TwoLayerNet)

    class TwoLayerNet2(TwoLayerNet):
        pass

    with pytest.raises(InvalidArgumentError, match="already taken"):
        gn.io.register(name="TwoLayerNet")(TwoLayerNet2)
    # A subclass does not inherit the registration.
    assert reg.registered_name(TwoLayerNet2) is None
    # Re-registering the same class, or its redefinition (same module and qualname), is fine.
    assert gn.io.register(TwoLayerNet) is TwoLayerNet
    redefined = type(
        "TwoLayerNet",
        (TwoLayerNet,),
        {"__module__": TwoLayerNet.__module__, "__qualname__": "TwoLayerNet"},
    )
    gn.io.register(redefined)
    assert reg.get_registered("TwoLayerNet") is redefined


# -- weights only -----------------------------------------------------------------------------
def _three_dense(units: tuple[int, int, int] = (4, 3, 2)) -> Sequential:
    return Sequential(
        [
            Input(shape=(5,)),
            Dense(units[0], name="a"),
            Dense(units[1], name="b"),
            Dense(units[2], name="c"),
        ]
    )


def test_save_and_load_weights(tmp_path: pathlib.Path) -> None:
    gn.seed(7)
    src = _three_dense()
    dst = _three_dense()
    save_weights(src, tmp_path / "w.safetensors")
    load_weights(dst, tmp_path / "w.safetensors")
    for p1, p2 in zip(src.parameters(), dst.parameters()):
        assert np.array_equal(p1.data, p2.data)
    # From a full model file (optimizer tensors are skipped) and from a checkpoint.
    model, x, y = _compiled_model("adam")
    model.fit(x, y, epochs=1, verbose=0)
    save_model(model, tmp_path / "m.safetensors")
    twin, _, _ = _compiled_model("adam")
    load_weights(twin, tmp_path / "m.safetensors")
    assert np.array_equal(twin.predict(x), model.predict(x))
    save_checkpoint(tmp_path / "c.ckpt", {"weights": src.state_dict(), "epoch": 2})
    other = _three_dense()
    load_weights(other, tmp_path / "c.ckpt")
    assert np.array_equal(other.layers[0].W.data, src.layers[0].W.data)


def test_load_weights_from_a_foreign_safetensors_file(tmp_path: pathlib.Path) -> None:
    model = _three_dense()
    arrays = {k: np.full(v.shape, 0.5, dtype=np.float64) for k, v in model.state_dict().items()}
    stn.save_file(arrays, tmp_path / "plain.safetensors")
    load_weights(model, tmp_path / "plain.safetensors")  # float64 cast into float32
    assert all(np.all(p.data == 0.5) and p.data.dtype == np.float32 for p in model.parameters())


def test_weight_mismatch_names_every_tensor(tmp_path: pathlib.Path) -> None:
    src = Sequential(
        [Input(shape=(5,)), Dense(4, name="a"), Dense(3, name="b"), Dense(2, name="x")]
    )
    save_weights(src, tmp_path / "w.safetensors")
    dst = Sequential(
        [Input(shape=(5,)), Dense(4, name="a"), Dense(6, name="b"), Dense(2, name="c")]
    )
    before = [p.data.copy() for p in dst.parameters()]
    with pytest.raises(FileFormatError) as info:
        load_weights(dst, tmp_path / "w.safetensors")
    message = str(info.value)
    assert "w.safetensors" in message
    assert "missing c.W, c.b" in message
    assert "unexpected x.W, x.b" in message
    assert "b.W (expected (6, 4), file (3, 4))" in message
    assert "b.b (expected (6,), file (3,))" in message
    assert message.count("\n") == 0
    # Nothing changed.
    assert all(np.array_equal(a, p.data) for a, p in zip(before, dst.parameters()))
    # strict=False skips missing and unexpected tensors but never a wrong shape.
    with pytest.raises(FileFormatError, match="wrong shape b.W") as info:
        load_weights(dst, tmp_path / "w.safetensors", strict=False)
    assert "missing" not in str(info.value)
    dst2 = Sequential([Input(shape=(5,)), Dense(4, name="a"), Dense(9, name="z")])
    load_weights(dst2, tmp_path / "w.safetensors", strict=False)
    assert np.array_equal(dst2.layers[0].W.data, src.layers[0].W.data)


def test_load_weights_rejects_integer_and_nonfinite_tensors(tmp_path: pathlib.Path) -> None:
    model = Sequential([Input(shape=(2,)), Dense(2, name="a")])
    state = model.state_dict()
    bad = dict(state, **{"a.W": np.ones((2, 2), dtype=np.int64)})
    stn.save_file(bad, tmp_path / "int.safetensors")
    with pytest.raises(FileFormatError, match=r"wrong dtype a\.W \(expected float32, file int64\)"):
        load_weights(model, tmp_path / "int.safetensors")
    nan = dict(state, **{"a.b": np.array([np.nan, 0.0], dtype=np.float32)})
    stn.save_file(nan, tmp_path / "nan.safetensors")
    with pytest.raises(FileFormatError, match=r"NaN or inf in a\.b"):
        load_weights(model, tmp_path / "nan.safetensors")


def test_load_model_requires_exact_dtypes(tmp_path: pathlib.Path) -> None:
    model = Sequential([Input(shape=(2,)), Dense(2, name="a")])
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    meta = _metadata(path)
    tensors = {k: v.astype(np.float64) for k, v in stn.load_file(path).items()}
    path.write_bytes(seal(stn.save(tensors, metadata=meta)))
    with pytest.raises(
        FileFormatError, match=r"wrong dtype a\.W \(expected float32, file float64\)"
    ):
        load_model(path)


def test_metric_objects_are_saved_by_name(tmp_path: pathlib.Path) -> None:
    from glassnet.training import metrics

    model, x, y = _compiled_model()
    model.compile(
        optimizer="sgd",
        loss="sparse_categorical_crossentropy",
        metrics=[metrics.SparseCategoricalAccuracy(name="sparse_categorical_accuracy")],
    )
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.metric_specs == ["sparse_categorical_accuracy"]
    loaded.evaluate(x, y)


def test_header_of_a_saved_file_is_what_the_docs_say(tmp_path: pathlib.Path) -> None:
    model, x, y = _compiled_model()
    save_model(model, tmp_path / "m.safetensors")
    raw = (tmp_path / "m.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__")
    assert set(meta) == {
        "format",
        "format_version",
        "content",
        "glassnet_version",
        "architecture",
        "training_config",
        "optimizer_state",
        "glassnet_checksum",
    }
    training = json.loads(meta["training_config"])
    assert training["loss"] == {"name": "sparse_categorical_crossentropy"}
    assert training["metrics"] == ["accuracy"]
    assert training["optimizer"]["class_name"] == "Adam"
    for entry in header.values():
        assert set(entry) == {"dtype", "shape", "data_offsets"}


# -- regressions for bugs found outside glassnet.io (each failed before its fix) ---------------
def test_model_converted_to_float64_round_trips(tmp_path: pathlib.Path) -> None:
    model = Sequential([Input(shape=(3,)), Dense(4, activation="tanh"), Dense(2)])
    model.to("float64")
    x = _x((5, 3), "float64")
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.dtype == np.float64
    assert np.array_equal(loaded.predict(x), model.predict(x))


def test_load_state_dict_changes_nothing_when_it_refuses() -> None:
    model = Sequential([Input(shape=(2,)), Dense(2, name="a"), Dense(2, name="b")])
    before = [p.data.copy() for p in model.parameters()]
    state = {k: np.full(v.shape, 5.0, np.float32) for k, v in model.state_dict().items()}
    state["b.b"] = np.array([np.nan, 0.0], dtype=np.float32)
    with pytest.raises(GlassnetError):
        model.load_state_dict(state)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))
