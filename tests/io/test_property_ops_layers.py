"""Property tests (hypothesis) over ops, losses and Dense: random shapes — empty and degenerate
ones included — random axes and indices, values up to ±1e4 in float32 and float64.

Every call either gives the correct result (checked against an independent NumPy/math
reference computed in float64) or raises a GlassnetError. Never another exception type, and
never a NaN or inf where the math is finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import glassnet as gn
import glassnet.functional as F
from glassnet import losses as L
from glassnet.errors import GlassnetError
from glassnet.nn import Dense

# NumPy's floating-point warnings (x/0, a mean of no elements, in the references as in the ops)
# are noise here: the values themselves are checked.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

PROPS = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

DTYPES = st.sampled_from([np.float32, np.float64])
BOUND = 1e4
EPS = {
    np.dtype(np.float32): float(np.finfo(np.float32).eps),
    np.dtype(np.float64): float(np.finfo(np.float64).eps),
}
TINY = {np.dtype(np.float32): float(np.finfo(np.float32).tiny), np.dtype(np.float64): 1e-300}

_NOT_RUN = object()


def T(x: np.ndarray, grad: bool = True) -> gn.Tensor:
    """A tensor of x's own dtype (a float64 array would otherwise become float32)."""
    return gn.tensor(x, dtype=x.dtype, requires_grad=grad)


def outcome(fn: Callable[[], Any]) -> Any:
    """The result of ``fn()``, or None for a GlassnetError; any other exception propagates."""
    try:
        return fn()
    except GlassnetError as exc:
        assert str(exc) and "\n" not in str(exc), f"bad message {exc!r}"
        return None


def numpy_outcome(fn: Callable[[], Any]) -> Any:
    """NumPy's result, or _NOT_RUN if NumPy itself refuses the input."""
    try:
        with np.errstate(all="ignore"):
            return fn()
    except (ValueError, IndexError, TypeError):
        return _NOT_RUN


def values(dtype: Any, shape: Any, bound: float = BOUND) -> st.SearchStrategy[np.ndarray]:
    width = 32 if np.dtype(dtype) == np.float32 else 64
    elements = st.one_of(
        st.floats(-bound, bound, width=width),
        st.sampled_from([0.0, -0.0, bound, -bound, 1.0, -1.0, 1e-30 if width == 64 else 1e-30]),
    )
    return hnp.arrays(dtype, shape, elements=elements)


def shapes(
    min_dims: int = 0, max_dims: int = 4, min_side: int = 0, max_side: int = 4
) -> st.SearchStrategy[tuple[int, ...]]:
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def assert_close(
    got: np.ndarray, ref: np.ndarray, dtype: Any, rtol: float, atol: Any = 0.0, what: str = ""
) -> None:
    got = np.asarray(got)
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, expected {ref.shape}"
    assert got.dtype == np.dtype(dtype), f"{what}: dtype {got.dtype}, expected {np.dtype(dtype)}"
    finite = np.isfinite(ref)
    bad = finite & ~np.isfinite(got)
    assert not bad.any(), f"{what}: NaN/inf where the math is finite, at {np.argwhere(bad)[:3]}"
    g = got.astype(np.float64)
    err = np.abs(g - ref)
    limit = rtol * np.abs(ref) + atol
    wrong = finite & (err > limit)
    assert not wrong.any(), (
        f"{what}: max error {err[wrong].max():.3g} at "
        f"{np.argwhere(wrong)[:3].tolist()}: got {g[wrong][:3]}, "
        f"expected {ref[wrong][:3]}"
    )


