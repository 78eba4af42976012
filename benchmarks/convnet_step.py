"""glassnet's training step of Keras's convnet: this tree against other trees (before/after a
change), each in its own worker process, interleaved round by round, with the step's parts.

The model is benchmarks/convnet.py's (Conv2D 32 3×3 relu → MaxPooling 2 → Conv2D 64 3×3 relu →
MaxPooling 2 → Flatten → Dropout → Dense 10 softmax, Adam, batch 128) on random float32
images. The parent asks each worker in turn for one round of timed steps, so the machine's
noise falls on every tree alike, and prints per part the median over rounds of each round's
median step: the whole step, the convolutions (their products and im2col/col2im included),
their products, im2col/col2im, max pooling (both layers, forward and backward), Dropout and
Dense — measured by timing wrappers, as benchmarks/convnet.py's breakdown.

    python benchmarks/convnet_step.py --tree /work/main/src --rounds 12

This is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
PARTS = (
    "whole step",
    "Conv2D",
    "products",
    "im2col/col2im",
    "input gradient",
    "pooling",
    "Dropout",
    "Dense",
)


def worker(steps: int) -> None:
    """Build the model, then on each line of stdin time ``steps`` steps and print one line:
    part=median milliseconds, separated by tabs."""
    import numpy as np

    sys.path.insert(0, HERE)
    from convnet import glassnet_model

    from glassnet.training import split
    from glassnet.training.model import _numeric_environment

    model = glassnet_model(0)
    rng = np.random.default_rng(0)
    x = rng.random((128 * 40, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, len(x))
    model.fit(x[:256], y[:256], epochs=1, batch_size=128, verbose=0)  # compile, build buffers
    spent: dict[str, float] = defaultdict(float)

    def timed(owner: Any, attr: str, part: str) -> None:
        fn = getattr(owner, attr)

        def wrapper(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            out = fn(*a, **k)
            spent[part] += time.perf_counter() - t
            return out

        setattr(owner, attr, wrapper)

    for layer in model.layers:
        kind = type(layer).__name__
        part = "pooling" if "Pooling" in kind else kind
        timed(layer, "forward_kernel", part)
        timed(layer, "backward_kernel", part)
    for op in ("im2col", "col2im"):
        timed(split.HALVED_OPS, op, "im2col/col2im")
    timed(split.RowSplit, "gemm", "products")
    if hasattr(split.RowSplit, "gemm_col2im"):  # trees with the chunked input gradient
        timed(split.RowSplit, "gemm_col2im", "input gradient")
    step = model._step_function()

    @_numeric_environment
    def run(self: Any, count: int) -> dict[str, list[float]]:
        times: dict[str, list[float]] = defaultdict(list)
        for i in range(count):
            spent.clear()
            lo = (i * 128) % (len(x) - 128)
            t = time.perf_counter()
            step(x[lo : lo + 128], y[lo : lo + 128])
            spent["whole step"] = time.perf_counter() - t
            for part, seconds in spent.items():
                times[part].append(seconds)
        return times

    run(model, 5)
    print("ready", flush=True)
    for _ in sys.stdin:
        times = run(model, steps)
        print("\t".join(f"{k}={statistics.median(v) * 1e3:.3f}" for k, v in times.items()))
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", default=[], help="another tree's src/")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--steps", type=int, default=10, help="steps per round")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.steps)
        return 0
    trees = {"this tree": SRC, **{path: path for path in args.tree}}
    workers = {}
    for name, path in trees.items():
        env = dict(os.environ, PYTHONPATH=path)
        command = [sys.executable, __file__, "--worker", "--steps", str(args.steps)]
        workers[name] = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
    for proc in workers.values():
        assert proc.stdin is not None and proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            print("a worker failed to start", file=sys.stderr)
            return 1
    results: dict[str, dict[str, list[float]]] = {name: defaultdict(list) for name in workers}
    for _ in range(args.rounds):
        for name, proc in workers.items():
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
            for item in proc.stdout.readline().strip().split("\t"):
                part, ms = item.split("=")
                results[name][part].append(float(ms))
    for proc in workers.values():
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
    print(f"ms per step, median of {args.rounds} rounds of {args.steps} steps (interleaved)")
    print(f"{'part':16s}" + "".join(f"{name[-24:]:>26s}" for name in workers))
    for part in PARTS:
        row = [results[name][part] for name in workers]  # a part an older tree lacks: "–"
        cells = (f"{statistics.median(ms):26.2f}" if ms else f"{'–':>26s}" for ms in row)
        print(f"{part:16s}" + "".join(cells))
    for name in workers:
        rounds = ", ".join(f"{ms:.1f}" for ms in results[name]["whole step"])
        print(f"whole step per round, {name}: {rounds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
