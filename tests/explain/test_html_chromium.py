"""The HTML trace opens in headless Chromium without errors and its MathML is laid out.

Skips cleanly when Chromium is not installed (Debian package ``chromium``). A copy of the
page gets a tiny script that records window errors and console.error calls, and measures the
rendered math, into the document title; ``--dump-dom`` then prints the title back.
"""

from __future__ import annotations

import re
from pathlib import Path

from glassnet.explain import backprop, seed004_example

RECORDER = """<script>
window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push("error: " + e.message); });
(function () {
  var original = console.error;
  console.error = function () {
    window.__errors.push("console: " + Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
})();
</script>"""

REPORT = """<script>
(function () {
  var maths = document.getElementsByTagName("math");
  var laidOut = 0;
  for (var i = 0; i < maths.length; i++) {
    var r = maths[i].getBoundingClientRect();
    if (r.width > 0 && r.height > 0) laidOut++;
  }
  var ns = "http://www.w3.org/1998/Math/MathML";
  var mathml = maths.length ? (maths[0].namespaceURI === ns) : false;
  document.title = "REPORT errors=" + window.__errors.length + " math=" + maths.length +
    " laidout=" + laidOut + " mathml=" + mathml + " msgs=" + window.__errors.join(" | ");
})();
</script>"""


def dump_title(page: str, tmp_path: Path, dump_dom) -> str:
    instrumented = page.replace("<head>", "<head>\n" + RECORDER, 1)
    instrumented = instrumented.replace("</body>", REPORT + "\n</body>", 1)
    path = tmp_path / "trace.html"
    path.write_text(instrumented, encoding="utf-8")
    done = dump_dom(path)
    assert done.returncode == 0, done.stderr[-2000:]
    match = re.search(r"<title>(REPORT[^<]*)</title>", done.stdout)
    assert match is not None, done.stdout[:2000]
    return match.group(1)


def test_trace_html_opens_without_errors(tmp_path: Path, chromium_dump_dom) -> None:
    model, x, y, loss, lr = seed004_example()
    trace = backprop(model, x, y, loss=loss, learning_rate=lr)
    page = trace.to_html(precision=9, weights=["w1", (2, 1, 1)])
    title = dump_title(page, tmp_path, chromium_dump_dom)
    fields = dict(part.split("=", 1) for part in title.split(" msgs=")[0].split()[1:])
    assert fields["errors"] == "0", title
    assert fields["mathml"] == "true"
    math_count = int(fields["math"])
    assert math_count > 50
    assert int(fields["laidout"]) == math_count  # every formula has a size on the page
