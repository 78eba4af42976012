"""Every op in glassnet.functional against central differences (glassnet.gradcheck, float64).

Each case is (id, fn, inputs): ``inputs`` describes the float64 arrays gradcheck perturbs as
(shape, kind) pairs; constants such as labels are closed over by ``fn``. Inputs are drawn away
from the points where an op has a kink (relu at 0, ties in max, clip bounds), since there the
one-sided limits differ and no finite difference agrees with any choice of subgradient.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.functional as F

Spec = tuple[tuple[int, ...], str]
CASES: list[tuple[str, Callable[..., Any], list[Spec]]] = []


def case(id_: str, fn: Callable[..., Any], *inputs: Spec) -> None:
    CASES.append((id_, fn, list(inputs)))


def draw(rng: np.random.Generator, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """Random float64 data of one of a few kinds, kept away from each op's kinks."""
    if kind == "any":
        return rng.normal(size=shape)
    if kind == "pos":  # log, sqrt, fractional powers
        return rng.uniform(0.5, 2.0, size=shape)
    if kind == "away0":  # relu, abs, leaky_relu, elu, divisors: |x| >= 0.2
        return rng.uniform(0.2, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    if kind == "distinct":  # max/min: entries at least 0.05 apart, so no ties
        n = int(np.prod(shape, dtype=np.int64))
        return (rng.permutation(n) * 0.1 - 0.05 * n + rng.uniform(-0.02, 0.02, n)).reshape(shape)
    if kind == "clip":  # clip to [-0.5, 0.7]: stay 0.05 from both bounds
        x = rng.uniform(-1.5, 1.5, size=shape)
        for bound in (-0.5, 0.7):
            near = np.abs(x - bound) < 0.05
            x[near] = bound + 0.1 * np.sign(x[near] - bound + 1e-12)
        return x
    if kind == "prob":  # target distributions: rows of a softmax
        e = np.exp(rng.normal(size=shape))
        return e / e.sum(axis=-1, keepdims=True)
    if kind == "unit":  # binary targets in [0, 1]
        return rng.uniform(0.0, 1.0, size=shape)
    raise ValueError(kind)


# --- arithmetic, with broadcasting -------------------------------------------------------------
BROADCAST_PAIRS = [
    ((), ()),
    ((3,), (3,)),
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((3,), (2, 3)),
    ((2, 3), (1, 3)),
    ((2, 1), (1, 3)),
    ((2, 1, 3), (4, 1)),
    ((), (2, 3)),
    ((2, 3), ()),
]
for sa, sb in BROADCAST_PAIRS:
    tag = f"{sa}-{sb}"
    case(f"add-{tag}", F.add, (sa, "any"), (sb, "any"))
    case(f"sub-{tag}", F.sub, (sa, "any"), (sb, "any"))
    case(f"mul-{tag}", F.mul, (sa, "any"), (sb, "any"))
    case(f"div-{tag}", F.div, (sa, "any"), (sb, "away0"))
    case(
        f"where-{tag}",
        lambda a, b, _s=sa: F.where(np.arange(np.prod(_s, dtype=int)).reshape(_s) % 2 == 0, a, b),
        (sa, "any"),
        (sb, "any"),
    )
case(
    "where-cond-broadcast",
    lambda a, b: F.where(np.array([True, False, True]), a, b),
    ((2, 1), "any"),
    ((), "any"),
)
case("where-tensor-cond", lambda a, b: F.where(a > 0, a, b), ((2, 3), "away0"), ((3,), "any"))
case("add-operator-scalar", lambda a: 2.5 + a + 1, ((2, 3), "any"))
case("sub-operator-rsub", lambda a: 1.0 - a, ((2, 3), "any"))
case("mul-operator-numpy", lambda a: np.array([1.0, -2.0, 3.0]) * a * 0.5, ((2, 3), "any"))
case("div-operator-rdiv", lambda a: 1.0 / a, ((2, 3), "away0"))
case("div-operator", lambda a, b: a / b, ((2, 3), "any"), ((3,), "away0"))
case("mul-same-input-twice", lambda a: a * a, ((2, 3), "any"))
for shape in [(), (3,), (2, 3), (1, 3), (2, 1, 3)]:
    case(f"neg-{shape}", F.neg, (shape, "any"))
    case(f"neg-operator-{shape}", lambda a: -a, (shape, "any"))
for p, kind in [
    (2, "any"),
    (3, "any"),
    (1, "any"),
    (0, "any"),
    (0.5, "pos"),
    (-1.5, "pos"),
    (2.5, "pos"),
    (-2, "away0"),
]:
    case(f"pow-{p}", lambda a, _p=p: F.pow(a, _p), ((2, 3), kind))
case("pow-operator", lambda a: a**3, ((3,), "any"))
case("pow-rpow", lambda a: 2.0**a, ((3,), "any"))

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((1, 3), (3, 1)),
    ((2, 2, 3), (3, 4)),
    ((2, 3), (2, 3, 4)),
    ((2, 2, 3), (2, 3, 4)),
    ((2, 1, 2, 3), (3, 3, 2)),
    ((2, 2, 3), (3,)),
    ((3,), (2, 3, 4)),
]
for sa, sb in MATMUL_SHAPES:
    case(f"matmul-{sa}@{sb}", F.matmul, (sa, "any"), (sb, "any"))
