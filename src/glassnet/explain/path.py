"""One weight's story: ∂C/∂w^l_jk as a sum, over every path from w^l_jk to C, of the product
of the local derivatives along it (seed 004; seed 003's "downstream = upstream × local").

A weight of the output layer reaches C along one path:

    ∂E/∂w5 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5

A hidden weight reaches C through every neuron of every later layer, and the paths add up —
seed 004's w1 goes through out_h1 and then both output neurons:

    ∂E/∂w1 = (∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂out_h1
              + ∂E/∂out_o2 · ∂out_o2/∂net_o2 · ∂net_o2/∂out_h1) · ∂out_h1/∂net_h1 · ∂net_h1/∂w1

The total equals BP4's a^{l−1}_k δ^l_j. When there are more paths than ``max_paths`` they
are grouped by the neurons of layer l + 1: each group's first factor is δ^{l+1}_p = ∂C/∂z^{l+1}_p,
which BP2 has already summed over everything beyond.

Indices are 1-based as in w^l_jk; the code's array index is ``W[j − 1, k − 1]``.
"""

from __future__ import annotations

import contextlib
import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import i18n
from ..errors import InvalidArgumentError
from ..i18n import N_, t
from ..nn.losses import Quadratic
from . import presets
from .notation import (
    ROW_BREAK,
    Expr,
    Frac,
    Num,
    Op,
    Row,
    Style,
    Sym,
    prose,
    to_inline_text,
    to_latex,
    to_mathml,
)

if TYPE_CHECKING:
    from .trace import BackpropTrace

__all__ = ["WeightPath", "PathTerm", "Factor", "Names", "weight_path"]

STYLES = ("seeds", "net/out")


def _note(text: str, style: Style, kind: str) -> str:
    """A note with its symbols (δ^{l+1}_p) as real scripts in ``kind``: text, markdown, html."""
    out = []
    for part in prose(text):
        if isinstance(part, str):
            out.append(html.escape(part) if kind == "html" else part)
        elif kind == "html":
            out.append(to_mathml(part, style))
        elif kind == "markdown":
            out.append(f"${to_latex(part, style)}$")
        else:
            out.append(to_inline_text(part, style))
    return "".join(out)


class Names:
    """Symbols for a trace: the seeds' (C, z^l_j, a^l_j, w^l_jk) or seed 004's (E, net, out)."""

    def __init__(
        self, trace: BackpropTrace, style: str = "seeds", preset: presets.Preset | None = None
    ) -> None:
        if style not in STYLES:
            raise InvalidArgumentError(
                f"path: style must be one of {', '.join(STYLES)}, received style={style!r}"
            )
        self.trace = trace
        self.style = style
        #: the notation preset the symbols are written in (None: whichever is current when
        #: they are asked for); kept so that a story renders later in the notation it was made in
        self.preset = preset

    def _preset(self) -> contextlib.AbstractContextManager[Any]:
        if self.preset is None:
            return contextlib.nullcontext()
        return presets.using(self.preset, self.trace.L)

    def _unit(self, l: int, j: int) -> str:
        if l == 0:
            return f"i{j}"
        if l == self.trace.L:
            return f"o{j}"
        return f"h{j}" if self.trace.L == 2 else f"h{l}.{j}"

    # The "seeds" style writes layers as the current notation preset does (w²₁₁, or w³₁₁ in
    # seed 000's count, w⁽³⁾₁₁ in seed 001's).
    def cost(self) -> Sym:
        if self.style == "net/out":
            return Sym("E")
        with self._preset():
            return presets.cost_symbol()

    def z(self, l: int, j: int) -> Sym:
        if self.style == "net/out":
            return Sym("net", sub=self._unit(l, j))
        with self._preset():
            return presets.symbol("z", l, str(j))

    def a(self, l: int, j: int) -> Sym:
        if self.style == "net/out":
            return Sym("i", sub=str(j)) if l == 0 else Sym("out", sub=self._unit(l, j))
        with self._preset():
            return presets.symbol("a", l, str(j))

    def w(self, l: int, j: int, k: int) -> Sym:
        if self.style == "net/out":
            return Sym(f"w{self.trace.weight_number(l, j, k)}")
        sub = f"{j}{k}" if j < 10 and k < 10 else f"{j},{k}"
        with self._preset():
            return presets.symbol("w", l, sub)

    def target(self, j: int) -> Sym:
        if self.style == "net/out":
            return Sym("target", sub=self._unit(self.trace.L, j))
        return Sym("y", sub=str(j))

    def delta(self, l: int, j: int) -> Sym:
        with self._preset():
            return presets.symbol("δ", l, str(j))

    def partial(self, num: Expr, den: Expr) -> Frac:
        return Frac(Row([Sym("∂"), num]), Row([Sym("∂"), den]))


