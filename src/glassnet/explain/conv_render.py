"""The document of a convolutional trace (``glassnet.explain.conv``): sections of steps, each an
equation, the numbers substituted and the result, read by the same four renderers as a Dense
trace (text, Markdown with LaTeX, JSON, HTML).

Feature maps are matrices (one per channel, rows × columns, indices 1-based as in the text);
the first sample is shown when several are traced.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from ..nn import losses as L
from . import i18n, presets
from .conv import ConvTrace, StageTrace, correlate, rot180, shape_text, spread
from .i18n import N_, localise, t
from .notation import (
    Expr,
    Fenced,
    Frac,
    Mat,
    Num,
    Op,
    Row,
    Style,
    Sym,
    Words,
)
from .render import (
    _C,
    _T,
    SIGMA,
    SIGMA_PRIME,
    Document,
    Para,
    Picture,
    Section,
    Step,
    _call,
    _delta_rule_text,
    _grad_formula,
    _lists,
    _loss_formula,
    _partial,
    _prime_formula,
    _prod,
    _round,
    document_steps,
)

__all__ = ["build_conv_document", "conv_equations", "conv_dict"]

#: ⋆ is the cross-correlation that Keras and PyTorch call convolution
STAR = Op("⋆")


def S(base: str, l: int | str | None, sub: str | None = None, prime: bool = False) -> Sym:  # noqa: N802
    """Quantity ``base`` of stage l: a², z²₁ (filter 1), W²₁₁ (filter 1, input channel 1)."""
    return Sym(base, sub=sub, sup=None if l is None else str(l), prime=prime)


class Hat(Sym):
    """x̂ or ĝ: a letter with a hat (LaTeX ``\\hat{x}``; text and MathML keep the Unicode)."""

    def __init__(self, letter: str, sub: str | None = None) -> None:
        super().__init__(letter + "\u0302", sub=sub)

    def latex(self, style: Style) -> str:
        plain = Sym(self.base[0], sub=self.sub).latex(style)
        return r"\hat{" + self.base[0] + "}" + plain[1:]


def _fc(f: int, c: int) -> str:
    """The subscript of the kernel from input channel c to filter f (0-based in, 1-based out)."""
    return f"{f + 1}{c + 1}" if f < 9 and c < 9 else f"{f + 1},{c + 1}"


def _at(sym: Expr, r: int, s: int) -> Row:
    """sym[r, s] with 1-based indices."""
    return Row([sym, Words(f"[{r + 1}, {s + 1}]")])


def _plus(value: float) -> list[Expr]:
    """+ v, or − |v| for a negative v (no "+ −0.05")."""
    return [Op("−"), Num(-value)] if value < 0 else [Op("+"), Num(value)]


def _sum_of(arr: np.ndarray) -> Row:
    """Σ of a matrix's entries, written out: Σ [..]."""
    return Row([Sym("Σ"), Mat(arr)])


def _first(arr: np.ndarray | None) -> np.ndarray:
    """The first sample's part of a per-sample array."""
    assert arr is not None, "the stage has this array"
    return np.asarray(arr)[0]


def _kind_title(st: StageTrace) -> str:
    shape_in, shape_out = shape_text(st.a_prev, st.rank), shape_text(st.a, st.rank)
    mode = st.info.get("mode", "max")
    what = {
        "conv": N_("convolution"),
        "tconv": N_("transposed convolution"),
        "zeropad": N_("zero padding"),
        "upsample": N_("upsampling"),
        "pool": N_("max pooling") if mode == "max" else N_("average pooling"),
        "global_pool": N_("global max pooling") if mode == "max" else N_("global average pooling"),
        "batchnorm": N_("batch normalisation"),
        "activation": N_("activation"),
        "flatten": N_("flatten"),
        "dense": N_("dense"),
    }[st.kind]
    sigma = f", σ = {st.activation}" if st.kind in ("conv", "tconv", "dense", "activation") else ""
    return t("Layer {l} ({what}, {name}): {shape_in} → {shape_out}{sigma}").format(
        l=st.index,
        what=t(what),
        name=repr(st.name),
        shape_in=shape_in,
        shape_out=shape_out,
        sigma=sigma,
    )


# ---------------------------------------------------------------------------------------------
# Forward
# ---------------------------------------------------------------------------------------------
def _conv_forward(st: StageTrace) -> list[Any]:
    l, items = st.index, list[Any]()
    W = st.params["W"]
    pad = st.info["pad"]
    if (st.info["padding"] == "causal" or _strided(st)) and any(any(p) for p in pad):
        items.append(
            Para(
                [
                    t(
                        "Padding {padding}: each input map gets {top} row(s) of zeros above, "
                        "{bottom} below, {left} column(s) left and {right} right (Keras's rule: "
                        "⌈size/stride⌉ positions for 'same', span − 1 steps before for "
                        "'causal'); the padded maps are shown."
                    ).format(
                        padding=repr(st.info["padding"]),
                        top=pad[0][0],
                        bottom=pad[0][1],
                        left=pad[1][0],
                        right=pad[1][1],
                    )  # fmt: skip
                ]
            )
        )
    elif st.info["padding"] == "same" and any(any(p) for p in pad):
        items.append(
            Para(
                [
                    t(
                        "Padding 'same': each input map gets {top} row(s) of zeros above, "
                        "{bottom} below, {left} column(s) left and {right} right, so that z has "
                        "the input's size; the padded maps are shown."
                    ).format(top=pad[0][0], bottom=pad[0][1], left=pad[1][0], right=pad[1][1])
                ]
            )
        )
    if _strided(st):
        items.append(Para([_index_map_text(st)]))
    a_pad = _first(st.info["a_pad"])
    # one position for every filter: the top-left window unless it is blank
    ones = np.ones((1, *a_pad.shape[:1], *W.shape[-2:]))
    covered = correlate(np.abs(a_pad)[None], ones, st.info["strides"], st.info["dilation"])
    at = _telling(covered[0, 0])
    for f in _shown(W.shape[0]):
        items.append(_conv_position(st, f, at))
        items += _conv_map(st, f)
    items += _more(W.shape[0], N_("Filters"), l)
    return items


#: maps (filters, channels) shown in full per layer; the others are computed and checked alike
SHOWN = 4


def _shown(count: int) -> range:
    return range(min(count, SHOWN))


def _more(count: int, what: str, l: int) -> list[Any]:
    """A note for the maps beyond SHOWN (none when all are shown)."""
    if count <= SHOWN:
        return []
    text = t(
        "{what} {first}–{count} of layer {l} are computed and checked the same way; their "
        "numbers are in trace.stages[{index}] and in the JSON."
    ).format(what=t(what), first=SHOWN + 1, count=count, l=l, index=l - 1)
    return [Para([text])]


def _telling(values: np.ndarray) -> tuple[int, int]:
    """The position to work out: the top-left one, unless the value there is 0 (an image's
    blank corner) — then the largest in magnitude."""
    if values[0, 0] != 0 or not values.any():
        return 0, 0
    r, s = divmod(int(np.argmax(np.abs(values))), values.shape[1])
    return r, s


def _strided(st: StageTrace) -> bool:
    """True for a convolution with a stride or a dilation above 1."""
    return st.info["strides"] != (1, 1) or st.info["dilation"] != (1, 1)


def _times(step: int, var: str) -> str:
    """ "i" or "2i": step · var as written in an index."""
    return var if step == 1 else f"{step}{var}"


def _index_map(st: StageTrace) -> str:
    """ "[2r + i, 2s + 2j]": the input entry that kernel entry [i, j] touches at position [r, s]
    (every index from 0)."""
    (sh, sw), (dh, dw) = st.info["strides"], st.info["dilation"]
    rows = f"{_times(sh, 'r')} + {_times(dh, 'i')}"
    return f"[{rows}, {_times(sw, 's')} + {_times(dw, 'j')}]"


def _index_map_text(st: StageTrace) -> str:
    """The stride and dilation in words, with the index map they give."""
    (sh, sw), (dh, dw) = st.info["strides"], st.info["dilation"]
    return t(
        "Strides ({sh}, {sw}), dilation ({dh}, {dw}): z[r, s] = Σ_ij W[i, j] a{map} + b with r, "
        "s, i, j from 0 — the window moves {sh} row(s) and {sw} column(s) at a time, and its "
        "entries are {dh} row(s) and {dw} column(s) apart. The backward pass goes through the "
        "same index map."
    ).format(sh=sh, sw=sw, dh=dh, dw=dw, map=_index_map(st))


def _window(st: StageTrace, maps: np.ndarray, r: int, s: int) -> np.ndarray:
    """The entries of maps (..., rows, cols) that the kernel touches at output position
    (r, s): rows s₁r + d₁i, columns s₂s + d₂j."""
    (sh, sw), (dh, dw) = st.info["strides"], st.info["dilation"]
    kh, kw = st.params["W"].shape[-2:]
    return maps[
        ..., sh * r : sh * r + (kh - 1) * dh + 1 : dh, sw * s : sw * s + (kw - 1) * dw + 1 : dw
    ]


def _offset(start: int, step: int, var: str) -> str:
    """ "1 + i", "3 + 2i": the 1-based index start + step·var."""
    return f"{start} + {var}" if step == 1 else f"{start} + {step}{var}"


