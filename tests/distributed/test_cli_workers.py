"""``glassnet train --workers N``: the command relaunches itself under mpirun (issue 20)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _mpi import environment, require_mpi

import glassnet

TRAIN = [sys.executable, "-m", "glassnet", "train", "--dataset", "iris", "--dropout", "0"]


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TRAIN, *args], capture_output=True, text=True, timeout=180, env=environment(**env)
    )


def test_two_workers_train_the_model_one_process_trains(tmp_path):
    """--batch-size is the global batch: 2 workers save the weights 1 process saves (float32,
    to 1e-5 of the largest weight), and only rank 0 prints."""
    require_mpi()
    one, two = tmp_path / "one.safetensors", tmp_path / "two.safetensors"
    common = ("--epochs", "4", "--batch-size", "15", "--output")
    single = run(*common, str(one))
    assert single.returncode == 0, single.stderr
    double = run(*common, str(two), "--workers", "2")
    assert double.returncode == 0, double.stderr
    for line in ("test loss:", "saved the model", "Epoch 4/4", "Doctor:"):
        assert double.stdout.count(line) == 1, double.stdout
    a, b = glassnet.load_model(one), glassnet.load_model(two)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert np.abs(p.data - q.data).max() <= 1e-5 * np.abs(p.data).max()


def test_workers_without_mpirun_is_one_line_naming_the_option(tmp_path):
    """No mpirun on PATH: exit 1 and one line saying what to install — no traceback."""
    done = run("--workers", "2", "--output", str(tmp_path / "m.safetensors"), PATH="/nonexistent")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--workers 2" in lines[0] and "openmpi-bin" in lines[0], lines
    assert lines[0].startswith("glassnet train: error:")


def _descendants(root: int) -> dict[int, int]:
    """pid → parent pid for the processes below ``root``."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: dict[int, int] = {}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if pid not in found and (parent == root or parent in found):
                found[pid] = parent
                grew = True
    return found


def _rank_process(root: int, rank: int) -> int | None:
    for pid in _descendants(root):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"OMPI_COMM_WORLD_RANK={rank}".encode() in environ:
            return pid
    return None


def test_killing_a_worker_ends_the_command_with_an_error_naming_it(tmp_path):
    """SIGKILL worker rank 1 of a running `glassnet train --workers 2`: the command ends
    within 30 s, exit code 1, its last line naming the rank and the signal."""
    require_mpi()
    if not Path("/proc/self/environ").exists():
        pytest.skip("finding the worker processes needs Linux's /proc")
    command = [*TRAIN, "--dataset", "mnist-5k", "--epochs", "200", "--quiet", "--workers", "2"]
    command += ["--output", str(tmp_path / "m.safetensors")]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment()
    )
    try:
        deadline = time.time() + 120
        victim = None
        while victim is None and time.time() < deadline and process.poll() is None:
            time.sleep(0.5)
            victim = _rank_process(process.pid, 1)
        assert victim is not None, "worker rank 1 never started"
        time.sleep(3)  # let it train for a while
        os.kill(victim, signal.SIGKILL)
        killed = time.time()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert time.time() - killed < 30
    assert process.returncode == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("glassnet train: error: worker rank 1 of 2 was killed by signal 9"), err
    assert not (tmp_path / "m.safetensors").exists()
