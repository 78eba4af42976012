"""Screenshots of the playground at 1280 px and 390 px (a phone) for docs/playground.md.

Starts the server on a free port, opens the page in Debian's Chromium (Playwright), trains the
default spirals network for a few seconds, clicks a weight and a neuron (every neuron's live
map shows under the network), and writes
docs/images/playground-1280.png and docs/images/playground-390.png (full page), or the same
names in the folder given.
Usage: python tools/playground_screenshots.py [folder]
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from glassnet.playground.server import create_app

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"


def main(out: Path = OUT) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for width in (1280, 390):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("window.__playground && window.__playground.updates > 0")
            page.get_by_test_id("play").click()
            page.wait_for_function(
                "Number(document.querySelector('[data-testid=loss]').textContent) < 0.15",
                timeout=120_000,
            )
            page.get_by_test_id("pause").click()
            page.get_by_test_id("step").click()
            page.wait_for_timeout(500)
            page.get_by_test_id("weight-2-1-3").dispatch_event("click")
            page.locator("[data-testid=weight-story] [data-field=grad]").wait_for()
            page.get_by_test_id("neuron-2-1").dispatch_event("click")
            page.get_by_test_id("neuron-story").wait_for(state="visible")
            # every neuron's maps are painted while on screen: bring them in once
            page.get_by_test_id("neuron-maps").scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            page.evaluate("window.scrollTo(0, 0)")
            page.wait_for_timeout(300)
            path = out / f"playground-{width}.png"
            page.screenshot(path=str(path), full_page=True)
            print(f"wrote {path}")
            page.close()
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