case("matmul-operator", lambda a, b: a @ b, ((2, 3), "any"), ((3, 2), "any"))
case("matmul-rmatmul-numpy", lambda b: np.ones((2, 3)) @ b, ((3, 2), "any"))

case("linear-bias", F.linear, ((4, 3), "any"), ((2, 3), "any"), ((2,), "any"))
case("linear-no-bias", F.linear, ((4, 3), "any"), ((2, 3), "any"))
case("linear-1d-input", F.linear, ((3,), "any"), ((2, 3), "any"), ((2,), "any"))
case("linear-batched-input", F.linear, ((2, 4, 3), "any"), ((2, 3), "any"), ((2,), "any"))
case("cast-float64", lambda a: F.cast(a, "float64") * 2.0, ((2, 3), "any"))
case("cast-method", lambda a: a.astype("float64") * 2.0, ((2, 3), "any"))

# --- elementwise ----------------------------------------------------------------------------
SHAPES = [(), (3,), (2, 3), (1, 3), (2, 1, 3)]
UNARY: list[tuple[str, Callable[..., Any], str]] = [
    ("exp", F.exp, "any"),
    ("log", F.log, "pos"),
    ("sqrt", F.sqrt, "pos"),
    ("abs", F.abs, "away0"),
    ("tanh", F.tanh, "any"),
    ("sigmoid", F.sigmoid, "any"),
    ("relu", F.relu, "away0"),
    ("leaky_relu", F.leaky_relu, "away0"),
    ("elu", F.elu, "away0"),
    ("gelu", F.gelu, "any"),
    ("softplus", F.softplus, "any"),
    ("clip", lambda a: F.clip(a, -0.5, 0.7), "clip"),
]
for name, fn, kind in UNARY:
    for shape in SHAPES:
        case(f"{name}-{shape}", fn, (shape, kind))
case("leaky_relu-slope0.2", lambda a: F.leaky_relu(a, negative_slope=0.2), ((2, 3), "away0"))
case("elu-alpha0.5", lambda a: F.elu(a, alpha=0.5), ((2, 3), "away0"))
case("elu-near0-alpha1", F.elu, ((5,), "any"))  # C¹ at 0 when α = 1
case("clip-min-only", lambda a: F.clip(a, min=-0.5), ((2, 3), "clip"))
case("clip-max-only", lambda a: F.clip(a, max=0.7), ((2, 3), "clip"))
case("abs-operator", lambda a: abs(a), ((2, 3), "away0"))
for sa, sb in [((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3))]:
    case(f"maximum-{sa}-{sb}", F.maximum, (sa, "distinct"), (sb, "distinct"))
    case(f"minimum-{sa}-{sb}", F.minimum, (sa, "distinct"), (sb, "distinct"))
case("maximum-scalar", lambda a: F.maximum(a, 0.013), ((2, 3), "distinct"))
case("minimum-scalar", lambda a: F.minimum(0.013, a), ((2, 3), "distinct"))