def reference_grad_of_sum(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """∂(Σ f(x))/∂x for an f that is linear in x, by evaluating f on basis arrays (float64)."""
    x64 = x.astype(np.float64)
    base = float(np.sum(f(np.zeros_like(x64))))
    grad = np.zeros_like(x64)
    for i in np.ndindex(*x.shape):
        e = np.zeros_like(x64)
        e[i] = 1.0
        grad[i] = float(np.sum(f(e))) - base
    return grad


# =============================================================================================
# Arithmetic with broadcasting
# =============================================================================================
@st.composite
def operand_pairs(draw: Any) -> tuple[np.ndarray, np.ndarray]:
    dtype = draw(DTYPES)
    if draw(st.booleans()):
        sa, sb = draw(
            hnp.mutually_broadcastable_shapes(
                num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3
            )
        ).input_shapes
    else:  # independent shapes: often not broadcastable
        sa, sb = draw(shapes(max_dims=3, max_side=3)), draw(shapes(max_dims=3, max_side=3))
    return draw(values(dtype, sa)), draw(values(dtype, sb))


@PROPS
@given(pair=operand_pairs(), op=st.sampled_from(["add", "sub", "mul", "div"]))
def test_elementwise_arithmetic_broadcasting(pair: tuple[np.ndarray, np.ndarray], op: str) -> None:
    a, b = pair
    ref = numpy_outcome(
        lambda: getattr(
            np, {"add": "add", "sub": "subtract", "mul": "multiply", "div": "divide"}[op]
        )(a.astype(np.float64), b.astype(np.float64))
    )
    ta, tb = T(a), T(b)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = outcome(lambda: getattr(F, op)(ta, tb))
    if ref is _NOT_RUN:
        assert out is None, f"{op}{a.shape, b.shape}: NumPy refuses, glassnet did not"
        return
    assert out is not None, f"{op}{a.shape, b.shape}: glassnet refused a valid broadcast"
    eps = EPS[a.dtype]
    if op in ("add", "sub"):
        atol = eps * (np.abs(a).astype(np.float64) + np.abs(b))
    else:
        atol = TINY[a.dtype]
    # x/0 and products beyond float32's range are not finite math: compare only where the
    # float64 reference is representable in the dtype.
    ref = np.where(np.abs(ref) > np.finfo(a.dtype).max, np.inf, ref)
    assert_close(out.data, ref, a.dtype, rtol=2 * eps, atol=atol, what=op)
    # Gradients of Σ out come back in the operands' shapes (broadcasting undone).
    if op in ("add", "sub", "mul"):
        with np.errstate(over="ignore", invalid="ignore"):
            F.sum(out).backward()
        assert ta.grad is not None and ta.grad.shape == a.shape
        assert tb.grad is not None and tb.grad.shape == b.shape
        if op in ("add", "sub"):
            ga = reference_grad_of_sum(lambda x: x + b.astype(np.float64) * 0, a)
            assert_close(ta.grad, ga, a.dtype, rtol=0, what=f"{op} grad a")


# =============================================================================================
# matmul
# =============================================================================================
@st.composite
def matmul_pairs(draw: Any) -> tuple[np.ndarray, np.ndarray]:
    dtype = draw(DTYPES)
    n, k, m = draw(st.integers(0, 3)), draw(st.integers(0, 3)), draw(st.integers(0, 3))
    k2 = k if draw(st.integers(0, 4)) else draw(st.integers(0, 3))  # sometimes mismatched
    batch = draw(shapes(max_dims=2, max_side=2))
    batch_b = batch if draw(st.booleans()) else draw(shapes(max_dims=2, max_side=2))
    kind_a, kind_b = (
        draw(st.sampled_from(["0d", "1d", "2d", "nd"])),
        draw(st.sampled_from(["0d", "1d", "2d", "nd"])),
    )
    sa = {"0d": (), "1d": (k,), "2d": (n, k), "nd": batch + (n, k)}[kind_a]
    sb = {"0d": (), "1d": (k2,), "2d": (k2, m), "nd": batch_b + (k2, m)}[kind_b]
    return draw(values(dtype, sa, bound=100.0)), draw(values(dtype, sb, bound=100.0))


@PROPS
@given(pair=matmul_pairs())
def test_matmul_shape_combinations(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    ref = numpy_outcome(lambda: np.matmul(a.astype(np.float64), b.astype(np.float64)))
    ta, tb = T(a), T(b)
    out = outcome(lambda: F.matmul(ta, tb))
    if ref is _NOT_RUN:
        assert out is None, f"matmul{a.shape, b.shape}: NumPy refuses, glassnet did not"
        return
    assert out is not None, f"matmul{a.shape, b.shape}: glassnet refused valid shapes"
    inner = a.shape[-1] if a.ndim else 1
    atol = (
        2
        * inner
        * EPS[a.dtype]
        * np.matmul(np.abs(a).astype(np.float64), np.abs(b).astype(np.float64))
        + TINY[a.dtype]
    )
    assert_close(out.data, ref, a.dtype, rtol=0, atol=atol, what="matmul")
    F.sum(out).backward()
    if a.size * b.size <= 400:
        b64, a64 = b.astype(np.float64), a.astype(np.float64)
        ga = reference_grad_of_sum(lambda x: np.matmul(x, b64), a)
        gb = reference_grad_of_sum(lambda x: np.matmul(a64, x), b)
        tol_a = 2 * max(1, b.size) * EPS[a.dtype] * (np.abs(ga) + 1)
        tol_b = 2 * max(1, a.size) * EPS[a.dtype] * (np.abs(gb) + 1)
        assert_close(ta.grad, ga, a.dtype, rtol=0, atol=tol_a, what="matmul grad a")
        assert_close(tb.grad, gb, a.dtype, rtol=0, atol=tol_b, what="matmul grad b")


# =============================================================================================
# Reductions with random axes
# =============================================================================================
@st.composite
def axes_for(draw: Any, ndim: int) -> Any:
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim - 1, ndim))
    return tuple(draw(st.lists(st.integers(-ndim - 1, ndim), max_size=3)))


