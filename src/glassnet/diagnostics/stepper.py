"""``Stepper``: mini-batch gradient descent one step at a time, each step shown in full.

Seed 003 (§9.4) explains mini-batch SGD, and seed 002 warns about a loss that does not
converge; both are easiest to see step by step::

    stepper = Stepper(model, x, y, batch_size=32)
    record = stepper.step()      # one mini-batch
    record.loss                  # C of this batch, before the update
    record.trace                 # BP1–BP4 for this batch (glassnet.explain.backprop), before
    record.update["dense"]["W"]  # ΔW = W_after − W_before, the update actually applied
    record.findings              # what the doctor noticed at this step (may be empty)
    stepper.run(100)             # 100 more steps; stepper.records keeps them all
    report(stepper.history, model, "steps.html")   # per-step curves in the report

The step is the one ``fit`` takes (the same step function, fed the same batches as
``fit(..., shuffle=False)``, or a seeded permutation per epoch with ``shuffle=True``), so N
steps of a Stepper leave the weights where N steps of fit would. The trace is computed from
the four equations in float64 on the weights *before* the update; with plain SGD (no
momentum, no weight decay) its "W − α ∂C/∂W" is the update the step then makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import GlassnetError, InvalidArgumentError, ShapeError
from ..training.callbacks import History
from .doctor import evaluate
from .rules import RULES, Finding, Findings, RunView

__all__ = ["Stepper", "StepRecord"]


@dataclass(eq=False)
class StepRecord:
    """One mini-batch step.

    ``step`` counts from 0 over the whole run, ``epoch`` and ``batch`` (the sample indices)
    say which data it saw; ``loss`` is the batch's cost before the update (what fit logs);
    ``trace`` is ``glassnet.explain.backprop`` on this batch before the update (None when the
    model is not traceable: ``trace_note`` says why); ``update`` maps each layer with weights to
    {"W": ΔW, "b": Δb}, the change the step made; ``findings`` are the doctor's new findings.
    """

    step: int
    epoch: int
    batch: np.ndarray
    loss: float
    learning_rate: float
    trace: Any
    trace_note: str | None
    update: dict[str, dict[str, np.ndarray]]
    findings: list[Finding] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"StepRecord(step={self.step}, epoch={self.epoch}, loss={self.loss:.6g}, "
            f"samples={len(self.batch)}, findings={[f.rule for f in self.findings]})"
        )


def _plain_sgd(optimizer: Any) -> bool:
    """True when the optimiser's step is exactly w := w − α ∂C/∂w (what the trace shows)."""
    config = optimizer.get_config() if hasattr(optimizer, "get_config") else {}
    return (
        type(optimizer).__name__ == "SGD"
        and not config.get("momentum")
        and not config.get("weight_decay")
        and not config.get("clipnorm")
        and not config.get("clipvalue")
        and not config.get("global_clipnorm")
    )


