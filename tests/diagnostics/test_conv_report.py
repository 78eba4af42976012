"""Issue 16, item 4: the report of a convnet shows the first layer's filters and one sample's
feature maps as images.

Every image is decoded by Pillow (an independent PNG reader) and compared with what it must
show: a filter's pixels with matplotlib's RdBu_r colour map at the weights W[i, j, c, f] in
that orientation (not transposed, not flipped); a feature map's grey levels with the
convolution computed here by explicit loops over the windows. The page opens in headless
Chromium with no console error and every image decoded.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import Doctor
from glassnet.diagnostics.conv_report import conv_section, png_bytes
from glassnet.diagnostics.report import render_report
from glassnet.layers import Conv2D, Dense, Flatten, Rescaling
from glassnet.training import Sequential

Image = pytest.importorskip("PIL.Image")

_IMG = re.compile(r"<img ([^>]*)>")


def _images(page: str) -> list[dict[str, str]]:
    out = []
    for attrs in _IMG.findall(page):
        fields = dict(re.findall(r'([\w-]+)="([^"]*)"', attrs))
        out.append(fields)
    return out


def _pixels(img: dict[str, str]) -> np.ndarray:
    data = img["src"].split("base64,", 1)[1]
    with Image.open(io.BytesIO(base64.b64decode(data))) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int64)


def _correlate(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """relu(valid correlation + b) of one (H, W, C) image, window by window."""
    k0, k1, _, f = W.shape
    rows, cols = x.shape[0] - k0 + 1, x.shape[1] - k1 + 1
    out = np.empty((rows, cols, f))
    for i in range(rows):
        for j in range(cols):
            window = x[i : i + k0, j : j + k1, :]
            out[i, j] = np.tensordot(window, W, axes=([0, 1, 2], [0, 1, 2])) + b
    return np.maximum(out, 0.0)


@pytest.fixture(scope="module")
def trained():
    """A small convnet on 8×8 digits, two convolutions, filter 1 of the first made dead."""
    (x, y), (xt, yt) = gn.datasets.load("digits")
    gn.seed(0)
    model = Sequential(
        [
            Rescaling(1 / 16, input_shape=(8, 8, 1)),
            Conv2D(6, 3, activation="relu"),
            Conv2D(4, 3, activation="relu"),
            Flatten(),
            Dense(10, activation="softmax"),
        ]
    )
    model.layers[1].b.data[1] = -100.0
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        history = model.fit(
            x[:800, ..., None],
            y[:800],
            epochs=2,
            verbose=0,
            telemetry=5,
            callbacks=[Doctor(verbose=0)],
        )
    xt, yt = xt[:20, ..., None], yt[:20]
    section = conv_section(model, history, xt)
    assert section is not None
    return model, history, (xt, yt), section


def test_one_image_per_filter_with_the_weights_in_order(trained):
    cm = pytest.importorskip("matplotlib").colormaps["RdBu_r"]
    model, _, _, page = trained
    W = model.layers[1].W.data.astype(np.float64)  # (3, 3, 1, 6)
    tiles = [img for img in _images(page) if "data-filter" in img]
    assert sorted((int(t["data-filter"]), int(t["data-channel"])) for t in tiles) == [
        (f, 0) for f in range(6)
    ]
    limit = np.abs(W).max()
    transposed_differs = False
    for tile in tiles:
        f = int(tile["data-filter"])
        got = _pixels(tile)
        assert got.shape == (3, 3, 3)
        want = np.rint(255 * cm(0.5 + 0.5 * W[:, :, 0, f] / limit)[..., :3])
        # matplotlib quantises its map to 256 levels; the page interpolates the same anchors.
        np.testing.assert_allclose(got, want, atol=3)
        wrong = np.rint(255 * cm(0.5 + 0.5 * W[:, :, 0, f].T / limit)[..., :3])
        transposed_differs |= bool(np.abs(got - wrong).max() > 3)
    assert transposed_differs  # the comparison can tell the orientation apart


def test_feature_maps_after_both_convolutions_equal_the_convolution(trained):
    model, _, (xt, _), page = trained
    first, second = model.layers[1], model.layers[2]
    x0 = xt[0].astype(np.float64) / 16
    a1 = _correlate(x0, first.W.data.astype(np.float64), first.b.data)
    a2 = _correlate(a1, second.W.data.astype(np.float64), second.b.data)
    for name, maps in (("conv2d", a1), ("conv2d_1", a2)):
        tiles = [img for img in _images(page) if img.get("data-layer") == name]
        assert [int(t["data-map"]) for t in tiles] == list(range(maps.shape[-1]))
        for tile in tiles:
            f = int(tile["data-map"])
            got = _pixels(tile)
            assert (got[..., 0] == got[..., 1]).all() and (got[..., 0] == got[..., 2]).all()
            np.testing.assert_allclose(got[..., 0], 255 * maps[:, :, f] / maps.max(), atol=1.0)
    # The dead filter's map is black everywhere.
    dead = [img for img in _images(page) if img.get("data-layer") == "conv2d"][1]
    assert (_pixels(dead) == 0).all()


def test_the_dead_filter_is_marked_and_explained(trained):
    _, history, _, page = trained
    assert [f.rule for f in history.findings if f.rule == "dead_filters"] == ["dead_filters"]
    section = page
    flagged = re.findall(r'<figure class="gn-unit flagged" title="([^"]*)">', section)
    # filter 1 in the filters' grid and its feature map after conv2d
    assert len(flagged) == 2 and all(t.startswith("filter 1 ") for t in flagged)
    assert "z ≤ 0 at 100% of outputs" in flagged[0]
    assert section.count("1 · dead") == 2


def test_no_section_for_a_dense_model_and_a_note_without_test_data(trained):
    gn.seed(0)
    dense = Sequential([Flatten(input_shape=(4, 4)), Dense(3, activation="softmax")])
    assert conv_section(dense, None) is None
    model, history, _, _ = trained
    html = conv_section(model, history)
    assert html is not None and "No test data was given" in html
    assert html.count("data-filter=") == 6 and "data-map=" not in html


def test_a_colour_input_shows_one_tile_per_filter_and_channel():
    gn.seed(0)
    model = Sequential([Conv2D(5, 3, activation="tanh", input_shape=(6, 6, 3)), Flatten()])
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype("float32")
    html = conv_section(model, None, x)
    assert html is not None
    pairs = re.findall(r'data-filter="(\d+)" data-channel="(\d+)"', html)
    assert sorted((int(f), int(c)) for f, c in pairs) == [
        (f, c) for f in range(5) for c in range(3)
    ]
    # tanh outputs are signed: their maps use the diverging scale (white at 0)
    tiles = [img for img in _images(html) if img.get("data-layer") == "conv2d"]
    assert len(tiles) == 5
    assert any(np.ptp(_pixels(t), axis=-1).max() > 0 for t in tiles)


def test_png_bytes_decode_to_the_same_pixels():
    rgb = np.random.default_rng(1).integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    with Image.open(io.BytesIO(png_bytes(rgb))) as im:
        assert im.size == (5, 7) and im.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(im), rgb)


def test_the_conv_report_renders_in_chromium_without_errors(trained, tmp_path: Path):
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian package chromium)")
    model, history, (xt, yt), section = trained
    page_text = render_report(history, model, x=xt, y=yt)  # the whole page, plots included
    start = page_text.index('<section id="filters"><h2>Convolution filters and feature maps</h2>')
    assert section in page_text[start:]
    path = tmp_path / "report.html"
    path.write_text(page_text, encoding="utf-8")
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        state = page.evaluate(
            """() => {
              const imgs = Array.from(document.querySelectorAll('#filters img'));
              const tile = document.querySelector('#filters img[data-filter="0"]');
              const box = tile.getBoundingClientRect();
              return {n: imgs.length,
                      broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length,
                      width: box.width, natural: tile.naturalWidth,
                      rendering: getComputedStyle(tile).imageRendering};
            }"""
        )
        shot = page.locator("#filters").screenshot()
        browser.close()
    assert errors == []
    # 6 filters, the input, 6 + 4 feature maps and 4 colour scales
    assert state["n"] == 6 + 1 + 6 + 4 + 4 and state["broken"] == 0
    assert state["natural"] == 3 and state["width"] >= 40  # scaled up ...
    assert state["rendering"] == "pixelated"  # ... without smoothing
    with Image.open(io.BytesIO(shot)) as im:
        assert im.size[0] > 600
