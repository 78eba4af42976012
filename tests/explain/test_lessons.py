"""The lesson notebooks under docs/lessons/ execute (nbclient) and assert their seed's numbers."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LESSONS = ROOT / "docs" / "lessons"
SEEDS = ("seed000", "seed001", "seed002", "seed003", "seed004")
CJK = re.compile("[\u4e00-\u9fff]")
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,'’-]+[A-Za-z]+){2,}")  # three English words in a row


def _execute(path: Path, monkeypatch: Any) -> Any:
    """Run every cell of the notebook at ``path`` with this checkout's glassnet; return it.

    A failing cell (an ``assert`` against the seed's numbers) raises CellExecutionError.
    """
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(path, as_version=4)
    here = str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", here)  # the kernel imports this checkout's glassnet
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3")
    client.execute(cwd=str(LESSONS))
    return notebook


@pytest.mark.parametrize("name", sorted(p.name for p in LESSONS.glob("*.ipynb")))
def test_lesson_executes_and_its_assertions_hold(name: str, monkeypatch: Any) -> None:
    notebook = _execute(LESSONS / name, monkeypatch)
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(set(o.get("data", {})) & {"image/svg+xml", "image/png"} for o in outputs)
    # Offline: no output and no Markdown cell loads anything (math is MathML in glassnet's
    # HTML, and Jupyter's own bundled MathJax in the Markdown cells).
    from _html_parse import remote_references

    for o in outputs:
        for kind in ("text/html", "image/svg+xml"):
            assert remote_references(str(o.get("data", {}).get(kind, ""))) == []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            assert "](http" not in cell.source and remote_references(cell.source) == []


def test_every_seed_has_one_lesson() -> None:
    names = sorted(p.name for p in LESSONS.glob("*.ipynb"))
    assert [n.split("_")[0] for n in names] == list(SEEDS), names


@pytest.mark.parametrize("name", sorted(p.name for p in LESSONS.glob("*.ipynb")))
def test_lesson_text_is_chinese_and_english_and_stored_without_outputs(name: str) -> None:
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(LESSONS / name, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            assert CJK.search(cell.source), f"no Chinese in: {cell.source[:80]!r}"
            assert ENGLISH.search(cell.source), f"no English in: {cell.source[:80]!r}"
        else:
            assert not cell.get("outputs") and cell.get("execution_count") is None


def test_a_failing_assertion_in_a_lesson_fails_the_run(tmp_path: Path, monkeypatch: Any) -> None:
    nbformat = pytest.importorskip("nbformat")
    exceptions = pytest.importorskip("nbclient.exceptions")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import glassnet as gn\nE = 0.298371109"),
        nbformat.v4.new_code_cell("assert round(E, 3) == 0.299, 'E differs from the article'"),
    ]
    path = tmp_path / "broken.ipynb"
    nbformat.write(notebook, path)
    with pytest.raises(exceptions.CellExecutionError, match="E differs from the article"):
        _execute(path, monkeypatch)
