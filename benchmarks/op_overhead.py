"""Per-op overhead: forward + backward of one op on tiny tensors, glassnet beside PyTorch.

On tiny tensors (shape (4,) or (4, 4)) the arithmetic is negligible, so this measures what
each library spends per op in Python and bookkeeping: building the graph node, dispatching,
and running the vector-Jacobian product. Both libraries run the same float32 work in the same
process; PyTorch is measured first for every op. Each figure is the median over ``--repeat``
rounds of the mean over ``--number`` calls.

    python benchmarks/op_overhead.py
    python benchmarks/op_overhead.py --repeat 50 --number 500 --ops add,matmul

This is a benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import glassnet as gn
import glassnet.functional as F

try:  # the optional peer
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None

Step = Callable[[], None]


def glassnet_cases(rng: np.random.Generator) -> dict[str, tuple[str, Step]]:
    """One closure per op: a forward and a backward on fresh graph nodes over fixed leaves."""

    def leaf(*shape: int) -> gn.Tensor:
        return gn.tensor(rng.normal(size=shape).astype(np.float32), requires_grad=True)

    v1, v2, m1, m2 = leaf(4), leaf(4), leaf(4, 4), leaf(4, 4)
    W1, b1, W2, b2 = leaf(4, 4), leaf(4), leaf(3, 4), leaf(3)
    labels = np.array([0, 2, 1, 2])
    g4, g44 = np.ones(4, np.float32), np.ones((4, 4), np.float32)
    g2, g34 = np.ones(2, np.float32), np.ones((4, 3), np.float32)

    def chain10() -> None:
        y = v1
        for _ in range(10):
            y = y * 1.001
        y.backward(g4)

    def mlp() -> None:
        h = F.relu(F.linear(m1, W1, b1))
        F.sparse_softmax_cross_entropy(F.linear(h, W2, b2), labels).backward()

    return {
        "add": ("(4,) + (4,)", lambda: (v1 + v2).backward(g4)),
        "mul": ("(4,) * (4,)", lambda: (v1 * v2).backward(g4)),
        "matmul": ("(4,4) @ (4,4)", lambda: (m1 @ m2).backward(g44)),
        "relu": ("(4,4)", lambda: F.relu(m1).backward(g44)),
        "sigmoid": ("(4,4)", lambda: F.sigmoid(m1).backward(g44)),
        "tanh": ("(4,4)", lambda: F.tanh(m1).backward(g44)),
        "sum": ("(4,4) → ()", lambda: m1.sum().backward()),
        "getitem": ("(4,)[1:3]", lambda: v1[1:3].backward(g2)),
        "linear": ("(4,4)·(3,4)ᵀ+(3,)", lambda: F.linear(m1, W2, b2).backward(g34)),
        "softmax_ce": (
            "(4,3) logits",
            lambda: F.sparse_softmax_cross_entropy(F.linear(m1, W2), labels).backward(),
        ),
        "chain: 10 muls": ("(4,)", chain10),
        "chain: 2-layer MLP + CE": ("batch 4, 4→4→3", mlp),
    }


def torch_cases(rng: np.random.Generator) -> dict[str, tuple[str, Step]]:
    """The same closures, written the PyTorch way."""
    assert torch is not None
    tnf = torch.nn.functional

    def leaf(*shape: int) -> Any:
        return torch.tensor(rng.normal(size=shape).astype(np.float32), requires_grad=True)

    v1, v2, m1, m2 = leaf(4), leaf(4), leaf(4, 4), leaf(4, 4)
    W1, b1, W2, b2 = leaf(4, 4), leaf(4), leaf(3, 4), leaf(3)
    labels = torch.tensor([0, 2, 1, 2])
    g4, g44 = torch.ones(4), torch.ones(4, 4)
    g2, g34 = torch.ones(2), torch.ones(4, 3)

    def chain10() -> None:
        y = v1
        for _ in range(10):
            y = y * 1.001
        y.backward(g4)

    def mlp() -> None:
        h = torch.relu(tnf.linear(m1, W1, b1))
        tnf.cross_entropy(tnf.linear(h, W2, b2), labels).backward()

    return {
        "add": ("", lambda: (v1 + v2).backward(g4)),
        "mul": ("", lambda: (v1 * v2).backward(g4)),
        "matmul": ("", lambda: (m1 @ m2).backward(g44)),
        "relu": ("", lambda: torch.relu(m1).backward(g44)),
        "sigmoid": ("", lambda: torch.sigmoid(m1).backward(g44)),
        "tanh": ("", lambda: torch.tanh(m1).backward(g44)),
        "sum": ("", lambda: m1.sum().backward()),
        "getitem": ("", lambda: v1[1:3].backward(g2)),
        "linear": ("", lambda: tnf.linear(m1, W2, b2).backward(g34)),
        "softmax_ce": ("", lambda: tnf.cross_entropy(tnf.linear(m1, W2), labels).backward()),
        "chain: 10 muls": ("", chain10),
        "chain: 2-layer MLP + CE": ("", mlp),
    }


def measure(step: Step, repeat: int, number: int) -> float:
    """Median over rounds of the mean seconds per call."""
    for _ in range(max(10, number // 10)):  # warm up caches and lazy initialisation
        step()
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            step()
        rounds.append((time.perf_counter() - start) / number)
    return statistics.median(rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=25, help="timed rounds per op (median)")
    parser.add_argument("--number", type=int, default=200, help="calls per round")
    parser.add_argument("--ops", default="", help="comma-separated subset of op names")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch.set_num_threads (tiny tensors: threads only add overhead)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.number < 1:
        parser.error("--repeat and --number must be at least 1")

    use_torch = torch is not None and not args.no_torch
    ours = glassnet_cases(np.random.default_rng(0))
    theirs = torch_cases(np.random.default_rng(0)) if use_torch else {}
    names = list(ours)
    if args.ops:
        wanted = [n.strip() for n in args.ops.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in ours]
        if unknown:
            parser.error(f"unknown op(s) {unknown}; known: {', '.join(names)}")
        names = wanted

    if use_torch:
        torch.set_num_threads(args.torch_threads)
        peer = f"torch {torch.__version__} ({torch.get_num_threads()} thread(s))"
    elif torch is None:
        peer = "PyTorch not installed"
    else:
        peer = "PyTorch skipped (--no-torch)"
    print("op_overhead: forward + backward of one op on tiny float32 tensors")
    print(
        f"  median of {args.repeat} rounds x {args.number} calls; Python "
        f"{platform.python_version()}, NumPy {np.__version__}, glassnet {gn.__version__}, "
        f"{peer}"
    )
    print()
    header = f"{'op':<26}{'shapes':<22}{'PyTorch µs':>14}{'glassnet µs':>13}{'ratio':>8}"
    print(header)
    print("-" * len(header))

    ratios, total_ours, total_theirs = [], 0.0, 0.0
    for name in names:
        shapes, step = ours[name]
        t_theirs = measure(theirs[name][1], args.repeat, args.number) if use_torch else None
        t_ours = measure(step, args.repeat, args.number)
        total_ours += t_ours
        if t_theirs is not None:
            total_theirs += t_theirs
            ratios.append(t_ours / t_theirs)
            peer_col, ratio_col = f"{t_theirs * 1e6:14.1f}", f"{t_ours / t_theirs:8.2f}"
        else:
            missing = "not installed" if torch is None else "skipped"
            peer_col, ratio_col = f"{missing:>14}", f"{'-':>8}"
        print(f"{name:<26}{shapes:<22}{peer_col}{t_ours * 1e6:13.1f}{ratio_col}")
        sys.stdout.flush()

    print("-" * len(header))
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(
            f"overall: glassnet/PyTorch geometric mean of ratios {geo:.2f}, "
            f"total time ratio {total_ours / total_theirs:.2f} "
            f"(below 1: glassnet faster); {sum(r <= 1 for r in ratios)}/{len(ratios)} ops "
            "no slower than PyTorch"
        )
    else:
        print(
            f"overall: glassnet total {total_ours * 1e6:.1f} µs per round of ops; "
            f"{peer}, so no ratio"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
