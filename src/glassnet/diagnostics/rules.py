"""The doctor's rules: what goes wrong when a network trains, how to see it, what to do.

Seed 002 closes with the ways backpropagation fails in practice — overfitting, underfitting, a
loss that never converges, a minimum so flat that the loss oscillates around it, a learning
rate too high or too low — and seed 000 explains, from the four equations, why saturated
neurons (σ'(z) ≈ 0: BP1, BP2) and inactive inputs (a ≈ 0: BP4) learn slowly. Each rule here
looks for one of these in a run's History (per-epoch metrics) and its Telemetry (per-step loss
and learning rate, per-layer statistics every few steps) and, when it sees it, returns a
``Finding`` with the numbers it saw and a concrete fix.

Every threshold is a module constant below, documented in docs/diagnostics.md. They are set so
that a healthy run (the seed model with Adam 1e-3 on MNIST) raises nothing: a rule fires only
on evidence well outside what ordinary mini-batch noise produces.

The rules see a run through a ``RunView``: the History and Telemetry cut at one epoch, so
that the ``Doctor`` callback (which checks at every epoch end) and ``diagnose`` (which replays a
finished History epoch by epoch) find the same things at the same epochs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from ..i18n import N_, current, t, using

__all__ = [
    "Finding",
    "Findings",
    "Rule",
    "RunView",
    "RULES",
    "RULE_NAMES",
    "SEVERITIES",
    # thresholds
    "LR_BLOWUP_FACTOR",
    "SMOOTHING_STEPS",
    "LR_RISE_EPOCHS",
    "LR_RISE_FRACTION",
    "UPDATE_RATIO_HEALTHY",
    "UPDATE_RATIO_HIGH",
    "UPDATE_RATIO_LOW",
    "LR_LOW_MAX_PROGRESS",
    "LR_LOW_MIN_STEPS",
    "OSC_MIN_STEPS",
    "OSC_BLOCKS",
    "OSC_MAX_PROGRESS",
    "OSC_MIN_SWING",
    "OSC_MIN_F",
    "OSC_MIN_LEVEL",
    "OVERFIT_PATIENCE",
    "OVERFIT_VAL_RISE",
    "OVERFIT_NOISE",
    "OVERFIT_NOISE_EPOCHS",
    "OVERFIT_GAP",
    "UNDERFIT_MIN_EPOCHS",
    "UNDERFIT_LOSS_FRACTION",
    "UNDERFIT_FLAT",
    "UNDERFIT_ACCURACY_FRACTION",
    "SATURATION_FRACTION",
    "DEAD_FRACTION",
    "DEPTH_MIN_LAYERS",
    "VANISHING_RATIO",
    "EXPLODING_RATIO",
    "EXPLODING_GROWTH",
    "INPUT_MAX_ABS",
    "INPUT_STD",
    "INPUT_MEAN_OVER_STD",
    "WINDOW_MIN_SAMPLES",
]

# ---------------------------------------------------------------------------------------------
# Thresholds (see docs/diagnostics.md for the reasoning behind each)
# ---------------------------------------------------------------------------------------------
#: lr_too_high: the smoothed step loss (or an epoch's loss) exceeds this multiple of the
#: starting level (the chance-level loss for a classifier, else the first step's loss).
LR_BLOWUP_FACTOR = 4.0
#: lr_too_high: the step loss is smoothed by a moving average over this many steps.
SMOOTHING_STEPS = 10
#: lr_too_high: the training loss rose in each of this many consecutive epochs ...
LR_RISE_EPOCHS = 2
#: ... by more than this fraction of the starting level (chance, or the first step's loss).
LR_RISE_FRACTION = 0.10
#: A healthy ‖ΔW‖/‖W‖ per step is around 1e-3 (Karpathy's rule of thumb).
UPDATE_RATIO_HEALTHY = 1e-3
#: lr_too_high: the median update ratio of a layer over the latest epoch is above this.
UPDATE_RATIO_HIGH = 1e-1
#: ... unless the step losses fell by at least this fraction over the run (large steps that
#: still bring the loss down fast, as SGD(1.0) on a linear model, are not a problem).
LR_HIGH_UNLESS_PROGRESS = 0.25
#: lr_too_low: the median update ratio of every layer over the latest epoch is below this ...
UPDATE_RATIO_LOW = 1e-5
#: ... and the loss has fallen by less than this fraction of its starting value ...
LR_LOW_MAX_PROGRESS = 0.05
#: ... over at least this many steps.
LR_LOW_MIN_STEPS = 50
#: oscillation: looked for in the second half of the steps, when it holds this many steps,
OSC_MIN_STEPS = 100
#: split into this many blocks, whose mean losses average out the batch-to-batch noise;
OSC_BLOCKS = 10
#: the fitted decrease across the window is below this fraction of the window's mean loss,
OSC_MAX_PROGRESS = 0.10
#: the block means swing by more than this fraction of their mean (standard deviation),
OSC_MIN_SWING = 0.15
#: which is this many times more variance than the batch noise inside the blocks explains,
OSC_MIN_F = 4.0
#: and the loss is still above this fraction of its starting level (not a converged run).
OSC_MIN_LEVEL = 0.10
#: overfitting: the best validation loss is at least this many epochs old ...
OVERFIT_PATIENCE = 2
#: ... and the latest validation loss is this fraction above it while training loss fell,
OVERFIT_VAL_RISE = 0.02
#: and the rise exceeds this many times the validation loss's epoch-to-epoch noise (robust
#: standard deviation of its second differences over the last OVERFIT_NOISE_EPOCHS epochs).
OVERFIT_NOISE = 3.0
OVERFIT_NOISE_EPOCHS = 10
#: overfitting (info): training accuracy exceeds validation accuracy by this much for the
#: last two epochs.
OVERFIT_GAP = 0.10
#: underfitting: judged after this many epochs,
UNDERFIT_MIN_EPOCHS = 3
#: when the training loss is above this fraction of the chance-level loss (log K),
UNDERFIT_LOSS_FRACTION = 0.5
#: improved by less than this fraction of the chance-level loss in the last epoch,
UNDERFIT_FLAT = 0.02
#: and training accuracy is below chance + this fraction of the way from chance to 1.
UNDERFIT_ACCURACY_FRACTION = 0.5
#: saturation: the median fraction of a sigmoid/tanh layer's units with σ'(z) below 5 % of
#: its maximum, over the latest epoch, is above this.
SATURATION_FRACTION = 0.5
#: dead_relu: the median fraction of a ReLU layer's units with z ≤ 0 for a whole batch is
#: above this.
DEAD_FRACTION = 0.5
#: vanishing/exploding gradients are judged across at least this many Dense layers,
DEPTH_MIN_LAYERS = 3
#: when mean |δ| of the first layer over that of the last is below this (vanishing) ...
VANISHING_RATIO = 1e-3
#: ... or above this (exploding),
EXPLODING_RATIO = 1e3
#: or when a layer's ‖∂C/∂W‖ grew to this multiple of its first recorded value.
EXPLODING_GROWTH = 1e3
#: unscaled_inputs: the inputs reaching the first Dense layer have max |x| above this,
INPUT_MAX_ABS = 20.0
#: or a standard deviation above this,
INPUT_STD = 10.0
#: or a mean further from 0 than this many standard deviations (and than 1).
INPUT_MEAN_OVER_STD = 3.0
#: Per-layer statistics are judged by their median over the latest epoch's samples, or over
#: the last this-many samples when the epoch has fewer.
WINDOW_MIN_SAMPLES = 3

SEVERITIES = (N_("warning"), N_("info"))

RULE_NAMES: tuple[str, ...] = (
    "lr_too_high",
    "lr_too_low",
    "oscillation",
    "overfitting",
    "underfitting",
    "saturation",
    "dead_relu",
    "vanishing_gradients",
    "exploding_gradients",
    "unscaled_inputs",
)

_SATURATING = ("sigmoid", "tanh", "softplus", "softmax")  # those telemetry measures


# ---------------------------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    """One problem the doctor saw.

    ``rule``: one of ``RULE_NAMES``; ``layer``: the layer's name, or None for the whole run;
    ``epoch``: the 0-based epoch where it was first seen (printed 1-based, as fit prints
    ``Epoch 3/5``); ``evidence``: a sentence with the numbers seen; ``suggestion``: what to
    do; ``severity``: "warning" or "info".
    """

    rule: str
    layer: str | None
    epoch: int
    evidence: str
    suggestion: str
    severity: str = "warning"
    #: the language of ``evidence`` and ``suggestion`` ("en" or "zh"), which ``str()`` speaks
    lang: str = "en"

    def __post_init__(self) -> None:
        if self.rule not in RULE_NAMES:
            raise InvalidArgumentError(
                f"Finding: rule must be one of {', '.join(RULE_NAMES)}, received rule={self.rule!r}"
            )
        if self.severity not in SEVERITIES:
            raise InvalidArgumentError(
                f"Finding: severity must be 'warning' or 'info', "
                f"received severity={self.severity!r}"
            )

    @property
    def key(self) -> tuple[str, str | None, str]:
        """(rule, layer, severity): reported once per key, so an "info" that later becomes a
        "warning" (a growing accuracy gap, then a rising validation loss) is reported again."""
        return (self.rule, self.layer, self.severity)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly fields."""
        return {
            "rule": self.rule,
            "layer": self.layer,
            "epoch": self.epoch,
            "severity": self.severity,
            "evidence": self.evidence,
            "suggestion": self.suggestion,
            "lang": self.lang,
        }

    @property
    def title(self) -> str:
        """The rule's title in the finding's language ("learning rate too high", "学习率过高")."""
        with using(self.lang):
            return t(RULES[self.rule].title)

    def __str__(self) -> str:
        with using(self.lang):
            return t("{head}: {evidence} Suggestion: {suggestion}").format(
                head=self._head(), evidence=self.evidence, suggestion=self.suggestion
            )

    def _head(self) -> str:
        with using(self.lang):
            if self.lang == "en":
                where = f" in {self.layer}" if self.layer else ""
                return f"{self.severity}: {self.rule}{where} (epoch {self.epoch + 1})"
            where = t(" in {layer}").format(layer=self.layer) if self.layer else ""
            return t("{severity}: {title} ({rule}){where} (epoch {epoch})").format(
                severity=t(self.severity),
                title=t(RULES[self.rule].title),
                rule=self.rule,
                where=where,
                epoch=self.epoch + 1,
            )

    def __repr__(self) -> str:
        """One short line (a list of findings stays readable): severity, rule, layer, epoch
        and the start of the evidence; ``str()`` and ``as_dict()`` give everything."""
        evidence = self.evidence if len(self.evidence) <= 60 else self.evidence[:59] + "…"
        return f"<Finding {self._head()}: {evidence}>"

    def _repr_html_(self) -> str:
        """How a notebook shows one finding: the head in bold, evidence, then the suggestion."""
        from html import escape

        colour = "#b45309" if self.severity == "warning" else "#1d4ed8"
        return (
            f'<div><b style="color:{colour}">{escape(self._head())}</b>: '
            f"{escape(self.evidence)}<br><i>{escape(self._suggestion_label())}</i> "
            f"{escape(self.suggestion)}</div>"
        )

    def _suggestion_label(self) -> str:
        with using(self.lang):
            return t("Suggestion:")


