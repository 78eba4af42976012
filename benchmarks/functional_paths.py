"""Seconds per epoch of the seed model written three ways: a Sequential, the same layers as a
functional chain (keras.Model(inputs, outputs) — fit's fast step, like the Sequential), and the
same chain forced through the autograd graph (compile(fused=False), the path any non-chain
functional graph takes); PyTorch first when installed, as the peer.

    python benchmarks/functional_paths.py --batch-size 32 --epochs 1 --samples 20000
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np


def _data(samples: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(samples, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=samples)
    return x, y


def _glassnet(kind: str) -> Any:
    import glassnet as gn
    import glassnet.keras as keras
    from glassnet.keras import layers

    gn.seed(0)
    stack = [
        layers.Rescaling(1 / 255),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ]
    if kind == "sequential":
        model = gn.Sequential([gn.layers.Input(shape=(28, 28)), *stack])
    else:
        inputs = keras.Input(shape=(28, 28))
        x = inputs
        for layer in stack:
            x = layer(x)
        model = keras.Model(inputs, x)
    fused = False if kind == "graph" else "auto"
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", fused=fused)
    return model


def _time_glassnet(kind: str, x: np.ndarray, y: np.ndarray, batch: int, epochs: int) -> float:
    model = _glassnet(kind)
    model.fit(x[:batch], y[:batch], epochs=1, batch_size=batch, verbose=0, telemetry=False)
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=batch, verbose=0, telemetry=False)
    print(f"  {kind:<28} path={model.fit_path()[0]}")
    return (time.perf_counter() - start) / epochs


def _time_torch(x: np.ndarray, y: np.ndarray, batch: int, epochs: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, 128),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(128, 10),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    start = time.perf_counter()
    for _ in range(epochs):
        for i in torch.randperm(len(xt)).split(batch):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(xt[i].float() / 255.0), yt[i])
            loss.backward()
            opt.step()
    return (time.perf_counter() - start) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--samples", type=int, default=20000)
    args = parser.parse_args()
    x, y = _data(args.samples)
    print(f"{args.samples} samples, batch {args.batch_size}, s/epoch (noisy on a shared machine)")
    torch_time = _time_torch(x, y, args.batch_size, args.epochs)
    results = {"pytorch": torch_time}
    for kind in ("sequential", "functional chain", "graph"):
        results[kind] = _time_glassnet(kind, x, y, args.batch_size, args.epochs)
    base = results["sequential"]
    for name, seconds in results.items():
        if seconds is None:
            print(f"{name:<20} not installed")
        else:
            print(f"{name:<20} {seconds:8.3f} s/epoch   {seconds / base:5.2f}× the Sequential")


if __name__ == "__main__":
    main()
