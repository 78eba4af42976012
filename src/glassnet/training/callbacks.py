"""Callbacks (Keras's): hooks around training, with ``logs`` dicts of the latest metrics.

The contract is Keras 3's: every hook receives a dict (empty when there is nothing to
report); ``on_test_*`` run during ``evaluate`` and fit's validation, ``on_predict_*`` during
``predict``; the batch hooks receive the running loss and metrics of the epoch (or of the
evaluation) so far.

A callback sees ``self.model`` and ``self.params`` (epochs, steps, verbose) and may set
``self.model.stop_training = True`` to end fit after the current epoch (or batch).
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidArgumentError
from ..i18n import t

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "EarlyStopping",
    "ModelCheckpoint",
    "LearningRateScheduler",
    "ReduceLROnPlateau",
    "CSVLogger",
    "LambdaCallback",
    "TerminateOnNaN",
]

Logs = dict[str, Any]


class Callback:
    """Base class: override the hooks you need."""

    model: Model | None = None
    params: dict[str, Any]

    def __init__(self) -> None:
        self.model = None
        self.params = {}

    def set_model(self, model: Model) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Before the first epoch."""

    def on_train_end(self, logs: Logs | None = None) -> None:
        """After the last epoch (also after an early stop)."""

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Before each epoch (0-based)."""

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """After each epoch, with the epoch's metrics and val_ metrics in ``logs``."""

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Alias hook kept for Keras compatibility (called by on_train_batch_begin)."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Alias hook kept for Keras compatibility (called by on_train_batch_end)."""

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Before each training step."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """After each training step, with the running epoch metrics."""
        self.on_batch_end(batch, logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        """Before evaluate (and validation)."""

    def on_test_end(self, logs: Logs | None = None) -> None:
        """After evaluate (and validation)."""

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Before each evaluation batch."""

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """After each evaluation batch."""

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        """Before predict."""

    def on_predict_end(self, logs: Logs | None = None) -> None:
        """After predict."""

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Before each predict batch."""

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """After each predict batch; ``logs["outputs"]`` holds the batch's outputs."""

    # glassnet addition: lets the fit loop skip per-batch hooks nobody overrides.
    def _wants_batches(self) -> bool:
        return _overrides(self, _TRAIN_BATCH_HOOKS)

    # glassnet addition: state saved in checkpoints so a resumed run behaves identically.
    def get_state(self) -> dict[str, Any]:
        """JSON-friendly state to store in a checkpoint."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what ``get_state`` returned."""


_TRAIN_BATCH_HOOKS = (
    "on_batch_begin",
    "on_batch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
)
_TEST_BATCH_HOOKS = ("on_test_batch_begin", "on_test_batch_end")
_PREDICT_BATCH_HOOKS = ("on_predict_batch_begin", "on_predict_batch_end")


def _overrides(cb: Callback, hooks: Sequence[str]) -> bool:
    cls = type(cb)
    return any(
        getattr(cls, hook) is not getattr(Callback, hook) or hook in vars(cb) for hook in hooks
    )


class CallbackList:
    """Calls every callback in order, with Keras's contract: every hook receives a ``logs``
    dict (an empty one when there is nothing to report), never None. Batch hooks are sent
    only to the callbacks that override them, so an unwatched loop pays nothing per batch."""

    def __init__(
        self,
        callbacks: Sequence[Callback],
        model: Model,
        params: dict[str, Any],
        where: str = "fit",
    ) -> None:
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise InvalidArgumentError(
                    f"{where}: callbacks must be Callback instances, received {cb!r}"
                )
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
        self.batch_callbacks = [cb for cb in self.callbacks if cb._wants_batches()]
        self.test_batch_callbacks = [
            cb for cb in self.callbacks if _overrides(cb, _TEST_BATCH_HOOKS)
        ]
        self.predict_batch_callbacks = [
            cb for cb in self.callbacks if _overrides(cb, _PREDICT_BATCH_HOOKS)
        ]

    def __getattr__(self, hook: str) -> Callable[..., None]:
        if not hook.startswith("on_"):
            raise AttributeError(hook)
        takes_index = "epoch" in hook or "batch" in hook
        if "batch" in hook:
            kind = "test" if "test" in hook else "predict" if "predict" in hook else "train"
            receivers = {
                "train": "batch_callbacks",
                "test": "test_batch_callbacks",
                "predict": "predict_batch_callbacks",
            }[kind]
        else:
            receivers = "callbacks"

        def call(*args: Any) -> None:
            if takes_index:
                index, logs = args[0], (args[1] if len(args) > 1 else None)
                logs = {} if logs is None else logs
                for cb in getattr(self, receivers):
                    getattr(cb, hook)(index, logs)
            else:
                logs = {} if not args or args[0] is None else args[0]
                for cb in getattr(self, receivers):
                    getattr(cb, hook)(logs)

        return call


