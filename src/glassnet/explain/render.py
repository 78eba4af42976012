"""Renderers for a BackpropTrace: text (terminal), Markdown + LaTeX, JSON, self-contained HTML.

All four read one *document* built from the trace: sections of steps, each step an equation
(``δ² = ∇_a C ⊙ σ'(z²)``), the same equation with the numbers substituted, and its result —
the order in which a student checks homework. The equations are ``notation`` trees, so the
text, LaTeX and MathML say exactly the same thing.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidArgumentError
from ..nn import losses as L
from . import i18n, presets
from .i18n import t
from .notation import (
    ROW_BREAK,
    Expr,
    Fenced,
    Frac,
    Mat,
    Num,
    Op,
    Row,
    Space,
    Style,
    Sup,
    Sym,
    Words,
    fmt_number,
    prose,
    to_inline_text,
    to_latex,
    to_mathml,
)

if TYPE_CHECKING:
    from .path import WeightPath
    from .trace import BackpropTrace, LayerTrace

__all__ = [
    "render_text",
    "render_markdown",
    "render_json",
    "render_html",
    "trace_dict",
    "wants_color",
    "EQUATIONS",
]


# ---------------------------------------------------------------------------------------------
# The document
# ---------------------------------------------------------------------------------------------
@dataclass
class Para:
    """Words with inline math."""

    parts: list[str | Expr]


#: A note: words (TeX-style scripts such as δ^{l+1} become symbols) or words and symbols.
Note = str | list[str | Expr]


def _checked_label(label: str) -> str:
    """A compared array's label ("δ^2", "∂C/∂W^2", "∂C/∂b^2", "C"), which counts layers as
    glassnet does, written in the current notation preset (seed 000's δ³ for glassnet's δ²)."""
    kind, _, layer = label.rpartition("^")
    base = {"δ": "δ", "∂C/∂W": "W", "∂C/∂b": "b"}.get(kind)
    if base is None or not layer.isdigit():
        return label
    sym = to_inline_text(presets.symbol(base, int(layer)), Style())
    if base == "δ":
        return sym
    return f"∂{to_inline_text(presets.cost_symbol(), Style())}/∂{sym}"


def _join_notes(*notes: Note) -> Note:
    parts: list[str | Expr] = []
    for note in notes:
        if not note:
            continue
        if parts:
            parts.append(" ")
        parts.extend([note] if isinstance(note, str) else note)
    return parts


def _note_para(note: Note) -> Para:
    return Para([note] if isinstance(note, str) else list(note))


@dataclass
class Step:
    """An equation, then the numbers substituted, then the result."""

    label: str
    title: str
    lhs: Expr
    rhs: list[Expr]
    relation: str = "="
    note: Note = ""
    layer: int | None = None
    value: Any = None


@dataclass
class Section:
    title: str
    items: list[Any] = field(default_factory=list)  # Para, Step, Picture or Section


@dataclass
class Document:
    title: str
    intro: list[Para]
    sections: list[Section]
    ok: bool


def _sym(base: str, l: int | str | None = None, sub: str | None = None, prime: bool = False) -> Sym:
    """Quantity ``base`` of layer l (glassnet's count) as the current notation preset writes
    it: a², or a³ for seed 000, out_h for seed 004, h1 for seed 003."""
    return presets.symbol(base, l, sub, prime)


def _C(sub: str | None = None) -> Sym:  # noqa: N802 - the seeds' C
    """The cost C (E in seed 004's notation)."""
    return Sym(presets.cost_symbol().base, sub=sub)


def _layer(l: int) -> str:
    """Layer l's number in words, as the current preset counts."""
    return presets.current()[0].layer(l)


def _T(e: Expr) -> Expr:
    """eᵀ, with parentheses unless e is a bare letter: (a¹)ᵀ, Jᵀ."""
    bare = isinstance(e, Sym) and e.sup is None and e.sub is None
    return Sup(e if bare else Fenced(e), "T")


def _prod(*items: Expr) -> Row:
    """A product of matrices, spaced apart in text."""
    return Row(list(items), sep=" ")


def _call(name: Expr, arg: Expr) -> Row:
    return Row([name, Fenced(arg)])


def _partial(num: Expr, den: Expr) -> Frac:
    return Frac(Row([Sym("∂"), num]), Row([Sym("∂"), den]))


SIGMA = Sym("σ")
SIGMA_PRIME = Sym("σ", prime=True)

EQUATIONS: dict[str, dict[str, str]] = {
    "forward": {
        "text": "z^l = W^l a^{l−1} + b^l,  a^l = σ(z^l)",
        "latex": r"z^{l} = W^{l} a^{l-1} + b^{l}, \quad a^{l} = \sigma(z^{l})",
    },
    "BP1": {
        "text": "δ^L = ∇_a C ⊙ σ'(z^L)",
        "latex": r"\delta^{L} = \nabla_{a} C \odot \sigma'(z^{L})",
    },
    "BP2": {
        "text": "δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)",
        "latex": r"\delta^{l} = \left((W^{l+1})^{\mathsf{T}} \delta^{l+1}\right) \odot "
        r"\sigma'(z^{l})",
    },
    "BP3": {
        "text": "∂C/∂b^l_j = δ^l_j",
        "latex": r"\frac{\partial C}{\partial b_{j}^{l}} = \delta_{j}^{l}",
    },
    "BP4": {
        "text": "∂C/∂w^l_jk = a^{l−1}_k δ^l_j,  i.e.  ∂C/∂W^l = δ^l (a^{l−1})ᵀ",
        "latex": r"\frac{\partial C}{\partial w_{jk}^{l}} = a_{k}^{l-1} \delta_{j}^{l}",
    },
    "update": {
        "text": "W^l := W^l − α ∂C/∂W^l,  b^l := b^l − α ∂C/∂b^l",
        "latex": r"W^{l} := W^{l} - \alpha \frac{\partial C}{\partial W^{l}}",
    },
}


def _vec(trace: BackpropTrace, arr: np.ndarray, focus: np.ndarray | None = None) -> Mat:
    """A per-sample array as the seeds draw it: a column, or one column per sample."""
    if trace.single:
        return Mat(arr, "col", focus_rows=focus)
    return Mat(np.asarray(arr).T, focus_rows=focus)


#: Inputs wider than this are shown around their largest nonzero entries, not their corners.
FOCUS_ABOVE = 8


def _focus(a_prev: np.ndarray) -> np.ndarray | None:
    """The inputs k of a layer in order of |a^{l−1}_k|, nonzero ones only, when there are more
    than fit on a line: the corners of an MNIST image are 0 and say nothing, its strokes do."""
    mags = np.abs(np.asarray(a_prev, dtype=np.float64))
    if mags.ndim == 2:
        mags = mags.mean(axis=0)
    if mags.size <= FOCUS_ABOVE:
        return None
    nonzero = np.flatnonzero(mags)
    if nonzero.size == 0 or nonzero.size == mags.size:
        return None
    return nonzero[np.argsort(-mags[nonzero], kind="stable")]


def _focus_note(lt: LayerTrace, focus: np.ndarray | None) -> Note:
    if focus is None:
        return ""
    l = lt.index
    zeros = lt.in_features - focus.size
    shown = ", ".join(str(int(k) + 1) for k in sorted(focus[:6]))
    return [
        t("Of the {n} inputs ").format(n=lt.in_features),
        _sym("a", l - 1, "k"),
        t(", {zeros} are 0 and add nothing to ").format(zeros=zeros),
        Row([_sym("z", l), Op("="), _sym("W", l), _sym("a", l - 1), Op("+"), _sym("b", l)]),
        t(
            ": the matrices show the columns k of the largest nonzero ones (k = {shown}, 1-based)."
        ).format(shown=shown),
    ]


@dataclass
class Picture:
    """The input drawn as the image it is (a 2-D sample such as an MNIST digit)."""

    pixels: np.ndarray
    caption: str


def _picture(trace: BackpropTrace) -> Picture | None:
    x = np.asarray(trace.x, dtype=np.float64)
    if not trace.single or x.ndim != 2 or min(x.shape) < 5 or max(x.shape) > 64:
        return None
    return Picture(x, f"the input x as an image ({x.shape[0]}×{x.shape[1]}, dark = large)")


def _loss_formula(trace: BackpropTrace) -> Expr:
    loss = trace.loss
    aL = _sym("a", "L")
    y = Sym("y")
    if isinstance(loss, L.Quadratic):
        return Row([Sym("½"), Sup(Fenced(Row([y, Op("−"), aL]), "‖", "‖"), "2")])
    if isinstance(loss, L.MeanSquaredError):
        return Row(
            [
                Frac(Num(1), Sym("K")),
                Sym("Σ", sub="k"),
                Sup(Fenced(Row([Sym("y", sub="k"), Op("−"), _sym("a", "L", "k")])), "2"),
            ]
        )
    if isinstance(loss, L.MeanAbsoluteError):
        return Row(
            [
                Frac(Num(1), Sym("K")),
                Sym("Σ", sub="k"),
                Fenced(Row([Sym("y", sub="k"), Op("−"), _sym("a", "L", "k")]), "|", "|"),
            ]
        )
    if (
        isinstance(
            loss, (L.CategoricalCrossentropy, L.SparseCategoricalCrossentropy, L.BinaryCrossentropy)
        )
        and loss.from_logits
    ):
        squash = "softmax" if not isinstance(loss, L.BinaryCrossentropy) else "sigmoid"
        return Row(
            [
                Words(f"cross-entropy of {squash}("),
                aL,
                Words(") and y (the loss takes the outputs as logits)"),
            ]
        )
    minus, ln = Words("−"), Sym("ln")
    if isinstance(loss, L.BinaryCrossentropy):
        a_k, y_k = _sym("a", "L", "k"), Sym("y", sub="k")
        return Row(
            [
                minus,
                _prod(
                    Frac(Num(1), Sym("K")),
                    Sym("Σ", sub="k"),
                    Fenced(
                        Row(
                            [
                                _prod(y_k, ln, a_k),
                                Op("+"),
                                _prod(
                                    Fenced(Row([Num(1), Op("−"), y_k])),
                                    ln,
                                    Fenced(Row([Num(1), Op("−"), a_k])),
                                ),
                            ]
                        ),
                        "[",
                        "]",
                    ),
                ),
            ]
        )
    if isinstance(loss, L.SparseCategoricalCrossentropy):
        return Row([minus, _prod(ln, _sym("a", "L", "y"))])
    if isinstance(loss, L.CategoricalCrossentropy):
        return Row([minus, _prod(Sym("Σ", sub="k"), Sym("y", sub="k"), ln, _sym("a", "L", "k"))])
    return Words(f"{loss.name}(y, a^L)")


def _grad_formula(trace: BackpropTrace) -> Expr:
    loss = trace.loss
    aL, y = _sym("a", "L"), Sym("y")
    diff = Row([aL, Op("−"), y])
    if loss.from_logits:
        if isinstance(loss, L.BinaryCrossentropy):
            return Row([Fenced(Row([_call(SIGMA, aL), Op("−"), y])), Op("/"), Sym("K")])
        return Row([_call(Words("softmax"), aL), Op("−"), y])
    if isinstance(loss, L.Quadratic):
        return diff
    if isinstance(loss, L.MeanSquaredError):
        return Row([Frac(Num(2), Sym("K")), Fenced(diff)])
    if isinstance(loss, L.MeanAbsoluteError):
        return Row([Frac(Num(1), Sym("K")), _call(Words("sign"), diff)])
    if isinstance(loss, L.BinaryCrossentropy):
        return Row(
            [
                Frac(Num(1), Sym("K")),
                Fenced(diff),
                Op("⊘"),
                Fenced(Row([aL, Op("⊙"), Fenced(Row([Num(1), Op("−"), aL]))])),
            ]
        )
    if isinstance(loss, L.SparseCategoricalCrossentropy):
        return Row(
            [Words("−"), Frac(Num(1), _sym("a", "L", "y")), Words(" at the label, 0 elsewhere")]
        )
    if isinstance(loss, L.CategoricalCrossentropy):
        return Row([Words("−"), y, Op("⊘"), aL])
    return Words("the loss's gradient")


def _prime_formula(lt: LayerTrace) -> Expr:
    a, z = _sym("a", lt.index), _sym("z", lt.index)
    name = lt.activation
    if name == "sigmoid":
        return Row([a, Op("⊙"), Fenced(Row([Num(1), Op("−"), a]))])
    if name == "tanh":
        return Row([Num(1), Op("−"), a, Op("⊙"), a])
    if name == "relu":
        return Row([Words(t("1 where ")), z, Words(t(" > 0, else {value}").format(value=0))])
    if name == "leaky_relu":
        slope = fmt_number(lt.activation_params.get("negative_slope", 0.01), 6)
        return Row([Words(t("1 where ")), z, Words(t(" > 0, else {value}").format(value=slope))])
    if name == "elu":
        alpha = fmt_number(lt.activation_params.get("alpha", 1.0), 6)
        otherwise = Words(t(" > 0, else {value}").format(value=""))
        return Row([Words(t("1 where ")), z, otherwise, a, Words(f" + {alpha}")])
    if name == "linear":
        return Num(1)
    if name == "softplus":
        return _call(Words("sigmoid"), z)
    if name == "gelu":
        return Words(t("GELU′(z) (tanh approximation)"))
    return _call(SIGMA_PRIME, z)


def _delta_rule_text(trace: BackpropTrace) -> str:
    rule = trace.delta_rule
    K = trace.layers[-1].units
    if rule == "softmax+crossentropy":
        return t(
            "With a softmax output and cross-entropy, BP1's ∇_a C ⊙ σ'(z^L) — with the "
            "softmax Jacobian in place of σ' — simplifies to δ^L = a^L − y; glassnet "
            "trains with this fused form."
        )
    if rule == "sigmoid+binary_crossentropy":
        k_part = (
            t("/K with K = {K} outputs (glassnet averages binary cross-entropy over them)").format(
                K=K
            )
            if K > 1
            else t(" (K = 1 output)")
        )
        return t(
            "With a sigmoid output and binary cross-entropy, BP1's ∇_a C ⊙ σ'(z^L) "
            "simplifies to δ^L = (a^L − y){k_part}; glassnet trains with this fused form."
        ).format(k_part=k_part)
    if rule == "jacobian":
        return t(
            "Softmax is not elementwise: σ'(z^L) is the Jacobian J = diag(a^L) − a^L(a^L)ᵀ, "
            "so BP1 reads δ^L = Jᵀ ∇_a C (J is symmetric)."
        )
    return ""


def _layer_title(lt: LayerTrace, trace: BackpropTrace) -> str:
    role = t("output layer") if lt.index == trace.L else t("hidden layer")
    return t("Layer {n} ({role}, {name}): {inputs} → {units}, σ = {activation}").format(
        n=_layer(lt.index),
        role=role,
        name=repr(lt.name),
        inputs=lt.in_features,
        units=lt.units,
        activation=lt.activation,
    )


def input_section(trace: Any) -> Section:
    """The input a⁰ (and the picture of an image input); ``trace`` is a BackpropTrace or a
    ForwardTrace."""
    first = trace.layers[0]
    inp = Section(t("Input"))
    picture = _picture(trace)
    if picture is not None:
        inp.items.append(picture)
    first_focus = _focus(first.a_prev)
    inp.items.append(
        Step(
            "input",
            t("the input is the activation of layer {n}").format(n=_layer(0)),
            _sym("a", 0),
            [_vec(trace, first.a_prev, first_focus)],
            value=first.a_prev,
            note=_focus_note(first, first_focus),
        )
    )
    return inp


def forward_section(trace: Any) -> Section:
    """z^l = W^l a^{l−1} + b^l and a^l = σ(z^l) for every layer, with the numbers; ``trace``
    is a BackpropTrace or a ForwardTrace (anything with ``layers`` of a_prev, W, b, z, a)."""
    single = trace.single
    fwd = Section(t("Forward pass"))
    for lt in trace.layers:
        sec = Section(_layer_title(lt, trace))
        l = lt.index
        for note in lt.notes:
            sec.items.append(Para([i18n.localise(note)]))
        W, b, a_prev = _sym("W", l), _sym("b", l), _sym("a", l - 1)
        eq = Row([W, a_prev, Op("+"), b]) if lt.use_bias else Row([W, a_prev])
        focus = _focus(lt.a_prev)
        product = _prod(Mat(lt.W, focus_cols=focus), _vec(trace, lt.a_prev, focus))
        sub: Expr = Row([product, Op("+"), Mat(lt.b)]) if lt.use_bias else product
        sec.items.append(
            Step(
                "forward",
                t("weighted input"),
                _sym("z", l),
                [eq, sub, _vec(trace, lt.z)],
                layer=l,
                value=lt.z,
                note=_join_notes(
                    "" if single or not lt.use_bias else t("b is added to every column."),
                    _focus_note(lt, focus) if l > 1 else "",
                ),
            )
        )
        sec.items.append(
            Step(
                "forward",
                t("activation, σ = {activation}").format(activation=lt.activation),
                _sym("a", l),
                [_call(SIGMA, _sym("z", l)), _call(SIGMA, _vec(trace, lt.z)), _vec(trace, lt.a)],
                layer=l,
                value=lt.a,
            )
        )
        fwd.items.append(sec)
    return fwd


def build_document(trace: BackpropTrace) -> Document:
    """The trace as sections of steps (shared by every renderer)."""
    custom = getattr(trace, "document", None)
    if callable(custom):  # a trace with its own equations (a convolutional network's)
        return custom()  # type: ignore[no-any-return]
    single = trace.single
    n = trace.batch_size
    L_ = trace.L
    intro: list[Para] = []
    samples = (
        t("one sample") if single else t("a batch of {n} samples, C = 1/n Σ_x C_x").format(n=n)
    )
    lr = (
        ""
        if trace.learning_rate is None
        else t("; learning rate α = {lr}").format(lr=f"{trace.learning_rate:g}")
    )
    intro.append(
        Para(
            [
                t("Network {arch}; loss {loss}: ").format(
                    arch=trace.describe(), loss=trace.loss_name
                ),
                Row([_C("x"), Op("="), _loss_formula(trace)]),
                t("; {samples}{lr}.").format(samples=samples, lr=lr),
            ]
        )
    )
    preset = presets.current()[0]
    others = ", ".join(repr(n) for n in presets.PRESETS if n != preset.name)
    intro.append(
        Para(
            [
                t("Notation: {summary} (notation={name}; also {others}). ").format(
                    summary=t(preset.summary), name=repr(preset.name), others=others
                ),
                _sym("w", "l", "jk") if preset.style == "layers" else Sym("w", sub="jk", sup="l"),
                t(
                    " is the weight from neuron k of layer l − 1 to neuron j of layer l "
                    "(W[j−1, k−1] in code, indices 1-based here); "
                ),
                Row([_sym("δ", "l"), Op("="), _partial(_C(), _sym("z", "l"))]),
                t(". Vectors are columns")
                + ("" if single else t(" — one column per sample"))
                + t(
                    ". Every number is computed in float64 from the equations, then checked "
                    "against the autograd engine."
                ),
            ]
        )
    )
    for note in trace.notes:
        intro.append(Para([i18n.localise(note)]))

    sections: list[Section] = []
    # ---- input ----------------------------------------------------------------------------------
    inp = input_section(trace)
    y_disp = trace.y_matrix
    if trace.labels is not None:
        labels = ", ".join(str(int(v)) for v in np.atleast_1d(trace.labels)[:12])
        inp.items.append(Para([t("Label(s) {labels}, as one-hot targets:").format(labels=labels)]))
    inp.items.append(
        Step("target", t("the targets"), Sym("y"), [_vec(trace, y_disp)], value=y_disp)
    )
    sections.append(inp)

    # ---- forward ------------------------------------------------------------------------------
    fwd = forward_section(trace)
    cost_rhs: list[Expr] = [_loss_formula(trace)]
    last = trace.layers[-1]
    if single and isinstance(trace.loss, L.Quadratic):
        cost_rhs.append(
            Row(
                [
                    Sym("½"),
                    Sup(
                        Fenced(
                            Row([_vec(trace, trace.y_matrix), Op("−"), _vec(trace, last.a)]),
                            "‖",
                            "‖",
                        ),
                        "2",
                    ),
                ]
            )
        )
    if not single:
        cost_rhs = [
            _prod(Frac(Num(1), Num(n)), Sym("Σ", sub="x"), _C("x")),
            Row([Frac(Num(1), Num(n)), Fenced(Row(_sum_terms(trace.per_sample_cost)))]),
        ]
    cost_rhs.append(Num(trace.cost))
    fwd.items.append(
        Step(
            "cost",
            t("the cost ({loss})").format(loss=trace.loss_name),
            _C(),
            cost_rhs,
            value=trace.cost,
            note=""
            if single
            else t("Each sample's C_x: {values}.").format(
                values=", ".join(fmt_number(c, 9) for c in trace.per_sample_cost)
            ),
        )
    )
    sections.append(fwd)

    # ---- backward -----------------------------------------------------------------------------
    bwd = Section(t("Backward pass"))
    sub: Expr
    for lt in reversed(trace.layers):
        l = lt.index
        sec = Section(_layer_title(lt, trace))
        delta_l = _sym("δ", l)
        z_l = _sym("z", l)
        fused = l == L_ and trace.delta_rule in (
            "softmax+crossentropy",
            "sigmoid+binary_crossentropy",
        )
        if l == L_:
            if fused:
                aL = _sym("a", l)
                eq = Row([aL, Op("−"), Sym("y")])
                sub = Row([_vec(trace, lt.a), Op("−"), _vec(trace, trace.y_matrix)])
                if trace.delta_rule == "sigmoid+binary_crossentropy" and lt.units > 1:
                    eq = Row([Fenced(eq), Op("/"), Sym("K")])
                    sub = Row([Fenced(sub), Op("/"), Num(lt.units)])
                sec.items.append(
                    Step(
                        "BP1",
                        t("output error of layer {n} (fused form)").format(n=_layer(l)),
                        delta_l,
                        [eq, sub, _vec(trace, lt.delta)],
                        layer=l,
                        value=lt.delta,
                        note=_delta_rule_text(trace),
                    )
                )
            else:
                grad_sym = Row([Sym("∇", sub="a"), _C()])
                grad_rhs: list[Expr] = [_grad_formula(trace)]
                if isinstance(trace.loss, L.Quadratic):
                    grad_rhs.append(Row([_vec(trace, lt.a), Op("−"), _vec(trace, trace.y_matrix)]))
                grad_rhs.append(_vec(trace, lt.grad_a))
                sec.items.append(
                    Step(
                        "∇C",
                        t("gradient of the cost with respect to the output"),
                        grad_sym,
                        grad_rhs,
                        layer=l,
                        value=lt.grad_a,
                    )
                )
                sec.items.append(_prime_step(trace, lt))
                if lt.jacobian:
                    eq = Row([_T(Sym("J")), Sym("∇", sub="a"), _C()])
                    sub = (
                        _prod(Mat(lt.rows("sigma_prime")[0].T), _vec(trace, lt.grad_a))
                        if single
                        else Words("(one Jacobian per sample)")
                    )
                else:
                    eq = Row([Sym("∇", sub="a"), _C(), Op("⊙"), _call(SIGMA_PRIME, z_l)])
                    sub = Row([_vec(trace, lt.grad_a), Op("⊙"), _vec(trace, lt.sigma_prime)])
                sec.items.append(
                    Step(
                        "BP1",
                        t("output error of layer {n}").format(n=_layer(l)),
                        delta_l,
                        [eq, sub, _vec(trace, lt.delta)],
                        layer=l,
                        value=lt.delta,
                        note=_delta_rule_text(trace),
                    )
                )
        else:
            nxt = trace.layer(l + 1)
            sec.items.append(_prime_step(trace, lt))
            back = Row([_T(_sym("W", l + 1)), _sym("δ", l + 1)])
            if lt.jacobian:
                eq = Row([_T(Sym("J")), Fenced(back)])
                sub = _prod(Words("Jᵀ"), Fenced(_prod(Mat(nxt.W.T), _vec(trace, nxt.delta))))
                mid = _prod(Words("Jᵀ"), _vec(trace, lt.grad_a))
            else:
                eq = Row([Fenced(back), Op("⊙"), _call(SIGMA_PRIME, z_l)])
                sub = Row(
                    [
                        Fenced(_prod(Mat(nxt.W.T), _vec(trace, nxt.delta))),
                        Op("⊙"),
                        _vec(trace, lt.sigma_prime),
                    ]
                )
                mid = Row([_vec(trace, lt.grad_a), Op("⊙"), _vec(trace, lt.sigma_prime)])
            sec.items.append(
                Step(
                    "BP2",
                    t("error of layer {n}, carried back from layer {m}").format(
                        n=_layer(l), m=_layer(l + 1)
                    ),
                    delta_l,
                    [eq, sub, mid, _vec(trace, lt.delta)],
                    layer=l,
                    value=lt.delta,
                    note=[
                        t("The error of neuron j collects "),
                        _sym("δ", l + 1),
                        t(" of every neuron it feeds, weighted by the connecting weights."),
                    ],
                )
            )
        if lt.use_bias:
            db = _partial(_C(), _sym("b", l))
            rhs: list[Expr] = (
                [delta_l, _vec(trace, lt.grad_b)]
                if single
                else [
                    _prod(Frac(Num(1), Num(n)), Sym("Σ", sub="x"), _sym("δ", l, "x")),
                    _vec(trace, lt.grad_b),
                ]
            )
            sec.items.append(
                Step(
                    "BP3",
                    t("gradient of the biases of layer {n}").format(n=_layer(l)),
                    db,
                    rhs,
                    layer=l,
                    value=lt.grad_b,
                )
            )
        dW = _partial(_C(), _sym("W", l))
        if single:
            rhs = [
                Row([delta_l, _T(_sym("a", l - 1))]),
                _prod(Mat(lt.delta, "col"), Mat(lt.a_prev, "row", focus_cols=_focus(lt.a_prev))),
                Mat(lt.grad_W, focus_cols=_focus(lt.a_prev)),
            ]
        else:
            rhs = [
                _prod(
                    Frac(Num(1), Num(n)),
                    Sym("Σ", sub="x"),
                    Row([_sym("δ", l, "x"), _T(_sym("a", l - 1, "x"))]),
                ),
                Row(
                    [
                        Frac(Num(1), Num(n)),
                        _prod(
                            _vec(trace, lt.delta),
                            Mat(np.asarray(lt.a_prev), focus_cols=_focus(lt.a_prev)),
                        ),
                    ]
                ),
                Mat(lt.grad_W, focus_cols=_focus(lt.a_prev)),
            ]
        sec.items.append(
            Step(
                "BP4",
                t("gradient of the weights of layer {n}").format(n=_layer(l)),
                dW,
                rhs,
                layer=l,
                value=lt.grad_W,
                note=[
                    t("Entry by entry: "),
                    Row(
                        [
                            _partial(_C(), _sym("w", l, "jk")),
                            Op("="),
                            _sym("a", l - 1, "k"),
                            _sym("δ", l, "j"),
                        ]
                    ),
                    t(" — a weight learns slowly when its input "),
                    _sym("a", l - 1, "k"),
                    t(" is near 0."),
                ],
            )
        )
        bwd.items.append(sec)
    sections.append(bwd)

    # ---- update -------------------------------------------------------------------------------
    if trace.learning_rate is not None:
        alpha = trace.learning_rate
        upd = Section(t("Gradient descent (learning rate α = {alpha})").format(alpha=f"{alpha:g}"))
        for lt in trace.layers:
            l = lt.index
            updates = [("W", t("new weights of layer {n}"), lt.W, lt.grad_W, lt.W_updated)]
            if lt.use_bias:
                updates.append(("b", t("new biases of layer {n}"), lt.b, lt.grad_b, lt.b_updated))
            focus = _focus(lt.a_prev)
            for letter, what, old, grad, new in updates:
                sym = _sym(letter, l)

                def _mat(
                    arr: np.ndarray, letter: str = letter, focus: np.ndarray | None = focus
                ) -> Mat:
                    return Mat(arr, focus_cols=focus if letter == "W" else None)

                upd.items.append(
                    Step(
                        "update",
                        what.format(n=_layer(l)),
                        sym,
                        [
                            Row([sym, Op("−"), _prod(Sym("α"), _partial(_C(), sym))]),
                            Row([_mat(old), Op("−"), _prod(Num(alpha), _mat(grad))]),
                            _mat(new if new is not None else old),
                        ],
                        relation=":=",
                        layer=l,
                        value=new,
                    )
                )
        sections.append(upd)

    # ---- check --------------------------------------------------------------------------------
    ok = trace.ok
    chk = Section(t("Check"))
    worst = max(trace.discrepancies.items(), key=lambda kv: kv[1], default=("—", 0.0))
    chk.items.append(
        Para(
            [
                t(
                    "The autograd engine, run separately on the same float64 weights (δ read "
                    "from z.grad), gives the same numbers: largest relative difference {diff} "
                    "(at {where}) over C and every δ, ∂C/∂W and ∂C/∂b."
                ).format(diff=f"{trace.max_discrepancy:.2g}", where=_checked_label(worst[0]))
            ]
        )
    )
    if trace.spot_checks:
        chk.items.append(
            Para(
                [
                    t(
                        "Central differences on {n} parameter(s): largest relative difference "
                        "{diff}."
                    ).format(n=len(trace.spot_checks), diff=f"{trace.numerical_discrepancy:.2g}")
                ]
            )
        )
    chk.items.append(
        Para(
            [
                t("Verdict: ")
                + (
                    t("the equations and the engine agree.")
                    if ok
                    else t("MISMATCH — see trace.check().")
                )
            ]
        )
    )
    sections.append(chk)
    title = trace.title or t("Backpropagation, traced: {arch}").format(arch=trace.describe())
    return Document(title, intro, sections, ok)


_SHADES = " .:-=+*#%@"


def _ascii_art(pixels: np.ndarray) -> list[str]:
    """The image in characters, light to dark; each pixel two characters wide so that it
    looks square in a terminal."""
    lo, hi = float(pixels.min()), float(pixels.max())
    scaled = np.zeros_like(pixels) if hi == lo else (pixels - lo) / (hi - lo)
    index = np.minimum((scaled * len(_SHADES)).astype(int), len(_SHADES) - 1)
    return ["".join(_SHADES[i] * 2 for i in row).rstrip() or "." for row in index]


def _svg_picture(picture: Picture, cell: int = 5) -> str:
    """The image as inline SVG (no script, no file): one grey square per pixel."""
    pixels = picture.pixels
    lo, hi = float(pixels.min()), float(pixels.max())
    scaled = np.zeros_like(pixels) if hi == lo else (pixels - lo) / (hi - lo)
    h, w = pixels.shape
    rects = []
    for r in range(h):
        for c in range(w):
            if scaled[r, c] > 0:
                grey = int(round(255 * (1 - scaled[r, c])))
                rects.append(
                    f'<rect x="{c * cell}" y="{r * cell}" width="{cell}" height="{cell}" '
                    f'fill="rgb({grey},{grey},{grey})"/>'
                )
    return (
        f'<figure class="picture"><svg xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{w * cell}" height="{h * cell}" viewBox="0 0 {w * cell} {h * cell}">'
        f"<title>{html.escape(picture.caption)}</title>"
        f'<rect width="{w * cell}" height="{h * cell}" fill="#fff" stroke="#d0d7de"/>'
        + "".join(rects)
        + f"</svg><figcaption>{html.escape(picture.caption)}</figcaption></figure>"
    )


def _sum_terms(values: np.ndarray) -> list[Expr]:
    items: list[Expr] = []
    for i, v in enumerate(values[:8]):
        if i:
            items.append(Op("+"))
        items.append(Num(float(v)))
    if len(values) > 8:
        items += [Op("+"), Sym("⋯")]
    return items


def _prime_step(trace: BackpropTrace, lt: LayerTrace) -> Step:
    l = lt.index
    z_l = _sym("z", l)
    if lt.jacobian:
        J = lt.rows("sigma_prime")
        value = Mat(J[0]) if trace.single else Words(f"({trace.batch_size} Jacobians)")
        a_l = _sym("a", l)
        return Step(
            "σ'",
            t("derivative of the activation (a Jacobian for softmax)"),
            Sym("J"),
            [Row([Words("diag("), a_l, Words(")"), Op("−"), a_l, _T(a_l)]), value],
            layer=l,
            value=lt.sigma_prime,
        )
    rhs: list[Expr] = [_prime_formula(lt)]
    a = _vec(trace, lt.a)
    if lt.activation == "sigmoid":
        rhs.append(Row([a, Op("⊙"), Fenced(Row([Num(1), Op("−"), a]))]))
    elif lt.activation == "tanh":
        rhs.append(Row([Num(1), Op("−"), a, Op("⊙"), a]))
    rhs.append(_vec(trace, lt.sigma_prime))
    return Step(
        "σ'",
        t("derivative of the activation ({activation})").format(activation=lt.activation),
        _call(SIGMA_PRIME, z_l),
        rhs,
        layer=l,
        value=lt.sigma_prime,
    )


def _paths(trace: BackpropTrace, weights: Sequence[Any]) -> list[WeightPath]:
    out = []
    preset = presets.current()[0]  # the rendering's notation, whatever trace.notation says
    style = "net/out" if preset.style == "seed004" else None
    for w in weights:
        if isinstance(w, str):
            out.append(trace.path(w, style=style, notation=preset))
        elif isinstance(w, (tuple, list)) and len(w) == 3:
            out.append(trace.path(int(w[0]), int(w[1]), int(w[2]), style=style, notation=preset))
        else:
            raise InvalidArgumentError(
                f"weights: each weight is (l, j, k) or a name like 'w5', received {w!r}"
            )
    return out


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------
_ANSI = {
    "title": "\033[1m",
    "section": "\033[1;36m",
    "label": "\033[1;33m",
    "ok": "\033[1;32m",
    "bad": "\033[1;31m",
    "dim": "\033[2m",
    "reset": "\033[0m",
}


def wants_color(stream: IO[str] | None) -> bool:
    """True when ``stream`` is a terminal and colour is not switched off (NO_COLOR, TERM=dumb)."""
    if stream is None or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):
        return False


def _paint(text: str, kind: str, color: bool) -> str:
    return f"{_ANSI[kind]}{text}{_ANSI['reset']}" if color else text


def _rich(parts: Sequence[str | Expr]) -> list[str | Expr]:
    """Words written with TeX-style scripts (δ^{l+1}) split into words and symbols."""
    out: list[str | Expr] = []
    for x in parts:
        out.extend(prose(x) if isinstance(x, str) else [x])
    return out


def _para_text(p: Para, style: Style) -> str:
    return "".join(x if isinstance(x, str) else to_inline_text(x, style) for x in _rich(p.parts))


def _wrap(text: str, width: int, indent: str) -> list[str]:
    import textwrap

    return textwrap.wrap(
        text, width=width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
    ) or [indent]


def _step_text(step: Step, style: Style, indent: str, color: bool) -> list[str]:
    label = {
        "forward": "",
        "input": "",
        "target": "",
        "cost": "cost",
        "σ'": "σ'",
        "∇C": "∇C",
        "update": "update",
    }.get(step.label, step.label)
    head = (_paint(f"{label:<7}", "label", color) if label else " " * 7) + step.title
    lines = [indent + head]
    lhs = step.lhs.text(style)
    from .notation import Block

    for i, rhs in enumerate(step.rhs):
        rel = step.relation if i == 0 else "="
        left = lhs if i == 0 else Block([" " * lhs.width])
        block = Block.hcat([left, Op(rel).text(style), rhs.text(style)])
        lines += [indent + "       " + line.rstrip() for line in block.lines]
    if step.note:
        lines += _wrap(_para_text(_note_para(step.note), style), 96, indent + "       ")
    return lines


def _section_text(sec: Section, style: Style, depth: int, color: bool) -> list[str]:
    indent = "  " * depth
    if depth == 0:
        title = "".join(c.upper() if c.isascii() else c for c in sec.title)
        lines = ["", _paint(title, "section", color)]
    else:
        lines = ["", indent + _paint(sec.title, "title", color)]
    for item in sec.items:
        if isinstance(item, Section):
            lines += _section_text(item, style, depth + 1, color)
        elif isinstance(item, Step):
            lines += _step_text(item, style, indent + "  ", color)
        elif isinstance(item, Picture):
            lines += [indent + "  " + item.caption + ":"]
            lines += [indent + "    " + line for line in _ascii_art(item.pixels)]
        else:
            lines += _wrap(_para_text(item, style), 96, indent + "  ")
    return lines


def _render_text(
    trace: BackpropTrace,
    precision: int = 6,
    max_rows: int = 8,
    max_cols: int = 8,
    color: bool | None = False,
    weights: Sequence[Any] = (),
) -> str:
    """The trace for a terminal (see BackpropTrace.to_text)."""
    import sys

    style = Style(precision, max_rows, max_cols)
    if color is None:
        color = wants_color(sys.stdout)
    doc = build_document(trace)
    lines = [_paint(doc.title, "title", color), "═" * min(len(doc.title), 96)]
    for p in doc.intro:
        lines += _wrap(_para_text(p, style), 96, "")
    for sec in doc.sections:
        if sec.title == t("Check"):
            sec_lines = _section_text(sec, style, 0, color)
            verdict = sec_lines[-1]
            sec_lines[-1] = _paint(verdict, "ok" if doc.ok else "bad", color)
            lines += sec_lines
        else:
            lines += _section_text(sec, style, 0, color)
    for path in _paths(trace, weights):
        lines += ["", _paint(t("ONE WEIGHT'S STORY"), "section", color), path.to_text(precision)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------
def _para_md(p: Para, style: Style) -> str:
    return "".join(x if isinstance(x, str) else f"${to_latex(x, style)}$" for x in _rich(p.parts))


def _step_md(step: Step, style: Style) -> list[str]:
    label = {"forward": "", "input": "", "target": ""}.get(step.label, step.label)
    head = f"**{label}** · {step.title}" if label else f"*{step.title}*"
    rel = {"=": "=", ":=": r"\mathrel{:=}"}[step.relation]
    rows = [f"{to_latex(step.lhs, style)} &{rel} {to_latex(step.rhs[0], style)}"]
    rows += [f"&= {to_latex(r, style)}" for r in step.rhs[1:]]
    body = ROW_BREAK.rstrip() + "\n"
    out = [head, "", "$$", r"\begin{aligned}", body.join(rows), r"\end{aligned}", "$$", ""]
    if step.note:
        out += [_para_md(_note_para(step.note), style), ""]
    return out


def _section_md(sec: Section, style: Style, depth: int) -> list[str]:
    out = ["#" * (depth + 2) + " " + sec.title, ""]
    for item in sec.items:
        if isinstance(item, Section):
            out += _section_md(item, style, depth + 1)
        elif isinstance(item, Step):
            out += _step_md(item, style)
        elif isinstance(item, Picture):
            # an indented code block: every Markdown engine keeps it as it is
            out += [f"*{item.caption}:*", ""] + ["    " + ln for ln in _ascii_art(item.pixels)]
            out += [""]
        else:
            out += [_para_md(item, style), ""]
    return out


def _render_markdown(
    trace: BackpropTrace,
    precision: int = 6,
    max_rows: int = 8,
    max_cols: int = 8,
    weights: Sequence[Any] = (),
) -> str:
    """Markdown with LaTeX (see BackpropTrace.to_markdown)."""
    style = Style(precision, max_rows, max_cols)
    doc = build_document(trace)
    out = [f"# {doc.title}", ""]
    heading, items = _equation_items(trace)
    out += [heading, ""]
    for key, expr in items:
        out.append(f"- **{key}** ${to_latex(expr, style)}$")
    out.append("")
    for p in doc.intro:
        out += [_para_md(p, style), ""]
    for sec in doc.sections:
        out += _section_md(sec, style, 0)
    for path in _paths(trace, weights):
        out += [path.to_markdown(precision), ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------
def _round(value: float, precision: int | None) -> float | None:
    if not math.isfinite(value):
        return None
    if precision is None or value == 0:
        return value
    return float(f"{value:.{precision}g}")


def _lists(arr: Any, precision: int | None) -> Any:
    if arr is None:
        return None
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 0:
        return _round(float(a), precision)
    return [_lists(x, precision) for x in a]


def document_steps(
    doc: Document, style: Style, precision: int | None, notes: bool = True
) -> list[dict[str, Any]]:
    """Every Step of ``doc`` as plain data, with the path of section titles it sits under (the
    JSON of the Dense and the convolution traces)."""
    steps: list[dict[str, Any]] = []

    def collect(sec: Section, where: str) -> None:
        for item in sec.items:
            if isinstance(item, Section):
                collect(item, f"{where} / {item.title}")
            elif isinstance(item, Step):
                entry = {
                    "section": where,
                    "label": item.label,
                    "title": item.title,
                    "layer": item.layer,
                    "equation": {
                        "latex": f"{to_latex(item.lhs, style)} {item.relation} "
                        f"{to_latex(item.rhs[0], style)}",
                        "text": f"{to_inline_text(item.lhs, style)} {item.relation} "
                        f"{to_inline_text(item.rhs[0], style)}",
                    },
                    "result": _lists(item.value, precision) if item.value is not None else None,
                }
                if notes:
                    entry["note"] = _para_text(_note_para(item.note), style) if item.note else None
                steps.append(entry)

    for sec in doc.sections:
        collect(sec, sec.title)
    return steps


def _trace_dict(
    trace: BackpropTrace, precision: int | None = None, weights: Sequence[Any] = ()
) -> dict[str, Any]:
    """The trace as plain data: arrays as nested lists, equations as LaTeX and text."""
    style = Style(precision or 12)
    doc = build_document(trace)
    steps = document_steps(doc, style, precision)
    layers = []
    for lt in trace.layers:
        layers.append(
            {
                "l": lt.index,
                "label": _layer(lt.index),
                "name": lt.name,
                "activation": lt.activation,
                "units": lt.units,
                "in_features": lt.in_features,
                "use_bias": lt.use_bias,
                "sigma_prime_is_jacobian": lt.jacobian,
                "a_prev": _lists(lt.a_prev, precision),
                "W": _lists(lt.W, precision),
                "b": _lists(lt.b, precision),
                "z": _lists(lt.z, precision),
                "a": _lists(lt.a, precision),
                "sigma_prime": _lists(lt.sigma_prime, precision),
                "grad_a": _lists(lt.grad_a, precision),
                "delta": _lists(lt.delta, precision),
                "grad_W": _lists(lt.grad_W, precision),
                "grad_b": _lists(lt.grad_b, precision),
                "W_updated": _lists(lt.W_updated, precision),
                "b_updated": _lists(lt.b_updated, precision),
                "engine": {
                    "delta": _lists(lt.engine_delta, precision),
                    "grad_W": _lists(lt.engine_grad_W, precision),
                    "grad_b": _lists(lt.engine_grad_b, precision),
                },
                "equations": {
                    "delta": "BP1" if lt.index == trace.L else "BP2",
                    "grad_b": "BP3",
                    "grad_W": "BP4",
                },
                "notes": [i18n.localise(n) for n in lt.notes],
            }
        )
    return {
        "format": "glassnet.explain.backprop/1",
        "title": doc.title,
        "notation": {
            "name": presets.current()[0].name,
            "summary": presets.current()[0].summary,
            "input_layer": presets.current()[0].input_layer,
            "symbols": _symbol_table(trace, style),
        },
        "model": {"name": trace.model_name, "architecture": trace.describe(), "L": trace.L},
        "loss": {
            "name": trace.loss_name,
            "from_logits": trace.loss.from_logits,
            "formula": {
                "latex": to_latex(_loss_formula(trace), style),
                "text": to_inline_text(_loss_formula(trace), style),
            },
        },
        "batch_size": trace.batch_size,
        "learning_rate": trace.learning_rate,
        "x": _lists(trace.x, precision),
        "y": (
            np.asarray(trace.y).tolist() if trace.labels is not None else _lists(trace.y, precision)
        ),
        "cost": _round(trace.cost, precision),
        "per_sample_cost": _lists(trace.per_sample_cost, precision),
        "equations": EQUATIONS,
        "delta_rule": {"name": trace.delta_rule, "text": _delta_rule_text(trace)},
        "layers": layers,
        "steps": steps,
        "check": {
            "agree": doc.ok,
            "max_discrepancy": _round(trace.max_discrepancy, None),
            "discrepancies": {k: _round(v, None) for k, v in trace.discrepancies.items()},
            "engine_cost": (
                None if trace.engine_cost is None else _round(trace.engine_cost, precision)
            ),
            "spot_checks": [
                {
                    "parameter": s.parameter,
                    "index": [i + 1 for i in s.index],
                    "numerical": _round(s.numerical, None),
                    "equations": _round(s.equations, None),
                }
                for s in trace.spot_checks
            ],
        },
        "notes": [i18n.localise(n) for n in trace.notes],
        "weight_paths": [p.to_dict() for p in _paths(trace, weights)],
    }


def _render_json(
    trace: BackpropTrace,
    precision: int | None = None,
    indent: int | None = 1,
    weights: Sequence[Any] = (),
) -> str:
    """Valid JSON (non-finite numbers become null)."""
    return json.dumps(
        _trace_dict(trace, precision, weights), indent=indent, ensure_ascii=False, allow_nan=False
    )


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------
_CSS = """
.glassnet-trace{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:72rem;
 margin:0 auto;padding:1rem 1.5rem;line-height:1.45;color:#1b1f24}
.glassnet-trace h1{font-size:1.6rem;border-bottom:2px solid #d0d7de;padding-bottom:.3rem}
.glassnet-trace h2{font-size:1.3rem;color:#0b5394;margin-top:2rem}
.glassnet-trace h3{font-size:1.05rem;margin:1.2rem 0 .4rem}
.glassnet-trace .step{border-left:3px solid #d0d7de;padding:.2rem 0 .2rem .8rem;margin:.8rem 0}
.glassnet-trace .step .title{margin:.1rem 0 .3rem;color:#57606a}
.glassnet-trace .label{display:inline-block;min-width:3.2rem;margin-right:.5rem;font-weight:700;
 color:#9a6700}
.glassnet-trace .derivation{display:grid;grid-template-columns:max-content auto;
 column-gap:.4rem;row-gap:.35rem;align-items:center;overflow-x:auto;overflow-y:hidden;
 padding:.15rem 0}
.glassnet-trace mo.gn-fence{display:none}
.glassnet-trace mtable.gn-matrix{border-left:1.5px solid currentColor;
 border-right:1.5px solid currentColor;padding:.1em .15em;margin:0 .15em;
 background:linear-gradient(currentColor,currentColor) top left/.3em 1.5px no-repeat,
 linear-gradient(currentColor,currentColor) bottom left/.3em 1.5px no-repeat,
 linear-gradient(currentColor,currentColor) top right/.3em 1.5px no-repeat,
 linear-gradient(currentColor,currentColor) bottom right/.3em 1.5px no-repeat}
.glassnet-trace mtable.gn-matrix mtd{padding:.22em .4em;line-height:1.2}
.glassnet-trace mtable.gn-matrix mtd.gn-gap{text-align:center;line-height:1}
.glassnet-trace .lhs{text-align:right}
.glassnet-trace .note{color:#57606a;font-size:.92rem;margin:.3rem 0}
.glassnet-trace .ok{color:#1a7f37;font-weight:700}.glassnet-trace .bad{color:#cf222e;
 font-weight:700}
.glassnet-trace math{font-size:1.08em}
.glassnet-trace code{background:#f6f8fa;padding:0 .25rem;border-radius:3px}
.glassnet-trace pre{background:#f6f8fa;padding:.8rem;overflow-x:auto;font-size:.85rem}
.glassnet-trace ul.equations li{margin:.2rem 0}
.glassnet-trace figure.picture{margin:.5rem 0}
.glassnet-trace figure.picture figcaption{color:#57606a;font-size:.9rem}
"""


def _para_html(p: Para, style: Style) -> str:
    return "".join(
        html.escape(x) if isinstance(x, str) else to_mathml(x, style) for x in _rich(p.parts)
    )


def _step_html(step: Step, style: Style) -> str:
    label = {"forward": "", "input": "", "target": ""}.get(step.label, step.label)
    out = [
        '<div class="step">',
        # The space keeps label and title apart in copied text and in reader views too.
        f'<p class="title"><span class="label">{html.escape(label)}</span> '
        f"{html.escape(step.title)}</p>",
        '<div class="derivation">',
    ]
    for i, rhs in enumerate(step.rhs):
        lhs = to_mathml(step.lhs, style) if i == 0 else ""
        rel = step.relation if i == 0 else "="
        math = to_mathml(Row([Op(rel), rhs]), style).replace("<math ", '<math displaystyle="true" ')
        out.append(f'<div class="lhs">{lhs}</div><div class="rhs">{math}</div>')
    out.append("</div>")
    if step.note:
        out.append(f'<p class="note">{_para_html(_note_para(step.note), style)}</p>')
    out.append("</div>")
    return "\n".join(out)


def _section_html(sec: Section, style: Style, depth: int) -> str:
    tag = f"h{min(depth + 2, 6)}"
    out = [f"<section><{tag}>{html.escape(sec.title)}</{tag}>"]
    for item in sec.items:
        if isinstance(item, Section):
            out.append(_section_html(item, style, depth + 1))
        elif isinstance(item, Step):
            out.append(_step_html(item, style))
        elif isinstance(item, Picture):
            out.append(_svg_picture(item))
        else:
            out.append(f"<p>{_para_html(item, style)}</p>")
    out.append("</section>")
    return "\n".join(out)


def _render_html(
    trace: BackpropTrace,
    precision: int = 6,
    max_rows: int = 8,
    max_cols: int = 8,
    weights: Sequence[Any] = (),
    full_page: bool = True,
) -> str:
    """One self-contained page: MathML for the math, inline CSS, no script, no network."""
    style = Style(precision, max_rows, max_cols)
    doc = build_document(trace)
    heading, items = _equation_items(trace)
    body = [
        f'<div class="glassnet-trace"><h1>{html.escape(doc.title)}</h1>',
        f"<p>{html.escape(heading)}</p>",
        '<ul class="equations">',
    ]
    for key, expr in items:
        body.append(f"<li><strong>{html.escape(key)}</strong> {to_mathml(expr, style)}</li>")
    body.append("</ul>")
    body += [f"<p>{_para_html(p, style)}</p>" for p in doc.intro]
    for sec in doc.sections:
        chunk = _section_html(sec, style, 0)
        if sec.title == t("Check"):
            verdict = "ok" if doc.ok else "bad"
            mark = html.escape(t("Verdict: ").strip())
            chunk = chunk.replace(f"<p>{mark}", f'<p class="{verdict}">{mark}')
        body.append(chunk)
    for path in _paths(trace, weights):
        body.append(path.to_html(precision))
    body.append(
        f"<details><summary>{html.escape(t('Plain text'))}</summary><pre>"
        + html.escape(_render_text(trace, precision, max_rows, max_cols, False))
        + "</pre></details></div>"
    )
    content = "\n".join(body)
    if not full_page:
        return f"<style>{_CSS}</style>\n{content}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{i18n.current()}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(doc.title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n{content}\n</body>\n</html>\n"
    )


def _equation_items(trace: Any) -> tuple[str, list[tuple[str, Expr]]]:
    """The heading and the equations listed at the top of a page: the trace's own (a
    convolutional trace's), else the four equations of seeds 000/001 and the forward pass."""
    custom = getattr(trace, "equation_items", None)
    if callable(custom):
        return custom()  # type: ignore[no-any-return]
    exprs = _equation_exprs()
    return _equations_heading(), [(k, exprs[k]) for k in ("forward", "BP1", "BP2", "BP3", "BP4")]


def _equations_heading() -> str:
    preset = presets.current()[0]
    return t(
        "The four equations of seeds 000/001, in {name} notation (forward pass for {range}):"
    ).format(name=preset.name, range=preset.forward_range())


def _equation_exprs() -> dict[str, Expr]:
    l, lm1, lp1 = "l", "l−1", "l+1"
    C = _C()
    return {
        "forward": Row(
            [
                _sym("z", l),
                Op("="),
                _sym("W", l),
                _sym("a", lm1),
                Op("+"),
                _sym("b", l),
                Words(","),
                Space(),
                _sym("a", l),
                Op("="),
                _call(SIGMA, _sym("z", l)),
            ]
        ),
        "BP1": Row(
            [
                _sym("δ", "L"),
                Op("="),
                Sym("∇", sub="a"),
                C,
                Op("⊙"),
                _call(SIGMA_PRIME, _sym("z", "L")),
            ]
        ),
        "BP2": Row(
            [
                _sym("δ", l),
                Op("="),
                Fenced(Row([_T(_sym("W", lp1)), _sym("δ", lp1)])),
                Op("⊙"),
                _call(SIGMA_PRIME, _sym("z", l)),
            ]
        ),
        "BP3": Row([_partial(C, Sym("b", sub="j", sup=l)), Op("="), Sym("δ", sub="j", sup=l)]),
        "BP4": Row(
            [
                _partial(C, Sym("w", sub="jk", sup=l)),
                Op("="),
                Sym("a", sub="k", sup=lm1),
                Sym("δ", sub="j", sup=l),
            ]
        ),
    }


def _symbol_table(trace: BackpropTrace, style: Style) -> list[dict[str, Any]]:
    """Per layer l (glassnet's count): how the preset writes a, z, W, b, δ (text and LaTeX)."""
    rows: list[dict[str, Any]] = [{"l": 0, "a": _both(_sym("a", 0), style)}]
    for lt in trace.layers:
        l = lt.index
        row: dict[str, Any] = {"l": l}
        row.update({key: _both(_sym(key, l), style) for key in ("z", "a", "W", "b", "δ")})
        row["w_jk"] = _both(_sym("w", l, "jk"), style)
        rows.append(row)
    return rows


def _both(expr: Expr, style: Style) -> dict[str, str]:
    return {"text": to_inline_text(expr, style), "latex": to_latex(expr, style)}


# ---------------------------------------------------------------------------------------------
# Entry points: each renders in a notation preset (see glassnet.explain.presets)
# ---------------------------------------------------------------------------------------------
def _lang(trace: Any, lang: str | None) -> str:
    return i18n.check_lang(lang if lang is not None else getattr(trace, "lang", None))


def _preset(trace: BackpropTrace, notation: str | None) -> presets.Preset:
    return presets.get(notation if notation is not None else getattr(trace, "notation", None))


def render_text(
    trace: BackpropTrace,
    precision: int = 6,
    max_rows: int = 8,
    max_cols: int = 8,
    color: bool | None = False,
    weights: Sequence[Any] = (),
    notation: str | None = None,
    lang: str | None = None,
) -> str:
    """The trace for a terminal (see BackpropTrace.to_text)."""
    with presets.using(_preset(trace, notation), trace.L), i18n.using(_lang(trace, lang)):
        return _render_text(trace, precision, max_rows, max_cols, color, weights)


def render_markdown(
    trace: BackpropTrace,
    precision: int = 6,
    max_rows: int = 8,
    max_cols: int = 8,
    weights: Sequence[Any] = (),
    notation: str | None = None,
    lang: str | None = None,
) -> str:
    """Markdown with LaTeX (see BackpropTrace.to_markdown)."""
    with presets.using(_preset(trace, notation), trace.L), i18n.using(_lang(trace, lang)):
        return _render_markdown(trace, precision, max_rows, max_cols, weights)


def trace_dict(
    trace: BackpropTrace,
    precision: int | None = None,
    weights: Sequence[Any] = (),
    notation: str | None = None,
    lang: str | None = None,
) -> dict[str, Any]:
    """The trace as plain data: arrays as nested lists, equations as LaTeX and text."""
    with presets.using(_preset(trace, notation), trace.L), i18n.using(_lang(trace, lang)):
        return _trace_dict(trace, precision, weights)


def render_json(
    trace: BackpropTrace,
    precision: int | None = None,
    indent: int | None = 1,
    weights: Sequence[Any] = (),
    notation: str | None = None,
    lang: str | None = None,
) -> str:
    """Valid JSON (non-finite numbers become null)."""
    with presets.using(_preset(trace, notation), trace.L), i18n.using(_lang(trace, lang)):
        return _render_json(trace, precision, indent, weights)


def render_html(
    trace: BackpropTrace,
    precision: int = 6,
    max_rows: int = 8,
    max_cols: int = 8,
    weights: Sequence[Any] = (),
    full_page: bool = True,
    notation: str | None = None,
    lang: str | None = None,
) -> str:
    """One self-contained page: MathML for the math, inline CSS, no script, no network."""
    with presets.using(_preset(trace, notation), trace.L), i18n.using(_lang(trace, lang)):
        return _render_html(trace, precision, max_rows, max_cols, weights, full_page)


def render_forward(
    trace: Any,
    kind: str,
    precision: int = 6,
    max_rows: int = 8,
    max_cols: int = 8,
    notation: str | None = None,
) -> Any:
    """A ForwardTrace as "text", "markdown", "html" or "dict" (glassnet.explain.forward)."""
    style = Style(precision, max_rows, max_cols)
    with presets.using(_preset(trace, notation), trace.L):
        preset = presets.current()[0]
        title = trace.title or f"Forward pass, traced: {trace.describe()}"
        intro = [
            Para(
                [
                    f"Network {trace.describe()}; "
                    + ("one sample" if trace.single else f"a batch of {len(trace.x)} samples")
                    + f". Notation: {preset.summary}. Computed in float64 from the equations; "
                    f"the model's predict() gives the same output (largest relative difference "
                    f"{trace.max_discrepancy:.2g})."
                ]
            )
        ] + [Para([i18n.localise(note)]) for note in trace.notes]
        sections = [input_section(trace), forward_section(trace)]
        if kind == "text":
            lines = [title, "═" * min(len(title), 96)]
            for p in intro:
                lines += _wrap(_para_text(p, style), 96, "")
            for sec in sections:
                lines += _section_text(sec, style, 0, False)
            return "\n".join(lines) + "\n"
        if kind == "markdown":
            out = [f"# {title}", ""]
            for p in intro:
                out += [_para_md(p, style), ""]
            for sec in sections:
                out += _section_md(sec, style, 0)
            return "\n".join(out)
        if kind == "dict":
            return {
                "format": "glassnet.explain.forward/1",
                "title": title,
                "notation": {"name": preset.name, "summary": preset.summary},
                "x": _lists(trace.x, None),
                "layers": [
                    {
                        "l": lt.index,
                        "label": _layer(lt.index),
                        "name": lt.name,
                        "activation": lt.activation,
                        **{k: _lists(getattr(lt, k), None) for k in ("a_prev", "W", "b", "z", "a")},
                    }
                    for lt in trace.layers
                ],
                "output": _lists(trace.output, None),
                "max_discrepancy": trace.max_discrepancy,
                "notes": [i18n.localise(n) for n in trace.notes],
            }
        body = [f'<div class="glassnet-trace"><h1>{html.escape(title)}</h1>']
        body += [f"<p>{_para_html(p, style)}</p>" for p in intro]
        body += [_section_html(sec, style, 0) for sec in sections]
        body.append("</div>")
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
            "<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
        )
