"""The five Keras 3 guides, snippet by snippet, run on glassnet (issue 15's acceptance test).

One test per eligible snippet (``category: runs``): it passes when the snippet's process exits
with status 0 before the timeout. The snippets listed in known_failures.toml are expected to fail
(xfail, strict): one that starts passing fails the run until it is removed from the list, so the
list is always exactly the set of failing snippets. The aggregate test then bounds the size of
that list through the pass rate written in the same file. How the snippets were cut and how to
measure them all at once: docs/keras_guides.md and tools/keras_guides_report.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _harness import (
    ELIGIBLE,
    GUIDES,
    Snippet,
    discover,
    header_problems,
    load_known_failures,
    pass_rate,
    run_snippet,
)

if sys.version_info < (3, 11):
    pytest.importorskip("tomli", reason="reading known_failures.toml on Python 3.10 needs tomli")

SNIPPETS = discover()
KNOWN = load_known_failures()


class SnippetFailed(AssertionError):
    """A snippet's process failed: an exception, a non-zero exit status or the timeout."""


def _eligible_params() -> list:
    params = []
    for snippet in SNIPPETS:
        if not snippet.eligible:
            continue
        marks = []
        if snippet.id in KNOWN.failures:
            reason = KNOWN.failures[snippet.id]
            marks.append(pytest.mark.xfail(strict=True, raises=SnippetFailed, reason=reason))
        params.append(pytest.param(snippet, id=snippet.id, marks=marks))
    return params


@pytest.mark.parametrize("snippet", _eligible_params())
def test_snippet_runs(snippet: Snippet, tmp_path: Path) -> None:
    result = run_snippet(snippet, tmp_path)
    if not result.passed:
        raise SnippetFailed(result.describe())


def test_every_snippet_has_a_complete_header() -> None:
    assert {s.guide for s in SNIPPETS} == set(GUIDES), "a guide has no snippets"
    problems = {s.id: header_problems(s) for s in SNIPPETS}
    assert {k: v for k, v in problems.items() if v} == {}


def test_known_failures_name_eligible_snippets() -> None:
    eligible = {s.id for s in SNIPPETS if s.eligible}
    stale = sorted(set(KNOWN.failures) - eligible)
    assert stale == [], f"known_failures.toml lists snippets that are not eligible ones: {stale}"


def test_pass_rate_meets_the_threshold_of_known_failures_toml() -> None:
    eligible = [s for s in SNIPPETS if s.category == ELIGIBLE]
    failing = [s for s in eligible if s.id in KNOWN.failures]
    rate = pass_rate(len(eligible), len(failing))
    assert rate >= KNOWN.min_pass_rate, (
        f"{len(eligible) - len(failing)} of {len(eligible)} eligible snippets pass ({rate:.1%}), "
        f"below min_pass_rate = {KNOWN.min_pass_rate} in known_failures.toml"
    )


# --- the harness itself: a failure, an exception in the prelude and a hang are all caught ----


def _write_snippet(directory: Path, body: str, prelude: str = "x = 1") -> Snippet:
    guide = directory / "guide"
    guide.mkdir(parents=True)
    path = guide / "01_probe.py"
    lines = [
        "# category: runs",
        "import os",
        "",
        "# --- prelude: earlier cells of the guide, run first as a notebook would ---",
        prelude,
        "",
        "# --- snippet ---",
        body,
    ]
    path.write_text("\n".join(lines) + "\n")
    lines = path.read_text().splitlines()
    marker = lines.index("# --- snippet ---") + 1
    return Snippet("guide", path, {"category": "runs"}, marker)


def test_harness_reports_the_exception_and_where_it_was_raised(tmp_path: Path) -> None:
    snippet = _write_snippet(tmp_path, "raise KeyError('logs is None')")
    result = run_snippet(snippet, tmp_path / "run", timeout=60)
    assert not result.passed
    assert result.error == "KeyError: 'logs is None'"
    assert result.where == "snippet"

    snippet = _write_snippet(tmp_path / "b", "pass", prelude="import glassnet.keras.nothing")
    result = run_snippet(snippet, tmp_path / "run-b", timeout=60)
    assert not result.passed and result.where == "prelude"
    assert result.error.startswith("ModuleNotFoundError")


def test_harness_turns_a_hang_into_a_failure(tmp_path: Path) -> None:
    snippet = _write_snippet(tmp_path, "import time\ntime.sleep(60)")
    result = run_snippet(snippet, tmp_path / "run", timeout=2)
    assert not result.passed
    assert result.error == "timeout after 2 s"
    assert result.seconds < 30


def test_harness_runs_in_the_scratch_directory_with_this_glassnet(tmp_path: Path) -> None:
    import glassnet

    body = "import glassnet, pathlib; pathlib.Path('where').write_text(glassnet.__file__)"
    snippet = _write_snippet(tmp_path, body)
    result = run_snippet(snippet, tmp_path / "run", timeout=60)
    assert result.passed, result.describe()
    assert (tmp_path / "run" / "where").read_text() == glassnet.__file__