@PROPS
@given(
    data=st.data(),
    op=st.sampled_from(["sum", "mean", "max", "min"]),
    keepdims=st.booleans(),
    dtype=DTYPES,
)
def test_reductions_with_random_axes(data: Any, op: str, keepdims: bool, dtype: Any) -> None:
    x = data.draw(values(dtype, data.draw(shapes(max_dims=4, max_side=3))))
    axis = data.draw(axes_for(x.ndim))
    np_op = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[op]
    ref = numpy_outcome(lambda: np_op(x.astype(np.float64), axis=axis, keepdims=keepdims))
    if ref is not _NOT_RUN and np.asarray(ref).size and op == "mean" and np.isnan(ref).any():
        ref = _NOT_RUN  # a mean over an empty axis: glassnet refuses, which is fine
    t = T(x)
    out = outcome(lambda: getattr(F, op)(t, axis=axis, keepdims=keepdims))
    if ref is _NOT_RUN:
        # A 0-d tensor reduced over "axis 0" is itself (as in PyTorch); otherwise refuse.
        if out is not None:
            flat = axis if isinstance(axis, tuple) else (axis,)
            assert x.ndim == 0 and all(a in (0, -1) for a in flat), (op, x.shape, axis)
            assert out.data == x
        return
    if x.size == 0 and out is None:
        return  # reducing an empty tensor: refusing is as good as an empty result
    assert out is not None, f"{op}{x.shape} axis={axis}: glassnet refused"
    n = max(1, x.size)
    atol = n * EPS[x.dtype] * np.max(np.abs(x), initial=0.0) + TINY[x.dtype]
    assert_close(out.data, ref, x.dtype, rtol=0, atol=atol, what=f"{op} axis={axis}")
    F.sum(out).backward()
    assert t.grad is not None and t.grad.shape == x.shape
    assert np.isfinite(t.grad).all()
    if op in ("max", "min"):  # ties share: each reduced group passes on a total of 1
        assert math.isclose(
            float(t.grad.astype(np.float64).sum()), float(np.asarray(ref).size), rel_tol=1e-5
        )
    elif op == "sum":
        assert np.all(t.grad == 1)


# =============================================================================================
# reshape and getitem
# =============================================================================================
@PROPS
@given(data=st.data(), dtype=DTYPES)
def test_reshape_to_random_targets(data: Any, dtype: Any) -> None:
    x = data.draw(values(dtype, data.draw(shapes(max_dims=3, max_side=4))))
    if data.draw(st.booleans()):  # a valid factorisation with maybe one −1
        dims: list[int] = []
        rest = x.size
        for _ in range(data.draw(st.integers(0, 3))):
            d = data.draw(st.sampled_from([d for d in range(1, 7) if rest % d == 0] or [1]))
            dims.append(d)
            rest //= d
        dims.append(rest)
        if data.draw(st.booleans()) and rest != 0:
            dims[data.draw(st.integers(0, len(dims) - 1))] = -1
        target: Any = tuple(dims)
    else:
        target = tuple(data.draw(st.lists(st.integers(-2, 7), max_size=4)))
    ref = numpy_outcome(lambda: x.reshape(target))
    t = T(x)
    out = outcome(lambda: F.reshape(t, target))
    if ref is _NOT_RUN:
        assert out is None, f"reshape {x.shape} → {target}: NumPy refuses, glassnet did not"
        return
    assert out is not None, f"reshape {x.shape} → {target}: glassnet refused"
    assert out.data.shape == ref.shape and np.array_equal(out.data, ref)
    F.sum(out).backward()
    assert t.grad.shape == x.shape and np.all(t.grad == 1)


