"""Pictures of a run, drawn with matplotlib (an optional extra: ``pip install glassnet[plots]``).

Every function returns a ``matplotlib.figure.Figure`` and, given ``path``, also saves it — as
PNG or SVG, chosen by the file's suffix, written atomically. Figures are made directly on the
Agg canvas, without pyplot: nothing global changes (no backend switch, no figure kept alive by
pyplot), so they work the same in scripts, tests, servers and notebooks. matplotlib is imported
only when a function is called.

=====================  ============================================================
loss_curves            every metric per epoch, training against validation
learning_rate          the learning rate of every step
gradient_norms         per layer ‖∂C/∂W‖ and the update ratio ‖ΔW‖/‖W‖ over training
layer_health           per layer the fraction of saturated (σ' ≈ 0) and dead ReLU units
lr_find_curve          the learning-rate range test: loss against learning rate
confusion_matrix       true against predicted classes
decision_boundary      a 2-D model's classes over the plane, with its data (seed 003)
weight_histograms      the distribution of every Dense layer's weights
=====================  ============================================================
"""

from __future__ import annotations

import functools
import inspect
import io
import math
import os
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np

from .. import i18n
from ..errors import GlassnetError, InvalidArgumentError, ShapeError, describe
from ..i18n import N_, t
from ..training._notebook import enable_figure_display

__all__ = [
    "MissingDependencyError",
    "loss_curves",
    "learning_rate",
    "step_losses",
    "boundary_animation",
    "activations",
    "gradient_norms",
    "layer_health",
    "lr_find_curve",
    "confusion_matrix",
    "decision_boundary",
    "weight_histograms",
    "save_figure",
    "figure_bytes",
]

FORMATS = {".png": "png", ".svg": "svg"}


class MissingDependencyError(GlassnetError, ImportError):
    """An optional dependency (here matplotlib) that a feature needs is not installed."""


def _figure(
    width: float = 7.0, height: float = 3.6, nrows: int = 1, ncols: int = 1, where: str = "plots"
) -> tuple[Any, Any]:
    """A Figure on the Agg canvas and its axes (an array when nrows·ncols > 1)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError(
            f"{where}: drawing needs matplotlib, which is not installed; install the plots "
            f"extra with pip install glassnet[plots] (or pip install matplotlib)"
        ) from None
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    enable_figure_display()  # in a notebook the figure shows inline, without %matplotlib
    axes = fig.subplots(nrows, ncols)
    return fig, axes


def _format_of(path: str | os.PathLike[str], where: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidArgumentError(
            f"{where}: path must end in .png or .svg, received path={os.fspath(path)!r}"
        )
    return FORMATS[suffix]


def save_figure(fig: Any, path: str | os.PathLike[str], where: str = "save_figure") -> None:
    """Write ``fig`` to ``path`` (.png or .svg) atomically."""
    from ..io.atomic import atomic_write

    fmt = _format_of(path, where)
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format=fmt)


def figure_bytes(fig: Any, fmt: str = "png") -> bytes:
    """The figure encoded as PNG or SVG bytes (for embedding in the report)."""
    if fmt not in FORMATS.values():
        raise InvalidArgumentError(
            f"figure_bytes: fmt must be 'png' or 'svg', received fmt={fmt!r}"
        )
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt)
    return buffer.getvalue()


_CJK = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_CJK_PREFERENCE = ("Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK JP", "Noto Serif CJK SC")


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The name of a font with Chinese glyphs (Debian's fonts-noto-cjk), registered with
    matplotlib's font manager when it is installed but not in matplotlib's cache; None when
    there is none on this machine."""
    from matplotlib import font_manager

    def known() -> set[str]:
        return {f.name for f in font_manager.fontManager.ttflist}

    if not any("CJK" in name for name in known()):
        for found in font_manager.findSystemFonts():
            base = os.path.basename(found)
            if "CJK" in base and "Regular" in base:
                font_manager.fontManager.addfont(found)
    names = known()
    for name in _CJK_PREFERENCE:
        if name in names:
            return name
    return next((n for n in sorted(names) if "CJK" in n), None)


