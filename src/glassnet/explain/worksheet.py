"""Exercises from a trace: a worksheet with chosen quantities blanked, and a checker that
grades a student's numbers and names the likely slip.

::

    sheet = worksheet(trace, blanks=["delta2", "grad_W2", "W2_new"])
    sheet.to_html()          # the trace with those results (and every place they reappear) as ?
    sheet.to_markdown()
    grades = sheet.check({"delta2": [0.1385, -0.0381], "grad_W2": [[...], [...]], ...})
    print(sheet.report(grades))   # ✓ / ✗ per quantity, and for a ✗ the slip its numbers match:
                                  # "σ'(z) left out", "learning-rate step with the wrong sign",
                                  # "layer index shifted by one", ...

Quantities are named by glassnet's layer count: ``z1``, ``a1``, ``sigma_prime1``, ``delta2``,
``grad_W2``, ``grad_b2``, ``W2_new``, ``b2_new`` and ``C``. The worksheet prints them in the
trace's notation preset (``notation="seed000"`` writes glassnet's ``delta2`` as δ³).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import i18n
from ..errors import InvalidArgumentError, ShapeError
from ..i18n import N_, t
from ..nn import losses as L
from . import presets
from .notation import Expr, Fenced, Frac, Mat, Row, Style, Sup
from .trace import BackpropTrace

__all__ = ["worksheet", "Worksheet", "Grade"]


# ---------------------------------------------------------------------------------------------
# The quantities
# ---------------------------------------------------------------------------------------------
def _keys(trace: BackpropTrace) -> dict[str, np.ndarray]:
    """Every quantity a worksheet can blank, by key, with its true value."""
    out: dict[str, np.ndarray] = {"C": np.asarray(trace.cost)}
    for lt in trace.layers:
        l = lt.index
        out[f"z{l}"] = np.asarray(lt.z)
        out[f"a{l}"] = np.asarray(lt.a)
        if not lt.jacobian:
            out[f"sigma_prime{l}"] = np.asarray(lt.sigma_prime)
        out[f"delta{l}"] = np.asarray(lt.delta)
        out[f"grad_W{l}"] = lt.grad_W
        if lt.use_bias:
            out[f"grad_b{l}"] = lt.grad_b
        if lt.W_updated is not None:
            out[f"W{l}_new"] = lt.W_updated
            if lt.use_bias and lt.b_updated is not None:
                out[f"b{l}_new"] = lt.b_updated
    return out


def _split(key: str) -> tuple[str, int | None]:
    """("delta", 2) for "delta2", ("W_new", 2) for "W2_new", ("C", None) for "C"."""
    if key == "C":
        return "C", None
    if key.endswith("_new"):
        return key[0] + "_new", int(key[1:-4])
    head = key.rstrip("0123456789")
    return head, int(key[len(head) :])


def _label(key: str) -> str:
    """How the quantity is printed in the current preset (text)."""
    kind, l = _split(key)
    style = Style(precision=6)
    sym = {
        "C": lambda: presets.cost_symbol(),
        "z": lambda: presets.symbol("z", l),
        "a": lambda: presets.symbol("a", l),
        "sigma_prime": lambda: Row([presets.symbol("σ", None, prime=True)]),
        "delta": lambda: presets.symbol("δ", l),
        "grad_W": lambda: Frac(Row([presets.cost_symbol()]), presets.symbol("W", l)),
        "grad_b": lambda: Frac(Row([presets.cost_symbol()]), presets.symbol("b", l)),
        "W_new": lambda: presets.symbol("W", l),
        "b_new": lambda: presets.symbol("b", l),
    }[kind]()
    from .notation import to_inline_text

    text = to_inline_text(sym, style)
    if kind in ("grad_W", "grad_b"):
        num, den = text.split("/")
        text = f"∂{num}/∂{den}"
    if kind == "sigma_prime":
        text = f"σ'({to_inline_text(presets.symbol('z', l), style)})"
    if kind.endswith("_new"):
        text += t(" after the step")
    return text


# Which step of the document holds each quantity: (step label, title start) → kind.
_STEP_KINDS = [
    ("forward", "weighted input", "z"),
    ("forward", "activation", "a"),
    ("σ'", "derivative", "sigma_prime"),
    ("BP1", "", "delta"),
    ("BP2", "", "delta"),
    ("BP3", "", "grad_b"),
    ("BP4", "", "grad_W"),
    ("update", "new weights", "W_new"),
    ("update", "new biases", "b_new"),
    ("cost", "", "C"),
]


def _step_key(step: Any) -> str | None:
    for label, title, kind in _STEP_KINDS:
        if step.label == label and step.title.startswith(title):
            if kind == "C":
                return "C"
            if kind.endswith("_new"):
                return f"{kind[0]}{step.layer}_new"
            return f"{kind}{step.layer}"
    return None


def _walk(expr: Expr, visit: Callable[[Mat], None]) -> None:
    """Call ``visit`` on every matrix inside an expression."""
    if isinstance(expr, Mat):
        visit(expr)
    elif isinstance(expr, Row):
        for item in expr.items:
            _walk(item, visit)
    elif isinstance(expr, Fenced):
        _walk(expr.body, visit)
    elif isinstance(expr, Sup):
        _walk(expr.base, visit)
    elif isinstance(expr, Frac):
        _walk(expr.num, visit)
        _walk(expr.den, visit)


# ---------------------------------------------------------------------------------------------
# Grading
# ---------------------------------------------------------------------------------------------
@dataclass
class Grade:
    """One quantity graded: ``ok`` within the tolerance; otherwise ``slip`` names the common
    mistake the numbers match (None when none does); ``error`` is the largest difference."""

    key: str
    label: str
    ok: bool
    error: float
    expected: np.ndarray
    answer: np.ndarray | None
    slip: str | None = None
    #: the language ``str()`` speaks ("en" or "zh"); ``slip`` stays the English name
    lang: str = "en"

    def __str__(self) -> str:
        with i18n.using(self.lang):
            if self.answer is None:
                return t("– {label}: no answer given").format(label=self.label)
            if self.ok:
                return t("✓ {label}: correct").format(label=self.label)
            why = t(self.slip or N_("no common slip matches these numbers; recheck the arithmetic"))
            return t("✗ {label}: off by up to {error} — likely slip: {why}").format(
                label=self.label, error=f"{self.error:.3g}", why=why
            )


def _close(answer: np.ndarray, value: np.ndarray, rtol: float, atol: float) -> bool:
    return answer.shape == value.shape and bool(
        np.all(np.abs(answer - value) <= atol + rtol * np.abs(value))
    )


def _slips(trace: BackpropTrace, key: str) -> list[tuple[str, np.ndarray]]:
    """(name, the value that slip produces) for the mistakes students make most often."""
    kind, l = _split(key)
    out: list[tuple[str, np.ndarray]] = []
    values = _keys(trace)

    def shifted() -> None:
        for other in (l - 1, l + 1) if l is not None else ():
            name = key.replace(str(l), str(other), 1)
            if name in values:
                out.append((N_("layer index shifted by one"), values[name]))

    if l is None:
        if isinstance(trace.loss, L.Quadratic):
            out.append((N_("the ½ of the quadratic cost left out"), 2 * np.asarray(trace.cost)))
        return out
    lt = trace.layer(l)
    n = trace.batch_size
    rows = lambda name: lt.rows(name)  # noqa: E731 - one row per sample
    if kind == "z" and lt.use_bias:
        out.append((N_("the bias b left out"), np.asarray(lt.z) - lt.b))
    if kind == "a":
        out.append((N_("σ not applied (a = z)"), np.asarray(lt.z)))
    if kind == "delta" and not lt.jacobian:
        out.append((N_("σ'(z) left out"), np.asarray(lt.grad_a)))
        out.append((N_("σ(z) used instead of σ'(z)"), np.asarray(lt.grad_a) * np.asarray(lt.a)))
    if kind == "grad_W" and not lt.jacobian:
        out.append((N_("σ'(z) left out"), rows("grad_a").T @ rows("a_prev") / n))
        out.append((N_("transposed: a δᵀ instead of δ aᵀ"), lt.grad_W.T))
        if l > 1:
            prev = trace.layer(l - 1)
            out.append(
                (N_("z^(l−1) used instead of a^(l−1)"), rows("delta").T @ prev.rows("z") / n)
            )
    if kind == "grad_W" and lt.jacobian:
        out.append((N_("transposed: a δᵀ instead of δ aᵀ"), lt.grad_W.T))
    if kind == "grad_b" and not lt.jacobian:
        out.append((N_("σ'(z) left out"), rows("grad_a").mean(axis=0)))
    if kind in ("W_new", "b_new") and trace.learning_rate is not None:
        old, grad = (lt.W, lt.grad_W) if kind == "W_new" else (lt.b, lt.grad_b)
        alpha = trace.learning_rate
        out.append((N_("learning-rate step with the wrong sign (w + α∂C/∂w)"), old + alpha * grad))
        out.append((N_("the learning rate α left out (w − ∂C/∂w)"), old - grad))
    shifted()
    return out


# ---------------------------------------------------------------------------------------------
# The worksheet
# ---------------------------------------------------------------------------------------------
class Worksheet:
    """A trace with some results blanked (see the module docstring)."""

    def __init__(
        self,
        trace: BackpropTrace,
        blanks: Sequence[str],
        notation: str | None,
        lang: str | None = None,
    ) -> None:
        self.trace = trace
        self.blanks = list(blanks)
        self.notation = notation
        #: the language of the sheet and of the checker's report: "en" or "zh"
        self.lang = i18n.check_lang(lang if lang is not None else getattr(trace, "lang", None))

    def _lang(self, lang: str | None) -> str:
        return i18n.check_lang(lang) if lang is not None else self.lang

    def answers(self) -> dict[str, np.ndarray]:
        """The true values of the blanks (the answer key)."""
        values = _keys(self.trace)
        return {k: np.array(values[k]) for k in self.blanks}

    def _document(self) -> Any:
        from .render import Document, Para, Step, build_document

        values = _keys(self.trace)
        hidden = [values[k] for k in self.blanks]
        doc = build_document(self.trace)
        # Steps are recognised by their English titles: the same document built in English
        # gives each step's key, in the same order as the steps of the translated one.
        with i18n.using("en"):
            english = build_document(self.trace)
        keys: list[str | None] = []

        def collect(items: list[Any]) -> None:
            for item in items:
                if hasattr(item, "items"):
                    collect(item.items)
                elif isinstance(item, Step):
                    keys.append(_step_key(item))

        for sec in english.sections:
            collect(sec.items)
        step_keys = iter(keys)

        def blank(mat: Mat) -> None:
            flat = mat.array.reshape(-1)
            if any(v.size == flat.size and np.array_equal(v.reshape(-1), flat) for v in hidden):
                mat.blank = True

        numbered: dict[str, int] = {k: i + 1 for i, k in enumerate(self.blanks)}

        def visit(items: list[Any]) -> None:
            for item in items:
                if hasattr(item, "items"):
                    visit(item.items)
                elif isinstance(item, Step):
                    key = next(step_keys)
                    if key in numbered:
                        item.title += t(" — exercise ({n}): fill in the ?").format(n=numbered[key])
                    for rhs in item.rhs:
                        _walk(rhs, blank)

        for sec in doc.sections:
            visit(sec.items)
        doc.sections = [s for s in doc.sections if s.title != t("Check")]
        keys_text = ", ".join(f"({numbered[k]}) {_label(k)} [{k}]" for k in self.blanks)
        intro = [
            Para(
                [
                    t(
                        "Worksheet: compute the quantities marked ? by hand, from the numbers "
                        "shown and the equations, then check them with sheet.check(...). "
                        "To find: {keys}."
                    ).format(keys=keys_text)
                ]
            )
        ]
        title = t("Worksheet — ") + doc.title
        return Document(title, intro + doc.intro, doc.sections, True)

    def _render(self, kind: str, precision: int, lang: str | None = None) -> str:
        import html

        from .render import (
            _CSS,
            _para_html,
            _para_md,
            _para_text,
            _preset,
            _section_html,
            _section_md,
            _section_text,
            _wrap,
        )

        style = Style(precision)
        language = self._lang(lang)
        with presets.using(_preset(self.trace, self.notation), self.trace.L), i18n.using(language):
            doc = self._document()
            if kind == "text":
                lines = [doc.title, "═" * min(len(doc.title), 96)]
                for p in doc.intro:
                    lines += _wrap(_para_text(p, style), 96, "")
                for sec in doc.sections:
                    lines += _section_text(sec, style, 0, False)
                return "\n".join(lines) + "\n"
            if kind == "markdown":
                out = [f"# {doc.title}", ""]
                for p in doc.intro:
                    out += [_para_md(p, style), ""]
                for sec in doc.sections:
                    out += _section_md(sec, style, 0)
                return "\n".join(out)
            body = [f'<div class="glassnet-trace"><h1>{html.escape(doc.title)}</h1>']
            body += [f"<p>{_para_html(p, style)}</p>" for p in doc.intro]
            body += [_section_html(sec, style, 0) for sec in doc.sections]
            body.append("</div>")
            if kind == "fragment":  # for a notebook: the page's style and body, no <html>
                return f"<style>{_CSS}</style>\n" + "\n".join(body)
            return (
                "<!DOCTYPE html>\n"
                f'<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
                '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                f"<title>{html.escape(doc.title)}</title>\n<style>{_CSS}</style>\n</head>\n"
                "<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
            )

    def to_text(self, precision: int = 6, lang: str | None = None) -> str:
        """The worksheet for a terminal or a printout (``lang``: "en" or "zh")."""
        return self._render("text", precision, lang)

    def to_markdown(self, precision: int = 6, lang: str | None = None) -> str:
        """The worksheet as Markdown with LaTeX (``lang``: "en" or "zh")."""
        return self._render("markdown", precision, lang)

    def to_html(self, precision: int = 6, lang: str | None = None) -> str:
        """The worksheet as a self-contained HTML page (``lang``: "en" or "zh")."""
        return self._render("html", precision, lang)

    def _repr_html_(self) -> str:
        """How a notebook shows the worksheet: the page's HTML (MathML, no script)."""
        return self._render("fragment", 6)

    def __repr__(self) -> str:
        return f"Worksheet({self.trace.describe()}, blanks=[{', '.join(self.blanks)}])"

    def check(
        self,
        answers: Mapping[str, Any],
        rtol: float = 2e-3,
        atol: float = 1e-4,
        lang: str | None = None,
    ) -> list[Grade]:
        """Grade ``answers`` (key → number or nested list, the shape of the quantity) within
        |answer − true| ≤ atol + rtol·|true|; a wrong answer gets the slip it matches."""
        unknown = [k for k in answers if k not in self.blanks]
        if unknown:
            raise InvalidArgumentError(
                f"worksheet.check: {', '.join(map(repr, unknown))} is not one of this "
                f"worksheet's blanks ({', '.join(self.blanks)})"
            )
        grades = []
        values = _keys(self.trace)
        language = self._lang(lang)
        with presets.using(presets.get(self.notation), self.trace.L), i18n.using(language):
            for key in self.blanks:
                expected = np.asarray(values[key], dtype=np.float64)
                label = _label(key)
                if key not in answers or answers[key] is None:
                    grades.append(Grade(key, label, False, math.inf, expected, None, lang=language))
                    continue
                answer = np.asarray(answers[key], dtype=np.float64)
                if answer.size == expected.size and answer.shape != expected.shape:
                    answer = answer.reshape(expected.shape)  # a column given as a flat list
                if answer.shape != expected.shape:
                    raise ShapeError(
                        f"worksheet.check: {key} ({label}) has shape {expected.shape}, received "
                        f"an answer of shape {answer.shape}"
                    )
                error = float(np.max(np.abs(answer - expected))) if answer.size else 0.0
                ok = _close(answer, expected, rtol, atol)
                slip = None
                if not ok:
                    for name, value in _slips(self.trace, key):
                        value = np.asarray(value, dtype=np.float64)
                        if value.size == answer.size and _close(
                            answer, value.reshape(answer.shape), rtol, atol
                        ):
                            slip = name
                            break
                grades.append(Grade(key, label, ok, error, expected, answer, slip, language))
        return grades

    def report(self, grades: Iterable[Grade], lang: str | None = None) -> str:
        """One line per quantity: ✓, ✗ with the likely slip, or – for no answer (in ``lang``,
        default the language the grades were made in)."""
        grades = list(grades)
        right = sum(g.ok for g in grades)
        language = (
            self._lang(lang) if lang is not None else (grades[0].lang if grades else self.lang)
        )
        lines = [str(dataclasses.replace(g, lang=language)) for g in grades]
        with i18n.using(language):
            head = t("{right} of {n} correct").format(right=right, n=len(grades))
        return "\n".join([head] + lines)