@st.composite
def indices(draw: Any, shape: tuple[int, ...]) -> Any:
    def one(size: int) -> Any:
        kind = draw(
            st.sampled_from(["int", "slice", "none", "ellipsis", "array", "bool", "float", "list"])
        )
        if kind == "int":
            return draw(st.integers(-size - 2, size + 1))
        if kind == "slice":
            bound = st.one_of(st.none(), st.integers(-size - 2, size + 2))
            return slice(draw(bound), draw(bound), draw(st.one_of(st.none(), st.integers(-3, 3))))
        if kind == "none":
            return None
        if kind == "ellipsis":
            return Ellipsis
        if kind == "array":
            return np.array(
                draw(st.lists(st.integers(-size - 1, size), max_size=4)), dtype=np.int64
            )
        if kind == "bool":
            n = size if draw(st.integers(0, 3)) else draw(st.integers(0, 5))
            return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        if kind == "float":
            return 1.5
        return draw(st.lists(st.integers(-size, max(size - 1, 0)), max_size=3))

    count = draw(st.integers(1, len(shape) + 1))
    items = [one(shape[i] if i < len(shape) else 1) for i in range(count)]
    return items[0] if count == 1 and draw(st.booleans()) else tuple(items)


@PROPS
@given(data=st.data(), dtype=DTYPES)
def test_getitem_with_random_indices(data: Any, dtype: Any) -> None:
    x = data.draw(values(dtype, data.draw(shapes(min_dims=0, max_dims=3, max_side=4))))
    index = data.draw(indices(x.shape))
    plain = (
        tuple(np.asarray(i) if isinstance(i, list) else i for i in index)
        if isinstance(index, tuple)
        else (np.asarray(index) if isinstance(index, list) else index)
    )
    ref = numpy_outcome(lambda: x[plain])
    t = T(x)
    out = outcome(lambda: F.getitem(t, index))
    if ref is _NOT_RUN:
        assert out is None, f"{x.shape}[{index!r}]: NumPy refuses, glassnet did not"
        return
    assert out is not None, f"{x.shape}[{index!r}]: glassnet refused"
    ref = np.asarray(ref)
    assert out.data.shape == ref.shape and np.array_equal(out.data, ref)
    F.sum(out).backward()
    # Each element's gradient is how often the index picked it.
    ids = np.arange(x.size).reshape(x.shape)
    counts = np.bincount(np.asarray(ids[plain]).ravel(), minlength=x.size).reshape(x.shape)
    assert np.array_equal(t.grad, counts.astype(x.dtype))


# =============================================================================================
# Activations at extreme values
# =============================================================================================
GELU_C = math.sqrt(2.0 / math.pi)


