"""Keras's "Simple MNIST convnet" on Fashion-MNIST: glassnet against PyTorch and JAX, interleaved.

The model everywhere: Conv2D(32, 3×3, relu) → MaxPooling(2) → Conv2D(64, 3×3, relu) →
MaxPooling(2) → Flatten → Dropout(0.5) → Dense(10, softmax); Adam(1e-3), sparse categorical
cross-entropy, float32, batch 128, images scaled to [0, 1] once before training. Each framework
trains in its own worker process (so peak RSS is its own); the parent interleaves them epoch by
epoch so machine noise hits every peer alike. It prints seconds per epoch (median of epochs
2..N), test accuracy, peak RSS and the time to predict the 10,000 test images, then glassnet's
step broken down (im2col/col2im copies, the products, pooling, the rest of the layers, the
optimiser) against the GEMM floor: the same products, the same shapes, timed alone.

    python benchmarks/convnet.py --epochs 5 --peers torch,jax
    python benchmarks/convnet.py --epochs 2 --subset 6000 --peers torch   # a quick check

This is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

from _interleave import median_seconds, peak_rss_mb, reply, wait_command

PEERS = ("torch", "jax")


def load_data(args: argparse.Namespace) -> Any:
    import numpy as np

    import glassnet as gn

    (x, y), (xt, yt) = gn.datasets.load(args.dataset)
    if args.subset:
        x, y = x[: args.subset], y[: args.subset]
    x, xt = x.astype(np.float32)[..., None], xt.astype(np.float32)[..., None]
    x /= 255.0  # in place: no second copy of the training set at the peak
    xt /= 255.0
    return (x, y.astype(np.int64)), (xt, yt.astype(np.int64))


def time_predict(fn: Any) -> float:
    return median_seconds(fn, repeats=3)


# ---------------------------------------------------------------------------------------------
# glassnet
# ---------------------------------------------------------------------------------------------
def glassnet_model(seed: int) -> Any:
    import glassnet as gn
    from glassnet import layers

    gn.seed(seed)
    model = gn.Sequential(
        [
            layers.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def worker_glassnet(args: argparse.Namespace) -> None:
    import numpy as np

    from glassnet.callbacks import Callback

    (x, y), (xt, yt) = load_data(args)
    model = glassnet_model(args.seed)

    class Interleave(Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            wait_command()
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            reply({"seconds": time.perf_counter() - self.started})

    model.fit(
        x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=0, callbacks=[Interleave()]
    )
    wait_command()
    accuracy = float(np.mean(model.predict(xt, batch_size=1000).argmax(axis=1) == yt))
    seconds = time_predict(lambda: model.predict(xt, batch_size=1000))
    rss = peak_rss_mb()
    parts = step_breakdown(model, x, y, args.batch_size, steps=args.breakdown_steps)
    reply({"accuracy": accuracy, "predict": seconds, "rss": rss, "parts": parts})


def step_breakdown(model: Any, x: Any, y: Any, batch_size: int, steps: int) -> dict[str, float]:
    """Seconds per step in each part of glassnet's fast step, measured by timing wrappers on
    the step's own functions (so it includes their call overhead), and the GEMM floor."""
    import numpy as np

    from glassnet.nn.layers import _windows
    from glassnet.training import split
    from glassnet.training.model import _numeric_environment

    totals: dict[str, float] = defaultdict(float)
    shapes: list[tuple[tuple[int, ...], tuple[int, ...], bool]] = []
    recording = False

    def timed(fn: Any, part: str, record_shapes: bool = False) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            out = fn(*a, **k)
            totals[part] += time.perf_counter() - t
            if record_shapes and recording:
                shapes.append((a[1].shape, a[2].shape, a[1].flags.c_contiguous))  # self, a, b
            return out

        return wrapper

    originals = (_windows.im2col, _windows.col2im, split.RowSplit.gemm, split.RowSplit.gemm_col2im)
    _windows.im2col = timed(_windows.im2col, "im2col/col2im")
    _windows.col2im = timed(_windows.col2im, "im2col/col2im")
    split.RowSplit.gemm = timed(split.RowSplit.gemm, "products (conv)", True)  # type: ignore[method-assign]
    # The input gradients: δ W_matᵀ and col2im, a few samples at a time (their own part).
    split.RowSplit.gemm_col2im = timed(  # type: ignore[method-assign]
        split.RowSplit.gemm_col2im, "conv input gradients (δWᵀ, col2im)", True
    )
    for layer in model.layers:
        kind = type(layer).__name__
        part = "pooling" if "Pooling" in kind else f"{kind} kernel (total)"
        layer.forward_kernel = timed(layer.forward_kernel, part)
        layer.backward_kernel = timed(layer.backward_kernel, part)
    model.optimizer.step = timed(model.optimizer.step, "optimiser")
    try:
        step = model._step_function()

        @_numeric_environment
        def run(self: Any, count: int = steps) -> float:
            t = time.perf_counter()
            for i in range(count):
                lo = (i * batch_size) % (len(x) - batch_size)
                step(x[lo : lo + batch_size], y[lo : lo + batch_size])
            return time.perf_counter() - t

        run(model)  # warm
        recording = True  # the products of one step
        run(model, 1)
        recording = False
        totals.clear()
        whole = run(model)
    finally:
        (  # type: ignore[method-assign]
            _windows.im2col,
            _windows.col2im,
            split.RowSplit.gemm,
            split.RowSplit.gemm_col2im,
        ) = originals
    parts = {k: v / steps for k, v in totals.items()}
    parts["whole step"] = whole / steps
    # The floor: the same products (shapes of one step), alone, through the same RowSplit.
    per_step = shapes
    rng = np.random.default_rng(0)
    operands = [
        (rng.random(a, dtype=np.float32), rng.random(b, dtype=np.float32), contiguous)
        for a, b, contiguous in per_step
    ]
    product = split.RowSplit()

    @_numeric_environment
    def floor(self: Any) -> float:
        t = time.perf_counter()
        for _ in range(steps):
            for a, b, contiguous in operands:
                product.gemm(a if contiguous else np.asfortranarray(a), b, None)
        return (time.perf_counter() - t) / steps

    parts["GEMM floor (conv products alone)"] = floor(model)
    return parts


