"""The real `glassnet` console script, run in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = shutil.which("glassnet", path=os.path.dirname(sys.executable)) or shutil.which("glassnet")


def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    command = [SCRIPT, *args] if SCRIPT else [sys.executable, "-m", "glassnet", *args]
    env = dict(os.environ, GLASSNET_OFFLINE="1")
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test_console_script_is_installed():
    assert SCRIPT is not None, "the glassnet console script is not on PATH next to python"


@pytest.mark.parametrize(
    "command", [[], ["train"], ["datasets"], ["gradcheck"], ["explain"], ["lr-find"]]
)
def test_help_on_every_subcommand(command):
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: glassnet" in result.stdout
    assert result.stderr == ""


def test_bad_option_is_exit_2_with_one_line():
    result = run("train", "--epochs", "many")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--epochs" in lines[0] and "many" in lines[0]
    result = run("train", "--bogus")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--bogus" in result.stderr


def test_unknown_dataset_lists_the_known_ones(tmp_path):
    result = run("train", "--dataset", "mnits", cwd=tmp_path)
    assert result.returncode == 2  # a usage error, as any bad option value
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for name in ("mnist-5k", "digits", "iris", "fashion-mnist", "moons"):
        assert name in lines[0]
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())  # failed before writing anything


def test_debug_shows_the_traceback(tmp_path):
    result = run(
        "--debug", "explain", "--model", "missing.safetensors", "--dataset", "iris", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr


def test_datasets_lists_sizes_licences_and_locations():
    result = run("datasets")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for piece in (
        "mnist-5k",
        "4,000 + 1,000",
        "CC BY-SA 3.0",
        "digits",
        "iris",
        "CC BY 4.0",
        "fashion-mnist",
        "MIT",
        "moons",
    ):
        assert piece in text
    if not Path("/usr/share/datasets/fashion-mnist").is_dir():
        assert "dataset-fashion-mnist" in text


def test_train_on_a_small_set_prints_accuracy_and_saves(tmp_path):
    out = tmp_path / "iris-model.safetensors"
    result = run(
        "train",
        "--dataset",
        "iris",
        "--layers",
        "16",
        "--epochs",
        "40",
        "--learning-rate",
        "0.01",
        "--batch-size",
        "16",
        "--output",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "test accuracy: " in result.stdout
    accuracy = float(result.stdout.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.8
    assert out.is_file()
    import glassnet as gn

    model = gn.load_model(out)
    assert model.count_params() == 4 * 16 + 16 + 16 * 3 + 3


def test_gradcheck_command_prints_a_report_per_parameter():
    result = run(
        "gradcheck", "--layers", "4,3", "--activation", "tanh", "--loss", "categorical_crossentropy"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout
    for name in ("W", "b"):
        assert name in result.stdout


def test_explain_with_no_options_prints_seed_004():
    result = run("explain")
    assert result.returncode == 0, result.stderr
    for value in (
        "0.593269992",
        "0.75136507",
        "0.298371109",
        "0.35891648",
        "0.149780716",
        "BP1",
        "BP2",
        "BP3",
        "BP4",
    ):
        assert value in result.stdout


def test_explain_json_is_valid_json():
    import json

    result = run("explain", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data  # structure tested in tests/explain


def test_the_readme_main_job(tmp_path):
    """`glassnet train` with no options: seed 002's model on mnist-5k, ≥ 0.90."""
    result = run("train", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "mnist-5k: 4000 training and 1000 test samples" in out
    assert "Epoch 5/5" in out
    accuracy = float(out.split("test accuracy: ")[1].split()[0])
    assert accuracy >= 0.90, out
    assert (tmp_path / "glassnet-model.safetensors").is_file()