def _sigmoid_ref(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _softplus_ref(z: float) -> float:
    return z + math.log1p(math.exp(-z)) if z > 0 else math.log1p(math.exp(z))


def _gelu_ref(z: float) -> float:
    return 0.5 * z * (1.0 + math.tanh(GELU_C * (z + 0.044715 * z**3)))


ACTIVATIONS: dict[
    str, tuple[Callable[..., Any], Callable[[float], float], Callable[[float], float]]
] = {
    # name: (op, value reference, derivative reference) — σ'(0) conventions as documented.
    "sigmoid": (F.sigmoid, _sigmoid_ref, lambda z: _sigmoid_ref(z) * (1 - _sigmoid_ref(z))),
    "softplus": (F.softplus, _softplus_ref, _sigmoid_ref),
    "tanh": (F.tanh, math.tanh, lambda z: 1 - math.tanh(z) ** 2),
    "relu": (F.relu, lambda z: max(z, 0.0), lambda z: 1.0 if z > 0 else 0.0),
    "leaky_relu": (
        lambda x: F.leaky_relu(x, negative_slope=0.2),
        lambda z: z if z > 0 else 0.2 * z,
        lambda z: 1.0 if z > 0 else 0.2,
    ),
    "elu": (
        lambda x: F.elu(x, alpha=0.7),
        lambda z: z if z > 0 else 0.7 * math.expm1(z),
        lambda z: 1.0 if z > 0 else 0.7 * math.exp(z),
    ),
    "gelu": (
        F.gelu,
        _gelu_ref,
        lambda z: (
            0.5 * (1 + math.tanh(GELU_C * (z + 0.044715 * z**3)))
            + 0.5
            * z
            * (1 - math.tanh(GELU_C * (z + 0.044715 * z**3)) ** 2)
            * GELU_C
            * (1 + 3 * 0.044715 * z * z)
        ),
    ),
}


@PROPS
@given(data=st.data(), name=st.sampled_from(sorted(ACTIVATIONS)), dtype=DTYPES)
def test_activations_at_extreme_values(data: Any, name: str, dtype: Any) -> None:
    x = data.draw(values(dtype, data.draw(shapes(max_dims=2, max_side=6))))
    op, value_ref, prime_ref = ACTIVATIONS[name]
    t = T(x)
    out = outcome(lambda: op(t))
    assert out is not None, f"{name}{x.shape}: refused valid input"
    z64 = x.astype(np.float64)
    ref = np.vectorize(value_ref, otypes=[np.float64])(z64) if x.size else z64
    eps = EPS[np.dtype(dtype)]
    # Values of the size of z (relu, gelu, ...) carry z's rounding: an absolute term in |z|.
    scale = np.abs(z64) if name in ("relu", "leaky_relu", "elu", "gelu", "softplus") else 0
    assert_close(
        out.data, ref, dtype, rtol=8 * eps, atol=8 * eps * scale + TINY[np.dtype(dtype)], what=name
    )
    F.sum(out).backward()
    d_ref = np.vectorize(prime_ref, otypes=[np.float64])(z64) if x.size else z64
    d_scale = (np.abs(z64) + 1) * 8 * eps if name == "gelu" else 8 * eps
    assert_close(
        t.grad, d_ref, dtype, rtol=16 * eps, atol=d_scale + TINY[np.dtype(dtype)], what=f"{name}'"
    )


# =============================================================================================
# softmax, log_softmax, logsumexp
# =============================================================================================
def _log_softmax_ref(z: np.ndarray, axis: int) -> np.ndarray:
    z = z.astype(np.float64)
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


@PROPS
@given(data=st.data(), dtype=DTYPES, op=st.sampled_from(["softmax", "log_softmax"]))
def test_softmax_and_log_softmax(data: Any, dtype: Any, op: str) -> None:
    x = data.draw(values(dtype, data.draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))))
    axis = data.draw(st.integers(-x.ndim - 1, x.ndim))
    t = T(x)
    out = outcome(lambda: getattr(F, op)(t, axis=axis))
    if not -x.ndim <= axis < x.ndim:
        assert out is None, f"{op} axis {axis} of {x.shape}: accepted"
        return
    assert out is not None
    log_p = _log_softmax_ref(x, axis)
    eps = EPS[np.dtype(dtype)]
    if op == "softmax":
        assert_close(out.data, np.exp(log_p), dtype, rtol=8 * eps, atol=4 * eps, what=op)
        sums = out.data.astype(np.float64).sum(axis=axis)
        assert np.all(np.abs(sums - 1) <= 1e-6), f"rows sum to {sums}"
    else:
        atol = 8 * eps * (np.abs(x.astype(np.float64)).max(axis=axis, keepdims=True) + 1)
        assert_close(out.data, log_p, dtype, rtol=8 * eps, atol=atol, what=op)
    F.sum(out * T(np.linspace(-1, 1, x.size).reshape(x.shape).astype(dtype), grad=False)).backward()
    assert np.isfinite(t.grad).all(), f"{op}: non-finite gradient"


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_over_an_empty_axis(op: str) -> None:
    x = T(np.zeros((3, 0), dtype=np.float32))
    out = outcome(lambda: getattr(F, op)(x, axis=-1))
    assert out is None or out.data.shape == (3, 0)


@PROPS
@given(data=st.data(), dtype=DTYPES, keepdims=st.booleans())
def test_logsumexp(data: Any, dtype: Any, keepdims: bool) -> None:
    x = data.draw(values(dtype, data.draw(shapes(min_dims=0, max_dims=3, max_side=6))))
    axis = data.draw(axes_for(x.ndim))
    t = T(x)
    out = outcome(lambda: F.logsumexp(t, axis=axis, keepdims=keepdims))

    def ref_fn() -> np.ndarray:
        z = x.astype(np.float64)
        m = np.max(z, axis=axis, keepdims=True)
        r = m + np.log(np.exp(z - m).sum(axis=axis, keepdims=True))
        return r if keepdims else np.squeeze(r, axis=axis) if axis is not None else r.reshape(())

    ref = numpy_outcome(ref_fn)
    if ref is _NOT_RUN:
        if out is not None:  # a 0-d tensor over "axis 0": itself
            assert x.ndim == 0 and np.array_equal(out.data, x)
        return
    if x.size == 0 and out is None:
        return  # an empty tensor: refusing is as good as an empty result
    assert out is not None, f"logsumexp{x.shape} axis={axis}: refused"
    eps = EPS[np.dtype(dtype)]
    atol = 8 * eps * (np.max(np.abs(x), initial=0.0) + 1)
    assert_close(out.data, ref, dtype, rtol=8 * eps, atol=atol, what="logsumexp")
    F.sum(out).backward()
    assert np.isfinite(t.grad).all()
    # The gradient is the softmax over the reduced axes: it sums to one per output element.
    assert math.isclose(
        float(t.grad.astype(np.float64).sum()), float(np.asarray(ref).size), rel_tol=1e-5
    )