def _conv_position(st: StageTrace, f: int, at: tuple[int, int]) -> Step:
    """z^l_f[r, s]: the window at (r, s) of each input channel ⊙ the kernel, summed, + b."""
    l, W, b = st.index, st.params["W"], st.params["b"]
    a_pad, z = _first(st.info["a_pad"]), _first(st.z)
    channels = W.shape[1]
    r, s = at
    (sh, sw), (dh, dw) = st.info["strides"], st.info["dilation"]
    terms: list[Expr] = []
    products: list[Expr] = []
    for c in _shown(channels):
        window = _window(st, a_pad[c], r, s)
        terms += ([Op("+")] if c else []) + [_sum_of_product(window, W[f, c])]
        products += ([Op("+")] if c else []) + [_sum_of(window * W[f, c])]
    if channels > SHOWN:  # the other channels' windows, added up
        rest = float((_window(st, a_pad[SHOWN:], r, s) * W[f, SHOWN:]).sum())
        tail: list[Expr] = [
            Op("+"),
            Words(t("(channels {first}–{last}) ").format(first=SHOWN + 1, last=channels)),
            Num(rest),
        ]
        terms, products = terms + tail, products + tail
    one = channels == 1
    formula = Row(
        [Sym("Σ", sub="i,j" if one else "c,i,j"), S("W", l, _fc(f, 0) if one else f"{f + 1}c"),
         Words("[i, j]"), S("a", l - 1, "1" if one else "c"),
         Words(f"[{_offset(sh * r + 1, dh, 'i')}, {_offset(sw * s + 1, dw, 'j')}]"),
         Op("+"), S("b", l, str(f + 1))]
    )  # fmt: skip
    return Step(
        "forward",
        t(
            "one position of filter {f}: the window at [{r}, {s}] of the input, weighted by the "
            "kernel"
        ).format(f=f + 1, r=r + 1, s=s + 1),
        _at(S("z", l, str(f + 1)), r, s),
        [formula, Row([*terms, *_plus(b[f])]), Row([*products, *_plus(b[f])]), Num(z[f, r, s])],
        layer=l,
        value=z[f, r, s],
        note=t(
            "i, j run over the kernel's rows and columns (from 0); the window slides one step "
            "at a time, and every position of z is computed the same way."
        )
        if not _strided(st)
        else t(
            "i, j run over the kernel's rows and columns (from 0); every position of z is "
            "computed the same way, through the index map above."
        ),
    )


def _conv_map(st: StageTrace, f: int) -> list[Any]:
    """z^l_f = Σ_c W^l_fc ⋆ a^{l−1}_c + b^l_f at every position (one part per input channel
    when there are several), then a^l_f = σ(z^l_f)."""
    l, W, b = st.index, st.params["W"], st.params["b"]
    a_pad, z, a = _first(st.info["a_pad"]), _first(st.z), _first(st.a)
    channels = W.shape[1]
    items: list[Any] = []
    if channels == 1:
        whole: Expr = Row([_prod(Mat(W[f, 0]), STAR, Mat(a_pad[0])), *_plus(b[f])])
    else:
        sum_terms: list[Expr] = []
        for c in _shown(channels):
            part = correlate_2d(a_pad[c], W[f, c], st)
            label = t("filter {f}, the part from input channel {c}").format(f=f + 1, c=c + 1)
            items.append(
                Step("forward", label,
                     Row([S("W", l, _fc(f, c)), STAR, S("a", l - 1, str(c + 1))]),
                     [_prod(Mat(W[f, c]), STAR, Mat(a_pad[c])), Mat(part)], layer=l, value=part)
            )  # fmt: skip
            sum_terms += ([Op("+")] if c else []) + [Mat(part)]
        if channels > SHOWN:
            rest = np.sum([correlate_2d(a_pad[c], W[f, c], st) for c in range(SHOWN, channels)], 0)
            sum_terms += [
                Op("+"),
                Words(t("(channels {first}–{last}) ").format(first=SHOWN + 1, last=channels)),
                Mat(rest),
            ]
        whole = Row([*sum_terms, *_plus(b[f])])
    label = t("weighted input of filter {f}, every position").format(f=f + 1)
    items.append(
        Step("forward", label, S("z", l, str(f + 1)),
             [_conv_formula(l, f, channels), whole, Mat(z[f])], layer=l, value=z[f])
    )  # fmt: skip
    label = t("activation of filter {f}, σ = {act}").format(f=f + 1, act=st.activation)
    items.append(
        Step("forward", label, S("a", l, str(f + 1)),
             [_call(SIGMA, S("z", l, str(f + 1))), _call(SIGMA, Mat(z[f])), Mat(a[f])], layer=l,
             value=a[f])
    )  # fmt: skip
    return items


def _sum_of_product(window: np.ndarray, kernel: np.ndarray) -> Row:
    return Row([Sym("Σ"), Fenced(Row([Mat(window), Op("⊙"), Mat(kernel)]))])


def _conv_formula(l: int, f: int, channels: int) -> Row:
    """z^l_f = W^l_f1 ⋆ a^{l−1}_1 (summed over the input channels c) + b^l_f."""
    if channels == 1:
        parts: list[Expr] = [S("W", l, _fc(f, 0)), STAR, S("a", l - 1, "1")]
    else:
        parts = [Sym("Σ", sub="c"), S("W", l, f"{f + 1}c"), STAR, S("a", l - 1, "c")]
    return Row([*parts, Op("+"), S("b", l, str(f + 1))])


def _pool_forward(st: StageTrace) -> list[Any]:
    l, items = st.index, list[Any]()
    mode = st.info["mode"]
    x, a = _first(st.a_prev), _first(st.a)
    name = "max" if mode == "max" else "mean"
    pool = "×".join(str(p) for p in st.info["pool"])
    for c in _shown(x.shape[0]):
        r, s = _telling(a[c])
        rows, cols = st.info["windows"][r][s]
        window = x[c, rows, cols]
        items.append(
            Step(
                "forward",
                t("channel {c}, window [{r}, {s}] ({pool}, stride {stride})").format(
                    c=c + 1,
                    r=r + 1,
                    s=s + 1,
                    pool=pool,
                    stride="×".join(map(str, st.info["strides"])),
                ),
                _at(S("a", l, str(c + 1)), r, s),
                [_call(Words(name), Mat(window)), Num(a[c, r, s])],
                layer=l,
                value=a[c, r, s],
            )
        )
        items.append(
            Step(
                "forward",
                t("channel {c}, every window").format(c=c + 1),
                S("a", l, str(c + 1)),
                [
                    _call(Words(f"{name}pool"), S("a", l - 1, str(c + 1))),
                    _call(Words(f"{name}pool"), Mat(x[c])),
                    Mat(a[c]),
                ],
                layer=l,
                value=a[c],
            )
        )
    items += _more(x.shape[0], N_("Channels"), l)
    return items


def _global_forward(st: StageTrace) -> list[Any]:
    """a^l_c = the maximum (mean) of the whole map a^{l−1}_c: one number per channel."""
    l, x, a = st.index, _first(st.a_prev), _first(st.a)
    name = "max" if st.info["mode"] == "max" else "mean"
    label = (
        N_("channel {c}: the max of the whole map")
        if name == "max"
        else N_("channel {c}: the mean of the whole map")
    )
    items: list[Any] = [
        Step("forward", t(label).format(c=c + 1), S("a", l, str(c + 1)),
             [_call(Words(name), S("a", l - 1, str(c + 1))), _call(Words(name), Mat(x[c])),
              Num(a[c])], layer=l, value=a[c])
        for c in _shown(x.shape[0])
    ]  # fmt: skip
    items += _more(x.shape[0], N_("Channels"), l)
    items.append(
        Step("forward", t("one number per channel"), S("a", l), [Mat(a)], layer=l, value=a)
    )
    return items


def _global_backward(st: StageTrace) -> list[Any]:
    """Max: ∂C/∂a^l_c goes to the map's (first) maximum; mean: shared by every position."""
    l, x, g = st.index, _first(st.a_prev), _first(st.grad_a)
    dx, where = _first(st.grad_a_prev), _first(st.info["where"])
    items: list[Any] = []
    for c in _shown(x.shape[0]):
        cs = str(c + 1)
        if st.info["mode"] == "max":
            r, s = divmod(int(where[c, 0, 0]), x.shape[-1])
            rule: Expr = Words(
                t("{g} at the maximum [{r}, {s}], 0 elsewhere").format(
                    g=f"{g[c]:.6g}", r=r + 1, s=s + 1
                )
            )
        else:
            rule = Row([Frac(_grad_sym(l, cs), Num(x[c].size)), Words(t(" at every position"))])
        label = t("channel {c}: the gradient routed back").format(c=c + 1)
        items.append(
            Step("BP2", label, _grad_sym(l - 1, cs),
                 [rule, Mat(dx[c])], layer=l, value=dx[c])
        )  # fmt: skip
    return items + _more(x.shape[0], N_("Channels"), l)


def _bn_forward(st: StageTrace) -> list[Any]:
    l, items, info = st.index, list[Any](), st.info
    x, xhat, a = _first(st.a_prev), _first(info["xhat"]), _first(st.a)
    gamma, beta = st.params["gamma"], st.params["beta"]
    count = st.a_prev.size // st.a_prev.shape[1]
    items.append(
        Para(
            [
                t(
                    "Batch statistics, as in training: μ and σ² per channel over the {count} "
                    "values of the batch ({n} sample(s)); ε = {eps}. The model's moving "
                    "statistics are not used or changed."
                ).format(count=count, n=len(st.a_prev), eps=f"{info['eps']:g}")
            ]
        )
    )
    for c in _shown(x.shape[0]):
        sub = str(c + 1)
        shown = x[c] if x.ndim > 1 else x[c : c + 1]
        items.append(
            Step(
                "forward",
                t("channel {c}: mean and variance").format(c=c + 1),
                Sym("μ", sub=sub),
                [_call(Words("mean"), Mat(shown)), Num(info["mean"][c])],
                layer=l,
                value=info["mean"][c],
                note=[Sym("σ", sub=sub, sup="2"), f" = mean((x − μ)²) = {info['var'][c]:.6g}"],
            )
        )
        items.append(
            Step(
                "forward",
                t("channel {c}: normalised").format(c=c + 1),
                Hat("x", sub),
                [
                    Frac(
                        Row([S("a", l - 1, sub), Op("−"), Sym("μ", sub=sub)]),
                        Row(
                            [Words("√("), Sym("σ", sub=sub, sup="2"), Op("+"), Sym("ε"), Words(")")]
                        ),
                    ),
                    Row(
                        [
                            Fenced(Row([Mat(shown), Op("−"), Num(info["mean"][c])])),
                            Op("·"),
                            Num(info["inv"][c]),
                        ]
                    ),
                    Mat(xhat[c] if xhat.ndim > 1 else xhat[c : c + 1]),
                ],
                layer=l,
                value=xhat[c],
            )
        )
        items.append(
            Step(
                "forward",
                t("channel {c}: scaled and shifted").format(c=c + 1),
                S("a", l, sub),
                [
                    Row([Sym("γ", sub=sub), Hat("x", sub), Op("+"), Sym("β", sub=sub)]),
                    Row(
                        [
                            Num(gamma[c]),
                            Op("·"),
                            Mat(xhat[c] if xhat.ndim > 1 else xhat[c : c + 1]),
                            Op("+"),
                            Num(beta[c]),
                        ]
                    ),
                    Mat(a[c] if a.ndim > 1 else a[c : c + 1]),
                ],
                layer=l,
                value=a[c],
            )
        )
    items += _more(x.shape[0], N_("Channels"), l)
    return items


