"""``report``: one self-contained HTML file about a training run.

The page holds the run's configuration (model summary, optimiser, loss, epochs, batch size),
the final and per-epoch metrics, the doctor's findings, the plots of ``plots.py`` (embedded as
base64 PNG data URIs), for a convnet its first layer's filters and one sample's feature maps
(``conv_report.py``) and, for one test sample, the backpropagation trace of
``glassnet.explain.backprop``. It loads nothing from anywhere: no script, no font, no CDN; a
Content-Security-Policy in the page forbids every external resource, so it opens the same
offline, from an e-mail attachment or a CI artefact. It is written atomically.

Each part is optional: without matplotlib the page says how to get the plots, a model the
explain tools cannot trace gets a note instead of the trace, and so on; a report is never lost
because one of its parts could not be drawn.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import i18n
from ..errors import GlassnetError, InvalidArgumentError, ShapeError, describe
from ..i18n import N_, t
from .conv_report import CONV_STYLE

__all__ = ["report", "render_report"]

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_STYLE = """
:root { --ink: #1d2330; --muted: #5b6474; --line: #dde2ea; --warn: #b45309; --warnbg: #fff7ed;
        --info: #1d4ed8; --infobg: #eff6ff; --ok: #047857; --okbg: #ecfdf5; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0; background: #f6f7f9; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 60px; background: #fff;
       min-height: 100vh; }
header h1 { margin: 0 0 4px; font-size: 26px; }
.sub { color: var(--muted); margin: 0 0 16px; }
nav { display: flex; flex-wrap: wrap; gap: 6px 16px; padding: 8px 0 16px;
      border-bottom: 1px solid var(--line); margin-bottom: 8px; }
nav a { color: var(--info); text-decoration: none; }
h2 { font-size: 20px; margin: 28px 0 10px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 8px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 130px; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 20px; font-weight: 600; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: right; }
th { background: #f1f3f6; }
td.l, th.l { text-align: left; }
td.na { text-align: center; color: var(--muted); }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 10px;
      overflow-x: auto; font-size: 12.5px; line-height: 1.35; }
