"""The must-show of issue 17: headless-Chromium screenshots at 1280 px of the HTML trace, a
worksheet, the network diagram and the report, in English and in Chinese, with no console
error, and a DOM check that no element of the trace (or the worksheet) overflows its box and
no text leaves the diagram. The pages and the checks are tools/course_screenshots.py's, which
also writes the images for the docs."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "course_screenshots.py"


def _tool():  # type: ignore[no-untyped-def]
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("matplotlib")
    if not Path("/usr/bin/chromium").exists() and shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (Debian package chromium)")
    spec = importlib.util.spec_from_file_location("course_screenshots", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_course_pages_in_both_languages_render_cleanly(tmp_path: Path) -> None:
    tool = _tool()
    shots = tool.shoot(tmp_path)
    assert {(s.kind, s.lang) for s in shots} == {
        (k, lang) for k in tool.KINDS for lang in ("en", "zh")
    }
    for shot in shots:
        assert shot.errors == [], (shot.kind, shot.lang, shot.errors)
        assert shot.overflow == [], (shot.kind, shot.lang, shot.overflow)
        header = shot.path.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n"
        width = int.from_bytes(header[16:20], "big")
        expected = tool.WIDTH if shot.kind != "diagram" else tool.WIDTH - 40
        assert width == expected, (shot.kind, width)
    html = {
        (k, lang): p.read_text(encoding="utf-8") for (k, lang), p in tool.pages(tmp_path).items()
    }
    for kind in tool.KINDS:
        assert 'lang="zh"' in html[(kind, "zh")]
    assert "前向传播" in html[("trace", "zh")] and "练习（1）" in html[("worksheet", "zh")]
    assert "第 1 层（隐藏层" in html[("diagram", "zh")] and "诊断结论" in html[("report", "zh")]


def test_the_overflow_check_finds_an_overflow(tmp_path: Path) -> None:
    """The DOM checks are not vacuous: a box too narrow for its text, text past the page's
    edge and a caption outside its drawing are all reported."""
    tool = _tool()
    from playwright.sync_api import sync_playwright

    page_html = (
        '<!DOCTYPE html><html><body style="margin:0">'
        '<div style="width:40px;white-space:nowrap">a label that runs into its caption</div>'
        '<p style="position:absolute;left:1200px;width:200px">past the edge</p>'
        '<svg width="200" height="60"><text x="150" y="30">a caption too long</text></svg>'
        "</body></html>"
    )
    path = tmp_path / "bad.html"
    path.write_text(page_html, encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": tool.WIDTH, "height": 400})
        page.goto(path.as_uri())
        overflow = page.evaluate(tool.OVERFLOW_CHECK)
        svg = page.evaluate(tool.SVG_CHECK)
        browser.close()
    assert any(o.startswith("div: content") for o in overflow), overflow
    assert any(o.startswith("p: right edge") for o in overflow), overflow
    assert len(svg) == 1 and "a caption too long" in svg[0]
