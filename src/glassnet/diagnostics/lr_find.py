"""The learning-rate range test (Smith 2015, arXiv 1506.01186 — the paper seed 002 cites).

Seed 002: "choose too low a rate and the loss may never converge; too high and the weights
oscillate around the optimum". Smith's test finds the range in between in one short run: train
for ``steps`` mini-batches while the learning rate grows exponentially from ``start`` to
``end``,

    α_i = start · (end / start)^(i / (steps − 1)),

record the loss of every step, and smooth it (an exponential moving average with bias
correction, as fastai does). The loss first hardly moves (α too small), then falls fast, then
explodes (α too large). The suggested rate is where the smoothed loss falls fastest: the most
negative slope d(smoothed loss)/d(log α), taken before the curve's minimum.

The model is left exactly as it was: its weights, gradients, the optimiser's state, step count
and learning rate, and glassnet's random generator are saved first and restored afterwards,
bit for bit.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _rng
from .._fpenv import flush_denormals
from .._threads import blas_threads
from ..errors import InvalidArgumentError, describe
from ..i18n import t


def _limit_blas_threads(fn: Any) -> Any:
    """Run with glassnet's BLAS thread setting, as fit does (see glassnet._threads)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with blas_threads(), flush_denormals():
            return fn(*args, **kwargs)

    return wrapper


__all__ = ["lr_find", "LRFinderResult"]


@dataclass(eq=False)
class LRFinderResult:
    """The range test's curve: one entry per step taken (``steps`` or fewer if it diverged).

    ``learning_rates``, ``losses`` (the raw mini-batch losses), ``smoothed_losses``: arrays of
    the same length; ``suggestion``: the rate at the steepest descent of the smoothed loss
    (None if the loss never fell); ``stopped_early``: whether the loss diverged before the end.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    suggestion: float | None
    stopped_early: bool = False
    start: float = 1e-7
    end: float = 10.0
    steps: int = 100
    diverge_factor: float = 4.0
    #: how many optimiser steps the model had taken before (0: a fresh model); a trained
    #: model's curve starts near a minimum, so its suggestion is a fine-tuning rate
    trained_steps: int = 0

    @property
    def min_loss_learning_rate(self) -> float | None:
        """The rate where the smoothed loss was lowest (usually ~10x past the suggestion)."""
        if self.smoothed_losses.size == 0:
            return None
        finite = np.where(np.isfinite(self.smoothed_losses), self.smoothed_losses, np.inf)
        return float(self.learning_rates[int(np.argmin(finite))])

    def plot(self, path: str | os.PathLike[str] | None = None) -> Any:
        """The curve (loss against learning rate, log scale) as a matplotlib Figure; saved to
        ``path`` (.png or .svg) when given."""
        from .plots import lr_find_curve

        return lr_find_curve(self, path)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly curve and suggestion."""

        def clean(a: np.ndarray) -> list[float | None]:
            return [float(v) if math.isfinite(v) else None for v in a]

        return {
            "learning_rates": clean(self.learning_rates),
            "losses": clean(self.losses),
            "smoothed_losses": clean(self.smoothed_losses),
            "suggestion": self.suggestion,
            "stopped_early": self.stopped_early,
            "trained_steps": self.trained_steps,
        }

    def __str__(self) -> str:
        n = self.learning_rates.size
        if n == 0:
            return t("lr_find: no step was taken")
        head = t(
            "Learning-rate range test (Smith 2015): {n} steps, learning rate {first} -> {last}"
        ).format(n=n, first=f"{self.learning_rates[0]:.2g}", last=f"{self.learning_rates[-1]:.2g}")
        if self.stopped_early:
            head += t(" (stopped: the smoothed loss passed {factor}x its minimum)").format(
                factor=f"{self.diverge_factor:g}"
            )
        lines = [head]
        best = self.min_loss_learning_rate
        if best is not None:
            lines.append(
                "  "
                + t("lowest smoothed loss {loss} at learning rate {lr}").format(
                    loss=f"{np.nanmin(self.smoothed_losses):.4g}", lr=f"{best:.2g}"
                )
            )
        # A coarse table: about ten rows across the curve.
        idx = np.unique(np.linspace(0, n - 1, min(n, 10)).round().astype(int))
        lines.append("  " + t("learning rate   loss (smoothed)"))
        for i in idx:
            lines.append(f"  {self.learning_rates[i]:>13.2e}   {self.smoothed_losses[i]:.4g}")
        if self.trained_steps:
            lines.append(
                t(
                    "note: the model was already trained ({steps} optimizer steps), so the test "
                    "ran from those weights (they are restored) and the suggestion is a rate for "
                    "fine-tuning them; for a rate to train from scratch, run lr_find on a fresh "
                    "model of the same architecture"
                ).format(steps=f"{self.trained_steps:,}")
            )
        if self.suggestion is None:
            lines.append(
                t(
                    "suggested learning rate: none (the loss never fell; try a wider range or "
                    "more steps)"
                )
            )
        else:
            lines.append(
                t("suggested learning rate: {lr} (steepest descent of the smoothed loss)").format(
                    lr=f"{self.suggestion:.2g}"
                )
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """How a notebook shows the test: the curve (inline SVG, log-scale rates, the
        suggestion marked) and the suggested rate in words."""
        from ..training._notebook import box, escape, line_chart

        head, *rest = str(self).splitlines()
        lrs = [float(v) for v in self.learning_rates]
        smooth = np.asarray(self.smoothed_losses, dtype=float)
        chart = ""
        finite = smooth[np.isfinite(smooth)]
        if finite.size:  # as plots.lr_find_curve: the divergence must not flatten the rest
            raw = np.asarray(self.losses, dtype=float)
            raw = raw[np.isfinite(raw)]
            low = min(float(finite.min()), float(raw.min()) if raw.size else math.inf)
            high = float(finite[0])
            span = max(high - low, 1e-12)
            marker = None
            if self.suggestion is not None:
                marker = (
                    self.suggestion,
                    t("suggested α = {lr}").format(lr=f"{self.suggestion:.2g}"),
                )
            chart = line_chart(
                {
                    t("mini-batch loss"): (lrs, [float(v) for v in self.losses]),
                    t("smoothed loss"): (lrs, [float(v) for v in smooth]),
                },
                t("learning rate α"),
                t("loss"),
                log_x=True,
                marker=marker,
                light=(t("mini-batch loss"),),
                y_range=(low - 0.1 * span, max(high, low) + 1.5 * span),
                width=460,
                height=260,
            )
        notes = [line for line in rest if not line.startswith("  ")]  # not the coarse table
        body = "".join(f"<div>{escape(line)}</div>" for line in notes)
        return f"{box('lr-find')}<b>{escape(head)}</b>{chart}{body}</div>"

    def __repr__(self) -> str:
        s = "None" if self.suggestion is None else f"{self.suggestion:.3g}"
        trained = f", trained_steps={self.trained_steps}" if self.trained_steps else ""
        return f"LRFinderResult(steps={self.learning_rates.size}, suggestion={s}{trained})"


def _positive(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating, np.integer))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidArgumentError(
            f"lr_find: {name} must be a finite number > 0, received {name}={value!r}"
        )
    return float(value)


