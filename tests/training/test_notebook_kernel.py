"""A real Jupyter kernel (nbclient + ipykernel) runs what a student types: build a model, fit
it with verbose=1, look at the History, the doctor's findings, the lr-finder and a plot, with
no ``%matplotlib inline``. The kernel's messages are recorded as they arrive, so the progress
bar's updates in place (display_data, then update_display_data with the same display_id) are
seen, not only the notebook's final state."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from _html_parse import Page, remote_references
from glassnet.training.progress import format_value

SRC = str(Path(__file__).resolve().parents[2] / "src")

CELLS = [
    # 0: a model, shown by its HTML
    """import json
import numpy as np
import glassnet as gn
from glassnet import layers as L
from glassnet.diagnostics import diagnose, lr_find, plots
gn.seed(0)
rng = np.random.default_rng(0)
x = rng.random((1200, 4)).astype("float32")
y = (x.sum(axis=1) > 2).astype("int64")
def make():
    m = gn.Sequential([L.Input((4,)), L.Dense(16, activation="relu", name="hidden<1>"),
                       L.Dense(2, activation="softmax", name="out")], name="student")
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m
model = make()
model""",
    # 1: fit with the notebook's progress bar
    "history = model.fit(x, y, epochs=4, batch_size=4, validation_split=0.25, verbose=1)",
    # 2: the History
    "history",
    # 3: the doctor's findings (post hoc, on the same run)
    "diagnose(history, model)",
    # 4: the lr-finder on a fresh model
    "result = lr_find(make(), x, y)\nresult",
    # 5: a plot, no %matplotlib inline anywhere
    "plots.loss_curves(history)",
    # 6: the numbers to compare with, as JSON
    """print(json.dumps({
    "history": history.history,
    "layers": [[l.name, type(l).__name__, int(sum(p.data.size for p in l.parameters()))]
               for l in model.layers],
    "suggestion": result.suggestion,
}))""",
    # 7: seed 004's trace, shown by its HTML (MathML)
    """from glassnet.explain import backprop, diagram, examples
trace = backprop(*examples.seed004_example())
trace""",
    # 8: the neuron-level diagram, shown as a picture
    "diagram(trace)",
]


@pytest.fixture(scope="module")
def run() -> tuple[Any, list[tuple[int, dict[str, Any]]]]:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

    messages: list[tuple[int, dict[str, Any]]] = []

    class Recording(nbclient.NotebookClient):  # type: ignore[misc,name-defined]
        def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
            if msg["msg_type"] in ("display_data", "update_display_data", "stream", "error"):
                messages.append((cell_index, msg))
            return super().process_message(msg, cell, cell_index)

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = SRC + (os.pathsep + old if old else "")
    try:
        Recording(notebook, timeout=600, kernel_name="python3").execute()
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old
    return notebook, messages


def _outputs(notebook: Any, index: int) -> list[Any]:
    return list(notebook.cells[index].get("outputs", []))


def _html(notebook: Any, index: int) -> str:
    found = [
        o["data"]["text/html"]
        for o in _outputs(notebook, index)
        if "text/html" in o.get("data", {})
    ]
    assert found, f"cell {index} shows no HTML"
    return str(found[-1])


def _numbers(notebook: Any) -> dict[str, Any]:
    (out,) = [o for o in _outputs(notebook, 6) if o["output_type"] == "stream"]
    return dict(json.loads(out["text"]))


def test_no_cell_fails_or_writes_to_stderr(run: Any) -> None:
    notebook, messages = run
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    stderr = [
        m["content"]["text"]
        for _, m in messages
        if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"
    ]
    assert not stderr, stderr


def test_the_model_shows_as_its_summary_table(run: Any) -> None:
    notebook, _ = run
    numbers = _numbers(notebook)
    html = _html(notebook, 0)
    assert "hidden&lt;1&gt;" in html
    table = Page(html).tables[0]
    assert [row[0] for row in table[1:]] == [f"{n} ({t})" for n, t, _ in numbers["layers"]]
    assert [row[2] for row in table[1:]] == [f"{p:,}" for _, _, p in numbers["layers"]]
    # by hand: 4·16 + 16 and 16·2 + 2
    assert [p for _, _, p in numbers["layers"]] == [80, 34]


def test_fit_shows_one_html_bar_updated_in_place(run: Any) -> None:
    notebook, messages = run
    numbers = _numbers(notebook)
    fit_messages = [m for i, m in messages if i == 1]
    shown = [m for m in fit_messages if m["msg_type"] == "display_data"]
    assert len(shown) == 1, "one display for the whole fit"
    display_id = shown[0]["content"]["transient"]["display_id"]
    assert "glassnet-progress" in shown[0]["content"]["data"]["text/html"]
    updates = [m for m in fit_messages if m["msg_type"] == "update_display_data"]
    assert updates and all(u["content"]["transient"]["display_id"] == display_id for u in updates)
    # The last state lists every epoch with fit's numbers, as History holds them.
    final = Page(updates[-1]["content"]["data"]["text/html"])
    (table,) = final.tables
    keys = list(numbers["history"])
    assert table[0] == ["epoch", "time", *keys]
    for epoch, row in enumerate(table[1:]):
        assert row[0] == f"{epoch + 1}/4"
        assert row[2:] == [format_value(k, numbers["history"][k][epoch]) for k in keys]
    # No text progress lines in the notebook: the doctor's closing line is all that is printed.
    printed = "".join(m["content"]["text"] for m in fit_messages if m["msg_type"] == "stream")
    assert "Epoch 1/4" not in printed
    # the notebook keeps the display's last state
    html = _html(notebook, 1)
    assert Page(html).tables == final.tables


def test_history_findings_and_lr_finder_show_as_html(run: Any) -> None:
    notebook, _ = run
    numbers = _numbers(notebook)
    history = Page(_html(notebook, 2))
    (table,) = [t for t in history.tables if t[0][0] == "epoch"]
    assert table[-1][1:] == [format_value(k, v[-1]) for k, v in numbers["history"].items()]
    assert history.find("svg") and history.find("polyline")
    findings = _html(notebook, 3)
    assert "glassnet-findings" in findings and "Doctor:" in findings
    lr = Page(_html(notebook, 4))
    suggestion = numbers["suggestion"]
    assert suggestion is not None
    assert f"suggested learning rate: {suggestion:.2g}" in lr.all_text()
    assert lr.find("polyline")


def test_a_plot_shows_inline_without_matplotlib_inline(run: Any) -> None:
    notebook, _ = run
    data = [o.get("data", {}) for o in _outputs(notebook, 5)]
    assert any("image/png" in d for d in data)


def test_the_trace_and_its_diagram_show_as_html_and_svg(run: Any) -> None:
    notebook, _ = run
    html = _html(notebook, 7)
    assert html.count("<math") > 10 and "$" not in html
    data = [o.get("data", {}) for o in _outputs(notebook, 8)]
    assert any(str(d.get("image/svg+xml", "")).startswith("<svg") for d in data)


def test_no_html_output_loads_anything_remote(run: Any) -> None:
    notebook, messages = run
    pieces = [
        m["content"]["data"]["text/html"]
        for _, m in messages
        if "text/html" in m["content"].get("data", {})
    ]
    pieces += [
        o["data"]["text/html"]
        for cell in notebook.cells
        for o in cell.get("outputs", [])
        if "text/html" in o.get("data", {})
    ]
    assert len(pieces) >= 6
    for html in pieces:
        assert remote_references(html) == []
