"""Issue 17: in the HTML trace the rows of a matrix touched and the vertical ⋮ overlapped the
digits. Measured in headless Chromium (Playwright): the glyphs of consecutive rows keep a gap,
and no ⋮/⋯ intersects a number."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from glassnet.explain import backprop
from glassnet.nn.layers import Dense
from glassnet.training.model import Sequential

MEASURE = """() => {
  const out = [];
  for (const table of document.querySelectorAll("mtable.gn-matrix")) {
    const rows = [];
    for (const tr of table.querySelectorAll(":scope > mtr")) {
      const cells = [];
      for (const td of tr.querySelectorAll(":scope > mtd")) {
        const glyph = td.firstElementChild;
        const r = glyph.getBoundingClientRect();
        cells.push({gap: td.classList.contains("gn-gap"), top: r.top, bottom: r.bottom,
                    left: r.left, right: r.right});
      }
      rows.push(cells);
    }
    out.push(rows);
  }
  return out;
}"""


def _overlap(a: dict, b: dict) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and (b["top"] < a["bottom"])
    )


def test_matrix_rows_do_not_touch_and_ellipses_do_not_overlap(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian package chromium)")
    rng = np.random.default_rng(0)
    model = Sequential(
        [
            Dense(12, activation="sigmoid", input_dim=10, dtype="float64"),
            Dense(3, activation="softmax", dtype="float64"),
        ]
    )
    model.build((10,))
    trace = backprop(model, rng.normal(size=10), 1, loss="sparse_categorical_crossentropy")
    page_path = tmp_path / "trace.html"
    page_path.write_text(trace.to_html(), encoding="utf-8")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(page_path.as_uri())
        tables = page.evaluate(MEASURE)
        browser.close()
    assert len(tables) > 10
    elided = 0
    for rows in tables:
        for upper, lower in zip(rows, rows[1:]):
            gap = min(c["top"] for c in lower) - max(c["bottom"] for c in upper)
            height = max(c["bottom"] - c["top"] for c in upper)
            assert gap >= 0.2 * height, f"rows touch: gap {gap:.2f}px, glyphs {height:.1f}px"
        cells = [c for row in rows for c in row]
        marks = [c for c in cells if c["gap"]]
        elided += bool(marks)
        for mark in marks:
            for cell in cells:
                if cell is not mark and not cell["gap"]:
                    assert not _overlap(mark, cell), "an ellipsis overlaps a number"
    assert elided > 0  # the 12×10 weight matrix is shown elided
