"""Seed 002's model on Fashion-MNIST: glassnet against its peers, interleaved in one run.

The model everywhere: Flatten(28×28) → Dense(128, relu) → Dropout(0.2) → Dense(10, softmax),
Adam(1e-3), sparse categorical cross-entropy, float32, images kept uint8 and scaled per batch.
Each framework trains in its own worker process (so peak memory is its own); the parent
interleaves them epoch by epoch — glassnet epoch 1, torch epoch 1, ..., glassnet epoch 2, ... —
so machine noise hits every peer alike. It prints seconds per epoch (median of epochs 2..N),
test accuracy, peak RSS, the time to predict the 10,000 test images, and `import` time, with
glassnet/peer ratios and the GEMM floor (the six matmuls of every step alone) from the same run.

    python benchmarks/seed_model.py --batch-size 32 --epochs 5 --peers torch,jax,sklearn,keras

Peers that are not installed are listed as such; see benchmarks/README.md to install them.
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
from typing import Any

from _interleave import median_seconds, peak_rss_mb, reply, wait_command

PEERS = ("torch", "jax", "sklearn", "keras")
MODULES = {
    "glassnet": "glassnet",
    "torch": "torch",
    "jax": "jax",
    "sklearn": "sklearn",
    "keras": "tensorflow",
}


def time_predict(fn: Any) -> float:
    return median_seconds(fn, repeats=11)


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def load_data(dataset: str) -> Any:
    import glassnet as gn

    return gn.datasets.load(dataset)


# ---------------------------------------------------------------------------------------------
# workers: each trains one framework, one epoch per "epoch" command on stdin
# ---------------------------------------------------------------------------------------------


def glassnet_model(seed: int) -> Any:
    """The seed model in glassnet, compiled (Adam 1e-3, sparse cross-entropy, accuracy)."""
    import glassnet as gn
    from glassnet.layers import Dense, Dropout, Flatten, Rescaling

    gn.seed(seed)
    model = gn.Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28)),
            Flatten(),
            Dense(128, activation="relu"),
            Dropout(0.2),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=gn.optimizers.Adam(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def torch_model(seed: int, x: Any, y: Any) -> tuple[Any, Any]:
    """The seed model in PyTorch and ``train_epoch(batch_size)``, one shuffled pass over (x, y)."""
    import numpy as np
    import torch

    torch.manual_seed(seed)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    model = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, 128),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(128, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def train_epoch(batch_size: int) -> None:
        model.train()
        order = torch.randperm(len(xs))
        for i in range(0, len(xs), batch_size):
            idx = order[i : i + batch_size]
            loss = loss_fn(model(xs[idx].float().div_(255.0)), ys[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return model, train_epoch


def worker_glassnet(args: argparse.Namespace) -> None:
    import numpy as np

    import glassnet as gn
    from glassnet.callbacks import Callback

    (x, y), (xt, yt) = load_data(args.dataset)
    if args.glassnet_threads:
        gn.set_num_threads(args.glassnet_threads)
    model = glassnet_model(args.seed)

    class Interleave(Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            wait_command()
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            reply({"seconds": time.perf_counter() - self.started})

    model.fit(
        x,
        y,
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=0,
        callbacks=[Interleave()],
        telemetry=not args.no_telemetry,
    )
    wait_command()
    probs = model.predict(xt, batch_size=1000)
    accuracy = float(np.mean(probs.argmax(axis=1) == yt))
    seconds = time_predict(lambda: model.predict(xt, batch_size=1000))
    reply({"accuracy": accuracy, "predict": seconds, "rss": peak_rss_mb()})


def worker_torch(args: argparse.Namespace) -> None:
    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    (x, y), (xt, yt) = load_data(args.dataset)
    model, train_epoch = torch_model(args.seed, x, y)
    for _ in range(args.epochs):
        wait_command()
        started = time.perf_counter()
        train_epoch(args.batch_size)
        reply({"seconds": time.perf_counter() - started})
    wait_command()
    model.eval()
    xts = torch.from_numpy(xt)

    def predict() -> Any:
        with torch.no_grad():
            return torch.cat(
                [
                    torch.softmax(model(xts[i : i + 1000].float() / 255.0), dim=1)
                    for i in range(0, len(xt), 1000)
                ]
            )

    accuracy = float((predict().argmax(1).numpy() == yt).mean())
    reply({"accuracy": accuracy, "predict": time_predict(predict), "rss": peak_rss_mb()})


def worker_jax(args: argparse.Namespace) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    (x, y), (xt, yt) = load_data(args.dataset)
    key = jax.random.PRNGKey(args.seed)
    k1, k2, key = jax.random.split(key, 3)
    lim1, lim2 = (6 / (784 + 128)) ** 0.5, (6 / (128 + 10)) ** 0.5
    params = {
        "W1": jax.random.uniform(k1, (784, 128), minval=-lim1, maxval=lim1),
        "b1": jnp.zeros(128),
        "W2": jax.random.uniform(k2, (128, 10), minval=-lim2, maxval=lim2),
        "b2": jnp.zeros(10),
    }
    opt = optax.adam(1e-3)
    state = opt.init(params)

    def logits(p: Any, xb: Any, key: Any, train: bool) -> Any:
        h = jax.nn.relu(xb @ p["W1"] + p["b1"])
        if train:
            keep = jax.random.bernoulli(key, 0.8, h.shape)
            h = jnp.where(keep, h / 0.8, 0.0)
        return h @ p["W2"] + p["b2"]

    def loss_fn(p: Any, xb: Any, yb: Any, key: Any) -> Any:
        z = logits(p, xb, key, True)
        return optax.softmax_cross_entropy_with_integer_labels(z, yb).mean()

    @jax.jit
    def step(p: Any, s: Any, xb: Any, yb: Any, key: Any) -> Any:
        xb = xb.reshape(xb.shape[0], -1).astype(jnp.float32) / 255.0
        loss, grads = jax.value_and_grad(loss_fn)(p, xb, yb, key)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    rng = np.random.default_rng(args.seed)
    n = len(x)
    for _ in range(args.epochs):
        wait_command()
        started = time.perf_counter()
        order = rng.permutation(n)
        for i in range(0, n, args.batch_size):
            idx = order[i : i + args.batch_size]
            key, sub = jax.random.split(key)
            params, state, loss = step(params, state, x[idx], y[idx], sub)
        loss.block_until_ready()
        reply({"seconds": time.perf_counter() - started})
    wait_command()
    predict_fn = jax.jit(
        lambda p, xb: jax.nn.softmax(
            logits(p, xb.reshape(xb.shape[0], -1).astype(jnp.float32) / 255.0, None, False)
        )
    )

    def predict() -> Any:
        return np.concatenate(
            [np.asarray(predict_fn(params, xt[i : i + 1000])) for i in range(0, len(xt), 1000)]
        )

    accuracy = float((predict().argmax(1) == yt).mean())
    reply({"accuracy": accuracy, "predict": time_predict(predict), "rss": peak_rss_mb()})


def worker_sklearn(args: argparse.Namespace) -> None:
    import numpy as np
    from sklearn.neural_network import MLPClassifier

    (x, y), (xt, yt) = load_data(args.dataset)
    # scikit-learn has no dropout and wants floats; it is otherwise the same network.
    xf = x.reshape(len(x), -1).astype(np.float32) / 255.0
    xtf = xt.reshape(len(xt), -1).astype(np.float32) / 255.0
    model = MLPClassifier(
        hidden_layer_sizes=(128,),
        solver="adam",
        learning_rate_init=1e-3,
        batch_size=args.batch_size,
        random_state=args.seed,
    )
    classes = np.arange(10)
    rng = np.random.default_rng(args.seed)
    for _ in range(args.epochs):
        wait_command()
        started = time.perf_counter()
        order = rng.permutation(len(xf))
        model.partial_fit(xf[order], y[order], classes=classes)
        reply({"seconds": time.perf_counter() - started})
    wait_command()
    accuracy = float((model.predict(xtf) == yt).mean())
    reply(
        {
            "accuracy": accuracy,
            "predict": time_predict(lambda: model.predict_proba(xtf)),
            "rss": peak_rss_mb(),
        }
    )


def worker_keras(args: argparse.Namespace) -> None:
    import numpy as np
    import tensorflow as tf

    (x, y), (xt, yt) = load_data(args.dataset)
    tf.keras.utils.set_random_seed(args.seed)
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(28, 28)),
            tf.keras.layers.Rescaling(1 / 255),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(128, activation="relu"),
            tf.keras.layers.Dropout(0.2),
            tf.keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    class Interleave(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            wait_command()
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            reply({"seconds": time.perf_counter() - self.started})

    model.fit(
        x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=0, callbacks=[Interleave()]
    )
    wait_command()
    probs = model.predict(xt, batch_size=1000, verbose=0)
    accuracy = float(np.mean(probs.argmax(axis=1) == yt))
    seconds = time_predict(lambda: model.predict(xt, batch_size=1000, verbose=0))
    reply({"accuracy": accuracy, "predict": seconds, "rss": peak_rss_mb()})


WORKERS = {
    "glassnet": worker_glassnet,
    "torch": worker_torch,
    "jax": worker_jax,
    "sklearn": worker_sklearn,
    "keras": worker_keras,
}


# ---------------------------------------------------------------------------------------------
# the parent: start workers, interleave epochs, print the table
# ---------------------------------------------------------------------------------------------
def installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(MODULES[name]) is not None


def import_seconds(module: str, repeats: int = 3) -> float:
    """Median wall time of `python -c "import module"` minus that of an empty interpreter."""

    def run(code: str) -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        return time.perf_counter() - t

    base = statistics.median(run("pass") for _ in range(repeats))
    return max(statistics.median(run(f"import {module}") for _ in range(repeats)) - base, 0.0)


def gemm_floor(batch_size: int, n: int, repeats: int = 3) -> float:
    """Seconds per epoch of the six float32 matmuls of each step, alone (the faster of one
    and two BLAS threads)."""
    from threadpoolctl import threadpool_limits

    times = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            times.append(_gemm_floor(batch_size, n, repeats))
    return min(times)


def _gemm_floor(batch_size: int, n: int, repeats: int) -> float:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((batch_size, 784), dtype=np.float32)
    W1 = rng.random((128, 784), dtype=np.float32)
    W2 = rng.random((10, 128), dtype=np.float32)
    h = rng.random((batch_size, 128), dtype=np.float32)
    d2 = rng.random((batch_size, 10), dtype=np.float32)
    d1 = rng.random((batch_size, 128), dtype=np.float32)
    steps = -(-n // batch_size)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps):
            x @ W1.T
            h @ W2.T
            d2.T @ h
            d2 @ W2
            d1.T @ x
            x.T @ d1  # the sixth: ∂C/∂x of the first layer, which frameworks may skip
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument(
        "--peers",
        default="torch,jax,sklearn,keras",
        help="comma-separated subset of " + ",".join(PEERS),
    )
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--torch-threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)"
    )
    parser.add_argument(
        "--no-telemetry", action="store_true", help="train glassnet with telemetry off"
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=0.5,
        help="seconds between one worker's epoch and the next's (default 0.5)",
    )
    parser.add_argument(
        "--glassnet-threads",
        type=int,
        default=0,
        help="glassnet.set_num_threads (0: glassnet's default, one BLAS thread)",
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        WORKERS[args.worker](args)
        return 0
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (epoch 1 is warm-up)")
    wanted = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in wanted if p not in PEERS]
    if unknown:
        parser.error(f"unknown peers {unknown}; choose from {', '.join(PEERS)}")
    order = [p for p in wanted if installed(p)] + ["glassnet"]
    # PyTorch first in the table, glassnet last so every ratio reads against the peers above.
    missing = [p for p in wanted if not installed(p)]
    (x, _), _ = load_data(args.dataset)
    n = len(x)
    print(
        f"seed model on {args.dataset}: {n} training images, batch {args.batch_size}, "
        f"{args.epochs} epochs, {os.cpu_count()} CPUs; interleaved workers: {', '.join(order)}",
        flush=True,
    )

    procs: dict[str, subprocess.Popen[str]] = {}
    base = [
        sys.executable,
        os.path.abspath(__file__),
        "--batch-size",
        str(args.batch_size),
        "--epochs",
        str(args.epochs),
        "--dataset",
        args.dataset,
        "--seed",
        str(args.seed),
        "--torch-threads",
        str(args.torch_threads),
        "--glassnet-threads",
        str(args.glassnet_threads),
        "--pause",
        str(args.pause),
    ]
    if args.no_telemetry:
        base.append("--no-telemetry")
    for name in order:
        procs[name] = subprocess.Popen(
            base + ["--worker", name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
    epochs: dict[str, list[float]] = {name: [] for name in order}
    results: dict[str, dict[str, Any]] = {}
    try:
        for epoch in range(args.epochs):
            for name, proc in procs.items():
                assert proc.stdin is not None and proc.stdout is not None
                # A pause so that worker threads still spinning in the previous process
                # (OpenMP, OpenBLAS) go idle before this one starts its epoch.
                time.sleep(args.pause)
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
            # Let every other process's worker threads go idle first (spinning BLAS/OpenMP
            # threads of the previous worker would otherwise slow this one's predict).
            time.sleep(1.0)
            proc.stdin.write("finish\n")
            proc.stdin.flush()
            results[name] = json.loads(proc.stdout.readline())
            proc.wait(timeout=60)
    finally:
        for proc in procs.values():
            proc.kill() if proc.poll() is None else None
            proc.wait()
    floor = gemm_floor(args.batch_size, n)

    median = {name: statistics.median(v[1:]) for name, v in epochs.items()}
    g = median["glassnet"]
    print()
    header = (
        f"{'framework':<10} {'s/epoch':>8} {'glassnet/peer':>14} {'test acc':>9} "
        f"{'peak RSS':>9} {'predict 10k':>12} {'import':>8}"
    )
    print(header)
    print("-" * len(header))
    for name in order:
        r = results[name]
        ratio = "" if name == "glassnet" else f"{g / median[name]:.2f}×"
        imp = import_seconds(MODULES[name]) if name in ("glassnet", "torch") else None
        imp_text = f"{imp:.2f}s" if imp is not None else "—"
        print(
            f"{name:<10} {median[name]:>8.3f} {ratio:>14} {r['accuracy']:>9.4f} "
            f"{r['rss']:>7.0f}MB {r['predict'] * 1000:>10.1f}ms {imp_text:>8}"
        )
    for name in missing:
        print(f"{name:<10} not installed (see benchmarks/README.md)")
    print(f"{'GEMM floor':<10} {floor:>8.3f} {g / floor:>13.2f}× (the six matmuls alone)")
    print(
        "\nper-epoch seconds: "
        + "; ".join(f"{k}: " + ", ".join(f"{s:.2f}" for s in v) for k, v in epochs.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
