"""The command line reports every failure in one line naming the argument, never a traceback
unless --debug is given (issue 14, item 7).

Before: ``glassnet gradcheck --layers ,`` was an IndexError traceback, ``glassnet train
--layers ,,`` trained with no hidden layer, ``--layers 100000000`` was NumPy's MemoryError
about 7.28 TiB of float64, and a bad ``--output`` failed only after training.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from glassnet import cli

SCRIPT = shutil.which("glassnet", path=os.path.dirname(sys.executable)) or shutil.which("glassnet")


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "argv, empty",
    [
        (["gradcheck", "--layers", ","], "items 1, 2 of 2 empty"),
        (["train", "--layers", ",,"], "items 1, 2, 3 of 3 empty"),
        (["train", "--layers", "128,,64"], "item 2 of 3 empty"),
        (["train", "--layers", "64,"], "item 2 of 2 empty"),
        (["train", "--layers", ""], "item 1 of 1 empty"),
        (["lr-find", "--layers", " , 8"], "item 1 of 2 empty"),
    ],
)
def test_empty_layer_items_are_a_usage_error_naming_the_option(
    capsys: pytest.CaptureFixture[str], argv: list[str], empty: str
) -> None:
    code, out, err = run_main(capsys, *argv)
    line = one_line(err)
    assert code == 2
    assert "argument --layers" in line and empty in line and out == ""


def test_layer_sizes_still_parse(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli._int_list("128, 64") == [128, 64]
    assert cli._int_list("7") == [7]
    code, _, err = run_main(capsys, "train", "--layers", "0")
    assert code == 2 and "≥ 1" in one_line(err)


def test_a_layer_too_large_for_memory_is_one_line_before_allocating(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_file = tmp_path / "m.safetensors"
    code, out, err = run_main(
        capsys, "train", "--layers", "100000000", "--epochs", "1", "--output", str(out_file)
    )
    line = one_line(err)
    assert code == 1
    assert "--layers: layer 1 (100,000,000 units on 784 inputs)" in line
    assert "float32" in line and "292 GiB" in line and "memory available" in line
    assert "float64" not in line and "Epoch" not in out and not out_file.exists()


def test_gradcheck_layers_are_checked_in_float64(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "gradcheck", "--inputs", "100000", "--layers", "1000000")
    line = one_line(err)
    assert code == 1 and "float64" in line and "--layers" in line


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--output", "x" * 300 + ".safetensors", "is 312 bytes long"),
        ("--output", "notes.txt/model.safetensors", "'notes.txt' is a file, not a directory"),
        ("--output", "a\0b.safetensors", "contains a NUL byte"),
        ("--output", ".", "is a directory"),
        ("--report", "notes.txt/r.html", "'notes.txt' is a file, not a directory"),
        ("--report", "y" * 256 + ".html", "is 261 bytes long"),
    ],
)
def test_bad_output_paths_fail_before_training(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    option: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("a file")
    code, out, err = run_main(capsys, "train", "--dataset", "iris", "--epochs", "1", option, value)
    line = one_line(err)
    assert code == 1 and line.startswith(f"glassnet train: error: {option}: ")
    assert message in line
    assert "test loss" not in out  # refused before training, not after
    assert (tmp_path / "notes.txt").read_text() == "a file"


@pytest.mark.parametrize(
    "argv, option",
    [
        (["explain", "--output", "notes.txt/x.txt"], "--output"),
        (["explain", "--graph", "notes.txt/g.svg"], "--graph"),
        (["lr-find", "--dataset", "iris", "--plot", "notes.txt/p.png"], "--plot"),
    ],
)
def test_other_commands_check_their_output_files_first(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    option: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("a file")
    code, out, err = run_main(capsys, *argv)
    assert code == 1 and f"error: {option}: " in one_line(err) and out == ""


def test_unexpected_exceptions_are_one_line_without_debug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(args: Any) -> int:
        return [][1]  # an IndexError, as `gradcheck --layers ,` used to give

    monkeypatch.setitem(cli.COMMANDS, "datasets", broken)
    code, out, err = run_main(capsys, "datasets")
    line = one_line(err)
    assert code == 1
    assert line.startswith("glassnet datasets: error: IndexError: list index out of range")
    assert "--debug" in line
    with pytest.raises(IndexError):
        cli.main(["--debug", "datasets"])


def test_memory_errors_are_one_line_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def oom(args: Any) -> int:
        raise MemoryError("Unable to allocate 7.28 TiB for an array")

    monkeypatch.setitem(cli.COMMANDS, "datasets", oom)
    code, _, err = run_main(capsys, "datasets")
    assert code == 1 and "MemoryError: Unable to allocate" in one_line(err)


@pytest.mark.skipif(SCRIPT is None, reason="the glassnet console script is not installed")
def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    env = dict(os.environ, GLASSNET_OFFLINE="1")
    for argv, code in ((["gradcheck", "--layers", ","], 2), (["train", "--layers", "10**8"], 2)):
        result = subprocess.run(
            [str(SCRIPT), *argv],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == code, result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
