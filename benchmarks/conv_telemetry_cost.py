"""What one telemetry sample costs in a convnet: the per-layer and per-filter statistics.

Keras's "Simple MNIST convnet" (Conv2D 32 → pooling → Conv2D 64 → pooling → Flatten →
Dropout → Dense 10, Adam) at batch 128 on random 28×28 images: the time of a fast-step step
without telemetry, and of a step that also records every layer's statistics (the convolutions'
per-filter ones included: `Telemetry.record_layer`, then `finish_sample` after the update),
interleaved. fit samples every 20 steps by default, so the overhead per epoch is the extra time
of one sample divided by 20.

    python benchmarks/conv_telemetry_cost.py [--steps 30] [--batch-size 128]

This is a benchmark, not a test: it asserts nothing about time; on a shared machine the
minimum is the steadier figure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import glassnet as gn
from glassnet.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from glassnet.training import Sequential
from glassnet.training.fused import FusedStep, tap_weights
from glassnet.training.telemetry import Telemetry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="steps per mode")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)

    gn.seed(0)
    model = Sequential(
        [
            Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
            MaxPooling2D(2),
            Conv2D(64, 3, activation="relu"),
            MaxPooling2D(2),
            Flatten(),
            Dropout(0.5),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((args.batch_size, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, args.batch_size)
    model.train_on_batch(x, y)  # builds and binds everything
    step = FusedStep(model, model.loss, model.optimizer)
    telemetry = Telemetry(every=1)
    times: dict[str, list[float]] = {"off": [], "sampled": []}
    for i in range(2 * args.steps + 2):
        mode = "off" if i % 2 == 0 else "sampled"
        start = time.perf_counter()
        if mode == "off":
            step(x, y)
        else:
            telemetry.begin_sample(i, 0)
            step(x, y, record=telemetry)
            telemetry.finish_sample(tap_weights(step.layers))
        if i >= 2:  # the first pair warms the buffers up
            times[mode].append(time.perf_counter() - start)
    off, on = times["off"], times["sampled"]
    extra_median = statistics.median(on) - statistics.median(off)
    extra_min = min(on) - min(off)
    print(f"Keras's MNIST convnet, batch {args.batch_size}, {args.steps} steps per mode")
    print(
        f"step without telemetry: median {1000 * statistics.median(off):.1f} ms, min "
        f"{1000 * min(off):.1f} ms"
    )
    print(
        f"step with a sample:     median {1000 * statistics.median(on):.1f} ms, min "
        f"{1000 * min(on):.1f} ms"
    )
    print(
        f"one sample costs {1000 * extra_median:.1f} ms (median), {1000 * extra_min:.1f} ms "
        f"(min); sampled every 20 steps: {100 * extra_min / 20 / min(off):+.2f}% per epoch "
        f"(from the minima)"
    )
    print(f"per-filter series recorded: {sorted(telemetry.filters)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