def _dense_forward(st: StageTrace) -> list[Any]:
    l = st.index
    W, b = st.params["W"], st.params["b"]
    return [
        Step(
            "forward",
            t("weighted input"),
            S("z", l),
            [
                Row([S("W", l), S("a", l - 1), Op("+"), S("b", l)]),
                Row([_prod(Mat(W), Mat(_first(st.a_prev))), Op("+"), Mat(b)]),
                Mat(_first(st.z)),
            ],
            layer=l,
            value=_first(st.z),
        ),
        Step(
            "forward",
            t("activation, σ = {act}").format(act=st.activation),
            S("a", l),
            [_call(SIGMA, S("z", l)), _call(SIGMA, Mat(_first(st.z))), Mat(_first(st.a))],
            layer=l,
            value=_first(st.a),
        ),
    ]


def _flatten_forward(st: StageTrace, fmt: str) -> list[Any]:
    order = (
        t(
            "position by position (row by row), the channels of each position together, as "
            "Keras's channels-last layout stores them"
        )
        if fmt == "channels_last"
        else t("channel by channel, each map row by row (channels-first layout)")
    )
    return [
        Para([t("Flatten lists the maps' entries {order}.").format(order=order)]),
        Step(
            "forward",
            t("the maps as one vector"),
            S("a", st.index),
            [_call(Words("flatten"), S("a", st.index - 1)), Mat(_first(st.a))],
            layer=st.index,
            value=_first(st.a),
        ),
    ]


def _maps_or_vec(arr: np.ndarray) -> list[Expr]:
    """One Mat per channel for maps, one column for a vector (first sample)."""
    first = _first(arr)
    return [Mat(m) for m in first] if first.ndim == 3 else [Mat(first)]


def _activation_forward(st: StageTrace) -> list[Any]:
    l = st.index
    z, a = _first(st.z), _first(st.a)
    if z.ndim == 1:
        return [
            Step(
                "forward",
                f"σ = {st.activation}",
                S("a", l),
                [_call(SIGMA, S("a", l - 1)), Mat(a)],
                layer=l,
                value=a,
            )
        ]
    return [
        Step(
            "forward",
            t("channel {c}, σ = {act}").format(c=c + 1, act=st.activation),
            S("a", l, str(c + 1)),
            [_call(SIGMA, S("a", l - 1, str(c + 1))), _call(SIGMA, Mat(z[c])), Mat(a[c])],
            layer=l,
            value=a[c],
        )
        for c in _shown(z.shape[0])
    ] + _more(z.shape[0], N_("Channels"), l)


# ---------------------------------------------------------------------------------------------
# Backward
# ---------------------------------------------------------------------------------------------
def _grad_sym(l: int, sub: str | None = None) -> Expr:
    return _partial(_C(), S("a", l, sub))


def _prime_steps(st: StageTrace, c: int | None) -> list[Step]:
    """σ'(z) and δ = ∂C/∂a ⊙ σ'(z) for channel c of maps (None: a vector)."""
    l = st.index
    sub = None if c is None else str(c + 1)
    pick = (lambda arr: _first(arr)) if c is None else (lambda arr: _first(arr)[c])
    sp, g, delta = pick(st.sigma_prime), pick(st.grad_a), pick(st.delta)
    prime_rhs: list[Expr] = [_prime_formula(st)]  # type: ignore[arg-type]
    if st.activation == "sigmoid":
        a = Mat(pick(st.a))
        prime_rhs.append(Row([a, Op("⊙"), Fenced(Row([Num(1), Op("−"), a]))]))
    prime_rhs.append(Mat(sp))
    return [
        Step(
            "σ'",
            t("derivative of the activation ({act})").format(act=st.activation)
            + ("" if c is None else t(", channel {c}").format(c=c + 1)),
            _call(SIGMA_PRIME, S("z", l, sub)),
            prime_rhs,
            layer=l,
            value=sp,
        ),
        Step(
            "δ",
            t("error of the layer") + ("" if c is None else t(", channel {c}").format(c=c + 1)),
            S("δ", l, sub),
            [
                Row([_grad_sym(l, sub), Op("⊙"), _call(SIGMA_PRIME, S("z", l, sub))]),
                Row([Mat(g), Op("⊙"), Mat(sp)]),
                Mat(delta),
            ],
            layer=l,
            value=delta,
            note=[
                t("The gradient that reached "),
                S("a", l, sub),
                t(" times the slope of σ at every position — zero where a ReLU is off."),
            ]
            if st.activation == "relu"
            else "",
        ),
    ]


def _delta_and_bias(st: StageTrace, f: int, n: int, before_bn: bool = False) -> list[Any]:
    """δ^l_f (or the note that σ is linear) and ∂C/∂b^l_f = Σ δ^l_f of one filter: the same
    for a convolution and a transposed one."""
    l, items, fs = st.index, list[Any](), str(f + 1)
    delta = _first(st.delta)
    if st.activation != "linear":
        items += _prime_steps(st, f)
    else:
        items.append(Para([t("σ is linear: "), S("δ", l, fs), " = ", _grad_sym(l, fs), "."]))
    if "b" in st.grads:
        items.append(
            Step(
                "BP3",
                t("gradient of the bias of filter {f}: the sum of its δ").format(f=f + 1),
                _partial(_C(), S("b", l, fs)),
                [
                    Row([Sym("Σ", sub="r,s"), S("δ", l, fs), Words("[r, s]")]),
                    _sum_of(delta[f])
                    if n == 1
                    else Words(t("(mean over the {n} samples)").format(n=n)),
                    Num(st.grads["b"][f]),
                ],
                layer=l,
                value=st.grads["b"][f],
                note=t(
                    "The bias is added at every position, so its gradient collects δ from "
                    "all of them."
                )
                + (
                    t(
                        " Batch normalisation follows and subtracts the channel's mean, so "
                        "this sum is 0 up to rounding: such a bias learns nothing."
                    )
                    if before_bn
                    else ""
                ),
            )
        )
    return items


def _conv_backward(st: StageTrace, n: int, before_bn: bool = False) -> list[Any]:
    l, items = st.index, list[Any]()
    W = st.params["W"]
    F, channels = W.shape[:2]
    a_pad = _first(st.info["a_pad"])
    delta = _first(st.delta)
    oh, ow = delta.shape[-2:]
    for f in _shown(F):
        fs = str(f + 1)
        items += _delta_and_bias(st, f, n, before_bn)
        (sh, sw) = st.info["strides"]
        rows = "r" if sh == 1 else f"{sh}r − {sh - 1}"
        cols = "s" if sw == 1 else f"{sw}s − {sw - 1}"
        for c in _shown(channels):
            sub = _fc(f, c)
            grad = st.grads["W"][f, c]
            window = a_pad[c, : sh * (oh - 1) + 1 : sh, : sw * (ow - 1) + 1 : sw]
            items.append(
                Step(
                    "BP4",
                    t(
                        "one entry of the kernel's gradient: input channel {c} → filter {f}, [1, 1]"
                    ).format(c=c + 1, f=f + 1)
                    + ("" if n == 1 else t(", first sample")),
                    Row([_partial(_C(), S("W", l, sub)), Words("[1, 1]")]),
                    [
                        Row(
                            [
                                Sym("Σ", sub="r,s"),
                                S("a", l - 1, str(c + 1)),
                                Words(f"[{rows}, {cols}]"),
                                S("δ", l, fs),
                                Words("[r, s]"),
                            ]
                        ),
                        _sum_of_product(window, delta[f]),
                        Num(float((window * delta[f]).sum())),
                    ],
                    layer=l,
                    value=float((window * delta[f]).sum()),
                    note=t(
                        "The input window under δ (the top-left one), weighted by δ and summed: "
                        "a kernel entry learns from every position it touched."
                    ),
                )
            )
            corr: list[Expr] = [S("a", l - 1, str(c + 1)), STAR, S("δ", l, fs)]
            if n > 1:  # the mean over the samples of each one's correlation
                corr = [Frac(Num(1), Num(n)), Sym("Σ", sub="x"), *corr]
            rhs: list[Expr] = [Row(corr)]
            rhs.append(Mat(grad))
            items.append(
                Step(
                    "BP4",
                    t("gradient of the kernel from input channel {c} to filter {f}").format(
                        c=c + 1, f=f + 1
                    ),
                    _partial(_C(), S("W", l, sub)),
                    rhs,
                    layer=l,
                    value=grad,
                    note=(
                        t("Every entry [i, j] as above, with the window moved by (i − 1, j − 1)")
                        if st.info["dilation"] == (1, 1)
                        else t(
                            "Every entry [i, j] as above, with the window moved by the dilation "
                            "times (i − 1, j − 1)"
                        )
                    )
                    + (t(" and averaged over the samples.") if n > 1 else "."),
                )
            )
    items += _more(F, N_("Filters"), l) + _more(channels, N_("Input channels"), l)
    items += _conv_input_grad(st)
    return items


