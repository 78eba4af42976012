"""A small expression tree for the seeds' equations, written once and shown three ways.

Every equation in a trace (``δ^L = ∇_a C ⊙ σ'(z^L)``, the numbers substituted into it, its
result) is built from the nodes below and rendered

* as **text** for a terminal: two-dimensional, matrices with bracket columns (⎡ ⎤), scripts
  as Unicode super/subscripts where they exist (``δ²``, ``w²₁₁``);
* as **LaTeX** for Markdown on GitHub and in Jupyter (``\\begin{bmatrix}``, ``\\frac``);
* as **MathML** for the self-contained HTML page, which every current browser renders without
  any script or network access.

Numbers are formatted at render time (``Style.precision`` significant digits), and matrices
larger than ``Style.max_rows`` × ``Style.max_cols`` are elided around their corners with
their shape shown, so one tree serves any precision and any size.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Style",
    "Expr",
    "Sym",
    "Op",
    "Num",
    "Mat",
    "Row",
    "Frac",
    "Fenced",
    "Sup",
    "Words",
    "Space",
    "Block",
    "prose",
    "ROW_BREAK",
    "row",
    "fmt_number",
    "to_text",
    "to_latex",
    "to_mathml",
    "to_inline_text",
]


#: The row separator in LaTeX arrays: ``\cr`` survives Markdown engines that do not know math
#: (python-markdown turns ``\\`` into ``\``); MathJax and KaTeX read both.
ROW_BREAK = r" \cr "


@dataclass(frozen=True)
class Style:
    """How numbers and matrices are shown: significant digits and the elision limits."""

    precision: int = 6
    max_rows: int = 8
    max_cols: int = 8
    edge: int = 3

    def __post_init__(self) -> None:
        from ..errors import InvalidArgumentError

        for name in ("precision", "max_rows", "max_cols", "edge"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(
                    f"Style: {name} must be a positive integer, received {name}={value!r}"
                )


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------
def fmt_number(value: float, precision: int) -> str:
    """``value`` with ``precision`` significant digits, trailing zeros dropped (0.35, 4.4e-05)."""
    v = float(value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    text = format(v, f".{precision}g")
    if "e" in text:
        mant, exp = text.split("e")
        sign = "-" if exp.startswith("-") else ""
        text = f"{mant}e{sign}{exp.lstrip('+-').lstrip('0') or '0'}"
    return text


def _latex_number(text: str) -> str:
    if "e" in text and text not in ("inf", "-inf"):
        mant, exp = text.split("e")
        return f"{mant}\\times 10^{{{exp}}}"
    if text in ("inf", "-inf"):
        return text.replace("inf", "\\infty")
    return text


def _mathml_number(text: str) -> str:
    if "e" in text and text not in ("inf", "-inf"):
        mant, exp = text.split("e")
        return (
            f"<mrow><mn>{_mathml_minus(mant)}</mn><mo>×</mo><msup><mn>10</mn>"
            f"<mn>{_mathml_minus(exp)}</mn></msup></mrow>"
        )
    if text in ("inf", "-inf"):
        return f"<mi>{_mathml_minus(text.replace('inf', '∞'))}</mi>"
    return f"<mn>{_mathml_minus(text)}</mn>"


def _mathml_minus(text: str) -> str:
    return text.replace("-", "−")


# ---------------------------------------------------------------------------------------------
# Unicode scripts for text
# ---------------------------------------------------------------------------------------------
_SUP = dict(zip("0123456789+-−=()lLTjkni", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ˡᴸᵀʲᵏⁿⁱ"))
_SUB = dict(zip("0123456789+-−=()jkilnaoxehmpstruv", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ⱼₖᵢₗₙₐₒₓₑₕₘₚₛₜᵣᵤᵥ"))


def _script(text: str, table: dict[str, str], caret: str) -> str:
    if text and all(ch in table for ch in text):
        return "".join(table[ch] for ch in text)
    if len(text) == 1:
        return caret + text
    return caret + "{" + text + "}"


# ---------------------------------------------------------------------------------------------
# Text blocks: lines of equal width with a baseline row
# ---------------------------------------------------------------------------------------------
class Block:
    """A rectangle of text lines; ``baseline`` is the row operators line up with."""

    __slots__ = ("lines", "baseline")

    def __init__(self, lines: Sequence[str], baseline: int = 0) -> None:
        width = max((len(s) for s in lines), default=0)
        self.lines = [s.ljust(width) for s in lines] or [""]
        self.baseline = baseline

    @property
    def width(self) -> int:
        return len(self.lines[0])

    @property
    def height(self) -> int:
        return len(self.lines)

    @staticmethod
    def hcat(blocks: Sequence[Block], sep: str = "") -> Block:
        """Blocks side by side, baselines aligned."""
        if not blocks:
            return Block([""])
        above = max(b.baseline for b in blocks)
        below = max(b.height - b.baseline - 1 for b in blocks)
        height = above + below + 1
        out = [""] * height
        for i, b in enumerate(blocks):
            top = above - b.baseline
            for r in range(height):
                src = r - top
                piece = b.lines[src] if 0 <= src < b.height else " " * b.width
                out[r] += (sep if i else "") + piece
        return Block(out, above)

    def __str__(self) -> str:
        return "\n".join(line.rstrip() for line in self.lines)


# ---------------------------------------------------------------------------------------------
# Nodes
# ---------------------------------------------------------------------------------------------
class Expr:
    """A node of an equation."""

    def text(self, style: Style) -> Block:
        raise NotImplementedError

    def latex(self, style: Style) -> str:
        raise NotImplementedError

    def mathml(self, style: Style) -> str:
        raise NotImplementedError


_LATEX_SYMBOLS = {
    "δ": r"\delta",
    "σ": r"\sigma",
    "α": r"\alpha",
    "∇": r"\nabla",
    "∂": r"\partial",
    "⊙": r"\odot",
    "·": r"\cdot",
    "×": r"\times",
    "−": "-",
    "Σ": r"\sum",
    "≈": r"\approx",
    "‖": r"\lVert",
    "ᵀ": r"\mathsf{T}",
    "→": r"\to",
    ":=": r"\mathrel{:=}",
    "⋯": r"\cdots",
    "ε": r"\varepsilon",
    "∑": r"\sum",
    "½": r"\tfrac{1}{2}",
    "≤": r"\le",
    "⋮": r"\vdots",
    "⊘": r"\oslash",
    "⋆": r"\star",
    "γ": r"\gamma",
    "β": r"\beta",
    "μ": r"\mu",
}


def _latex_text(s: str) -> str:
    out = []
    for ch in s:
        mapped = _LATEX_SYMBOLS.get(ch, ch)
        out.append(mapped)
        if mapped.startswith("\\") and mapped[-1].isalpha():
            out.append(" ")  # \delta C, not \deltaC
    return "".join(out).strip()


def _mi(s: str) -> str:
    if s in ("ᵀ", "T"):
        return '<mi mathvariant="normal">T</mi>'
    if s in ("∇", "∂"):
        return f"<mo>{s}</mo>"
    if s.startswith("∂") and len(s) > 1:
        return f"<mrow><mo>∂</mo>{_mi(s[1:])}</mrow>"
    return f"<mi>{html.escape(s)}</mi>"


class Sym(Expr):
    """A symbol with optional subscript and superscript: ``Sym("w", "11", "2")`` is w^2_11.

    ``base`` is written in Unicode (δ, σ, ∇); ``sub``/``sup`` are short strings or nodes.
    """

    def __init__(
        self,
        base: str,
        sub: str | Expr | None = None,
        sup: str | Expr | None = None,
        prime: bool = False,
    ) -> None:
        self.base = base
        self.sub = sub
        self.sup = sup
        self.prime = prime

    def text(self, style: Style) -> Block:
        s = self.base + ("'" if self.prime else "")
        if self.sup is not None:
            sup = self.sup if isinstance(self.sup, str) else to_inline_text(self.sup, style)
            s += _script(sup, _SUP, "^")
        if self.sub is not None:
            sub = self.sub if isinstance(self.sub, str) else to_inline_text(self.sub, style)
            s += _script(sub, _SUB, "_")
        return Block([s])

    def latex(self, style: Style) -> str:
        # Subscript before superscript, and always right after a letter: python-markdown (and
        # other Markdown engines that do not know math) read "}_{" as the start of italics.
        base = _latex_text(self.base)
        if self.base in ("ln", "exp", "sign", "diag"):
            base = "\\" + self.base
        elif len(self.base) > 1 and self.base.isalpha():
            head, last = self.base[:-1], self.base[-1]
            base = rf"\mathrm{{{head}}}\mathrm {last}"
        elif base.endswith("}") and (self.sub is not None or self.sup is not None):
            base = "{" + base + "}\\kern0mu"
        s = base
        sups: list[str] = [r"\prime"] if self.prime else []
        if self.sup is not None:
            sup = self.sup if isinstance(self.sup, str) else self.sup.latex(style)
            sups.append(r"\mathsf{T}" if sup == "T" else _latex_text(sup))
        if self.sub is not None:
            sub = self.sub if isinstance(self.sub, str) else self.sub.latex(style)
            s += "_{" + _latex_text(sub) + "}"
        if sups:
            s += "'" if sups == [r"\prime"] and self.sub is None else "^{" + " ".join(sups) + "}"
        return s

    def mathml(self, style: Style) -> str:
        base = _mi(self.base)
        if self.prime:
            base = f"<mrow>{base}<mo>′</mo></mrow>"

        def part(p: str | Expr) -> str:
            if isinstance(p, Expr):
                return p.mathml(style)
            if p in ("ᵀ", "T"):
                return _mi("T")
            pieces = []
            for ch in p:
                if ch.isdigit():
                    pieces.append(f"<mn>{ch}</mn>")
                elif ch in "+-−":
                    pieces.append(f"<mo>{_mathml_minus(ch)}</mo>")
                else:
                    pieces.append(f"<mi>{html.escape(ch)}</mi>")
            return "<mrow>" + "".join(pieces) + "</mrow>"

        if self.sub is not None and self.sup is not None:
            return f"<msubsup>{base}{part(self.sub)}{part(self.sup)}</msubsup>"
        if self.sub is not None:
            return f"<msub>{base}{part(self.sub)}</msub>"
        if self.sup is not None:
            return f"<msup>{base}{part(self.sup)}</msup>"
        return base


class Op(Expr):
    """An operator or relation: ``=``, ``+``, ``−``, ``⊙``, ``·``, ``×``, ``:=``."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def text(self, style: Style) -> Block:
        return Block([f" {self.symbol} " if self.symbol not in ("", "(", ")") else self.symbol])

    def latex(self, style: Style) -> str:
        return " " + (_LATEX_SYMBOLS.get(self.symbol) or _latex_text(self.symbol)) + " "

    def mathml(self, style: Style) -> str:
        return f"<mo>{html.escape(self.symbol)}</mo>"


