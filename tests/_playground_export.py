"""The playground's exported Python program, checked the same way wherever a test exports one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.playground.session import Session, get_weights

SRC = str(Path(__file__).resolve().parents[1] / "src")


def run_exported_code(code: str, config: Any, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Up to compile, ``code`` must build the page's network with the page's initial weights;
    run whole (in a new process, in ``cwd``), it must train and save playground.glassnet."""
    namespace: dict[str, Any] = {}
    exec(code[: code.index("model.compile(")], namespace)
    for mine, page in zip(get_weights(namespace["model"]), get_weights(Session(config).model)):
        np.testing.assert_array_equal(mine, page)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert done.returncode == 0, done.stderr
    assert (cwd / "playground.glassnet").is_file()
    return done
