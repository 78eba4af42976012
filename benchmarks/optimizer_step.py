"""Time one optimiser step over the seed model's 101,770 float32 parameters.

The seed model (Flatten → Dense(128, relu) → Dropout(0.2) → Dense(10, softmax)) has parameters
of shapes (128, 784), (128,), (10, 128), (10,). At batch 32 an epoch of Fashion-MNIST is 1,875
steps, so every microsecond of the step costs ~2 ms per epoch. This script times SGD, SGD with
momentum and Adam in glassnet and in ``torch.optim`` (when installed, measured first), with the
same gradients, and prints per-step medians and glassnet/peer ratios. It is not a test.

Each timed step first writes the next of 16 random gradients into the parameters' existing
gradient arrays (in place, as backward does), because a gradient that never changes is not
what training sees: with it, Adam's m converges to g and PyTorch's lerp form g − m underflows
into slow float32 denormals. The cost of that write is timed alone and subtracted ("net").

    python benchmarks/optimizer_step.py [--steps 500] [--repeats 7] [--denormal-columns 0.2]

``--denormal-columns F``: that fraction of the first layer's input columns (pixels) gets a zero
gradient and, after the first step, Adam's moments there are set to a float32 denormal
(1e-39), in both glassnet and PyTorch. That is the state of weights of pixels that were
nonzero long ago: m and v decay geometrically (v by 0.999 a step, so it stays subnormal for
thousands of steps) and every pass that touches them slows down. Compare with F = 0.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

SHAPES = [(128, 784), (128,), (10, 128), (10,)]


N_GRADS = 16


DENORMAL = 1e-39  # below float32's smallest normal number, 1.18e-38


def make_arrays(
    seed: int, denormal_columns: float
) -> tuple[list[np.ndarray], list[list[np.ndarray]], np.ndarray]:
    """Initial weights, N_GRADS gradient sets (lists of arrays of SHAPES), the quiet columns."""
    rng = np.random.default_rng(seed)
    weights = [(rng.standard_normal(s) * 0.05).astype(np.float32) for s in SHAPES]
    n_quiet = int(round(denormal_columns * SHAPES[0][1]))
    cols = np.sort(rng.choice(SHAPES[0][1], size=n_quiet, replace=False))
    sets = []
    for _ in range(N_GRADS):
        grads = [(rng.standard_normal(s) * 1e-3).astype(np.float32) for s in SHAPES]
        grads[0][:, cols] = 0.0
        sets.append(grads)
    return weights, sets, cols


def time_steps(step: Callable[[], object], steps: int, repeats: int) -> float:
    """Median over ``repeats`` runs of the mean time of one step (seconds)."""
    for _ in range(min(50, steps)):
        step()  # warm up: first-step allocation, caches, lazy state
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        samples.append((time.perf_counter() - t0) / steps)
    return statistics.median(samples)


def glassnet_step(
    kind: str,
    weights: list[np.ndarray],
    sets: list[list[np.ndarray]],
    cols: np.ndarray,
    with_step: bool = True,
) -> Callable[[], object]:
    from glassnet.nn import Parameter
    from glassnet.optimizers import SGD, Adam, Optimizer

    params = [Parameter(w.copy()) for w in weights]
    opt: Optimizer
    if kind == "sgd":
        opt = SGD(params, learning_rate=0.01)
    elif kind == "momentum":
        opt = SGD(params, learning_rate=0.01, momentum=0.9)
    else:
        opt = Adam(params, learning_rate=1e-3)
    assert all(p.data.dtype == np.float32 for p in params)
    if with_step and kind == "adam" and len(cols):
        opt.step()
        flat = opt.flat
        assert flat is not None
        for name in ("exp_avg", "exp_avg_sq"):
            flat.state_view(name, 0)[:, cols] = DENORMAL
    count = [0]

    def step() -> None:
        count[0] += 1
        for p, g in zip(params, sets[count[0] % N_GRADS]):
            p.grad[...] = g  # type: ignore[index]  # in place, into the flat gradient buffer
        if with_step:
            opt.step()

    return step


def torch_step(
    kind: str,
    variant: str,
    weights: list[np.ndarray],
    sets: list[list[np.ndarray]],
    cols: np.ndarray,
    with_step: bool = True,
) -> Callable[[], object] | None:
    import torch

    params = [torch.tensor(w.copy(), requires_grad=True) for w in weights]
    tsets = [[torch.from_numpy(g) for g in grads] for grads in sets]
    for p, g in zip(params, tsets[0]):
        p.grad = g.clone()
    flags: dict[str, Any] = {}
    if variant == "foreach":
        flags["foreach"] = True
    elif variant == "fused":
        flags["fused"] = True
    try:
        if kind == "sgd":
            opt: torch.optim.Optimizer = torch.optim.SGD(params, lr=0.01, **flags)
        elif kind == "momentum":
            opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, **flags)
        else:
            opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7, **flags)
        opt.step()
    except (RuntimeError, ValueError):
        return None  # variant not supported on this device/version
    if kind == "adam" and len(cols):
        index = torch.from_numpy(cols)
        with torch.no_grad():
            for name in ("exp_avg", "exp_avg_sq"):
                opt.state[params[0]][name][:, index] = DENORMAL
    count = [0]

    def step() -> None:
        count[0] += 1
        for p, g in zip(params, tsets[count[0] % N_GRADS]):
            p.grad.copy_(g)  # type: ignore[union-attr]
        if with_step:
            opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs (median taken)")
    parser.add_argument(
        "--denormal-columns",
        type=float,
        default=0.0,
        help="fraction of first-layer input columns whose Adam moments are "
        "float32 denormals (zero gradient there)",
    )
    args = parser.parse_args()

    weights, sets, cols = make_arrays(0, args.denormal_columns)
    n = sum(w.size for w in weights)
    try:
        import torch
    except ImportError:
        torch = None  # type: ignore[assignment]
    print(
        f"optimizer step over {n:,} float32 parameters {SHAPES}; "
        f"median of {args.repeats} runs of {args.steps} steps"
    )
    if len(cols):
        print(
            f"Adam moments of {len(cols)} of {SHAPES[0][1]} input columns start as "
            f"denormals ({DENORMAL:g})"
        )
    if torch is not None:
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
            f"numpy {np.__version__} (single-threaded elementwise)"
        )
    else:
        print("torch: not installed (pip install torch==2.13.0) — glassnet only")
    print()
    copy_ours = time_steps(
        glassnet_step("sgd", weights, sets, cols, with_step=False), args.steps, args.repeats
    )
    copy_torch = float("nan")
    if torch is not None:
        fn = torch_step("sgd", "default", weights, sets, cols, with_step=False)
        assert fn is not None
        copy_torch = time_steps(fn, args.steps, args.repeats)
    print(
        f"gradient write alone (subtracted below): glassnet {copy_ours * 1e6:.1f} µs, "
        f"torch {copy_torch * 1e6:.1f} µs"
    )
    print()
    header = (
        f"{'optimizer':<10} {'peer':<22} {'µs/step':>9} {'net µs':>8} {'glassnet/peer (net)':>20}"
    )
    print(header)
    print("-" * len(header))
    for kind in ("sgd", "momentum", "adam"):
        rows: list[tuple[str, float]] = []
        if torch is not None:
            for variant in ("default", "foreach", "fused"):
                step = torch_step(kind, variant, weights, sets, cols)
                name = f"torch.optim ({variant})"
                rows.append(
                    (
                        name,
                        float("nan")
                        if step is None
                        else time_steps(step, args.steps, args.repeats),
                    )
                )
        ours = time_steps(glassnet_step(kind, weights, sets, cols), args.steps, args.repeats)
        ours_net = ours - copy_ours
        for name, t in rows:
            net = t - copy_torch
            ratio = ours_net / net if t == t else float("nan")
            shown = f"{t * 1e6:9.1f} {net * 1e6:8.1f}" if t == t else f"{'n/a':>9} {'n/a':>8}"
            print(f"{kind:<10} {name:<22} {shown} {ratio:20.2f}")
        print(f"{kind:<10} {'glassnet':<22} {ours * 1e6:9.1f} {ours_net * 1e6:8.1f} {1.0:20.2f}")
        print(
            f"{'':<10} (glassnet: {ours_net * 1875 * 1e3:.0f} ms of optimizer per 1,875-step epoch)"
        )
    print()
    print(
        "ratio < 1: glassnet is faster. On CPU torch.optim's default is its single-tensor "
        "loop; 'fused' is its one-kernel Adam/SGD."
    )


if __name__ == "__main__":
    main()
