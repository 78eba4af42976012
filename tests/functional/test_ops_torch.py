"""Each op against PyTorch (the optional oracle): values and gradients in float64.

Skipped cleanly when torch is not installed (``pip install torch==2.13.0``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.functional as F

torch = pytest.importorskip("torch")
tnf = torch.nn.functional

RTOL = 1e-6


def _tsum(t: Any, axis: Any, keepdims: bool) -> Any:
    if axis is None:
        out = t.sum()
        return out.reshape((1,) * t.ndim) if keepdims else out
    return t.sum(dim=axis, keepdim=keepdims)


def _tmean(t: Any, axis: Any, keepdims: bool) -> Any:
    if axis is None:
        out = t.mean()
        return out.reshape((1,) * t.ndim) if keepdims else out
    return t.mean(dim=axis, keepdim=keepdims)


def _tall(axis: Any, ndim: int) -> Any:
    return tuple(range(ndim)) if axis is None else axis


def _bce_reference(z: Any, t: Any, reduction: str) -> Any:
    """glassnet's BCE averages over the last axis per sample (Keras' binary_crossentropy)."""
    per = tnf.binary_cross_entropy_with_logits(z, t, reduction="none")
    if per.ndim > 1:
        per = per.mean(dim=-1)
    return {"mean": per.mean, "sum": per.sum, "none": lambda: per}[reduction]()


LABELS = np.array([2, 0, 3, 2, 4, 0])
Case = tuple[str, Callable[..., Any], Callable[..., Any], list[tuple[tuple[int, ...], str]]]
CASES: list[Case] = []


def case(id_: str, ours: Callable[..., Any], theirs: Callable[..., Any], *inputs: Any) -> None:
    CASES.append((id_, ours, theirs, list(inputs)))


for sa, sb in [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1, 3), (4, 1)), ((), (3,))]:
    t = f"{sa}-{sb}"
    case(f"add-{t}", F.add, torch.add, (sa, "any"), (sb, "any"))
    case(f"sub-{t}", F.sub, torch.sub, (sa, "any"), (sb, "any"))
    case(f"mul-{t}", F.mul, torch.mul, (sa, "any"), (sb, "any"))
    case(f"div-{t}", F.div, torch.div, (sa, "any"), (sb, "away0"))
    case(f"maximum-{t}", F.maximum, torch.maximum, (sa, "any"), (sb, "any"))
    case(f"minimum-{t}", F.minimum, torch.minimum, (sa, "any"), (sb, "any"))
    case(
        f"where-{t}",
        lambda a, b: F.where(a > 0.1, a, b),
        lambda a, b: torch.where(a > 0.1, a, b),
        (sa, "any"),
        (sb, "any"),
    )
case("maximum-ties", F.maximum, torch.maximum, ((6,), "ties"), ((6,), "ties"))
case("minimum-ties", F.minimum, torch.minimum, ((6,), "ties"), ((6,), "ties"))
case("neg", F.neg, torch.neg, ((2, 3), "any"))
for p in (2, 3, 0.5, -1.5, 0, 1):
    case(
        f"pow-{p}", lambda a, _p=p: F.pow(a, _p), lambda a, _p=p: torch.pow(a, _p), ((2, 3), "pos")
    )
case("pow-0-at-zero", lambda a: F.pow(a, 0), lambda a: torch.pow(a, 0), ((4,), "with0"))
case("pow-2-at-zero", lambda a: a**2, lambda a: a**2, ((4,), "with0"))
for sa, sb in [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((2, 2, 3), (3, 4)),
    ((2, 1, 2, 3), (3, 3, 2)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
]:
    case(f"matmul-{sa}@{sb}", F.matmul, torch.matmul, (sa, "any"), (sb, "any"))
case("linear-bias", F.linear, tnf.linear, ((5, 3), "any"), ((4, 3), "any"), ((4,), "any"))
case("linear-no-bias", F.linear, tnf.linear, ((5, 3), "any"), ((4, 3), "any"))
case("linear-batched", F.linear, tnf.linear, ((2, 5, 3), "any"), ((4, 3), "any"), ((4,), "any"))

UNARY = [
    ("exp", F.exp, torch.exp, "any"),
    ("log", F.log, torch.log, "pos"),
    ("sqrt", F.sqrt, torch.sqrt, "pos"),
    ("abs", F.abs, torch.abs, "with0"),
    ("tanh", F.tanh, torch.tanh, "any"),
    ("sigmoid", F.sigmoid, torch.sigmoid, "wide"),
    ("relu", F.relu, torch.relu, "with0"),
    ("leaky_relu", F.leaky_relu, tnf.leaky_relu, "with0"),
    ("leaky_relu-0.2", lambda a: F.leaky_relu(a, 0.2), lambda a: tnf.leaky_relu(a, 0.2), "with0"),
    ("elu", F.elu, tnf.elu, "with0"),
    ("elu-0.5", lambda a: F.elu(a, alpha=0.5), lambda a: tnf.elu(a, alpha=0.5), "with0"),
    ("gelu", F.gelu, lambda a: tnf.gelu(a, approximate="tanh"), "wide"),
    ("softplus", F.softplus, tnf.softplus, "wide"),
    ("clip", lambda a: F.clip(a, -0.5, 0.5), lambda a: torch.clamp(a, -0.5, 0.5), "bounds"),
    ("clip-min", lambda a: F.clip(a, min=-0.5), lambda a: torch.clamp(a, min=-0.5), "bounds"),
]
for name, ours, theirs, kind in UNARY:
    for shape in [(), (7,), (2, 7)]:
        case(f"{name}-{shape}", ours, theirs, (shape, kind))

for shape, axis in [
    ((), None),
    ((3,), 0),
    ((2, 3), None),
    ((2, 3), 0),
    ((2, 3), -1),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), 1),
]:
    for keep in (False, True):
        t = f"{shape}-{axis}-{keep}"
        case(
            f"sum-{t}",
            lambda a, _x=axis, _k=keep: F.sum(a, axis=_x, keepdims=_k),
            lambda a, _x=axis, _k=keep: _tsum(a, _x, _k),
            (shape, "any"),
        )
        case(
            f"mean-{t}",
            lambda a, _x=axis, _k=keep: F.mean(a, axis=_x, keepdims=_k),
            lambda a, _x=axis, _k=keep: _tmean(a, _x, _k),
            (shape, "any"),
        )
        for kind in ("any", "ties"):
            case(
                f"max-{kind}-{t}",
                lambda a, _x=axis, _k=keep: F.max(a, axis=_x, keepdims=_k),
                lambda a, _x=axis, _k=keep: torch.amax(a, dim=_tall(_x, a.ndim), keepdim=_k),
                (shape, kind),
            )
            case(
                f"min-{kind}-{t}",
                lambda a, _x=axis, _k=keep: F.min(a, axis=_x, keepdims=_k),
                lambda a, _x=axis, _k=keep: torch.amin(a, dim=_tall(_x, a.ndim), keepdim=_k),
                (shape, kind),
            )
        if shape:
            case(
                f"logsumexp-{t}",
                lambda a, _x=axis, _k=keep: F.logsumexp(a, axis=_x, keepdims=_k),
                lambda a, _x=axis, _k=keep: torch.logsumexp(a, dim=_tall(_x, a.ndim), keepdim=_k),
                (shape, "any"),
            )
            for ddof in (0, 1):
                case(
                    f"var-ddof{ddof}-{t}",
                    lambda a, _x=axis, _k=keep, _d=ddof: F.var(a, axis=_x, keepdims=_k, ddof=_d),
                    lambda a, _x=axis, _k=keep, _d=ddof: torch.var(
                        a, dim=_tall(_x, a.ndim), keepdim=_k, correction=_d
                    ),
                    (shape, "any"),
                )
for shape, axis in [((5,), 0), ((2, 5), -1), ((2, 5), 0), ((2, 3, 4), 1)]:
    t = f"{shape}-{axis}"
    case(
        f"softmax-{t}",
        lambda a, _x=axis: F.softmax(a, axis=_x),
        lambda a, _x=axis: torch.softmax(a, dim=_x),
        (shape, "wide"),
    )
    case(
        f"log_softmax-{t}",
        lambda a, _x=axis: F.log_softmax(a, axis=_x),
        lambda a, _x=axis: torch.log_softmax(a, dim=_x),
        (shape, "wide"),
    )

case("reshape", lambda a: F.reshape(a, (3, -1)), lambda a: a.reshape(3, -1), ((2, 3, 2), "any"))
case("flatten", F.flatten, lambda a: torch.flatten(a, 1), ((2, 3, 2), "any"))
case(
    "transpose",
    lambda a: F.transpose(a, (2, 0, 1)),
    lambda a: a.permute(2, 0, 1),
    ((2, 3, 4), "any"),
)
case("T", lambda a: a.T, lambda a: a.T, ((2, 3), "any"))
case("permute", lambda a: F.permute(a, 1, 2, 0), lambda a: a.permute(1, 2, 0), ((2, 3, 4), "any"))
case(
    "broadcast_to",
    lambda a: F.broadcast_to(a, (4, 2, 3)),
    lambda a: torch.broadcast_to(a, (4, 2, 3)),
    ((2, 1), "any"),
)
case("squeeze", lambda a: F.squeeze(a, 0), lambda a: a.squeeze(0), ((1, 3, 1), "any"))
case("unsqueeze", lambda a: F.unsqueeze(a, 1), lambda a: a.unsqueeze(1), ((2, 3), "any"))
case(
    "concat",
    lambda a, b: F.concat([a, b, a], axis=1),
    lambda a, b: torch.cat([a, b, a], 1),
    ((2, 3), "any"),
    ((2, 1), "any"),
)
case(
    "stack",
    lambda a, b: F.stack([a, b, a], axis=-1),
    lambda a, b: torch.stack([a, b, a], -1),
    ((2, 3), "any"),
    ((2, 3), "any"),
)
for name, index in [
    ("basic", (slice(None, None, 2), slice(1, 3))),
    ("newaxis-ellipsis", (None, Ellipsis, 1)),
    ("int", (1,)),
    ("int-array-repeated", (np.array([2, 0, 2, 2]),)),
    ("two-arrays-repeated", (np.array([0, 0, 1]), np.array([3, 3, 0]))),
    ("array-slice", (np.array([1, 1]), slice(0, 2))),
    ("bool-mask", (np.array([True, False, True]),)),
]:
    torch_index = tuple(torch.as_tensor(i) if isinstance(i, np.ndarray) else i for i in index)
    case(
        f"getitem-{name}",
        lambda a, _i=index: a[_i],
        lambda a, _i=torch_index: a[_i],
        ((3, 4), "any"),
    )

for reduction in ("mean", "sum", "none"):
    case(
        f"sparse_softmax_cross_entropy-{reduction}",
        lambda z, _r=reduction: F.sparse_softmax_cross_entropy(z, LABELS, reduction=_r),
        lambda z, _r=reduction: tnf.cross_entropy(z, torch.as_tensor(LABELS), reduction=_r),
        ((6, 5), "wide"),
    )
    case(
        f"softmax_cross_entropy-{reduction}",
        lambda z, t, _r=reduction: F.softmax_cross_entropy(z, t, reduction=_r),
        lambda z, t, _r=reduction: tnf.cross_entropy(z, t, reduction=_r),
        ((6, 5), "wide"),
        ((6, 5), "prob"),
    )
    for shape in [(6,), (6, 3), (2, 3, 4)]:
        case(
            f"sigmoid_binary_cross_entropy-{shape}-{reduction}",
            lambda z, t, _r=reduction: F.sigmoid_binary_cross_entropy(z, t, reduction=_r),
            lambda z, t, _r=reduction: _bce_reference(z, t, _r),
            (shape, "wide"),
            (shape, "unit"),
        )


# ops added for keras.ops (issue 15)
for name, ours, theirs, kind in [
    ("square", F.square, torch.square, "any"),
    ("sin", F.sin, torch.sin, "wide"),
    ("cos", F.cos, torch.cos, "wide"),
    ("log1p", F.log1p, torch.log1p, "pos"),
]:
    case(f"{name}-new", ours, theirs, ((2, 3), kind))
case("cumsum-1", lambda a: F.cumsum(a, 1), lambda a: torch.cumsum(a, 1), ((3, 4), "any"))
case("cumsum-0", lambda a: F.cumsum(a, 0), lambda a: torch.cumsum(a, 0), ((3, 4), "any"))
case("prod-all", F.prod, torch.prod, ((2, 3), "any"))
case("prod-axis1", lambda a: F.prod(a, 1), lambda a: torch.prod(a, 1), ((2, 3), "any"))
case(
    "prod-with0",
    lambda a: F.prod(a, 1, keepdims=True),
    lambda a: torch.prod(a, 1, keepdim=True),
    ((3, 4), "with0"),
)
case(
    "take-rows",
    lambda a: F.take(a, np.array([[2, 0], [2, 2]]), axis=0),
    lambda a: a[torch.tensor([[2, 0], [2, 2]])],
    ((3, 4), "any"),
)
case(
    "take-cols",
    lambda a: F.take(a, np.array([3, 1, 3]), axis=1),
    lambda a: torch.index_select(a, 1, torch.tensor([3, 1, 3])),
    ((3, 4), "any"),
)


def draw(rng: np.random.Generator, shape: tuple[int, ...], kind: str) -> np.ndarray:
    if kind == "any":
        return rng.normal(size=shape)
    if kind == "wide":  # saturating regions too
        return rng.normal(scale=6.0, size=shape)
    if kind == "pos":
        return rng.uniform(0.5, 2.0, size=shape)
    if kind == "away0":
        return rng.uniform(0.2, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    if kind in ("with0", "ties", "bounds"):  # the non-differentiable points, exactly
        pool = {
            "with0": [0.0, -1.5, 0.7, 2.0],
            "ties": [-1.0, 0.5, 2.0],
            "bounds": [-0.5, 0.5, -1.0, 0.2, 1.0],
        }[kind]
        return rng.choice(pool, size=shape)
    if kind == "prob":
        e = np.exp(rng.normal(size=shape))
        return e / e.sum(axis=-1, keepdims=True)
    if kind == "unit":
        return rng.uniform(0.0, 1.0, size=shape)
    raise ValueError(kind)


IDS = [c[0] for c in CASES]
assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("id_, ours, theirs, specs", CASES, ids=IDS)
def test_matches_torch(id_: str, ours: Any, theirs: Any, specs: Any) -> None:
    rng = np.random.default_rng(zlib.crc32(id_.encode()))
    arrays = [draw(rng, shape, kind) for shape, kind in specs]
    xs = [gn.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, ref = ours(*xs), theirs(*ts)
    assert out.dtype == np.float64
    assert out.shape == tuple(ref.shape), f"{id_}: shape {out.shape} vs torch {tuple(ref.shape)}"
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=RTOL, atol=1e-12)
    upstream = rng.normal(size=out.shape)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for i, (x, t) in enumerate(zip(xs, ts)):
        expected = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
        got = np.zeros(x.shape) if x.grad is None else x.grad
        np.testing.assert_allclose(
            got, expected, rtol=RTOL, atol=1e-12, err_msg=f"{id_}: gradient of input {i}"
        )


def test_fused_losses_match_composed_path() -> None:
    """The fused ops give the same gradients as softmax → log → pick (DESIGN: never wrong)."""
    rng = np.random.default_rng(3)
    z_np = rng.normal(scale=3.0, size=(6, 5))
    a = gn.tensor(z_np, dtype="float64", requires_grad=True)
    b = gn.tensor(z_np, dtype="float64", requires_grad=True)
    fused = F.sparse_softmax_cross_entropy(a, LABELS)
    composed = -F.log(F.softmax(b, axis=1))[np.arange(6), LABELS].mean()
    fused.backward()
    composed.backward()
    np.testing.assert_allclose(fused.item(), composed.item(), rtol=1e-12)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-9, atol=1e-15)

    y = rng.uniform(size=(6, 5))
    c = gn.tensor(z_np, dtype="float64", requires_grad=True)
    d = gn.tensor(z_np, dtype="float64", requires_grad=True)
    fused = F.sigmoid_binary_cross_entropy(c, y, reduction="sum")
    s = F.sigmoid(d)
    composed = -(y * F.log(s) + (1 - y) * F.log(1 - s)).mean(axis=-1).sum()
    fused.backward()
    composed.backward()
    np.testing.assert_allclose(fused.item(), composed.item(), rtol=1e-9)
    np.testing.assert_allclose(c.grad, d.grad, rtol=1e-7, atol=1e-12)
