"""Path problems are one GlassnetError naming the user's path (issue 14, item 7).

Before: a 300-character file name gave ``OSError: [Errno 36]`` (naming the temporary file), a
NUL byte ``ValueError: embedded null byte``, a path through a regular file ``FileExistsError:
File exists``; a 250-character name — valid — could not be saved because its temporary file's
name was too long.
"""

from __future__ import annotations

import errno
import os
import pathlib
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import GlassnetError, InvalidArgumentError
from glassnet.io import (
    FileAccessError,
    atomic_write_text,
    load_checkpoint,
    load_model,
    load_weights,
    save_checkpoint,
    save_model,
    save_weights,
)
from glassnet.io import atomic as atomic_module
from glassnet.io._container import remove_stale_temps
from glassnet.nn import Dense, Input


def _model() -> gn.Sequential:
    return gn.Sequential([Input(shape=(3,)), Dense(2)])


def _writers() -> dict[str, Callable[[Any], None]]:
    model = _model()
    return {
        "save_model": lambda p: save_model(model, p),
        "save_weights": lambda p: save_weights(model, p),
        "save_checkpoint": lambda p: save_checkpoint(p, {"w": np.zeros(2)}),
        "atomic_write_text": lambda p: atomic_write_text(p, "text"),
    }


def _readers() -> dict[str, Callable[[Any], Any]]:
    model = _model()
    return {
        "load_model": load_model,
        "load_weights": lambda p: load_weights(model, p),
        "load_checkpoint": load_checkpoint,
    }


def _all_calls() -> list[tuple[str, Callable[[Any], Any]]]:
    return [*_writers().items(), *_readers().items()]


@pytest.mark.parametrize("name, call", _all_calls())
def test_a_nul_byte_is_an_argument_error(
    tmp_path: pathlib.Path, name: str, call: Callable[[Any], Any]
) -> None:
    path = str(tmp_path / "a\0b.safetensors")
    with pytest.raises(InvalidArgumentError, match=r"contains a NUL byte") as info:
        call(path)
    assert repr(path) in str(info.value)


@pytest.mark.parametrize("name, call", _all_calls())
def test_a_name_longer_than_the_filesystem_allows(
    tmp_path: pathlib.Path, name: str, call: Callable[[Any], Any]
) -> None:
    long_name = "a" * 300 + ".safetensors"
    with pytest.raises(InvalidArgumentError, match=r"is 312 bytes long.*at most 255") as info:
        call(tmp_path / long_name)
    assert "[Errno" not in str(info.value)


def test_a_long_but_valid_name_is_saved_despite_its_longer_temporary_name(
    tmp_path: pathlib.Path,
) -> None:
    """A 250-byte name is allowed; ``.<name>.XXXXXXXX.tmp`` would not be, so the temporary
    file gets a shortened name (with a hash of the full one)."""
    model = _model()
    path = tmp_path / ("m" * 238 + ".safetensors")
    assert len(path.name) == 250
    save_model(model, path)
    save_model(model, path)  # replacing it works too
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.state_dict()["dense.W"], model.state_dict()["dense.W"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_stale_temporaries_of_long_names_are_recognised(tmp_path: pathlib.Path) -> None:
    path = tmp_path / ("m" * 250)
    real = tempfile.mkstemp

    def keep(*args: Any, **kwargs: Any) -> Any:  # create the temp file the way a save does
        return real(*args, **kwargs)

    fd, name = keep(prefix=atomic_module.temp_prefix(path), suffix=".tmp", dir=tmp_path)
    os.close(fd)
    os.utime(name, (0, 0))
    assert remove_stale_temps(path) == [pathlib.Path(name)]
    other = tmp_path / ("m" * 249 + "n")  # shares the shortened prefix's text, not its hash
    assert atomic_module.temp_prefix(other) != atomic_module.temp_prefix(path)


@pytest.mark.parametrize("name, call", _all_calls())
@pytest.mark.parametrize("depth", ["file/x", "file/sub/x"])
def test_a_path_through_a_regular_file(
    tmp_path: pathlib.Path, name: str, call: Callable[[Any], Any], depth: str
) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a directory")
    path = tmp_path / depth.replace("file", "notes.txt")
    with pytest.raises(FileAccessError, match=r"notes\.txt' is a file, not a directory") as info:
        call(path)
    assert str(path) in str(info.value)
    assert blocker.read_text() == "not a directory"


@pytest.mark.parametrize("name, call", list(_writers().items()))
@pytest.mark.parametrize(
    "failing, code",
    [("mkstemp", errno.EACCES), ("replace", errno.EROFS), ("fsync", errno.ENOSPC)],
)
def test_write_errors_name_the_users_path_not_the_temporary_file(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    call: Callable[[Any], Any],
    failing: str,
    code: int,
) -> None:
    path = tmp_path / "model.safetensors"

    def fail(*args: Any, **kwargs: Any) -> Any:
        # As the OS reports them: mkstemp and replace name the temporary file, fsync nothing.
        if failing == "fsync":
            raise OSError(code, os.strerror(code))
        temp = str(args[0]) if failing == "replace" else str(tmp_path / ".m.abcd1234.tmp")
        raise OSError(code, os.strerror(code), temp)

    target = atomic_module.tempfile if failing == "mkstemp" else atomic_module.os
    monkeypatch.setattr(target, failing, fail)
    with pytest.raises(FileAccessError) as info:
        call(path)
    message = str(info.value)
    assert f"'{path}'" in message and ".tmp" not in message and "[Errno" not in message
    assert "unchanged" in message
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_every_path_problem_is_a_glassnet_error(tmp_path: pathlib.Path) -> None:
    (tmp_path / "f").write_text("x")
    paths = ["", "a\0b", "f/x", "f/y/z", "x" * 4000, "/" + "d/" * 3000 + "x", str(tmp_path)]
    for raw in paths:
        for name, call in _all_calls():
            try:
                call(raw if not raw.startswith("f") else tmp_path / raw)
            except GlassnetError:
                continue
            except Exception as exc:  # pragma: no cover - the failure being tested for
                pytest.fail(f"{name}({raw[:30]!r}) raised {type(exc).__name__}: {exc}")


def test_check_target_refuses_what_a_save_would_and_writes_nothing(tmp_path: pathlib.Path) -> None:
    from glassnet.io import check_target

    (tmp_path / "notes.txt").write_text("x")
    bad = {
        str(tmp_path / "notes.txt" / "m.safetensors"): "is a file, not a directory",
        str(tmp_path / ("n" * 300)): "bytes long",
        "a\0b": "NUL byte",
        str(tmp_path): "is a directory",
        str(tmp_path) + os.sep: "path separator",
    }
    for path, message in bad.items():
        with pytest.raises(GlassnetError, match=message):
            check_target(path, "--output")
    fresh = tmp_path / "new" / "dir" / "m.safetensors"
    assert check_target(fresh, "--output") == fresh
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
