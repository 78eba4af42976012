"""Keras's metrics (MAE, MAPE, Precision, Recall, AUC, the confusion counts) against
scikit-learn on random data; plain functions as losses and metrics; targets (N,) against
outputs (N, 1), whose loss equals the (N, 1) case."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.keras as keras
from glassnet.keras import ops

sk = pytest.importorskip("sklearn.metrics")


def _binary(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, size=n), 0, 1).astype(np.float32)
    return y, p


def _fed_in_batches(metric: Any, y: np.ndarray, p: np.ndarray, size: int = 37) -> Any:
    metric.reset()
    for i in range(0, len(y), size):
        metric.update(y[i : i + size], p[i : i + size])
    return metric.result()


@pytest.mark.parametrize("seed", range(5))
def test_confusion_metrics_match_sklearn(seed: int) -> None:
    y, p = _binary(seed)
    predicted = (p > 0.5).astype(int)
    tn, fp, fn, tp = sk.confusion_matrix(y, predicted, labels=[0, 1]).ravel()
    assert _fed_in_batches(keras.metrics.TruePositives(), y, p) == tp
    assert _fed_in_batches(keras.metrics.FalsePositives(), y, p) == fp
    assert _fed_in_batches(keras.metrics.TrueNegatives(), y, p) == tn
    assert _fed_in_batches(keras.metrics.FalseNegatives(), y, p) == fn
    assert _fed_in_batches(keras.metrics.Precision(), y, p) == pytest.approx(
        sk.precision_score(y, predicted), abs=1e-12
    )
    assert _fed_in_batches(keras.metrics.Recall(), y, p) == pytest.approx(
        sk.recall_score(y, predicted), abs=1e-12
    )
    # another threshold, given as Keras does
    at = keras.metrics.Precision(thresholds=0.7)
    assert _fed_in_batches(at, y, p) == pytest.approx(
        sk.precision_score(y, (p > 0.7).astype(int)), abs=1e-12
    )


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_sklearn(seed: int) -> None:
    """Predictions in distinct bins of Keras's 200 thresholds: the thresholded ROC holds
    every point of the exact one, so the trapezoids equal scikit-learn's area exactly;
    arbitrary predictions agree to the grid's resolution."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=150)
    bins = rng.choice(199, size=150, replace=False)
    p = ((bins + 0.5) / 199).astype(np.float64)
    assert _fed_in_batches(keras.metrics.AUC(), y, p) == pytest.approx(
        sk.roc_auc_score(y, p), abs=1e-12
    )
    y2, p2 = _binary(seed + 10)
    assert abs(_fed_in_batches(keras.metrics.AUC(), y2, p2) - sk.roc_auc_score(y2, p2)) < 0.01


@pytest.mark.parametrize("seed", range(3))
def test_regression_metrics_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.uniform(0.5, 3.0, size=(120, 2)) * rng.choice([-1, 1], size=(120, 2))
    p = y + rng.normal(scale=0.3, size=y.shape)
    mae = _fed_in_batches(keras.metrics.MeanAbsoluteError(), y, p)
    assert mae == pytest.approx(sk.mean_absolute_error(y, p), rel=1e-12)
    mape = _fed_in_batches(keras.metrics.MeanAbsolutePercentageError(), y, p)
    assert mape == pytest.approx(100 * sk.mean_absolute_percentage_error(y, p), rel=1e-12)


def test_string_names_in_compile_and_logs() -> None:
    gn.seed(0)
    y, _ = _binary(7, 200)
    x = np.random.default_rng(1).normal(size=(200, 4)).astype("float32") + y[:, None]
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1, activation="sigmoid")])
    names = ["precision", "recall", "auc", "true_positives", "false_positives",
             "true_negatives", "false_negatives", "mae", "mape"]  # fmt: skip
    model.compile("adam", "binary_crossentropy", metrics=names)
    history = model.fit(x, y, epochs=1, verbose=0)
    assert list(history.history) == ["loss", *names]
    result = model.evaluate(x, y, return_dict=True, batch_size=64)
    p = model.predict(x)[:, 0]
    predicted = (p > 0.5).astype(int)
    assert result["precision"] == pytest.approx(sk.precision_score(y, predicted))
    assert result["recall"] == pytest.approx(sk.recall_score(y, predicted))
    tn, fp, fn, tp = sk.confusion_matrix(y, predicted, labels=[0, 1]).ravel()
    assert (result["true_positives"], result["false_positives"]) == (tp, fp)
    assert (result["true_negatives"], result["false_negatives"]) == (tn, fn)
    assert abs(result["auc"] - sk.roc_auc_score(y, p)) < 0.01
    assert result["mae"] == pytest.approx(sk.mean_absolute_error(y, p), rel=1e-5)


def test_plain_functions_as_loss_and_metric() -> None:
    """f(y_true, y_pred) in compile: the loss trains through the graph and equals the
    built-in mse; the metric is the running mean of what the function returns."""

    def my_mse(y_true: Any, y_pred: Any) -> Any:
        return ops.mean(ops.square(ops.subtract(y_pred, y_true)), axis=-1)

    def max_error(y_true: Any, y_pred: Any) -> Any:
        return ops.max(ops.abs(ops.subtract(y_pred, y_true)), axis=-1)

    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x @ np.array([[1.0], [2.0], [-1.0]])).astype("float32")

    def build() -> Any:
        gn.seed(3)
        return keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])

    custom, builtin = build(), build()
    custom.compile(keras.optimizers.SGD(0.05), loss=my_mse, metrics=[max_error])
    builtin.compile(keras.optimizers.SGD(0.05), loss="mse", fused=False)
    assert custom.fit_path()[0] == "graph"
    h1 = custom.fit(x, y, epochs=3, batch_size=16, verbose=0, shuffle=False)
    h2 = builtin.fit(x, y, epochs=3, batch_size=16, verbose=0, shuffle=False)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-6)
    assert "max_error" in h1.history
    pred = custom.predict(x)
    result = custom.evaluate(x, y, return_dict=True)
    assert result["max_error"] == pytest.approx(np.abs(pred - y).max(axis=1).mean(), rel=1e-5)


