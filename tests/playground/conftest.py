"""The playground's server on a free port in a thread, and a Playwright page on Chromium."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """Start ``create_app(debug_endpoints=True)`` on uvicorn; yields http://127.0.0.1:PORT."""
    pytest.importorskip("starlette", reason="the playground needs starlette (glassnet[playground])")
    uvicorn = pytest.importorskip("uvicorn", reason="the playground needs uvicorn")
    from glassnet.playground.server import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        create_app(debug_endpoints=True), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the playground's server did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (its own browser download is not reachable)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (Debian package chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, server_url: str) -> Iterator[Any]:
    """A fresh tab with its console errors collected in ``page.console_errors``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.console_errors = []
    tab.on("console", lambda m: m.type == "error" and tab.console_errors.append(m.text))
    tab.on("pageerror", lambda e: tab.console_errors.append(str(e)))
    yield tab
    context.close()
