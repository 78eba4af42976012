"""What Keras-style code costs: the same MLP (784 → 128 relu → 10 softmax, Adam) written four
ways, trained on the same random data, seconds per epoch (median of epochs 2..N):

* PyTorch (nn.Sequential and its own loop), the peer, first;
* glassnet's Sequential of its layers (the fast step: a loop over the layers' kernels);
* a keras.Sequential of Keras-style custom layers written with keras.ops (the autograd graph);
* a keras.Model subclass with call() over keras.layers.Dense (the autograd graph).

Figures on a shared machine are noisy: compare the ratios printed in one run.

    python benchmarks/keras_paths.py --epochs 4 --samples 10000 --batch-size 128
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

import glassnet as gn
import glassnet.keras as keras
from glassnet.keras import ops


class Linear(keras.layers.Layer):
    def __init__(self, units: int, activation: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units, self.activation = units, activation

    def build(self, input_shape: Any) -> None:
        self.w = self.add_weight(shape=(input_shape[-1], self.units))
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs: Any) -> Any:
        z = ops.matmul(inputs, self.w) + self.b
        if self.activation == "relu":
            return ops.relu(z)
        return ops.softmax(z) if self.activation == "softmax" else z


class MLP(keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = keras.layers.Dense(128, activation="relu")
        self.out = keras.layers.Dense(10, activation="softmax")

    def call(self, inputs: Any) -> Any:
        return self.out(self.hidden(inputs))


def _epochs(fit_one: Any, epochs: int) -> float:
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        fit_one()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:]) if len(times) > 1 else times[0]


def _torch(x: np.ndarray, y: np.ndarray, batch: int, epochs: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    net = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    tx, ty = torch.tensor(x), torch.tensor(y)

    def one() -> None:
        for i in torch.randperm(len(tx)).split(batch):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(tx[i]), ty[i]).backward()
            opt.step()

    return _epochs(one, epochs)


def _glassnet(model: Any, x: np.ndarray, y: np.ndarray, batch: int, epochs: int) -> float:
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    return _epochs(lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0), epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(args.samples, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=args.samples)
    gn.seed(0)
    rows: list[tuple[str, float | None, str]] = [
        ("PyTorch nn.Sequential", _torch(x, y, args.batch_size, args.epochs), "peer"),
    ]
    own = gn.Sequential(
        [gn.layers.Dense(128, "relu", input_dim=784), gn.layers.Dense(10, "softmax")]
    )
    custom = keras.Sequential(
        [keras.Input(shape=(784,)), Linear(128, "relu"), Linear(10, "softmax")]
    )
    sub = MLP()
    for label, model in [
        ("glassnet Sequential", own),
        ("keras.Sequential of custom layers", custom),
        ("keras.Model subclass", sub),
    ]:
        seconds = _glassnet(model, x, y, args.batch_size, args.epochs)
        rows.append((label, seconds, model.fit_path()[0]))
    reference = rows[0][1]
    print(
        f"{args.samples} samples, batch {args.batch_size}, "
        f"median s/epoch of epochs 2..{args.epochs}"
    )
    for label, seconds, path in rows:
        if seconds is None:
            print(f"  {label:36s} not installed")
            continue
        ratio = f"{seconds / reference:5.2f}x PyTorch" if reference else ""
        print(f"  {label:36s} {seconds:7.3f} s  {ratio}  ({path})")


if __name__ == "__main__":
    main()