_FINDINGS_HEADERS = (
    N_("severity"),
    N_("rule"),
    N_("layer"),
    N_("epoch"),
    N_("evidence"),
    N_("what to do"),
)


class Findings(list):  # type: ignore[type-arg]
    """The doctor's findings (``history.findings``, ``doctor.findings``, ``diagnose``): a list
    of ``Finding`` that a notebook shows as a table — severity, rule, layer, epoch, evidence
    and what to do, the seeds' symbols (a^(l-1), δ^l) as MathML, not carets."""

    def _repr_html_(self) -> str:
        from ..training._notebook import box, escape
        from .report import _rich

        if not self:
            return f"{box('findings')}<b>{escape(t('Doctor: no problems found.'))}</b></div>"
        cell = "padding:3px 8px;border-bottom:1px solid #ddd;vertical-align:top;text-align:left"
        rows = []
        for f in self:
            colour = "#b45309" if f.severity == "warning" else "#1d4ed8"
            rows.append(
                f'<tr><td style="{cell};color:{colour};font-weight:bold">'
                f"{escape(t(f.severity))}</td>"
                f'<td style="{cell}"><code>{escape(f.rule)}</code></td>'
                f'<td style="{cell}">{escape(f.layer or "")}</td>'
                f'<td style="{cell};text-align:right">{f.epoch + 1}</td>'
                f'<td style="{cell}">{_rich(f.evidence)}</td>'
                f'<td style="{cell}">{_rich(f.suggestion)}</td></tr>'
            )
        head = "".join(f'<th style="{cell}">{escape(t(h))}</th>' for h in _FINDINGS_HEADERS)
        n = len(self)
        title = N_("Doctor: {n} finding") if n == 1 else N_("Doctor: {n} findings")
        return (
            f"{box('findings')}<b>{escape(t(title).format(n=n))}</b>"
            f'<table style="border-collapse:collapse;margin:4px 0"><thead><tr>{head}</tr>'
            f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
        )