class Stepper:
    """Train ``model`` (compiled) on (x, y) one mini-batch per ``step()``.

    ``batch_size`` as in fit; ``shuffle``: False (default) takes the batches in order, as
    ``fit(..., shuffle=False)``; True a permutation per epoch from ``seed``. ``trace``: compute
    each step's backpropagation trace (True; False is faster); ``doctor``: run the doctor's
    rules after each step (True).
    """

    def __init__(
        self,
        model: Any,
        x: Any,
        y: Any,
        batch_size: int = 32,
        shuffle: bool = False,
        seed: int | None = None,
        trace: bool = True,
        doctor: bool = True,
    ) -> None:
        where = "Stepper"
        if not getattr(model, "compiled", False):
            raise InvalidArgumentError(
                f"{where}: the model must be compiled first (model.compile(optimizer=..., "
                f"loss=...)), received an uncompiled {type(model).__name__}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(
                f"{where}: batch_size must be a positive integer, received {batch_size!r}"
            )
        self.x, self.y = np.asarray(x), np.asarray(y)
        if len(self.x) != len(self.y) or len(self.x) == 0:
            raise ShapeError(
                f"{where}: x and y must hold the same number (≥ 1) of samples, received "
                f"{len(self.x)} and {len(self.y)}"
            )
        out = model._dry_run(self.x, where)
        model._check_targets(self.x, self.y, out, where)
        model._bind_optimizer()
        self.model = model
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self._rng = np.random.default_rng(seed)
        self.want_trace = bool(trace)
        self.want_doctor = bool(doctor)
        self.steps_per_epoch = -(-len(self.x) // batch_size)
        # Every step is a telemetry sample, so the doctor and the report see each one.
        self.telemetry = model._telemetry(1, where)
        self.history = History()
        self.history.telemetry = self.telemetry
        self.records: list[StepRecord] = []
        self._order = np.arange(len(self.x))
        self._seen: set[tuple[str, str | None, str]] = set()
        self._epoch_losses: list[tuple[float, int]] = []

    # -- the batches -----------------------------------------------------------------------------
    @property
    def global_step(self) -> int:
        """Steps taken so far."""
        return len(self.records)

    def _next_batch(self) -> tuple[int, int, np.ndarray]:
        step = self.global_step
        epoch, within = divmod(step, self.steps_per_epoch)
        if within == 0 and self.shuffle:
            self._order = self._rng.permutation(len(self.x))
        start = within * self.batch_size
        return epoch, within, self._order[start : start + self.batch_size]

    def _weights(self) -> dict[str, dict[str, np.ndarray]]:
        out: dict[str, dict[str, np.ndarray]] = {}
        for layer in getattr(self.model, "layers", []):
            W, b = getattr(layer, "W", None), getattr(layer, "b", None)
            if W is not None:
                out[layer.name] = {"W": np.array(W.data, copy=True)}
                if b is not None:
                    out[layer.name]["b"] = np.array(b.data, copy=True)
        return out

    def _trace(self, xb: np.ndarray, yb: np.ndarray, lr: float | None) -> tuple[Any, str | None]:
        if not self.want_trace:
            return None, "trace=False"
        from ..explain.trace import backprop

        exact = _plain_sgd(self.model.optimizer)
        try:
            return backprop(self.model, xb, yb, learning_rate=lr if exact else None), None
        except GlassnetError as exc:
            return None, str(exc)

    # -- one step ----------------------------------------------------------------------------------
    def step(self) -> StepRecord:
        """Train on the next mini-batch; return its StepRecord (also kept in ``records``)."""
        model = self.model
        epoch, within, idx = self._next_batch()
        xb, yb = self.x[idx], self.y[idx]
        lr = float(model.optimizer.current_learning_rate)
        trace, note = self._trace(xb, yb, lr)
        before = self._weights()
        self.telemetry.begin_sample(self.global_step, epoch)
        # The step function fit itself uses (fast or graph path), with the same recorder call.
        result = model._step_function()(xb, yb, self.telemetry)
        used = model.optimizer.last_learning_rate
        self.telemetry.record_step(result.loss, used if used is not None else lr, epoch)
        after = self._weights()
        update = {
            name: {key: after[name][key] - value for key, value in parts.items()}
            for name, parts in before.items()
        }
        record = StepRecord(
            step=self.global_step,
            epoch=epoch,
            batch=idx.copy(),
            loss=float(result.loss),
            learning_rate=used if used is not None else lr,
            trace=trace,
            trace_note=note,
            update=update,
        )
        self.records.append(record)
        self._epoch_losses.append((record.loss, len(idx)))
        if within == self.steps_per_epoch - 1:
            # the epoch's loss as fit logs it: the mean over its samples
            losses, sizes = np.array(self._epoch_losses).T
            self.history.epoch.append(epoch)
            mean = float((losses * sizes).sum() / sizes.sum())
            self.history.history.setdefault("loss", []).append(mean)
            self._epoch_losses = []
        if self.want_doctor:
            view = RunView.from_history(self.history, model, None)
            record.findings = Findings(evaluate(view, RULES.values(), self._seen))
            self.history.findings.extend(record.findings)
        return record

    def run(self, steps: int) -> list[StepRecord]:
        """``steps`` more steps; returns their records."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise InvalidArgumentError(
                f"Stepper.run: steps must be an integer ≥ 0, received {steps!r}"
            )
        return [self.step() for _ in range(steps)]

    @property
    def losses(self) -> np.ndarray:
        """The loss of every step so far, shape (steps,)."""
        return np.array([r.loss for r in self.records])

    def __repr__(self) -> str:
        return (
            f"Stepper(steps={self.global_step}, batch_size={self.batch_size}, "
            f"steps_per_epoch={self.steps_per_epoch}, shuffle={self.shuffle})"
        )
