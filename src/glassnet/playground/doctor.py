"""The doctor in the playground: ``fit``'s rules (glassnet.diagnostics) on a session's telemetry.

A session trains step by step, not through ``fit``, so this module keeps what ``fit`` would
have recorded — a ``Telemetry`` (every step's loss and rate; every ``EVERY`` steps each Dense
layer's statistics) and a ``History`` (per epoch: the mean batch loss and accuracy, the
validation loss and accuracy) — and runs the same ``RULES`` on it through the same
``RunView`` and ``evaluate`` as the ``Doctor`` callback, at most once per ``SECONDS``.
Each finding is reported once, in the order it appeared.

A page left open for an hour takes millions of steps: the records keep a window of the latest
``KEEP_STEPS`` steps, ``KEEP_SAMPLES`` layer samples and ``KEEP_EPOCHS`` epochs (the rules
then see that window; a "step" number in a finding counts from the window's start).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..diagnostics.doctor import evaluate
from ..diagnostics.rules import RULES, Finding, RunView
from ..explain.i18n import t
from ..training.callbacks import History

__all__ = ["Watch", "EVERY", "SECONDS", "KEEP_STEPS", "MAX_SHOWN"]

EVERY = 10  # a layer sample every 10 steps (and at each epoch's first step), as fit's 20
SECONDS = 1.0  # the rules run at most once a second
KEEP_STEPS = 5000
KEEP_SAMPLES = 500
KEEP_EPOCHS = 200
MAX_SHOWN = 20


class Watch:
    """One session's records and the findings seen so far."""

    def __init__(self, model: Any) -> None:
        self.telemetry = model._telemetry(EVERY, "playground")  # fit's own recorder
        self.history = History()
        self.history.telemetry = self.telemetry
        self.seen: set[tuple[str, str | None, str]] = set()
        self.found: list[tuple[int, Finding]] = []  # (the session's step, the finding)
        self.checked_at = -math.inf
        self.epoch = 0
        self._batch: list[tuple[float, float, int]] = []  # this epoch's (loss, hits, size)

    def wants(self, step: int, first_of_epoch: bool) -> bool:
        """Whether this step records each layer's statistics (then ``begin`` it)."""
        return bool(self.telemetry.wants(step, first_of_epoch))

    def begin(self, step: int) -> None:
        self.telemetry.begin_sample(step, self.epoch)

    def record(self, loss: float, rate: float, hits: int, size: int) -> None:
        """After one step: its loss (before the update), rate and correct predictions."""
        self.telemetry.record_step(loss, rate, self.epoch)
        if not math.isfinite(loss):
            self.telemetry.drop_incomplete_sample()
        self._batch.append((loss, hits, size))
        self._trim()

    def end_epoch(self, val_loss: float, val_accuracy: float) -> None:
        """The epoch's metrics as fit logs them: sample-weighted means of the batches', and
        the validation set's."""
        losses, hits, sizes = np.array(self._batch, dtype=float).T
        logs = {
            "loss": float((losses * sizes).sum() / sizes.sum()),
            "accuracy": float(hits.sum() / sizes.sum()),
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
        }
        self.history.on_epoch_end(self.epoch, logs)
        self._batch = []
        self.epoch += 1

    def check(self, model: Any, step: int, force: bool = False) -> list[dict[str, Any]]:
        """The findings so far; the rules run again when ``SECONDS`` have passed (or ``force``)."""
        now = time.monotonic()
        if (force or now - self.checked_at >= SECONDS) and self.telemetry.step_loss:
            self.checked_at = now
            view = RunView.from_history(self.history, model)
            for finding in evaluate(view, RULES.values(), self.seen):
                self.found.append((step, finding))
        names = _layer_numbers(model)
        return [_shown(f, at, names) for at, f in self.found[-MAX_SHOWN:]]

    def _trim(self) -> None:
        tel = self.telemetry
        if len(tel.step_loss) > 2 * KEEP_STEPS:
            for series in (tel.step_loss, tel.step_learning_rate, tel.step_epoch):
                del series[:-KEEP_STEPS]
        if len(tel.sample_steps) > 2 * KEEP_SAMPLES and not tel._pending:
            series = [tel.sample_steps, tel.sample_epochs, *tel.inputs.values()]
            series += [v for stats in tel.layers.values() for v in stats.values()]
            for values in series:
                del values[:-KEEP_SAMPLES]
        history = self.history
        if len(history.epoch) > 2 * KEEP_EPOCHS:
            del history.epoch[:-KEEP_EPOCHS]
            for values in history.history.values():
                del values[:-KEEP_EPOCHS]


def _layer_numbers(model: Any) -> dict[str, int]:
    """Each Dense layer's name → its number l on the page (1: the first Dense layer)."""
    dense = [m for m in model.layers if getattr(m, "W", None) is not None]
    return {m.name: l for l, m in enumerate(dense, 1)}


def _shown(finding: Finding, step: int, names: dict[str, int]) -> dict[str, Any]:
    layer = finding.layer
    where = f"layer {names[layer]} ({layer})" if layer in names else layer
    return {
        "rule": finding.rule,
        "title": t(RULES[finding.rule].title),
        "severity": finding.severity,
        "layer": where,
        "step": step,
        "evidence": finding.evidence,
        "advice": finding.suggestion,
    }
