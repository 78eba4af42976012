"""The fast step and the autograd graph agree on random configurations (issue: one math).

Every configuration is drawn from a seeded generator: depth 1–4, every activation, every loss
with probabilities and with logits, sparse and one-hot targets, every optimiser, dropout on and
off, float32 and float64, frozen layers, uint8 pixels through Rescaling, 3-D batches through
Flatten. Each is fitted for a few steps through ``fit``'s default path and through
``fused=False`` (the graph); losses and weights must agree within the dtype's tolerance, and
``predict`` must agree with ``model(x)``. The configurations are not chosen by hand: a path that
drifts anywhere in this space fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet import optimizers as O

ACTIVATIONS = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "softplus"]
# (loss, output activation when from probabilities, kind of targets)
LOSSES = [
    ("quadratic", None, "real"),
    ("mse", None, "real"),
    ("mae", None, "real"),
    ("binary_crossentropy", "sigmoid", "binary"),
    ("categorical_crossentropy", "softmax", "onehot"),
    ("sparse_categorical_crossentropy", "softmax", "sparse"),
]
LOGIT_LOSSES = {
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
}
OPTIMIZERS = [
    lambda: O.SGD(learning_rate=0.1),
    lambda: O.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    lambda: O.Adagrad(learning_rate=0.05),
    lambda: O.RMSprop(learning_rate=0.01),
    lambda: O.Adam(learning_rate=0.01),
    lambda: O.AdamW(learning_rate=0.01, weight_decay=0.01),
]
N_CONFIGS = 240
SAMPLES, BATCH = 24, 8


def tolerance(dtype: str) -> dict[str, float]:
    """A few float32 ulps over a handful of steps; about 1e-10 relative in float64."""
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-12}


def draw(index: int) -> dict:
    rng = np.random.default_rng(1000 + index)
    loss, output_act, target = LOSSES[rng.integers(len(LOSSES))]
    logits = loss in LOGIT_LOSSES and bool(rng.integers(2))
    if not logits and output_act is None:
        output_act = str(rng.choice(["linear", "sigmoid", "tanh"]))
    depth = int(rng.integers(1, 5))
    return {
        "index": index,
        "loss": loss,
        "from_logits": logits,
        "output_activation": "linear" if logits else output_act,
        "separate_output_activation": bool(rng.integers(4) == 0),
        "target": target,
        "classes": int(rng.integers(2, 5)) if target != "real" else int(rng.integers(1, 4)),
        "hidden": [
            (int(rng.integers(2, 7)), str(rng.choice(ACTIVATIONS))) for _ in range(depth - 1)
        ],
        "dropout": [bool(rng.integers(3) == 0) for _ in range(depth - 1)],
        # at least one trainable layer (fit refuses a model with nothing to train)
        "frozen": [bool(rng.integers(5) == 0) for _ in range(depth - 1)] + [False],
        "optimizer": int(rng.integers(len(OPTIMIZERS))),
        "dtype": str(rng.choice(["float32", "float64"])),
        "input": str(rng.choice(["flat", "image", "pixels"])),
    }


def data(config: dict) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(config["index"])
    if config["input"] == "pixels":
        x = rng.integers(0, 256, size=(SAMPLES, 3, 2), dtype=np.uint8)
    elif config["input"] == "image":
        x = rng.normal(size=(SAMPLES, 3, 2)).astype(config["dtype"])
    else:
        x = rng.normal(size=(SAMPLES, 5)).astype(config["dtype"])
    k = config["classes"]
    if config["target"] == "sparse":
        y = rng.integers(0, k, size=SAMPLES)
    elif config["target"] == "onehot":
        y = np.eye(k)[rng.integers(0, k, size=SAMPLES)]
    elif config["target"] == "binary":
        y = rng.integers(0, 2, size=(SAMPLES, k)).astype(float)
    else:
        y = rng.normal(size=(SAMPLES, k))
    return x, y


def build(config: dict, fused: object) -> gn.Sequential:
    gn.seed(config["index"])
    dt = config["dtype"]
    layers: list = []
    if config["input"] == "pixels":
        layers += [L.Rescaling(1 / 255, input_shape=(3, 2), dtype=dt), L.Flatten()]
    elif config["input"] == "image":
        layers += [L.Flatten(input_shape=(3, 2))]
    else:
        layers += [L.Input(shape=(5,))]
    for (units, act), drop in zip(config["hidden"], config["dropout"]):
        layers.append(L.Dense(units, activation=act, dtype=dt))
        if drop:
            layers.append(L.Dropout(0.25))
    out_act = config["output_activation"]
    if config["separate_output_activation"]:
        layers += [L.Dense(config["classes"], dtype=dt), L.Activation(out_act, dtype=dt)]
    else:
        layers.append(L.Dense(config["classes"], activation=out_act, dtype=dt))
    model = gn.Sequential(layers)
    dense = [layer for layer in model.layers if isinstance(layer, L.Dense)]
    for layer, frozen in zip(dense, config["frozen"]):
        layer.trainable = not frozen
    loss = gn.losses.get({"name": config["loss"], "from_logits": config["from_logits"]})
    metric = "mae" if config["target"] == "real" else "accuracy"
    model.compile(
        optimizer=OPTIMIZERS[config["optimizer"]](), loss=loss, metrics=[metric], fused=fused
    )
    return model


def fit(config: dict, fused: object) -> tuple[gn.Sequential, list[float], list[np.ndarray]]:
    x, y = data(config)
    model = build(config, fused)
    history = model.fit(x, y, epochs=2, batch_size=BATCH, verbose=0, telemetry=False)
    return model, history.history["loss"], [w.copy() for w in model.get_weights()]


@pytest.mark.parametrize("index", range(N_CONFIGS))
def test_fast_step_equals_the_graph_on_random_configurations(index):
    config = draw(index)
    fast_model, fast_loss, fast_weights = fit(config, "auto")
    graph_model, graph_loss, graph_weights = fit(config, False)
    assert fast_model.fit_path()[0] == "fast", fast_model.fit_path()
    assert graph_model.fit_path()[0] == "graph"
    tol = tolerance(config["dtype"])
    np.testing.assert_allclose(fast_loss, graph_loss, **tol, err_msg=str(config))
    for a, b in zip(fast_weights, graph_weights):
        np.testing.assert_allclose(a, b, **tol, err_msg=str(config))


@pytest.mark.parametrize("index", range(0, N_CONFIGS, 4))
def test_predict_and_evaluate_equal_the_graph_forward(index):
    config = draw(index)
    x, y = data(config)
    model = build(config, "auto")
    with gn.no_grad():
        model.eval()
        expected = model(x).numpy()
        model.train()
    tol = tolerance(config["dtype"])
    np.testing.assert_allclose(model.predict(x, batch_size=5), expected, **tol)
    assert model.training, "predict must not change the model's train/eval mode"
    graph = build(config, False)
    np.testing.assert_allclose(model.evaluate(x, y), graph.evaluate(x, y), **tol)


def test_the_configurations_cover_the_space():
    configs = [draw(i) for i in range(N_CONFIGS)]
    assert {c["loss"] for c in configs} == {loss for loss, _, _ in LOSSES}
    assert {c["dtype"] for c in configs} == {"float32", "float64"}
    assert {c["optimizer"] for c in configs} == set(range(len(OPTIMIZERS)))
    assert {len(c["hidden"]) + 1 for c in configs} == {1, 2, 3, 4}
    assert sum(c["from_logits"] for c in configs) >= 30
    assert any(any(c["frozen"]) for c in configs) and any(any(c["dropout"]) for c in configs)
    used = {act for c in configs for _, act in c["hidden"]}
    assert used == set(ACTIVATIONS)
