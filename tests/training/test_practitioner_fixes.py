"""What a practitioner met (issue 19, item 5): layer names in subclassed models, loading a
state dict into lazily built layers, and loading a model compiled with a custom loss."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from _tolerance import assert_close
from glassnet.layers import Dense
from glassnet.training import Model


class TwoLayers(Model):
    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.hidden = Dense(hidden, activation="relu")  # lazily built: no input_dim
        self.out = Dense(3, activation="softmax")

    def forward(self, x):
        return self.out(self.hidden(x))


def test_dense_layers_in_a_subclassed_model_get_unique_names():
    model = TwoLayers()
    assert [model.hidden.name, model.out.name] == ["dense", "dense_1"]
    again = TwoLayers()  # names are per model, as Sequential's
    assert [again.hidden.name, again.out.name] == ["dense", "dense_1"]

    class Blocks(Model):
        def __init__(self) -> None:
            super().__init__()
            self.first = Dense(4, name="encoder")
            self.blocks = [Dense(4), Dense(4), Dense(4)]
            self.first = Dense(4, name="encoder")  # re-assigned: not a clash with itself

        def forward(self, x):
            for layer in [self.first, *self.blocks]:
                x = layer(x)
            return x

    blocks = Blocks()
    assert [b.name for b in blocks.blocks] == ["dense", "dense_1", "dense_2"]
    assert blocks.first.name == "encoder"
    x = np.random.default_rng(0).normal(size=(16, 5)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 3, size=16)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0, telemetry=1)
    stats = history.telemetry.layers
    assert {"dense", "dense_1"} <= set(stats) and all(len(stats[n]["grad_norm"]) for n in stats)


def test_load_state_dict_builds_lazy_layers_from_the_shapes():
    trained = TwoLayers()
    x = np.random.default_rng(2).normal(size=(4, 6)).astype(np.float32)
    expected = trained.predict(x)
    fresh = TwoLayers()  # no call yet: its Dense layers have no W
    assert not fresh.hidden.built
    fresh.load_state_dict(trained.state_dict())
    assert fresh.hidden.W.data.shape == (8, 6)
    np.testing.assert_array_equal(fresh.predict(x), expected)  # same weights, same kernels


def test_load_state_dict_says_what_to_do_when_shapes_cannot_tell():
    fresh = TwoLayers()
    with pytest.raises(gn.errors.ShapeError, match=r"'hidden' \(Dense\) is not built yet"):
        fresh.load_state_dict({"hidden.W": np.zeros((8, 6, 2)), "hidden.b": np.zeros(8)})
    wrong = TwoLayers()
    with pytest.raises(gn.errors.ShapeError, match="unexpected"):
        wrong.load_state_dict({"nothing.W": np.zeros((2, 2))})


class ScaledMSE(gn.losses.Loss):
    """factor · mean (y − a)², a loss of the user's own with a constructor argument."""

    name = "scaled_mse"

    def __init__(self, factor: float = 2.0, from_logits: bool = False) -> None:
        super().__init__(from_logits)
        self.factor = factor

    def tensor(self, y_true, a):
        diff = a - np.asarray(y_true, dtype=a.data.dtype)
        return gn.functional.mean(diff * diff) * self.factor

    def get_config(self):
        return {"factor": self.factor}


def _regression(tmp_path):
    gn.seed(4)
    model = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(2)])
    model.compile(optimizer="sgd", loss=ScaledMSE(factor=3.0))
    x = np.random.default_rng(3).normal(size=(12, 3)).astype(np.float32)
    y = np.random.default_rng(4).normal(size=(12, 2)).astype(np.float32)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    path = tmp_path / "custom.safetensors"
    model.save(path)
    return model, path, x, y


def test_a_custom_loss_loads_through_custom_objects(tmp_path):
    model, path, x, y = _regression(tmp_path)
    loaded = gn.load_model(path, custom_objects={"ScaledMSE": ScaledMSE})
    assert isinstance(loaded.loss, ScaledMSE) and loaded.loss.factor == 3.0
    a = model.predict(x).astype(np.float64)
    expected = 3.0 * np.mean((a - y) ** 2)  # the loss by hand
    assert_close(np.float32(loaded.evaluate(x, y)), np.float32(expected), reduction=24, ulps=8)


def test_a_registered_custom_loss_loads_compiled(tmp_path):
    _, path, x, y = _regression(tmp_path)
    gn.register(ScaledMSE)
    try:
        loaded = gn.load_model(path)
        assert isinstance(loaded.loss, ScaledMSE) and loaded.loss.factor == 3.0
    finally:
        gn.io.unregister(ScaledMSE)


def test_an_unknown_custom_loss_is_one_sentence_naming_it_and_the_fix(tmp_path):
    _, path, _, _ = _regression(tmp_path)
    with pytest.raises(gn.errors.UnknownNameError) as info:
        gn.load_model(path)
    message = str(info.value)
    assert "'ScaledMSE'" in message and "custom_objects=" in message
    assert "@glassnet.register" in message and "compile=False" in message
    assert "\n" not in message
    assert gn.load_model(path, compile=False).compiled is False
    with pytest.raises(gn.errors.InvalidArgumentError, match="custom_objects must be a dict"):
        gn.load_model(path, custom_objects=[ScaledMSE])
