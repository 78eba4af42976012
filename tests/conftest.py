"""Shared test helpers."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def chromium_dump_dom(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Open a local page in headless Chromium (offline, a fresh profile) and return the
    finished process, whose stdout is the DOM after load; skips when Chromium is absent."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian package chromium)")

    def run(page: Path, *extra: str) -> subprocess.CompletedProcess:
        profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-*')))}"
        command = [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *extra,
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    return run