class History(Callback):
    """What fit returns: ``history`` maps each metric (and ``val_`` metric) to per-epoch values.

    Also kept: ``epoch`` (the epoch indices), ``stopped_reason`` (why training ended early, or
    None), and for the diagnostics, ``telemetry`` and ``findings``; after a data-parallel fit,
    ``distributed`` (ranks, steps, seconds in the gradient allreduce and the loss exchange).
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.stopped_reason: str | None = None
        self.stopped_epoch: int | None = None
        self.stopped_batch: int | None = None
        self.telemetry: Any = None
        self.findings: list[Any] = []
        self.config: dict[str, Any] = {}
        # A data-parallel fit's ranks and time in communication (training/distributed.py).
        self.distributed: dict[str, Any] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        pass  # kept across fit calls on the same History (resume appends)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))

    def get_state(self) -> dict[str, Any]:
        return {"history": self.history, "epoch": self.epoch}

    def set_state(self, state: dict[str, Any]) -> None:
        self.history = {k: [float(v) for v in vals] for k, vals in state["history"].items()}
        self.epoch = [int(e) for e in state["epoch"]]

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History(epochs={len(self.epoch)}, metrics=[{keys}])"

    #: epochs a notebook's table shows in full; a longer run shows the first and last ones
    HTML_ROWS = 20

    def _repr_html_(self) -> str:
        """How a notebook shows the run: the curves (inline SVG, one chart per metric with its
        val_ twin dashed), the metrics per epoch as a table, why it stopped, the findings."""
        from ._notebook import box, escape, html_table, line_chart
        from .progress import format_value

        parts = [box("history"), f"<b>{escape(self)}</b>"]
        epochs = [e + 1 for e in self.epoch]
        if self.history and epochs:
            charts = []
            for base in dict.fromkeys(k.removeprefix("val_") for k in self.history):
                series = {
                    key: (epochs[: len(self.history[key])], self.history[key])
                    for key in (base, f"val_{base}")
                    if key in self.history
                }
                charts.append(line_chart(series, t("epoch"), base))
            flex = "display:flex;flex-wrap:wrap;gap:8px"
            parts.append(f'<div style="{flex}">{"".join(charts)}</div>')
            keys = list(self.history)
            rows = [
                [str(epoch)]
                + [
                    format_value(k, self.history[k][i]) if i < len(self.history[k]) else ""
                    for k in keys
                ]
                for i, epoch in enumerate(epochs)
            ]
            if len(rows) > self.HTML_ROWS:
                half = self.HTML_ROWS // 2
                rows = rows[:half] + [["…"] * (len(keys) + 1)] + rows[-half:]
            parts.append(html_table([t("epoch"), *keys], rows, right=range(len(keys) + 1)))
        if self.stopped_reason:
            head = escape(t("Stopped early:"))
            parts.append(f"<div><b>{head}</b> {escape(self.stopped_reason)}</div>")
        if self.findings:
            # The doctor's Findings show as one table; any other list, finding by finding.
            table = getattr(self.findings, "_repr_html_", None)
            parts.append(table() if table else "".join(f._repr_html_() for f in self.findings))
        parts.append("</div>")
        return "".join(parts)


def _monitor_mode(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise InvalidArgumentError(f"mode must be 'auto', 'min' or 'max', received mode={mode!r}")
    if mode != "auto":
        return mode
    return "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"


class _Monitoring(Callback):
    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise InvalidArgumentError(
                f"monitor must be a metric name such as 'val_loss', received monitor={monitor!r}"
            )
        self.monitor = monitor
        self.mode = _monitor_mode(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _value(self, logs: Logs | None) -> float | None:
        if not logs or self.monitor not in logs:
            available = ", ".join(sorted(logs or {})) or "none"
            warnings.warn(
                f"{type(self).__name__}: the monitored metric {self.monitor!r} is not "
                f"available (available: {available}); skipping",
                RuntimeWarning,
                stacklevel=3,
            )
            return None
        return float(logs[self.monitor])


class EarlyStopping(_Monitoring):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
        verbose: int = 0,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise InvalidArgumentError(
                f"EarlyStopping: patience must be an integer ≥ 0, received patience={patience!r}"
            )
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.verbose = verbose
        self.wait = 0
        self.best_weights: list[np.ndarray] | None = None
        self.best_epoch = 0
        self.stopped_epoch = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None
        self.stopped_epoch = 0

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = self._value(logs)
        if value is None or epoch < self.start_from_epoch or self.model is None:
            return
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            self.model._stop_reason = (
                f"early stopping: {self.monitor} did not improve for {self.wait} epoch(s) "
                f"(best {self.best:.4g} at epoch {self.best_epoch + 1})"
            )
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping")

    def get_state(self) -> dict[str, Any]:
        return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch}

    def set_state(self, state: dict[str, Any]) -> None:
        self.wait, self.best, self.best_epoch = state["wait"], state["best"], state["best_epoch"]


class ModelCheckpoint(_Monitoring):
    """Save the model after every epoch (``save_freq="epoch"``) or every ``save_freq``
    training batches, or only when ``monitor`` improved (save_best_only).

    ``filepath`` may contain ``{epoch}``, ``{batch}`` (with an integer ``save_freq``) and metric
    names (``model-{epoch:02d}-{val_loss:.2f}``); with an integer ``save_freq`` the metrics
    are the running ones of the current epoch, as Keras's batch logs. Files are written
    atomically.
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        verbose: int = 0,
        save_freq: str | int = "epoch",
    ) -> None:
        super().__init__(monitor, mode, 0.0)
        ok_int = isinstance(save_freq, int) and not isinstance(save_freq, bool) and save_freq > 0
        if save_freq != "epoch" and not ok_int:
            raise InvalidArgumentError(
                f"ModelCheckpoint: save_freq must be 'epoch' or an integer ≥ 1 (batches), "
                f"received save_freq={save_freq!r}"
            )
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.verbose = verbose
        self.save_freq = save_freq
        self._epoch = 0
        self._batches_since_save = 0

    def _wants_batches(self) -> bool:
        return self.save_freq != "epoch"

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= int(self.save_freq):
            self._batches_since_save = 0
            self._save(self._epoch, batch, logs or {})

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _save(self, epoch: int, batch: int | None, logs: Logs) -> None:
        if self.model is None:
            return
        if self.save_best_only:
            value = self._value(logs)
            if value is None or not self._improved(value):
                return
            self.best = value
        names = {"epoch": epoch + 1, **logs}
        if batch is not None:
            names.setdefault("batch", batch + 1)
        try:
            path = self.filepath.format(**names)
        except (KeyError, IndexError, ValueError) as exc:
            raise InvalidArgumentError(
                f"ModelCheckpoint: filepath {self.filepath!r} names a value that is not in "
                f"the logs ({exc}); available: {', '.join(sorted(names))}"
            ) from None
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose:
            at = f"Epoch {epoch + 1}" + ("" if batch is None else f", batch {batch + 1}")
            print(f"{at}: saved model to {path}")

    def get_state(self) -> dict[str, Any]:
        return {"best": self.best}

    def set_state(self, state: dict[str, Any]) -> None:
        self.best = state["best"]


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start to ``schedule(epoch, lr)`` (Keras's)."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise InvalidArgumentError(
                f"LearningRateScheduler: schedule must be callable, received {schedule!r}"
            )
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if self.model is None or self.model.optimizer is None:
            return
        lr = float(self.model.optimizer.current_learning_rate)
        try:
            new = self.schedule(epoch, lr)
        except TypeError:
            new = self.schedule(epoch)
        new = float(new)
        if not math.isfinite(new) or new < 0:
            raise InvalidArgumentError(
                f"LearningRateScheduler: the schedule returned "
                f"{new!r} at epoch {epoch}; expected a finite rate ≥ 0"
            )
        self.model.optimizer.learning_rate = new
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {new:g}")

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is not None and self.model is not None and self.model.optimizer is not None:
            logs["learning_rate"] = float(self.model.optimizer.current_learning_rate)


