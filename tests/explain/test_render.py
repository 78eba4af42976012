"""The four renderings of a trace: text, Markdown (through a real Markdown library), JSON, HTML."""

from __future__ import annotations

import io
import json
import math
import re

import numpy as np
import pytest

import glassnet as gn
from glassnet.explain import backprop, seed004_example
from glassnet.explain.notation import Mat, Style, fmt_number, to_latex, to_text
from glassnet.nn.layers import Dense
from glassnet.training.model import Sequential

markdown = pytest.importorskip("markdown")


def sig(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


# Seed 004's key numbers, derived here without glassnet.
OUT_H1 = sig(0.15 * 0.05 + 0.20 * 0.10 + 0.35)
OUT_H2 = sig(0.25 * 0.05 + 0.30 * 0.10 + 0.35)
OUT_O1 = sig(0.40 * OUT_H1 + 0.45 * OUT_H2 + 0.60)
OUT_O2 = sig(0.50 * OUT_H1 + 0.55 * OUT_H2 + 0.60)
E = 0.5 * (0.01 - OUT_O1) ** 2 + 0.5 * (0.99 - OUT_O2) ** 2
DW5 = (OUT_O1 - 0.01) * OUT_O1 * (1 - OUT_O1) * OUT_H1
KEY_NUMBERS = [OUT_H1, OUT_H2, OUT_O1, OUT_O2, E, DW5, 0.40 - 0.5 * DW5]


@pytest.fixture(scope="module")
def trace():  # type: ignore[no-untyped-def]
    model, x, y, loss, lr = seed004_example()
    return backprop(model, x, y, loss=loss, learning_rate=lr)


def test_markdown_renders_to_html_with_every_equation_and_number(trace) -> None:  # type: ignore[no-untyped-def]
    md = trace.to_markdown(precision=9)
    html = markdown.markdown(md, extensions=["extra"])
    for label in ("BP1", "BP2", "BP3", "BP4", "forward", "update", "cost"):
        assert f"<strong>{label}</strong>" in html, label
    for value in KEY_NUMBERS:
        assert format(value, ".9g") in html, value
    # each step: the equation, the numbers substituted, then the result
    block = re.search(r"\*\*BP1\*\* ·.*?\$\$(.*?)\$\$", md, re.S)
    assert block is not None
    lines = block.group(1).strip().split("\\cr\n")
    assert len(lines) == 3
    assert r"\nabla" in lines[0] and r"\odot" in lines[0]
    assert "begin{bmatrix}" in lines[1]
    assert format(trace.layer(2).delta[0], ".9g") in lines[2]
    assert md.count("$$") % 2 == 0
    assert trace._repr_markdown_() == trace.to_markdown()


def test_text_has_colour_only_when_asked(trace) -> None:  # type: ignore[no-untyped-def]
    plain = trace.to_text()
    assert "\x1b[" not in plain and str(trace) == plain
    assert "\x1b[" in trace.to_text(color=True)
    buffer = io.StringIO()  # not a terminal
    trace.print(file=buffer)
    assert "\x1b[" not in buffer.getvalue()

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    trace.print(file=tty)
    assert "\x1b[" in tty.getvalue()


def test_precision_is_configurable(trace) -> None:  # type: ignore[no-untyped-def]
    assert format(OUT_H1, ".9g") in trace.to_text(precision=9)
    short = trace.to_text(precision=3)
    assert "0.593" in short and "0.593269992" not in short
    assert fmt_number(4.385677e-05, 3) == "4.39e-5"
    assert fmt_number(0.0, 3) == "0" and fmt_number(-2.5, 3) == "-2.5"


def test_large_matrices_are_elided_with_their_shape() -> None:
    gn.seed(0)
    rng = np.random.default_rng(0)
    model = Sequential(
        [Dense(20, "relu", input_dim=30, dtype="float64"), Dense(3, "softmax", dtype="float64")]
    )
    t = backprop(model, rng.normal(size=30), np.array([2]), loss="sparse_categorical_crossentropy")
    text = t.to_text(max_rows=6, max_cols=6)
    assert "(20×30)" in text and "⋯" in text and "⋮" in text
    md = t.to_markdown(max_rows=6, max_cols=6)
    assert r"20\times 30" in md and r"\cdots" in md
    assert "20×30" in t.to_html(max_rows=6, max_cols=6)
    block = to_text(Mat(np.arange(100.0).reshape(10, 10)), Style(max_rows=4, max_cols=4))
    assert "(10×10)" in block and "99" in block and "50" not in block
    assert "bmatrix" in to_latex(Mat(np.eye(2)), Style())


def test_json_is_valid_and_complete(trace) -> None:  # type: ignore[no-untyped-def]
    text = trace.to_json()
    data = json.loads(text)
    assert data["cost"] == pytest.approx(E, rel=1e-14)
    assert set(data["equations"]) >= {"forward", "BP1", "BP2", "BP3", "BP4", "update"}
    l2 = data["layers"][1]
    for key in (
        "a_prev",
        "W",
        "b",
        "z",
        "a",
        "sigma_prime",
        "delta",
        "grad_W",
        "grad_b",
        "W_updated",
        "b_updated",
    ):
        np.testing.assert_array_equal(np.array(l2[key]), getattr(trace.layer(2), key))
    assert l2["equations"] == {"delta": "BP1", "grad_b": "BP3", "grad_W": "BP4"}
    assert data["layers"][0]["equations"]["delta"] == "BP2"
    labels = {s["label"] for s in data["steps"]}
    assert {"BP1", "BP2", "BP3", "BP4", "forward", "cost", "update"} <= labels
    assert all(s["equation"]["latex"] for s in data["steps"])
    assert data["check"]["agree"] is True
    rounded = json.loads(trace.to_json(precision=3))
    assert rounded["layers"][0]["a"][0] == 0.593
    # non-finite numbers become null, so the output stays valid JSON
    from glassnet.explain.render import _lists

    assert _lists(np.array([1.0, np.nan, np.inf]), None) == [1.0, None, None]


def test_html_is_one_self_contained_file(trace) -> None:  # type: ignore[no-untyped-def]
    page = trace.to_html(precision=9, weights=["w1"])
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and "<link" not in page and "@import" not in page
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls == {"http://www.w3.org/1998/Math/MathML"}  # a namespace, never fetched
    assert page.count("<math") > 50
    for value in KEY_NUMBERS:
        assert format(value, ".9g") in page
    fragment = trace._repr_html_()
    assert "<html" not in fragment and "<math" in fragment


def test_a_batch_is_shown_one_column_per_sample() -> None:
    model, x, y, loss, _ = seed004_example()
    xs = np.stack([x, 2 * x, 3 * x])
    ys = np.stack([y, y, y[::-1]])
    t = backprop(model, xs, ys, loss=loss)
    assert t.batch_size == 3 and not t.single
    assert t.layer(1).z.shape == (3, 2) and t.layer(1).grad_W.shape == (2, 2)
    np.testing.assert_allclose(
        t.layer(1).grad_W, t.layer(1).delta.T @ t.layer(1).a_prev / 3, rtol=1e-15
    )
    text = t.to_text()
    assert "one column per sample" in " ".join(text.split()) and "C = 1/3 Σₓ Cₓ" in text
    path = t.path(1, 2, 1)
    assert len(path.samples) == 3 and path.agrees
    t.check(rtol=1e-12)
