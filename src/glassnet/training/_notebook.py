"""What a Jupyter notebook shows: HTML tables, small SVG line charts, a display updated in place.

Everything here is plain strings of HTML and SVG with inline styles: no script, no stylesheet
or font from the network, so a notebook renders it offline and keeps it when saved. IPython is
never imported by this module: a kernel has always imported it already, so ``in_notebook``
looks for it in ``sys.modules``, and ``LiveDisplay`` imports ``IPython.display`` only when it
is used (only inside a kernel).

The objects that use these helpers (``Model``, ``History``, the doctor's findings, the
learning-rate finder's result, fit's progress bar) each keep their numbers in one place; only
the rendering is here.
"""

from __future__ import annotations

import html
import io
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "in_notebook",
    "box",
    "escape",
    "html_table",
    "line_chart",
    "LiveDisplay",
    "enable_figure_display",
]

#: the box every glassnet display sits in: the notebook's own font, small and left-aligned
BOX_STYLE = "font-family:inherit;font-size:13px;line-height:1.4;text-align:left"
_CELL = "padding:2px 10px;text-align:{align};border-bottom:1px solid #ddd;white-space:nowrap"
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")


def box(kind: str) -> str:
    """The opening tag every glassnet display sits in. The classes ask Jupyter's MathJax to
    leave its text alone (a layer named "$x$" is a name, not math)."""
    return f'<div class="glassnet-{kind} tex2jax_ignore mathjax_ignore" style="{BOX_STYLE}">'


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (notebook, JupyterLab, VS Code, Colab).

    A kernel's shell is ipykernel's ``ZMQInteractiveShell`` (or a subclass, as Colab's); the
    terminal IPython shell is not, and plain Python has not imported IPython at all.
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 - a half-imported or unusual IPython: not a kernel
        return False
    if shell is None:
        return False
    return any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)


def escape(text: Any) -> str:
    """``text`` safe inside HTML content and attribute values."""
    return html.escape(str(text), quote=True)


