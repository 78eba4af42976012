"""Screenshots at 1280 px, in English and in Chinese, of what a course projects: the HTML trace
(seed 004's example with two weights' stories), a worksheet, the neuron-level network diagram
and the training report, taken in Debian's Chromium (Playwright) for docs/explain.md and
docs/diagnostics.md.

Every page is opened from a file (no network) and its console errors and uncaught exceptions
are collected. On the trace and the worksheet a DOM check lists every element that overflows
its box (wider than its own box without a scroll bar, or past the right edge of the page), on
the diagram every text that leaves the drawing. The tests
(tests/explain/test_course_screenshots_chromium.py) assert that both lists are empty.

Usage: python tools/course_screenshots.py   (writes docs/images/course-*-{en,zh}-1280.png)
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"
WIDTH = 1280
LANGS = ("en", "zh")
KINDS = ("trace", "worksheet", "diagram", "report")

# Elements wider than their box that do not scroll, and elements past the page's right edge
# that no scrolling ancestor holds. MathML and SVG parts are measured through their boxes.
OVERFLOW_CHECK = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (e) => {
    for (let p = e.parentElement; p; p = p.parentElement) {
      const x = getComputedStyle(p).overflowX;
      if (x === "auto" || x === "scroll" || x === "hidden") return true;
    }
    return false;
  };
  const name = (e) => e.tagName.toLowerCase() + (e.className && e.className.baseVal === undefined
      && e.className ? "." + String(e.className).split(" ").join(".") : "");
  const bad = [];
  for (const e of document.body.querySelectorAll("*")) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const x = getComputedStyle(e).overflowX;
    const clips = x === "auto" || x === "scroll" || x === "hidden";
    if (e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1 && !clips) {
      bad.push(name(e) + ": content " + e.scrollWidth + " px in a " + e.clientWidth + " px box");
    }
    if (r.right > width + 1 && !scrolls(e)) {
      bad.push(name(e) + ": right edge at " + Math.round(r.right) + " px, page " + width);
    }
  }
  return bad;
}"""


# Every text of an SVG drawing inside the drawing's own box.
SVG_CHECK = """() => {
  const bad = [];
  for (const svg of document.querySelectorAll("svg")) {
    const box = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll("text")) {
      const r = t.getBoundingClientRect();
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
          || r.bottom > box.bottom + 1) {
        bad.push("svg text '" + t.textContent + "' leaves the drawing (" + Math.round(r.left)
                 + ".." + Math.round(r.right) + " of " + Math.round(box.left) + ".."
                 + Math.round(box.right) + ")");
      }
    }
  }
  return bad;
}"""


@dataclass
class Shot:
    """One screenshot: where it is, what the browser complained about, what overflowed."""

    kind: str
    lang: str
    path: Path
    errors: list[str] = field(default_factory=list)
    overflow: list[str] = field(default_factory=list)


def _trace() -> Any:
    from glassnet.explain import backprop, seed004_example

    model, x, y, loss, lr = seed004_example()
    return backprop(model, x, y, loss=loss, learning_rate=lr)


def _report_run() -> tuple[Any, Any, Any, Any]:
    """A small run to report on: moons, one hidden layer, a few epochs of SGD with a learning
    rate high enough for the doctor to say so, with validation data."""
    import glassnet as gn
    from glassnet.layers import Dense
    from glassnet.optim import optimizers
    from glassnet.training import Sequential

    (x, y), (xt, yt) = gn.datasets.load("moons")
    gn.seed(0)
    model = Sequential(
        [Dense(16, activation="tanh", input_shape=(2,)), Dense(2, activation="softmax")]
    )
    sgd = optimizers.get("sgd")
    sgd.learning_rate = 2.0
    model.compile(optimizer=sgd, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(x, y, epochs=8, batch_size=32, validation_split=0.2, verbose=0)
    return history, model, xt, yt


def _page(svg: str, lang: str) -> str:
    """The diagram as a slide shows it: the SVG inline in a page."""
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        "<title>glassnet diagram</title>\n</head>\n"
        f'<body style="margin:20px;background:#fff">\n{svg}</body>\n</html>\n'
    )


def pages(out_dir: Path) -> dict[tuple[str, str], Path]:
    """Write the pages to shoot: (kind, lang) → an .html file in ``out_dir``."""
    from glassnet.diagnostics.report import render_report
    from glassnet.explain import diagram, worksheet

    trace = _trace()
    run = _report_run()
    out: dict[tuple[str, str], Path] = {}
    for lang in LANGS:
        texts = {
            "trace": trace.to_html(precision=6, weights=["w5", "w1"], lang=lang),
            "worksheet": worksheet(trace, ["delta2", "grad_W2", "W2_new"], lang=lang).to_html(),
            "diagram": _page(diagram(trace, show="gradients", width=WIDTH - 40, lang=lang), lang),
            "report": render_report(*run, lang=lang),
        }
        for kind, text in texts.items():
            path = out_dir / f"course-{kind}-{lang}.html"
            path.write_text(text, encoding="utf-8")
            out[(kind, lang)] = path
    return out


def shoot(out_dir: Path, images: Path | None = None) -> list[Shot]:
    """Open every page at 1280 px in Chromium; screenshots go to ``images`` (default
    ``out_dir``) as course-{kind}-{lang}-1280.png."""
    from playwright.sync_api import sync_playwright

    images = images or out_dir
    images.mkdir(parents=True, exist_ok=True)
    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for (kind, lang), source in pages(out_dir).items():
            shot = Shot(kind, lang, images / f"course-{kind}-{lang}-{WIDTH}.png")
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            page.set_default_timeout(180_000)  # the machine may be busy; a page is not slow
            page.on(
                "console",
                lambda m, s=shot: s.errors.append(f"console: {m.text}") if m.type == "error" else 0,
            )
            page.on("pageerror", lambda e, s=shot: s.errors.append(f"page: {e}"))
            page.goto(source.as_uri())
            page.wait_for_load_state("load")
            if kind in ("trace", "worksheet"):
                shot.overflow = list(page.evaluate(OVERFLOW_CHECK))
            if kind == "diagram":
                shot.overflow = list(page.evaluate(SVG_CHECK))
                page.locator("svg").screenshot(path=str(shot.path))
            else:
                # The report is long: its first screen (summary, findings, curves) is what a
                # slide shows; the trace and the worksheet are shown whole.
                page.screenshot(path=str(shot.path), full_page=kind != "report")
            page.close()
            shots.append(shot)
            print(f"shot {shot.path.name}", flush=True)
        browser.close()
    return shots


def main() -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        shots = shoot(Path(tmp), OUT)
    failed = False
    for shot in shots:
        print(f"wrote {shot.path}")
        for problem in shot.errors + shot.overflow:
            failed = True
            print(f"  {shot.kind} ({shot.lang}): {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
