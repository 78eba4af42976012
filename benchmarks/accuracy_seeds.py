"""Test accuracy of the seed model over several seeds: glassnet against PyTorch.

One seed's test accuracy after 5 epochs moves by a few tenths of a point from seed to seed, so
"the same accuracy as PyTorch" is a statement about the spread over seeds, not one run. This
trains seed 002's model (Flatten → Dense(128, relu) → Dropout(0.2) → Dense(10, softmax), Adam
1e-3, float32) on Fashion-MNIST with each seed in glassnet and, when installed, in PyTorch,
and prints every accuracy, the mean and the standard deviation.

    python benchmarks/accuracy_seeds.py --batch-size 32 --epochs 5 --seeds 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from seed_model import glassnet_model, torch_model  # the same models as the speed benchmark


def glassnet_accuracy(data: Any, batch_size: int, epochs: int, seed: int) -> float:
    import numpy as np

    (x, y), (xt, yt) = data
    model = glassnet_model(seed)
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, telemetry=False)
    return float(np.mean(model.predict(xt, batch_size=1000).argmax(axis=1) == yt))


def torch_accuracy(data: Any, batch_size: int, epochs: int, seed: int) -> float:
    import torch

    (x, y), (xt, yt) = data
    model, train_epoch = torch_model(seed, x, y)
    for _ in range(epochs):
        train_epoch(batch_size)
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(xt).float() / 255.0).argmax(1).numpy()
    return float((pred == yt).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N−1 (default 5)")
    parser.add_argument("--dataset", default="fashion-mnist")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error(f"--seeds must be at least 2 to give a spread, received {args.seeds}")

    import importlib.util

    import glassnet as gn

    data = gn.datasets.load(args.dataset)
    runners = {"glassnet": glassnet_accuracy}
    if importlib.util.find_spec("torch") is not None:
        runners = {"torch": torch_accuracy, **runners}
    else:
        print("torch: not installed (pip install torch==2.13.0)")
    print(
        f"seed model on {args.dataset}: batch {args.batch_size}, {args.epochs} epochs, "
        f"seeds 0..{args.seeds - 1}"
    )
    results: dict[str, list[float]] = {name: [] for name in runners}
    for seed in range(args.seeds):
        for name, run in runners.items():  # interleaved, so drift hits both alike
            started = time.perf_counter()
            acc = run(data, args.batch_size, args.epochs, seed)
            results[name].append(acc)
            print(f"  seed {seed}: {name:<9} {acc:.4f}  ({time.perf_counter() - started:.1f} s)")
    print(f"\n{'framework':<10}{'mean':>8}{'std':>8}{'min':>8}{'max':>8}")
    for name, accs in results.items():
        print(
            f"{name:<10}{statistics.mean(accs):>8.4f}{statistics.stdev(accs):>8.4f}"
            f"{min(accs):>8.4f}{max(accs):>8.4f}"
        )
    if "torch" in results:
        gap = statistics.mean(results["glassnet"]) - statistics.mean(results["torch"])
        print(f"glassnet − torch: {100 * gap:+.2f} points (mean over seeds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
