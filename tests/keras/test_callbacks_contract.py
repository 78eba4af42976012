"""Callbacks keep Keras 3's hook contract: every hook gets a dict, the test and predict hooks
run in evaluate, validation and predict, and the batch hooks see running metrics. The custom
callbacks of the Keras guide "Writing your own callbacks" run unchanged (only the import line
and the data loading differ: a small random stand-in for MNIST)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.keras as keras

# -- the guide's set-up -------------------------------------------------------------------------


def get_model() -> Any:
    model = keras.Sequential()
    model.add(keras.layers.Dense(1))
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
    )
    return model


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stand-in for mnist.load_data() (reshaped to 784 and scaled, as the guide does): digit
    labels 0–9 as an (N,) regression target for a Dense(1) output."""
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(1200, 784)).astype("float32")
    y = rng.integers(0, 10, size=1200)
    return x[:1000], y[:1000], x[1000:], y[1000:]


class CustomCallback(keras.callbacks.Callback):
    """The guide's first callback: it prints the keys of every hook's logs."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, list[str]]] = []

    def _record(self, hook: str, logs: Any) -> None:
        keys = list(logs.keys())  # the guide's line: fails on logs=None
        self.calls.append((hook, keys))
        print(f"{hook}; got log keys: {keys}")

    def on_train_begin(self, logs: Any = None) -> None:
        self._record("on_train_begin", logs)

    def on_train_end(self, logs: Any = None) -> None:
        self._record("on_train_end", logs)

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._record("on_epoch_begin", logs)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self._record("on_epoch_end", logs)

    def on_test_begin(self, logs: Any = None) -> None:
        self._record("on_test_begin", logs)

    def on_test_end(self, logs: Any = None) -> None:
        self._record("on_test_end", logs)

    def on_predict_begin(self, logs: Any = None) -> None:
        self._record("on_predict_begin", logs)

    def on_predict_end(self, logs: Any = None) -> None:
        self._record("on_predict_end", logs)

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self._record("on_train_batch_begin", logs)

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self._record("on_train_batch_end", logs)

    def on_test_batch_begin(self, batch: int, logs: Any = None) -> None:
        self._record("on_test_batch_begin", logs)

    def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
        self._record("on_test_batch_end", logs)

    def on_predict_batch_begin(self, batch: int, logs: Any = None) -> None:
        self._record("on_predict_batch_begin", logs)

    def on_predict_batch_end(self, batch: int, logs: Any = None) -> None:
        self._record("on_predict_batch_end", logs)


class LossAndErrorPrintingCallback(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.train_batches: list[float] = []
        self.test_batches: list[float] = []
        self.epochs: list[tuple[float, float]] = []

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        print(f"Up to batch {batch}, the average loss is {logs['loss']:7.2f}.")
        self.train_batches.append(logs["loss"])

    def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
        print(f"Up to batch {batch}, the average loss is {logs['loss']:7.2f}.")
        self.test_batches.append(logs["loss"])

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        print(
            f"The average loss for epoch {epoch} is {logs['loss']:7.2f} "
            f"and mean absolute error is {logs['mean_absolute_error']:7.2f}."
        )
        self.epochs.append((logs["loss"], logs["mean_absolute_error"]))


class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
    """Stop training when the loss is at its min, i.e. the loss stops decreasing."""

    def __init__(self, patience: int = 0) -> None:
        super().__init__()
        self.patience = patience
        self.best_weights = None

    def on_train_begin(self, logs: Any = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = np.inf

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        current = logs.get("loss")
        if np.less(current, self.best):
            self.best = current
            self.wait = 0
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                print("Restoring model weights from the end of the best epoch.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs: Any = None) -> None:
        if self.stopped_epoch > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class CustomLearningRateScheduler(keras.callbacks.Callback):
    def __init__(self, schedule: Any) -> None:
        super().__init__()
        self.schedule = schedule
        self.rates: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        if not hasattr(self.model.optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        lr = self.model.optimizer.learning_rate
        scheduled_lr = self.schedule(epoch, lr)
        self.model.optimizer.learning_rate = scheduled_lr
        print(f"\nEpoch {epoch}: Learning rate is {float(np.array(scheduled_lr))}.")
        self.rates.append(float(np.array(scheduled_lr)))


LR_SCHEDULE = [(3, 0.05), (6, 0.01), (9, 0.005), (12, 0.001)]


def lr_schedule(epoch: int, lr: float) -> float:
    if epoch < LR_SCHEDULE[0][0] or epoch > LR_SCHEDULE[-1][0]:
        return lr
    for i in range(len(LR_SCHEDULE)):
        if epoch == LR_SCHEDULE[i][0]:
            return LR_SCHEDULE[i][1]
    return lr


# -- the guide, snippet by snippet ----------------------------------------------------------------


def test_guide_custom_callback_sees_every_hook_with_a_dict() -> None:
    x_train, y_train, x_test, y_test = load_data()
    model = get_model()
    cb = CustomCallback()
    model.fit(
        x_train,
        y_train,
        batch_size=128,
        epochs=1,
        verbose=0,
        validation_split=0.5,
        callbacks=[cb],
    )
    hooks = [h for h, _ in cb.calls]
    train_steps, val_steps = -(-500 // 128), -(-500 // 128)
    assert hooks[0] == "on_train_begin" and hooks[1] == "on_epoch_begin"
    assert hooks.count("on_train_batch_begin") == hooks.count("on_train_batch_end") == train_steps
    # fit's validation runs the test hooks, between the last train batch and on_epoch_end
    assert hooks.count("on_test_begin") == hooks.count("on_test_end") == 1
    assert hooks.count("on_test_batch_end") == val_steps
    assert hooks.index("on_test_begin") > max(
        i for i, h in enumerate(hooks) if h == "on_train_batch_end"
    )
    assert hooks[-2:] == ["on_epoch_end", "on_train_end"]
    logs = dict(cb.calls)
    assert logs["on_train_batch_end"] == ["loss", "mean_absolute_error"]
    assert logs["on_test_end"] == ["loss", "mean_absolute_error"]
    assert logs["on_epoch_end"] == [
        "loss",
        "mean_absolute_error",
        "val_loss",
        "val_mean_absolute_error",
    ]
    assert logs["on_train_end"] == logs["on_epoch_end"]  # Keras passes the last epoch's logs

    cb = CustomCallback()
    model.evaluate(x_test, y_test, batch_size=128, verbose=0, callbacks=[cb])
    assert [h for h, _ in cb.calls] == [
        "on_test_begin",
        *["on_test_batch_begin", "on_test_batch_end"] * 2,
        "on_test_end",
    ]
    cb = CustomCallback()
    model.predict(x_test, batch_size=128, callbacks=[cb])
    assert [h for h, _ in cb.calls] == [
        "on_predict_begin",
        *["on_predict_batch_begin", "on_predict_batch_end"] * 2,
        "on_predict_end",
    ]
    assert dict(cb.calls)["on_predict_batch_end"] == ["outputs"]


def test_guide_loss_and_error_printing_callback_sees_running_means() -> None:
    x_train, y_train, x_test, y_test = load_data()
    gn.seed(1)
    model = get_model()
    cb = LossAndErrorPrintingCallback()
    history = model.fit(x_train, y_train, batch_size=128, epochs=2, verbose=0, callbacks=[cb])
    steps = -(-1000 // 128)
    assert len(cb.train_batches) == 2 * steps
    # the last batch's running loss is the epoch's loss, as Keras reports it
    assert cb.train_batches[steps - 1] == pytest.approx(history.history["loss"][0])
    assert cb.epochs[1] == pytest.approx(
        (history.history["loss"][1], history.history["mean_absolute_error"][1])
    )
    res = model.evaluate(x_test, y_test, batch_size=128, verbose=0, callbacks=[cb])
    assert cb.test_batches[-1] == pytest.approx(res[0])
    # the running mean of the batch losses, weighted by batch size, by hand
    pred = model.predict(x_test, batch_size=128)[:, 0]
    per_batch = [
        (((pred[i : i + 128] - y_test[i : i + 128]) ** 2).mean(), len(pred[i : i + 128]))
        for i in range(0, 200, 128)
    ]
    first = per_batch[0][0]
    assert cb.test_batches[-2] == pytest.approx(first, rel=1e-5)


def test_guide_early_stopping_at_min_loss() -> None:
    x_train, y_train, _, _ = load_data()
    gn.seed(2)
    model = get_model()
    stopper = EarlyStoppingAtMinLoss()
    history = model.fit(
        x_train,
        y_train,
        batch_size=64,
        steps_per_epoch=5,
        epochs=30,
        verbose=0,
        callbacks=[LossAndErrorPrintingCallback(), stopper],
    )
    losses = history.history["loss"]
    assert stopper.stopped_epoch == len(losses) - 1  # it stopped training itself
    assert losses[-1] >= min(losses[:-1])  # patience 0: the first epoch that did not improve
    for got, best in zip(model.get_weights(), stopper.best_weights):  # weights restored
        np.testing.assert_array_equal(got, best)


def test_guide_custom_learning_rate_scheduler() -> None:
    x_train, y_train, _, _ = load_data()
    model = get_model()
    scheduler = CustomLearningRateScheduler(lr_schedule)
    model.fit(
        x_train,
        y_train,
        batch_size=64,
        steps_per_epoch=5,
        epochs=15,
        verbose=0,
        callbacks=[LossAndErrorPrintingCallback(), scheduler],
    )
    expected = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.01, 0.01, 0.01, 0.005]
    assert scheduler.rates == pytest.approx(expected + [0.005, 0.005, 0.001, 0.001, 0.001])
    assert float(np.array(model.optimizer.learning_rate)) == pytest.approx(0.001)


def test_steps_per_epoch_streams_through_the_data() -> None:
    """steps_per_epoch=5 of 16 batches: epochs continue where the last one stopped, and every
    sample is seen once in each pass."""
    seen: list[np.ndarray] = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            pass

    x = np.arange(20, dtype=np.float32).reshape(20, 1)
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    original = model.train_step

    def watching(xb: np.ndarray, yb: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        seen.append(xb[:, 0].copy())
        return original(xb, yb, *args, **kwargs)

    model.compile("sgd", "mse", fused=False)
    model.train_step = watching  # type: ignore[method-assign]
    model.fit(x, x, batch_size=6, steps_per_epoch=3, epochs=4, verbose=0, callbacks=[Spy()])
    assert len(seen) == 12
    sizes = [len(b) for b in seen]
    assert sizes == [6, 6, 6, 2] * 3  # passes of 4 batches (the last holds 2), end to end
    for p in range(3):
        assert sorted(np.concatenate(seen[4 * p : 4 * p + 4]).tolist()) == list(range(20))


def test_every_hook_gets_a_dict_from_builtin_entry_points() -> None:
    """No hook ever receives None: a callback that asserts it sees every stage."""

    class Strict(keras.callbacks.Callback):
        def __getattribute__(self, name: str) -> Any:
            attr = super().__getattribute__(name)
            if name.startswith("on_") and callable(attr):

                def checked(*args: Any) -> Any:
                    assert isinstance(args[-1], dict), f"{name} received {args[-1]!r}"
                    return attr(*args)

                return checked
            return attr

        def _wants_batches(self) -> bool:
            return True

    x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    y = x.sum(axis=1)
    model = get_model()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25, callbacks=[Strict()])
    model.evaluate(x, y, callbacks=[Strict()])
    model.predict(x, callbacks=[Strict()])


def test_lambda_callback_accepts_the_train_batch_hooks() -> None:
    ends: list[float] = []
    cb = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: ends.append(logs["loss"])
    )
    x = np.ones((8, 2), dtype="float32")
    model = get_model()
    model.fit(x, x[:, 0], batch_size=4, epochs=1, verbose=0, callbacks=[cb])
    assert len(ends) == 2


def test_evaluate_and_predict_refuse_non_callbacks() -> None:
    model = get_model()
    x = np.ones((4, 2), dtype="float32")
    model.fit(x, x[:, 0], verbose=0)
    with pytest.raises(gn.errors.InvalidArgumentError, match="evaluate: callbacks"):
        model.evaluate(x, x[:, 0], callbacks=["nope"])
    with pytest.raises(gn.errors.InvalidArgumentError, match="predict: callbacks"):
        model.predict(x, callbacks=[object()])