@pytest.mark.parametrize(
    "loss, activation, target",
    [
        ("mse", None, "real"),
        ("mae", None, "real"),
        ("binary_crossentropy", "sigmoid", "binary"),
        ("binary_crossentropy", "sigmoid", "soft"),
    ],
)
@pytest.mark.parametrize("fused", ["auto", False])
def test_targets_n_against_outputs_n1(loss: str, activation: Any, target: str, fused: Any) -> None:
    """Keras reshapes targets (N,) to the outputs (N, 1): the same loss, the same training."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(48, 3)).astype("float32")
    y = {
        "real": x.sum(axis=1),
        "binary": (x.sum(axis=1) > 0).astype("float32"),
        "soft": rng.uniform(size=48).astype("float32"),
    }[target]
    runs = []
    for targets in (y, y[:, None]):
        gn.seed(5)
        model = gn.Sequential([gn.layers.Dense(1, activation=activation, input_dim=3)])
        model.compile("sgd", loss, fused=fused)
        history = model.fit(x, targets, epochs=2, batch_size=16, verbose=0, shuffle=False)
        runs.append((history.history["loss"], model.evaluate(x, targets), model.get_weights()))
    (h1, e1, w1), (h2, e2, w2) = runs
    assert h1 == h2 and e1 == e2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    # and the loss is the formula on the (N, 1) case, by hand
    out = model.predict(x)[:, 0].astype(np.float64)
    if loss == "mse":
        expected = np.mean((out - y) ** 2)
    elif loss == "mae":
        expected = np.mean(np.abs(out - y))
    else:
        p = np.clip(out, 1e-7, 1 - 1e-7)
        expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert e1 == pytest.approx(expected, rel=1e-5)


def test_targets_of_another_shape_are_still_refused() -> None:
    model = gn.Sequential([gn.layers.Dense(2, input_dim=3)])
    model.compile("sgd", "mse")
    with pytest.raises(gn.errors.ShapeError, match="y_true has shape"):
        model.fit(np.ones((4, 3), "float32"), np.ones(4, "float32"), verbose=0)


# -- the guide "Training & evaluation with the built-in methods": custom losses and metrics ----


def custom_mean_squared_error(y_true: Any, y_pred: Any) -> Any:
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor: float = 0.1, name: str = "custom_mse") -> None:
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true: Any, y_pred: Any) -> Any:
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor


class CategoricalTruePositives(keras.metrics.Metric):
    def __init__(self, name: str = "categorical_true_positives", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self) -> Any:
        return self.true_positives

    def reset_state(self) -> None:
        self.true_positives.assign(0.0)


def _guide_model() -> Any:
    gn.seed(11)
    return keras.Sequential(
        [
            keras.Input(shape=(784,)),
            keras.layers.Dense(64, activation="relu", name="dense_1"),
            keras.layers.Dense(10, activation="softmax", name="predictions"),
        ]
    )


def _digits() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(12)
    return rng.uniform(size=(256, 784)).astype("float32"), rng.integers(0, 10, size=256)


def test_guide_custom_function_and_loss_class() -> None:
    x, y = _digits()
    y_one_hot = keras.utils.to_categorical(y, num_classes=10)
    for loss in (custom_mean_squared_error, CustomMSE()):
        model = _guide_model()
        model.compile(optimizer=keras.optimizers.Adam(), loss=loss)
        history = model.fit(x, y_one_hot, batch_size=64, epochs=1, verbose=0)
        probs = model.predict(x)
        expected = np.mean(((y_one_hot - probs) ** 2).mean(axis=1))
        if isinstance(loss, CustomMSE):
            expected += 0.1 * np.mean(((0.5 - probs) ** 2).mean(axis=1))
        assert model.evaluate(x, y_one_hot) == pytest.approx(expected, rel=1e-5)
        assert np.isfinite(history.history["loss"][0])


def test_guide_custom_metric_class() -> None:
    x, y = _digits()
    model = _guide_model()
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[CategoricalTruePositives()],
    )
    y = y[:, None]  # labels as a column, as the metric's (N, 1) comparison expects
    history = model.fit(x, y, batch_size=64, epochs=3, verbose=0)
    counts = history.history["categorical_true_positives"]
    assert len(counts) == 3 and all(0 <= c <= 256 for c in counts)
    # reset at each evaluation: the count of right answers on the data, by hand
    result = model.evaluate(x, y, return_dict=True)
    hits = (model.predict(x).argmax(axis=1) == y[:, 0]).sum()
    assert result["categorical_true_positives"] == hits


def test_keras_metric_classes_log_under_keras_names() -> None:
    x = np.random.default_rng(13).normal(size=(40, 3)).astype("float32")
    y = (x[:, 0] > 0).astype(int)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2, "softmax")])
    model.compile(
        "adam",
        keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    history = model.fit(x, y, epochs=1, verbose=0)
    assert list(history.history) == ["loss", "sparse_categorical_accuracy"]
    result = model.evaluate(x, y, return_dict=True)
    hits = (model.predict(x).argmax(axis=1) == y).mean()
    assert result["sparse_categorical_accuracy"] == pytest.approx(hits)
    regression = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    regression.compile("sgd", "mse", metrics=[keras.metrics.MeanAbsoluteError()])
    history = regression.fit(x, x[:, 0], epochs=1, verbose=0)
    assert list(history.history) == ["loss", "mean_absolute_error"]
