"""Keras callbacks: EarlyStopping, ModelCheckpoint, LearningRateScheduler, ReduceLROnPlateau,
CSVLogger, LambdaCallback; and the metrics they read."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from glassnet.layers import Dense


def _model(lr=0.05, optimizer="sgd"):
    gn.seed(0)
    model = gn.Sequential(
        [Dense(8, activation="tanh", input_dim=4), Dense(3, activation="softmax")]
    )
    opt = gn.optimizers.get(optimizer)
    opt.learning_rate = lr
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def iris():
    (x, y), (xt, yt) = gn.datasets.load("iris")
    mean, std = x.mean(0), x.std(0)
    return (x - mean) / std, y, (xt - mean) / std, yt


class _ValLoss(Callback):
    """Replaces val_loss by a scripted sequence (so the test controls improvement)."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


def test_early_stopping_stops_after_patience_and_restores_best_weights(iris):
    x, y, xt, yt = iris
    model = _model()
    snapshots = []
    keep = LambdaCallback(on_epoch_end=lambda e, logs: snapshots.append(model.get_weights()))
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    scripted = _ValLoss([1.0, 0.5, 0.6, 0.7, 0.2, 0.1])
    history = model.fit(x, y, epochs=6, verbose=0, callbacks=[scripted, keep, stopper])
    assert history.epoch == [0, 1, 2, 3]  # best at epoch 1, no improvement for 2 epochs
    assert "early stopping" in history.stopped_reason and "val_loss" in history.stopped_reason
    for a, b in zip(model.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_min_delta_and_max_mode(iris):
    x, y, _, _ = iris
    model = _model()
    stopper = EarlyStopping(monitor="accuracy", patience=0, min_delta=1.0)
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[stopper])
    assert stopper.mode == "max"
    assert history.epoch == [0, 1]  # no accuracy gain can exceed min_delta=1.0


def test_model_checkpoint_save_best_only(iris, tmp_path):
    x, y, _, _ = iris
    model = _model()
    path = tmp_path / "best-{epoch:02d}.safetensors"
    saver = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    model.fit(x, y, epochs=5, verbose=0, callbacks=[_ValLoss([0.9, 0.5, 0.7, 0.4, 0.8]), saver])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best-01.safetensors",
        "best-02.safetensors",
        "best-04.safetensors",
    ]
    loaded = gn.load_model(tmp_path / "best-04.safetensors")
    assert loaded.count_params() == model.count_params()


def test_model_checkpoint_rejects_unknown_placeholder(iris, tmp_path):
    x, y, _, _ = iris
    model = _model()
    saver = ModelCheckpoint(tmp_path / "m-{val_acc}.safetensors", save_best_only=False)
    with pytest.raises(gn.errors.InvalidArgumentError, match="val_acc"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[saver])


def test_learning_rate_scheduler_sets_each_epoch(iris):
    x, y, _, _ = iris
    model = _model(lr=0.1)
    seen = []
    spy = LambdaCallback(
        on_epoch_end=lambda e, logs: seen.append(model.optimizer.last_learning_rate)
    )
    scheduler = LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5**epoch)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[scheduler, spy])
    assert seen == [0.1, 0.05, 0.025]
    assert history.history["learning_rate"] == [0.1, 0.05, 0.025]


def test_reduce_lr_on_plateau_multiplies_by_factor(iris):
    x, y, _, _ = iris
    model = _model(lr=0.1)
    reducer = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=0.0)
    model.fit(x, y, epochs=5, verbose=0, callbacks=[_ValLoss([1.0, 1.0, 1.0, 0.5, 0.5]), reducer])
    # plateaus at epochs 1, 2 (→ 0.05, then 0.025), improvement at 3, plateau at 4 (→ 0.0125)
    assert model.optimizer.learning_rate == pytest.approx(0.0125)


def test_csv_logger_writes_one_row_per_epoch(iris, tmp_path):
    x, y, xt, yt = iris
    model = _model()
    path = tmp_path / "log.csv"
    history = model.fit(
        x, y, epochs=3, verbose=0, validation_data=(xt, yt), callbacks=[CSVLogger(path)]
    )
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"}
    np.testing.assert_allclose(
        [float(r["val_loss"]) for r in rows], history.history["val_loss"], rtol=1e-12
    )
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        assert len(list(csv.DictReader(f))) == 4


def test_lambda_callback_batch_hooks_and_stop_training(iris):
    x, y, _, _ = iris
    model = _model()
    batches = []

    def on_batch_end(batch, logs):
        batches.append((batch, round(logs["loss"], 6)))
        if len(batches) == 5:
            model.stop_training = True

    history = model.fit(
        x,
        y,
        epochs=3,
        batch_size=16,
        verbose=0,
        callbacks=[LambdaCallback(on_batch_end=on_batch_end)],
    )
    assert [b for b, _ in batches] == [0, 1, 2, 3, 4]
    assert history.epoch == [0] and history.stopped_reason == "stop_training was set"


def test_callbacks_must_be_callbacks(iris):
    x, y, _, _ = iris
    with pytest.raises(gn.errors.InvalidArgumentError, match="Callback"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[lambda: None])


def test_metrics_top_k_mae_mse():
    from glassnet.metrics import get

    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5]])
    labels = np.array([2, 1, 0])
    top2 = get("sparse_top_k_categorical_accuracy")
    top2.k = 2
    top2.update(labels, probs)
    assert top2.result() == pytest.approx(1 / 3)  # only sample 0 has its label in its top 2
    top1 = get("accuracy", gn.losses.get("sparse_categorical_crossentropy"))
    top1.update(labels, probs)
    assert top1.result() == 0.0
    mae, mse = get("mae"), get("mse")
    mae.update(np.array([[1.0], [2.0]]), np.array([[1.5], [1.0]]))
    mse.update(np.array([[1.0], [2.0]]), np.array([[1.5], [1.0]]))
    assert mae.result() == pytest.approx(0.75) and mse.result() == pytest.approx(0.625)
    binary = get("accuracy", gn.losses.get("binary_crossentropy"))
    binary.update(np.array([[1.0], [0.0]]), np.array([[0.7], [0.6]]))
    assert binary.result() == 0.5
