"""Screen updates per second in the playground while training the spirals network.

Starts the server on a free port, opens the page in Debian's Chromium (Playwright), presses
Play and counts, over a few seconds, the state messages received (``updates``) and the frames
that drew one (``drawn``, from requestAnimationFrame), and the updates that repainted every
neuron's output map (``maps``) — read from ``window.__playground``.
Usage: python benchmarks/playground_fps.py [seconds]   (figures vary with the machine's load)
"""

from __future__ import annotations

import socket
import sys
import threading
import time

import uvicorn
from playwright.sync_api import sync_playwright

from glassnet.playground.server import create_app


def main(seconds: float = 5.0) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for width in (1280, 390):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("window.__playground && window.__playground.updates > 0")
            page.get_by_test_id("play").click()
            page.wait_for_timeout(1000)
            counters = (
                "[window.__playground.updates, window.__playground.drawn, window.__playground.maps]"
            )
            start = page.evaluate(counters)
            page.wait_for_timeout(seconds * 1000)
            end = page.evaluate(counters)
            step = page.evaluate("window.__playground.state.step")
            draw_ms = page.evaluate("window.__playground.drawMs")
            page.get_by_test_id("pause").click()
            updates, drawn, maps = ((b - a) / seconds for a, b in zip(start, end))
            # drawn / received: on a shared machine the server's rate caps what can be drawn
            share = 100 * drawn / updates if updates else 0.0
            print(
                f"{width} px: {updates:.1f} state updates/s received, {drawn:.1f} screen "
                f"updates/s drawn ({share:.0f} % of those received), every neuron's map "
                f"repainted {maps:.1f}/s "
                f"({draw_ms:.1f} ms of script per drawing); {step} steps in {seconds + 1:.0f} s"
            )
            page.close()
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
