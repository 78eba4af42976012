"""Regression tests: each way the fast step once differed from what the user built.

Each test failed on the main branch before the layer protocol (commit 58f0a02); the fast step
now either honours the model exactly or hands it to the graph path.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet import losses


def _mnist(n_train: int = 4000):
    (x, y), (xt, yt) = gn.datasets.load("mnist-5k")
    x = (x.reshape(len(x), -1) / 255.0).astype(np.float32)
    xt = (xt.reshape(len(xt), -1) / 255.0).astype(np.float32)
    return x[:n_train], y[:n_train], xt, yt


def _two_layer(fused: object, loss: object, out_act: str | None = None) -> gn.Sequential:
    gn.seed(0)
    model = gn.Sequential([L.Dense(64, activation="relu", input_dim=784), L.Dense(10, out_act)])
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"], fused=fused)
    return model


def test_a_linear_output_with_from_logits_trains_as_well_as_the_graph():
    x, y, xt, yt = _mnist()
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    results = {}
    for fused in ("auto", False):
        model = _two_layer(fused, loss)
        history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
        first_step = history.telemetry.step_loss[0]
        results[fused] = (first_step, history.history["loss"], model.evaluate(xt, yt)[1])
    # The first step's loss is ≈ ln 10 for small random logits (it was reported as 9.55).
    assert abs(results["auto"][0] - np.log(10)) < 0.3
    assert results["auto"][0] == pytest.approx(results[False][0], rel=1e-5)
    np.testing.assert_allclose(results["auto"][1], results[False][1], rtol=1e-4)
    assert results["auto"][2] > 0.88 and abs(results["auto"][2] - results[False][2]) < 0.01


class DoubledSigmoid(L.Activation):
    """A user's activation that overrides forward: 2σ(z)."""

    def __init__(self, **kwargs):
        super().__init__("sigmoid", **kwargs)

    def forward(self, x):
        return gn.functional.sigmoid(x) * 2.0


