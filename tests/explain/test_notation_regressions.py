"""Two places that kept glassnet's layer count under a seed's notation (met writing the lessons).

Seed 000 numbers the input as layer 1, so glassnet's W² is its w³ and glassnet's δ¹ its δ².
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.explain import backprop, seed004_example


@pytest.fixture()
def trace():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    model = gn.Sequential(
        [
            gn.layers.Dense(4, "sigmoid", input_dim=3, dtype="float64"),
            gn.layers.Dense(2, "sigmoid", dtype="float64"),
        ]
    )
    model.set_weights(
        [rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=(2, 4)), rng.normal(size=2)]
    )
    return backprop(model, np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0]), loss="quadratic")


@pytest.mark.parametrize(
    ("notation", "delta", "weights"),
    [
        ("glassnet", "δ¹", "∂C/∂W²"),
        ("seed000", "δ²", "∂C/∂w³"),
        ("seed001", "δ⁽²⁾", "∂C/∂w⁽³⁾"),
        ("seed004", "δₕ", "∂E/∂Wₒ"),
    ],
)
def test_the_check_names_the_largest_difference_in_the_notation(  # type: ignore[no-untyped-def]
    trace, notation, delta, weights
) -> None:
    # The check line names the array where the equations and the engine differ most; the
    # labels are stored in glassnet's count ("δ^1") and were printed so under every preset.
    trace.discrepancies = {"C": 0.0, "δ^1": 2e-16, "∂C/∂W^2": 1e-16}
    assert f"(at {delta})" in " ".join(trace.to_text(notation=notation).split())
    trace.discrepancies = {"C": 0.0, "δ^1": 1e-16, "∂C/∂W^2": 2e-16}
    for text in (trace.to_text(notation=notation), trace.to_html(notation=notation)):
        assert f"(at {weights})" in " ".join(text.split())
    trace.discrepancies = {"C": 3e-16, "δ^1": 1e-16}
    assert "(at C)" in trace.to_text(notation=notation)


def test_a_weight_story_follows_the_trace_notation(trace) -> None:  # type: ignore[no-untyped-def]
    assert trace.path(2, 1, 2).to_text().startswith("∂C/∂w²₁₂ —")  # glassnet's own count
    trace.notation = "seed000"
    story = trace.path(2, 1, 2)
    text, markdown = story.to_text(), story.to_markdown()
    assert text.startswith("∂C/∂w³₁₂ —") and "a²₂ · δ³₁" in text  # the article's w³ and δ³
    assert "w_{12}^{3}" in markdown and "w_{12}^{2}" not in markdown
    assert trace.path(2, 1, 2, notation="seed001").to_text().startswith("∂C/∂w⁽³⁾₁₂ —")
    # a rendering's own notation wins over trace.notation for the stories it appends
    rendered = trace.to_text(notation="glassnet", weights=[(2, 1, 2)])
    assert "∂C/∂w²₁₂ —" in rendered and "w³₁₂" not in rendered


def test_seed004_story_names_the_weight_w5() -> None:
    model, x, y, loss, lr = seed004_example()
    trace = backprop(model, x, y, loss=loss, learning_rate=lr)
    trace.notation = "seed004"
    text = trace.path("w5").to_text(9)
    assert text.startswith("∂E/∂w5 —") and "∂E/∂outₒ₁ · ∂outₒ₁/∂netₒ₁ · ∂netₒ₁/∂w5" in text
    assert "= 0.0821670406" in text
