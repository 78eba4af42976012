"""Issue 17's browser checks at slide width (1280 px, headless Chromium via Playwright): the
HTML trace, a worksheet and a forward trace load with zero console errors, and no element
overflows its box (only the derivation rows, which scroll sideways on purpose, may be wider
than the page's column). Screenshots go to $GLASSNET_SCREENSHOTS when it is set."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from glassnet.explain import backprop, diagram, forward, seed004_example, worksheet
from glassnet.layers import Flatten, Rescaling
from glassnet.nn.layers import Dense
from glassnet.training.model import Sequential

OVERFLOW = """() => {
  const root = document.querySelector(".glassnet-trace");
  const bad = [];
  const scrolls = (el) => {
    for (let p = el.parentElement; p && p !== root.parentElement; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (s.overflowX === "auto" || s.overflowX === "scroll") return true;
    }
    return false;
  };
  for (const el of root.querySelectorAll("*")) {
    if (el.closest("math") && el.tagName.toLowerCase() !== "math") continue;
    if (scrolls(el)) continue;
    const r = el.getBoundingClientRect(), box = el.parentElement.getBoundingClientRect();
    if (r.width && (r.right > box.right + 1 || r.left < box.left - 1)) {
      bad.push(el.tagName + "." + el.className + " " + Math.round(r.right) + ">" +
               Math.round(box.right));
    }
  }
  return {bad, page: document.documentElement.scrollWidth};
}"""


def _pages() -> dict[str, str]:
    model, x, y, loss, lr = seed004_example()
    trace = backprop(model, x, y, loss=loss, learning_rate=lr)
    image = np.zeros((28, 28))
    image[5:23, 12:16] = 255.0
    digits = Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28)),
            Flatten(),
            Dense(32, activation="relu", dtype="float64"),
            Dense(10, activation="softmax", dtype="float64"),
        ]
    )
    digits.build((28, 28))
    return {
        "trace": trace.to_html(precision=9, weights=["w5", "w1"]),
        "trace-seed000": trace.to_html(notation="seed000"),
        "trace-zh": trace.to_html(precision=9, weights=["w5"], lang="zh"),
        "digit": backprop(digits, image, 1, loss="sparse_categorical_crossentropy").to_html(),
        "worksheet": worksheet(trace, ["delta2", "grad_W1", "W2_new"]).to_html(),
        "forward": forward(model, x).to_html(),
        "diagram": '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        '<div class="glassnet-trace">'
        + diagram(trace, show="gradients", notation="seed004")
        + "</div></body></html>",
    }


def test_pages_open_without_errors_or_overflow_at_1280px(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian package chromium)")
    shots = os.environ.get("GLASSNET_SCREENSHOTS")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        for name, text in _pages().items():
            path = tmp_path / f"{name}.html"
            path.write_text(text, encoding="utf-8")
            page.goto(path.as_uri())
            result = page.evaluate(OVERFLOW)
            assert result["bad"] == [], (name, result["bad"][:5])
            assert result["page"] <= 1280, (name, result["page"])
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(shots) / f"{name}.png"), full_page=True)
        browser.close()
    assert errors == []
