"""tools/keras_guides_report.py: the known-failures file it writes reads back (reasons kept
while the error is unchanged, replaced when it changes), and its markdown lists what fails."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import _harness as harness
import pytest

if sys.version_info < (3, 11):
    pytest.importorskip("tomli", reason="reading known_failures.toml on Python 3.10 needs tomli")

TOOL = Path(__file__).resolve().parents[2] / "tools" / "keras_guides_report.py"


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("keras_guides_report", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _results(passing: dict[str, bool], errors: dict[str, str]) -> dict[str, harness.Result]:
    snippets = {s.id: s for s in harness.discover()}
    results = {}
    for snippet_id, passed in passing.items():
        error = "" if passed else errors[snippet_id]
        results[snippet_id] = harness.Result(snippets[snippet_id], passed, 1.0, error, "snippet")
    return results


def test_known_failures_written_by_the_tool_read_back(report, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(harness, "KNOWN_FAILURES_FILE", tmp_path / "known_failures.toml")
    a, b = "sequential_model/01_sequential_call", "sequential_model/05_add"
    c = "functional_api/01_input"
    previous = harness.KnownFailures(
        min_pass_rate=0.0,
        target_pass_rate=0.9,
        failures={a: 'no "ops" yet', b: "written by hand"},
        errors={a: "ImportError: x", b: "old error"},
    )
    results = _results({a: False, b: False, c: True}, {a: "ImportError: x", b: "KeyError: 'y'"})

    report._write_known_failures(results, previous, rate=1 / 3)
    written = harness.load_known_failures(tmp_path / "known_failures.toml")

    assert written.failures == {a: 'no "ops" yet', b: "KeyError: 'y'"}
    assert written.errors == {a: "ImportError: x", b: "KeyError: 'y'"}
    assert written.min_pass_rate == 0.33  # the measured rate, rounded down
    assert written.target_pass_rate == 0.9


def test_markdown_lists_the_failing_and_the_excluded_snippets(report) -> None:
    snippets = harness.discover()
    eligible = [s for s in snippets if s.eligible]
    failing = eligible[0]
    passing = {s.id: s is not failing for s in eligible}
    results = _results(passing, {failing.id: "ValueError: z"})
    known = harness.KnownFailures(0.0, 0.9, {}, {})

    text = report._markdown(snippets, results, known)

    assert f"**{len(eligible) - 1} of {len(eligible)} eligible snippets pass" in text
    assert f"| `{failing.id}` | ValueError: z |" in text
    excluded = [s for s in snippets if not s.eligible]
    assert all(f"| `{s.id}` | {s.category} |" in text for s in excluded)
