"""The report opens in a real browser (headless Chromium) offline, with no console error and
every image loaded. Skipped when Chromium is not installed (.ci/run installs it)."""

from __future__ import annotations

import json
import re
import warnings

import pytest

import glassnet as gn
from glassnet.diagnostics import Doctor, report
from glassnet.layers import Dense, Dropout, Flatten, Rescaling
from glassnet.training import Sequential

# Runs before the page's own Content-Security-Policy takes effect (it is inserted right after
# <meta charset>), records every error, CSP violation and console.error, and after the load
# event writes the verdict into the DOM, which --dump-dom prints.
PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener("error", function (e) {
    var t = e.target || {};
    errors.push("error: " + (e.message || t.src || t.href || t.tagName || "resource"));
  }, true);
  document.addEventListener("securitypolicyviolation", function (e) {
    errors.push("csp: " + e.violatedDirective + " " + e.blockedURI);
  });
  var original = console.error;
  console.error = function () {
    errors.push("console: " + Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
  window.addEventListener("load", function () {
    var images = Array.prototype.slice.call(document.images);
    var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                       .map(function (i) { return i.alt; });
    var out = document.createElement("pre");
    out.id = "glassnet-probe";
    var sections = document.querySelectorAll("main > section").length;
    out.textContent = "PROBE" + JSON.stringify({errors: errors, images: images.length,
                                                broken: broken, sections: sections});
    document.body.appendChild(out);
  });
})();
</script>"""


def _browse(page, dump_dom) -> tuple[dict, str]:
    out = dump_dom(page, "--enable-logging=stderr", "--v=0")
    match = re.search(r"PROBE(\{.*?\})</pre>", out.stdout, re.S)
    assert match, f"the probe did not report; stderr:\n{out.stderr[-2000:]}"
    return json.loads(match.group(1).replace("&quot;", '"')), out.stderr


def test_report_opens_in_chromium_without_errors(tmp_path, chromium_dump_dom):
    pytest.importorskip("matplotlib")
    (x, y), (xt, yt) = gn.datasets.load("mnist-5k")
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
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        history = model.fit(
            x[:2000],
            y[:2000],
            epochs=2,
            verbose=0,
            validation_split=0.1,
            callbacks=[Doctor(verbose=0)],
        )
    original = report(history, model, tmp_path / "report.html", x=xt[:200], y=yt[:200])

    text = original.read_text(encoding="utf-8")
    head = '<meta charset="utf-8">'
    assert head in text
    probed = tmp_path / "probed.html"
    probed.write_text(text.replace(head, head + PROBE, 1), encoding="utf-8")

    verdict, stderr = _browse(probed, chromium_dump_dom)
    assert verdict["errors"] == []
    assert verdict["broken"] == []
    assert verdict["images"] >= 6
    assert verdict["sections"] == 7
    console = [line for line in stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console


def test_the_probe_catches_a_broken_image_and_an_external_resource(tmp_path, chromium_dump_dom):
    """The check above can fail: a page with a corrupt image and a remote one is caught."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        + PROBE
        + '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\"></head><body>"
        '<img alt="corrupt" src="data:image/png;base64,iVBORw0KGgoAAAA=">'
        '<img alt="remote" src="https://example.com/x.png"></body></html>',
        encoding="utf-8",
    )
    verdict, _ = _browse(page, chromium_dump_dom)
    assert sorted(verdict["broken"]) == ["corrupt", "remote"]
    assert any(e.startswith("csp:") for e in verdict["errors"])
