"""Atomic writes: the bytes reach the disk (fsync) before the rename over the target; a failure
at any point leaves the previous file untouched and no temporary file behind; permissions of
a replaced file are kept; stale temporary files of killed saves are cleaned up."""

from __future__ import annotations

import os
import pathlib
import stat
import time
from typing import Any

import numpy as np
import pytest

from glassnet.io import atomic as atomic_module
from glassnet.io import atomic_write, atomic_write_bytes, atomic_write_text
from glassnet.io._container import remove_stale_temps
from glassnet.io.model_files import load_model, save_model
from glassnet.nn import Dense, Input
from glassnet.training.model import Sequential


def _entries(directory: pathlib.Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_write_and_replace(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"one")
    assert path.read_bytes() == b"one"
    atomic_write_bytes(path, b"two, longer")
    assert path.read_bytes() == b"two, longer"
    atomic_write_text(path, "ünïcode ✓")
    assert path.read_text(encoding="utf-8") == "ünïcode ✓"
    assert _entries(tmp_path) == ["f.bin"]


def test_exception_inside_the_block_keeps_the_old_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_write(path, "w") as handle:
        handle.write("half of the new cont")
        raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert _entries(tmp_path) == ["f.txt"]


@pytest.mark.parametrize("failing", ["fsync", "replace", "write"])
def test_failure_at_each_step_keeps_the_old_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = tmp_path / "model.safetensors"
    model = Sequential([Input(shape=(3,)), Dense(2)])
    save_model(model, path)
    before = path.read_bytes()

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    if failing == "write":
        real_fdopen = os.fdopen

        class Failing:
            def __init__(self, handle: Any) -> None:
                self.handle = handle

            def __enter__(self) -> Any:
                self.handle.__enter__()
                return self

            def __exit__(self, *exc: Any) -> Any:
                return self.handle.__exit__(*exc)

            def write(self, data: bytes) -> int:
                self.handle.write(data[: len(data) // 2])
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(
            atomic_module.os, "fdopen", lambda *a, **k: Failing(real_fdopen(*a, **k))
        )
    else:
        monkeypatch.setattr(atomic_module.os, failing, fail)
    model.layers[0].W.data[...] = 7.0
    from glassnet.io import FileAccessError

    with pytest.raises(FileAccessError, match="No space left on device.*unchanged"):
        save_model(model, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _entries(tmp_path) == ["model.safetensors"]
    load_model(path)


def test_fsync_comes_before_the_rename(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync-file")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(atomic_module.os, "fsync", fsync)
    monkeypatch.setattr(atomic_module.os, "replace", replace)
    save_model(Sequential([Input(shape=(3,)), Dense(2)]), tmp_path / "m.safetensors")
    assert events == ["fsync-file", "replace", "fsync-dir"]


def test_permissions_of_a_replaced_file_are_kept(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "private.bin"
    atomic_write_bytes(path, b"a")
    os.chmod(path, 0o600)
    atomic_write_bytes(path, b"b")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    fresh = tmp_path / "fresh.bin"
    atomic_write_bytes(fresh, b"c")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_stale_temporary_files_are_removed_by_the_next_save(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "model.safetensors"
    old_temp = tmp_path / ".model.safetensors.ab12cd_3.tmp"
    young_temp = tmp_path / ".model.safetensors.zz99yy88.tmp"
    other_target_temp = tmp_path / ".other.safetensors.ab12cd34.tmp"
    lookalike = tmp_path / ".model.safetensors.notatemp.tmp.bak"
    for p in (old_temp, young_temp, other_target_temp, lookalike):
        p.write_bytes(b"\0" * 10)
    hours_ago = time.time() - 2 * 3600
    for p in (old_temp, other_target_temp, lookalike):
        os.utime(p, (hours_ago, hours_ago))
    save_model(Sequential([Input(shape=(3,)), Dense(2)]), target)
    # The old temp of this target is gone; a young one (a save in progress elsewhere),
    # other targets' temps and look-alike names stay.
    assert _entries(tmp_path) == sorted(
        [young_temp.name, other_target_temp.name, lookalike.name, target.name]
    )
    assert remove_stale_temps(target, older_than=0.0) == [young_temp]


def test_target_is_never_missing_while_being_replaced(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between the temp file's fsync and the rename, the old file is still complete.
    path = tmp_path / "m.safetensors"
    model = Sequential([Input(shape=(3,)), Dense(2)])
    save_model(model, path)
    old = path.read_bytes()
    seen: list[bytes] = []
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        seen.append(pathlib.Path(dst).read_bytes())
        real_replace(src, dst)

    monkeypatch.setattr(atomic_module.os, "replace", replace)
    model.layers[0].W.data[...] = np.arange(6, dtype=np.float32).reshape(2, 3)
    save_model(model, path)
    assert seen == [old]
    assert np.array_equal(load_model(path).layers[0].W.data, model.layers[0].W.data)
