"""``diagram(trace)``: the network drawn neuron by neuron as SVG, without Graphviz.

Each layer is a column of neurons (the input on the left, as the seeds draw it); a neuron
shows its activation a (and z) in ``show="values"``, its error δ in ``show="gradients"``;
each edge shows its weight w, or ∂C/∂w. Sized for a slide (``width`` pixels, 1200 by
default); layers with more than ``max_neurons`` neurons show their first and last ones around
a "⋮", and edge labels are left out when there are too many edges to read. Labels follow
the notation preset (``notation="seed004"`` writes i1, h1, o1 and w1…w8).
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from .. import i18n
from ..errors import InvalidArgumentError
from ..i18n import N_, t
from . import presets
from .conv import ConvTrace
from .notation import Style, fmt_number, to_inline_text

__all__ = ["diagram", "SVG"]

_NODE_R = 30
# DejaVu for Latin and Greek; a CJK font for the Chinese captions (Debian's fonts-noto-cjk).
_FONTS = "DejaVu Sans, Helvetica, Noto Sans CJK SC, Source Han Sans SC, sans-serif"
_SHOW = {"values": N_("values"), "gradients": N_("gradients")}
_ROLES = {"input": N_("input"), "hidden": N_("hidden"), "output": N_("output")}


def _shown(n: int, limit: int) -> list[int | None]:
    """Neuron indices to draw (None: the "⋮" gap)."""
    if n <= limit:
        return list(range(n))
    head = (limit - 1) // 2
    return list(range(head)) + [None] + list(range(n - (limit - 1 - head), n))


def _name(l: int, j: int) -> str:
    """A neuron's name in the current preset: a²₁, or seed 004's h1."""
    preset, L = presets.current()
    if preset.style == "seed004":
        letter = "i" if l == 0 else ("o" if l == L else "h")
        return f"{letter}{j + 1}"
    sym = presets.symbol("a", l, str(j + 1))
    return to_inline_text(sym, Style())


def _weight_name(trace: Any, l: int, j: int, k: int) -> str:
    preset, _ = presets.current()
    if preset.style == "seed004":
        return f"w{trace.weight_number(l, j + 1, k + 1)}"
    sub = f"{j + 1}{k + 1}" if j < 9 and k < 9 else f"{j + 1},{k + 1}"
    return to_inline_text(presets.symbol("w", l, sub), Style())


def diagram(
    trace: Any,
    show: str = "values",
    width: int = 1200,
    max_neurons: int = 8,
    precision: int = 4,
    notation: str | None = None,
    lang: str | None = None,
) -> SVG:
    """The network of ``trace`` (a BackpropTrace, or a ForwardTrace for ``show="values"``) as
    an SVG document: values (a, z; w) or gradients (δ; ∂C/∂w) on neurons and edges.
    ``lang``: "en" or "zh" for the layers' captions (default the trace's language)."""
    if show not in ("values", "gradients"):
        raise InvalidArgumentError(
            f"diagram: show must be 'values' or 'gradients', received show={show!r}"
        )
    if show == "gradients" and not hasattr(trace, "delta_rule"):
        raise InvalidArgumentError(
            "diagram: show='gradients' needs a backprop trace (a forward trace has no δ)"
        )
    if isinstance(trace, ConvTrace):  # feature maps and kernels, not neurons and edges
        raise InvalidArgumentError(
            "diagram: trace must be the trace of a chain of Dense layers, received a "
            "convolution trace (ConvTrace), whose maps and kernels trace.to_html() shows"
        )
    if isinstance(width, bool) or not isinstance(width, int) or width < 300:
        raise InvalidArgumentError(f"diagram: width must be an integer ≥ 300, received {width!r}")
    chosen = presets.get(notation if notation is not None else getattr(trace, "notation", None))
    language = i18n.check_lang(lang if lang is not None else getattr(trace, "lang", None))
    with presets.using(chosen, trace.L), i18n.using(language):
        return SVG(_draw(trace, show, width, max_neurons, precision))


class SVG(str):
    """An SVG document: a plain ``str`` (write it to a file, embed it) that a notebook shows
    as the picture rather than as its source."""

    __slots__ = ()

    def _repr_svg_(self) -> str:
        return str(self)


def _sample(arr: np.ndarray) -> np.ndarray:
    """One sample's values (the first, for a batch)."""
    a = np.asarray(arr, dtype=np.float64)
    return a[0] if a.ndim > 1 else a


