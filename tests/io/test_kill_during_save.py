"""A process killed with SIGKILL at random moments while saving a model in a loop never leaves
a target that fails to load, and the last save it reported as complete (or a later one) is
what is on disk.

A helper subprocess imports glassnet once and, on request, forks a worker that saves in a
loop (forking keeps each kill cheap: no interpreter start-up per kill). Save i holds weight
set A or B (alternating) in the large layer and the tag [i, i % 2] in a small one, and i is
appended to a side file only after ``save_model`` returned. The test kills each worker after
a random delay, then checks the target. The same harness with a writer that is not atomic
(truncate the target, then write) does produce broken files, which shows the harness can see
the failure it guards against.

Temporary files of killed saves (``.model.safetensors.<8 chars>.tmp``) stay behind; they never
hide the target, and a later save removes those older than ``STALE_TEMP_SECONDS`` (1 hour).
"""

from __future__ import annotations

import os
import pathlib
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest

from glassnet.errors import GlassnetError
from glassnet.io import _container
from glassnet.io.model_files import load_model, save_model

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or sys.platform == "win32", reason="needs fork and SIGKILL"
)

UNITS = 640  # a save of the 640×640 float32 layer (1.6 MB) takes a few milliseconds

HELPER = r"""
import os, signal, sys
import numpy as np
from glassnet.io.model_files import save_model
from glassnet.nn import Dense, Input
from glassnet.training.model import Sequential

target, record, mode, units = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed workers are reaped by the kernel
model = Sequential([Input(shape=(units,)), Dense(units, name="big"), Dense(2, name="tag")])
big, tag = model.layers
sets = [np.random.default_rng(k).normal(size=(units, units)).astype(np.float32)
        for k in (0, 1)]

def save(i):
    import safetensors.numpy as stn

    big.W.data[...] = sets[i % 2]
    tag.b.data[...] = (i, i % 2)
    if mode == "atomic":
        save_model(model, target)
    else:  # the control: written in place (truncate, then write in chunks), not atomically
        data = stn.save(model.state_dict(), metadata={"tag": str(i)})
        with open(target, "wb") as handle:
            for start in range(0, len(data), 1 << 16):
                handle.write(data[start:start + (1 << 16)])

save(0)  # warm up in the helper: the lazy imports of a first save are not redone per worker
os.unlink(target)
print("ready", flush=True)
for line in sys.stdin:
    start = int(line)
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            i = start
            while True:
                save(i)
                os.write(fd, b"%d\n" % i)
                i += 1
        finally:
            os._exit(0)
    print(pid, flush=True)
"""


class Helper:
    """The subprocess that forks saving workers on request."""

    def __init__(self, directory: pathlib.Path, mode: str) -> None:
        self.target = directory / "model.safetensors"
        self.record = directory / "completed.txt"
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HELPER, str(self.target), str(self.record), mode, str(UNITS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        ready = self.proc.stdout.readline().strip()
        assert ready == "ready", f"helper failed to start: {ready!r}"

    def start_worker(self, first: int) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{first}\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def last_completed(self) -> int | None:
        if not self.record.exists():
            return None
        lines = self.record.read_bytes().split(b"\n")[:-1]  # complete lines only
        return int(lines[-1]) if lines else None

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def helper_factory(tmp_path: pathlib.Path) -> Iterator[object]:
    made: list[Helper] = []

    def make(mode: str) -> Helper:
        helper = Helper(tmp_path, mode)
        made.append(helper)
        return helper

    yield make
    for helper in made:
        helper.close()


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the helper ignores SIGCHLD: the kernel reaps
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.0005)
    raise AssertionError(f"worker {pid} did not die")


def _sets() -> list[np.ndarray]:
    return [np.random.default_rng(k).normal(size=(UNITS, UNITS)).astype(np.float32) for k in (0, 1)]


def _seconds_per_save(directory: pathlib.Path) -> float:
    """How long one save takes on this machine now (the random delays scale with it, so a
    loaded machine still gets kills before, during and after saves)."""
    from glassnet.nn import Dense, Input
    from glassnet.training.model import Sequential

    model = Sequential([Input(shape=(UNITS,)), Dense(UNITS), Dense(2)])
    path = directory / "calibration.safetensors"
    times = []
    for _ in range(3):
        start = time.perf_counter()
        save_model(model, path)
        times.append(time.perf_counter() - start)
    path.unlink()
    return sorted(times)[1]


