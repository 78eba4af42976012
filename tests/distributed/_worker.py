"""The script the distributed tests run, once in one process and under ``mpirun -n P``.

    python _worker.py record OUT.npz [--plain]   one fit per configuration, the weights after
                                                 each step (--plain: fit without distributed)
    python _worker.py train OUT.npz CKPT [--kill-at STEP [--signal HANG|RAISE]] [--resume]
                     [--epochs E] [--dropout RATE]
                                                 a checkpointed fit (rank 1 may stop itself)

Rank 0 writes OUT.npz. Run from the worktree with PYTHONPATH pointing at src.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

import numpy as np

import glassnet
from glassnet.training import distributed

SAMPLES = 991  # 30 batches of 33, then one of a single sample: a shard is empty on rank 1
BATCH = 33  # odd: the two ranks' shards are 16 and 17 rows


def data(dtype: str) -> tuple[np.ndarray, np.ndarray]:
    (x, y), _ = glassnet.datasets.load("mnist-5k")
    x = x[:SAMPLES].reshape(SAMPLES, -1).astype(dtype) / 255.0
    return x, y[:SAMPLES]


def model(dtype: str, optimizer: str, fused: bool, dropout: float = 0.0) -> glassnet.Sequential:
    glassnet.seed(7)
    layers = [glassnet.layers.Dense(32, activation="tanh", input_shape=(784,))]
    if dropout:
        layers.append(glassnet.layers.Dropout(dropout))
    net = glassnet.Sequential([*layers, glassnet.layers.Dense(10, activation="softmax")])
    net.to(dtype)
    opt = {
        "sgd": glassnet.optimizers.SGD(0.1, momentum=0.9),
        "adam": glassnet.optimizers.Adam(1e-3),
    }
    net.compile(
        optimizer=opt[optimizer],
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        fused="auto" if fused else False,
    )
    return net


class Recorder(glassnet.callbacks.Callback):
    """Every parameter and the running loss after each step."""

    def __init__(self, net: glassnet.Sequential) -> None:
        super().__init__()
        self.net = net
        self.weights: list[np.ndarray] = []
        self.losses: list[float] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.weights.append(np.concatenate([p.data.ravel() for p in self.net.parameters()]))
        self.losses.append(float((logs or {})["loss"]))


CONFIGS = [("float64", "sgd", True), ("float64", "adam", False), ("float32", "adam", True)]


def record(out: str, plain: bool) -> None:
    arrays = {}
    for dtype, optimizer, fused in CONFIGS:
        x, y = data(dtype)
        net = model(dtype, optimizer, fused)
        rec = Recorder(net)
        net.fit(x, y, batch_size=BATCH, epochs=4, verbose=0, callbacks=[rec], distributed=not plain)
        key = f"{dtype}-{optimizer}-{'fast' if fused else 'graph'}"
        arrays[f"{key}-weights"] = np.stack(rec.weights)
        arrays[f"{key}-losses"] = np.array(rec.losses)
        arrays[f"{key}-path"] = np.array(net.fit_path()[0])
    if distributed.is_main():
        np.savez(out, **arrays)


class Killer(glassnet.callbacks.Callback):
    """Rank 1 sends itself ``signum`` after ``step`` steps, or hangs with ``signum`` 0
    (printing the time first)."""

    def __init__(self, step: int, signum: int) -> None:
        super().__init__()
        self.step, self.signum, self.seen = step, signum, 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.seen += 1
        if self.seen == self.step and distributed.rank() == 1:
            print(f"killed at {time.time()!r} after step {self.seen}", flush=True)
            if self.signum == 0:  # hang: alive, but never reaching the next step
                time.sleep(3600)
            if self.signum == -1:  # a bug on one rank only
                raise RuntimeError("rank 1's callback breaks")
            os.kill(os.getpid(), self.signum)


def train(out: str, ckpt: str, kill_at: int | None, signum: int, args: argparse.Namespace) -> None:
    x, y = data("float64")
    # Load the compiled kernels (numba) before the timed part: on a busy machine the first
    # step's imports alone can exceed the short timeout the hang test sets.
    model("float64", "adam", True).train_on_batch(x[:2], y[:2])
    net = model("float64", "adam", True, args.dropout)
    callbacks = [Killer(kill_at, signum)] if kill_at else []
    net.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=args.epochs,
        verbose=0,
        callbacks=callbacks,
        checkpoint=ckpt,
        checkpoint_every=5,
        resume=ckpt if args.resume else None,
        distributed=True,
    )
    if distributed.is_main():
        np.savez(out, weights=np.concatenate([p.data.ravel() for p in net.parameters()]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["record", "train"])
    parser.add_argument("out")
    parser.add_argument("ckpt", nargs="?")
    parser.add_argument("--kill-at", type=int, default=None)
    parser.add_argument("--signal", choices=["KILL", "HANG", "RAISE"], default="KILL")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dropout", type=float, default=0.0)
    args = parser.parse_args()
    if args.mode == "record":
        record(args.out, args.plain)
    else:
        special = {"HANG": 0, "RAISE": -1}
        signum = special[args.signal] if args.signal in special else signal.SIGKILL
        train(args.out, args.ckpt, args.kill_at, signum, args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