def test_an_activation_subclass_that_overrides_forward_is_honoured_everywhere():
    gn.seed(1)
    model = gn.Sequential([L.Dense(4, input_dim=3), DoubledSigmoid(), L.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    with gn.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6, atol=1e-7)
    path, reason = model.fit_path()
    assert path == "graph" and "DoubledSigmoid" in reason and "forward" in reason


def test_a_sequential_subclass_that_overrides_train_step_is_called():
    calls = []

    class Counting(gn.Sequential):
        def train_step(self, xb, yb, record=None):
            calls.append(len(xb))
            return super().train_step(xb, yb, record)

    gn.seed(2)
    model = Counting([L.Dense(3, activation="relu", input_dim=4), L.Dense(2, "softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    model.fit(x, np.arange(20) % 2, epochs=1, batch_size=8, verbose=0)
    assert calls == [8, 8, 4]
    assert model.fit_path()[0] == "graph" and "train_step" in model.fit_path()[1]


@pytest.mark.parametrize("fused", ["auto", False])
@pytest.mark.parametrize("how", ["layer", "parameter"])
def test_frozen_layers_and_parameters_do_not_change(fused, how):
    gn.seed(3)
    model = gn.Sequential(
        [L.Dense(5, activation="tanh", input_dim=4), L.Dense(3, activation="softmax")]
    )
    first = model.layers[0]
    if how == "layer":
        first.trainable = False
        frozen = [first.W, first.b]
    else:
        first.W.requires_grad = False
        frozen = [first.W]
    before = [p.numpy().copy() for p in model.parameters()]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", fused=fused)
    x = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    model.fit(x, np.arange(32) % 3, epochs=2, batch_size=8, verbose=0)
    for p, old in zip(model.parameters(), before):
        if any(p is f for f in frozen):
            np.testing.assert_array_equal(p.numpy(), old)
        else:
            assert not np.array_equal(p.numpy(), old)
    if how == "layer":
        assert model.count_params() == 5 * 4 + 5 + 3 * 5 + 3
        printed: list[str] = []
        model.summary(print_fn=printed.append)
        assert "Non-trainable params: 25" in printed[0]


class OnlyTensorMSE(losses.Loss):
    """A user's loss written only as a tensor expression (no NumPy faces)."""

    name = "only_tensor_mse"

    def tensor(self, y_true, a):
        diff = a - np.asarray(y_true, dtype=a.data.dtype)
        return gn.functional.mean(diff * diff)


def test_a_loss_with_only_a_tensor_form_trains_through_the_graph():
    gn.seed(4)
    model = gn.Sequential([L.Dense(3, activation="tanh", input_dim=2), L.Dense(1)])
    model.compile(optimizer="sgd", loss=OnlyTensorMSE())
    x = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    history = model.fit(x, x[:, :1] * 0.5, epochs=3, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
    path, reason = model.fit_path()
    assert path == "graph" and "only_tensor_mse" in reason


def test_a_subclass_of_a_builtin_loss_that_changes_its_tensor_form_is_honoured():
    class HalfMSE(losses.MeanSquaredError):
        def tensor(self, y_true, a):
            return super().tensor(y_true, a) * 0.5

    x = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    results = []
    for loss in (HalfMSE(), "mse"):
        gn.seed(5)
        model = gn.Sequential([L.Dense(1, input_dim=2)])
        model.compile(optimizer="sgd", loss=loss)
        results.append(model.fit(x, x[:, :1], epochs=1, batch_size=16, verbose=0))
    np.testing.assert_allclose(
        results[0].history["loss"][0], 0.5 * results[1].history["loss"][0], rtol=1e-6
    )


def test_changing_the_dtype_after_a_fit_invalidates_the_fast_step():
    x = np.random.default_rng(0).normal(size=(32, 4))
    y = np.arange(32) % 3
    weights = []
    for fused in ("auto", False):
        gn.seed(6)
        model = gn.Sequential([L.Dense(5, "relu", input_dim=4), L.Dense(3, "softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", fused=fused)
        model.fit(x.astype(np.float32), y, epochs=1, batch_size=8, verbose=0)
        model.to("float64")
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        assert all(p.numpy().dtype == np.float64 for p in model.parameters())
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        assert a.dtype == b.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_evaluate_runs_in_the_numeric_environment_of_fit():
    # val_loss (computed inside fit) and evaluate on the same weights and batches are the same
    # operations in the same order: they must give the same bits.
    x, y, xt, yt = _mnist(1000)
    model = _two_layer("auto", "sparse_categorical_crossentropy", "softmax")
    history = model.fit(x, y, epochs=1, batch_size=32, validation_data=(xt, yt), verbose=0)
    assert model.evaluate(xt, yt, batch_size=32)[0] == history.history["val_loss"][-1]


def test_freezing_a_layer_between_two_fits_keeps_the_optimiser_state_of_the_others():
    x = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    y = np.arange(32) % 3
    gn.seed(7)
    model = gn.Sequential([L.Dense(5, "tanh", input_dim=4), L.Dense(3, "softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    moments = model.optimizer.state_dict()["state.2.exp_avg"].copy()  # the output layer's W
    model.layers[0].trainable = False
    frozen = [p.numpy().copy() for p in model.layers[0].parameters()]
    output_W, output_b = model.layers[1].parameters()
    model.optimizer.rebind([output_W, output_b])  # what the next fit does
    np.testing.assert_array_equal(model.optimizer.state_dict()["state.0.exp_avg"], moments)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for p, old in zip(model.layers[0].parameters(), frozen):
        np.testing.assert_array_equal(p.numpy(), old)
    assert model.optimizer.params == (output_W, output_b)
    assert model.optimizer.iterations == 8


def test_predict_and_evaluate_warn_when_finite_weights_overflow():
    gn.seed(8)
    model = gn.Sequential([L.Dense(4, "relu", input_dim=3), L.Dense(2, "softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    for p in model.parameters():
        p.data[...] = 1e20  # finite, but z = Σ w·a overflows float32 in the second layer
    x = np.ones((5, 3), np.float32)
    with pytest.warns(RuntimeWarning, match="predict: the outputs contain NaN or inf; the weights"):
        model.predict(x)
    with pytest.warns(RuntimeWarning, match="evaluate: the loss or metrics contain NaN or inf"):
        model.evaluate(x, np.zeros(5, int))


def test_an_overflow_in_predict_or_evaluate_is_reported_once_not_twice():
    # glassnet's own warning says where the inf came from; NumPy's "overflow encountered in
    # matmul" must not leak beside it — on one batch, and on the worker pool's threads.
    gn.seed(8)
    model = gn.Sequential([L.Dense(4, "relu", input_dim=3), L.Dense(2, "softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    for p in model.parameters():
        p.data[...] = 1e20
    x = np.ones((64, 3), np.float32)
    for run in (
        lambda: model.predict(x[:5]),
        lambda: model.predict(x, batch_size=4),
        lambda: model.evaluate(x, np.zeros(64, int), batch_size=4),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run()
        messages = [str(w.message) for w in caught]
        assert len(messages) == 1, messages
        assert "contain NaN or inf" in messages[0]


def test_resume_of_a_model_with_a_frozen_layer(tmp_path):
    x = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    y = np.arange(32) % 3

    def build():
        gn.seed(9)
        model = gn.Sequential([L.Dense(5, "tanh", input_dim=4), L.Dense(3, "softmax")])
        model.layers[0].trainable = False
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    whole = build()
    whole.fit(x, y, epochs=2, batch_size=8, verbose=0)
    first = build()
    first.fit(x, y, epochs=1, batch_size=8, verbose=0, checkpoint=tmp_path / "run.ckpt")
    resumed = build()
    resumed.fit(x, y, epochs=2, batch_size=8, verbose=0, resume=tmp_path / "run.ckpt")
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_huge_dense_layer_is_refused_before_allocating_with_its_name():
    with pytest.raises(MemoryError, match=r"big: Dense\(1000000\) on 1000000 inputs"):
        L.Dense(10**6, input_dim=10**6, name="big")
