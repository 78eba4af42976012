"""Random compositions of ops give the same values and gradients as torch.autograd (float64).

A seeded generator builds an expression tree of 3–8 ops over 2–3 inputs (shapes that broadcast
against each other), evaluates it once with glassnet and once with PyTorch, backpropagates the
same random upstream gradient through both and compares everything at rtol 1e-6.
Inputs may be reused inside a tree, so nodes used several times (summed gradients) are common.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.functional as F

torch = pytest.importorskip("torch")
tnf = torch.nn.functional

RTOL = 1e-6
N_SEEDS = 250

INPUT_SHAPES = [
    [(3, 4), (3, 4)],
    [(3, 4), (4,)],
    [(3, 4), (3, 1), (4,)],
    [(2, 3, 4), (4,), (3, 1)],
    [(5,), (5,), ()],
    [(2, 3), (2, 3), (2, 3)],
    [(1, 4), (3, 1)],
]


def _swap(t: Any) -> Any:
    """Swap the last two axes in either library."""
    if isinstance(t, gn.Tensor):
        perm = list(range(t.ndim))
        perm[-1], perm[-2] = perm[-2], perm[-1]
        return F.transpose(t, perm)
    return t.transpose(-1, -2)


# Each op: (glassnet version, torch version). Constants (matrices, index arrays) come from the
# tree generator so both libraries see the same ones. All ops keep the broadcast shape.
def _unary_ops() -> dict[str, tuple[Callable[..., Any], Callable[..., Any]]]:
    return {
        "neg": (lambda x: -x, lambda x: -x),
        "tanh": (F.tanh, torch.tanh),
        "sigmoid": (F.sigmoid, torch.sigmoid),
        "relu": (F.relu, torch.relu),
        "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), lambda x: tnf.leaky_relu(x, 0.1)),
        "elu": (F.elu, tnf.elu),
        "gelu": (F.gelu, lambda x: tnf.gelu(x, approximate="tanh")),
        "softplus": (F.softplus, tnf.softplus),
        "abs": (F.abs, torch.abs),
        "exp_tanh": (lambda x: F.exp(F.tanh(x)), lambda x: torch.exp(torch.tanh(x))),
        "log1p_sq": (lambda x: F.log(x * x + 1.0), lambda x: torch.log(x * x + 1.0)),
        "sqrt": (lambda x: F.sqrt(x**2 + 0.5), lambda x: torch.sqrt(x**2 + 0.5)),
        "square": (lambda x: x**2 * 0.5, lambda x: x**2 * 0.5),
        "clip": (lambda x: F.clip(x, -1.0, 1.0), lambda x: torch.clamp(x, -1.0, 1.0)),
        "center": (
            lambda x: x - x.mean(axis=-1, keepdims=True),
            lambda x: x - x.mean(dim=-1, keepdim=True),
        ),
        "times_sum": (
            lambda x: x * F.sum(x, axis=0, keepdims=True) * 0.3,
            lambda x: x * x.sum(dim=0, keepdim=True) * 0.3,
        ),
        "minus_max": (
            lambda x: x - F.max(x, axis=-1, keepdims=True),
            lambda x: x - torch.amax(x, dim=-1, keepdim=True),
        ),
        "plus_min_all": (lambda x: x + F.min(x), lambda x: x + torch.amin(x)),
        "times_var": (
            lambda x: x * F.var(x, axis=-1, keepdims=True),
            lambda x: x * torch.var(x, dim=-1, keepdim=True, correction=0),
        ),
        "softmax": (lambda x: F.softmax(x, axis=-1), lambda x: torch.softmax(x, dim=-1)),
        "log_softmax": (
            lambda x: F.log_softmax(x, axis=-1),
            lambda x: torch.log_softmax(x, dim=-1),
        ),
        "minus_lse": (
            lambda x: x - F.logsumexp(x, axis=-1, keepdims=True),
            lambda x: x - torch.logsumexp(x, dim=-1, keepdim=True),
        ),
        "reshape_roundtrip": (
            lambda x: F.reshape(F.reshape(x, (-1,)), x.shape),
            lambda x: x.reshape(-1).reshape(x.shape),
        ),
        "unsqueeze_squeeze": (
            lambda x: F.squeeze(F.unsqueeze(x, 0), 0),
            lambda x: x.unsqueeze(0).squeeze(0),
        ),
    }


def _param_ops() -> dict[str, tuple[Callable[..., Any], Callable[..., Any]]]:
    """Unary ops that take a constant drawn for the node (an index array or a matrix)."""
    return {
        "gather_last": (lambda x, idx: x[..., idx], lambda x, idx: x[..., torch.as_tensor(idx)]),
        "matmul_const": (lambda x, m: x @ m, lambda x, m: x @ torch.as_tensor(m)),
        "linear_const": (
            lambda x, m: F.linear(x, m, m[0]),
            lambda x, m: tnf.linear(x, torch.as_tensor(m), torch.as_tensor(m[0])),
        ),
    }


def _binary_ops() -> dict[str, tuple[Callable[..., Any], Callable[..., Any]]]:
    def gn_matmul_pair(a: Any, b: Any) -> Any:
        shape = np.broadcast_shapes(a.shape, b.shape)
        A, B = F.broadcast_to(a, shape), F.broadcast_to(b, shape)
        if len(shape) == 1:
            return (A @ B) * A * 0.2
        return (A @ _swap(B)) @ A * (1.0 / shape[-1])

    def torch_matmul_pair(a: Any, b: Any) -> Any:
        shape = torch.broadcast_shapes(a.shape, b.shape)
        A, B = torch.broadcast_to(a, shape), torch.broadcast_to(b, shape)
        if len(shape) == 1:
            return (A @ B) * A * 0.2
        return (A @ _swap(B)) @ A * (1.0 / shape[-1])

    def gn_bshape(a: Any, b: Any) -> tuple[Any, Any]:
        shape = np.broadcast_shapes(a.shape, b.shape)
        return F.broadcast_to(a, shape), F.broadcast_to(b, shape)

    def torch_bshape(a: Any, b: Any) -> tuple[Any, Any]:
        shape = torch.broadcast_shapes(a.shape, b.shape)
        return torch.broadcast_to(a, shape), torch.broadcast_to(b, shape)

    return {
        "add": (F.add, torch.add),
        "sub": (lambda a, b: a - b, lambda a, b: a - b),
        "mul": (lambda a, b: a * b, lambda a, b: a * b),
        "div": (lambda a, b: a / (1.0 + b * b), lambda a, b: a / (1.0 + b * b)),
        "maximum": (F.maximum, torch.maximum),
        "minimum": (F.minimum, torch.minimum),
        "where": (
            lambda a, b: F.where(a > b, a * 2.0, b),
            lambda a, b: torch.where(a > b, a * 2.0, b),
        ),
        "matmul_pair": (gn_matmul_pair, torch_matmul_pair),
        "concat_slice": (
            lambda a, b: (
                F.concat(gn_bshape(a, b), axis=-1)[..., ::2]
                if len(np.broadcast_shapes(a.shape, b.shape))
                else a + b
            ),
            lambda a, b: (
                torch.cat(torch_bshape(a, b), dim=-1)[..., ::2]
                if len(torch.broadcast_shapes(a.shape, b.shape))
                else a + b
            ),
        ),
        "stack_max": (
            lambda a, b: F.max(F.stack(gn_bshape(a, b)), axis=0),
            lambda a, b: torch.amax(torch.stack(torch_bshape(a, b)), dim=0),
        ),
        "bce_pair": (_gn_bce_pair, _torch_bce_pair),
    }


def _gn_bce_pair(a: Any, b: Any) -> Any:
    """Per-sample BCE of logits a against targets σ(b), spread back over the last axis."""
    shape = np.broadcast_shapes(a.shape, b.shape)
    if len(shape) == 0:
        return a * b
    A, B = F.broadcast_to(a, shape), F.broadcast_to(b, shape)
    per = F.sigmoid_binary_cross_entropy(A, F.sigmoid(B), reduction="none")
    return per * B if len(shape) == 1 else F.unsqueeze(per, -1) * B


def _torch_bce_pair(a: Any, b: Any) -> Any:
    shape = torch.broadcast_shapes(a.shape, b.shape)
    if len(shape) == 0:
        return a * b
    A, B = torch.broadcast_to(a, shape), torch.broadcast_to(b, shape)
    per = tnf.binary_cross_entropy_with_logits(A, torch.sigmoid(B), reduction="none")
    # glassnet averages over the last axis per sample (Keras' binary_crossentropy)
    return per * B if len(shape) == 1 else per.mean(dim=-1).unsqueeze(-1) * B


UNARY, PARAM, BINARY = _unary_ops(), _param_ops(), _binary_ops()


def generate(
    rng: np.random.Generator, n_ops: int, shapes: list[tuple[int, ...]]
) -> tuple[Any, tuple[int, ...]]:
    """A random tree with exactly n_ops ops; returns (tree, shape of its value)."""
    if n_ops == 0:
        i = int(rng.integers(len(shapes)))
        return ("input", i), shapes[i]
    r = rng.random()
    if r < 0.45 and n_ops >= 1:
        left_ops = int(rng.integers(0, n_ops))
        left, sa = generate(rng, left_ops, shapes)
        right, sb = generate(rng, n_ops - 1 - left_ops, shapes)
        name = str(rng.choice(sorted(BINARY)))
        return (name, left, right), tuple(np.broadcast_shapes(sa, sb))
    child, shape = generate(rng, n_ops - 1, shapes)
    if r < 0.6 and shape:
        name = str(rng.choice(sorted(PARAM)))
        n = shape[-1]
        if name == "gather_last":
            const: Any = rng.integers(0, n, size=n)  # repeats likely
        else:
            const = rng.normal(size=(n, n)) / np.sqrt(n)
        return (name, child, const), shape
    return (str(rng.choice(sorted(UNARY))), child), shape


def evaluate(tree: Any, inputs: list[Any], lib: int) -> Any:
    """lib 0: glassnet, lib 1: torch."""
    kind = tree[0]
    if kind == "input":
        return inputs[tree[1]]
    if kind in BINARY:
        return BINARY[kind][lib](evaluate(tree[1], inputs, lib), evaluate(tree[2], inputs, lib))
    if kind in PARAM:
        return PARAM[kind][lib](evaluate(tree[1], inputs, lib), tree[2])
    return UNARY[kind][lib](evaluate(tree[1], inputs, lib))


def describe(tree: Any) -> str:
    if tree[0] == "input":
        return "xyz"[tree[1]]
    if tree[0] in BINARY:
        return f"{tree[0]}({describe(tree[1])}, {describe(tree[2])})"
    return f"{tree[0]}({describe(tree[1])})"


def count_ops(tree: Any) -> int:
    if tree[0] == "input":
        return 0
    children = tree[1:3] if tree[0] in BINARY else tree[1:2]
    return 1 + sum(count_ops(c) for c in children)


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_random_composition_matches_torch(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    shapes = INPUT_SHAPES[seed % len(INPUT_SHAPES)]
    n_ops = int(rng.integers(3, 9))
    tree, _ = generate(rng, n_ops, shapes)
    assert count_ops(tree) == n_ops
    arrays = [rng.normal(size=s) for s in shapes]
    xs = [gn.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    expr = describe(tree)

    out = evaluate(tree, xs, 0)
    ref = evaluate(tree, ts, 1)
    assert isinstance(out, gn.Tensor) and out.dtype == np.float64, expr
    assert out.shape == tuple(ref.shape), expr
    expected = ref.detach().numpy()
    assert np.isfinite(expected).all(), expr
    np.testing.assert_allclose(
        out.numpy(),
        expected,
        rtol=RTOL,
        atol=1e-12 * max(1.0, np.abs(expected).max()),
        err_msg=expr,
    )

    upstream = rng.normal(size=out.shape)
    if out.requires_grad:
        out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for i, (x, t) in enumerate(zip(xs, ts)):
        want = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
        got = np.zeros(x.shape) if x.grad is None else x.grad
        atol = 1e-10 * max(1.0, np.abs(want).max())
        np.testing.assert_allclose(
            got, want, rtol=RTOL, atol=atol, err_msg=f"gradient of input {i} in {expr}"
        )


def test_generator_covers_the_op_table() -> None:
    """The seeds above really exercise (nearly) every op in the tables."""
    seen: set[str] = set()

    def walk(tree: Any) -> None:
        if tree[0] != "input":
            seen.add(tree[0])
            for child in tree[1:3] if tree[0] in BINARY else tree[1:2]:
                walk(child)

    for seed in range(N_SEEDS):
        rng = np.random.default_rng(1000 + seed)
        shapes = INPUT_SHAPES[seed % len(INPUT_SHAPES)]
        walk(generate(rng, int(rng.integers(3, 9)), shapes)[0])
    missing = set(UNARY) | set(PARAM) | set(BINARY)
    missing -= seen
    assert not missing, f"ops never drawn: {sorted(missing)}"