# --- reductions: axis and keepdims sweeps -----------------------------------------------------
AXES: list[tuple[tuple[int, ...], Any]] = [
    ((), None),
    ((), 0),
    ((3,), None),
    ((3,), 0),
    ((3,), -1),
    ((2, 3), None),
    ((2, 3), 0),
    ((2, 3), 1),
    ((2, 3), -1),
    ((2, 3), (0, 1)),
    ((2, 3, 4), 1),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), (-1, 0)),
    ((1, 3), 0),
]
for shape, axis in AXES:
    for keepdims in (False, True):
        tag = f"{shape}-axis{axis}-keep{keepdims}"
        case(
            f"sum-{tag}",
            lambda a, _x=axis, _k=keepdims: F.sum(a, axis=_x, keepdims=_k),
            (shape, "any"),
        )
        case(
            f"mean-{tag}",
            lambda a, _x=axis, _k=keepdims: F.mean(a, axis=_x, keepdims=_k),
            (shape, "any"),
        )
        case(
            f"max-{tag}",
            lambda a, _x=axis, _k=keepdims: F.max(a, axis=_x, keepdims=_k),
            (shape, "distinct"),
        )
        case(
            f"min-{tag}",
            lambda a, _x=axis, _k=keepdims: F.min(a, axis=_x, keepdims=_k),
            (shape, "distinct"),
        )
        case(
            f"logsumexp-{tag}",
            lambda a, _x=axis, _k=keepdims: F.logsumexp(a, axis=_x, keepdims=_k),
            (shape, "any"),
        )
        if shape:  # variance of a single element is 0 (fine) but skip ddof=1 there
            case(
                f"var-{tag}",
                lambda a, _x=axis, _k=keepdims: F.var(a, axis=_x, keepdims=_k),
                (shape, "any"),
            )
            if (
                int(
                    np.prod(
                        [
                            shape[i]
                            for i in np.atleast_1d(axis if axis is not None else range(len(shape)))
                        ]
                    )
                )
                > 1
            ):
                case(
                    f"var-ddof1-{tag}",
                    lambda a, _x=axis, _k=keepdims: F.var(a, axis=_x, keepdims=_k, ddof=1),
                    (shape, "any"),
                )
case("sum-method", lambda a: a.sum(axis=0) * 1.5, ((2, 3), "any"))
case("mean-int-axis-tuple", lambda a: a.mean(axis=(0, 1)), ((2, 3), "any"))

for shape, axis in [
    ((3,), 0),
    ((3,), -1),
    ((2, 3), 0),
    ((2, 3), 1),
    ((2, 3, 4), 1),
    ((2, 3, 4), -1),
    ((), 0),
    ((1, 3), 0),
]:
    tag = f"{shape}-axis{axis}"
    case(f"softmax-{tag}", lambda a, _x=axis: F.softmax(a, axis=_x), (shape, "any"))
    case(f"log_softmax-{tag}", lambda a, _x=axis: F.log_softmax(a, axis=_x), (shape, "any"))

# --- shape ops --------------------------------------------------------------------------------
case("reshape-(2,3)->(3,2)", lambda a: F.reshape(a, (3, 2)), ((2, 3), "any"))
case("reshape-varargs-minus1", lambda a: F.reshape(a, 4, -1), ((2, 2, 3), "any"))
case("reshape-()->(1,1)", lambda a: F.reshape(a, (1, 1)), ((), "any"))
case("reshape-method", lambda a: a.reshape(6), ((2, 3), "any"))
case("flatten-default", F.flatten, ((2, 3, 2), "any"))
case("flatten-start0", lambda a: F.flatten(a, 0), ((2, 3, 2), "any"))
case("transpose-default", F.transpose, ((2, 3, 4), "any"))
case("transpose-axes", lambda a: F.transpose(a, (1, 0, 2)), ((2, 3, 4), "any"))
case("transpose-T", lambda a: a.T, ((2, 3), "any"))
case("transpose-1d", F.transpose, ((3,), "any"))
case("permute", lambda a: F.permute(a, 2, 0, 1), ((2, 3, 4), "any"))
case("permute-negative", lambda a: a.permute(-1, 0, 1), ((2, 3, 4), "any"))
case("broadcast_to-(3,)->(2,3)", lambda a: F.broadcast_to(a, (2, 3)), ((3,), "any"))
case("broadcast_to-(2,1)->(4,2,3)", lambda a: F.broadcast_to(a, (4, 2, 3)), ((2, 1), "any"))
case("broadcast_to-()->(2,2)", lambda a: F.broadcast_to(a, (2, 2)), ((), "any"))
case("squeeze-all", F.squeeze, ((1, 3, 1), "any"))
case("squeeze-axis", lambda a: F.squeeze(a, 0), ((1, 3, 1), "any"))
case("squeeze-axis-tuple", lambda a: F.squeeze(a, (0, -1)), ((1, 3, 1), "any"))
case("unsqueeze-0", lambda a: F.unsqueeze(a, 0), ((2, 3), "any"))
case("unsqueeze-last", lambda a: F.unsqueeze(a, -1), ((2, 3), "any"))
case("unsqueeze-mid", lambda a: a.unsqueeze(1), ((2, 3), "any"))
case(
    "concat-axis0",
    lambda a, b, c: F.concat([a, b, c], axis=0),
    ((1, 3), "any"),
    ((2, 3), "any"),
    ((3, 3), "any"),
)
case("concat-axis1", lambda a, b: F.concat([a, b], axis=1), ((2, 1), "any"), ((2, 3), "any"))
case(
    "concat-axis-neg",
    lambda a, b: F.concat([a, b], axis=-1),
    ((2, 2, 1), "any"),
    ((2, 2, 2), "any"),
)
case("concat-1d-with-constant", lambda a: F.concat([a, np.ones(2)]), ((3,), "any"))
case("concat-same-tensor-twice", lambda a: F.concat([a, a], axis=0), ((2, 3), "any"))
case("stack-axis0", lambda a, b: F.stack([a, b]), ((2, 3), "any"), ((2, 3), "any"))
case(
    "stack-axis1",
    lambda a, b, c: F.stack([a, b, c], axis=1),
    ((2, 3), "any"),
    ((2, 3), "any"),
    ((2, 3), "any"),
)
case("stack-axis-neg", lambda a, b: F.stack([a, b], axis=-1), ((3,), "any"), ((3,), "any"))
case("stack-scalars", lambda a, b: F.stack([a, b]), ((), "any"), ((), "any"))