_DEFAULT = ("z", "a", "delta", "grad_W")


def worksheet(
    trace: BackpropTrace,
    blanks: Sequence[str] | None = None,
    notation: str | None = None,
    lang: str | None = None,
) -> Worksheet:
    """A worksheet from ``trace`` with ``blanks`` (keys such as "delta2", "grad_W1", "W2_new";
    default: every z, a, δ and ∂C/∂W, plus the updated weights when the trace has a learning
    rate) shown as ? — see the module docstring. ``lang``: "en" or "zh" (default the trace's),
    for the sheet and the checker's report."""
    available = _keys(trace)
    if blanks is None:
        chosen = [k for k in available if _split(k)[0] in _DEFAULT]
        chosen += [k for k in available if _split(k)[0] == "W_new"]
    else:
        if isinstance(blanks, str) or not all(isinstance(k, str) for k in blanks):
            raise InvalidArgumentError(
                f"worksheet: blanks must be a list of quantity names, received {blanks!r}"
            )
        missing = [k for k in blanks if k not in available]
        if missing:
            raise InvalidArgumentError(
                f"worksheet: {', '.join(map(repr, missing))} is not a quantity of this trace; "
                f"choose from {', '.join(available)}"
            )
        chosen = list(dict.fromkeys(blanks))
    presets.get(notation)  # a bad name fails now, not at rendering
    return Worksheet(trace, chosen, notation, lang)
