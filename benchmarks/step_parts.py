"""Where one training step of the seed model spends its time, part by part.

Times every part of glassnet's fused step for seed 002's model (Flatten → Dense(128, relu) →
Dropout(0.2) → Dense(10, softmax), Adam, float32) at one batch size, on Fashion-MNIST-shaped
data, with one BLAS thread and flush-to-zero as ``fit`` runs them: the matrix products, each
elementwise part through NumPy and through the compiled kernels (numba, when installed), Adam,
and the whole step: on one core both ways, and with the helper thread that takes half of the
first layer (training/parallel.py). Parts are timed alone (median of repeats), so they add up to
less than the whole step, whose arrays are colder in cache; the whole-step lines are the ones
to compare.

    python benchmarks/step_parts.py --batch-size 256
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _median_us(fn: Callable[[], Any], repeats: int, number: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - started) / number)
    return statistics.median(times) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, received {args.batch_size}")

    import glassnet as gn
    from glassnet._fpenv import flush_denormals
    from glassnet._threads import blas_threads
    from glassnet.functional.nn import dropout_bits
    from glassnet.layers import Dense, Dropout, Flatten, Rescaling
    from glassnet.optim import accelerated
    from glassnet.training import kernels
    from glassnet.training.fused import FusedStep

    n = args.batch_size
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(60_000, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=60_000)
    gn.seed(0)
    hidden, output = Dense(128, activation="relu"), Dense(10, activation="softmax")
    model = gn.Sequential(
        [Rescaling(1 / 255, input_shape=(28, 28)), Flatten(), hidden, Dropout(0.2), output]
    )
    model.compile(optimizer=gn.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    model.fit(images[:n], labels[:n], epochs=1, batch_size=n, verbose=0)  # build, bind, compile
    assert hidden.W is not None and hidden.b is not None and output.W is not None
    assert model.loss is not None
    W1, W2, b1 = hidden.W.data, output.W.data, hidden.b.data
    xb = images[:n]
    x = np.empty((n, 28, 28), np.float32)
    # realistic values everywhere (garbage in empty arrays can be NaN or subnormal)
    z1, a1, d1 = (rng.normal(size=(n, 128)).astype(np.float32) for _ in range(3))
    z2, delta = (rng.normal(size=(n, 10)).astype(np.float32) for _ in range(2))
    dW1, dW2 = np.asfortranarray(np.empty_like(W1)), np.asfortranarray(np.empty_like(W2))
    db1 = np.empty(128, np.float32)
    y = labels[:n].astype(np.intp)
    bits = dropout_bits((n, 128))
    x2 = x.reshape(n, -1)
    kernels.scale_into(xb, 1 / 255, x)
    g1 = rng.normal(size=(n, 128)).astype(np.float32)

    # (name, the part, kind): "gemm" and "numpy" parts have one path, "both" two.
    parts: list[tuple[str, Callable[[], Any], str]] = [
        ("x·W1ᵀ (784 → 128)", lambda: np.matmul(x2, W1.T, out=z1), "gemm"),
        ("a·W2ᵀ (128 → 10)", lambda: np.matmul(a1, W2.T, out=z2), "gemm"),
        ("δ2·W2 (back to 128)", lambda: np.matmul(delta, W2, out=d1), "gemm"),
        ("∂C/∂W2 = δ2ᵀ·a", lambda: np.matmul(delta.T, a1, out=dW2), "gemm"),
        ("∂C/∂W1 = δ1ᵀ·x", lambda: np.matmul(g1.T, x2, out=dW1), "gemm"),
        ("gather the batch x[idx]", lambda: images[y], "numpy"),
        ("uint8 → float, ×1/255", lambda: kernels.scale_into(xb, 1 / 255, x), "both"),
        ("z += b, ReLU", lambda: kernels.bias_relu(z1, b1, a1), "both"),
        ("dropout bits", lambda: dropout_bits((n, 128)), "numpy"),
        ("dropout a ⊙ mask", lambda: kernels.apply_dropout(a1, bits, 0.2, out=d1), "both"),
        ("softmax, cost, δᴸ", lambda: kernels.sparse_softmax_cross_entropy(z2, y, delta), "both"),
        ("ReLU′: g ⊙ (z > 0)", lambda: kernels.relu_vjp(z1, g1, d1), "both"),
        ("∂C/∂b1 = Σ δ1", lambda: kernels.column_sums(g1, db1), "both"),
        ("Adam (101,770 weights)", lambda: model.optimizer.step(), "both"),
    ]
    number = max(1, 20_000 // n)
    step = FusedStep(model, model.loss, model.optimizer)
    order = np.random.default_rng(1).permutation(60_000)
    batches = [order[i : i + n] for i in range(0, 60_000 - n + 1, n)][:number]

    def whole_step() -> None:
        for idx in batches:
            step(images[idx], labels[idx])

    print(f"seed model step, batch {n}: median µs of {args.repeats} repeats, 1 BLAS thread")
    have_numba = accelerated.available()
    print(f"{'part':<28}{'NumPy':>10}{'compiled':>10}")
    with blas_threads(), flush_denormals():
        model.train()
        gemm_total = 0.0
        for name, fn, kind in parts:
            accelerated.enable(False)
            slow = _median_us(fn, args.repeats, number)
            shown = ""
            if kind == "both" and have_numba:
                accelerated.enable(True)
                shown = f"{_median_us(fn, args.repeats, number):>10.1f}"
            accelerated.enable(True)
            if kind == "gemm":
                gemm_total += slow
            print(f"{name:<28}{slow:>10.1f}{shown}")
        results = {}
        for flag in (False, True) if have_numba else (False,):
            accelerated.enable(flag)
            gn.set_num_threads(1)  # the caller alone
            results[flag] = _median_us(whole_step, args.repeats, 1) / len(batches)
            gn.set_num_threads(None)
        if have_numba:  # the default: half of the first layer on the helper thread
            results["helper"] = _median_us(whole_step, args.repeats, 1) / len(batches)
        accelerated.enable(True)
    print(f"{'the five matrix products':<28}{gemm_total:>10.1f}")
    whole = f"{results[True]:>10.1f}" if True in results else f"{'':>10}"
    print(f"{'whole step, one core':<28}{results[False]:>10.1f}{whole}")
    if "helper" in results:
        print(f"{'whole step, with the helper':<28}{'':>10}{results['helper']:>10.1f}")
    else:
        print("numba is not installed: pip install 'glassnet[fast]' for the compiled column")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