# =============================================================================================
# Fused cross-entropies and the Loss classes
# =============================================================================================
@st.composite
def logits_and_labels(draw: Any) -> tuple[np.ndarray, np.ndarray]:
    dtype = draw(DTYPES)
    n, k = draw(st.integers(0, 5)), draw(st.integers(1, 5))
    z = draw(values(dtype, (n, k)))
    labels = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=np.int64)
    if draw(st.integers(0, 5)) == 0 and n:  # sometimes an out-of-range label
        labels[draw(st.integers(0, n - 1))] = draw(st.sampled_from([-1, k, k + 3]))
    return z, labels


def _reduce_ref(per: np.ndarray, reduction: str) -> np.ndarray:
    return {
        "mean": lambda: np.asarray(per.mean()),
        "sum": lambda: np.asarray(per.sum()),
        "none": lambda: per,
    }[reduction]()


REDUCTIONS = st.sampled_from(["mean", "sum", "none", "average"])


def _check_reduced(
    out: Any, per: np.ndarray, reduction: str, dtype: Any, what: str, x: np.ndarray
) -> None:
    if reduction == "average":
        assert out is None, f"{what}: reduction='average' accepted"
        return
    if per.size == 0 and reduction == "mean":
        # A mean over no samples is not finite math: a GlassnetError or NaN are both honest.
        assert out is None or np.isnan(out.data).all()
        return
    assert out is not None, f"{what}: refused valid input"
    eps = EPS[np.dtype(dtype)]
    scale = (np.abs(x.astype(np.float64)).max(initial=0.0) + 1) * max(1, x.size)
    assert_close(
        out.data,
        _reduce_ref(per, reduction),
        dtype,
        rtol=16 * eps,
        atol=16 * eps * scale,
        what=what,
    )


@PROPS
@given(pair=logits_and_labels(), reduction=REDUCTIONS)
def test_sparse_softmax_cross_entropy(pair: tuple[np.ndarray, np.ndarray], reduction: str) -> None:
    z, labels = pair
    k = z.shape[1]
    t = T(z)
    with np.errstate(all="ignore"):
        out = outcome(lambda: F.sparse_softmax_cross_entropy(t, labels, reduction=reduction))
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        assert out is None, "out-of-range labels accepted"
        return
    per = -_log_softmax_ref(z, -1)[np.arange(len(labels)), labels]
    _check_reduced(out, per, reduction, z.dtype, "sparse_softmax_cross_entropy", z)
    if out is not None and reduction != "average" and z.shape[0]:
        F.sum(out).backward()
        assert np.isfinite(t.grad).all()
        # δ = softmax(z) − onehot(y): every row of the gradient sums to zero.
        assert np.allclose(t.grad.astype(np.float64).sum(axis=1), 0, atol=1e-5)


@st.composite
def logits_and_targets(draw: Any, probabilities: bool) -> tuple[np.ndarray, np.ndarray]:
    dtype = draw(DTYPES)
    n, k = draw(st.integers(0, 5)), draw(st.integers(1, 5))
    z = draw(values(dtype, (n, k)))
    raw = draw(hnp.arrays(np.float64, (n, k), elements=st.floats(0, 1)))
    if probabilities:  # rows that are distributions (one-hot or soft)
        raw = raw + 1e-3
        raw = raw / raw.sum(axis=1, keepdims=True)
    if draw(st.integers(0, 6)) == 0:  # sometimes a wrong shape
        raw = raw[:, :-1] if k > 1 else raw.reshape(-1)
    return z, raw.astype(dtype)


@PROPS
@given(pair=logits_and_targets(probabilities=True), reduction=REDUCTIONS)
def test_softmax_cross_entropy(pair: tuple[np.ndarray, np.ndarray], reduction: str) -> None:
    z, y = pair
    t = T(z)
    with np.errstate(all="ignore"):
        out = outcome(lambda: F.softmax_cross_entropy(t, y, reduction=reduction))
    if y.shape != z.shape:
        assert out is None, "mismatched targets accepted"
        return
    per = -(y.astype(np.float64) * _log_softmax_ref(z, -1)).sum(axis=1)
    _check_reduced(out, per, reduction, z.dtype, "softmax_cross_entropy", z)
    if out is not None and reduction != "average" and z.shape[0]:
        F.sum(out).backward()
        assert np.isfinite(t.grad).all()


