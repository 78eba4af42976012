"""Every HTML glassnet makes renders with no network (issue 17, item 7): no script, stylesheet
or frame, no http(s):// src or href, in any ``_repr_html_`` and in the pages (the trace, the
worksheet, the report); and the trace's math is MathML (the browser draws it), not TeX left
for a MathJax that would have to come from a CDN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.keras as keras
from _html_parse import remote_references
from glassnet import layers as L
from glassnet.diagnostics import Finding, Findings, diagnose, lr_find, report
from glassnet.explain import backprop, diagram, examples, forward, worksheet


@pytest.fixture(scope="module")
def trace() -> Any:
    model, x, y, loss, lr = examples.seed004_example()
    return backprop(model, x, y, loss, lr)


@pytest.fixture(scope="module")
def run() -> tuple[Any, Any, np.ndarray, np.ndarray]:
    gn.seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((300, 4)).astype(np.float32)
    y = (x.sum(axis=1) > 2).astype(np.int64)
    model = gn.Sequential(
        [L.Input((4,)), L.Dense(8, activation="relu"), L.Dense(2, activation="softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.2, verbose=0)
    return model, history, x, y


def _displays(trace: Any, run: Any) -> dict[str, str]:
    model, history, x, y = run
    a = keras.Input((4,), name="a")
    functional = keras.Model(a, keras.layers.Dense(2, name="d")(a))
    fresh = gn.Sequential([L.Input((4,)), L.Dense(2, activation="softmax")])
    fresh.compile("sgd", "sparse_categorical_crossentropy")
    finding = Finding("dead_relu", "dense", 0, "δ^l is 0 for a^(l-1) > 0.", "Use LeakyReLU.")
    m, xs, _, _, _ = examples.seed004_example()
    return {
        "sequential": model._repr_html_(),
        "functional": functional._repr_html_(),
        "history": history._repr_html_(),
        "findings": Findings([finding])._repr_html_(),
        "diagnose": diagnose(history, model)._repr_html_(),
        "finding": finding._repr_html_(),
        "lr_find": lr_find(fresh, x, y, steps=30)._repr_html_(),
        "trace": trace._repr_html_(),
        "forward": forward(m, xs)._repr_html_(),
        "worksheet": worksheet(trace)._repr_html_(),
        "weight story": trace.path(1, 1, 1)._repr_html_(),
    }


def test_no_notebook_display_loads_anything(trace: Any, run: Any) -> None:
    for name, html in _displays(trace, run).items():
        assert html.strip(), name
        assert remote_references(html) == [], name


def test_no_page_loads_anything(trace: Any, run: Any, tmp_path: Path) -> None:
    model, history, x, y = run
    path = report(history, model, tmp_path / "report.html", x=x, y=y)
    pages = {
        "report": path.read_text(encoding="utf-8"),
        "trace page": trace.to_html(weights=["w5"]),
        "trace zh": trace.to_html(lang="zh"),
        "worksheet page": worksheet(trace).to_html(),
        "diagram": diagram(trace),
    }
    for name, html in pages.items():
        assert remote_references(html) == [], name


def test_the_traces_math_is_mathml_not_tex(trace: Any) -> None:
    for html in (trace._repr_html_(), trace.to_html(), worksheet(trace)._repr_html_()):
        assert html.count("<math") > 10
        # No TeX delimiters a notebook's MathJax would pick up.
        assert "$" not in html and "\\(" not in html and "\\[" not in html


def test_the_checker_finds_what_would_load(trace: Any) -> None:
    """The scan itself: each way a page could reach the network is caught."""
    bad = [
        '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>',
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Noto">',
        '<img src="http://example.org/a.png">',
        '<img src="//example.org/a.png">',
        '<div style="background:url( https://example.org/a.png)"></div>',
        "<style>@import 'x.css';</style>",
        '<svg><image xlink:href="https://example.org/a.png"/></svg>',
    ]
    for html in bad:
        assert remote_references(html), html
    fine = '<math xmlns="http://www.w3.org/1998/Math/MathML"><mi>x</mi></math><a href="#top">'
    assert remote_references(fine) == []
    assert remote_references('<img src="data:image/png;base64,AAAA">') == []