# ---------------------------------------------------------------------------------------------
# What the rules see
# ---------------------------------------------------------------------------------------------
def _arr(values: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else math.nan


@dataclass
class RunView:
    """A History (and its Telemetry) up to and including ``epoch``; arrays are float64.

    ``metrics``: name → per-epoch values (``loss``, ``accuracy``, ``val_loss``, ...);
    ``step_loss``/``step_lr``/``step_epoch``: one entry per training step;
    ``sample_epoch``: the epoch of each telemetry sample; ``layers``: Dense layer name →
    statistic → per-sample values (forward order); ``layer_info``: name → activation, units;
    ``inputs``: statistics of the first Dense layer's inputs per sample.
    """

    epoch: int
    epochs: list[int] = field(default_factory=list)
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    step_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    step_lr: np.ndarray = field(default_factory=lambda: np.zeros(0))
    step_epoch: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    sample_epoch: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    layers: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    layer_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    #: convolution name → statistic → (samples, filters) array (conv_rules.py reads it)
    filters: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: Conv → BN → Activation blocks judged on a given batch: conv name → ``probe_blocks``'s
    #: entry (the activation's per-filter zero and saturated shares after the normalisation)
    blocks: dict[str, dict[str, Any]] = field(default_factory=dict)
    has_telemetry: bool = False
    stopped_reason: str | None = None
    stopped_epoch: int | None = None
    stopped_batch: int | None = None
    loss_name: str | None = None
    output_fused: bool | None = None
    num_outputs: int | None = None
    optimizer_name: str | None = None
    learning_rate: float | None = None

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_history(
        cls, history: Any, model: Any = None, epoch: int | None = None, x: Any = None
    ) -> RunView:
        """The run as seen at the end of ``epoch`` (None: everything recorded so far). ``x``:
        a batch of inputs run through the model's current weights to judge its Conv → BN →
        Activation blocks (``conv_rules.probe_blocks``)."""
        epochs = [int(e) for e in getattr(history, "epoch", [])]
        if epoch is None:
            last = epochs[-1] if epochs else 0
            stopped = getattr(history, "stopped_epoch", None)
            epoch = max(last, stopped) if stopped is not None else last
        keep = [i for i, e in enumerate(epochs) if e <= epoch]
        metrics = {
            k: _arr([v[i] for i in keep if i < len(v)])
            for k, v in getattr(history, "history", {}).items()
        }
        view = cls(epoch=int(epoch), epochs=[epochs[i] for i in keep], metrics=metrics)
        view.stopped_reason = getattr(history, "stopped_reason", None)
        view.stopped_epoch = getattr(history, "stopped_epoch", None)
        view.stopped_batch = getattr(history, "stopped_batch", None)
        if view.stopped_epoch is not None and view.stopped_epoch > epoch:
            view.stopped_reason = view.stopped_epoch = view.stopped_batch = None

        tel = getattr(history, "telemetry", None)
        if tel is not None:
            view.has_telemetry = True
            step_epoch = np.asarray(tel.step_epoch, dtype=int)
            n_steps = int(np.searchsorted(step_epoch, epoch, side="right"))
            view.step_epoch = step_epoch[:n_steps]
            view.step_loss = _arr(tel.step_loss[:n_steps])
            view.step_lr = _arr(tel.step_learning_rate[:n_steps])
            lengths = [len(tel.sample_epochs)]
            lengths += [len(v) for stats in tel.layers.values() for v in stats.values()]
            lengths += [len(v) for v in tel.inputs.values() if len(v)]
            n_total = min(lengths)
            sample_epoch = np.asarray(tel.sample_epochs[:n_total], dtype=int)
            n = int(np.searchsorted(sample_epoch, epoch, side="right"))
            view.sample_epoch = sample_epoch[:n]
            view.layers = {
                name: {k: _arr(v[:n]) for k, v in stats.items()}
                for name, stats in tel.layers.items()
            }
            # Forward order (records arrive output layer first; ``layers`` is declared in order).
            order = list(tel.layers) + [n for n in tel.layer_info if n not in tel.layers]
            view.layer_info = {
                name: dict(tel.layer_info[name]) for name in order if name in tel.layer_info
            }
            view.inputs = {k: _arr(v[:n]) for k, v in tel.inputs.items()}
            view.filters = {
                name: {k: np.asarray(v[:n], dtype=float) for k, v in per.items()}
                for name, per in getattr(tel, "filters", {}).items()
            }

        config = getattr(history, "config", None) or {}
        view.loss_name = config.get("loss") if isinstance(config, Mapping) else None
        if model is not None:
            view._read_model(model)
            if x is not None:
                from .conv_rules import probe_blocks

                view.blocks = probe_blocks(model, x)
        if view.num_outputs is None and view.layer_info:
            output_info = list(view.layer_info.values())[-1]
            view.num_outputs = int(output_info.get("units", 0)) or None
        if view.learning_rate is None and view.step_lr.size:
            view.learning_rate = float(view.step_lr[-1])
        return view

    def _read_model(self, model: Any) -> None:
        loss = getattr(model, "loss", None)
        if loss is not None and getattr(loss, "name", None):
            self.loss_name = str(loss.name)
        try:
            self.output_fused = (model._fused_kernel() is not None) if loss is not None else None
        except Exception:  # a model without the hook: decide from the names later
            self.output_fused = None
        opt = getattr(model, "optimizer", None)
        if opt is not None:
            self.optimizer_name = type(opt).__name__
            try:
                self.learning_rate = float(opt.current_learning_rate)
            except Exception:
                self.learning_rate = None
        if not self.layer_info:
            from ..nn.layers import weight_layers

            for name, m, W in weight_layers(model):
                kernel = m.output_kernel() if hasattr(m, "output_kernel") else None
                self.layer_info[name] = {
                    "activation": kernel.name if kernel is not None else "linear",
                    "units": int(W.shape[0]),
                    "inputs": int(np.prod(W.shape[1:])),
                }

    # -- helpers the rules share -----------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        """Dense layers with recorded statistics, input side first (convolutions, judged per
        filter by conv_rules.py, are left out)."""
        return [n for n in self.tapped_names if n not in self.filters]

    @property
    def tapped_names(self) -> list[str]:
        """Every layer with recorded statistics, input side first: the first one's inputs
        are those ``inputs`` describes."""
        return [n for n, stats in self.layers.items() if len(stats.get("grad_norm", ())) > 0]

    def window(self, values: np.ndarray) -> np.ndarray:
        """The latest epoch's samples of a per-sample series (at least WINDOW_MIN_SAMPLES)."""
        n = min(len(values), len(self.sample_epoch))
        if n == 0:
            return values[:0]
        mask = self.sample_epoch[:n] == self.epoch
        if mask.sum() >= WINDOW_MIN_SAMPLES:
            return values[:n][mask]
        return values[max(0, n - WINDOW_MIN_SAMPLES) : n]

    def stat(self, layer: str, name: str) -> np.ndarray:
        return self.layers.get(layer, {}).get(name, np.zeros(0))

    def activation(self, layer: str) -> str:
        return str(self.layer_info.get(layer, {}).get("activation", "linear"))

    @property
    def is_classifier(self) -> bool:
        if self.loss_name is not None:
            return "crossentropy" in self.loss_name
        # Without the model: a softmax or sigmoid output is taken as a classifier.
        if self.layer_info:
            return self.activation(list(self.layer_info)[-1]) in ("softmax", "sigmoid")
        return False

    @property
    def chance_loss(self) -> float | None:
        """The cross-entropy of predicting every class equally often: log K (log 2 for
        binary outputs), or None when the loss is not a cross-entropy."""
        if not self.is_classifier:
            return None
        k = self.num_outputs or 2
        binary = (
            self.loss_name == "binary_crossentropy"
            or (self.loss_name is None and k == 1)
            or (
                self.loss_name is None
                and self.layer_info
                and self.activation(list(self.layer_info)[-1]) == "sigmoid"
            )
        )
        return math.log(2.0) if binary or k < 2 else math.log(k)

    @property
    def chance_accuracy(self) -> float | None:
        if not self.is_classifier:
            return None
        k = self.num_outputs or 2
        return 0.5 if k < 2 or self.loss_name == "binary_crossentropy" else 1.0 / k

    @property
    def initial_loss(self) -> float | None:
        """The loss of the first step (before any update), else of the first epoch."""
        if self.step_loss.size and math.isfinite(self.step_loss[0]):
            return float(self.step_loss[0])
        loss = self.metrics.get("loss")
        if loss is not None and loss.size and math.isfinite(loss[0]):
            return float(loss[0])
        return None

    @property
    def start_loss(self) -> float | None:
        """The level a network that learned nothing sits at: chance for a classifier, else the
        initial loss."""
        chance = self.chance_loss
        return chance if chance is not None else self.initial_loss

    def output_layer_is_fused(self, layer: str) -> bool:
        """True for the output layer when its activation pairs with a cross-entropy, whose
        δ^L = a^L − y has no σ' factor (so its saturation does not slow learning)."""
        names = list(self.layer_info) or self.layer_names
        if not names or layer != names[-1]:
            return False
        act = self.activation(layer)
        if self.output_fused is not None:
            return self.output_fused
        if act == "softmax":
            return True
        return act == "sigmoid" and self.loss_name in (None, "binary_crossentropy")

    def lr_text(self) -> str:
        if self.learning_rate is None:
            return ""
        who = f" ({self.optimizer_name})" if self.optimizer_name else ""
        return t(" (now {lr}{who})").format(lr=fmt(self.learning_rate), who=who)