@PROPS
@given(pair=logits_and_targets(probabilities=False), reduction=REDUCTIONS)
def test_sigmoid_binary_cross_entropy(pair: tuple[np.ndarray, np.ndarray], reduction: str) -> None:
    z, y = pair
    t = T(z)
    with np.errstate(all="ignore"):
        out = outcome(lambda: F.sigmoid_binary_cross_entropy(t, y, reduction=reduction))
    if y.shape != z.shape:
        assert out is None, "mismatched targets accepted"
        return
    z64, y64 = z.astype(np.float64), y.astype(np.float64)
    per = (np.maximum(z64, 0) - z64 * y64 + np.log1p(np.exp(-np.abs(z64)))).mean(axis=-1)
    _check_reduced(out, per, reduction, z.dtype, "sigmoid_binary_cross_entropy", z)
    if out is not None and reduction != "average" and z.shape[0]:
        F.sum(out).backward()
        assert np.isfinite(t.grad).all()


def _clip(p: np.ndarray) -> np.ndarray:
    """Keras's clip to [ε, 1 − ε], done in the prediction's dtype as the losses do."""
    eps = p.dtype.type(L.EPSILON)
    return np.clip(p, eps, p.dtype.type(1) - eps).astype(np.float64)


@st.composite
def loss_cases(draw: Any) -> tuple[str, bool, np.ndarray, np.ndarray]:
    name = draw(
        st.sampled_from(
            [
                "mse",
                "mae",
                "quadratic",
                "binary_crossentropy",
                "categorical_crossentropy",
                "sparse_categorical_crossentropy",
            ]
        )
    )
    from_logits = draw(st.booleans())
    dtype = draw(DTYPES)
    n, k = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    logits = from_logits or name in ("mse", "mae", "quadratic")
    pred = draw(
        values(dtype, (n, k))
        if logits
        else hnp.arrays(
            dtype,
            (n, k),
            elements=st.one_of(st.floats(0, 1, width=32), st.sampled_from([0.0, 1.0])),
        )
    )
    if name == "sparse_categorical_crossentropy":
        y = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    elif name == "categorical_crossentropy":
        y = np.eye(k)[draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))]
    elif name == "binary_crossentropy":
        y = draw(hnp.arrays(np.float64, (n, k), elements=st.sampled_from([0.0, 0.25, 1.0])))
    else:
        y = draw(values(np.float64, (n, k)))
    return name, from_logits, pred, y


@PROPS
@given(case=loss_cases())
def test_loss_classes_with_probabilities_and_logits(
    case: tuple[str, bool, np.ndarray, np.ndarray],
) -> None:
    name, from_logits, pred, y = case
    loss = L.get({"name": name, "from_logits": from_logits} if from_logits else name)
    t = T(pred)
    out = outcome(lambda: loss(y, t))
    if from_logits and name in ("mse", "mae", "quadratic"):
        assert out is None, f"{name}: from_logits accepted"
        return
    assert out is not None, f"{name}(from_logits={from_logits}): refused valid input"
    p64, y64 = pred.astype(np.float64), y.astype(np.float64)
    if name == "mse":
        ref = np.mean((p64 - y64) ** 2)
    elif name == "mae":
        ref = np.mean(np.abs(p64 - y64))
    elif name == "quadratic":
        ref = np.mean(0.5 * ((p64 - y64) ** 2).sum(axis=-1))
    elif name == "binary_crossentropy":
        if from_logits:
            per = np.maximum(p64, 0) - p64 * y64 + np.log1p(np.exp(-np.abs(p64)))
        else:
            c = _clip(pred)
            per = -(y64 * np.log(c) + (1 - y64) * np.log(1 - c))
        ref = per.mean()
    else:
        log_p = _log_softmax_ref(pred, -1) if from_logits else np.log(_clip(pred))
        onehot = y64 if name == "categorical_crossentropy" else np.eye(pred.shape[1])[y]
        ref = np.mean(-(onehot * log_p).sum(axis=-1))
    eps = EPS[pred.dtype]
    scale = np.abs(p64).max() + np.abs(y64).max() + 1
    assert_close(
        out.data,
        np.asarray(ref),
        pred.dtype,
        rtol=64 * eps,
        atol=64 * eps * scale,
        what=f"{name}(from_logits={from_logits})",
    )
    out.backward()
    assert np.isfinite(t.grad).all(), f"{name}: non-finite gradient"


