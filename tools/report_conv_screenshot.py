"""Screenshot of a convnet's training report at 1280 px for docs/diagnostics.md and docs/conv.md.

Trains Keras's "Simple MNIST convnet" (Conv2D 32 → pooling → Conv2D 64 → pooling → Dropout →
Dense 10) for 2 epochs on the 4,000 training images of mnist-5k, after setting the biases of
filters 1 and 3 of the first convolution to -100 (``--kill``; ``--kill ''`` for none), so that
the doctor has dead filters to find and the report marks them. Writes the report to a
temporary directory and a screenshot of its "Convolution filters and feature maps" section,
opened at 1280 px in Debian's Chromium (Playwright), to docs/images/report-conv-1280.png.
Usage: python tools/report_conv_screenshot.py [--kill 1,3] [--epochs 2]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

import glassnet as gn
from glassnet.diagnostics import Doctor, report
from glassnet.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D, Rescaling
from glassnet.training import Sequential

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kill", default="1,3", help="first-layer filters to make dead")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    (x, y), (xt, yt) = gn.datasets.load("mnist-5k")
    gn.seed(0)
    model = Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28, 1)),
            Conv2D(32, 3, activation="relu"),
            MaxPooling2D(2),
            Conv2D(64, 3, activation="relu"),
            MaxPooling2D(2),
            Flatten(),
            Dropout(0.5),
            Dense(10, activation="softmax"),
        ]
    )
    killed = [int(f) for f in args.kill.split(",") if f.strip()]
    first = model.layers[1]
    assert first.b is not None
    first.b.data[killed] = -100.0
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x[..., None],
        y,
        epochs=args.epochs,
        batch_size=128,
        validation_split=0.1,
        verbose=0,
        callbacks=[Doctor(verbose=0)],
    )
    with tempfile.TemporaryDirectory() as tmp:
        page_path = report(
            history, model, Path(tmp) / "report-conv.html", x=xt[:200, ..., None], y=yt[:200]
        )
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            target = OUT / "report-conv-1280.png"
            page.locator("#filters").screenshot(path=str(target))
            browser.close()
    print(f"wrote {target}; console errors: {errors or 'none'}")


if __name__ == "__main__":
    main()
