"""Does glassnet's convnet train as well as the same model in PyTorch? Test accuracy side by side.

Keras's "Simple MNIST convnet" — Conv2D(32, 3×3, relu) → MaxPooling(2) → Conv2D(64, 3×3, relu)
→ MaxPooling(2) → Flatten → Dropout(0.5) → Dense(10, softmax) — trained in glassnet and in
PyTorch with everything else the same as Keras: glorot_uniform kernels with Keras's fans
(conv: fan_in = kh·kw·in, fan_out = kh·kw·filters), zero biases, Adam(1e-3, 0.9, 0.999,
ε = 1e-7), batch 128, images scaled to [0, 1], the last 10 % of the training set held out
(``validation_split=0.1``), the rest shuffled every epoch. It prints each seed's test accuracy
and, per framework, the median and range.

First it checks the math: three Adam steps from identical float64 weights, on the same batches,
with the same dropout masks, must give the same losses and weights in both (rtol 1e-9).

    python benchmarks/convnet_accuracy.py --dataset mnist-5k --seeds 0,1,2,3,4
    python benchmarks/convnet_accuracy.py --dataset fashion-mnist --seeds 0
    python benchmarks/convnet_accuracy.py --check-only

This is a benchmark, not a test: only the steps' check can fail (exit 1).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import numpy as np


def load(dataset: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    import glassnet as gn

    (x, y), (xt, yt) = gn.datasets.load(dataset)
    # as Keras's example: astype("float32") / 255
    x = (x.astype(np.float32) / 255)[..., None]
    xt = (xt.astype(np.float32) / 255)[..., None]
    return (x, y.astype(np.int64)), (xt, yt.astype(np.int64))


# ---------------------------------------------------------------------------------------------
# the two models
# ---------------------------------------------------------------------------------------------
def glassnet_model(seed: int, dtype: str = "float32") -> Any:
    import glassnet as gn
    from glassnet import layers as L

    gn.seed(seed)
    model = gn.Sequential(
        [
            L.Input(shape=(28, 28, 1)),
            L.Conv2D(32, kernel_size=(3, 3), activation="relu", dtype=dtype),
            L.MaxPooling2D(pool_size=(2, 2), dtype=dtype),
            L.Conv2D(64, kernel_size=(3, 3), activation="relu", dtype=dtype),
            L.MaxPooling2D(pool_size=(2, 2), dtype=dtype),
            L.Flatten(),
            L.Dropout(0.5, dtype=dtype),
            L.Dense(10, activation="softmax", dtype=dtype),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def torch_model(seed: int, dtype: Any = None) -> Any:
    """The same network in channels_last order at the Flatten (as Keras), initialised as Keras."""
    import torch
    from torch import nn

    torch.manual_seed(seed)

    class ToChannelsLast(nn.Module):
        def forward(self, x: Any) -> Any:
            return x.permute(0, 2, 3, 1)

    model = nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        ToChannelsLast(),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(1600, 10),
    )
    for layer in model:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            # torch's fans for (out, in, kh, kw) are Keras's: in·kh·kw and out·kh·kw
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return model.to(dtype or torch.float32)


def torch_adam(model: Any) -> Any:
    import torch

    return torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)


# ---------------------------------------------------------------------------------------------
# a few steps from identical weights
# ---------------------------------------------------------------------------------------------
def copy_weights_to_torch(model: Any, net: Any) -> None:
    import torch

    conv1, conv2, dense = net[0], net[3], net[9]
    pairs = [(model.layers[0], conv1), (model.layers[2], conv2)]
    with torch.no_grad():
        for ours, theirs in pairs:
            # glassnet's kernel is Keras's (kh, kw, in, out); torch's is (out, in, kh, kw)
            theirs.weight.copy_(torch.from_numpy(ours.W.data.transpose(3, 2, 0, 1).copy()))
            theirs.bias.copy_(torch.from_numpy(ours.b.data.copy()))
        dense.weight.copy_(torch.from_numpy(np.ascontiguousarray(model.layers[6].W.data)))
        dense.bias.copy_(torch.from_numpy(model.layers[6].b.data.copy()))


def check_steps(steps: int = 3, batch: int = 128, rtol: float = 1e-9) -> bool:
    """A few Adam steps (one alone would test little more than the gradients' signs: Adam's
    first update is lr·g/(|g| + ε)), float64, the same batches and dropout masks: the same
    losses and the same updated weights in glassnet and torch."""
    import torch

    (x, y), _ = load("mnist-5k")
    x, y = x[: batch * steps].astype(np.float64), y[: batch * steps]
    model = glassnet_model(0, "float64")
    model.build((28, 28, 1))
    net = torch_model(0, torch.float64)
    copy_weights_to_torch(model, net)
    before = model.layers[6].W.data.copy()

    dropout = model.layers[5]
    masks: list[np.ndarray] = []
    original = dropout.forward_kernel

    def recording(a: np.ndarray, ctx: Any) -> Any:
        out = original(a, ctx)
        if ctx.training:
            # a unit that is 0 after ReLU and pooling passes no gradient either way
            masks.append(np.divide(out, a, out=np.zeros_like(out), where=a != 0))
        return out

    dropout.forward_kernel = recording  # type: ignore[method-assign]
    batches = [slice(i * batch, (i + 1) * batch) for i in range(steps)]
    losses = [float(model.train_on_batch(x[b], y[b])) for b in batches]
    dropout.forward_kernel = original  # type: ignore[method-assign]
    assert len(masks) == steps
    kept = np.concatenate([m[m != 0] for m in masks])
    assert np.allclose(kept, 2.0), "inverted dropout scales kept units by 1/(1 - rate)"

    net.train()
    net[8] = torch.nn.Identity()  # dropout replaced by glassnet's masks, applied below
    optimizer = torch_adam(net)
    torch_losses = []
    for b, mask in zip(batches, masks):
        optimizer.zero_grad()
        h = net[:8](torch.from_numpy(x[b]).permute(0, 3, 1, 2))
        logits = net[9](h * torch.from_numpy(mask))
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y[b]))
        loss.backward()
        optimizer.step()
        torch_losses.append(loss.item())

    expected = {
        "conv1.W": net[0].weight.detach().numpy().transpose(2, 3, 1, 0),
        "conv1.b": net[0].bias.detach().numpy(),
        "conv2.W": net[3].weight.detach().numpy().transpose(2, 3, 1, 0),
        "conv2.b": net[3].bias.detach().numpy(),
        "dense.W": net[9].weight.detach().numpy(),
        "dense.b": net[9].bias.detach().numpy(),
    }
    got = {
        "conv1.W": model.layers[0].W.data,
        "conv1.b": model.layers[0].b.data,
        "conv2.W": model.layers[2].W.data,
        "conv2.b": model.layers[2].b.data,
        "dense.W": model.layers[6].W.data,
        "dense.b": model.layers[6].b.data,
    }
    moved = float(np.abs(got["dense.W"] - before).max())
    print(f"{steps} Adam steps, float64, batch {batch} (dense.W moved by up to {moved:.1e})")
    ok = np.allclose(losses, torch_losses, rtol=rtol)
    for ours, theirs in zip(losses, torch_losses):
        print(f"  loss glassnet {ours:.15f}  torch {theirs:.15f}")
    for name in expected:
        scale = np.abs(expected[name]).max()
        worst = float(np.abs(got[name] - expected[name]).max() / scale)
        close = np.allclose(got[name], expected[name], rtol=rtol, atol=rtol * scale)
        ok = ok and close
        print(f"  {name:8s} max difference / max |w| {worst:.1e}  {'ok' if close else 'DIFFERENT'}")
    return bool(ok)


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
def holdout(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keras's validation_split=0.1: the last 10 % is held out, before any shuffling."""
    keep = len(x) - int(len(x) * 0.1)
    return x[:keep], y[:keep]


