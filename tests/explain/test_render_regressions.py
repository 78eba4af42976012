"""Regressions of issue 17's rendering bugs: label and caption run together, raw carets in
prose, the forward equation's lost \\quad, and Markdown that python-markdown breaks."""

from __future__ import annotations

import html as html_module
import re

import numpy as np
import pytest

from glassnet.explain import backprop, seed004_example
from glassnet.explain.render import EQUATIONS
from glassnet.nn.layers import Dense
from glassnet.training.model import Sequential


@pytest.fixture(scope="module")
def seed004_trace():  # type: ignore[no-untyped-def]
    model, x, y, loss, lr = seed004_example()
    return backprop(model, x, y, loss=loss, learning_rate=lr)


@pytest.fixture(scope="module")
def deep_trace():  # type: ignore[no-untyped-def]
    """Three layers, a batch of two, an elided 12×9 weight matrix: every note appears."""
    rng = np.random.default_rng(3)
    model = Sequential(
        [
            Dense(12, activation="tanh", input_dim=9, dtype="float64"),
            Dense(4, activation="sigmoid", dtype="float64"),
            Dense(3, activation="softmax", dtype="float64"),
        ]
    )
    model.build((9,))
    return backprop(
        model,
        rng.normal(size=(2, 9)),
        np.array([0, 2]),
        loss="sparse_categorical_crossentropy",
        learning_rate=0.1,
    )


def _visible_text(page: str) -> str:
    """The words of a page outside math, styles and the plain-text copy."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    page = re.sub(r"<details>.*?</details>", "", page, flags=re.S)
    page = re.sub(r"<math\b.*?</math>", " MATH ", page, flags=re.S)
    return html_module.unescape(re.sub(r"<[^>]+>", "", page))


def test_html_step_label_is_separated_from_its_title(seed004_trace) -> None:  # type: ignore[no-untyped-def]
    page = seed004_trace.to_html()
    text = _visible_text(page)
    assert "updatenew" not in text
    assert "update new weights of layer 1" in text
    assert "BP1 output error of layer 2" in text
    assert re.search(r"\.label\{[^}]*margin-right", page)


@pytest.mark.parametrize("which", ["seed004_trace", "deep_trace"])
def test_prose_shows_no_raw_carets(which, request) -> None:  # type: ignore[no-untyped-def]
    trace = request.getfixturevalue(which)
    weights = ["w5", (1, 1, 1)] if which == "seed004_trace" else [(1, 2, 3)]
    page = trace.to_html(weights=weights)
    assert "^" not in _visible_text(page)
    # the notes' symbols became MathML scripts: ∂C/∂w^l_jk = a^{l−1}_k δ^l_j in BP4's note
    assert "<msubsup><mi>w</mi><mrow><mi>j</mi><mi>k</mi></mrow><mrow><mn>1</mn>" in page
    md = trace.to_markdown(weights=weights)
    words = re.sub(r"\$\$.*?\$\$", "", md, flags=re.S)
    words = re.sub(r"\$[^$]*\$", "", words)
    assert "^" not in words
    assert r"\partial w_{jk}^{1}} = a_{k}^{0} \delta_{j}^{1}$" in md
    text = trace.to_text(weights=weights)
    assert "δ^" not in text and "w^" not in text and "a^" not in text
    assert "w¹ⱼₖ" in text


def test_forward_equation_keeps_its_quad(seed004_trace) -> None:  # type: ignore[no-untyped-def]
    page = seed004_trace.to_html()
    forward = re.search(r"<strong>forward</strong> (<math.*?</math>)", page, re.S)
    assert forward is not None
    assert re.search(r"<mtext>,</mtext><mspace width=\"1em\"/>", forward.group(1))
    md = seed004_trace.to_markdown()
    assert r"\text{,} \quad a^{l}" in md
    assert r"\quad" in EQUATIONS["forward"]["latex"]


def _math_segments(text: str) -> list[str]:
    """Display ($$…$$) and inline ($…$) math, in order."""
    segments = re.findall(r"\$\$(.*?)\$\$|\$([^$\n]+?)\$", text, flags=re.S)
    return [" ".join((a or b).split()) for a, b in segments]


@pytest.mark.parametrize("which", ["seed004_trace", "deep_trace"])
def test_markdown_math_survives_python_markdown(which, request) -> None:  # type: ignore[no-untyped-def]
    markdown = pytest.importorskip("markdown")
    trace = request.getfixturevalue(which)
    md = trace.to_markdown(weights=["w5"] if which == "seed004_trace" else [(2, 1, 1)])
    rendered = html_module.unescape(markdown.markdown(md))
    before, after = _math_segments(md), _math_segments(rendered)
    assert len(before) > 30
    assert after == before  # no "\\" collapsed to "\", no "_" eaten by <em>
    # the row breaks are still there for MathJax/KaTeX
    assert any(r"\cr" in seg and r"\begin{aligned}" in seg for seg in after)


@pytest.fixture(scope="module")
def digit_trace():  # type: ignore[no-untyped-def]
    """Seed 002's model on one 28×28 image whose corners are 0, as MNIST's are."""
    from glassnet.layers import Flatten, Rescaling

    image = np.zeros((28, 28))
    image[6:22, 12:16] = 255.0  # a "1"
    image[20:22, 9:19] = 200.0
    model = Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28)),
            Flatten(),
            Dense(16, activation="relu", dtype="float64"),
            Dense(10, activation="softmax", dtype="float64"),
        ]
    )
    model.build((28, 28))
    return image, backprop(model, image, 1, loss="sparse_categorical_crossentropy")


def test_an_image_trace_shows_the_digit_and_its_nonzero_inputs(digit_trace) -> None:  # type: ignore[no-untyped-def]
    image, trace = digit_trace
    text = trace.to_text()
    # the image itself, dark where the strokes are
    rows = text.split("as an image (28×28, dark = large):\n")[1].split("\n")[:28]
    assert [r.strip() not in ("", ".") for r in rows] == [bool(image[i].any()) for i in range(28)]
    assert "@" in rows[10] and "#" in rows[21]  # 255 darkest, 200 a shade lighter
    # the shown a⁰ entries and W¹ columns are the nonzero pixels, not four blank corners
    step = re.search(r"a⁰ = (.*?)\n\s*Of the 784 inputs", text, re.S)
    assert step is not None
    block = text[text.index("the input is the activation of layer 0") :][:2000]
    shown = re.findall(r"⎢(1|0\.784314)\s*⎥", block)
    assert len(shown) >= 4
    note = re.search(r"the columns k of the largest nonzero ones \(k = ([0-9, ]+),", text)
    assert note is not None
    flat = (image / 255).reshape(-1)
    assert all(flat[int(k) - 1] > 0 for k in note.group(1).split(", "))
    page = trace.to_html()
    assert page.count("<rect ") == 1 + int((image > 0).sum())  # background + one per pixel
    md = trace.to_markdown()
    assert "\n    " + "  " * 12 + "@" in md  # the picture as an indented code block