def html_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: Sequence[int] = (),
    footer: Sequence[str] = (),
) -> str:
    """A table of plain-text cells (all escaped here); columns in ``right`` align right
    (numbers); ``footer`` lines follow the table in small text."""

    def cell(tag: str, i: int, text: str) -> str:
        style = _CELL.format(align="right" if i in right else "left")
        return f'<{tag} style="{style}">{escape(text)}</{tag}>'

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    table = (
        '<table style="border-collapse:collapse;margin:4px 0">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )
    notes = "".join(f'<div style="color:#555">{escape(line)}</div>' for line in footer)
    return table + notes


# ---------------------------------------------------------------------------------------------
# A line chart in SVG
# ---------------------------------------------------------------------------------------------
def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """About ``count`` round values between low and high."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    unit = 10 ** math.floor(math.log10(raw))
    step = next(m * unit for m in (1, 2, 5, 10) if m * unit >= raw)
    first = math.ceil(low / step) * step
    ticks = [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]
    return ticks if len(ticks) >= 2 else [low, high]


def _tick_text(value: float, log: bool) -> str:
    if log:
        return f"1e{int(round(value))}"
    return f"{value:.3g}"


def _segments(xs: Sequence[float], ys: Sequence[float]) -> list[list[tuple[float, float]]]:
    """The finite points, split where a value is NaN or infinite (the line has a gap)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(xs, ys):
        if math.isfinite(x) and math.isfinite(y):
            runs[-1].append((x, y))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def line_chart(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    x_label: str,
    y_label: str = "",
    log_x: bool = False,
    marker: tuple[float, str] | None = None,
    y_range: tuple[float, float] | None = None,
    light: Sequence[str] = (),
    width: int = 360,
    height: int = 220,
) -> str:
    """An inline SVG chart: one line per ``name → (xs, ys)`` (names starting ``val_`` dashed),
    a legend, axes with a few ticks, and an optional vertical ``marker`` (x, label);
    ``y_range`` (low, high) fixes the vertical axis (lines beyond it are cut at the plot's
    edge: a divergence's last values); series named in ``light`` are drawn faint."""
    left, right, top, bottom = 52, 12, 10, 38
    legend_h = 16 * len(series)
    plot_w, plot_h = width - left - right, height - top - bottom
    height += legend_h

    def xv(x: float) -> float:
        return math.log10(x) if log_x and x > 0 else (math.nan if log_x else x)

    lines = {name: _segments([xv(x) for x in xs], list(ys)) for name, (xs, ys) in series.items()}
    points = [p for runs in lines.values() for run in runs for p in run]
    title = escape(y_label or ", ".join(series))
    parts = [
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" style="font:11px sans-serif">'
        f"<title>{title} against {escape(x_label)}</title>"
    ]
    if not points:
        parts.append(f'<text x="{left}" y="{top + 20}">no finite values to draw</text></svg>')
        return "".join(parts)
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    if y_range is not None:
        y0, y1 = y_range
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        pad = abs(y0) * 0.1 or 1.0
        y0, y1 = y0 - pad, y1 + pad

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * plot_h

    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>'
    )
    for t in _ticks(y0, y1):
        parts.append(
            f'<line x1="{left - 4}" x2="{left}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#999"/>'
            f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{_tick_text(t, False)}'
            "</text>"
        )
    x_ticks = _ticks(math.ceil(x0), math.floor(x1), 5) if log_x else _ticks(x0, x1, 5)
    for t in x_ticks:
        parts.append(
            f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}"'
            f' stroke="#999"/><text x="{px(t):.1f}" y="{top + plot_h + 16}" '
            f'text-anchor="middle">{_tick_text(t, log_x)}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 32}" text-anchor="middle">'
        f"{escape(x_label)}{' (log scale)' if log_x else ''}</text>"
    )
    # The lines go in a nested <svg> of the plot's size, which clips them at its edges (no
    # clipPath: its id could clash with another chart's in the same notebook).
    parts.append(f'<svg x="{left}" y="{top}" width="{plot_w}" height="{plot_h}">')
    legend = []
    for i, (name, runs) in enumerate(lines.items()):
        colour = _PALETTE[i % len(_PALETTE)]
        dash = ' stroke-dasharray="6,3"' if name.startswith("val_") else ""
        faint = ' stroke-opacity="0.35" fill-opacity="0.35"' if name in light else ""
        for run in runs:
            if len(run) == 1:
                x, y = run[0]
                parts.append(
                    f'<circle cx="{px(x) - left:.1f}" cy="{py(y) - top:.1f}" r="2.5" '
                    f'fill="{colour}"{faint}/>'
                )
            else:
                coords = " ".join(f"{px(x) - left:.1f},{py(y) - top:.1f}" for x, y in run)
                parts.append(
                    f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                    f'stroke-width="1.6"{dash}{faint}/>'
                )
        ly = top + plot_h + 44 + 16 * i
        legend.append(
            f'<line x1="{left}" x2="{left + 22}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" '
            f'stroke-width="1.6"{dash}{faint}/><text x="{left + 28}" y="{ly}">{escape(name)}'
            "</text>"
        )
    parts.append("</svg>")
    parts += legend
    if marker is not None and math.isfinite(xv(marker[0])):
        mx = px(xv(marker[0]))
        # The label on the side of the line with room for it.
        label_x, anchor = (mx + 4, "start") if mx < left + plot_w / 2 else (mx - 4, "end")
        parts.append(
            f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#444" '
            f'stroke-dasharray="2,3"/><text x="{label_x:.1f}" y="{top + 12}" '
            f'text-anchor="{anchor}">{escape(marker[1])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# In a kernel: a display updated in place, and matplotlib figures shown as PNG
# ---------------------------------------------------------------------------------------------
class LiveDisplay:
    """One HTML output of the running cell, replaced by each ``update`` (IPython's
    ``display(..., display_id=True)``; no ipywidgets). Create it only inside a kernel."""

    def __init__(self, first: str) -> None:
        from IPython.display import HTML, display

        self._html = HTML
        self._handle = display(HTML(first), display_id=True)

    def update(self, text: str) -> None:
        self._handle.update(self._html(text))


def _figure_png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def enable_figure_display() -> None:
    """In a kernel, let a matplotlib Figure left as a cell's value show as a PNG.

    glassnet draws on the Agg canvas without pyplot, so matplotlib's inline backend (which
    registers this display only once pyplot has drawn something) may not be active; a
    display the user or the inline backend has set up (SVG, retina) is left alone.
    """
    if not in_notebook():
        return
    from IPython import get_ipython

    shell = get_ipython()
    formatters = shell.display_formatter.formatters
    from matplotlib.figure import Figure

    for formatter in formatters.values():
        try:
            formatter.lookup_by_type(Figure)
            return  # already shown some way
        except KeyError:
            continue
    formatters["image/png"].for_type(Figure, _figure_png)
