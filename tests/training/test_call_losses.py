"""``model(x)`` clears the terms ``add_loss`` recorded in the previous pass (Keras's rule) without
walking every module when no module holds any: the walk was most of a one-sample call."""

from __future__ import annotations

import numpy as np

import glassnet as gn
from glassnet import layers as L
from glassnet.nn.module import Module


class Penalised(L.Layer):
    """The identity that adds mean(x²) to the cost at each call while ``penalise`` is set
    (through the graph path)."""

    penalise = True

    def forward(self, x):
        if self.penalise:
            self.add_loss((x * x).mean())
        return x


def _count_walks(monkeypatch) -> list[int]:
    walks: list[int] = []
    original = Module.modules

    def counting(self):
        walks.append(1)
        return original(self)

    monkeypatch.setattr(Module, "modules", counting)
    return walks


def test_a_call_walks_no_module_when_none_holds_a_loss(monkeypatch):
    model = gn.Sequential([L.Input(shape=(3,)), L.Dense(4, activation="relu"), L.Dense(2)])
    x = np.ones((2, 3), "float32")
    with gn.no_grad():
        model(x)  # whatever an earlier test left: cleared here
        walks = _count_walks(monkeypatch)
        model(x)
    model(x)  # the graph path too
    assert walks == [], "model(x) walked the modules though no add_loss term exists"


def test_terms_are_cleared_at_each_call_and_one_pass_keeps_its_own():
    model = gn.Sequential([L.Input(shape=(3,)), Penalised(), L.Dense(2)])
    x = np.full((2, 3), 2.0, "float32")
    model(x)
    model(x)
    assert len(model.losses) == 1, "the previous pass's term must be cleared"
    np.testing.assert_allclose(float(model.losses[0].data), 4.0)


def test_a_stale_term_of_a_layer_added_later_is_cleared():
    """A layer that recorded a term on its own, then joins a model: the model's next call
    clears it, as the walk over every module did."""
    layer = Penalised()
    layer(np.ones((1, 3), "float32"))
    assert len(layer.losses) == 1
    layer.penalise = False
    model = gn.Sequential([L.Input(shape=(3,)), L.Dense(3)])
    model.add(layer)
    with gn.no_grad():
        model(np.ones((1, 3), "float32"))
    assert model.losses == [] and layer.losses == []


def test_keras_layers_add_loss_is_cleared_too():
    keras = gn.keras

    class Activity(keras.layers.Layer):
        def call(self, inputs):
            self.add_loss(keras.ops.sum(inputs * 0.5))
            return inputs

    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, keras.layers.Dense(2)(Activity()(inputs)))
    x = np.ones((1, 2), "float32")
    model(x)
    model(x)
    assert len(model.losses) == 1
    with gn.no_grad():
        model(x)
    assert len(model.losses) == 1, "one term: this pass's"
