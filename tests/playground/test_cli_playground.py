"""`glassnet playground` on the command line: it serves the page, and says what is missing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_without_the_extra_it_says_so_in_one_line() -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None\n"
        "from glassnet.cli import main\n"
        "sys.exit(main(['playground', '--no-browser']))"
    )
    done = run_python(code)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "glassnet[playground]" in lines[0] and "uvicorn" in lines[0]
    assert "Traceback" not in done.stderr


def test_a_bad_port_is_a_usage_error() -> None:
    done = run_python("from glassnet.cli import main; main(['playground', '--port', '70000'])")
    assert done.returncode == 2
    assert "--port" in done.stderr and "70000" in done.stderr


def test_it_serves_the_page_on_127_0_0_1() -> None:
    pytest.importorskip("starlette", reason="the playground needs starlette")
    pytest.importorskip("uvicorn", reason="the playground needs uvicorn")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": SRC}
    process = subprocess.Popen(
        [sys.executable, "-m", "glassnet", "playground", "--no-browser", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    page = r.read().decode()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.2)
        assert 'data-testid="dataset"' in page and "/static/app.js" in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/app.js", timeout=5) as r:
            assert b"WebSocket" in r.read()
        with pytest.raises(OSError):  # the debug endpoint exists only in tests' apps
            urllib.request.urlopen(f"http://127.0.0.1:{port}/debug/sessions", timeout=5)
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in out
    assert "Warning" not in err, err


def test_a_port_in_use_is_one_sentence() -> None:
    pytest.importorskip("uvicorn", reason="the playground needs uvicorn")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = (
            "import sys; from glassnet.cli import main\n"
            f"sys.exit(main(['playground', '--no-browser', '--port', '{port}']))"
        )
        done = run_python(code)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--port {port} cannot be bound" in lines[0], done.stderr
