"""fit's loop: epochs of mini-batch steps, with callbacks, telemetry, validation and checkpoints.

``FitLoop`` owns the state of one call to ``fit`` — where it is (epoch, step, global step), the
running loss and metrics of the epoch, the History — and nothing about the model's math: each
step is ``step_fn(xb, yb)``, the fast step or ``Model.train_step`` as ``Model.fit`` chose. A
checkpoint records exactly that state, so a resumed run continues where it stopped and, seeded,
gives the uninterrupted run's bits.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _rng
from ..i18n import N_, t
from .callbacks import Callback, CallbackList, History
from .epochs import EpochIterator
from .metrics import Metric
from .progress import Progress
from .step import StepResult
from .telemetry import Telemetry

__all__ = ["FitLoop", "register_default_doctor", "default_doctor"]

# Set by glassnet.diagnostics when it is imported (training must not import diagnostics): the
# factory fit uses for doctor=True.
_DOCTOR_FACTORY: Callable[[], Callback] | None = None


def register_default_doctor(factory: Callable[[], Callback]) -> None:
    """Make ``factory()`` the callback that ``fit(doctor=True)`` adds (the diagnostics do)."""
    global _DOCTOR_FACTORY
    _DOCTOR_FACTORY = factory


def default_doctor() -> Callback | None:
    """A new default doctor, or None when no diagnostics are loaded."""
    return _DOCTOR_FACTORY() if _DOCTOR_FACTORY is not None else None


class _EpochTotals:
    """The running loss and metrics of the epoch under way (a checkpoint saves them)."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics
        self.loss_total = 0.0
        self.seen = 0
        for m in metrics:
            m.reset()

    def add(self, loss: float, yb: np.ndarray, outputs: np.ndarray | None) -> dict[str, Any]:
        self.loss_total += loss * len(yb)
        self.seen += len(yb)
        logs: dict[str, Any] = {"loss": self.loss_total / self.seen}
        if self.metrics and outputs is not None:
            for m in self.metrics:
                m.update(yb, outputs)
                logs[m.name] = m.result()
        return logs

    def logs(self) -> dict[str, Any]:
        logs: dict[str, Any] = {"loss": self.loss_total / max(self.seen, 1)}
        for m in self.metrics:
            logs[m.name] = m.result()
        return logs

    def state(self) -> dict[str, Any]:
        return {
            "loss_total": self.loss_total,
            "seen": self.seen,
            "metrics": [[m.total, m.count] for m in self.metrics],
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.loss_total, self.seen = float(state["loss_total"]), int(state["seen"])
        for m, (total, count) in zip(self.metrics, state["metrics"]):
            m.total, m.count = float(total), int(count)


class FitLoop:
    """One call to ``fit``: ``run()`` trains and returns the History."""

    def __init__(
        self,
        model: Any,
        data: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
        epochs: EpochIterator,
        step_fn: Callable[..., StepResult],
        callbacks: CallbackList,
        stateful: list[Callback],
        progress: Progress,
        recorder: Telemetry | None,
        metrics: list[Metric],
        checkpoint: Any = None,
        checkpoint_every: str | int = "epoch",
    ) -> None:
        self.model = model
        self.x, self.y, self.x_val, self.y_val = data
        self.epochs = epochs
        self.step_fn = step_fn
        self.callbacks = callbacks
        self.stateful = stateful
        self.progress = progress
        self.recorder = recorder
        self.metrics = metrics
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.history: History = model.history
        self.global_step = 0
        self.sample_weight: np.ndarray | None = None  # one weight per sample (fit's argument)
        self.class_weight: dict[Any, float] | None = None
        self.last_logs: dict[str, Any] = {}  # the last epoch's, for on_train_end (Keras)

    # -- the loop --------------------------------------------------------------------------------
    def run(self, first_epoch: int, last_epoch: int, resumed: dict[str, Any] | None) -> History:
        """Epochs first_epoch … last_epoch − 1 (resumed mid-epoch from ``resumed``)."""
        model, history = self.model, self.history
        was_training = model.training
        self.callbacks.on_train_begin()
        if resumed is not None:
            # After on_train_begin, which resets callbacks such as EarlyStopping.
            for cb, state in zip(self.stateful, resumed["callbacks"]):
                if state:
                    cb.set_state(state)
        try:
            for epoch in range(first_epoch, last_epoch):
                start = resumed if epoch == first_epoch else None
                if not self._epoch(epoch, start):
                    break
        finally:
            self.progress.close()
            model.train(was_training)
        self.callbacks.on_train_end(self.last_logs)
        return history

    def _epoch(self, epoch: int, resumed: dict[str, Any] | None) -> bool:
        """One epoch; False when training stops after it (or during it)."""
        model, history = self.model, self.history
        self.callbacks.on_epoch_begin(epoch)
        model.train()
        self.progress.epoch_begin(epoch)
        totals = _EpochTotals(self.metrics)
        first_step = 0
        if resumed is not None and resumed["order"] is not None:
            order, first_step = resumed["order"], int(resumed["step"])
            totals.restore(resumed["totals"])
        else:
            order = self.epochs.order()
        for step, idx in self.epochs.batches(order, first_step):
            if not self._batch(epoch, step, idx, totals, order):
                break
        if totals.seen == 0 and getattr(self.epochs, "exhausted", False):
            warnings.warn(
                f"fit: the input generator ran out of data at epoch {epoch + 1}; training "
                f"stopped (give steps_per_epoch × epochs batches, or a PyDataset)",
                RuntimeWarning,
                stacklevel=5,
            )
            history.stopped_reason = "the input generator ran out of data"
            history.stopped_epoch = epoch
            return False
        if history.stopped_reason is not None and totals.seen == 0:
            return False
        self._end_epoch(epoch, totals.logs())
        if model.stop_training or history.stopped_reason is not None:
            if history.stopped_reason is None:
                history.stopped_reason = model._stop_reason or "stop_training was set"
                history.stopped_epoch = epoch
            return False
        return True

    def _batch(
        self, epoch: int, step: int, idx: Any, totals: _EpochTotals, order: np.ndarray
    ) -> bool:
        """One training step with its callbacks; False when the epoch stops here."""
        if isinstance(idx, tuple):  # a batch handed over by a PyDataset or a generator
            xb, yb, weights = idx
        else:
            xb, yb = self.x[idx], self.y[idx]
            weights = None if self.sample_weight is None else self.sample_weight[idx]
        if self.class_weight is not None:
            from .epochs import class_weights_for

            by_class = class_weights_for(yb, self.class_weight, "fit")
            weights = by_class if weights is None else weights * by_class
        for cb in self.callbacks.batch_callbacks:
            cb.on_train_batch_begin(step, {})
        recorder = self.recorder
        # Weighted costs exist only on the graph: its step honours them exactly.
        step_fn = self.step_fn if weights is None else self.model.train_step
        extra = {} if weights is None else {"sample_weight": weights}
        if recorder is not None and recorder.wants(self.global_step, step == 0):
            recorder.begin_sample(self.global_step, epoch)
            result = step_fn(xb, yb, recorder, **extra)
        else:
            result = step_fn(xb, yb, **extra)
        self.global_step += 1
        if recorder is not None:
            lr = self.model.optimizer.last_learning_rate or 0.0
            recorder.record_step(result.loss, lr, epoch)
        if not math.isfinite(result.loss):
            if recorder is not None:
                recorder.drop_incomplete_sample()
            self._stop_on_nan(epoch, step, result.loss)
            return False
        logs = totals.add(result.loss, yb, result.outputs)
        self.progress.update(step + 1, logs)
        for cb in self.callbacks.batch_callbacks:
            cb.on_train_batch_end(step, logs)
        every = self.checkpoint_every
        if self.checkpoint is not None and every != "epoch" and self.global_step % int(every) == 0:
            self._save(epoch, step + 1, order, totals.state())
        return not self.model.stop_training

    def _end_epoch(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.x_val is not None and self.y_val is not None:
            # The fit's callbacks see the validation as Keras shows it: on_test_* hooks.
            val = self.model._evaluation(
                self.x_val, self.y_val, self.epochs.batch_size, self.callbacks
            )
            logs.update({f"val_{k}": v for k, v in val.items()})
        self.progress.epoch_end(epoch, logs)
        if self.recorder is not None:
            for key, value in logs.items():
                self.recorder.epoch_metrics.setdefault(key, []).append(float(value))
        self.callbacks.on_epoch_end(epoch, logs)
        self.last_logs = logs
        if self.checkpoint is not None and self.history.stopped_batch is None:
            self._save(epoch + 1, 0, None, None)

    def _stop_on_nan(self, epoch: int, step: int, value: float) -> None:
        history = self.history
        nan = math.isnan(value)
        message = (
            N_(
                "the loss became NaN at epoch {epoch}, batch {batch}; training stopped and the "
                "weights are those of the last finite step"
            )
            if nan
            else N_(
                "the loss became infinite at epoch {epoch}, batch {batch}; training stopped "
                "and the weights are those of the last finite step"
            )
        )
        reason = t(message).format(epoch=epoch + 1, batch=step + 1)
        history.stopped_reason = reason
        history.stopped_epoch = epoch
        history.stopped_batch = step
        self.model.stop_training = True
        warnings.warn(
            "fit: "
            + t(
                "{reason}. Try a lower learning rate or check the inputs for extreme values."
            ).format(reason=reason),
            RuntimeWarning,
            stacklevel=5,
        )

    # -- checkpoints -----------------------------------------------------------------------------
    def _save(self, next_epoch: int, next_step: int, order: np.ndarray | None, totals: Any) -> None:
        from ..io.checkpoint import save_checkpoint

        model = self.model
        state = {
            "kind": "fit",
            "weights": dict(model.state_dict()),
            "optimizer": model.optimizer.state_dict(),
            "rng": _rng.get_state(),
            "epoch": next_epoch,
            "step": next_step,
            "global_step": self.global_step,
            "order": order,
            "totals": totals,
            "config": self.epochs.config(),
            "history": self.history.get_state(),
            "callbacks": [cb.get_state() for cb in self.stateful],
        }
        save_checkpoint(self.checkpoint, state)
