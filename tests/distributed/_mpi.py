"""Running tests/distributed/_worker.py under mpirun (or alone), skipping without Open MPI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("_worker.py")
MPIRUN = shutil.which("mpirun")


def require_mpi() -> None:
    """Skip unless mpi4py and mpirun are there (the mpi extra and Debian's openmpi-bin)."""
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install glassnet[mpi])")
    if MPIRUN is None:
        pytest.skip("mpirun is not on PATH (apt-get install openmpi-bin libopenmpi-dev)")


def environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def launch(ranks: int | None, *args: str, timeout: float = 180, **extra: str):
    """The worker under ``mpirun -n ranks`` (None: one plain process); the finished process."""
    command = [sys.executable, str(WORKER), *args]
    if ranks is not None:
        assert MPIRUN is not None
        root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
        command = [MPIRUN, *root, "--oversubscribe", "-n", str(ranks), *command]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=environment(**extra)
    )


def check(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