@dataclass
class Factor:
    """One local derivative on a path: its label (a fraction), what it equals, its value."""

    label: Expr
    meaning: Expr
    value: float


@dataclass
class PathTerm:
    """One path from the weight to C: the chain of nodes and the product of its factors."""

    nodes: list[Expr]
    factors: list[Factor]
    grouped: bool = False

    @property
    def value(self) -> float:
        """The product of the factors."""
        return float(math.prod(f.value for f in self.factors))


@dataclass
class SamplePaths:
    """The paths for one sample x, and their sum ∂C_x/∂w."""

    sample: int
    terms: list[PathTerm]
    a_prev_k: float
    delta_j: float

    @property
    def total(self) -> float:
        """Σ over paths of the products (= a^{l−1}_k δ^l_j by BP4)."""
        return float(sum(t.value for t in self.terms))


@dataclass
class WeightPath:
    """∂C/∂w^l_jk written out path by path (see the module docstring).

    ``l``, ``j``, ``k`` are 1-based; ``value`` is the sum over paths (averaged over samples
    for a batch) and equals ``grad`` = trace.layer(l).grad_W[j − 1, k − 1].
    """

    l: int
    j: int
    k: int
    names: Names
    samples: list[SamplePaths]
    grad: float
    grouped: bool
    path_count: int
    notes: list[str] = field(default_factory=list)
    #: the notes as (English message, its arguments), translated when rendered
    note_messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def value(self) -> float:
        """∂C/∂w^l_jk from the paths (mean over samples)."""
        return float(np.mean([s.total for s in self.samples]))

    @property
    def number(self) -> int:
        """The weight's seed-004 number (w5 → 5)."""
        return self.names.trace.weight_number(self.l, self.j, self.k)

    @property
    def code_index(self) -> tuple[int, int]:
        """Where the weight lives in the layer's ``W`` array: (j − 1, k − 1)."""
        return self.j - 1, self.k - 1

    @property
    def agrees(self) -> bool:
        """True when the paths' total matches BP4's ∂C/∂w (relative 1e-9)."""
        return math.isclose(self.value, self.grad, rel_tol=1e-9, abs_tol=1e-15)

    def _head(self) -> tuple[Expr, Expr]:
        n = self.names
        return n.partial(n.cost(), n.w(self.l, self.j, self.k)), n.w(self.l, self.j, self.k)

    # -- renderers -----------------------------------------------------------------------------
    def _notes(self) -> list[str]:
        """The notes in the current language (kept as message and arguments until rendered)."""
        return [t(message).format(**args) for message, args in self.note_messages]

    def _numbered(self) -> str:
        t_ = self.names.trace
        if self.names.style == "net/out" or sum(lt.W.size for lt in t_.layers) > 100:
            return ""
        return t(" (seed-004 number w{n})").format(n=self.number)

    def _kind(self, count: int) -> str:
        if count == 1:
            return t("one path:")
        if self.grouped:
            return t("{count} groups of paths:").format(count=count)
        return t("{count} paths:").format(count=count)

    def to_text(self, precision: int = 9, lang: str | None = None) -> str:
        """The story as plain text (``lang``: "en" or "zh"; default the current language)."""
        with i18n.in_lang(lang):
            return self._text(precision)

    def _text(self, precision: int) -> str:
        style = Style(precision=precision)
        lhs, w = self._head()
        t_ = self.names.trace
        j0, k0 = self.j - 1, self.k - 1
        lines = [
            t(
                "{lhs} — weight {w}{number}, W^{l}[{j}, {k}] in code (layer {l}, row {j}, "
                "column {k})"
            ).format(
                lhs=to_inline_text(lhs, style),
                w=to_inline_text(w, style),
                number=self._numbered(),
                l=self.l,
                j=j0,
                k=k0,
            )
        ]
        lines += [f"  {_note(note, style, 'text')}" for note in self._notes()]
        shown = self.samples if len(self.samples) <= 3 else self.samples[:1]
        for sp in shown:
            if t_.batch_size > 1:
                lines.append(t("sample {i} of {n}:").format(i=sp.sample + 1, n=t_.batch_size))
            count = len(sp.terms)
            lines.append(f"  {self._kind(count)}")
            for i, term in enumerate(sp.terms, 1):
                chain = " → ".join(to_inline_text(nd, style) for nd in term.nodes)
                tag = t("path {i}").format(i=i) if count > 1 else t("path")
                lines.append(f"  {tag}: {chain}")
                lines.append(
                    "    " + " · ".join(to_inline_text(f.label, style) for f in term.factors)
                )
                lines.append(
                    "    = "
                    + " × ".join(
                        _factor(f.value, style, i == 0) for i, f in enumerate(term.factors)
                    )
                )
                lines.append(f"    = {_num(term.value, style)}")
            if count > 1:
                parts = " + ".join(_num(term.value, style) for term in sp.terms).replace(
                    "+ -", "− "
                )
                lines.append(f"  {t('sum:')} {to_inline_text(lhs, style)} = {parts}")
                lines.append(f"       = {_num(sp.total, style)}")
            a_k = to_inline_text(self.names.a(self.l - 1, self.k), style)
            bp4 = (
                f"  {t('BP4 gives the same:')} {a_k}"
                f" · {to_inline_text(self.names.delta(self.l, self.j), style)} = "
                f"{_num(sp.a_prev_k, style)} × {_num(sp.delta_j, style)} = "
                f"{_num(sp.a_prev_k * sp.delta_j, style)}"
            )
            lines.append(bp4)
        if t_.batch_size > 1:
            if len(shown) < len(self.samples):
                rest = ", ".join(_num(s.total, style) for s in self.samples[1:])
                lines.append(t("samples 2..{n}: totals {rest}").format(n=t_.batch_size, rest=rest))
            lines.append(
                t("mean over the {n} samples (C = 1/n Σ_x C_x): {value}").format(
                    n=t_.batch_size, value=_num(self.value, style)
                )
            )
        lines.append(t("local derivatives:"))
        for label, meaning, value in self._legend():
            lines.append(
                f"  {to_inline_text(label, style)} = {to_inline_text(meaning, style)}"
                f" = {_num(value, style)}"
            )
        message = (
            N_("{lhs} = {value} ✓ matches ∂C/∂W^{l}[{j}, {k}] = {grad} from BP4")
            if self.agrees
            else N_("{lhs} = {value} ✗ DIFFERS FROM ∂C/∂W^{l}[{j}, {k}] = {grad} from BP4")
        )
        lines.append(
            t(message).format(
                lhs=to_inline_text(lhs, style),
                value=_num(self.value, style),
                l=self.l,
                j=j0,
                k=k0,
                grad=_num(self.grad, style),
            )
        )
        return "\n".join(lines)

    def _legend(self) -> list[tuple[Expr, Expr, float]]:
        seen: dict[str, tuple[Expr, Expr, float]] = {}
        style = Style(precision=12)
        for term in self.samples[0].terms:
            for f in term.factors:
                key = to_inline_text(f.label, style)
                if key not in seen:
                    seen[key] = (f.label, f.meaning, f.value)
        return list(seen.values())

    def to_markdown(self, precision: int = 9, lang: str | None = None) -> str:
        """The story as Markdown with LaTeX (``lang``: "en" or "zh")."""
        with i18n.in_lang(lang):
            return self._markdown(precision)

    def _markdown(self, precision: int) -> str:
        style = Style(precision=precision)
        lhs, w = self._head()
        t_ = self.names.trace
        number = t(" (seed-004 number w{n})").format(n=f"$w_{{{self.number}}}$")
        out = [
            f"#### {t('One weight’s story:')} ${to_latex(lhs, style)}$",
            "",
            t("Weight {w}{number} is {code} of layer {l} in code.").format(
                w=f"${to_latex(w, style)}$",
                number=number.replace("w$w", "$w"),
                code=f"`W[{self.j - 1}, {self.k - 1}]`",
                l=self.l,
            )
            + "".join(" " + _note(note, style, "markdown") for note in self._notes()),
            "",
        ]
        shown = self.samples if len(self.samples) <= 3 else self.samples[:1]
        for sp in shown:
            if t_.batch_size > 1:
                out += [t("Sample {i} of {n}:").format(i=sp.sample + 1, n=t_.batch_size), ""]
            rows = []
            for term in sp.terms:
                labels = r" \cdot ".join(to_latex(f.label, style) for f in term.factors)
                values = r" \times ".join(
                    _latex_num(f.value, style)
                    if i == 0 or f.value >= 0
                    else rf"\left({_latex_num(f.value, style)}\right)"
                    for i, f in enumerate(term.factors)
                )
                rows.append(
                    f"&\\quad {labels}{ROW_BREAK}&\\quad = {values} = "
                    f"{_latex_num(term.value, style)}"
                )
            body = ROW_BREAK.join(rows)
            total = _latex_num(sp.total, style)
            out += [
                "$$",
                r"\begin{aligned}",
                f"{to_latex(lhs, style)} &= "
                + (
                    rf"\sum_{{\text{{{t('paths')}}}}} \prod \text{{{t('local derivatives:')}}}"
                    if len(sp.terms) > 1
                    else rf"\text{{{t('one path:')}}}"
                )
                + ROW_BREAK
                + body
                + ROW_BREAK
                + f"&= {total}",
                r"\end{aligned}",
                "$$",
                "",
            ]
            out += [
                f"{t('BP4 gives the same:')} "
                f"${to_latex(self.names.a(self.l - 1, self.k), style)}"
                f"\\,{to_latex(self.names.delta(self.l, self.j), style)} = "
                f"{_latex_num(sp.a_prev_k, style)} \\times {_latex_num(sp.delta_j, style)}"
                f" = {_latex_num(sp.a_prev_k * sp.delta_j, style)}$",
                "",
            ]
        if t_.batch_size > 1:
            out += [
                t("Mean over the {n} samples: {value}.").format(
                    n=t_.batch_size, value=f"${_latex_num(self.value, style)}$"
                ),
                "",
            ]
        legend = ", ".join(
            f"${to_latex(lab, style)} = {to_latex(mean, style)} = {_latex_num(v, style)}$"
            for lab, mean, v in self._legend()
        )
        out += [t("Local derivatives: {legend}.").format(legend=legend), ""]
        message = (
            N_("Total {value} matches {code} {grad}.")
            if self.agrees
            else N_("Total {value} **differs from** {code} {grad}.")
        )
        out += [
            t(message).format(
                value=f"${_latex_num(self.value, style)}$",
                code=f"`grad_W[{self.j - 1}, {self.k - 1}]`",
                grad=f"$= {_latex_num(self.grad, style)}$",
            ),
            "",
        ]
        return "\n".join(out)

    def to_html(self, precision: int = 9, lang: str | None = None) -> str:
        """The story as an HTML fragment with MathML (``lang``: "en" or "zh")."""
        with i18n.in_lang(lang):
            return self._html(precision)

    def _html(self, precision: int) -> str:
        style = Style(precision=precision)
        lhs, w = self._head()
        t_ = self.names.trace
        weight = t("Weight {w}{number} is {code} of layer {l} in code.").format(
            w="\x00w\x00",
            number=html.escape(self._numbered()),
            code=f"<code>W[{self.j - 1}, {self.k - 1}]</code>",
            l=self.l,
        )
        weight = weight.replace("\x00w\x00", to_mathml(w, style))
        parts = [
            f'<section class="path"><h3>{html.escape(t("One weight’s story:"))} '
            f"{to_mathml(lhs, style)}</h3>",
            f"<p>{weight} {' '.join(_note(note, style, 'html') for note in self._notes())}</p>",
        ]
        shown = self.samples if len(self.samples) <= 3 else self.samples[:1]
        for sp in shown:
            if t_.batch_size > 1:
                sample = t("Sample {i} of {n}:").format(i=sp.sample + 1, n=t_.batch_size)
                parts.append(f"<p>{html.escape(sample)}</p>")
            parts.append('<div class="derivation">')
            for i, term in enumerate(sp.terms, 1):
                chain = Row(sum(([f.label, Op("·")] for f in term.factors), [])[:-1])
                values = Row(sum(([Num(f.value), Op("×")] for f in term.factors), [])[:-1])
                tag = t("path {i}").format(i=i) if len(sp.terms) > 1 else t("path")
                parts.append(
                    f'<div class="lhs">{html.escape(tag)}</div>'
                    f'<div class="rhs">{_display(chain, style)}</div>'
                )
                result = Row([Op("="), values, Op("="), Num(term.value)])
                parts.append(
                    f'<div class="lhs"></div><div class="rhs">{_display(result, style)}</div>'
                )
            parts.append(
                f'<div class="lhs">{to_mathml(lhs, style)}</div><div class="rhs">'
                f"{_display(Row([Op('='), Num(sp.total)]), style)}</div></div>"
            )
        legend = "".join(
            f"<li>{to_mathml(Row([lab, Op('='), mean, Op('='), Num(v)]), style)}</li>"
            for lab, mean, v in self._legend()
        )
        parts.append(f"<p>{html.escape(t('Local derivatives:'))}</p><ul>{legend}</ul>")
        message = (
            N_("Total {value} matches {code} = {grad} from BP4.")
            if self.agrees
            else N_("Total {value} <strong>differs from</strong> {code} = {grad} from BP4.")
        )
        parts.append(
            "<p>"
            + t(message).format(
                value=_num(self.value, style),
                code=f"<code>grad_W[{self.j - 1}, {self.k - 1}]</code>",
                grad=_num(self.grad, style),
            )
            + "</p></section>"
        )
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The paths as data: factors with their LaTeX labels and values."""
        style = Style(precision=12)
        return {
            "weight": {
                "l": self.l,
                "j": self.j,
                "k": self.k,
                "number": self.number,
                "code_index": list(self.code_index),
            },
            "value": self.value,
            "grad_W": self.grad,
            "agrees": self.agrees,
            "grouped": self.grouped,
            "notes": self.notes,
            "samples": [
                {
                    "sample": sp.sample,
                    "total": sp.total,
                    "bp4": {"a_prev_k": sp.a_prev_k, "delta_j": sp.delta_j},
                    "paths": [
                        {
                            "factors": [
                                {
                                    "label": to_latex(f.label, style),
                                    "means": to_latex(f.meaning, style),
                                    "value": f.value,
                                }
                                for f in term.factors
                            ],
                            "product": term.value,
                        }
                        for term in sp.terms
                    ],
                }
                for sp in self.samples
            ],
        }

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return (
            f"WeightPath(w^{self.l}_{self.j}{self.k}, value={self.value:.9g}, "
            f"paths={self.path_count})"
        )

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        """How a notebook shows the story: the HTML with MathML and the trace's style, so it
        renders with no MathJax and no network (Jupyter prefers it to the Markdown)."""
        from .render import _CSS

        return f'<style>{_CSS}</style>\n<div class="glassnet-trace">{self.to_html()}</div>'


def _display(expr: Expr, style: Style) -> str:
    """MathML in display style but inline, so it lines up left in its grid cell."""
    return to_mathml(expr, style).replace("<math ", '<math displaystyle="true" ', 1)


def _num(value: float, style: Style) -> str:
    return to_inline_text(Num(value), style)


def _factor(value: float, style: Style, first: bool) -> str:
    """A factor of a product: negative ones after the first in parentheses."""
    text = _num(value, style)
    return text if first or value >= 0 else f"({text})"


def _latex_num(value: float, style: Style) -> str:
    return to_latex(Num(value), style)


# ---------------------------------------------------------------------------------------------
def _count(trace: BackpropTrace, m: int, j: int, memo: dict[tuple[int, int], int]) -> int:
    """Number of paths from z^m_j to C."""
    key = (m, j)
    if key in memo:
        return memo[key]
    lt = trace.layer(m)
    if m == trace.L:
        fused = trace.delta_rule in ("softmax+crossentropy", "sigmoid+binary_crossentropy")
        result = 1 if fused or not lt.jacobian else lt.units
    else:
        through = range(1, lt.units + 1) if lt.jacobian else [j]
        nxt = trace.layer(m + 1)
        result = sum(
            _count(trace, m + 1, p, memo) for _ in through for p in range(1, nxt.units + 1)
        )
    memo[key] = result
    return result


def _downstream(
    trace: BackpropTrace, names: Names, s: int, m: int, j: int
) -> list[tuple[list[Expr], list[Factor]]]:
    """Every path from z^m_j to C for sample s: (nodes after z^m_j, factors from C down)."""
    lt = trace.layer(m)
    C = names.cost()
    if m == trace.L:
        fused = trace.delta_rule in ("softmax+crossentropy", "sigmoid+binary_crossentropy")
        if fused:
            rule = Row([names.a(m, j), Op("−"), names.target(j)])
            if trace.delta_rule == "sigmoid+binary_crossentropy" and lt.units > 1:
                rule = Row([Op("("), rule, Op(")"), Op("/"), Num(lt.units)])
            return [
                (
                    [C],
                    [
                        Factor(
                            names.partial(C, names.z(m, j)), rule, float(lt.rows("delta")[s, j - 1])
                        )
                    ],
                )
            ]
        grad = lt.rows("grad_a")[s]

        def grad_meaning(i: int) -> Expr:
            if isinstance(trace.loss, Quadratic):
                return Row([names.a(m, i), Op("−"), names.target(i)])
            return Row([Sym("(∇", sub="a"), C, Sym(")", sub=str(i))])

        if not lt.jacobian:
            sp = lt.rows("sigma_prime")[s]
            return [
                (
                    [names.a(m, j), C],
                    [
                        Factor(
                            names.partial(C, names.a(m, j)), grad_meaning(j), float(grad[j - 1])
                        ),
                        Factor(
                            names.partial(names.a(m, j), names.z(m, j)),
                            Row([Sym("σ", prime=True), Op("("), names.z(m, j), Op(")")]),
                            float(sp[j - 1]),
                        ),
                    ],
                )
            ]
        J = lt.rows("sigma_prime")[s]
        return [
            (
                [names.a(m, i), C],
                [
                    Factor(names.partial(C, names.a(m, i)), grad_meaning(i), float(grad[i - 1])),
                    Factor(
                        names.partial(names.a(m, i), names.z(m, j)),
                        _softmax_meaning(names, m, i, j),
                        float(J[i - 1, j - 1]),
                    ),
                ],
            )
            for i in range(1, lt.units + 1)
        ]
    nxt = trace.layer(m + 1)
    out: list[tuple[list[Expr], list[Factor]]] = []
    through = range(1, lt.units + 1) if lt.jacobian else [j]
    sp = lt.rows("sigma_prime")[s]
    for i in through:
        if lt.jacobian:
            local = Factor(
                names.partial(names.a(m, i), names.z(m, j)),
                _softmax_meaning(names, m, i, j),
                float(sp[i - 1, j - 1]),
            )
        else:
            local = Factor(
                names.partial(names.a(m, j), names.z(m, j)),
                Row([Sym("σ", prime=True), Op("("), names.z(m, j), Op(")")]),
                float(sp[j - 1]),
            )
        for p in range(1, nxt.units + 1):
            weight = Factor(
                names.partial(names.z(m + 1, p), names.a(m, i)),
                names.w(m + 1, p, i),
                float(nxt.W[p - 1, i - 1]),
            )
            for nodes, factors in _downstream(trace, names, s, m + 1, p):
                out.append(([names.a(m, i), names.z(m + 1, p)] + nodes, factors + [weight, local]))
    return out


def _softmax_meaning(names: Names, m: int, i: int, j: int) -> Expr:
    a_i, a_j = names.a(m, i), names.a(m, j)
    if i == j:
        return Row([a_i, Op("("), Num(1), Op("−"), a_j, Op(")")])
    return Row([Op("−"), a_i, a_j])


def _grouped(
    trace: BackpropTrace, names: Names, s: int, l: int, j: int
) -> list[tuple[list[Expr], list[Factor]]]:
    """Paths grouped by the neuron p of layer l + 1 (δ^{l+1}_p sums the rest)."""
    lt = trace.layer(l)
    nxt = trace.layer(l + 1)
    C = names.cost()
    sp = lt.rows("sigma_prime")[s]
    dn = nxt.rows("delta")[s]
    out: list[tuple[list[Expr], list[Factor]]] = []
    through = range(1, lt.units + 1) if lt.jacobian else [j]
    for i in through:
        if lt.jacobian:
            local = Factor(
                names.partial(names.a(l, i), names.z(l, j)),
                _softmax_meaning(names, l, i, j),
                float(sp[i - 1, j - 1]),
            )
        else:
            local = Factor(
                names.partial(names.a(l, j), names.z(l, j)),
                Row([Sym("σ", prime=True), Op("("), names.z(l, j), Op(")")]),
                float(sp[j - 1]),
            )
        for p in range(1, nxt.units + 1):
            out.append(
                (
                    [names.a(l, i), names.z(l + 1, p), Sym("⋯"), C],
                    [
                        Factor(
                            names.partial(C, names.z(l + 1, p)),
                            names.delta(l + 1, p),
                            float(dn[p - 1]),
                        ),
                        Factor(
                            names.partial(names.z(l + 1, p), names.a(l, i)),
                            names.w(l + 1, p, i),
                            float(nxt.W[p - 1, i - 1]),
                        ),
                        local,
                    ],
                )
            )
    return out


def weight_path(
    trace: BackpropTrace,
    l: int,
    j: int,
    k: int,
    style: str = "seeds",
    max_paths: int = 16,
    preset: presets.Preset | None = None,
) -> WeightPath:
    """Build the WeightPath for w^l_jk (1-based) in ``preset``'s symbols (None: the current
    preset's); see ``BackpropTrace.path``."""
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 1:
        raise InvalidArgumentError(
            f"path: max_paths must be a positive integer, received max_paths={max_paths!r}"
        )
    names = Names(trace, style, preset)
    lt = trace.layer(l)
    count = _count(trace, l, j, {})
    grouped = count > max_paths and l < trace.L
    messages: list[tuple[str, dict[str, Any]]] = []
    if grouped:
        messages.append(
            (
                N_(
                    "{count} paths lead from this weight to the cost; they are grouped by the "
                    "{units} neurons of layer {next}, where δ^{next}_p = ∂C/∂z^{next}_p "
                    "already sums every path beyond."
                ),
                {"count": count, "units": trace.layer(l + 1).units, "next": l + 1},
            )
        )
    if trace.delta_rule == "softmax+crossentropy":
        messages.append(
            (
                N_(
                    "With a softmax output and cross-entropy, ∂C/∂z^L_j = a^L_j − y_j "
                    "(the softmax Jacobian and ∇_a C combined)."
                ),
                {},
            )
        )
    elif trace.delta_rule == "sigmoid+binary_crossentropy":
        messages.append(
            (
                N_("With a sigmoid output and binary cross-entropy, ∂C/∂z^L_j = (a^L_j − y_j)/K."),
                {},
            )
        )
    notes = [message.format(**args) for message, args in messages]
    samples = []
    w_node = names.w(l, j, k)
    for s in range(trace.batch_size):
        raw = _grouped(trace, names, s, l, j) if grouped else _downstream(trace, names, s, l, j)
        a_prev_k = float(lt.rows("a_prev")[s, k - 1])
        last = Factor(names.partial(names.z(l, j), w_node), names.a(l - 1, k), a_prev_k)
        terms = [
            PathTerm([w_node, names.z(l, j)] + nodes, factors + [last], grouped)
            for nodes, factors in raw
        ]
        samples.append(SamplePaths(s, terms, a_prev_k, float(lt.rows("delta")[s, j - 1])))
    return WeightPath(
        l, j, k, names, samples, float(lt.grad_W[j - 1, k - 1]), grouped, count, notes, messages
    )