figure { margin: 10px 0 18px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.finding { border-left: 4px solid var(--warn); background: var(--warnbg); border-radius: 6px;
           padding: 8px 12px; margin: 8px 0; }
.finding.info { border-color: var(--info); background: var(--infobg); }
.finding .head { font-weight: 600; }
.finding .sugg { margin-top: 4px; }
.badge { display: inline-block; font-size: 11px; font-weight: 700; text-transform: uppercase;
         border-radius: 4px; padding: 1px 6px; margin-right: 6px; color: #fff;
         background: var(--warn); }
.info .badge { background: var(--info); }
.healthy { border-left: 4px solid var(--ok); background: var(--okbg); padding: 8px 12px;
           border-radius: 6px; }
.note { color: var(--muted); font-style: italic; }
.trace { overflow-x: auto; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""


# ---------------------------------------------------------------------------------------------
# small HTML helpers
# ---------------------------------------------------------------------------------------------
def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _num(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return str(v)
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
            return f"{v:.3e}"
        return f"{v:.4g}"
    return _e(value)


def _table(headers: list[str], rows: list[list[Any]], left: int = 1) -> str:
    head = "".join(
        f'<th class="l">{_e(h)}</th>' if i < left else f"<th>{_e(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="l">{_e(c) if isinstance(c, str) else _num(c)}</td>'
            if i < left
            else _not_applicable()
            if _is_nan(c)
            else f"<td>{_num(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _not_applicable() -> str:
    return f'<td class="na" title="{_e(t("does not apply to this layer"))}">—</td>'


def _is_nan(value: Any) -> bool:
    return isinstance(value, (float, np.floating)) and math.isnan(float(value))


def _rich(text: str) -> str:
    """Words with the seeds' symbols (a^(l-1), δ^l, (W^(l+1))ᵀ) as MathML scripts, not carets."""
    from ..explain.notation import Style, prose, to_mathml

    style = Style()
    return "".join(
        _e(part) if isinstance(part, str) else to_mathml(part, style) for part in prose(str(text))
    )


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


class _Figures:
    """Draws figures into <figure> elements, turning failures into notes."""

    def __init__(self) -> None:
        self.missing_matplotlib: str | None = None

    def draw(self, make: Callable[[], Any], caption: str) -> str:
        from .plots import MissingDependencyError, figure_bytes

        if self.missing_matplotlib is not None:
            return ""
        try:
            fig = make()
        except MissingDependencyError as exc:
            self.missing_matplotlib = str(exc)
            return ""
        except GlassnetError as exc:
            return _note(t("{caption}: not drawn ({error}).").format(caption=caption, error=exc))
        except Exception as exc:  # a broken plot must not cost the user the whole report
            warnings.warn(
                f"report: the plot '{caption}' failed: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=3,
            )
            error = f"{type(exc).__name__}: {exc}"
            return _note(t("{caption}: not drawn ({error}).").format(caption=caption, error=error))
        png = figure_bytes(fig, "png")
        width, height = (int(round(v)) for v in fig.get_size_inches() * fig.dpi)
        data = base64.b64encode(png).decode("ascii")
        return (
            f'<figure><img alt="{_e(caption)}" width="{width}" height="{height}" '
            f'src="data:image/png;base64,{data}"><figcaption>{_e(caption)}</figcaption>'
            f"</figure>"
        )


# ---------------------------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------------------------
def _final_metrics(history: Any) -> list[tuple[str, float]]:
    out = []
    for key, values in getattr(history, "history", {}).items():
        if values:
            out.append((key, float(values[-1])))
    return out


def _evaluate(model: Any, x: Any, y: Any) -> tuple[dict[str, float] | None, str | None]:
    if x is None or not getattr(model, "compiled", False):
        return None, None
    try:
        return dict(model.evaluate(x, y, batch_size=256, return_dict=True)), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _summary_section(
    history: Any, model: Any, test: dict[str, float] | None, test_error: str | None
) -> str:
    cards = []
    epochs = len(getattr(history, "epoch", []))
    cards.append((t("epochs"), f"{epochs}"))
    for key, value in _final_metrics(history):
        if key == "learning_rate":
            continue
        cards.append((t("final {key}").format(key=key), _num(value)))
    for key, value in (test or {}).items():
        cards.append((t("test {key}").format(key=key), _num(value)))
    parts = ['<div class="cards">']
    for k, v in cards:
        parts.append(
            f'<div class="card"><div class="k">{_e(k)}</div><div class="v">{v}</div></div>'
        )
    parts.append("</div>")
    reason = getattr(history, "stopped_reason", None)
    if reason:
        head = _e(t("Training stopped early:"))
        parts.append(f"<p><strong>{head}</strong> {_e(reason)}{_e(t('.'))}</p>")
    if test_error:
        parts.append(
            _note(t("The test data could not be evaluated: {error}").format(error=test_error))
        )
    return "\n".join(parts)


def _findings_section(findings: list[Any], ran_diagnose: bool) -> str:
    if not findings:
        return (
            f'<div class="healthy"><strong>{_e(t("No problems found."))}</strong> '
            + _e(
                t(
                    "None of the doctor's rules (learning rate, oscillation, over- and "
                    "underfitting, saturated or dead units, vanishing or exploding gradients, "
                    "unscaled inputs) fired on this run."
                )
            )
            + "</div>"
        )
    parts = []
    if ran_diagnose:
        parts.append(
            _note(
                t(
                    "The run had no doctor attached; these findings come from "
                    "glassnet.diagnostics.diagnose() on its history."
                )
            )
        )
    for f in findings:
        if i18n.current() == "en":
            where = f" in <code>{_e(f.layer)}</code>" if f.layer else ""
            what = f"{_e(f.rule)}{where}"
        else:
            where = t(" in {layer}").format(layer=f"<code>{_e(f.layer)}</code>") if f.layer else ""
            what = f"{_e(f.title)} (<code>{_e(f.rule)}</code>){where}"
        since = _e(t("from epoch {epoch}").format(epoch=f.epoch + 1))
        parts.append(
            f'<div class="finding {_e(f.severity)}"><div class="head"><span class="badge">'
            f"{_e(t(f.severity))}</span>{what} &middot; {since}</div>"
            f'<div class="ev">{_rich(f.evidence)}</div><div class="sugg"><strong>'
            f"{_e(t('What to do:'))}</strong> {_rich(f.suggestion)}</div></div>"
        )
    return "\n".join(parts)


def _epoch_table(history: Any) -> str:
    values = getattr(history, "history", {})
    if not values:
        return _note(t("No epoch was completed."))
    keys = list(values)
    epochs = list(getattr(history, "epoch", [])) or list(range(len(values[keys[0]])))
    rows = []
    for i, e in enumerate(epochs):
        rows.append([f"{e + 1}"] + [values[k][i] if i < len(values[k]) else "" for k in keys])
    return _table([t("epoch")] + keys, rows)


def _layer_table(history: Any) -> str:
    tel = getattr(history, "telemetry", None)
    if tel is None or not tel.layers:
        return _note(
            t(
                "No telemetry was recorded (fit(..., telemetry=False)); the per-layer "
                "statistics and plots need it."
            )
        )
    rows = []
    softmax_layers: list[str] = []
    last_epoch = tel.sample_epochs[-1] if tel.sample_epochs else None
    mask = np.asarray(tel.sample_epochs) == last_epoch
    for name, stats in tel.layers.items():
        info = tel.layer_info.get(name, {})

        def med(key: str, stats: dict[str, list[float]] = stats) -> float:
            values = np.asarray(stats[key], dtype=float)
            n = min(values.size, mask.size)
            window = values[:n][mask[:n]] if n else values[:0]
            window = window[np.isfinite(window)]
            return float(np.median(window)) if window.size else math.nan

        activation = str(info.get("activation", "?"))
        softmax = activation == "softmax"
        softmax_layers += [name] if softmax else []
        rows.append(
            [
                name,
                activation,
                info.get("units", ""),
                med("mean_abs_delta"),
                med("grad_norm"),
                med("weight_norm"),
                med("update_ratio"),
                # a softmax output's "saturation" is confidence, not a problem (see below)
                math.nan if softmax else med("saturated_fraction"),
                med("dead_fraction"),
                med("activation_mean"),
                med("activation_std"),
            ]
        )
    headers = [
        t("layer"),
        t("activation"),
        t("units"),
        t("mean |δ|"),
        "‖∂C/∂W‖",
        "‖W‖",
        "‖ΔW‖/‖W‖",
        t("saturated"),
        t("dead"),
        t("mean a"),
        t("std a"),
    ]
    caption = t(
        "Medians over the samples of the last epoch (telemetry every {every} steps); — where "
        "a statistic does not apply to the layer (dead: ReLU units only)."
    ).format(every=tel.every)
    if softmax_layers:
        caption += t(
            " Saturation is not judged for the softmax output ({layers}): with cross-entropy "
            "its error is δᴸ = aᴸ − y, with no σ'(z) factor, so an output near 0 or 1 is a "
            "confident prediction that still learns, not a stuck unit."
        ).format(layers=", ".join(softmax_layers))
    return _table(headers, rows, left=2) + _note(caption)


_CONFIG_LABELS = {
    "epochs": N_("epochs"),
    "batch_size": N_("batch_size"),
    "steps": N_("steps per epoch"),
    "samples": N_("training samples"),
}


def _config_section(history: Any, model: Any) -> str:
    rows: list[list[Any]] = []
    opt = getattr(model, "optimizer", None)
    if opt is not None:
        try:
            config = opt.get_config()
            text = ", ".join(f"{k}={v}" for k, v in config.items())
        except Exception:
            text = repr(opt)
        rows.append([t("optimizer"), f"{type(opt).__name__}({text})"])
    loss = getattr(model, "loss", None)
    if loss is not None:
        rows.append([t("loss"), str(getattr(loss, "name", loss))])
    metrics = getattr(model, "metric_specs", None)
    if metrics:
        rows.append([t("metrics"), ", ".join(str(getattr(m, "name", m)) for m in metrics)])
    params = dict(getattr(history, "params", {}) or {})
    for key in ("epochs", "batch_size", "steps", "samples"):
        if key in params:
            rows.append([t(_CONFIG_LABELS[key]), str(params[key])])
    tel = getattr(history, "telemetry", None)
    every = t("every {n} steps").format(n=tel.every) if tel is not None else t("off")
    rows.append([t("telemetry"), every])
    if hasattr(model, "count_params"):
        rows.append([t("parameters"), f"{model.count_params():,}"])
    config = getattr(history, "config", None)
    if isinstance(config, dict):
        for key, value in config.items():
            rows.append([str(key), str(value)])
    parts = [_table([t("setting"), t("value")], rows, left=2)]
    summary = None
    if hasattr(model, "summary"):
        try:
            printed: list[str] = []
            model.summary(print_fn=printed.append)  # returns None, as Keras's does
            summary = "\n".join(printed)
        except Exception:
            summary = None
    if summary:
        parts.append(f"<pre>{_e(summary)}</pre>")
    return "\n".join(parts)


def _backprop_function() -> Callable[..., Any]:
    try:
        from ..explain import backprop  # type: ignore[attr-defined]
    except ImportError:
        from ..explain.trace import backprop
    return backprop  # type: ignore[no-any-return]


def _markdown_to_html(text: str) -> str | None:
    try:
        import markdown
    except ImportError:
        return None
    return str(markdown.markdown(text, extensions=["tables", "fenced_code"]))


def _trace_section(model: Any, x: Any, y: Any) -> str:
    if x is None or y is None:
        return _note(
            t("No test data was given (report(..., x=x_test, y=y_test)), so no sample is traced.")
        )
    try:
        backprop = _backprop_function()
    except ImportError as exc:
        return _note(
            t(
                "The backpropagation trace needs glassnet.explain, which is not available "
                "here ({error})."
            ).format(error=exc)
        )
    try:
        trace = backprop(model, np.asarray(x)[0], np.asarray(y)[0])
    except GlassnetError as exc:
        return _note(
            t("This model cannot be traced through the four equations: {error}").format(error=exc)
        )
    except Exception as exc:
        warnings.warn(
            f"report: explain.backprop failed: {type(exc).__name__}: {exc}",
            RuntimeWarning,
            stacklevel=3,
        )
        error = f"{type(exc).__name__}: {exc}"
        return _note(t("The trace could not be computed ({error}).").format(error=error))
    trace.lang = i18n.current()
    intro = "<p>{}</p>".format(
        _e(
            t(
                "The first test sample, traced through the forward pass and the four "
                "equations BP1–BP4 with the trained weights (seeds 000 and 001)."
            )
        )
    )
    errors = []
    try:
        fragment = trace.to_html(full_page=False)
        return f'{intro}<div class="trace">{fragment}</div>'
    except Exception as exc:
        errors.append(f"to_html: {type(exc).__name__}: {exc}")
    try:
        rendered = _markdown_to_html(trace.to_markdown())
        if rendered is not None:
            return f'{intro}<div class="trace">{rendered}</div>'
        errors.append("to_markdown: the markdown package is not installed")
    except Exception as exc:
        errors.append(f"to_markdown: {type(exc).__name__}: {exc}")
    try:
        return f'{intro}<pre class="trace">{_e(trace.to_text())}</pre>'
    except Exception as exc:
        errors.append(f"to_text: {type(exc).__name__}: {exc}")
    return _note(
        t("The trace was computed but could not be rendered ({errors}).").format(
            errors="; ".join(errors)
        )
    )


def _conv_section(model: Any, history: Any, x: Any) -> str | None:
    """The filters and feature maps of a convnet (conv_report.py); a failure becomes a note."""
    from .conv_report import conv_section

    try:
        return conv_section(model, history, x)
    except Exception as exc:
        warnings.warn(
            f"report: the convolution section failed: {type(exc).__name__}: {exc}",
            RuntimeWarning,
            stacklevel=3,
        )
        return _note(f"The filters could not be drawn ({type(exc).__name__}: {exc}).")


def _is_classifier(model: Any) -> bool:
    loss = getattr(model, "loss", None)
    return loss is not None and "crossentropy" in str(getattr(loss, "name", ""))


# ---------------------------------------------------------------------------------------------
# the page
# ---------------------------------------------------------------------------------------------
def render_report(
    history: Any,
    model: Any,
    x: Any = None,
    y: Any = None,
    title: str | None = None,
    class_names: Sequence[str] | None = None,
    lang: str | None = None,
) -> str:
    """The report's HTML text (``report`` writes it to a file); ``lang``: "en" or "zh"."""
    with i18n.using(lang):
        return _render_report(history, model, x, y, title, class_names)


def _block_findings(history: Any, model: Any, x: Any, known: list[Any]) -> list[Any]:
    """With test data, the doctor's verdict on the filters of the model's Conv → BN →
    Activation blocks (judged after the activation on x), unless the run's doctor already
    judged them."""
    from .conv_rules import bn_blocks
    from .doctor import diagnose

    if x is None or not bn_blocks(model):
        return []
    rules = ["dead_filters", "saturated_filters"]
    found = diagnose(history, model, rules=rules, lang=i18n.current(), x=x)
    seen = {(f.rule, f.layer) for f in known}
    return [f for f in found if (f.rule, f.layer) not in seen]


def _render_report(
    history: Any,
    model: Any,
    x: Any,
    y: Any,
    title: str | None,
    class_names: Sequence[str] | None,
) -> str:
    from . import plots
    from .doctor import diagnose

    findings = list(getattr(history, "findings", None) or [])
    ran_diagnose = False
    if not findings:
        findings = diagnose(history, model, lang=i18n.current())
        ran_diagnose = bool(findings)
    elif any(getattr(f, "lang", "en") != i18n.current() for f in findings):
        # The doctor spoke another language while training: the same rules, replayed in this
        # one, find the same things.
        rules = sorted({f.rule for f in findings})
        findings = diagnose(history, model, rules=rules, lang=i18n.current()) or findings
    findings += _block_findings(history, model, x, findings)
    test, test_error = _evaluate(model, x, y)
    figures = _Figures()
    tel = getattr(history, "telemetry", None)
    name = getattr(model, "name", None) or type(model).__name__
    title = title or t("Training report: {name}").format(name=name)
    now = _dt.datetime.now().isoformat(timespec="seconds")
    try:
        from .._version import __version__ as version
    except ImportError:  # pragma: no cover - during package initialisation
        version = "?"

    sections: list[tuple[str, str, str]] = []
    summary = _summary_section(history, model, test, test_error)
    sections.append(("summary", t("Summary"), summary))
    sections.append(("findings", t("Doctor's findings"), _findings_section(findings, ran_diagnose)))

    has_validation = any(k.startswith("val_") for k in getattr(history, "history", {}))
    curves = [
        figures.draw(
            lambda: plots.loss_curves(history),
            t("Loss and metrics per epoch: training (solid) against validation (dashed)")
            if has_validation
            else t(
                "Loss and metrics per epoch on the training data (the run had no validation "
                "data: fit(..., validation_split=0.1) adds it)"
            ),
        )
    ]
    if tel is not None and len(tel.step_loss):
        curves.append(
            figures.draw(
                lambda: plots.step_losses(history),
                t("Loss at every mini-batch step (a divergence shows here before the epoch ends)"),
            )
        )
        curves.append(
            figures.draw(
                lambda: plots.learning_rate(history), t("Learning rate α used at every step")
            )
        )
    curves.append(f"<h3>{_e(t('Per-epoch values'))}</h3>" + _epoch_table(history))
    sections.append(("curves", t("Training curves"), "\n".join(c for c in curves if c)))

    layers = [_layer_table(history)]
    if tel is not None and tel.layers:
        layers.append(
            figures.draw(
                lambda: plots.gradient_norms(history),
                t(
                    "Per layer: ‖∂C/∂W‖ (BP4) and the update ratio ‖ΔW‖/‖W‖ (a healthy run is "
                    "near 1e-3)"
                ),
            )
        )
        layers.append(
            figures.draw(
                lambda: plots.layer_health(history),
                t(
                    "Per layer: saturated units (σ'(z) ≈ 0 stops δ, BP1/BP2) and dead ReLUs "
                    "(a = 0 stops ∂C/∂w, BP4)"
                ),
            )
        )
    sections.append(("layers", t("Inside the layers"), "\n".join(p for p in layers if p)))

    model_parts = [
        figures.draw(
            lambda: plots.weight_histograms(model),
            t("Distribution of each Dense layer's weights Wˡ"),
        )
    ]
    if x is not None and y is not None and _is_classifier(model):
        names = list(class_names) if class_names else None
        x_arr = np.asarray(x)
        if x_arr.ndim == 2 and x_arr.shape[1] == 2:
            model_parts.append(
                figures.draw(
                    lambda: plots.decision_boundary(model, x_arr, y, class_names=names),
                    t("Decision boundary over the test data (seed 003's picture of a classifier)"),
                )
            )
        model_parts.append(
            figures.draw(
                lambda: plots.confusion_matrix(
                    y, model.predict(x, batch_size=256), class_names=names
                ),
                t("Confusion matrix on the test data"),
            )
        )
    sections.append(("model", t("The trained model"), "\n".join(p for p in model_parts if p)))
    convolutions = _conv_section(model, history, x)
    if convolutions is not None:
        sections.append(("filters", t("Convolution filters and feature maps"), convolutions))
    sections.append(("config", t("Configuration"), _config_section(history, model)))
    trace = _trace_section(model, x, y)
    sections.append(("trace", t("Backpropagation of one test sample"), trace))

    if figures.missing_matplotlib is not None:
        sections[2] = (
            sections[2][0],
            sections[2][1],
            _note(t("Plots are not included: {reason}.").format(reason=figures.missing_matplotlib))
            + sections[2][2],
        )

    nav = "".join(f'<a href="#{sid}">{_e(label)}</a>' for sid, label, _ in sections)
    body = "\n".join(
        f'<section id="{sid}"><h2>{_e(label)}</h2>\n{content}\n</section>'
        for sid, label, content in sections
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{i18n.current()}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="glassnet {_e(version)}">\n'
        f"<title>{_e(title)}</title>\n<style>{_STYLE}{CONV_STYLE}</style>\n</head>\n<body>\n<main>\n"
        f"<header><h1>{_e(title)}</h1>"
        + '<p class="sub">'
        + _e(
            t(
                "Written by glassnet {version} on {when}. This page is self-contained and "
                "opens offline."
            ).format(version=version, when=now)
        )
        + "</p></header>\n"
        f"<nav>{nav}</nav>\n{body}\n"
        "<footer>glassnet.diagnostics.report &middot; "
        + _e(t("rules and thresholds: docs/diagnostics.md"))
        + "</footer>\n</main>\n</body>\n</html>\n"
    )


def report(
    history: Any,
    model: Any,
    path: str | os.PathLike[str],
    x: Any = None,
    y: Any = None,
    title: str | None = None,
    class_names: Sequence[str] | None = None,
    lang: str | None = None,
) -> Path:
    """Write the training report of ``history`` (what fit returned) and ``model`` to ``path``
    (.html), atomically, and return the path.

    ``x``, ``y``: test data (optional; (N, ...) inputs and their labels/targets): the page then
    shows the test metrics, a confusion matrix (classifiers), the decision boundary (2-D
    inputs) and the backpropagation trace of the sample (x[0], y[0]). The doctor's findings
    are ``history.findings``, or ``diagnose(history, model)`` when the run had no Doctor.
    ``class_names``: the classes' names (e.g. Fashion-MNIST's "T-shirt/top", …) for the
    confusion matrix and the decision boundary; default 0, 1, ….
    ``lang``: "en" (default) or "zh" — the page, its plots, the findings and the trace.
    """
    from ..io.atomic import atomic_write_text

    where = "report"
    if not hasattr(history, "history") or not hasattr(history, "epoch"):
        raise InvalidArgumentError(
            f"{where}: history must be the History returned by fit, received {describe(history)}"
        )
    if model is None or not hasattr(model, "parameters"):
        raise InvalidArgumentError(
            f"{where}: model must be the trained glassnet model, received {describe(model)}"
        )
    target = Path(os.fspath(path))
    if target.suffix.lower() not in (".html", ".htm"):
        raise InvalidArgumentError(
            f"{where}: path must end in .html or .htm, received path={os.fspath(path)!r}"
        )
    if target.is_dir():
        raise InvalidArgumentError(
            f"{where}: path {os.fspath(path)!r} is a directory; expected "
            f"a file name ending in .html"
        )
    if (x is None) != (y is None):
        raise InvalidArgumentError(
            f"{where}: give both x and y (the test data) or neither, "
            f"received x={describe(x)} and y={describe(y)}"
        )
    if x is not None and len(np.asarray(x)) != len(np.asarray(y)):
        raise ShapeError(
            f"{where}: x and y must have the same number of samples, received "
            f"{len(np.asarray(x))} and {len(np.asarray(y))}"
        )
    if x is not None and len(np.asarray(x)) == 0:
        raise InvalidArgumentError(f"{where}: x is empty; expected at least one test sample")
    if class_names is not None and (
        isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names)
    ):
        raise InvalidArgumentError(
            f"{where}: class_names must be a list of strings, received {describe(class_names)}"
        )
    lang = i18n.check_lang(lang)
    text = render_report(history, model, x, y, title, class_names, lang)
    atomic_write_text(target, text)
    return target