def _int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InvalidArgumentError(
            f"lr_find: {name} must be an integer >= {low}, received {name}={value!r}"
        )
    return int(value)


def suggest(learning_rates: np.ndarray, smoothed: np.ndarray) -> float | None:
    """The rate of steepest descent of ``smoothed`` against log(rate), before its minimum.

    The first tenth of the curve is skipped (the moving average is still warming up there).
    """
    n = smoothed.size
    finite = np.isfinite(smoothed)
    if n < 3 or not finite.any():
        return None
    end = int(np.argmin(np.where(finite, smoothed, np.inf)))
    begin = max(1, n // 10)
    if end - begin < 2:
        begin = 0
    if end - begin < 2:
        return None
    segment = smoothed[begin : end + 1]
    logs = np.log(learning_rates[begin : end + 1])
    slope = np.gradient(segment, logs)
    i = int(np.argmin(slope))
    if not slope[i] < 0:
        return None
    return float(learning_rates[begin + i])


@_limit_blas_threads
def lr_find(
    model: Any,
    x: Any,
    y: Any,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
    batch_size: int = 32,
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
) -> LRFinderResult:
    """Smith's learning-rate range test on a compiled model; the model is left unchanged.

    x: (N, ...) training inputs; y: (N,) labels or (N, K) targets. Runs ``steps`` training
    steps on mini-batches of ``batch_size`` (reshuffled each pass) with the learning rate
    growing exponentially from ``start`` to ``end``; stops early once the smoothed loss exceeds
    ``diverge_factor`` times its lowest value (or is not finite). ``smoothing`` is the
    moving-average factor β of the smoothed loss. Returns an ``LRFinderResult``.

    The test runs from the model's current weights, as fastai's does. On a model that has
    already been trained the loss starts near a minimum and the suggestion is a small
    fine-tuning rate (4e-07 where a fresh model gave 0.015): the result says so
    (``trained_steps``, its text) and a warning is issued; run it on a fresh model for a rate
    to train from scratch.
    """
    from ..training.epochs import as_data, positive_int
    from ..training.model import Model

    where = "lr_find"
    if not isinstance(model, Model):
        raise InvalidArgumentError(
            f"{where}: model must be a glassnet Model, received {describe(model)}"
        )
    if not model.compiled or model.loss is None:
        raise InvalidArgumentError(
            f"{where}: the model is not compiled; call model.compile(optimizer=..., loss=...) first"
        )
    start = _positive("start", start)
    end = _positive("end", end)
    if end <= start:
        raise InvalidArgumentError(
            f"{where}: end must be larger than start, received start={start!r} and end={end!r}"
        )
    steps = _int("steps", steps, 2)
    batch_size = positive_int(batch_size, "batch_size", where)
    if (
        isinstance(smoothing, bool)
        or not isinstance(smoothing, (int, float))
        or not 0 <= smoothing < 1
    ):
        raise InvalidArgumentError(
            f"{where}: smoothing must be in [0, 1), received smoothing={smoothing!r}"
        )
    diverge_factor = _positive("diverge_factor", diverge_factor)
    if diverge_factor <= 1:
        raise InvalidArgumentError(
            f"{where}: diverge_factor must be > 1, received diverge_factor={diverge_factor!r}"
        )
    prepare = getattr(model, "prepare_data", None)
    if callable(prepare):  # a functional model: lists or dicts of arrays, checked together
        x, y = prepare(x, y, where)
    x_arr = as_data(x, "x", where)
    y_arr = as_data(y, "y", where)
    model.predict(x_arr[:1])  # builds a lazy model and checks x's shape before anything changes

    optimizer = model.optimizer
    trained_steps = int(getattr(optimizer, "iterations", 0) or 0)
    if trained_steps:
        warnings.warn(
            f"{where}: the model was already trained ({trained_steps:,} optimizer steps); the "
            f"suggestion is a rate for fine-tuning its weights, run lr_find on a fresh model "
            f"for a rate to train from scratch",
            UserWarning,
            stacklevel=3,
        )
    params = model.parameters()
    saved_grads = [None if p.grad is None else p.grad.copy() for p in params]
    # fit binds the same way (the trainable parameters); binding moves the values into flat
    # buffers without changing them.
    optimizer.rebind([p for p in params if p.requires_grad])
    saved_weights = [p.data.copy() for p in params]
    saved_optimizer = optimizer.state_dict()
    saved_rate = optimizer.learning_rate  # the very object (a Schedule stays the same instance)
    saved_rng = _rng.get_state()
    was_training = model.training

    rates = start * (end / start) ** (np.arange(steps) / (steps - 1))
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    stopped = False
    try:
        model.train()
        n = len(x_arr)
        order = _rng.generator().permutation(n)
        cursor = 0
        avg = 0.0
        best = math.inf
        for i, lr in enumerate(rates):
            if cursor + min(batch_size, n) > n:
                order = _rng.generator().permutation(n)
                cursor = 0
            idx = order[cursor : cursor + batch_size]
            cursor += batch_size
            optimizer.learning_rate = float(lr)
            loss = model.train_on_batch(x_arr[idx], y_arr[idx])
            lrs.append(float(lr))
            losses.append(loss)
            if not math.isfinite(loss):
                smoothed.append(math.nan)
                stopped = i < steps - 1
                break
            avg = smoothing * avg + (1.0 - smoothing) * loss
            value = avg / (1.0 - smoothing ** (i + 1))
            smoothed.append(value)
            best = min(best, value)
            if i > 0 and value > diverge_factor * best:
                stopped = i < steps - 1
                break
    finally:
        # Restore in place: p.data and p.grad are views into the optimiser's flat buffers.
        # The optimiser first (loading its state syncs the buffers), then the gradients.
        optimizer.load_state_dict(saved_optimizer)
        optimizer.learning_rate = saved_rate
        for p, w, g in zip(params, saved_weights, saved_grads):
            np.copyto(p.data, w)
            if g is None:
                p.grad = None
            elif p.grad is not None and p.grad.shape == g.shape:
                np.copyto(p.grad, g)
            else:
                p.grad = g
        _rng.set_state(saved_rng)
        model.train(was_training)

    lr_arr = np.asarray(lrs, dtype=float)
    smooth_arr = np.asarray(smoothed, dtype=float)
    return LRFinderResult(
        learning_rates=lr_arr,
        losses=np.asarray(losses, dtype=float),
        smoothed_losses=smooth_arr,
        suggestion=suggest(lr_arr, smooth_arr),
        stopped_early=stopped,
        start=start,
        end=end,
        steps=steps,
        diverge_factor=diverge_factor,
        trained_steps=trained_steps,
    )