def _draw(trace: Any, show: str, width: int, max_neurons: int, precision: int) -> str:
    fmt = lambda v: fmt_number(float(v), precision)  # noqa: E731
    sizes = [trace.layers[0].in_features] + [lt.units for lt in trace.layers]
    columns = [_shown(n, max_neurons) for n in sizes]
    tallest = max(len(c) for c in columns)
    gap_y = 120
    height = 110 + gap_y * tallest
    margin = 90
    step_x = (width - 2 * margin) / max(len(sizes) - 1, 1)
    xs = [margin + i * step_x for i in range(len(sizes))]

    def y_of(column: list[int | None], pos: int) -> float:
        top = 70 + (tallest - len(column)) * gap_y / 2
        return top + pos * gap_y + gap_y / 2

    where = {}
    for l, column in enumerate(columns):
        for pos, j in enumerate(column):
            where[(l, j)] = (xs[l], y_of(column, pos))
    edges = sum(len([j for j in a if j is not None]) * len([k for k in b if k is not None])
                for a, b in zip(columns[1:], columns[:-1]))  # fmt: skip
    label_edges = edges <= 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{_FONTS}" '
        f'role="img" xml:lang="{i18n.current()}">',
        f"<title>{html.escape(trace.describe())} — {html.escape(t(_SHOW[show]))}</title>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
    ]
    # ---- edges (under the neurons) ---------------------------------------------------------
    for l in range(1, len(sizes)):
        lt = trace.layers[l - 1]
        values = lt.W if show == "values" else lt.grad_W
        for j in columns[l]:
            for k in columns[l - 1]:
                if j is None or k is None:
                    continue
                (x1, y1), (x2, y2) = where[(l - 1, k)], where[(l, j)]
                v = float(values[j, k])
                scale = float(np.max(np.abs(values))) or 1.0
                colour = "#b3261e" if v < 0 else "#1d4ed8"
                thick = 0.6 + 2.4 * abs(v) / scale
                parts.append(
                    f'<line x1="{x1 + _NODE_R:.1f}" y1="{y1:.1f}" x2="{x2 - _NODE_R:.1f}" '
                    f'y2="{y2:.1f}" stroke="{colour}" stroke-opacity="0.55" '
                    f'stroke-width="{thick:.2f}"/>'
                )
                if label_edges:
                    # crossing edges: one label near its source, the other near its target
                    frac = 0.5 if j == k else (0.22 if j > k else 0.78)
                    lx, ly = x1 + _NODE_R + frac * (x2 - x1 - 2 * _NODE_R), y1 + frac * (y2 - y1)
                    name = _weight_name(trace, l, j, k)
                    cost = presets.cost_symbol().base
                    text = (
                        f"{name} = {fmt(v)}" if show == "values" else f"∂{cost}/∂{name} = {fmt(v)}"
                    )
                    parts.append(
                        f'<text x="{lx:.1f}" y="{ly - 4:.1f}" font-size="14" text-anchor="middle" '
                        f'fill="{colour}" paint-order="stroke" stroke="#ffffff" stroke-width="4">'
                        f"{html.escape(text)}</text>"
                    )
    # ---- neurons -------------------------------------------------------------------------------
    for l, column in enumerate(columns):
        role = "input" if l == 0 else ("output" if l == len(sizes) - 1 else "hidden")
        title = t("layer {n} ({role}, {units})").format(
            n=presets.current()[0].layer(l), role=t(_ROLES[role]), units=sizes[l]
        )
        # The outer captions are aligned with the outer edge of their neurons, so that a long
        # one (Chinese, or a wide layer) stays inside the picture.
        x, anchor = xs[l], "middle"
        if l == 0 and len(sizes) > 1:
            x, anchor = xs[l] - _NODE_R, "start"
        elif l == len(sizes) - 1 and len(sizes) > 1:
            x, anchor = xs[l] + _NODE_R, "end"
        parts.append(
            f'<text x="{x:.1f}" y="34" font-size="17" font-weight="bold" '
            f'text-anchor="{anchor}" fill="#1b1f24">{html.escape(title)}</text>'
        )
        for pos, j in enumerate(column):
            x, y = xs[l], y_of(column, pos)
            if j is None:
                parts.append(
                    f'<text x="{x:.1f}" y="{y + 8:.1f}" font-size="28" text-anchor="middle" '
                    f'fill="#57606a">⋮</text>'
                )
                continue
            lines = [_name(l, j)]
            if l == 0:
                lines.append(f"{fmt(_sample(trace.layers[0].a_prev)[j])}")
            elif show == "values":
                lt = trace.layers[l - 1]
                lines.append(f"a={fmt(_sample(lt.a)[j])}")
                lines.append(f"z={fmt(_sample(lt.z)[j])}")
            else:
                lines.append(f"δ={fmt(_sample(trace.layers[l - 1].delta)[j])}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{_NODE_R}" fill="#f6f8fa" '
                f'stroke="#1b1f24" stroke-width="1.5"/>'
            )
            parts.append(
                f'<text x="{x:.1f}" y="{y + 5:.1f}" font-size="16" font-weight="bold" '
                f'text-anchor="middle" fill="#1b1f24">{html.escape(lines[0])}</text>'
            )
            for i, line in enumerate(lines[1:]):
                parts.append(
                    f'<text x="{x:.1f}" y="{y + _NODE_R + 17 + 16 * i:.1f}" font-size="14" '
                    f'text-anchor="middle" fill="#1b1f24" paint-order="stroke" stroke="#ffffff" '
                    f'stroke-width="4">{html.escape(line)}</text>'
                )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