@PROPS
@given(data=st.data(), dtype=DTYPES)
def test_losses_refuse_mismatched_shapes(data: Any, dtype: Any) -> None:
    name = data.draw(
        st.sampled_from(
            [
                "mse",
                "mae",
                "binary_crossentropy",
                "categorical_crossentropy",
                "sparse_categorical_crossentropy",
            ]
        )
    )
    pred = data.draw(values(dtype, data.draw(shapes(max_dims=3, max_side=3))))
    y = data.draw(values(np.float64, data.draw(shapes(max_dims=3, max_side=3)), bound=3))
    out = outcome(lambda: L.get(name)(y, T(pred, grad=False)))
    if out is not None:  # accepted: then the shapes really fit the loss
        if name == "sparse_categorical_crossentropy":
            assert pred.ndim == 2 and y.shape[0] == pred.shape[0]
        else:  # equal shapes, or (N,) against (N, 1) and back, which Keras reshapes
            assert y.shape == pred.shape or L.matches_by_unit_axis(y.shape, pred.shape)
        assert out.data.shape == ()


# =============================================================================================
# Dense forward
# =============================================================================================
@PROPS
@given(data=st.data(), dtype=DTYPES, activation=st.sampled_from(sorted(F.KERNELS)))
def test_dense_forward_random_sizes(data: Any, dtype: Any, activation: str) -> None:
    units, fan_in = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    batch = data.draw(st.integers(0, 5))
    layer = Dense(
        units,
        activation=activation,
        input_dim=fan_in,
        dtype=np.dtype(dtype).name,
        bias_initializer="normal",
    )
    width = fan_in if data.draw(st.integers(0, 4)) else data.draw(st.integers(0, 7))
    x = data.draw(values(dtype, (batch, width)))
    z = outcome(lambda: layer.forward_logits(T(x, grad=False)))
    # A tensor of the layer's dtype (NumPy input to a float64 layer: see the regression test below).
    out = outcome(lambda: layer(T(x, grad=False)))
    if width != fan_in:
        assert z is None and out is None, f"Dense({fan_in} inputs) accepted width {width}"
        return
    assert z is not None and out is not None
    W, b = layer.W.data.astype(np.float64), layer.b.data.astype(np.float64)
    x64 = x.astype(np.float64)
    z_ref = x64 @ W.T + b
    eps = EPS[np.dtype(dtype)]
    atol = 4 * fan_in * eps * (np.abs(x64) @ np.abs(W).T + np.abs(b)) + TINY[np.dtype(dtype)]
    assert_close(z.data, z_ref, dtype, rtol=0, atol=atol, what="Dense z")
    # a = σ(z) from glassnet's own z, against the float64 kernel applied to the same z.
    a_ref = F.KERNELS[activation].value(z.data.astype(np.float64))
    scale = (
        np.abs(z.data.astype(np.float64)) if activation not in ("sigmoid", "tanh", "softmax") else 0
    )
    assert_close(
        out.data,
        a_ref,
        dtype,
        rtol=16 * eps,
        atol=16 * eps * (scale + 1),
        what=f"Dense a ({activation})",
    )
    if activation == "softmax" and batch:
        assert np.all(np.abs(out.data.astype(np.float64).sum(axis=1) - 1) <= 1e-6)


def test_dense_with_degenerate_inputs() -> None:
    layer = Dense(3, input_dim=4)
    assert layer(np.zeros((0, 4), np.float32)).data.shape == (0, 3)
    for bad in (
        np.zeros(4, np.float32),
        np.float32(1),
        np.zeros((2, 5), np.float32),
        np.array([["a"] * 4]),
    ):
        assert outcome(lambda bad=bad: layer(bad)) is None


def test_float64_layers_keep_float64_numpy_inputs() -> None:
    from glassnet.nn import Input
    from glassnet.training.model import Sequential

    x = np.array([[1.54117744]])  # not representable in float32
    layer = Dense(1, input_dim=1, dtype="float64", kernel_initializer="ones")
    model = Sequential([Input(shape=(1,)), Dense(1, dtype="float64", kernel_initializer="ones")])
    assert layer(x).data[0, 0] == x[0, 0]
    assert model.predict(x)[0, 0] == x[0, 0]