def train_glassnet(data: Any, seed: int, epochs: int) -> float:
    (x, y), (xt, yt) = data
    model = glassnet_model(seed)
    model.fit(x, y, batch_size=128, epochs=epochs, validation_split=0.1, verbose=0)
    return float(model.evaluate(xt, yt, verbose=0)[1])


def train_torch(data: Any, seed: int, epochs: int) -> float:
    import torch

    (x, y), (xt, yt) = data
    x, y = holdout(x, y)
    net = torch_model(seed)
    optimizer = torch_adam(net)
    xs = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    ys = torch.from_numpy(y)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(xs), generator=generator)
        for lo in range(0, len(xs), 128):
            idx = order[lo : lo + 128]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(xs[idx]), ys[idx])
            loss.backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        logits = net(torch.from_numpy(xt).permute(0, 3, 1, 2).contiguous())
    return float((logits.argmax(1).numpy() == yt).mean())


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:9s} median {statistics.median(values):.4f}  range {min(values):.4f}–"
        f"{max(values):.4f}  ({len(values)} seeds)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist-5k")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch's intra-op threads")
    parser.add_argument("--check-only", action="store_true")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if not check_steps():
        print("the steps differ: the two do not compute the same update")
        return 1
    if args.check_only:
        return 0
    data = load(args.dataset)
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict[str, list[float]] = {"glassnet": [], "torch": []}
    print(f"{args.dataset}, {args.epochs} epochs, batch 128, validation_split 0.1")
    for seed in seeds:
        for name, train in (("glassnet", train_glassnet), ("torch", train_torch)):
            started = time.perf_counter()
            accuracy = train(data, seed, args.epochs)
            results[name].append(accuracy)
            took = time.perf_counter() - started
            print(f"  seed {seed} {name:9s} test accuracy {accuracy:.4f}  ({took:.0f} s)")
            sys.stdout.flush()
    for name, values in results.items():
        print(summary(name, values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
