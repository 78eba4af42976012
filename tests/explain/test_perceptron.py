"""Seed 003's perceptron learns AND and OR, and reports that XOR has no linear boundary; a
two-layer network solves XOR."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import InvalidArgumentError, ShapeError
from glassnet.explain import XOR_X, XOR_Y, Perceptron, backprop, xor_network
from glassnet.nn.layers import Dense
from glassnet.optim.optimizers import Adam
from glassnet.training.model import Sequential

AND = np.array([0, 0, 0, 1])
OR = np.array([0, 1, 1, 1])
XOR = np.array([0, 1, 1, 0])


@pytest.mark.parametrize("targets", [AND, OR], ids=["AND", "OR"])
def test_learns_and_and_or(targets: np.ndarray) -> None:
    p = Perceptron(max_epochs=100)
    result = p.fit(XOR_X, targets)
    assert result.converged and result.linearly_separable is True
    assert result.accuracy == 1.0 and result.errors_per_epoch[-1] == 0
    np.testing.assert_array_equal(p.predict(XOR_X), targets)
    # the boundary really separates: w·x + b > 0 exactly on the positive samples
    z = XOR_X @ result.weights + result.bias
    np.testing.assert_array_equal(z > 0, targets == 1)
    assert result.decision_boundary.shape == (3,)
    assert result.boundary_equation().endswith("= 0")
    assert "Converged" in result.message


def test_the_perceptron_rule_step_by_step() -> None:
    # One epoch on AND from zero weights, α = 1: only (1, 1) is misclassified (ŷ = 0, y = 1),
    # so w += (1 − 0)·(1, 1) and b += 1.
    p = Perceptron(max_epochs=1)
    result = p.fit(XOR_X, AND)
    np.testing.assert_array_equal(result.history[0][0], [1.0, 1.0])
    assert result.history[0][1] == 1.0 and result.errors_per_epoch == [1]


def test_refuses_xor_with_a_clear_result() -> None:
    p = Perceptron(max_epochs=30)
    result = p.fit(XOR_X, XOR)  # no exception
    assert not result.converged
    assert result.linearly_separable is False
    assert result.epochs == 30 and result.cycle is not None
    assert result.accuracy < 1.0
    assert "No linear decision boundary exists" in result.message
    assert "xor_network" in result.message
    assert result.decision_boundary.shape == (3,)
    assert "No linear decision boundary" in str(result)


def test_sign_output_and_input_checks() -> None:
    p = Perceptron(output="sign")
    result = p.fit(XOR_X, 2 * AND - 1)
    assert result.converged
    assert set(p.predict(XOR_X).tolist()) == {-1.0, 1.0}
    line = result.boundary_line()
    assert line is not None
    with pytest.raises(InvalidArgumentError, match="targets must be 0 or 1"):
        Perceptron().fit(XOR_X, [0, 1, 2, 1])
    with pytest.raises(ShapeError):
        Perceptron().fit(XOR_X, [0, 1])
    with pytest.raises(InvalidArgumentError):
        Perceptron(output="tanh")
    with pytest.raises(InvalidArgumentError):
        Perceptron(learning_rate=0)


def test_a_hidden_layer_solves_xor() -> None:
    net = xor_network()
    out = net.predict(XOR_X).ravel()
    np.testing.assert_allclose(out, XOR_Y, atol=1e-4)
    trace = backprop(net, XOR_X, XOR_Y, loss="binary_crossentropy")
    trace.check()


def test_glassnet_trains_a_two_layer_network_on_xor() -> None:
    # the example of docs/explain.md
    gn.seed(0)
    model = Sequential([Dense(4, "tanh", input_dim=2), Dense(1, "sigmoid")])
    model.compile(
        optimizer=Adam(learning_rate=0.1), loss="binary_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(XOR_X, XOR_Y[:, None], epochs=300, batch_size=4, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    np.testing.assert_array_equal(model.predict(XOR_X).ravel() > 0.5, XOR_Y == 1)