def fmt(value: float) -> str:
    """A number for evidence sentences: 3 significant digits, thousands separated."""
    if value is None or not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.2e}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _change(relative: float) -> str:
    """A relative change as words: "1.2% lower", "0.3% higher"."""
    message = N_("{pct}% lower") if relative < 0 else N_("{pct}% higher")
    return t(message).format(pct=f"{100 * abs(relative):.2g}")


def rolling_mean(values: np.ndarray, window: int = SMOOTHING_STEPS) -> np.ndarray:
    """Mean of the last ``window`` values at every step (of all values so far for the first
    ones): the step loss with the batch-to-batch noise averaged out, without lag beyond
    ``window`` steps."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return values
    csum = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(1, values.size + 1)
    lo = np.maximum(idx - window, 0)
    return (csum[idx] - csum[lo]) / (idx - lo)


# ---------------------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------------------
def _finding(
    view: RunView,
    rule: str,
    evidence: str,
    suggestion: str,
    layer: str | None = None,
    severity: str = "warning",
) -> Finding:
    return Finding(
        rule=rule,
        layer=layer,
        epoch=view.epoch,
        evidence=evidence,
        suggestion=suggestion,
        severity=severity,
        lang=current(),
    )


def _lr_high_suggestion(view: RunView) -> str:
    return t(
        "Lower the learning rate{lr} by 3-10x, or let "
        "glassnet.diagnostics.lr_find(model, x, y) pick one from a short range test "
        "(Smith 2015, arXiv 1506.01186, the paper seed 002 cites): with too large a step "
        "w := w - α ∂C/∂w jumps across the minimum instead of into it."
    ).format(lr=view.lr_text())


def _loss_progress(view: RunView) -> tuple[float, float, float] | None:
    """(first, last, progress): the median step loss of the first and last tenth of the steps
    (at least 5 each) and the fraction by which it fell; None without finite step losses."""
    n = view.step_loss.size
    if n < 10:
        return None
    k = max(5, n // 10)
    first = float(np.median(view.step_loss[:k]))
    last = float(np.median(view.step_loss[-k:]))
    if not (math.isfinite(first) and math.isfinite(last)) or first <= 0:
        return None
    return first, last, (first - last) / first


def check_lr_too_high(view: RunView) -> list[Finding]:
    """NaN/inf loss, a loss that blows up or keeps rising, or updates ≫ 1e-3 of the weights."""
    suggestion = _lr_high_suggestion(view)
    reason = view.stopped_reason or ""
    # fit's reason names NaN, or "infinite"/"inf" (the Chinese keeps the symbols)
    if view.stopped_batch is not None and ("NaN" in reason or "inf" in reason):
        evidence = t("The loss became not finite: {reason}.").format(reason=reason)
        return [_finding(view, "lr_too_high", evidence, suggestion)]
    loss = view.metrics.get("loss", np.zeros(0))
    if view.step_loss.size and not np.isfinite(view.step_loss).all():
        i = int(np.argmax(~np.isfinite(view.step_loss)))
        return [
            _finding(
                view,
                "lr_too_high",
                t("The loss became {value} at step {step}.").format(
                    value=view.step_loss[i], step=i + 1
                ),
                suggestion,
            )
        ]
    if loss.size and not np.isfinite(loss).all():
        return [
            _finding(view, "lr_too_high", t("An epoch's training loss is not finite."), suggestion)
        ]
    # Measured from where the run started: chance level, or higher if the untrained network
    # starts above it (unscaled inputs make huge logits; that is not the learning rate's doing).
    # Without step losses the first epoch's mean already contains any blow-up, so only the
    # chance level can serve as the start.
    initial = view.initial_loss if view.step_loss.size else None
    levels = [v for v in (view.chance_loss, initial) if v is not None]
    start = max(levels) if levels else None
    if start is not None and start > 0:
        if view.step_loss.size:
            smooth = rolling_mean(view.step_loss)
            peak = int(np.argmax(smooth))
            if smooth[peak] > LR_BLOWUP_FACTOR * start:
                return [
                    _finding(
                        view,
                        "lr_too_high",
                        t(
                            "The training loss blew up to {peak} (mean of {n} steps, at step "
                            "{step}), {ratio}x its starting level of {start}."
                        ).format(
                            peak=fmt(smooth[peak]),
                            n=SMOOTHING_STEPS,
                            step=peak + 1,
                            ratio=fmt(smooth[peak] / start),
                            start=fmt(start),
                        ),
                        suggestion,
                    )
                ]
        elif loss.size and loss.max() > LR_BLOWUP_FACTOR * start:
            return [
                _finding(
                    view,
                    "lr_too_high",
                    t(
                        "An epoch's training loss reached {peak}, {ratio}x its starting level "
                        "of {start}."
                    ).format(peak=fmt(loss.max()), ratio=fmt(loss.max() / start), start=fmt(start)),
                    suggestion,
                )
            ]
    scale = start if start is not None else (abs(float(loss[0])) if loss.size else None)
    if loss.size >= LR_RISE_EPOCHS + 1 and scale is not None:
        tail = loss[-(LR_RISE_EPOCHS + 1) :]
        if np.all(np.diff(tail) > 0) and tail[-1] - tail[0] > LR_RISE_FRACTION * scale:
            return [
                _finding(
                    view,
                    "lr_too_high",
                    t(
                        "The training loss rose in each of the last {n} epochs, from {first} "
                        "to {last}."
                    ).format(n=LR_RISE_EPOCHS, first=fmt(tail[0]), last=fmt(tail[-1])),
                    suggestion,
                )
            ]
    moved = _loss_progress(view)
    if moved is not None and moved[2] >= LR_HIGH_UNLESS_PROGRESS:
        return []  # large steps, but the loss falls fast: nothing to lower
    found = []
    for name in view.layer_names:
        ratio = _median(view.window(view.stat(name, "update_ratio")))
        if ratio > UPDATE_RATIO_HIGH:
            found.append((ratio, name))
    if found:
        ratio, name = max(found)
        return [
            _finding(
                view,
                "lr_too_high",
                t(
                    "Each step changes the weights of {layer} by a median {ratio} of their "
                    "size (||dW||/||W||), far above the ~1e-3 of a healthy run."
                ).format(layer=name, ratio=fmt(ratio)),
                suggestion,
                layer=None,
            )
        ]
    return []


def check_lr_too_low(view: RunView) -> list[Finding]:
    """A loss that hardly moves while every layer's updates are ≪ 1e-3 of its weights."""
    n = view.step_loss.size
    names = view.layer_names
    if n < LR_LOW_MIN_STEPS or not names:
        return []
    moved = _loss_progress(view)
    if moved is None:
        return []
    first, last, progress = moved
    # Only layers that receive a gradient: a dead or cut-off layer does not move at any rate
    # (dead_relu and vanishing_gradients speak for those).
    ratios = {}
    for name in names:
        grad = _median(view.window(view.stat(name, "grad_norm")))
        if grad > 0:
            ratios[name] = _median(view.window(view.stat(name, "update_ratio")))
    finite = [r for r in ratios.values() if math.isfinite(r)]
    if not finite or progress >= LR_LOW_MAX_PROGRESS or max(finite) >= UPDATE_RATIO_LOW:
        return []
    name = max((r, nm) for nm, r in ratios.items() if math.isfinite(r))[1]
    return [
        _finding(
            view,
            "lr_too_low",
            t(
                "Over {n} steps the loss went from {first} to {last} ({change}) while each "
                "step changed the weights by at most a median {ratio} of their size ({layer}; "
                "a healthy run is near 1e-3)."
            ).format(
                n=n,
                first=fmt(first),
                last=fmt(last),
                change=_change(-progress),
                ratio=fmt(ratios[name]),
                layer=name,
            ),
            t(
                "Raise the learning rate{lr} by 10-100x, or let "
                "glassnet.diagnostics.lr_find(model, x, y) suggest one: with steps this small "
                "the loss may never converge in the time you have (seed 002)."
            ).format(lr=view.lr_text()),
        )
    ]


