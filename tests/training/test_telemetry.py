"""Telemetry recorded during fit: right values, same on the fused and the graph path."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense, Flatten
from glassnet.training import Sequential


def _model(fused, activation="tanh", bias=0.0):
    gn.seed(1)
    model = Sequential(
        [
            Flatten(input_shape=(8, 8)),
            Dense(16, activation=activation, dtype="float64", bias_initializer=bias),
            Dense(10, activation="softmax", dtype="float64"),
        ]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", fused=fused)
    return model


def test_telemetry_is_the_same_on_the_fused_and_graph_paths(digits):
    x, y, _, _ = digits
    runs = []
    for fused in (True, False):
        model = _model(fused)
        h = model.fit(
            x[:320].astype(np.float64), y[:320], epochs=2, batch_size=32, verbose=0, telemetry=4
        )
        runs.append(h.telemetry)
    a, b = runs
    assert a.sample_steps == b.sample_steps == [0, 4, 8, 10, 12, 16]
    assert list(a.layers) == ["dense", "dense_1"]
    for name in a.layers:
        for stat, values in a.layers[name].items():
            np.testing.assert_allclose(
                values, b.layers[name][stat], rtol=1e-9, equal_nan=True, err_msg=f"{name}.{stat}"
            )
    np.testing.assert_allclose(a.step_loss, b.step_loss, rtol=1e-12)
    assert len(a.step_loss) == 20 and a.step_learning_rate == [0.01] * 20


def test_telemetry_values_match_their_definitions(digits):
    """Recompute one sample's statistics by hand from the model at that step."""
    x, y, _, _ = digits
    x = x[:32].astype(np.float64)
    model = _model(True)
    W1, b1 = model.layers[1].W.numpy().copy(), model.layers[1].b.numpy().copy()
    W2, b2 = model.layers[2].W.numpy().copy(), model.layers[2].b.numpy().copy()
    h = model.fit(x, y[:32], epochs=1, batch_size=32, shuffle=False, verbose=0)
    t = h.telemetry
    a0 = x.reshape(32, -1)
    z1 = a0 @ W1.T + b1
    a1 = np.tanh(z1)
    z2 = a1 @ W2.T + b2
    p = np.exp(z2 - z2.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    delta2 = p - np.eye(10)[y[:32]]  # BP1, per sample
    delta1 = (delta2 @ W2) * (1 - a1**2)  # BP2
    grad_W1 = delta1.T @ a0 / 32  # BP4, batch mean
    stats = t.layers["dense"]
    assert stats["mean_abs_delta"][0] == pytest.approx(np.abs(delta1).mean(), rel=1e-10)
    assert stats["grad_norm"][0] == pytest.approx(np.linalg.norm(grad_W1), rel=1e-10)
    assert stats["weight_norm"][0] == pytest.approx(np.linalg.norm(W1), rel=1e-10)
    assert stats["grad_update_ratio"][0] == pytest.approx(
        0.01 * np.linalg.norm(grad_W1) / np.linalg.norm(W1), rel=1e-10
    )
    # plain SGD: the actual update is exactly α·∂C/∂W
    assert stats["update_ratio"][0] == pytest.approx(stats["grad_update_ratio"][0], rel=1e-6)
    prime = 1 - a1**2
    assert stats["saturated_fraction"][0] == pytest.approx((prime < 0.05).mean())
    assert math.isnan(stats["dead_fraction"][0])
    assert stats["activation_mean"][0] == pytest.approx(a1.mean(), rel=1e-10)
    assert t.inputs["max_abs"][0] == pytest.approx(np.abs(a0).max())


def test_dead_relus_are_counted(digits):
    x, y, _, _ = digits
    model = _model(True, activation="relu", bias=-50.0)
    h = model.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0)
    assert h.telemetry.layers["dense"]["dead_fraction"][0] == 1.0


def test_telemetry_exports_and_can_be_switched_off(digits, tmp_path):
    x, y, _, _ = digits
    model = _model(True)
    h = model.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0)
    data = json.loads(h.telemetry.to_json(tmp_path / "t.json"))
    assert data["layers"]["dense"]["info"] == {"activation": "tanh", "units": 16, "inputs": 64}
    csv_text = h.telemetry.to_csv(tmp_path / "t.csv")
    assert csv_text.splitlines()[0].startswith("step,epoch,layer,mean_abs_delta")
    assert (tmp_path / "t.csv").read_text() == csv_text
    off = model.fit(x[:64], y[:64], epochs=1, verbose=0, telemetry=False)
    assert off.telemetry is None


@pytest.mark.parametrize("fused", [True, False])
def test_input_statistics_of_uint8_pixels(fused):
    # Regression: on the graph path the first Dense receives the uint8 batch itself, and the
    # input std came out 0.0 (Σx² computed by np.dot in uint8 wrapped around).
    x = np.random.default_rng(0).integers(0, 256, size=(64, 20), dtype=np.uint8)
    y = np.random.default_rng(1).integers(0, 2, size=64)
    gn.seed(0)
    model = gn.Sequential(
        [
            gn.layers.Dense(4, activation="relu", input_dim=20),
            gn.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", fused=fused)
    history = model.fit(x, y, epochs=1, batch_size=64, verbose=0, telemetry=1)
    inputs = history.telemetry.inputs
    np.testing.assert_allclose(inputs["mean"], [x.mean()], rtol=1e-6)
    np.testing.assert_allclose(inputs["std"], [x.astype(float).std()], rtol=1e-6)
    assert inputs["max_abs"] == [255.0]
