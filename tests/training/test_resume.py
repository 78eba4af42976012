"""Checkpoint and resume: 3 epochs + SIGKILL + resume for 3 more == 6 epochs, bit for bit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent("""
    import json, os, signal, sys
    import numpy as np
    import glassnet as gn
    from glassnet.callbacks import Callback, EarlyStopping
    from glassnet.layers import Dense, Dropout, Flatten

    mode, optimizer_name, ckpt, out, kill_epoch, kill_step, every = sys.argv[1:8]
    kill_epoch, kill_step = int(kill_epoch), int(kill_step)
    every = "epoch" if every == "epoch" else int(every)
    (x, y), _ = gn.datasets.load("digits")
    x, y = x[:480], y[:480]
    gn.seed(123)
    model = gn.Sequential([Flatten(input_shape=(8, 8)), gn.layers.Rescaling(1 / 16),
                           Dense(32, activation="relu"), Dropout(0.3),
                           Dense(10, activation="softmax")])
    if optimizer_name == "sgd":
        optimizer = gn.optimizers.SGD(learning_rate=0.05, momentum=0.9)
    else:
        schedule = gn.schedules.CosineDecay(2e-3, decay_steps=60, warmup_steps=10,
                                            warmup_target=4e-3)
        optimizer = gn.optimizers.Adam(learning_rate=schedule)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])

    class Killer(Callback):
        step = 0
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == kill_epoch:
                os.kill(os.getpid(), signal.SIGKILL)
        def on_train_batch_begin(self, batch, logs=None):
            Killer.step += 1
            if kill_step and Killer.step == kill_step:
                os.kill(os.getpid(), signal.SIGKILL)

    stopper = EarlyStopping(monitor="val_loss", patience=50)
    kwargs = dict(epochs=6, batch_size=32, validation_split=0.25, verbose=0,
                  callbacks=[Killer(), stopper])
    if mode == "train":
        kwargs.update(checkpoint=ckpt, checkpoint_every=every)
    elif mode == "resume":
        kwargs.update(resume=ckpt, checkpoint=ckpt, checkpoint_every=every)
    history = model.fit(x, y, **kwargs)
    np.savez(out, *model.get_weights())
    with open(out + ".json", "w") as f:
        json.dump({"history": history.history, "epoch": history.epoch,
                   "iterations": model.optimizer.iterations, "wait": stopper.wait,
                   "best": stopper.best}, f)
""")


def _run(tmp_path, *args):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)], capture_output=True, text=True, timeout=300
    )


def _result(path):
    with np.load(path) as data:
        weights = [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]
    with open(str(path) + ".json") as f:
        return weights, json.load(f)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize(
    "every,kill_epoch,kill_step",
    [("epoch", 3, 0), (5, -1, 47)],
    ids=["after-epoch-3", "mid-epoch-every-5-steps"],
)
def test_killed_and_resumed_run_equals_the_uninterrupted_run(
    tmp_path, optimizer, every, kill_epoch, kill_step
):
    ckpt = tmp_path / "run.ckpt"
    full = _run(tmp_path, "plain", optimizer, ckpt, tmp_path / "full.npz", -1, 0, every)
    assert full.returncode == 0, full.stderr
    killed = _run(
        tmp_path, "train", optimizer, ckpt, tmp_path / "never.npz", kill_epoch, kill_step, every
    )
    assert killed.returncode == -9, killed.stderr  # really killed by SIGKILL
    assert ckpt.is_file() and not (tmp_path / "never.npz").exists()
    resumed = _run(tmp_path, "resume", optimizer, ckpt, tmp_path / "resumed.npz", -1, 0, every)
    assert resumed.returncode == 0, resumed.stderr
    w_full, r_full = _result(tmp_path / "full.npz")
    w_res, r_res = _result(tmp_path / "resumed.npz")
    for a, b in zip(w_full, w_res):
        np.testing.assert_array_equal(a, b)
    assert r_full == r_res
    assert r_full["epoch"] == list(range(6)) and r_full["iterations"] == 6 * 12


def test_resume_refuses_a_checkpoint_for_other_data(tmp_path):
    import glassnet as gn
    from glassnet.errors import InvalidArgumentError
    from glassnet.layers import Dense

    gn.seed(0)
    model = gn.Sequential([Dense(3, input_dim=2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = np.zeros((20, 2), np.float32), np.zeros(20, int)
    model.fit(x, y, epochs=1, verbose=0, checkpoint=tmp_path / "c.ckpt")
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        model.fit(x, y, epochs=2, batch_size=5, verbose=0, resume=tmp_path / "c.ckpt")
    assert os.path.getsize(tmp_path / "c.ckpt") > 0
