"""What a file checksum costs at load time: CRC-32 (zlib) against SHA-256 (hashlib).

glassnet's model files and checkpoints carry a checksum of every byte, verified on every load
(docs/saving.md). This saves a 101,770-parameter model (the seed model's Dense layers, with
Adam's state) and a checkpoint holding 10 million float32 values, then prints the time to load
each, and the time each algorithm takes over the same bytes, as a share of that load.

    python benchmarks/checksum_cost.py --repeats 30
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    import numpy as np

    import glassnet as gn
    from glassnet.io import load_checkpoint, load_model, save_checkpoint, save_model
    from glassnet.io._container import _checksum_span, _file_digest

    directory = tempfile.mkdtemp()
    gn.seed(0)
    model = gn.Sequential(
        [
            gn.nn.Input(shape=(784,)),
            gn.nn.Dense(128, activation="relu"),
            gn.nn.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(np.zeros((32, 784), np.float32), np.zeros(32, int), verbose=0)
    model_path = os.path.join(directory, "model.safetensors")
    ckpt_path = os.path.join(directory, "big.ckpt")
    save_model(model, model_path)
    big = np.random.default_rng(0).normal(size=10_000_000).astype(np.float32)
    save_checkpoint(ckpt_path, {"x": big})

    cases = [
        (f"model file, {model.count_params():,} parameters + Adam state", model_path, load_model),
        ("checkpoint, 10,000,000 float32", ckpt_path, load_checkpoint),
    ]
    for label, path, loader in cases:
        data = open(path, "rb").read()
        header_end = 8 + int.from_bytes(data[:8], "little")
        ((begin, end),) = _checksum_span(data, header_end)
        span = (8 + begin, 8 + end)
        repeats = args.repeats if len(data) < 10**7 else max(3, args.repeats // 3)
        load = best_of(lambda: loader(path), repeats)  # noqa: B023
        print(f"{label}: {len(data) / 1e6:.2f} MB; load (CRC-32 verified) {load * 1e3:.1f} ms")
        for algorithm in ("crc32", "sha256"):
            cost = best_of(lambda: _file_digest(data, span, algorithm), 3 * repeats)  # noqa: B023
            print(
                f"    {algorithm:7s}{cost * 1e3:8.2f} ms  {cost / load * 100:5.1f} % of the load"
                f"  {len(data) / cost / 1e9:5.2f} GB/s"
            )


if __name__ == "__main__":
    main()