def check_oscillation(view: RunView) -> list[Finding]:
    """After the first half of training, the loss swings up and down with no downward trend."""
    losses = view.step_loss
    window = losses[len(losses) // 2 :]
    if window.size < OSC_MIN_STEPS or not np.isfinite(window).all():
        return []
    size = window.size // OSC_BLOCKS
    blocks = window[-size * OSC_BLOCKS :].reshape(OSC_BLOCKS, size)
    means = blocks.mean(axis=1)
    level = float(means.mean())
    start = view.start_loss
    if level <= 0 or (start is not None and level < OSC_MIN_LEVEL * start):
        return []
    blocks_x = np.arange(OSC_BLOCKS, dtype=float)
    slope = float(np.polyfit(blocks_x, means, 1)[0])
    decrease = -slope * (OSC_BLOCKS - 1) / level
    swing = float(means.std(ddof=1)) / level
    noise = float(blocks.var(axis=1, ddof=1).mean()) / size
    f_ratio = float(means.var(ddof=1)) / noise if noise > 0 else math.inf
    if decrease >= OSC_MAX_PROGRESS or swing <= OSC_MIN_SWING or f_ratio <= OSC_MIN_F:
        return []
    trend = (
        t("did not fall overall (it rose {pct})").format(pct=_pct(-decrease))
        if decrease <= 0
        else t("fell only {pct} overall").format(pct=_pct(decrease))
    )
    return [
        _finding(
            view,
            "oscillation",
            t(
                "Over the last {n} steps the loss, averaged over blocks of {size} steps, swings "
                "by {swing} of its level {level} ({f}x what batch noise explains) and {trend}: "
                "it is bouncing around a minimum instead of settling into it."
            ).format(
                n=window.size,
                size=size,
                swing=_pct(swing),
                level=fmt(level),
                f=fmt(f_ratio),
                trend=trend,
            ),
            t(
                "Lower the learning rate{lr} (or the momentum) once the loss stops falling, "
                "e.g. callbacks=[ReduceLROnPlateau(monitor='loss', factor=0.5, patience=2)] or "
                "a decaying schedule, or use larger batches for a less noisy gradient (seed "
                "002: around a flat minimum the loss oscillates and never reaches it)."
            ).format(lr=view.lr_text()),
        )
    ]


def _noise(values: np.ndarray) -> float:
    """Robust standard deviation of a curve's epoch-to-epoch noise: from the median absolute
    second difference, which a smooth trend hardly affects (0 with fewer than 5 values)."""
    d2 = values[2:] - 2 * values[1:-1] + values[:-2]
    if d2.size < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(d2)) / math.sqrt(6.0))


