"""Diagnostics: the training doctor, the learning-rate range test, plots and the HTML report.

Seed 002 ends with the ways training fails — overfitting, underfitting, a loss that does not
converge, a flat minimum where the loss oscillates, a learning rate too high or too low — and
seed 000 explains why saturated neurons (σ'(z) ≈ 0, BP1/BP2) and inactive inputs (a ≈ 0, BP4)
learn slowly. This package watches a run for exactly these and says what to do:

* ``Doctor`` — a callback: ``fit(..., callbacks=[Doctor()])`` prints each finding once, keeps
  them on ``history.findings``, and summarises at the end of fit;
* ``diagnose(history, model=None)`` — the same rules on a finished History;
* ``Finding``, ``RULES`` — what a finding holds; the fixed set of rules and their thresholds;
* ``lr_find(model, x, y)`` — Smith's learning-rate range test (arXiv 1506.01186), returning an
  ``LRFinderResult`` with the curve and a suggested rate; the model is left untouched;
* ``plots`` — matplotlib figures (an optional extra: ``pip install glassnet[plots]``);
* ``report(history, model, path, x=..., y=...)`` — one self-contained HTML training report.

matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .doctor import Doctor, diagnose
from .lr_find import LRFinderResult, lr_find
from .report import report
from .rules import RULE_NAMES, RULES, Finding, Findings
from .stepper import Stepper, StepRecord

if TYPE_CHECKING:
    from . import plots as plots

__all__ = [
    "Doctor",
    "Finding",
    "Findings",
    "RULES",
    "RULE_NAMES",
    "diagnose",
    "lr_find",
    "LRFinderResult",
    "report",
    "plots",
    "Stepper",
    "StepRecord",
]


def __getattr__(name: str) -> Any:
    # ``plots`` is a plain module (matplotlib itself is imported inside its functions), loaded
    # on first use so that importing glassnet.diagnostics stays cheap.
    if name == "plots":
        import importlib

        return importlib.import_module(".plots", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