def _conv_input_grad(st: StageTrace) -> list[Any]:
    l = st.index
    W = st.params["W"]
    F, channels = W.shape[:2]
    strides, dilation = st.info["strides"], st.info["dilation"]
    kernels = spread(W, dilation)  # the kernel's entries where they touch the input
    kh, kw = kernels.shape[-2:]
    delta = spread(_first(st.delta), strides)  # δ back where its windows start
    padded = np.pad(delta, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    full, grad = _first(st.info["full"]), _first(st.grad_a_prev)
    items: list[Any] = []
    below = t("the input") if l == 1 else t("layer {l}").format(l=l - 1)
    items.append(
        Para(
            [
                t(
                    "Back to {below}: the full correlation of δ with each kernel turned by 180° — "
                    "δ padded with {rows} row(s) and {cols} column(s) of zeros on every side, "
                    "then correlated with rot180(W)."
                ).format(below=below, rows=kh - 1, cols=kw - 1)
            ]
        )
    )
    if _strided(st):
        items.append(
            Para(
                [
                    t(
                        "With strides {strides} and dilation {dilation} this is the index map "
                        "run backwards, ∂C/∂a{map} += W[i, j] δ[r, s]: below, δ is spread by "
                        "the stride (zeros between its entries, each one back where its window "
                        "starts) and the kernel by the dilation (its entries where they touch "
                        "the input) before the padding and the rotation. Rows or columns that "
                        "no window reached get 0."
                    ).format(strides=strides, dilation=dilation, map=_index_map(st))
                ]
            )
        )
    for c in _shown(channels):
        cs = str(c + 1)
        parts = [rot180(kernels[f, c]) for f in range(F)]
        contributions = [correlate_2d(padded[f], parts[f]) for f in range(F)]
        if F > 1:
            for f in _shown(F):
                items.append(
                    Step(
                        "BP2",
                        t("what filter {f} sends back to input channel {c}").format(
                            f=f + 1, c=c + 1
                        ),
                        Row(
                            [
                                _call(Words("pad"), S("δ", l, str(f + 1))),
                                STAR,
                                _call(Words("rot180"), S("W", l, _fc(f, c))),
                            ]
                        ),
                        [_prod(Mat(padded[f]), STAR, Mat(parts[f])), Mat(contributions[f])],
                        layer=l,
                        value=contributions[f],
                    )
                )
            # the parts side by side would not fit a page: they are the steps just above
            numbers: Expr = Words(
                " + ".join(t("filter {f}'s part").format(f=f + 1) for f in range(F))
                if F <= SHOWN
                else t("the parts of filters 1–{F} added up (filters 1–{shown} above)").format(
                    F=F, shown=SHOWN
                )
            )
        else:
            numbers = _prod(Mat(padded[0]), STAR, Mat(parts[0]))
        formula = Row(
            [
                Sym("Σ", sub="f"),
                Row([_call(Words("pad"), S("δ", l, "f"))], sep=" "),
                STAR,
                _call(Words("rot180"), S("W", l, f"f{cs}")),
            ],
            sep=" ",
        )
        rhs: list[Expr] = [formula, numbers]
        reached = np.sum(contributions, axis=0)
        if reached.shape != full.shape[-2:]:  # then the rows and columns no window reached
            rhs.append(Mat(reached))
        rhs.append(Mat(full[c]))
        cropped = full.shape[-2:] != grad.shape[-2:]
        if cropped:
            rhs.append(Mat(grad[c]))
        items.append(
            Step(
                "BP2",
                t("gradient for input channel {c} of layer {l}").format(c=c + 1, l=l),
                _grad_sym(l - 1, cs),
                rhs,
                layer=l,
                value=grad[c],
                note=t("The padding rows and columns are dropped (they are not inputs).")
                if cropped
                else t(
                    "Each input value collects δ from every position whose window covered it, "
                    "weighted by the kernel entry that touched it."
                )
                + ("" if l > 1 else t(" (The input has no weights; this is ∂C/∂x.)")),
            )
        )
    items += _more(channels, N_("Input channels"), l)
    return items


def correlate_2d(x: np.ndarray, kernel: np.ndarray, st: StageTrace | None = None) -> np.ndarray:
    """The valid cross-correlation of one map with one kernel (for the shown contributions),
    with the stride and dilation of the convolution st (none without it)."""
    steps = (st.info["strides"], st.info["dilation"]) if st is not None else ((1, 1), (1, 1))
    return correlate(x[None, None], kernel[None, None], *steps)[0, 0]


def _pool_backward(st: StageTrace) -> list[Any]:
    l, items = st.index, list[Any]()
    x, g = _first(st.a_prev), _first(st.grad_a)
    dx = _first(st.grad_a_prev)
    where = _first(st.info["where"])
    mode = st.info["mode"]
    for c in _shown(x.shape[0]):
        cs = str(c + 1)
        if mode == "max":
            mask = np.zeros(x[c].size)
            mask[where[c].reshape(-1)] = 1.0
            wr, ws = _telling(g[c])
            r, s = divmod(int(where[c, wr, ws]), x.shape[-1])
            items.append(
                Step(
                    "route",
                    t(
                        "channel {c}: where each window's maximum is (1) in the layer's input"
                    ).format(c=c + 1),
                    Words("mask"),
                    [Mat(mask.reshape(x[c].shape))],
                    layer=l,
                    note=t(
                        "Window [{wr}, {ws}]'s maximum {value} sits at [{r}, {s}]; it receives "
                        "∂C/∂a^{l}_{c}[{wr}, {ws}] = {g}, the other entries of that window get 0 "
                        "(the first maximum wins a tie, as in the engine)."
                    ).format(
                        wr=wr + 1,
                        ws=ws + 1,
                        value=f"{x[c, r, s]:.6g}",
                        r=r + 1,
                        s=s + 1,
                        l=l,
                        c=cs,
                        g=f"{g[c, wr, ws]:.6g}",
                    ),
                )
            )
            rule = Words(t("each g[r, s] added at its window's maximum"))
        else:
            rule = Words(t("each g[r, s] shared equally over its window"))
        items.append(
            Step(
                "BP2",
                t("channel {c}: the gradient routed back").format(c=c + 1),
                _grad_sym(l - 1, cs),
                [rule, _call(Words("route"), Mat(g[c])), Mat(dx[c])],
                layer=l,
                value=dx[c],
            )
        )
    items += _more(x.shape[0], N_("Channels"), l)
    return items


def _bn_backward(st: StageTrace) -> list[Any]:
    l, items, info = st.index, list[Any](), st.info
    g, xhat = _first(st.grad_a), _first(info["xhat"])
    ghat = _first(info["ghat"])
    n = len(st.a)
    for c in _shown(g.shape[0]):
        cs = str(c + 1)
        view = lambda arr, c=c: arr[c] if arr.ndim > 1 else arr[c : c + 1]  # noqa: E731
        sums = t("Σ over the batch and positions") if n > 1 else t("Σ over positions")
        over = t("batch and positions") if n > 1 else t("positions")
        if "beta" in st.grads:
            items.append(
                Step(
                    "dβ",
                    t("channel {c}").format(c=c + 1),
                    _partial(_C(), Sym("β", sub=cs)),
                    [
                        Row([Sym("Σ"), _grad_sym(l, cs)]),
                        _sum_of(view(g))
                        if n == 1
                        else Words(t("({sums}, mean over samples)").format(sums=sums)),
                        Num(st.grads["beta"][c]),
                    ],
                    layer=l,
                    value=st.grads["beta"][c],
                )
            )
        if "gamma" in st.grads:
            items.append(
                Step(
                    "dγ",
                    t("channel {c}").format(c=c + 1),
                    _partial(_C(), Sym("γ", sub=cs)),
                    [
                        Row([Sym("Σ"), _grad_sym(l, cs), Op("⊙"), Hat("x", cs)]),
                        Row([Sym("Σ"), Fenced(Row([Mat(view(g)), Op("⊙"), Mat(view(xhat))]))])
                        if n == 1
                        else Words(t("({sums}, mean over samples)").format(sums=sums)),
                        Num(st.grads["gamma"][c]),
                    ],
                    layer=l,
                    value=st.grads["gamma"][c],
                )
            )
        gh = Hat("g", cs)
        items.append(
            Step(
                "BN",
                t("channel {c}: the gradient scaled by γ").format(c=c + 1),
                gh,
                [
                    Row([Sym("γ", sub=cs), _grad_sym(l, cs)]),
                    Row([Num(st.params["gamma"][c]), Op("·"), Mat(view(g))]),
                    Mat(view(ghat)),
                ],
                layer=l,
                value=view(ghat),
                note=t("mean(ĝ) = {m1} and mean(ĝ ⊙ x̂) = {m2}, means over the {over}.").format(
                    m1=f"{info['mean_ghat'][c]:.6g}",
                    m2=f"{info['mean_ghat_xhat'][c]:.6g}",
                    over=over,
                ),
            )
        )
        items += _bn_input_grad(st, c, view)
    items += _more(g.shape[0], N_("Channels"), l)
    return items


def _bn_input_grad(st: StageTrace, c: int, view: Any) -> list[Step]:
    """∂C/∂x = (ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂)) / √(σ² + ε) for channel c, in two steps: the
    numerator, then the division."""
    l, info, cs = st.index, st.info, str(c + 1)
    gh, xh = Hat("g", cs), Hat("x", cs)
    ghat, xhat, dx = (
        view(_first(info["ghat"])),
        view(_first(info["xhat"])),
        view(_first(st.grad_a_prev)),
    )
    numerator = ghat - info["mean_ghat"][c] - xhat * info["mean_ghat_xhat"][c]
    top = Sym("m", sub=cs)
    root = Row([Words("√("), Sym("σ", sub=cs, sup="2"), Op("+"), Sym("ε"), Words(")")])
    left = t("channel {c}: what is left of ĝ once the mean and the x̂ part go").format(c=c + 1)
    back = t("channel {c}: the gradient for the layer's input").format(c=c + 1)
    return [
        Step("BN", left, top,
             [Row([gh, Op("−"), _call(Words("mean"), gh), Op("−"), xh, Op("⊙"),
                   _call(Words("mean"), Row([gh, Op("⊙"), xh]))]),
              Row([Mat(ghat), *_plus(-info["mean_ghat"][c]), Op("−"),
                   Num(info["mean_ghat_xhat"][c]), Op("·"), Mat(xhat)]), Mat(numerator)],
             layer=l, value=numerator),
        Step("BN", back, _grad_sym(l - 1, cs),
             [Frac(top, root), Row([Mat(numerator), Op("·"), Num(info["inv"][c])]), Mat(dx)],
             layer=l, value=dx,
             note=t("μ and σ² depend on every value of the channel, hence the two mean terms: "
                    "the gradient keeps no part along the all-ones direction or along x̂.")),
    ]  # fmt: skip


def _dense_backward(st: StageTrace, trace: ConvTrace) -> list[Any]:
    l, items = st.index, list[Any]()
    last = l == trace.L
    delta, g = _first(st.delta), _first(st.grad_a)
    if last and trace.delta_rule in ("softmax+crossentropy", "sigmoid+binary_crossentropy"):
        y = trace.y_matrix if trace.single else trace.y_matrix[0]
        eq: Expr = Row([S("a", l), Op("−"), Sym("y")])
        sub: Expr = Row([Mat(_first(st.a)), Op("−"), Mat(y)])
        if trace.delta_rule == "sigmoid+binary_crossentropy" and delta.size > 1:
            eq, sub = (
                Row([Fenced(eq), Op("/"), Sym("K")]),
                Row([Fenced(sub), Op("/"), Num(delta.size)]),
            )
        items.append(
            Step(
                "BP1",
                t("output error (fused form)"),
                S("δ", l),
                [eq, sub, Mat(delta)],
                layer=l,
                value=delta,
                note=_delta_rule_text(trace),
            )
        )  # type: ignore[arg-type]
    else:
        head = Row([Sym("∇", sub="a"), _C()]) if last else _grad_sym(l)
        if last:
            items.append(
                Step(
                    "∇C",
                    t("gradient of the cost with respect to the output"),
                    head,
                    [_grad_formula(trace), Mat(g)],
                    layer=l,
                    value=g,
                )
            )  # type: ignore[arg-type]
        if st.jacobian:
            items.append(
                Step(
                    "BP1",
                    t("output error (softmax Jacobian)"),
                    S("δ", l),
                    [Row([_T(Sym("J")), head]), Mat(delta)],
                    layer=l,
                    value=delta,
                    note=_delta_rule_text(trace),
                )
            )  # type: ignore[arg-type]
        else:
            items += _prime_steps(st, None)
    if "b" in st.grads:
        items.append(
            Step(
                "BP3",
                t("gradient of the biases"),
                _partial(_C(), S("b", l)),
                [
                    S("δ", l) if trace.single else Words(t("mean of δ over the samples")),
                    Mat(st.grads["b"]),
                ],
                layer=l,
                value=st.grads["b"],
            )
        )
    rhs: list[Expr] = [Row([S("δ", l), _T(S("a", l - 1))])]
    if trace.single:
        rhs.append(_prod(Mat(delta, "col"), Mat(_first(st.a_prev), "row")))
    rhs.append(Mat(st.grads["W"]))
    items.append(
        Step(
            "BP4",
            t("gradient of the weights"),
            _partial(_C(), S("W", l)),
            rhs,
            layer=l,
            value=st.grads["W"],
        )
    )
    items.append(
        Step(
            "BP2",
            t("gradient for layer {l}").format(l=l - 1),
            _grad_sym(l - 1),
            [
                Row([_T(S("W", l)), S("δ", l)]),
                _prod(Mat(st.params["W"].T), Mat(delta)),
                Mat(_first(st.grad_a_prev)),
            ],
            layer=l,
            value=_first(st.grad_a_prev),
        )
    )
    return items


def _flatten_backward(st: StageTrace) -> list[Any]:
    l = st.index
    maps = _first(st.grad_a_prev)
    return (
        [
            Step(
                "shape",
                t("channel {c}: the entries of layer {l}'s gradient put back in place").format(
                    c=c + 1, l=l
                ),
                _grad_sym(l - 1, str(c + 1)),
                [Mat(maps[c])],
                layer=l,
                value=maps[c],
            )
            for c in _shown(maps.shape[0])
        ]
        + _more(maps.shape[0], N_("Channels"), l)
        if maps.ndim == 3
        else [Para([t("Flatten of a vector changes nothing.")])]
    )


def _activation_backward(st: StageTrace) -> list[Any]:
    if _first(st.a).ndim == 1:
        return _prime_steps(st, None)
    items: list[Any] = []
    for c in _shown(_first(st.a).shape[0]):
        items += _prime_steps(st, c)
    items += _more(_first(st.a).shape[0], N_("Channels"), st.index)
    items.append(
        Para(
            [
                t("The gradient for layer {l} is this δ (z is that layer's output).").format(
                    l=st.index - 1
                )
            ]
        )
    )
    return items


# ---------------------------------------------------------------------------------------------
# Transposed convolution, zero padding, upsampling
# ---------------------------------------------------------------------------------------------
def _tconv_map_text(st: StageTrace) -> str:
    """The transposed convolution's index map and its frame, in words."""
    (sh, sw), (dh, dw) = st.info["strides"], st.info["dilation"]
    (top, bottom), (left, right) = st.info["crop"]
    rows = f"{_times(sh, 'r')} + {_times(dh, 'i')}" + (f" − {top}" if top else "")
    cols = f"{_times(sw, 's')} + {_times(dw, 'j')}" + (f" − {left}" if left else "")
    return t(
        "Transposed convolution with strides ({sh}, {sw}) and dilation ({dh}, {dw}): each input "
        "entry a[c, r, s] adds W[c, f, i, j] a[c, r, s] to z[f, {map}] (r, s, i, j from 0) — the "
        "input gradient of a convolution. Computed below as the full correlation of the input "
        "spread by the stride with each kernel turned by 180°; Keras's padding {padding} then "
        "drops {top} row(s) above, {bottom} below, {left} column(s) left and {right} right."
    ).format(
        sh=sh,
        sw=sw,
        dh=dh,
        dw=dw,
        map=f"{rows}, {cols}",
        padding=repr(st.info["padding"]),
        top=top,
        bottom=bottom,
        left=left,
        right=right,
    )


def _tconv_parts(st: StageTrace) -> tuple[np.ndarray, np.ndarray]:
    """(each input map spread by the stride and padded by span − 1 on every side — and after,
    to the frame's size when that is larger —, each kernel spread by the dilation and turned
    by 180°) of the first sample: the full correlation's operands, (C, ·, ·) and (C, F, ·, ·)."""
    kernels = rot180(spread(st.params["W"], st.info["dilation"]))
    kh, kw = kernels.shape[-2:]
    up = spread(_first(st.a_prev), st.info["strides"])
    frame = st.info["full"].shape[-2:]
    extra = (frame[0] - up.shape[-2] - kh + 1, frame[1] - up.shape[-1] - kw + 1)
    return np.pad(up, ((0, 0), (kh - 1, kh - 1 + extra[0]), (kw - 1, kw - 1 + extra[1]))), kernels


def _tconv_formula(l: int, fs: str) -> Row:
    """Σ_c pad(spread(a^{l−1}_c)) ⋆ rot180(W^l_cf)."""
    spread_a = _call(Words("pad"), _call(Words("spread"), S("a", l - 1, "c")))
    turned = _call(Words("rot180"), S("W", l, f"c{fs}"))
    return Row([Sym("Σ", sub="c"), spread_a, STAR, turned], sep=" ")


def _tconv_entry(st: StageTrace, f: int, spread_a: np.ndarray, turned: np.ndarray) -> Step:
    """z^l_f[r, s]: the padded spread input's window under each turned kernel, summed, + b."""
    l, b, fs = st.index, st.params["b"], str(f + 1)
    channels = turned.shape[0]
    (top, _), (left, _) = st.info["crop"]
    z = _first(st.z)
    r, q = _telling(z[f] - b[f])
    kh, kw = turned.shape[-2:]
    windows = spread_a[:, r + top : r + top + kh, q + left : q + left + kw]
    terms = _shown_sum(
        [_sum_of_product(windows[c], turned[c, f]) for c in _shown(channels)],
        channels,
        N_("(channels {first}–{last}) "),
    )
    if channels > SHOWN:  # the other channels' windows, added up
        terms.append(Num(float((windows[SHOWN:] * turned[SHOWN:, f]).sum())))
    window = Row(
        [
            Words(t("window of ")),
            _call(Words("pad"), _call(Words("spread"), S("a", l - 1, "c"))),
            Op("⊙"),
            _call(Words("rot180"), S("W", l, f"c{fs}")),
        ]
    )
    formula = Row([Sym("Σ", sub="c"), Sym("Σ"), Fenced(window), Op("+"), S("b", l, fs)], sep=" ")
    note = (
        t(
            "The window starts at row {row} and column {col} of the padded spread input: the "
            "crop moves z by ({top}, {left})."
        ).format(row=r + top + 1, col=q + left + 1, top=top, left=left)
        if top or left
        else ""
    )
    title = t("one entry of filter {f}: the spread input under the turned kernel at [{r}, {s}]")
    return Step(
        "forward",
        title.format(f=f + 1, r=r + 1, s=q + 1),
        _at(S("z", l, fs), r, q),
        [formula, Row([*terms, *_plus(b[f])]), Num(z[f, r, q])],
        layer=l,
        value=z[f, r, q],
        note=note,
    )


def _shown_sum(terms: list[Expr], count: int, others: str) -> list[Expr]:
    """terms[0] + terms[1] + … (those of the indices shown), then "+ (others)" naming the rest
    of the ``count`` (``others``: an N_ message of {first} and {last}, 1-based)."""
    parts: list[Expr] = []
    for i, term in enumerate(terms):
        parts += ([Op("+")] if i else []) + [term]
    if count > SHOWN:
        parts += [Op("+"), Words(t(others).format(first=SHOWN + 1, last=count))]
    return parts


def _tconv_map(st: StageTrace, f: int, spread_a: np.ndarray, turned: np.ndarray) -> list[Step]:
    """z^l_f = crop(Σ_c pad(spread(a^{l−1}_c)) ⋆ rot180(W^l_cf)) + b^l_f, then a^l_f = σ(z^l_f)."""
    l, b, fs = st.index, st.params["b"], str(f + 1)
    channels = turned.shape[0]
    full, z, a = _first(st.info["full"]), _first(st.z), _first(st.a)
    parts = _shown_sum(
        [_prod(Mat(spread_a[c]), STAR, Mat(turned[c, f])) for c in _shown(channels)],
        channels,
        N_("(channels {first}–{last}) "),
    )
    formula = Row([_call(Words("crop"), _tconv_formula(l, fs)), Op("+"), S("b", l, fs)])
    cropped = Row([_call(Words("crop"), Mat(full[f])), *_plus(b[f])])
    act = t("activation of filter {f}, σ = {act}").format(f=f + 1, act=st.activation)
    return [
        Step(
            "forward",
            t("weighted input of filter {f}, every position").format(f=f + 1),
            S("z", l, fs),
            [formula, Row(parts), cropped, Mat(z[f])],
            layer=l,
            value=z[f],
        ),
        Step(
            "forward",
            act,
            S("a", l, fs),
            [_call(SIGMA, S("z", l, fs)), _call(SIGMA, Mat(z[f])), Mat(a[f])],
            layer=l,
            value=a[f],
        ),
    ]


def _tconv_forward(st: StageTrace) -> list[Any]:
    """The index map, then per filter one entry worked out, the whole map and σ."""
    F = st.params["W"].shape[1]
    spread_a, turned = _tconv_parts(st)
    items: list[Any] = [Para([_tconv_map_text(st)])]
    for f in _shown(F):
        items.append(_tconv_entry(st, f, spread_a, turned))
        items += _tconv_map(st, f, spread_a, turned)
    return items + _more(F, N_("Filters"), st.index)


def _tconv_kernel_grad(st: StageTrace, f: int, c: int, n: int) -> list[Step]:
    """∂C/∂W^l_cf[i, j] = Σ_rs a^{l−1}_c[r, s] pad(δ^l_f)[s₁r + d₁i, s₂s + d₂j]: entry [1, 1]
    worked out (first sample), then the whole kernel."""
    l, sub, fs = st.index, _fc(c, f), str(f + 1)
    (sh, sw), (dh, dw) = st.info["strides"], st.info["dilation"]
    framed, x = _first(st.info["framed"]), _first(st.a_prev)
    h, w = x.shape[-2:]
    under = framed[f, : sh * (h - 1) + 1 : sh, : sw * (w - 1) + 1 : sw]  # what a_c[r, s] met
    value = float((under * x[c]).sum())

    def formula(at: str) -> Row:
        head = [Sym("Σ", sub="r,s"), S("a", l - 1, str(c + 1)), Words("[r, s]")]
        return Row([*head, _call(Words("pad"), S("δ", l, fs)), Words(at)])

    title = t("one entry of the kernel's gradient: input channel {c} → filter {f}, [1, 1]")
    rows, cols = f"{_times(sh, 'r')} + {_times(dh, 'i')}", f"{_times(sw, 's')} + {_times(dw, 'j')}"
    return [
        Step(
            "BP4",
            title.format(c=c + 1, f=f + 1) + ("" if n == 1 else t(", first sample")),
            Row([_partial(_C(), S("W", l, sub)), Words("[1, 1]")]),
            [
                formula(f"[{_times(sh, 'r')}, {_times(sw, 's')}]"),
                _sum_of_product(x[c], under),
                Num(value),
            ],
            layer=l,
            value=value,
            note=t("Entry [i, j] reads pad(δ) moved by the dilation times (i − 1, j − 1)")
            + (t(" and averaged over the samples.") if n > 1 else "."),
        ),
        Step(
            "BP4",
            t("gradient of the kernel from input channel {c} to filter {f}").format(
                c=c + 1, f=f + 1
            ),
            _partial(_C(), S("W", l, sub)),
            [formula(f"[{rows}, {cols}]"), Mat(st.grads["W"][c, f])],
            layer=l,
            value=st.grads["W"][c, f],
        ),
    ]


def _tconv_input_grad(st: StageTrace) -> list[Any]:
    """∂C/∂a^{l−1}_c = Σ_f pad(δ^l_f) ⋆ W^l_cf, moving s at a time: the forward of the
    convolution the layer transposes."""
    l, W = st.index, st.params["W"]
    channels, F = W.shape[:2]
    (sh, sw) = st.info["strides"]
    framed, grad = _first(st.info["framed"]), _first(st.grad_a_prev)
    below = t("the input") if l == 1 else t("layer {l}").format(l=l - 1)
    text = t(
        "Back to {below}: the forward of the convolution this layer transposes — pad(δ) "
        "correlated with each kernel as it is (not turned), moving {sh} row(s) and {sw} "
        "column(s) at a time."
    )
    items: list[Any] = [Para([text.format(below=below, sh=sh, sw=sw)])]
    for c in _shown(channels):
        cs = str(c + 1)
        parts = _shown_sum(
            [_prod(Mat(framed[f]), STAR, Mat(W[c, f])) for f in _shown(F)],
            F,
            N_("(filters {first}–{last})"),
        )
        formula = [
            Sym("Σ", sub="f"),
            _call(Words("pad"), S("δ", l, "f")),
            STAR,
            S("W", l, f"{cs}f"),
        ]
        items.append(
            Step(
                "BP2",
                t("gradient for input channel {c} of layer {l}").format(c=c + 1, l=l),
                _grad_sym(l - 1, cs),
                [Row(formula, sep=" "), Row(parts), Mat(grad[c])],
                layer=l,
                value=grad[c],
                note=t(
                    "Each input entry collects δ from every output position its kernel reached."
                ),
            )
        )
    return items + _more(channels, N_("Input channels"), l)


def _tconv_backward(st: StageTrace, n: int, before_bn: bool = False) -> list[Any]:
    """δ and ∂C/∂b per filter; ∂C/∂W_cf, one entry worked out; ∂C/∂a_c, the convolution's
    forward run on δ put back in its frame."""
    l = st.index
    channels, F = st.params["W"].shape[:2]
    text = t(
        "Backwards, δ is put back in the frame z was cropped from (pad(δ): the dropped rows and "
        "columns as zeros); ∂C/∂a and ∂C/∂W then read it through the same index map."
    )
    items: list[Any] = [Para([text])]
    for f in _shown(F):
        items += _delta_and_bias(st, f, n, before_bn)
        for c in _shown(channels):
            items += _tconv_kernel_grad(st, f, c, n)
    items += _more(F, N_("Filters"), l) + _more(channels, N_("Input channels"), l)
    return items + _tconv_input_grad(st)


def _map_steps(st: StageTrace, title: str, word: str) -> list[Any]:
    """One forward step per shown channel of a layer with nothing to learn:
    a^l_c = word(a^{l−1}_c), with the channel's numbers (``title``: an N_ message of {c})."""
    l, x, a = st.index, _first(st.a_prev), _first(st.a)
    steps: list[Any] = []
    for c in _shown(x.shape[0]):
        cs = str(c + 1)
        steps.append(
            Step(
                "forward",
                t(title).format(c=c + 1),
                S("a", l, cs),
                [_call(Words(word), S("a", l - 1, cs)), _call(Words(word), Mat(x[c])), Mat(a[c])],
                layer=l,
                value=a[c],
            )
        )
    return steps + _more(x.shape[0], N_("Channels"), l)


def _zeropad_forward(st: StageTrace) -> list[Any]:
    (top, bottom), (left, right) = st.info["pad"]
    text = t(
        "Zero padding: {top} row(s) of zeros above each map, {bottom} below, {left} "
        "column(s) left and {right} right; nothing to learn."
    ).format(top=top, bottom=bottom, left=left, right=right)
    return [Para([text]), *_map_steps(st, N_("channel {c}, padded"), "pad")]


def _zeropad_backward(st: StageTrace) -> list[Any]:
    l, g, dx = st.index, _first(st.grad_a), _first(st.grad_a_prev)
    return [
        Step(
            "BP2",
            t("channel {c}: the gradient without the padding").format(c=c + 1),
            _grad_sym(l - 1, str(c + 1)),
            [
                _call(Words("crop"), _grad_sym(l, str(c + 1))),
                _call(Words("crop"), Mat(g[c])),
                Mat(dx[c]),
            ],
            layer=l,
            value=dx[c],
            note=t("The zeros are constants: what reaches them goes nowhere."),
        )
        for c in _shown(g.shape[0])
    ] + _more(g.shape[0], N_("Channels"), l)


def _upsample_forward(st: StageTrace) -> list[Any]:
    s1, s2 = st.info["size"]
    text = t(
        "Upsampling (nearest neighbour) by ({s1}, {s2}): a[r, s] = a^{prev}[⌊r/{s1}⌋, "
        "⌊s/{s2}⌋] (indices from 0), each entry repeated over a {s1}×{s2} block; "
        "nothing to learn."
    ).format(s1=s1, s2=s2, prev=st.index - 1)
    return [Para([text]), *_map_steps(st, N_("channel {c}, upsampled"), "up")]


def _upsample_backward(st: StageTrace) -> list[Any]:
    l, g, dx = st.index, _first(st.grad_a), _first(st.grad_a_prev)
    s1, s2 = st.info["size"]
    items: list[Any] = []
    for c in _shown(g.shape[0]):
        cs = str(c + 1)
        items.append(
            Step(
                "BP2",
                t("channel {c}: entry [1, 1] collects its block").format(c=c + 1),
                _at(_grad_sym(l - 1, cs), 0, 0),
                [
                    Row([Sym("Σ"), _grad_sym(l, cs), Words(f"[1…{s1}, 1…{s2}]")]),
                    _sum_of(g[c, :s1, :s2]),
                    Num(dx[c, 0, 0]),
                ],
                layer=l,
                value=dx[c, 0, 0],
            )
        )
        items.append(
            Step(
                "BP2",
                t("channel {c}: the sum over every block").format(c=c + 1),
                _grad_sym(l - 1, cs),
                [_call(Words(t("block sums")), Mat(g[c])), Mat(dx[c])],
                layer=l,
                value=dx[c],
                note=t(
                    "Entry [r, s] was copied to the {s1}×{s2} entries of its block, so it "
                    "receives the sum of their gradients."
                ).format(s1=s1, s2=s2),
            )
        )
    return items + _more(g.shape[0], N_("Channels"), l)


# ---------------------------------------------------------------------------------------------
# The document
# ---------------------------------------------------------------------------------------------
def _forward_items(st: StageTrace, trace: ConvTrace) -> list[Any]:
    return {
        "conv": lambda: _conv_forward(st),
        "tconv": lambda: _tconv_forward(st),
        "zeropad": lambda: _zeropad_forward(st),
        "upsample": lambda: _upsample_forward(st),
        "pool": lambda: _pool_forward(st),
        "global_pool": lambda: _global_forward(st),
        "batchnorm": lambda: _bn_forward(st),
        "dense": lambda: _dense_forward(st),
        "flatten": lambda: _flatten_forward(st, trace.data_format),
        "activation": lambda: _activation_forward(st),
    }[st.kind]()


def _backward_items(st: StageTrace, trace: ConvTrace) -> list[Any]:
    before_bn = st.index < trace.L and trace.stages[st.index].kind == "batchnorm"
    return {
        "conv": lambda: _conv_backward(st, trace.batch_size, before_bn),
        "tconv": lambda: _tconv_backward(st, trace.batch_size, before_bn),
        "zeropad": lambda: _zeropad_backward(st),
        "upsample": lambda: _upsample_backward(st),
        "pool": lambda: _pool_backward(st),
        "global_pool": lambda: _global_backward(st),
        "batchnorm": lambda: _bn_backward(st),
        "dense": lambda: _dense_backward(st, trace),
        "flatten": lambda: _flatten_backward(st),
        "activation": lambda: _activation_backward(st),
    }[st.kind]()


def _intro(trace: ConvTrace) -> list[Para]:
    n = trace.batch_size
    samples = (
        t("one sample")
        if trace.single
        else t("a batch of {n} samples, C = 1/n Σ_x C_x").format(n=n)
    )
    intro = [
        Para(
            [
                t("Network {network}; loss {loss}: ").format(
                    network=trace.describe(), loss=trace.loss_name
                ),
                Row([_C("x"), Op("="), _loss_formula(trace)]),
                t("; {samples}.").format(samples=samples),
            ]
        ),  # type: ignore[arg-type]
        Para(
            [
                t(
                    "Feature maps are matrices, one per channel (rows × columns, indices from 1); "
                    "a^0 is the input and a^l the output of layer l. ⋆ is the cross-correlation "
                    "that Keras and PyTorch call convolution: (W ⋆ a)[r, s] = Σ_ij W[i, j] "
                    "a[r + i, s + j]. Every number is computed in float64 from the equations, then "
                    "checked against the autograd engine running the model's own layers."
                )
            ]
        ),
    ]
    if trace.rank == 1:
        intro.append(
            Para(
                [
                    t(
                        "The inputs are sequences: each channel's map is shown as a matrix of "
                        "one row, a[1, t] being step t, so that the equations are those of "
                        "images with one row — z_f[t] = Σ_c Σ_m W_fc[m] a_c[s·t + d·m] + b_f "
                        "for stride s and dilation d (t, m from 0)."
                    )
                ]
            )
        )
    if not trace.single:
        intro.append(
            Para(
                [
                    t(
                        "The maps shown are the first sample's; the gradients of W, b, γ and β "
                        "are means over the {n} samples."
                    ).format(n=n)
                ]
            )
        )
    intro += [Para([localise(note)]) for note in trace.notes]
    return intro


def _input_section(trace: ConvTrace) -> Section:
    sec = Section(t("Input"))
    a0 = _first(trace.stages[0].a_prev)
    if a0.ndim == 3 and a0.shape[0] == 1 and min(a0.shape[1:]) >= 5 and max(a0.shape[1:]) <= 64:
        sec.items.append(
            Picture(
                a0[0],
                t("the input as an image ({rows}×{cols}, dark = large)").format(
                    rows=a0.shape[1], cols=a0.shape[2]
                ),
            )
        )
    for c, m in enumerate(_maps_or_vec(trace.stages[0].a_prev)):
        sec.items.append(
            Step(
                "input",
                t("input channel {c}").format(c=c + 1),
                S("a", 0, str(c + 1)),
                [m],
                value=a0[c],
            )
        )
    if trace.labels is not None:
        labels = ", ".join(str(int(v)) for v in np.atleast_1d(trace.labels)[:12])
        sec.items.append(Para([t("Label(s) {labels}, as one-hot targets:").format(labels=labels)]))
    y = trace.y_matrix if trace.single else trace.y_matrix[0]
    sec.items.append(Step("target", t("the targets"), Sym("y"), [Mat(y)], value=y))
    return sec


def _update_section(trace: ConvTrace) -> Section:
    alpha = trace.learning_rate
    assert alpha is not None
    sec = Section(t("Gradient descent (learning rate α = {alpha})").format(alpha=f"{alpha:g}"))
    for st in trace.stages:
        for name, new in st.updated.items():
            letter = {"gamma": "γ", "beta": "β"}.get(name, name)
            old, grad = st.params[name], st.grads[name]
            pieces = (
                [(old, grad, new)]
                if old.ndim < 3
                else [
                    (old[f, c], grad[f, c], new[f, c])
                    for f in _shown(old.shape[0])
                    for c in _shown(old.shape[1])
                ]
            )
            for i, (o, g, nw) in enumerate(pieces):
                sub = _fc(*divmod(i, min(old.shape[1], SHOWN))) if old.ndim >= 3 else None
                sym = S(letter, st.index, sub)
                # a wide matrix twice would not fit a page: its gradient is shown above
                grad_shown: Expr = Mat(g) if o.ndim < 2 or o.shape[1] <= 4 else _partial(_C(), sym)
                sec.items.append(
                    Step(
                        "update",
                        t("new {name} of layer {l}").format(name=name, l=st.index),
                        sym,
                        [
                            Row([sym, Op("−"), _prod(Sym("α"), _partial(_C(), sym))]),
                            Row([Mat(o), Op("−"), _prod(Num(alpha), grad_shown)]),
                            Mat(nw),
                        ],
                        relation=":=",
                        layer=st.index,
                        value=nw,
                    )
                )
    return sec


def _check_section(trace: ConvTrace) -> Section:
    sec = Section(t("Check"))
    worst = max(trace.discrepancies.items(), key=lambda kv: kv[1], default=("—", 0.0))
    sec.items.append(
        Para(
            [
                t(
                    "The autograd engine, running the model's own layers on the same float64 "
                    "weights (z, a and their gradients read off retained tensors), gives the same "
                    "numbers: largest relative difference {diff} (at {worst}) over C and every z, "
                    "a, δ, ∂C/∂a and parameter gradient ({n} arrays)."
                ).format(
                    diff=f"{trace.max_discrepancy:.2g}", worst=worst[0], n=len(trace.discrepancies)
                )
            ]
        )
    )
    if trace.spot_checks:
        sec.items.append(
            Para(
                [
                    t(
                        "Central differences on {n} parameter(s): largest relative "
                        "difference {diff}."
                    ).format(n=len(trace.spot_checks), diff=f"{trace.numerical_discrepancy:.2g}")
                ]
            )
        )
    ok = trace.ok
    sec.items.append(
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
    return sec


def build_conv_document(trace: ConvTrace) -> Document:
    """The convolutional trace as sections of steps (shared by every renderer)."""
    if presets.current()[0].name != "glassnet":
        raise InvalidArgumentError(
            f"notation: a convolution trace is written in glassnet's notation only, received "
            f"notation={presets.current()[0].name!r}"
        )
    fwd = Section(t("Forward pass"))
    for st in trace.stages:
        sec = Section(_kind_title(st), [Para([localise(note)]) for note in st.notes])
        sec.items += _forward_items(st, trace)
        fwd.items.append(sec)
    y = trace.y_matrix if trace.single else trace.y_matrix[0]
    cost_rhs: list[Expr] = [_loss_formula(trace)]  # type: ignore[arg-type]
    if trace.single and isinstance(trace.loss, L.Quadratic):
        cost_rhs.append(
            Row([Words("½ ‖"), Mat(y), Op("−"), Mat(_first(trace.stages[-1].a)), Words("‖²")])
        )
    cost_rhs.append(Num(trace.cost))
    fwd.items.append(
        Step(
            "cost",
            t("the cost ({loss})").format(loss=trace.loss_name),
            _C(),
            cost_rhs,
            value=trace.cost,
        )
    )
    bwd = Section(t("Backward pass"))
    for st in reversed(trace.stages):
        bwd.items.append(Section(_kind_title(st), _backward_items(st, trace)))
    sections = [_input_section(trace), fwd, bwd]
    if trace.learning_rate is not None:
        sections.append(_update_section(trace))
    sections.append(_check_section(trace))
    title = trace.title or t("Backpropagation through a convolutional network: {network}").format(
        network=trace.describe()
    )
    return Document(title, _intro(trace), sections, trace.ok)


def _strided_equations(trace: ConvTrace | None) -> list[tuple[str, Expr]]:
    """The index map of a strided or dilated convolution (stride s, dilation d per axis), when
    the trace has one: forward, backward scatter and kernel gradient."""
    if trace is None or not any(st.kind == "conv" and _strided(st) for st in trace.stages):
        return []
    at = Words("[s₁r + d₁i, s₂q + d₂j]")
    return [
        (
            "stride",
            Row([S("z", "l", "f"), Words("[r, q]"), Op("="), Sym("Σ", sub="c,i,j"),
                 S("W", "l", "fc"), Words("[i, j]"), S("a", "l−1", "c"), at, Op("+"),
                 S("b", "l", "f")]),
        ),
        (
            "stride, back",
            Row([_partial(_C(), S("a", "l−1", "c")), at, Op("+="), S("W", "l", "fc"),
                 Words("[i, j]"), S("δ", "l", "f"), Words("[r, q]"), Words(",  "),
                 _partial(_C(), S("W", "l", "fc")), Words("[i, j]"), Op("="),
                 Sym("Σ", sub="r,q"), S("a", "l−1", "c"), at, S("δ", "l", "f"),
                 Words("[r, q]")]),
        ),
    ]  # fmt: skip


def _reshaping_equations(trace: ConvTrace | None) -> list[tuple[str, Expr]]:
    """The equations of a transposed convolution, a zero padding and an upsampling, for the
    ones the trace has."""
    kinds = {st.kind for st in trace.stages} if trace is not None else set()
    out: list[tuple[str, Expr]] = []
    if "tconv" in kinds:
        spread_a = _call(Words("spread"), S("a", "l−1", "c"))
        out += [
            (
                "transposed",
                Row(
                    [
                        S("z", "l", "f"),
                        Op("="),
                        _call(
                            Words("crop"),
                            Row(
                                [
                                    Sym("Σ", sub="c"),
                                    _call(Words("pad"), spread_a),
                                    STAR,
                                    _call(Words("rot180"), S("W", "l", "cf")),
                                ],
                                sep=" ",
                            ),
                        ),
                        Op("+"),
                        S("b", "l", "f"),
                        Words(",  "),
                        S("z", "l", "f"),
                        Words("[s₁r + d₁i − top, s₂q + d₂j − left]"),
                        Op("+="),
                        S("W", "l", "cf"),
                        Words("[i, j]"),
                        S("a", "l−1", "c"),
                        Words("[r, q]"),
                    ]
                ),
            ),
            (
                "transposed, back",
                Row(
                    [
                        _partial(_C(), S("a", "l−1", "c")),
                        Op("="),
                        Sym("Σ", sub="f"),
                        _call(Words("pad"), S("δ", "l", "f")),
                        STAR,
                        S("W", "l", "cf"),
                        Words(t(" (moving s₁, s₂ at a time),  ")),
                        _partial(_C(), S("W", "l", "cf")),
                        Words("[i, j]"),
                        Op("="),
                        Sym("Σ", sub="r,q"),
                        S("a", "l−1", "c"),
                        Words("[r, q]"),
                        _call(Words("pad"), S("δ", "l", "f")),
                        Words("[s₁r + d₁i, s₂q + d₂j]"),
                    ]
                ),
            ),
        ]
    if "zeropad" in kinds:
        out.append(
            (
                "zero padding",
                Words(
                    t(
                        "a = the input with rows and columns of zeros around it; "
                        "∂C/∂a^{l−1} = ∂C/∂a with those rows and columns cropped off"
                    )
                ),
            )
        )
    if "upsample" in kinds:
        out.append(
            (
                "upsampling",
                Words(
                    t(
                        "a[r, q] = a^{l−1}[⌊r/s₁⌋, ⌊q/s₂⌋]; ∂C/∂a^{l−1}[r, q] = the sum of "
                        "∂C/∂a over the s₁×s₂ block that repeated it"
                    )
                ),
            )
        )
    return out


def conv_equations(trace: ConvTrace | None = None) -> tuple[str, list[tuple[str, Expr]]]:
    """The heading and the equations listed at the top of the Markdown and HTML pages (with
    the index map of a strided or dilated convolution when ``trace`` has one)."""
    l, lm1 = "l", "l−1"
    return (
        t(
            "The equations of a convolutional layer l (filter f, input channel c), of pooling and "
            "of batch normalisation:"
        ),
        [
            (
                "conv",
                Row(
                    [
                        S("z", l, "f"),
                        Op("="),
                        Sym("Σ", sub="c"),
                        S("W", l, "fc"),
                        STAR,
                        S("a", lm1, "c"),
                        Op("+"),
                        S("b", l, "f"),
                        Words(",  "),
                        S("a", l, "f"),
                        Op("="),
                        _call(SIGMA, S("z", l, "f")),
                    ]
                ),
            ),
            (
                "δ",
                Row(
                    [
                        S("δ", l, "f"),
                        Op("="),
                        _partial(_C(), S("a", l, "f")),
                        Op("⊙"),
                        _call(SIGMA_PRIME, S("z", l, "f")),
                    ]
                ),
            ),
            (
                "back",
                Row(
                    [
                        _partial(_C(), S("a", lm1, "c")),
                        Op("="),
                        Sym("Σ", sub="f"),
                        _call(Words("pad"), S("δ", l, "f")),
                        STAR,
                        _call(Words("rot180"), S("W", l, "fc")),
                    ]
                ),
            ),
            (
                "∂W",
                Row(
                    [
                        _partial(_C(), S("W", l, "fc")),
                        Op("="),
                        S("a", lm1, "c"),
                        STAR,
                        S("δ", l, "f"),
                        Words(",  "),
                        _partial(_C(), S("b", l, "f")),
                        Op("="),
                        Sym("Σ", sub="r,s"),
                        S("δ", l, "f"),
                        Words("[r, s]"),
                    ]
                ),
            ),
            *_strided_equations(trace),
            *_reshaping_equations(trace),
            (
                "pool",
                Words(
                    "max pooling passes ∂C/∂a[r, s] to the maximum of window (r, s); "
                    "average pooling shares it over the window"
                ),
            ),
            (
                "BN",
                Row(
                    [
                        _partial(_C(), Sym("x")),
                        Op("="),
                        Frac(
                            Row(
                                [
                                    Hat("g"),
                                    Op("−"),
                                    _call(Words("mean"), Hat("g")),
                                    Op("−"),
                                    Hat("x"),
                                    Op("⊙"),
                                    _call(Words("mean"), Row([Hat("g"), Op("⊙"), Hat("x")])),
                                ]
                            ),
                            Row([Words("√("), Sym("σ", sup="2"), Op("+"), Sym("ε"), Words(")")]),
                        ),
                        Words(",  ĝ = γ ∂C/∂a"),
                    ]
                ),
            ),
        ],
    )


def _notes_in(notes: list[str], lang: str | None) -> list[str]:
    """The notes in ``lang`` (they are kept in English, with their message ids)."""
    with i18n.using(i18n.check_lang(lang)):
        return [localise(note) for note in notes]


def conv_dict(
    trace: ConvTrace, precision: int | None, weights: Any, notation: str | None, lang: str | None
) -> dict[str, Any]:
    """The trace as plain data (``ConvTrace.to_dict``)."""
    if weights:
        trace.path()  # raises: weight stories follow Dense chains
    style = Style(precision or 12)
    with presets.using(presets.get(notation), trace.L), i18n.using(i18n.check_lang(lang)):
        doc = build_conv_document(trace)
        steps = document_steps(doc, style, precision, notes=False)
    stages = []
    for st in trace.stages:
        entry: dict[str, Any] = {
            "l": st.index,
            "kind": st.kind,
            "name": st.name,
            "activation": st.activation,
        }
        for key in ("a_prev", "z", "a", "sigma_prime", "grad_a", "delta", "grad_a_prev"):
            entry[key] = _lists(getattr(st, key), precision)
        entry["params"] = {k: _lists(v, precision) for k, v in st.params.items()}
        entry["grads"] = {k: _lists(v, precision) for k, v in st.grads.items()}
        entry["engine"] = {k: _lists(v, precision) for k, v in st.engine.items()}
        entry["notes"] = _notes_in(st.notes, lang)
        stages.append(entry)
    return {
        "format": "glassnet.explain.conv/1",
        "title": doc.title,
        "layout": "maps as (samples, channels, rows, cols); "
        "conv W as (filters, channels, rows, cols), transposed conv W as (channels, filters, "
        "rows, cols)",
        "model": {
            "name": trace.model_name,
            "architecture": trace.describe(),
            "L": trace.L,
            "data_format": trace.data_format,
        },
        "loss": {"name": trace.loss_name, "from_logits": trace.loss.from_logits},
        "batch_size": trace.batch_size,
        "learning_rate": trace.learning_rate,
        "cost": _round(trace.cost, precision),
        "delta_rule": trace.delta_rule,
        "stages": stages,
        "steps": steps,
        "check": {
            "agree": trace.ok,
            "max_discrepancy": _round(trace.max_discrepancy, None),
            "discrepancies": {k: _round(v, None) for k, v in trace.discrepancies.items()},
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
        "notes": _notes_in(trace.notes, lang),
    }
