"""Worksheets and the checker (issue 17): blanks hidden everywhere they reappear, answers
graded with a tolerance, the likely slip named."""

from __future__ import annotations

import html as html_module
import re

import numpy as np
import pytest

from glassnet.errors import InvalidArgumentError, ShapeError
from glassnet.explain import backprop, seed004_example, worksheet


@pytest.fixture(scope="module")
def trace():  # type: ignore[no-untyped-def]
    model, x, y, loss, lr = seed004_example()
    return backprop(model, x, y, loss=loss, learning_rate=lr)


BLANKS = ["delta2", "grad_W2", "W2_new", "delta1", "a1"]


def test_blanked_numbers_appear_nowhere(trace) -> None:  # type: ignore[no-untyped-def]
    sheet = worksheet(trace, BLANKS)
    hidden = [
        trace.layer(2).delta, trace.layer(2).grad_W, trace.layer(2).W_updated,
        trace.layer(1).delta, trace.layer(1).a,
    ]  # fmt: skip
    for rendering in (sheet.to_text(9), sheet.to_markdown(9), sheet.to_html(9)):
        text = html_module.unescape(rendering).replace("−", "-")
        for arr in hidden:
            for v in np.asarray(arr).reshape(-1):
                assert format(v, ".9g") not in text, v
        assert text.count("?") >= 2 + 4 + 4 + 2 + 2
        # what is given stays: z¹ and the targets
        assert format(trace.layer(1).z[0], ".9g") in text
    assert "exercise (3): fill in the ?" in sheet.to_text()
    assert "δ² [delta2]" in sheet.to_text()
    assert "δ³ [delta2]" in worksheet(trace, BLANKS, notation="seed000").to_text()


def test_markdown_worksheet_survives_python_markdown(trace) -> None:  # type: ignore[no-untyped-def]
    markdown = pytest.importorskip("markdown")
    md = worksheet(trace, BLANKS).to_markdown()
    rendered = html_module.unescape(markdown.markdown(md))
    math = re.findall(r"\$\$(.*?)\$\$", md, re.S)
    assert math and all(m in rendered for m in math)


def test_the_checker_grades_and_names_the_slip(trace) -> None:  # type: ignore[no-untyped-def]
    sheet = worksheet(trace, BLANKS)
    l1, l2 = trace.layer(1), trace.layer(2)
    right = {k: np.round(v, 5) for k, v in sheet.answers().items()}  # a student's 5 decimals
    assert all(g.ok for g in sheet.check(right))
    wrong = {
        "delta2": l1.delta,  # layer 1's δ written for layer 2
        "grad_W2": l2.grad_W.T,
        "W2_new": l2.W + 0.5 * l2.grad_W,
        "delta1": l1.grad_a,  # (W²)ᵀδ² without ⊙ σ'(z¹)
        "a1": l1.z,
    }
    grades = {g.key: g for g in sheet.check(wrong)}
    assert grades["delta2"].slip == "layer index shifted by one"
    assert grades["grad_W2"].slip == "transposed: a δᵀ instead of δ aᵀ"
    assert grades["W2_new"].slip == "learning-rate step with the wrong sign (w + α∂C/∂w)"
    assert grades["delta1"].slip == "σ'(z) left out"
    assert grades["a1"].slip == "σ not applied (a = z)"
    assert not any(g.ok for g in grades.values())
    odd = sheet.check({"delta2": [0.5, 0.5]})
    assert odd[0].slip is None and "recheck the arithmetic" in str(odd[0])
    assert str(odd[1]).startswith("– ")  # no answer
    assert sheet.report(sheet.check(right)).startswith("5 of 5 correct")


def test_bad_worksheet_calls(trace) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgumentError, match="not a quantity"):
        worksheet(trace, ["delta7"])
    sheet = worksheet(trace, ["delta2"])
    with pytest.raises(InvalidArgumentError, match="not one of this worksheet's blanks"):
        sheet.check({"delta1": [0, 0]})
    with pytest.raises(ShapeError, match="shape"):
        sheet.check({"delta2": [1, 2, 3]})
    default = worksheet(trace)
    assert "W2_new" in default.blanks and "delta1" in default.blanks