def _accuracy_key(metrics: Mapping[str, np.ndarray]) -> str | None:
    for key in metrics:
        if not key.startswith("val_") and "acc" in key and f"val_{key}" in metrics:
            return key
    for key in metrics:
        if not key.startswith("val_") and "acc" in key:
            return key
    return None


def check_overfitting(view: RunView) -> list[Finding]:
    """Validation loss rising while training loss falls, or a large train/validation gap."""
    loss, val = view.metrics.get("loss"), view.metrics.get("val_loss")
    suggestion_tail = t(
        "add Dropout or weight decay (AdamW), use more training data or "
        "augmentation, or a smaller model (seed 002)."
    )
    if (
        loss is not None
        and val is not None
        and val.size >= OVERFIT_PATIENCE + 1
        and np.isfinite(val).all()
        and np.isfinite(loss).all()
    ):
        best = int(np.argmin(val))
        age = val.size - 1 - best
        rise = float(val[-1] - val[best])
        if (
            age >= OVERFIT_PATIENCE
            and rise > OVERFIT_VAL_RISE * val[best]
            and rise > OVERFIT_NOISE * _noise(val[-OVERFIT_NOISE_EPOCHS:])
            and loss[-1] < loss[best]
        ):
            best_epoch = view.epochs[best] + 1 if best < len(view.epochs) else best + 1
            return [
                _finding(
                    view,
                    "overfitting",
                    t(
                        "The validation loss rose from {best} (epoch {epoch}) to {last} over "
                        "{age} epochs while the training loss kept falling, from {first_train} "
                        "to {last_train}."
                    ).format(
                        best=fmt(val[best]),
                        epoch=best_epoch,
                        last=fmt(val[-1]),
                        age=age,
                        first_train=fmt(loss[best]),
                        last_train=fmt(loss[-1]),
                    ),
                    t(
                        "Stop early: EarlyStopping(monitor='val_loss', patience={patience}, "
                        "restore_best_weights=True) would have kept epoch {epoch}; also "
                    ).format(patience=OVERFIT_PATIENCE, epoch=best_epoch)
                    + suggestion_tail,
                )
            ]
    key = _accuracy_key(view.metrics)
    if key is not None and f"val_{key}" in view.metrics:
        acc, val_acc = view.metrics[key], view.metrics[f"val_{key}"]
        if acc.size >= 2 and val_acc.size >= 2:
            gap = acc[-2:] - val_acc[-2:]
            if np.all(gap > OVERFIT_GAP):
                return [
                    _finding(
                        view,
                        "overfitting",
                        t(
                            "Training {key} is {train} but validation {key} only {val}: a gap "
                            "of {gap} for the last 2 epochs (the model fits the training set "
                            "much better than new data)."
                        ).format(
                            key=key, train=fmt(acc[-1]), val=fmt(val_acc[-1]), gap=fmt(gap[-1])
                        ),
                        t("Regularise before the validation loss starts to rise: ")
                        + suggestion_tail,
                        severity="info",
                    )
                ]
    return []