MIN_KILLS, MIN_SAVES, MAX_KILLS = 100, 30, 400


def test_sigkill_at_random_moments_never_breaks_the_file(
    tmp_path: pathlib.Path, helper_factory: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    helper: Helper = helper_factory("atomic")  # type: ignore[operator]
    sets = _sets()
    rng = random.Random(20240601)
    per_save = _seconds_per_save(tmp_path)
    kills = checked = 0
    began = time.monotonic()
    # At least 100 kills, and enough completed saves that many kills hit a rewrite.
    scale, stalls = per_save, 0
    while kills < MIN_KILLS or (helper.last_completed() or 0) < MIN_SAVES:
        assert kills < MAX_KILLS, f"{helper.last_completed() or 0} saves done in {kills} kills"
        before = helper.last_completed()
        pid = helper.start_worker(0 if before is None else before + 1)
        # From "at once" through mid-save to several saves in.
        time.sleep(rng.choice([0.0, rng.uniform(0, 2 * scale), rng.uniform(0, 8 * scale)]))
        _kill(pid)
        kills += 1
        last = helper.last_completed()
        # A busy machine runs a fresh worker slowly: lengthen the delays while no save
        # completes, shorten them again when saves do.
        if last == before:
            stalls += 1
            if stalls >= 3:
                scale, stalls = scale * 1.5, 0
        else:
            scale, stalls = max(per_save, scale * 0.7), 0
        if last is None and not helper.target.exists():
            continue  # killed before the very first save finished: nothing to check yet
        model = load_model(helper.target)  # must never fail
        big, tag = model.layers
        index, parity = (int(v) for v in tag.b.data)
        assert parity == index % 2
        assert np.array_equal(big.W.data, sets[index % 2]), (
            f"kill {kills}: weights of save {index} are not set {index % 2}"
        )
        if last is not None:
            # The last save reported complete, or the one after it (renamed, not yet recorded).
            assert index in (last, last + 1), (
                f"kill {kills}: on disk {index}, last completed {last}"
            )
        checked += 1
    elapsed = time.monotonic() - began
    assert checked >= MIN_KILLS // 2, f"only {checked} of {kills} kills left a file to check"

    # Killed saves leave temporary files next to the target; they never hide the target,
    # and the next save removes those older than STALE_TEMP_SECONDS.
    temps = sorted(p.name for p in tmp_path.glob(".model.safetensors.*.tmp"))
    print(
        f"{kills} kills in {elapsed:.1f} s ({per_save * 1e3:.1f} ms per save), "
        f"{helper.last_completed()} saves, "
        f"{len(temps)} temporary files left by killed saves"
    )
    monkeypatch.setattr(_container, "STALE_TEMP_SECONDS", 0.0)
    save_model(load_model(helper.target), helper.target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["completed.txt", "model.safetensors"]


def test_the_harness_catches_a_writer_that_is_not_atomic(
    tmp_path: pathlib.Path, helper_factory: object
) -> None:
    import safetensors.numpy as stn

    helper: Helper = helper_factory("in-place")  # type: ignore[operator]
    rng = random.Random(7)
    per_save = _seconds_per_save(tmp_path)
    broken = intact = 0
    for _ in range(200):
        before = helper.last_completed()
        first = 0 if before is None else before + 1
        pid = helper.start_worker(first)
        # Wait until the worker is in its loop (a loaded machine may take a while to run it),
        # then kill at a random point of its write cycle.
        deadline = time.monotonic() + 10
        while (helper.last_completed() or -1) < first and time.monotonic() < deadline:
            time.sleep(0.0005)
        time.sleep(rng.uniform(0, 3) * per_save)
        _kill(pid)
        if not helper.target.exists():
            continue
        intact += 1
        try:
            stn.load_file(helper.target)
            # Also our own guarded reader, which must fail cleanly, never otherwise.
            _container.read_container(helper.target, "test")
        except GlassnetError:
            broken, intact = broken + 1, intact - 1
        except Exception:
            broken, intact = broken + 1, intact - 1
            _container_error = None
            try:
                _container.read_container(helper.target, "test")
            except GlassnetError as exc:
                _container_error = exc
            assert _container_error is not None, "the guarded reader let a non-glassnet error out"
        if broken >= 3:
            break
    assert broken >= 1, (
        f"in-place writes were never caught half-written in {intact} kills: the harness is blind"
    )