class Words(Expr):
    """Plain words inside an equation (``\\text{...}``)."""

    def __init__(self, words: str) -> None:
        self.words = words

    def text(self, style: Style) -> Block:
        return Block([self.words])

    def latex(self, style: Style) -> str:
        return r"\text{" + self.words.replace("_", r"\_") + "}"

    def mathml(self, style: Style) -> str:
        return f"<mtext>{html.escape(self.words)}</mtext>"


class Space(Expr):
    """A wide space between two parts of one equation (``\\quad``)."""

    def text(self, style: Style) -> Block:
        return Block(["    "])

    def latex(self, style: Style) -> str:
        return r"\quad "

    def mathml(self, style: Style) -> str:
        return '<mspace width="1em"/>'


class Num(Expr):
    """A number, formatted at render time."""

    def __init__(self, value: float) -> None:
        self.value = float(value)

    def text(self, style: Style) -> Block:
        return Block([fmt_number(self.value, style.precision)])

    def latex(self, style: Style) -> str:
        return _latex_number(fmt_number(self.value, style.precision))

    def mathml(self, style: Style) -> str:
        return _mathml_number(fmt_number(self.value, style.precision))


def _elide(
    n: int, limit: int, edge: int, focus: Sequence[int] | np.ndarray | None = None
) -> list[int | None]:
    """Indices to show along one axis; None marks each elided run.

    Without ``focus`` the corners are shown; with it (indices, most telling first), the first
    ones that fit — for an MNIST input, the pixels that are not 0 rather than four blank
    corners."""
    if n <= limit:
        return list(range(n))
    if focus is not None and len(focus):
        chosen = sorted({int(i) for i in focus[: max(1, limit - 2)]})
        out: list[int | None] = []
        previous = -1
        for i in chosen:
            if i > previous + 1:
                out.append(None)
            out.append(i)
            previous = i
        if previous < n - 1:
            out.append(None)
        return out
    e = min(edge, max(1, (limit - 1) // 2))
    return list(range(e)) + [None] + list(range(n - e, n))


class Mat(Expr):
    """A matrix, or a vector shown as a column (``orient="col"``) or a row (``"row"``).

    Larger than the style's limits, it is elided around its corners and its shape is shown.
    """

    def __init__(
        self,
        array: np.ndarray,
        orient: str = "col",
        focus_rows: Sequence[int] | np.ndarray | None = None,
        focus_cols: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        self.focus_rows = focus_rows
        self.focus_cols = focus_cols
        #: a worksheet's blank: every shown entry is printed as "?"
        self.blank = False
        arr = np.asarray(array, dtype=np.float64)
        if arr.ndim == 0:
            arr = arr.reshape(1, 1)
        elif arr.ndim == 1:
            arr = arr[:, None] if orient == "col" else arr[None, :]
        elif arr.ndim > 2:
            arr = arr.reshape(arr.shape[0], -1)
        self.array = arr
        self.original_shape = tuple(np.shape(array))

    def _cells(self, style: Style) -> tuple[list[list[str | None]], bool]:
        rows = _elide(self.array.shape[0], style.max_rows, style.edge, self.focus_rows)
        cols = _elide(self.array.shape[1], style.max_cols, style.edge, self.focus_cols)
        elided = None in rows or None in cols
        cells: list[list[str | None]] = []
        for r in rows:
            line: list[str | None] = []
            for c in cols:
                if r is None or c is None:
                    line.append(None)
                elif self.blank:
                    line.append("?")
                else:
                    line.append(fmt_number(self.array[r, c], style.precision))
            cells.append(line)
        return cells, elided

    def _shape_note(self) -> str:
        return "×".join(str(s) for s in self.original_shape)

    def text(self, style: Style) -> Block:
        cells, elided = self._cells(style)
        ncol = len(cells[0])
        # Align each column on the decimal point.
        lefts = [0] * ncol
        rights = [0] * ncol
        split: list[list[tuple[str, str] | None]] = []
        for line in cells:
            srow: list[tuple[str, str] | None] = []
            for c, cell in enumerate(line):
                if cell is None:
                    srow.append(None)
                    continue
                head, dot, tail = cell.partition(".")
                pair = (head, dot + tail)
                lefts[c] = max(lefts[c], len(pair[0]))
                rights[c] = max(rights[c], len(pair[1]))
                srow.append(pair)
            split.append(srow)
        body: list[str] = []
        row_is_gap = [all(x is None for x in srow) for srow in split]
        for srow, gap in zip(split, row_is_gap):
            parts = []
            for c, piece in enumerate(srow):
                w = lefts[c] + rights[c]
                if piece is None:
                    mark = "⋮" if gap else "⋯"
                    parts.append(mark.center(max(w, 1)))
                else:
                    parts.append(piece[0].rjust(lefts[c]) + piece[1].ljust(rights[c]))
            body.append("  ".join(parts))
        h = len(body)
        if h == 1:
            lines = ["[" + body[0] + "]"]
        else:
            lines = []
            for i, b in enumerate(body):
                left, right = ("⎡", "⎤") if i == 0 else ("⎣", "⎦") if i == h - 1 else ("⎢", "⎥")
                lines.append(left + b + right)
        block = Block(lines, (h - 1) // 2)
        if elided:
            block = Block.hcat([block, Block([f" ({self._shape_note()})"])])
        return block

    def latex(self, style: Style) -> str:
        cells, elided = self._cells(style)
        row_is_gap = [all(x is None for x in line) for line in cells]
        rows = []
        for line, gap in zip(cells, row_is_gap):
            rows.append(
                " & ".join(
                    (r"\vdots" if gap else r"\cdots") if c is None else _latex_number(c)
                    for c in line
                )
            )
        # \cr, not \\: Markdown engines that do not know math turn "\\" into "\".
        s = r"\begin{bmatrix}" + ROW_BREAK.join(rows) + r"\end{bmatrix}"
        if elided:
            s += r"\,{\scriptstyle " + self._shape_note().replace("×", r"\times ") + "}"
        return s

    def mathml(self, style: Style) -> str:
        cells, elided = self._cells(style)
        row_is_gap = [all(x is None for x in line) for line in cells]
        trs = []
        for line, gap in zip(cells, row_is_gap):
            tds = "".join(
                '<mtd class="gn-gap"><mtext>' + ("⋮" if gap else "⋯") + "</mtext></mtd>"
                if c is None
                else f"<mtd>{_mathml_number(c)}</mtd>"
                for c in line
            )
            trs.append(f"<mtr>{tds}</mtr>")
        # The brackets are drawn by CSS on the table (class gn-matrix) where the page's style
        # sheet is present, since stretching a [ needs a math font the reader may not have;
        # the <mo> fences stand in for them anywhere else.
        table = (
            '<mrow><mo class="gn-fence" fence="true" stretchy="true">[</mo>'
            '<mtable class="gn-matrix" columnalign="right">'
            + "".join(trs)
            + '</mtable><mo class="gn-fence" fence="true" stretchy="true">]</mo></mrow>'
        )
        if elided:
            table = f"<msub>{table}<mtext>{self._shape_note()}</mtext></msub>"
        return table


class Row(Expr):
    """Nodes side by side."""

    def __init__(self, items: Iterable[Expr], sep: str = "") -> None:
        self.items = list(items)
        self.sep = sep

    def text(self, style: Style) -> Block:
        return Block.hcat([i.text(style) for i in self.items], self.sep)

    def latex(self, style: Style) -> str:
        return " ".join(i.latex(style).strip() for i in self.items)

    def mathml(self, style: Style) -> str:
        return "<mrow>" + "".join(i.mathml(style) for i in self.items) + "</mrow>"


class Frac(Expr):
    """num/den: inline in text (∂C/∂w), stacked in LaTeX and MathML."""

    def __init__(self, num: Expr, den: Expr) -> None:
        self.num = num
        self.den = den

    def text(self, style: Style) -> Block:
        return Block([to_inline_text(self.num, style) + "/" + to_inline_text(self.den, style)])

    def latex(self, style: Style) -> str:
        return r"\frac{" + self.num.latex(style) + "}{" + self.den.latex(style) + "}"

    def mathml(self, style: Style) -> str:
        return f"<mfrac>{self.num.mathml(style)}{self.den.mathml(style)}</mfrac>"


_TALL = {
    "(": ("⎛", "⎜", "⎝"),
    ")": ("⎞", "⎟", "⎠"),
    "‖": ("‖", "‖", "‖"),
    "[": ("⎡", "⎢", "⎣"),
    "]": ("⎤", "⎥", "⎦"),
}
_LATEX_FENCE = {"(": r"\left(", ")": r"\right)", "‖": r"\left\lVert", "‖r": r"\right\rVert"}


class Fenced(Expr):
    """``(body)`` or ``‖body‖``, growing with its body."""

    def __init__(self, body: Expr, left: str = "(", right: str = ")") -> None:
        self.body = body
        self.left = left
        self.right = right

    def _side(self, ch: str, h: int) -> Block:
        if h == 1:
            return Block([ch])
        top, mid, bot = _TALL.get(ch, (ch, ch, ch))
        return Block([top] + [mid] * (h - 2) + [bot])

    def text(self, style: Style) -> Block:
        inner = self.body.text(style)
        left = self._side(self.left, inner.height)
        right = self._side(self.right, inner.height)
        left.baseline = right.baseline = inner.baseline
        return Block.hcat([left, inner, right])

    def latex(self, style: Style) -> str:
        left = r"\left\lVert " if self.left == "‖" else r"\left" + self.left
        right = r"\right\rVert " if self.right == "‖" else r"\right" + self.right
        return left + self.body.latex(style) + right

    def mathml(self, style: Style) -> str:
        return f"<mrow><mo>{self.left}</mo>{self.body.mathml(style)}<mo>{self.right}</mo></mrow>"


class Sup(Expr):
    """Any expression raised to a short superscript: ‖y − a‖²."""

    def __init__(self, base: Expr, sup: str) -> None:
        self.base = base
        self.sup = sup

    def text(self, style: Style) -> Block:
        block = self.base.text(style)
        mark = _script(self.sup, _SUP, "^")
        return Block.hcat([block, Block([mark] + [""] * (block.height - 1), block.baseline)])

    def latex(self, style: Style) -> str:
        sup = r"\mathsf{T}" if self.sup == "T" else _latex_text(self.sup)
        return "{" + self.base.latex(style) + "}^{" + sup + "}"

    def mathml(self, style: Style) -> str:
        return f"<msup>{self.base.mathml(style)}<mn>{html.escape(self.sup)}</mn></msup>"


def row(*items: Expr | str | float) -> Row:
    """A Row from nodes, operator strings and numbers (convenience for building equations)."""
    nodes: list[Expr] = []
    for it in items:
        if isinstance(it, Expr):
            nodes.append(it)
        elif isinstance(it, str):
            nodes.append(Op(it))
        else:
            nodes.append(Num(float(it)))
    return Row(nodes)


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------
def to_text(expr: Expr, style: Style) -> str:
    """The expression as (possibly multi-line) text."""
    return str(expr.text(style))


def to_inline_text(expr: Expr, style: Style) -> str:
    """The expression on one line (multi-line parts are joined)."""
    block = expr.text(style)
    if block.height == 1:
        return block.lines[0].strip()
    return " ".join(line.strip() for line in block.lines)


def to_latex(expr: Expr, style: Style) -> str:
    """The expression as LaTeX (no surrounding $)."""
    return " ".join(expr.latex(style).split())


def to_mathml(expr: Expr, style: Style, display: bool = False) -> str:
    """The expression as a ``<math>`` element."""
    mode = ' display="block"' if display else ""
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML"{mode}>{expr.mathml(style)}</math>'


# ---------------------------------------------------------------------------------------------
# Prose with inline math
# ---------------------------------------------------------------------------------------------
_SCRIPTED = re.compile(
    r"(?<![\w'’])([A-Za-zα-ωΑ-Ω∇])(')?"
    r"(?:\^(\{[^{}]*\}|\(l[^()]*\)|[0-9]+|[A-Za-z]))?"
    r"(?:_(\{[^{}]*\}|[A-Za-z0-9]+))?"
)


def _unbrace(text: str | None) -> str | None:
    if text is None:
        return None
    if text[:1] in "{(" and text[-1:] in "})":
        text = text[1:-1]
    return text.replace(" ", "").replace("-", "−")


def prose(text: str) -> list[str | Expr]:
    """Words with the seeds' symbols written TeX-style (``δ^{l+1}``, ``∂C/∂w^2_jk``,
    ``∇_a C``) split into text and ``Sym`` nodes, so that every renderer shows them as real
    super- and subscripts instead of carets."""
    parts: list[str | Expr] = []
    last = 0
    for m in _SCRIPTED.finditer(text):
        base, prime, sup, sub = m.groups()
        if sup is None and sub is None:
            continue
        if m.start() > last:
            parts.append(text[last : m.start()])
        parts.append(Sym(base, sub=_unbrace(sub), sup=_unbrace(sup), prime=bool(prime)))
        last = m.end()
    if last < len(text):
        parts.append(text[last:])
    return parts
