"""Issue 17's command-line regressions, run as the real command in a subprocess:
``explain --weight w5``, explaining a model trained on moons (its Normalization layer), and
a divergent ``train`` run's summary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from glassnet.explain import backprop, seed004_example


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, GLASSNET_OFFLINE="1")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "glassnet", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test_explain_weight_w5_as_docs_show() -> None:
    done = run("explain", "--weight", "w5")
    assert done.returncode == 0, done.stderr
    model, x, y, loss, lr = seed004_example()
    expected = backprop(model, x, y, loss=loss, learning_rate=lr).layer(2).grad_W[0, 0]
    assert "ONE WEIGHT'S STORY" in done.stdout
    assert f"∂E/∂w5 = {expected:.9g} ✓ matches" in done.stdout
    docs = (Path(__file__).resolve().parents[2] / "docs" / "explain.md").read_text("utf-8")
    assert "glassnet explain --weight w5" in docs
    bad = run("explain", "--weight", "x5")
    assert bad.returncode == 2
    assert "w5" in bad.stderr and "Traceback" not in bad.stderr


def test_a_model_trained_on_moons_can_be_explained(tmp_path: Path) -> None:
    done = run("train", "--dataset", "moons", "--epochs", "1", "--quiet", "--output", "m.gn",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    explained = run("explain", "--model", "m.gn", "--dataset", "moons", "--format", "json",
                    cwd=tmp_path)  # fmt: skip
    assert explained.returncode == 0, explained.stderr
    import json

    data = json.loads(explained.stdout)
    assert data["check"]["agree"] is True
    # a^0 is the normalised input: (x − mean) / std of the training data, per feature
    from glassnet import datasets

    (x_train, _), (x_test, _) = datasets.load("moons")
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    np.testing.assert_allclose(
        data["layers"][0]["a_prev"], (x_test[0] - mean) / std, rtol=1e-5, atol=1e-6
    )
    assert any("Normalization" in note for note in data["notes"])


def test_a_divergent_run_says_when_it_stopped_without_numpy_warnings(tmp_path: Path) -> None:
    done = run(
        "train", "--dataset", "moons", "--layers", "8", "--optimizer", "sgd",
        "--learning-rate", "50", "--epochs", "10", "--output", "m.gn", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    stopped = re.search(r"loss became NaN at epoch (\d+)", out)
    assert stopped is not None, out
    assert f"stopped in epoch {stopped.group(1)} of 10" in out
    assert "(10 epochs in" not in out
    assert "RuntimeWarning" not in done.stderr and "encountered in" not in done.stderr
    assert "fewer layers" not in out  # one hidden layer: the cause is the learning rate
    assert "lr_too_high" in out
    losses = re.findall(r"loss: ([0-9.e+\-naif]+)", out)
    assert losses and all(len(v) <= 12 for v in losses), losses  # no 37-digit numbers