# ---------------------------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------------------------
def worker_torch(args: argparse.Namespace) -> None:
    import torch

    (x, y), (xt, yt) = load_data(args)
    torch.manual_seed(args.seed)
    xs = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    ys = torch.from_numpy(y)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(1600, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(args.epochs):
        wait_command()
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(xs))
        for i in range(0, len(xs), args.batch_size):
            idx = order[i : i + args.batch_size]
            loss = loss_fn(model(xs[idx]), ys[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        reply({"seconds": time.perf_counter() - started})
    wait_command()
    model.eval()
    xts = torch.from_numpy(xt).permute(0, 3, 1, 2).contiguous()

    def predict() -> Any:
        with torch.no_grad():
            return torch.cat(
                [torch.softmax(model(xts[i : i + 1000]), 1) for i in range(0, len(xts), 1000)]
            )

    accuracy = float((predict().argmax(1).numpy() == yt).mean())
    reply({"accuracy": accuracy, "predict": time_predict(predict), "rss": peak_rss_mb()})


# ---------------------------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------------------------
def worker_jax(args: argparse.Namespace) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    (x, y), (xt, yt) = load_data(args)
    key = jax.random.PRNGKey(args.seed)
    k1, k2, k3, key = jax.random.split(key, 4)

    def glorot(k: Any, shape: tuple[int, ...], fan_in: int, fan_out: int) -> Any:
        lim = (6 / (fan_in + fan_out)) ** 0.5
        return jax.random.uniform(k, shape, minval=-lim, maxval=lim)

    params = {
        "c1": glorot(k1, (3, 3, 1, 32), 9, 288),
        "b1": jnp.zeros(32),
        "c2": glorot(k2, (3, 3, 32, 64), 288, 576),
        "b2": jnp.zeros(64),
        "W": glorot(k3, (1600, 10), 1600, 10),
        "b": jnp.zeros(10),
    }
    dims = ("NHWC", "HWIO", "NHWC")

    def logits(p: Any, xb: Any, key: Any, train: bool) -> Any:
        h = xb
        for w, b in (("c1", "b1"), ("c2", "b2")):
            h = jax.lax.conv_general_dilated(h, p[w], (1, 1), "VALID", dimension_numbers=dims)
            h = jax.nn.relu(h + p[b])
            h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        h = h.reshape(h.shape[0], -1)
        if train:
            keep = jax.random.bernoulli(key, 0.5, h.shape)
            h = jnp.where(keep, h / 0.5, 0.0)
        return h @ p["W"] + p["b"]

    def loss_fn(p: Any, xb: Any, yb: Any, key: Any) -> Any:
        return optax.softmax_cross_entropy_with_integer_labels(logits(p, xb, key, True), yb).mean()

    opt = optax.adam(1e-3)
    state = opt.init(params)

    @jax.jit
    def step(p: Any, s: Any, xb: Any, yb: Any, key: Any) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(p, xb, yb, key)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    rng = np.random.default_rng(args.seed)
    for _ in range(args.epochs):
        wait_command()
        started = time.perf_counter()
        order = rng.permutation(len(x))
        for i in range(0, len(x), args.batch_size):
            idx = order[i : i + args.batch_size]
            key, sub = jax.random.split(key)
            params, state, loss = step(params, state, x[idx], y[idx], sub)
        loss.block_until_ready()
        reply({"seconds": time.perf_counter() - started})
    wait_command()
    predict_fn = jax.jit(lambda p, xb: jax.nn.softmax(logits(p, xb, None, False)))

    def predict() -> Any:
        return np.concatenate(
            [np.asarray(predict_fn(params, xt[i : i + 1000])) for i in range(0, len(xt), 1000)]
        )

    accuracy = float((predict().argmax(1) == yt).mean())
    reply({"accuracy": accuracy, "predict": time_predict(predict), "rss": peak_rss_mb()})


WORKERS = {"glassnet": worker_glassnet, "torch": worker_torch, "jax": worker_jax}


# ---------------------------------------------------------------------------------------------
# the parent
# ---------------------------------------------------------------------------------------------
def installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--peers", default="torch,jax", help="subset of " + ",".join(PEERS))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--subset", type=int, default=0, help="train on the first N images only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--breakdown-steps", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.5)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        WORKERS[args.worker](args)
        return 0
    wanted = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in wanted if p not in PEERS]
    if unknown:
        parser.error(f"unknown peers {unknown}; choose from {', '.join(PEERS)}")
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    order = [p for p in wanted if installed(p)] + ["glassnet"]
    missing = [p for p in wanted if not installed(p)]
    print(
        f"Keras's MNIST convnet on {args.dataset}"
        f"{f' (first {args.subset} images)' if args.subset else ''}: batch {args.batch_size}, "
        f"{args.epochs} epochs, {os.cpu_count()} CPUs; interleaved: {', '.join(order)}",
        flush=True,
    )
    base = [sys.executable, os.path.abspath(__file__)]
    for flag in ("epochs", "batch_size", "dataset", "subset", "seed", "breakdown_steps"):
        base += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    procs = {
        name: subprocess.Popen(
            base + ["--worker", name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for name in order
    }
    epochs: dict[str, list[float]] = {name: [] for name in order}
    results: dict[str, dict[str, Any]] = {}
    try:
        for epoch in range(args.epochs):
            for name, proc in procs.items():
                assert proc.stdin is not None and proc.stdout is not None
                time.sleep(args.pause)  # let the previous worker's threads go idle
                proc.stdin.write("epoch\n")
                proc.stdin.flush()
                reply = proc.stdout.readline()
                if not reply:
                    raise RuntimeError(f"the {name} worker died (see its stderr above)")
                epochs[name].append(json.loads(reply)["seconds"])
            print(
                f"epoch {epoch + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in epochs.items()),
                flush=True,
            )
        for name, proc in procs.items():
            assert proc.stdin is not None and proc.stdout is not None
            time.sleep(1.0)
            proc.stdin.write("finish\n")
            proc.stdin.flush()
            results[name] = json.loads(proc.stdout.readline())
            proc.wait(timeout=120)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    median = {k: statistics.median(v[1:] or v) for k, v in epochs.items()}
    g = median["glassnet"]
    print()
    header = (
        f"{'framework':<10} {'s/epoch':>8} {'glassnet/peer':>14} {'test acc':>9} "
        f"{'peak RSS':>9} {'predict 10k':>12}"
    )
    print(header)
    print("-" * len(header))
    for name in order:
        r = results[name]
        ratio = "" if name == "glassnet" else f"{g / median[name]:.2f}×"
        print(
            f"{name:<10} {median[name]:>8.2f} {ratio:>14} {r['accuracy']:>9.4f} "
            f"{r['rss']:>7.0f}MB {r['predict']:>11.2f}s"
        )
    for name in missing:
        print(f"{name:<10} not installed")
    parts = results["glassnet"]["parts"]
    steps_per_epoch = -(-(args.subset or 60000) // args.batch_size)
    print(f"\nglassnet's step, ms per step (and s per epoch of {steps_per_epoch} steps):")
    for part, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {part:<36} {seconds * 1000:8.2f} ms {seconds * steps_per_epoch:7.2f} s")
    print("  (a layer's total includes its im2col/col2im and products)")
    print(
        "\nper-epoch seconds: "
        + "; ".join(f"{k}: " + ", ".join(f"{s:.2f}" for s in v) for k, v in epochs.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