GETITEM: list[tuple[str, Any, tuple[int, ...]]] = [
    ("int", 1, (3, 4)),
    ("negative-int", -1, (3, 4)),
    ("slice", slice(1, None), (3, 4)),
    ("step-slice", (slice(None), slice(None, None, 2)), (3, 4)),
    ("negative-step", (slice(None, None, -1), 2), (3, 4)),
    ("ellipsis", (Ellipsis, 1), (2, 3, 4)),
    ("newaxis", (None, 0), (3, 4)),
    ("int-array", np.array([2, 0]), (3, 4)),
    ("int-array-repeated", np.array([1, 1, 0, 1]), (3, 4)),
    ("list-repeated", [0, 2, 0], (3,)),
    ("2d-int-array-repeated", np.array([[0, 0], [2, 0]]), (3, 4)),
    ("two-arrays-repeated", (np.array([0, 0, 2, 0]), np.array([1, 1, 3, 1])), (3, 4)),
    ("array-and-slice", (np.array([1, 1]), slice(1, 3)), (3, 4)),
    ("slice-and-array", (slice(None), np.array([3, 3, 0])), (3, 4)),
    ("bool-mask", np.array([True, False, True]), (3, 4)),
    ("tensor-index", gn.tensor([2, 2, 1]), (3, 4)),
]
for name, index, shape in GETITEM:
    case(f"getitem-{name}", lambda a, _i=index: F.getitem(a, _i), (shape, "any"))
    case(f"getitem-operator-{name}", lambda a, _i=index: a[_i] * 2.0, (shape, "any"))

# --- network ops ------------------------------------------------------------------------------
LABELS = np.array([2, 0, 3, 2])


def _dropout(rate: float) -> Callable[..., Any]:
    def fn(a: Any) -> Any:
        gn.seed(7)  # gradcheck calls fn many times: every call must draw the same mask
        return F.dropout(a, rate) * 1.0

    return fn


case("dropout-0.5", _dropout(0.5), ((4, 5), "any"))
case("dropout-0.2", _dropout(0.2), ((10,), "any"))
case("dropout-eval", lambda a: F.dropout(a, 0.5, training=False) * 1.0, ((4, 5), "any"))
for reduction in ("mean", "sum", "none"):
    case(
        f"sparse_softmax_cross_entropy-{reduction}",
        lambda z, _r=reduction: F.sparse_softmax_cross_entropy(z, LABELS, reduction=_r),
        ((4, 5), "any"),
    )
    case(
        f"softmax_cross_entropy-{reduction}",
        lambda z, _r=reduction: F.softmax_cross_entropy(z, np.eye(5)[LABELS], reduction=_r),
        ((4, 5), "any"),
    )
    case(
        f"softmax_cross_entropy-soft-targets-{reduction}",
        lambda z, t, _r=reduction: F.softmax_cross_entropy(z, t, reduction=_r),
        ((4, 5), "any"),
        ((4, 5), "prob"),
    )
    for shape in [(4,), (4, 3), (2, 3, 2)]:
        case(
            f"sigmoid_binary_cross_entropy-{shape}-{reduction}",
            lambda z, t, _r=reduction: F.sigmoid_binary_cross_entropy(z, t, reduction=_r),
            (shape, "any"),
            (shape, "unit"),
        )
case(
    "sparse_softmax_cross_entropy-tensor-labels",
    lambda z: F.sparse_softmax_cross_entropy(z, gn.tensor(LABELS)),
    ((4, 5), "any"),
)
case(
    "sigmoid_binary_cross_entropy-hard-targets",
    lambda z: F.sigmoid_binary_cross_entropy(z, np.array([[1.0, 0.0], [0.0, 1.0]])),
    ((2, 2), "any"),
)

