"""How findings show (issue 19, item 5): a finding's repr is one short line, a notebook gets a
small HTML block, and the doctor wraps its text to the terminal's width, not to 100 columns."""

from __future__ import annotations

import io

import pytest

from glassnet.diagnostics import Doctor, Finding

EVIDENCE = (
    "91% of the units of dense never activate on the last epoch's batches (their z is below "
    "zero for every sample), so they pass no gradient back and stop learning."
)
SUGGESTION = (
    "Use LeakyReLU or ELU, lower the learning rate, or initialise the biases at a small "
    "positive value; then retrain and watch the dead fraction in the report."
)


def _finding() -> Finding:
    return Finding(
        rule="dead_relu", layer="dense", epoch=2, evidence=EVIDENCE, suggestion=SUGGESTION
    )


def test_a_findings_repr_is_one_short_line() -> None:
    f = _finding()
    text = repr(f)
    assert "\n" not in text and len(text) <= 120
    assert text.startswith("<Finding warning: dead_relu in dense (epoch 3): 91% of the units")
    assert text.endswith("…>")
    assert "suggestion=" not in text and "evidence=" not in text  # not the dataclass's
    listing = repr([f, f])
    assert len(listing) <= 2 * 120 + 4
    short = Finding(rule="lr_too_low", layer=None, epoch=0, evidence="Slow.", suggestion="x")
    assert repr(short) == "<Finding warning: lr_too_low (epoch 1): Slow.>"


def test_a_finding_in_a_notebook_is_escaped_html() -> None:
    f = Finding(
        rule="overfitting",
        layer=None,
        epoch=0,
        evidence="val_loss <rises> & loss falls.",
        suggestion="Add Dropout.",
        severity="info",
    )
    html = f._repr_html_()
    assert html.startswith("<div>") and html.endswith("</div>")
    assert "val_loss &lt;rises&gt; &amp; loss falls." in html
    assert "<b" in html and "info: overfitting (epoch 1)" in html and "Add Dropout." in html


class _Model:
    history = None


@pytest.mark.parametrize("columns", [60, 100, 160])
def test_the_doctor_wraps_to_the_terminals_width(
    columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    out = io.StringIO()
    doctor = Doctor(verbose=1, stream=out)
    doctor._print([_finding()])
    lines = out.getvalue().splitlines()
    assert all(len(line) <= columns for line in lines), lines
    # The text fills the width: some line of the paragraph comes near it (a word's length).
    assert max(len(line) for line in lines) > columns - 20
    joined = " ".join(line.strip() for line in lines)
    assert EVIDENCE in joined and SUGGESTION in joined