class ReduceLROnPlateau(_Monitoring):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        verbose: int = 0,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        if not 0 < factor < 1:
            raise InvalidArgumentError(
                f"ReduceLROnPlateau: factor must be in (0, 1), received factor={factor!r}"
            )
        self.factor, self.patience = float(factor), int(patience)
        self.cooldown, self.min_lr, self.verbose = int(cooldown), float(min_lr), verbose
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = self._value(logs)
        if value is None or self.model is None or self.model.optimizer is None:
            return
        opt = self.model.optimizer
        if logs is not None:
            logs["learning_rate"] = float(opt.current_learning_rate)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value):
            self.best, self.wait = value, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            old = float(opt.current_learning_rate)
            new = max(old * self.factor, self.min_lr)
            if new < old:
                opt.learning_rate = new
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new:g}")
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def get_state(self) -> dict[str, Any]:
        return {"wait": self.wait, "best": self.best, "cooldown_counter": self.cooldown_counter}

    def set_state(self, state: dict[str, Any]) -> None:
        self.wait, self.best = state["wait"], state["best"]
        self.cooldown_counter = state["cooldown_counter"]


class CSVLogger(Callback):
    """Write one CSV row per epoch; the file is replaced atomically after every epoch."""

    def __init__(
        self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False
    ) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self.rows: list[dict[str, Any]] = []
        self.keys: list[str] = []

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.rows, self.keys = [], []
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as handle:
                reader = csv.DictReader(handle, delimiter=self.separator)
                self.keys = [k for k in (reader.fieldnames or []) if k != "epoch"]
                self.rows = list(reader)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        for key in logs:
            if key not in self.keys:
                self.keys.append(key)
        self.rows.append({"epoch": epoch, **logs})
        self._flush()

    def _flush(self) -> None:
        from ..io.atomic import atomic_write_text

        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=["epoch"] + self.keys, delimiter=self.separator, lineterminator="\n"
        )
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: row.get(k, "") for k in ["epoch"] + self.keys})
        atomic_write_text(self.filename, buffer.getvalue())


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda e, logs: ...)``."""

    def __init__(
        self,
        on_epoch_begin: Callable[..., Any] | None = None,
        on_epoch_end: Callable[..., Any] | None = None,
        on_batch_begin: Callable[..., Any] | None = None,
        on_batch_end: Callable[..., Any] | None = None,
        on_train_begin: Callable[..., Any] | None = None,
        on_train_end: Callable[..., Any] | None = None,
        on_train_batch_begin: Callable[..., Any] | None = None,
        on_train_batch_end: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_batch_begin": on_batch_begin,
            "on_batch_end": on_batch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
        }
        for name, fn in hooks.items():
            if fn is not None:
                if not callable(fn):
                    raise InvalidArgumentError(
                        f"LambdaCallback: {name} must be callable, received {fn!r}"
                    )
                setattr(self, name, fn)

    def _wants_batches(self) -> bool:
        return any(hook in vars(self) for hook in _TRAIN_BATCH_HOOKS)


class TerminateOnNaN(Callback):
    """Stop as soon as the loss is NaN or infinite (fit also does this by itself)."""

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss) and self.model is not None:
            self.model.stop_training = True
