"""The lesson notebooks under docs/lessons/ execute (nbclient) and assert their seed's numbers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

LESSONS = Path(__file__).resolve().parents[2] / "docs" / "lessons"


@pytest.mark.parametrize("name", sorted(p.name for p in LESSONS.glob("*.ipynb")))
def test_lesson_executes_and_its_assertions_hold(name: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(LESSONS / name, as_version=4)
    src = str(Path(__file__).resolve().parents[2] / "src")
    monkeypatch.setenv("PYTHONPATH", src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3")
    client.execute(cwd=str(LESSONS))  # raises CellExecutionError on a failed assertion
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