def _use_cjk(fig: Any, where: str) -> None:
    """Let every text of the figure fall back to a CJK font when it has Chinese text (DejaVu
    Sans alone draws boxes), or say clearly that none is installed."""
    from matplotlib.text import Text

    texts = fig.findobj(Text)
    if not any(_CJK.search(t.get_text() or "") for t in texts):
        return
    font = cjk_font()
    if font is None:
        warnings.warn(
            f"{where}: the figure has Chinese (CJK) text but no CJK font is installed, so it "
            f"shows as boxes; install one, e.g. Debian's fonts-noto-cjk "
            f"(apt-get install fonts-noto-cjk)",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    for text in texts:
        text.set_fontfamily(["DejaVu Sans", font])


_F = TypeVar("_F", bound=Callable[..., Any])


def _speaks(func: _F) -> _F:
    """Draw ``func``'s figure in its ``lang`` argument ("en" or "zh"; None: the current
    language, English unless a report or ``glassnet.i18n.using`` chose another)."""
    signature = inspect.signature(func)

    @functools.wraps(func)
    def drawn(*args: Any, **kwargs: Any) -> Any:
        lang = signature.bind(*args, **kwargs).arguments.get("lang")
        with i18n.in_lang(i18n.check_lang(lang) if lang is not None else None):
            return func(*args, **kwargs)

    return cast(_F, drawn)


#: Titles for the metrics fit records under these names (others keep their own names).
_METRIC_TITLES = {"loss": N_("loss"), "accuracy": N_("accuracy")}


def _finish(fig: Any, path: str | os.PathLike[str] | None, where: str) -> Any:
    _use_cjk(fig, where)
    if path is not None:
        save_figure(fig, path, where)
    return fig


def _check_path(path: str | os.PathLike[str] | None, where: str) -> None:
    if path is not None:
        _format_of(path, where)  # fail before drawing


def _telemetry(history: Any, where: str) -> Any:
    tel = getattr(history, "telemetry", None)
    if tel is None:
        raise InvalidArgumentError(
            f"{where}: the history has no telemetry; train with fit(..., telemetry=True), the "
            f"default, to record per-step and per-layer statistics"
        )
    return tel


def _history_dict(history: Any, where: str) -> dict[str, list[float]]:
    values = getattr(history, "history", None)
    if not isinstance(values, dict):
        raise InvalidArgumentError(
            f"{where}: expected the History returned by fit, received {describe(history)}"
        )
    return values


# ---------------------------------------------------------------------------------------------
# Training curves
# ---------------------------------------------------------------------------------------------
@_speaks
def loss_curves(
    history: Any, path: str | os.PathLike[str] | None = None, lang: str | None = None
) -> Any:
    """One panel per metric (loss first): training (solid) against validation (dashed), per
    epoch (1-based)."""
    where = "plots.loss_curves"
    _check_path(path, where)
    values = _history_dict(history, where)
    names = [k for k in values if not k.startswith("val_") and k != "learning_rate"]
    names += [k[4:] for k in values if k.startswith("val_") and k[4:] not in names]
    if not names:
        raise InvalidArgumentError(f"{where}: the history holds no epoch yet")
    names.sort(key=lambda k: (k != "loss", k))
    fig, axes = _figure(width=4.2 * len(names), height=3.4, ncols=len(names), where=where)
    axes = np.atleast_1d(axes).ravel()
    epochs = getattr(history, "epoch", None) or list(range(len(values[names[0]])))
    from matplotlib.ticker import MaxNLocator

    for ax, name in zip(axes, names):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for key, label, style in (
            (name, t("training"), "-"),
            (f"val_{name}", t("validation"), "--"),
        ):
            series = values.get(key)
            if series:
                xs = [e + 1 for e in epochs[: len(series)]]
                ax.plot(xs, series, style, marker="o", markersize=3, label=label)
        ax.set_title(t(_METRIC_TITLES[name]) if name in _METRIC_TITLES else name)
        ax.set_xlabel(t("epoch"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        if name == "loss":
            finite = [
                v
                for v in values.get("loss", []) + values.get("val_loss", [])
                if math.isfinite(v) and v > 0
            ]
            if finite and max(finite) / min(finite) > 100:
                ax.set_yscale("log")
    return _finish(fig, path, where)


@_speaks
def learning_rate(
    history: Any, path: str | os.PathLike[str] | None = None, lang: str | None = None
) -> Any:
    """The learning rate α used at every training step (from the telemetry), log scale
    when it varies by more than 10x."""
    where = "plots.learning_rate"
    _check_path(path, where)
    tel = _telemetry(history, where)
    lr = np.asarray(tel.step_learning_rate, dtype=float)
    if lr.size == 0:
        raise InvalidArgumentError(f"{where}: the telemetry holds no step yet")
    fig, ax = _figure(height=3.0, where=where)
    ax.plot(np.arange(1, lr.size + 1), lr, color="tab:purple")
    positive = lr[lr > 0]
    if positive.size and positive.max() / positive.min() > 10:
        ax.set_yscale("log")
    ax.set_xlabel(t("step"))
    ax.set_ylabel(t("learning rate α"))
    ax.set_title(t("learning rate per step"))
    ax.grid(alpha=0.3)
    return _finish(fig, path, where)


@_speaks
def step_losses(
    history: Any, path: str | os.PathLike[str] | None = None, lang: str | None = None
) -> Any:
    """The loss of every mini-batch step (from the telemetry, or a Stepper's history), with
    the epochs' boundaries: where a per-epoch curve hides a divergence, this shows the step at
    which the loss took off. Log scale when the loss spans more than 100x."""
    where = "plots.step_losses"
    _check_path(path, where)
    tel = _telemetry(history, where)
    loss = np.asarray(tel.step_loss, dtype=float)
    if loss.size == 0:
        raise InvalidArgumentError(f"{where}: the telemetry holds no step yet")
    steps = np.arange(1, loss.size + 1)
    fig, ax = _figure(height=3.2, where=where)
    ax.plot(steps, loss, color="tab:blue", linewidth=0.8, label=t("loss of the mini-batch"))
    if loss.size >= 10:
        window = max(loss.size // 20, 3)
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax.plot(
            steps[window - 1 :],
            smooth,
            color="tab:orange",
            label=t("mean of {n} steps").format(n=window),
        )
    epochs = np.asarray(tel.step_epoch, dtype=int)
    for boundary in np.flatnonzero(np.diff(epochs)) + 1.5:
        ax.axvline(boundary, color="gray", linewidth=0.6, linestyle=":")
    finite = loss[np.isfinite(loss) & (loss > 0)]
    if finite.size and finite.max() / finite.min() > 100:
        ax.set_yscale("log")
    ax.set_xlabel(t("step (dotted lines: epochs)"))
    ax.set_ylabel(t("loss C"))
    ax.set_title(t("loss at every step"))
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return _finish(fig, path, where)


@_speaks
def activations(
    names: Sequence[str] | None = None,
    path: str | os.PathLike[str] | None = None,
    z_range: tuple[float, float] = (-5.0, 5.0),
    lang: str | None = None,
) -> Any:
    """Each activation σ and its derivative σ' over z (one panel per activation), from the
    same kernels training runs — the σ'(z) of BP1 and BP2: where σ' ≈ 0 (saturated sigmoid
    and tanh, ReLU for z < 0) δ stops. ``names``: default sigmoid, tanh, relu, leaky_relu,
    elu, softplus, gelu, step (seed 003's MP neuron, σ' = 0 almost everywhere)."""
    from ..nn.layers import Activation

    where = "plots.activations"
    _check_path(path, where)
    chosen = list(names) if names is not None else list(_DEFAULT_ACTIVATIONS)
    if not chosen or any(not isinstance(n, str) for n in chosen):
        raise InvalidArgumentError(
            f"{where}: names must be a non-empty list of activation names, received {names!r}"
        )
    lo, hi = float(z_range[0]), float(z_range[1])
    if not lo < hi:
        raise InvalidArgumentError(f"{where}: z_range must be (low, high) with low < high")
    z = np.linspace(lo, hi, 401)
    cols = min(4, len(chosen))
    rows = -(-len(chosen) // cols)
    fig, axes = _figure(width=3.2 * cols, height=2.7 * rows, ncols=cols, nrows=rows, where=where)
    flat = np.atleast_1d(axes).reshape(-1)
    for ax, name in zip(flat, chosen):
        if name == "step":
            value, prime = (z > 0).astype(float), np.zeros_like(z)
        else:
            layer = Activation(name, dtype="float64")
            value, prime = layer.function(z), layer.derivative(z)
        ax.plot(z, value, color="tab:blue", label="σ(z)")
        ax.plot(z, prime, color="tab:red", linestyle="--", label="σ'(z)")
        ax.axhline(0, color="gray", linewidth=0.5)
        ax.axvline(0, color="gray", linewidth=0.5)
        ax.set_title(name)
        ax.set_xlabel("z")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="upper left")
    for ax in flat[len(chosen) :]:
        ax.set_visible(False)
    return _finish(fig, path, where)


_DEFAULT_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu", "step")


def _sample_axis(tel: Any) -> np.ndarray:
    return np.asarray(tel.sample_steps, dtype=float) + 1


@_speaks
def gradient_norms(
    history: Any, path: str | os.PathLike[str] | None = None, lang: str | None = None
) -> Any:
    """Per Dense layer, over the sampled steps: ‖∂C/∂W‖ (left, log scale) and the update ratio
    ‖ΔW‖/‖W‖ (right, log scale, with the healthy 1e-3 marked)."""
    from .rules import UPDATE_RATIO_HEALTHY

    where = "plots.gradient_norms"
    _check_path(path, where)
    tel = _telemetry(history, where)
    steps = _sample_axis(tel)
    fig, (left, right) = _figure(width=10.0, height=3.6, ncols=2, where=where)
    for name, stats in tel.layers.items():
        for ax, key in ((left, "grad_norm"), (right, "update_ratio")):
            values = np.asarray(stats[key], dtype=float)
            n = min(values.size, steps.size)
            shown = np.where(values[:n] > 0, values[:n], np.nan)
            zeros = int(np.sum(values[:n] == 0))
            # Zeros cannot sit on a log scale; say how many there were (dead layers).
            label = (
                t("{name} (0 at {zeros} of {n} samples)").format(name=name, zeros=zeros, n=n)
                if zeros
                else name
            )
            ax.plot(steps[:n], shown, marker=".", markersize=3, label=label)
    left.set_title(t("‖∂C/∂W‖ per layer (BP4)"))
    right.set_title(t("update ratio ‖ΔW‖/‖W‖ per step"))
    right.axhline(UPDATE_RATIO_HEALTHY, color="gray", linestyle=":", label=t("~1e-3 (healthy)"))
    for ax in (left, right):
        _log_if_positive(ax)
        ax.set_xlabel(t("step"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return _finish(fig, path, where)


def _log_if_positive(ax: Any) -> None:
    has_positive = any(
        np.nanmax(
            np.where(
                np.asarray(line.get_ydata(), dtype=float) > 0,
                np.asarray(line.get_ydata(), dtype=float),
                np.nan,
            ),
            initial=-np.inf,
        )
        > 0
        for line in ax.get_lines()
        if len(line.get_ydata())
    )
    if has_positive:
        ax.set_yscale("log")


@_speaks
def layer_health(
    history: Any, path: str | os.PathLike[str] | None = None, lang: str | None = None
) -> Any:
    """Per Dense layer over the sampled steps: the fraction of saturated units (σ'(z) below
    5 % of its maximum; sigmoid, tanh, ...; softmax outputs are left out: with cross-entropy
    their δ^L = a^L − y has no σ' factor) and of dead ReLUs (z ≤ 0 for the whole batch)."""
    from .rules import DEAD_FRACTION, SATURATION_FRACTION

    where = "plots.layer_health"
    _check_path(path, where)
    tel = _telemetry(history, where)
    steps = _sample_axis(tel)
    fig, (left, right) = _figure(width=10.0, height=3.4, ncols=2, where=where)
    for ax, key, title, limit in (
        (left, "saturated_fraction", t("saturated units (σ' ≈ 0: BP1, BP2)"), SATURATION_FRACTION),
        (right, "dead_fraction", t("dead ReLU units (a = 0: BP4)"), DEAD_FRACTION),
    ):
        drawn = False
        for name, stats in tel.layers.items():
            if (
                key == "saturated_fraction"
                and tel.layer_info.get(name, {}).get("activation") == "softmax"
            ):
                # A softmax output trained with cross-entropy has δ^L = a^L − y: no σ' factor,
                # so its "saturation" is confidence, not a problem (the doctor ignores it too).
                continue
            values = np.asarray(stats[key], dtype=float)
            n = min(values.size, steps.size)
            if n and np.isfinite(values[:n]).any():
                ax.plot(steps[:n], values[:n], marker=".", markersize=3, label=name)
                drawn = True
        if drawn:
            ax.axhline(limit, color="tab:red", linestyle=":", label=t("doctor's threshold"))
            ax.legend(fontsize="small")
        else:
            ax.text(
                0.5,
                0.5,
                t("no layer of this kind"),
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="gray",
            )
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(title)
        ax.set_xlabel(t("step"))
        ax.grid(alpha=0.3)
    return _finish(fig, path, where)


@_speaks
def lr_find_curve(
    result: Any, path: str | os.PathLike[str] | None = None, lang: str | None = None
) -> Any:
    """The range test: raw (light) and smoothed loss against the learning rate (log scale),
    with the suggested rate marked."""
    where = "plots.lr_find_curve"
    _check_path(path, where)
    lrs = np.asarray(getattr(result, "learning_rates", []), dtype=float)
    if lrs.size == 0:
        raise InvalidArgumentError(
            f"{where}: expected an LRFinderResult with at least one "
            f"step, received {describe(result)}"
        )
    fig, ax = _figure(width=6.5, height=3.8, where=where)
    losses = np.asarray(result.losses, dtype=float)
    smooth = np.asarray(result.smoothed_losses, dtype=float)
    ax.plot(lrs, losses, color="tab:blue", alpha=0.3, label=t("mini-batch loss"))
    ax.plot(lrs, smooth, color="tab:blue", label=t("smoothed loss"))
    if result.suggestion is not None:
        ax.axvline(
            result.suggestion,
            color="tab:red",
            linestyle="--",
            label=t("suggested α = {alpha}").format(alpha=f"{result.suggestion:.2g}"),
        )
    finite = smooth[np.isfinite(smooth)]
    if finite.size:  # keep the divergence from flattening the interesting part
        raw = losses[np.isfinite(losses)]
        low = min(float(finite.min()), float(raw.min()) if raw.size else np.inf)
        high = float(finite[0])
        span = max(high - low, 1e-12)
        ax.set_ylim(low - 0.1 * span, max(high, low) + 1.5 * span)
    ax.set_xscale("log")
    ax.set_xlabel(t("learning rate α"))
    ax.set_ylabel(t("loss"))
    ax.set_title(t("learning-rate range test (Smith 2015)"))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return _finish(fig, path, where)


# ---------------------------------------------------------------------------------------------
# Model pictures
# ---------------------------------------------------------------------------------------------
@_speaks
def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    path: str | os.PathLike[str] | None = None,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    lang: str | None = None,
) -> Any:
    """Counts of (true class, predicted class). ``y_true``: (N,) labels or (N, K) one-hot;
    ``y_pred``: (N,) labels, (N, K) scores (argmax taken) or (N, 1) probabilities of class 1.
    ``normalize=True`` shows each true class's row as fractions."""
    where = "plots.confusion_matrix"
    _check_path(path, where)
    true = _labels(y_true, "y_true", where)
    pred = _labels(y_pred, "y_pred", where)
    if true.shape != pred.shape:
        raise ShapeError(
            f"{where}: y_true and y_pred must have the same number of samples, "
            f"received {true.size} and {pred.size}"
        )
    k = int(max(true.max(initial=0), pred.max(initial=0))) + 1
    if class_names is not None:
        k = max(k, len(class_names))
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (true, pred), 1)
    shown: np.ndarray = counts.astype(float)
    if normalize:
        shown = shown / np.maximum(shown.sum(axis=1, keepdims=True), 1)
    size = min(2.0 + 0.45 * k, 9.0)
    fig, ax = _figure(width=size + 1.0, height=size, where=where)
    image = ax.imshow(shown, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    long_names = k > 10 or max((len(n) for n in names[:k]), default=0) > 3
    ax.set_xticks(
        range(k),
        names[:k],
        rotation=45 if long_names else 0,
        ha="right" if long_names else "center",
    )
    ax.set_yticks(range(k), names[:k])
    ax.set_xlabel(t("predicted class"))
    ax.set_ylabel(t("true class"))
    accuracy = float(np.trace(counts)) / max(int(counts.sum()), 1)
    ax.set_title(t("confusion matrix (accuracy {accuracy})").format(accuracy=f"{accuracy:.3f}"))
    if k <= 20:
        peak = float(shown.max()) or 1.0
        for i in range(k):
            for j in range(k):
                if counts[i, j]:
                    text = f"{shown[i, j]:.2f}" if normalize else str(counts[i, j])
                    ax.text(
                        j,
                        i,
                        text,
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if shown[i, j] > 0.6 * peak else "black",
                    )
    return _finish(fig, path, where)


def _labels(values: Any, name: str, where: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] > 1:
        arr = arr.argmax(axis=1)
    elif arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
        if arr.dtype.kind == "f":
            arr = (arr > 0.5).astype(np.int64)
    if arr.ndim != 1 or arr.size == 0:
        raise ShapeError(
            f"{where}: {name} must be (N,) labels or (N, K) scores, received "
            f"{describe(np.asarray(values))}"
        )
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise InvalidArgumentError(
                f"{where}: {name} must hold integer class labels, received non-integer values"
            )
    if arr.min() < 0:
        raise InvalidArgumentError(
            f"{where}: {name} must hold class labels >= 0, received {int(arr.min())}"
        )
    return arr.astype(np.int64)


@_speaks
def decision_boundary(
    model: Any,
    x: Any,
    y: Any,
    path: str | os.PathLike[str] | None = None,
    resolution: int = 200,
    title: str | None = None,
    class_names: Sequence[str] | None = None,
    lang: str | None = None,
) -> Any:
    """The class a 2-D model predicts at every point of the plane around its data, with the
    data on top: seed 003's picture of a perceptron's line w·x + b = 0, for any model.
    ``model``: a glassnet model or anything with ``predict(x)`` — seed 003's ``Perceptron``
    too (its 0/1 or −1/1 outputs are the classes). ``x``: (N, 2) inputs; ``y``: (N,) labels
    (or one-hot / probabilities). Regions are light tints; the points are black-edged
    markers, one shape per class, in colours no region uses, so every point stands out."""
    where = "plots.decision_boundary"
    _check_path(path, where)
    xs = np.asarray(x, dtype=float)
    if xs.ndim != 2 or xs.shape[1] != 2 or xs.shape[0] == 0:
        raise ShapeError(
            f"{where}: x must be (N, 2) points in the plane, received {describe(np.asarray(x))}"
        )
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise InvalidArgumentError(
            f"{where}: resolution must be an integer >= 2, received resolution={resolution!r}"
        )
    raw = np.asarray(y)
    signed = raw.ndim == 1 and raw.size > 0 and raw.dtype.kind in "iuf" and raw.min() < 0
    labels = _labels((raw > 0).astype(np.int64) if signed else y, "y", where)
    lo, hi = xs.min(axis=0), xs.max(axis=0)
    pad = 0.1 * np.maximum(hi - lo, 1e-6)
    g0 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    g1 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    mesh0, mesh1 = np.meshgrid(g0, g1)
    grid = np.stack([mesh0.ravel(), mesh1.ravel()], axis=1)
    classes = _predict_labels(model, grid)
    k = int(max(classes.max(), labels.max())) + 1
    fig, ax = _figure(width=5.6, height=4.8, where=where)
    from matplotlib.colors import ListedColormap

    regions = ListedColormap([_REGION_TINTS[i % len(_REGION_TINTS)] for i in range(k)])
    ax.contourf(
        mesh0,
        mesh1,
        classes.reshape(mesh0.shape),
        levels=np.arange(k + 1) - 0.5,
        cmap=regions,
        vmin=-0.5,
        vmax=k - 0.5,
    )
    if np.unique(classes).size >= 2:
        ax.contour(
            mesh0,
            mesh1,
            classes.reshape(mesh0.shape),
            levels=np.arange(k - 1) + 0.5,
            colors="black",
            linewidths=0.8,
        )
    names = list(class_names) if class_names is not None else []
    for c in range(k):
        chosen = labels == c
        if not chosen.any():
            continue
        ax.scatter(
            xs[chosen, 0],
            xs[chosen, 1],
            marker=_POINT_MARKERS[c % len(_POINT_MARKERS)],
            color=_POINT_COLOURS[c % len(_POINT_COLOURS)],
            edgecolors="black",
            linewidths=0.6,
            s=22,
            label=names[c] if c < len(names) else t("class {c}").format(c=c),
        )
    ax.legend(fontsize="small", loc="best", framealpha=0.85)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    accuracy = float((_predict_labels(model, xs) == labels).mean())
    ax.set_title(
        title or t("decision boundary (accuracy {accuracy})").format(accuracy=f"{accuracy:.3f}")
    )
    return _finish(fig, path, where)


#: Light region tints and, for the points, saturated colours of other hues plus a shape per
#: class: a point is never drawn in the hue of the region it lies in.
_REGION_TINTS = ["#cfe3f7", "#fbd9c4", "#d5f0d0", "#eadcf5", "#f7f1c4", "#d3f1f0"]
_POINT_COLOURS = ["#e8a200", "#7b2cbf", "#c1121f", "#0a9396", "#1d3557", "#6a994e"]
_POINT_MARKERS = ["o", "^", "s", "D", "v", "P"]


@_speaks
def boundary_animation(
    model: Any,
    x: Any,
    y: Any,
    path: str | os.PathLike[str],
    epochs: int = 20,
    batch_size: int = 32,
    resolution: int = 80,
    frame_ms: int = 400,
    lang: str | None = None,
) -> list[float]:
    """Train ``model`` (compiled) on the 2-D points (x, y) for ``epochs`` epochs and write an
    animated GIF of its decision boundary after each one (frame 0: before training) to
    ``path``, atomically; returns the accuracy at each frame. Seed 003's line, moving."""
    where = "plots.boundary_animation"
    target = os.fspath(path)
    if not target.lower().endswith(".gif"):
        raise InvalidArgumentError(f"{where}: path must end in .gif, received path={target!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise InvalidArgumentError(
            f"{where}: epochs must be a positive integer, received {epochs!r}"
        )
    try:
        from PIL import Image
    except ImportError:
        raise MissingDependencyError(
            f"{where}: writing a GIF needs Pillow (installed with matplotlib); pip install pillow"
        ) from None
    from ..io.atomic import atomic_write

    xs = np.asarray(x, dtype=float)
    labels = np.asarray(y)
    frames, accuracies = [], []
    for epoch in range(epochs + 1):
        if epoch:
            model.fit(xs, labels, epochs=1, batch_size=batch_size, verbose=0)
        accuracy = float((_predict_labels(model, xs) == _labels(labels, "y", where)).mean())
        accuracies.append(accuracy)
        fig = decision_boundary(
            model,
            xs,
            labels,
            resolution=resolution,
            title=t("after epoch {epoch} of {epochs} (accuracy {accuracy})").format(
                epoch=epoch, epochs=epochs, accuracy=f"{accuracy:.3f}"
            ),
        )
        frames.append(Image.open(io.BytesIO(figure_bytes(fig, "png"))).convert("P"))
    with atomic_write(target, "wb") as handle:
        frames[0].save(
            handle,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=frame_ms,
            loop=0,
        )
    return accuracies


def _predict_labels(model: Any, x: np.ndarray) -> np.ndarray:
    """Class indices 0, 1, … the model predicts for the rows of x."""
    import inspect

    dtype = getattr(model, "dtype", np.float64)
    predict = model.predict
    keywords = inspect.signature(predict).parameters
    batch = {"batch_size": 4096} if "batch_size" in keywords else {}
    out = np.asarray(predict(x.astype(dtype), **batch))
    if out.ndim == 2 and out.shape[1] > 1:
        return out.argmax(axis=1)
    flat = out.reshape(len(x))
    # A sigmoid output or a step neuron gives [0, 1]; a sign neuron ±1; anything else a score.
    threshold = 0.5 if flat.min() >= 0 and flat.max() <= 1 else 0.0
    return (flat > threshold).astype(np.int64)


@_speaks
def weight_histograms(
    model: Any, path: str | os.PathLike[str] | None = None, bins: int = 50, lang: str | None = None
) -> Any:
    """One histogram per layer with a weight matrix W^l (its first parameter of two or more
    axes; biases are not included), with the layer's ‖W‖ in the title."""
    from ..nn.layers import weight_layers

    where = "plots.weight_histograms"
    _check_path(path, where)
    layers = weight_layers(model) if hasattr(model, "named_modules") else []
    if not layers:
        raise InvalidArgumentError(
            f"{where}: the model has no built layer with weights, received {describe(model)}"
        )
    n = len(layers)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = _figure(width=3.3 * cols, height=2.6 * rows, nrows=rows, ncols=cols, where=where)
    flat_axes = np.atleast_1d(axes).ravel()
    for ax, (name, layer, W) in zip(flat_axes, layers):
        w = np.asarray(W, dtype=float).ravel()
        finite = w[np.isfinite(w)]
        ax.hist(finite, bins=bins, color="tab:green", alpha=0.8)
        act = layer.output_kernel().name if hasattr(layer, "output_kernel") else "linear"
        ax.set_title(f"{name} ({act}) ‖W‖={np.linalg.norm(finite):.3g}", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in flat_axes[n:]:
        ax.set_visible(False)
    fig.suptitle(t("weights per layer"))
    return _finish(fig, path, where)
