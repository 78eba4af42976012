"""The HTML training report: one self-contained file, with everything it promises."""

from __future__ import annotations

import base64
import re
import sys
import warnings
from html.parser import HTMLParser

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import Doctor, report
from glassnet.errors import InvalidArgumentError, ShapeError
from glassnet.layers import Dense, Dropout, Flatten, Rescaling
from glassnet.training import Sequential


class _Page(HTMLParser):
    """Collects every resource reference and the images' sources."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.refs: list[tuple[str, str, str]] = []
        self.scripts = 0
        self.ids: set[str] = set()
        self.meta: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img":
            self.images.append(attrs.get("src") or "")
        if tag == "script":
            self.scripts += 1
        if tag == "meta":
            self.meta.append(attrs)
        for key in ("src", "href", "srcset", "data", "poster"):
            if attrs.get(key):
                self.refs.append((tag, key, attrs[key]))


def _parse(path) -> tuple[str, _Page]:
    text = path.read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    return text, page


@pytest.fixture(scope="module")
def mnist():
    return gn.datasets.load("mnist-5k")


def _seed_model(rate):
    gn.seed(0)
    model = Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28)),
            Flatten(),
            Dense(64, activation="relu"),
            Dropout(0.2),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=gn.optimizers.Adam(rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_report_is_one_self_contained_file(mnist, tmp_path):
    pytest.importorskip("matplotlib")
    (x, y), (xt, yt) = mnist
    model = _seed_model(1e-3)
    history = model.fit(x[:2000], y[:2000], epochs=2, verbose=0, validation_split=0.1)
    path = report(history, model, tmp_path / "run.html", x=xt[:300], y=yt[:300])
    assert path == tmp_path / "run.html"
    assert [p.name for p in tmp_path.iterdir()] == ["run.html"]  # atomic: no leftovers
    text, page = _parse(path)
    # Nothing is loaded from anywhere: only data: images, in-page links, no script.
    assert page.scripts == 0
    for tag, key, value in page.refs:
        assert value.startswith(("data:image/png;base64,", "#")), (tag, key, value[:60])
    assert "url(" not in text and "@import" not in text
    csp = [m for m in page.meta if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]["content"]
    # The images decode as PNG.
    assert len(page.images) >= 6
    for src in page.images:
        data = base64.b64decode(src.split(",", 1)[1])
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # The sections promised.
    assert {"summary", "findings", "curves", "layers", "model", "config", "trace"} <= page.ids
    assert "No problems found" in text
    assert "Adam(learning_rate=0.001" in text and "sparse_categorical_crossentropy" in text
    assert "batch_size" in text and "101,770" not in text  # this model is smaller
    assert f"{model.count_params():,}" in text
    assert "test accuracy" in text.lower()
    assert "confusion matrix" in text.lower()
    # The trace of x[0], or a note saying why there is none.
    assert "Backpropagation of one test sample" in text
    section = text.split('id="trace"', 1)[1]
    assert "BP1" in section or "trace" in section.lower()


def test_report_shows_the_doctors_findings(mnist, tmp_path):
    (x, y), (xt, yt) = mnist
    model = _seed_model(10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        history = model.fit(x[:1000], y[:1000], epochs=2, verbose=0, callbacks=[Doctor(verbose=0)])
    text = report(history, model, tmp_path / "broken.html", x=xt[:50], y=yt[:50]).read_text()
    assert "lr_too_high" in text and "dead_relu" in text
    assert "What to do:" in text and "lr_find" in text
    assert "No problems found" not in text


def test_report_runs_the_doctor_when_the_run_had_none(mnist, tmp_path):
    (x, y), _ = mnist
    model = _seed_model(1e-7)
    history = model.fit(x[:2000], y[:2000], epochs=1, verbose=0, doctor=False)
    assert history.findings == []
    text = report(history, model, tmp_path / "slow.html").read_text()
    assert "lr_too_low" in text and "diagnose()" in text
    assert "No test data was given" in text


def test_report_of_a_2d_model_has_its_decision_boundary(tmp_path):
    pytest.importorskip("matplotlib")
    (x, y), (xt, yt) = gn.datasets.load("moons", n=300, noise=0.1)
    gn.seed(0)
    model = Sequential([Dense(8, activation="tanh", input_dim=2), Dense(2, activation="softmax")])
    model.compile(
        optimizer=gn.optimizers.Adam(0.02),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(x, y, epochs=5, verbose=0)
    text = report(
        history, model, tmp_path / "moons.html", x=xt, y=yt, title="Moons <perceptron>"
    ).read_text()
    assert "Decision boundary" in text
    assert "<title>Moons &lt;perceptron&gt;</title>" in text  # escaped


def test_report_without_matplotlib_still_writes_the_page(mnist, tmp_path, monkeypatch):
    (x, y), (xt, yt) = mnist
    model = _seed_model(1e-3)
    history = model.fit(x[:500], y[:500], epochs=1, verbose=0)
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    text = report(history, model, tmp_path / "plain.html", x=xt[:20], y=yt[:20]).read_text()
    assert "<img" not in text
    assert "pip install glassnet[plots]" in text
    assert "Per-epoch values" in text  # the tables are still there


def test_report_keeps_an_existing_file_when_it_fails(mnist, tmp_path, monkeypatch):
    (x, y), _ = mnist
    model = _seed_model(1e-3)
    history = model.fit(x[:200], y[:200], epochs=1, verbose=0, telemetry=False)
    target = tmp_path / "keep.html"
    target.write_text("the old report")

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sys.modules["glassnet.diagnostics.report"], "render_report", boom)
    with pytest.raises(RuntimeError):
        report(history, model, target)
    assert target.read_text() == "the old report"


def test_report_argument_errors(mnist, tmp_path):
    (x, y), (xt, yt) = mnist
    model = _seed_model(1e-3)
    history = model.fit(x[:100], y[:100], epochs=1, verbose=0)
    with pytest.raises(InvalidArgumentError, match=r"\.html"):
        report(history, model, tmp_path / "report.png")
    with pytest.raises(InvalidArgumentError, match="History"):
        report({"loss": [1.0]}, model, tmp_path / "r.html")
    with pytest.raises(InvalidArgumentError, match="both x and y"):
        report(history, model, tmp_path / "r.html", x=xt)
    with pytest.raises(ShapeError, match="same number of samples"):
        report(history, model, tmp_path / "r.html", x=xt[:5], y=yt[:4])
    with pytest.raises(InvalidArgumentError, match="directory"):
        (tmp_path / "d.html").mkdir()
        report(history, model, tmp_path / "d.html")


def test_report_numbers_match_the_history(mnist, tmp_path):
    (x, y), _ = mnist
    model = _seed_model(1e-3)
    history = model.fit(x[:600], y[:600], epochs=2, verbose=0)
    text = report(history, model, tmp_path / "n.html").read_text()
    table = text.split("Per-epoch values", 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<td>([^<]*)</td>", table)
    shown = [float(c) for c in cells]
    expected = [
        v for e in range(2) for v in (history.history["loss"][e], history.history["accuracy"][e])
    ]
    np.testing.assert_allclose(shown, expected, rtol=1e-3)
