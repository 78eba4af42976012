"""The convolution trace's HTML in headless Chromium (Playwright) at slide width, 1280 px: zero
console errors, every formula laid out, and no element overflowing its box (the derivation
rows alone scroll sideways, on purpose, when an equation is wider than the column) — for the
example, a strided and dilated Conv2D and a Conv1D. Issue 16's must-show: "its HTML renders in
headless Chromium with no console errors"."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from glassnet.explain import backprop, conv_example
from glassnet.nn.layers import (
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Flatten,
    MaxPooling1D,
    MaxPooling2D,
    UpSampling2D,
    ZeroPadding2D,
)
from glassnet.training.model import Sequential

MEASURE = """() => {
  const root = document.querySelector(".glassnet-trace");
  const inScroller = (el) => {
    for (let p = el.parentElement; p && p !== root; p = p.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(p).overflowX)) return true;
    }
    return false;
  };
  const overflowing = [];
  for (const el of root.querySelectorAll("*")) {
    if (el.closest("math") && el.tagName.toLowerCase() !== "math") continue;
    if (inScroller(el)) continue;
    const r = el.getBoundingClientRect(), box = el.parentElement.getBoundingClientRect();
    if (r.width && (r.right > box.right + 1 || r.left < box.left - 1)) {
      overflowing.push(el.tagName + " " + Math.round(r.right) + ">" + Math.round(box.right));
    }
  }
  const maths = [...root.querySelectorAll("math")];
  const laidOut = maths.filter((m) => {
    const r = m.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  }).length;
  const scrolling = [...root.querySelectorAll(".derivation")]
    .filter((d) => d.scrollWidth > d.clientWidth + 1).length;
  return {overflowing, maths: maths.length, laidOut, scrolling,
          page: document.documentElement.scrollWidth,
          mathml: maths.length > 0 && maths[0].namespaceURI === "http://www.w3.org/1998/Math/MathML"};
}"""


def _model(kind: str) -> tuple[Any, Any, Any, str]:
    """The example (with or without batch normalisation), a strided and dilated Conv2D with
    "same" padding, a Conv1D with a stride and causal padding, and a U-Net-like network
    (Conv2D → pooling → Conv2DTranspose → ZeroPadding2D → UpSampling2D)."""
    if kind in ("conv", "conv-bn"):
        return conv_example(batchnorm=kind == "conv-bn")  # type: ignore[no-any-return]
    rng = np.random.default_rng(2)
    if kind == "strided":
        model = Sequential(
            [
                Conv2D(
                    2,
                    3,
                    strides=2,
                    dilation_rate=2,
                    padding="same",
                    activation="relu",
                    dtype="float64",
                ),
                MaxPooling2D(2),
                Flatten(),
                Dense(3, "softmax", dtype="float64"),
            ]
        )
        shape: tuple[int, ...] = (9, 9, 1)
    elif kind == "transposed":
        model = Sequential(
            [
                Conv2D(2, 3, activation="relu", dtype="float64"),
                MaxPooling2D(2),
                Conv2DTranspose(2, 3, strides=2, padding="same", activation="tanh",
                                dtype="float64"),
                ZeroPadding2D(((1, 0), (0, 1))),
                UpSampling2D(2),
                Flatten(),
                Dense(3, "softmax", dtype="float64"),
            ]
        )  # fmt: skip
        shape = (6, 6, 1)
    else:
        model = Sequential(
            [
                Conv1D(2, 3, strides=2, padding="causal", activation="tanh", dtype="float64"),
                MaxPooling1D(2),
                Flatten(),
                Dense(3, "softmax", dtype="float64"),
            ]
        )
        shape = (11, 1)
    model.build(shape)
    for p in model.parameters():
        p.data[...] = rng.normal(scale=0.5, size=p.shape)
    return model, rng.random(shape), 2, "sparse_categorical_crossentropy"


@pytest.mark.parametrize("kind", ["conv", "conv-bn", "strided", "conv1d", "transposed"])
def test_conv_trace_html_renders_without_errors_or_overflow(tmp_path: Path, kind: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian package chromium)")
    model, x, y, loss = _model(kind)
    trace = backprop(model, x, y, loss=loss, learning_rate=0.1)
    trace.check(rtol=1e-10, atol=1e-12)
    path = tmp_path / "conv.html"
    path.write_text(trace.to_html(), encoding="utf-8")
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        result = page.evaluate(MEASURE)
        headings = page.locator("h3").all_inner_texts()
        body = page.locator("body").inner_text()
        browser.close()
    assert errors == []
    assert result["mathml"] is True
    assert result["maths"] > 100 and result["laidOut"] == result["maths"]
    assert result["overflowing"] == [], result["overflowing"][:5]
    assert result["page"] <= 1280
    if kind == "conv":  # the example's every equation fits the column: nothing even scrolls
        assert result["scrolling"] == 0
    assert any(h.startswith("Layer 1 (convolution") for h in headings)
    assert any("max pooling" in h for h in headings)
    assert any("batch normalisation" in h for h in headings) == (kind == "conv-bn")
    if kind == "strided":
        assert "Strides (2, 2), dilation (2, 2)" in body
    if kind == "conv1d":
        assert "The inputs are sequences" in body and "Strides (1, 2)" in body
    if kind == "transposed":
        assert any(h.startswith("Layer 3 (transposed convolution") for h in headings)
        assert any(h.startswith("Layer 4 (zero padding") for h in headings)
        assert any(h.startswith("Layer 5 (upsampling") for h in headings)
        assert "Transposed convolution with strides (2, 2)" in body
