"""What telemetry and the training doctor cost: seconds per epoch with them off and on.

Trains seed 002's model — Flatten → Dense(128, relu) → Dropout(0.2) → Dense(10, softmax),
Adam, batch 32 — on Fashion-MNIST when it is on this machine (/usr/share/datasets/
fashion-mnist, the Debian package dataset-fashion-mnist), else on the embedded MNIST-5k, in
these modes:

    off        fit(..., telemetry=False)
    on         fit(..., telemetry=True)                      per-layer statistics every 20 steps
    doctor     fit(..., telemetry=True, callbacks=[Doctor()])  plus the rules at every epoch end
    every-step fit(..., telemetry=1)                          (with --every-step) the worst case

One model trains through all the modes, interleaved epoch by epoch (one ``fit(epochs=1)`` per
mode per round, the order rotating every round), so that a machine that slows down or speeds
up during the run, and the model's own slow-down as training goes on (denormals in Adam's
moments), affect every mode alike. One model rather than one per mode: identical instances
built from the same seed differ by themselves by up to 10 % in speed on these machines (where
their flat buffers land in memory, different dropout streams), which would swamp an overhead
of a few percent. An epoch is
timed from ``on_epoch_begin`` to the end of ``on_epoch_end`` (after the Doctor's checks), so
the figures leave out fit's fixed set-up and include everything done per step and per epoch.
The overhead is the median epoch of a mode against the median epoch with telemetry off, and
the same for the fastest epochs (on a shared machine the minimum is the steadier figure).

There is no peer to compare with: neither Keras nor PyTorch records these statistics.

    python benchmarks/telemetry_overhead.py
    python benchmarks/telemetry_overhead.py --epochs 8 --every-step

This is a benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np

import glassnet as gn
from glassnet.diagnostics import Doctor
from glassnet.layers import Dense, Dropout, Flatten, Rescaling
from glassnet.training import Sequential
from glassnet.training.callbacks import Callback

FASHION = "/usr/share/datasets/fashion-mnist"


class EpochTimer(Callback):
    """Seconds from on_epoch_begin to the end of on_epoch_end (put it last)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


class TimedDoctor(Doctor):
    """A Doctor that also measures the time spent in its own epoch-end checks."""

    def __init__(self) -> None:
        super().__init__(verbose=0)
        self.check_seconds: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        start = time.perf_counter()
        super().on_epoch_end(epoch, logs)
        self.check_seconds.append(time.perf_counter() - start)


def seed_model() -> Sequential:
    gn.seed(0)
    model = Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28)),
            Flatten(),
            Dense(128, activation="relu"),
            Dropout(0.2),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="rounds (epochs per mode)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--dataset", default=None, help="default: fashion-mnist if installed, else mnist-5k"
    )
    parser.add_argument(
        "--every-step",
        action="store_true",
        help="also time telemetry at every step (the worst case)",
    )
    args = parser.parse_args(argv)

    name = args.dataset or ("fashion-mnist" if os.path.isdir(FASHION) else "mnist-5k")
    (x, y), _ = gn.datasets.load(name)
    print(
        f"telemetry overhead: seed 002 model on {name} ({len(x):,} samples, batch "
        f"{args.batch_size}, {-(-len(x) // args.batch_size)} steps per epoch), "
        f"{args.epochs} interleaved epochs per mode"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, glassnet "
        f"{gn.__version__}, {platform.machine()}, {os.cpu_count()} CPUs"
    )

    modes: dict[str, dict[str, Any]] = {
        "off": {"telemetry": False},
        "on": {"telemetry": True},
        "doctor": {"telemetry": True},
    }
    if args.every_step:
        modes["every-step"] = {"telemetry": 1}
    model = seed_model()
    timers = {mode: EpochTimer() for mode in modes}
    doctor = TimedDoctor()
    findings: list[Any] = []
    names = list(modes)
    for r in range(args.epochs):
        order = names[r % len(names) :] + names[: r % len(names)]
        for mode in order:
            callbacks: list[Callback] = [doctor] if mode == "doctor" else []
            history = model.fit(
                x,
                y,
                epochs=r + 1,
                initial_epoch=r,
                batch_size=args.batch_size,
                verbose=0,
                callbacks=callbacks + [timers[mode]],
                **modes[mode],
            )
            if mode == "doctor":
                findings = list(history.findings)
        print(
            f"  round {r + 1}: " + ", ".join(f"{m} {timers[m].seconds[-1]:.3f}s" for m in names),
            flush=True,
        )

    base = statistics.median(timers["off"].seconds)
    best = min(timers["off"].seconds)
    print()
    print(f"{'mode':<12}{'median s/epoch':>16}{'overhead':>10}{'min s/epoch':>14}{'overhead':>10}")
    for mode in names:
        seconds = timers[mode].seconds
        med, low = statistics.median(seconds), min(seconds)
        over = "" if mode == "off" else f"{100 * (med / base - 1):+.1f}%"
        over_min = "" if mode == "off" else f"{100 * (low / best - 1):+.1f}%"
        print(f"{mode:<12}{med:>16.3f}{over:>10}{low:>14.3f}{over_min:>10}")
    checks = doctor.check_seconds
    print(
        f"\nthe Doctor's own epoch-end checks: median {1000 * statistics.median(checks):.1f} ms "
        f"per epoch ({100 * statistics.median(checks) / base:.2f}% of an epoch)"
    )
    print(f"findings on this run: {[f.rule for f in findings] or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