def check_underfitting(view: RunView) -> list[Finding]:
    """Training loss high (near chance) and flat, and training accuracy low."""
    loss = view.metrics.get("loss")
    if loss is None or loss.size < UNDERFIT_MIN_EPOCHS or not np.isfinite(loss[-2:]).all():
        return []
    ref = view.start_loss
    if ref is None or ref <= 0:
        return []
    level = float(loss[-1]) / ref
    improvement = float(loss[-2] - loss[-1]) / ref
    if level <= UNDERFIT_LOSS_FRACTION or improvement >= UNDERFIT_FLAT:
        return []
    what = t("the chance-level loss") if view.chance_loss is not None else t("its starting level")
    evidence = t(
        "After {n} epochs the training loss is {loss}, {pct} of {what} ({ref}), and improved "
        "by only {gain} in the last epoch"
    ).format(
        n=loss.size,
        loss=fmt(loss[-1]),
        pct=_pct(level),
        what=what,
        ref=fmt(ref),
        gain=fmt(max(loss[-2] - loss[-1], 0.0)),
    )
    key = _accuracy_key(view.metrics)
    chance_acc = view.chance_accuracy
    if key is not None and chance_acc is not None:
        acc = float(view.metrics[key][-1])
        bar = chance_acc + UNDERFIT_ACCURACY_FRACTION * (1.0 - chance_acc)
        if acc >= bar:
            return []
        evidence += t("; training {key} is {acc} (chance is {chance})").format(
            key=key, acc=fmt(acc), chance=fmt(chance_acc)
        )
    return [
        _finding(
            view,
            "underfitting",
            evidence + t("."),
            t(
                "The model does not even fit the training data: give it more capacity (more or "
                "wider layers), train for more epochs, raise the learning rate (lr_find), and "
                "check that the inputs are scaled and the labels match the outputs (seed 002)."
            ),
        )
    ]


def check_saturation(view: RunView) -> list[Finding]:
    """Sigmoid/tanh layers whose units mostly sit where σ'(z) ≈ 0."""
    out = []
    for name in view.layer_names:
        if view.activation(name) not in _SATURATING or view.output_layer_is_fused(name):
            continue
        frac = _median(view.window(view.stat(name, "saturated_fraction")))
        if frac > SATURATION_FRACTION:
            act = view.activation(name)
            out.append(
                _finding(
                    view,
                    "saturation",
                    t(
                        "{pct} of the {activation} outputs of {layer} are saturated (σ'(z) below "
                        "5% of its maximum; median over the latest samples)."
                    ).format(pct=_pct(frac), activation=act, layer=name),
                    t(
                        "By BP2, δ^l = ((W^(l+1))ᵀ δ^(l+1)) ⊙ σ'(z^l) ≈ 0 for these units (and by "
                        "BP1 at the output), so their weights and biases barely learn (seed 000): "
                        "use ReLU, a smaller initialisation (Glorot/Xavier), inputs scaled to "
                        "mean 0 and std 1, and for a sigmoid output the cross-entropy loss, whose "
                        "δ^L = a^L - y has no σ' factor."
                    ),
                    layer=name,
                )
            )
    return out


def check_dead_relu(view: RunView) -> list[Finding]:
    """ReLU layers whose units output 0 for whole batches."""
    out = []
    for name in view.layer_names:
        if view.activation(name) != "relu":
            continue
        frac = _median(view.window(view.stat(name, "dead_fraction")))
        if frac > DEAD_FRACTION:
            units = view.layer_info.get(name, {}).get("units")
            of = t(" of {units}").format(units=units) if units else ""
            out.append(
                _finding(
                    view,
                    "dead_relu",
                    t(
                        "{pct}{of} ReLU units of {layer} are dead: z <= 0 for every sample of "
                        "the batch (median over the latest samples)."
                    ).format(pct=_pct(frac), of=of, layer=name),
                    t(
                        "A dead unit outputs a = 0 with σ'(z) = 0, so by BP2 its δ is 0 and by "
                        "BP4 ∂C/∂w = a^(l-1) δ^l is 0: it never learns back (seed 000's inactive "
                        "neuron). Use LeakyReLU or ELU, a lower learning rate, He initialisation "
                        "(kernel_initializer='he_normal') and biases >= 0."
                    ),
                    layer=name,
                )
            )
    return out


def _depth_ratio(view: RunView) -> tuple[float, str, str] | None:
    names = view.layer_names
    if len(names) < DEPTH_MIN_LAYERS:
        return None
    first, last = names[0], names[-1]
    a = view.window(view.stat(first, "mean_abs_delta"))
    b = view.window(view.stat(last, "mean_abs_delta"))
    n = min(len(a), len(b))
    if n == 0:
        return None
    a, b = a[-n:], b[-n:]
    ok = np.isfinite(a) & np.isfinite(b) & (b > 0)
    if not ok.any():
        return None
    return float(np.median(a[ok] / b[ok])), first, last


def check_vanishing_gradients(view: RunView) -> list[Finding]:
    """Mean |δ| of the first layer ≪ that of the last (BP2 shrinks it layer by layer)."""
    got = _depth_ratio(view)
    if got is None or not got[0] < VANISHING_RATIO:
        return []
    ratio, first, last = got
    n = len(view.layer_names)
    return [
        _finding(
            view,
            "vanishing_gradients",
            t(
                "Mean |δ| in {first} (the first layer) is {ratio} times that in {last} (the "
                "output), across {n} Dense layers: the error signal all but disappears on its "
                "way back."
            ).format(first=first, ratio=fmt(ratio), last=last, n=n),
            t(
                "By BP2 every layer multiplies δ by (W^(l+1))ᵀ and by σ'(z^l), which is at most "
                "0.25 for a sigmoid, so δ shrinks geometrically towards the input and the first "
                "layers barely learn (seed 000): use ReLU in the hidden layers, Glorot/He "
                "initialisation, fewer layers, or normalisation between layers."
            ),
            layer=first,
        )
    ]


