"""Sweeps on Ray Tune (issue 20): ``glassnet.sweep.run`` and ``glassnet sweep``.

One quiet local Ray with 2 CPUs per test module; each trial trains a small network on part of
mnist-5k for a few epochs.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

pytest.importorskip("ray.tune", reason="Ray Tune is not installed (pip install glassnet[ray])")

import glassnet  # noqa: E402
from glassnet import sweep  # noqa: E402
from glassnet.cli import main  # noqa: E402

EPOCHS = 4
FAILING = 5  # the case that raises


@pytest.fixture(scope="module")
def ray_session():
    import ray
    from ray import cloudpickle

    # The trials' function lives in this test module, which Ray's workers cannot import:
    # send it by value, as Ray does for a script's own functions.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    started = sweep._start_ray(None, 2)
    yield
    if started:
        ray.shutdown()


def fit_case(config, callbacks=()):
    """A small classifier on 1000 mnist-5k images, seeded: the same config, the same run."""
    glassnet.seed(0)
    (x, y), _ = glassnet.datasets.load("mnist-5k")
    net = glassnet.Sequential(
        [
            glassnet.layers.Rescaling(1 / 255, input_shape=(28, 28)),
            glassnet.layers.Flatten(),
            glassnet.layers.Dense(int(config["units"]), activation="relu"),
            glassnet.layers.Dense(10, activation="softmax"),
        ]
    )
    net.compile(
        optimizer=glassnet.optimizers.Adam(float(config["lr"])),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return net.fit(
        x[:1000],
        y[:1000],
        epochs=EPOCHS,
        batch_size=50,
        validation_split=0.2,
        verbose=0,
        doctor=False,
        callbacks=list(callbacks),
    )


def train_case(config):
    if config["case"] == FAILING:
        raise ValueError(f"case {FAILING} fails on purpose")
    fit_case(config, [sweep.Report()])


def test_asha_sweep_of_16_trials_records_the_failed_one_and_finds_the_best(ray_session, tmp_path):
    from ray import tune

    space = {
        "case": tune.grid_search(list(range(16))),
        "units": tune.choice([8, 16, 32]),
        "lr": tune.loguniform(1e-4, 3e-1),
    }
    result = sweep.run(
        train_case,
        space,
        metric="val_accuracy",
        mode="max",
        asha=True,
        max_epochs=EPOCHS,
        storage_path=tmp_path / "ray",
        seed=0,
    )
    assert len(result.trials) == 16
    assert sorted(t.config["case"] for t in result.trials) == list(range(16))
    failed = result.failed
    assert [t.config["case"] for t in failed] == [FAILING]
    assert "ValueError" in failed[0].error and "fails on purpose" in failed[0].error
    others = [t for t in result.trials if t.status != "failed"]
    assert all(t.status in ("completed", "stopped early") for t in others)
    for t in others:  # ASHA: a stopped trial ran fewer epochs than the most
        assert (t.epochs == EPOCHS) == (t.status == "completed"), t
        assert 1 <= t.epochs <= EPOCHS
    assert any(t.status == "stopped early" for t in others)
    # The best is the highest val_accuracy reported, and it is real: the same configuration
    # trained here, outside Ray, gives the same validation accuracy.
    best = result.best
    assert best is not None and best.status == "completed"
    scores = [t.metrics["val_accuracy"] for t in others]
    assert best.metrics["val_accuracy"] == max(scores) > 0.5
    again = fit_case(best.config).history["val_accuracy"][-1]
    assert abs(again - best.metrics["val_accuracy"]) <= 1 / 200  # one of 200 images at most
    table = result.table()
    assert table.splitlines()[2].startswith(best.trial_id) and "failed: ValueError" in table
    path = tmp_path / "best.json"
    result.save_best(path)
    saved = json.loads(path.read_text())
    assert saved["config"]["case"] == best.config["case"]
    assert saved["value"] == best.metrics["val_accuracy"]
    assert (saved["trials"], saved["failed"]) == (16, 1)


def test_glassnet_sweep_command_grid_with_asha(ray_session, tmp_path, capsys):
    """glassnet sweep over a grid of train's options: a table, the best saved as JSON, the
    best as a train command line."""
    out = tmp_path / "best.json"
    code = main(
        [
            "sweep",
            "--grid",
            "lr=0.01,0.0001",
            "--grid",
            "batch-size=128",
            "--asha",
            "--storage",
            str(tmp_path / "ray"),
            "--output",
            str(out),
            "--",
            "--epochs",
            "2",
            "--layers",
            "16",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    saved = json.loads(out.read_text())
    assert saved["trials"] == 2 and saved["failed"] == 0
    assert set(saved["config"]) == {"learning-rate", "batch-size"}
    rows = [line.split() for line in printed.splitlines() if "_0000" in line]
    assert len(rows) == 2
    shown = [float(r[-2]) for r in rows]  # the table rounds to 4 decimals, best first
    assert shown[0] == max(shown) == pytest.approx(saved["value"], abs=5e-5)
    assert "glassnet train --epochs 2 --layers 16 --validation-split 0.2" in printed


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--grid", "nope=1"], "'nope' is not an option of glassnet train"),
        (["--grid", "lr=0.1,abc"], "--learning-rate: expected a positive number"),
        (["--sample", "lr=normal:0:1"], "KIND one of loguniform, uniform, randint"),
        (["--sample", "lr=loguniform:0:1"], "LOW > 0 for loguniform"),
        (["--grid", "lr"], "--grid expects NAME=VALUES"),
    ],
)
def test_sweep_usage_errors_are_one_line_before_ray_starts(args, expected, tmp_path, capsys):
    import ray

    running = ray.is_initialized()
    assert main(["sweep", *args, "--output", str(tmp_path / "b.json")]) == 1
    assert ray.is_initialized() == running  # the error came before any Ray was started
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("glassnet sweep: error:"), lines
    assert expected in lines[0]
    assert not (tmp_path / "b.json").exists()


def test_best_of_a_result_follows_the_mode():
    trials = [
        sweep.TrialResult("a", {"x": 1}, "completed", {"val_loss": 0.5}, 3),
        sweep.TrialResult("b", {"x": 2}, "stopped early", {"val_loss": 0.2}, 1),
        sweep.TrialResult("c", {"x": 3}, "failed", {}, 0, "ValueError: no"),
        sweep.TrialResult("d", {"x": 4}, "completed", {"val_loss": float("nan")}, 3),
    ]
    assert sweep.SweepResult(trials, "val_loss", "min").best.trial_id == "b"
    assert sweep.SweepResult(trials, "val_loss", "max").best.trial_id == "a"
    assert sweep.SweepResult(trials[2:3], "val_loss", "max").best is None
    assert np.isnan(trials[3].metrics["val_loss"])