# --- ops added for keras.ops (issue 15) --------------------------------------------------------
for shape in [(), (3,), (2, 3)]:
    case(f"square-{shape}", F.square, (shape, "any"))
    case(f"sin-{shape}", F.sin, (shape, "any"))
    case(f"cos-{shape}", F.cos, (shape, "any"))
    case(f"log1p-{shape}", F.log1p, (shape, "pos"))
for axis in (0, 1, -1):
    case(f"cumsum-axis{axis}", lambda a, _x=axis: F.cumsum(a, _x), ((3, 4), "any"))
case("cumsum-3d", lambda a: F.cumsum(a, 1), ((2, 3, 4), "any"))
for axis, keep in [(None, False), (0, False), (1, True), ((0, 2), False), (-1, True)]:
    case(
        f"prod-axis{axis}-keep{keep}",
        lambda a, _x=axis, _k=keep: F.prod(a, axis=_x, keepdims=_k),
        ((2, 3, 4), "away0"),
    )
case("prod-with-a-zero", lambda a: F.prod(a * np.array([1.0, 0.0, 1.0]), axis=-1), ((2, 3), "any"))
case("take-axis0-repeated", lambda a: F.take(a, np.array([2, 0, 2]), axis=0), ((3, 4), "any"))
case("take-axis1-2d", lambda a: F.take(a, np.array([[1, 1], [3, 0]]), axis=1), ((3, 4), "any"))
case("take-flat", lambda a: F.take(a, np.array([5, 5, -1])), ((3, 4), "any"))

IDS = [c[0] for c in CASES]
assert len(IDS) == len(set(IDS)), "duplicate case ids"


@pytest.mark.parametrize("id_, fn, specs", CASES, ids=IDS)
def test_gradcheck(id_: str, fn: Callable[..., Any], specs: list[Spec]) -> None:
    rng = np.random.default_rng(zlib.crc32(id_.encode()))
    arrays = [draw(rng, shape, kind) for shape, kind in specs]
    out = fn(*[gn.tensor(a, dtype="float64") for a in arrays])
    assert out.dtype == np.float64, f"{id_}: float64 inputs gave a {out.dtype} output"
    report = gn.gradcheck(fn, arrays, atol=1e-6, rtol=1e-5)
    assert report.ok, str(report)
    for r in report.inputs:  # the check compared real, non-trivial gradients
        assert r.analytical_grad.shape == r.shape


NOT_DIFFERENTIABLE = {"one_hot"}  # integer labels in, constants out
NOT_OPS = {"unbroadcast", "Kernel", "KERNELS", "get_kernel"}


def test_every_public_op_has_a_gradcheck_case() -> None:
    covered = {i.split("-")[0] for i in IDS}
    missing = set(F.__all__) - NOT_OPS - NOT_DIFFERENTIABLE - covered
    assert not missing, f"ops without a gradcheck case: {sorted(missing)}"


def test_one_hot_values() -> None:
    y = F.one_hot(gn.tensor([2, 0, 1, 2]), 3)
    assert y.dtype == np.float32 and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), np.eye(3)[[2, 0, 1, 2]])
    assert F.one_hot([1], 2, dtype="float64").dtype == np.float64


def test_cast_float32_round_trip_gradient() -> None:
    """float64 → float32 → float64: the gradient comes back in each input's dtype."""
    x = gn.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype="float64", requires_grad=True)
    y = F.cast(x, "float32")
    assert y.dtype == np.float32
    (y * 3.0).sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 3.0))
    report = gn.gradcheck(
        lambda a: F.cast(F.cast(a, "float32") * 2.0, "float64"),
        [np.linspace(-1, 1, 6)],
        eps=1e-2,
        atol=1e-4,
    )
    assert report.ok, str(report)


def test_cast_to_int_has_no_grad() -> None:
    x = gn.tensor([1.7, -2.2], requires_grad=True)
    y = F.cast(x, "int64")
    assert y.dtype == np.int64 and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), [1, -2])


def test_dropout_mask_statistics_and_eval_identity() -> None:
    gn.seed(0)
    x = gn.tensor(np.ones((200, 50)), requires_grad=True)
    y = F.dropout(x, 0.2)
    kept = y.numpy() != 0
    assert 0.75 < kept.mean() < 0.85
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.8, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.numpy())  # ∂/∂x = mask
    assert F.dropout(x, 0.2, training=False) is x