def check_exploding_gradients(view: RunView) -> list[Finding]:
    """Mean |δ| of the first layer ≫ that of the last, or gradients growing by 1000x."""
    suggestion = t(
        "By BP2 every layer multiplies δ by (W^(l+1))ᵀ; with weights of gain above 1 "
        "the error grows geometrically with depth and the steps of the first layers "
        "are huge: use a smaller initialisation (Glorot/He), a lower learning rate, "
        "gradient clipping, or fewer layers."
    )
    got = _depth_ratio(view)
    if got is not None and got[0] > EXPLODING_RATIO:
        ratio, first, last = got
        return [
            _finding(
                view,
                "exploding_gradients",
                t(
                    "Mean |δ| in {first} (the first layer) is {ratio} times that in {last} (the "
                    "output), across {n} Dense layers: the error grows on its way back."
                ).format(first=first, ratio=fmt(ratio), last=last, n=len(view.layer_names)),
                suggestion,
                layer=first,
            )
        ]
    if len(view.layer_names) < DEPTH_MIN_LAYERS:
        # Too shallow for BP2's product to explode: the weights themselves grew, step by step.
        suggestion = t(
            "With {n} Dense layer(s) depth is not the cause: the gradients grew because the "
            "weights did, each step w := w - α ∂C/∂w overshooting. Lower the learning rate{lr} "
            "by 3-10x, or clip the gradients (optimizer clipnorm=1.0)."
        ).format(n=len(view.layer_names), lr=view.lr_text())
    for name in view.layer_names:
        g = view.stat(name, "grad_norm")
        finite = g[np.isfinite(g)]
        if finite.size < 2 or not finite[0] > 0:
            continue
        recent = _median(view.window(g))
        if recent > EXPLODING_GROWTH * finite[0]:
            return [
                _finding(
                    view,
                    "exploding_gradients",
                    t(
                        "||∂C/∂W|| of {layer} grew from {first} to {recent} ({ratio}x) during "
                        "training."
                    ).format(
                        layer=name,
                        first=fmt(finite[0]),
                        recent=fmt(recent),
                        ratio=fmt(recent / finite[0]),
                    ),
                    suggestion,
                    layer=name,
                )
            ]
    return []


def check_unscaled_inputs(view: RunView) -> list[Finding]:
    """The first Dense layer's inputs are large or far from zero-centred."""
    if not view.inputs or not view.inputs.get("max_abs", np.zeros(0)).size:
        return []
    max_abs = _median(view.inputs["max_abs"])
    std = _median(view.inputs["std"])
    mean = _median(view.inputs["mean"])
    first = view.tapped_names[0] if view.tapped_names else t("the first Dense layer")
    suggestion = t(
        "Scale the inputs: Rescaling(1/255) for pixels, or standardise every feature "
        "to mean 0 and std 1 (glassnet.datasets.normalize). By BP4, ∂C/∂w = "
        "a^(l-1) δ^l, so large inputs make the first layer's gradients far larger "
        "than the others' and no single learning rate suits every layer; large z "
        "also saturate sigmoid and tanh units (BP1, BP2)."
    )
    stats = t("max |x| {max}, mean {mean}, std {std}").format(
        max=fmt(max_abs), mean=fmt(mean), std=fmt(std)
    )
    if max_abs > INPUT_MAX_ABS or std > INPUT_STD:
        return [
            _finding(
                view,
                "unscaled_inputs",
                t(
                    "The inputs reaching {layer} are not scaled: {stats} (scaled inputs lie "
                    "within a few units of 0)."
                ).format(layer=first, stats=stats),
                suggestion,
            )
        ]
    if abs(mean) > INPUT_MEAN_OVER_STD * std and abs(mean) > 1.0:
        return [
            _finding(
                view,
                "unscaled_inputs",
                t("The inputs reaching {layer} are far from centred: {stats}.").format(
                    layer=first, stats=stats
                ),
                suggestion,
                severity="info",
            )
        ]
    return []


# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """A named check. ``fast`` rules are also run every few batches by the Doctor."""

    name: str
    title: str
    check: Callable[[RunView], list[Finding]]
    needs_telemetry: bool = False
    fast: bool = False

    def __call__(self, view: RunView) -> list[Finding]:
        if self.needs_telemetry and not view.has_telemetry:
            return []
        return self.check(view)


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule("lr_too_high", N_("learning rate too high"), check_lr_too_high, fast=True),
        Rule("lr_too_low", N_("learning rate too low"), check_lr_too_low, needs_telemetry=True),
        Rule(
            "oscillation",
            N_("loss oscillates (flat minimum)"),
            check_oscillation,
            needs_telemetry=True,
        ),
        Rule(N_("overfitting"), "overfitting", check_overfitting),
        Rule(N_("underfitting"), "underfitting", check_underfitting),
        Rule("saturation", N_("saturated units"), check_saturation, needs_telemetry=True),
        Rule("dead_relu", N_("dead ReLU units"), check_dead_relu, needs_telemetry=True),
        Rule(
            "vanishing_gradients",
            N_("vanishing gradients"),
            check_vanishing_gradients,
            needs_telemetry=True,
        ),
        Rule(
            "exploding_gradients",
            N_("exploding gradients"),
            check_exploding_gradients,
            needs_telemetry=True,
        ),
        Rule(
            "unscaled_inputs",
            N_("inputs not scaled"),
            check_unscaled_inputs,
            needs_telemetry=True,
            fast=True,
        ),
    )
}

#: A finding of the key rule makes the listed rules redundant for the same run: the learning
#: rate is the cause, the flat loss its symptom; dead units explain a zero δ better than depth.
SUPERSEDED_BY: dict[str, tuple[str, ...]] = {
    "underfitting": ("lr_too_high", "lr_too_low"),
    "vanishing_gradients": ("dead_relu",),
}

# The per-filter rules of convolutional layers live in conv_rules.py (which reads RunView and
# Finding from here); they join the registry here, so every doctor runs them.
from .conv_rules import CONV_RULES  # noqa: E402

RULE_NAMES = RULE_NAMES + tuple(CONV_RULES)
RULES.update(CONV_RULES)
