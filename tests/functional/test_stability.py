"""Numerical stability at extreme logits (±1000) in float32 and float64: finite, correct (against
closed forms written with the math module), and silent (no RuntimeWarning)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator

import numpy as np
import pytest

import glassnet as gn
import glassnet.functional as F

Z = [-1000.0, -100.0, -30.0, -1.0, 0.0, 0.5, 30.0, 100.0, 1000.0]
DTYPES = ["float32", "float64"]
RTOL = {"float32": 1e-6, "float64": 1e-12}
TINY = {"float32": float(np.finfo(np.float32).tiny), "float64": 1e-300}  # below: flushed to 0


@pytest.fixture(autouse=True)
def no_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning (overflow, invalid, ...) fails
        yield


def sigmoid_ref(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def softplus_ref(z: float) -> float:
    return z + math.log1p(math.exp(-z)) if z > 0 else math.log1p(math.exp(z))


def logsumexp_ref(row: list[float]) -> float:
    m = max(row)
    return m + math.log(sum(math.exp(v - m) for v in row))


def run(fn: object, values: object, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Value and gradient (of the sum) of fn at values."""
    x = gn.tensor(values, dtype=dtype, requires_grad=True)
    out = fn(x)  # type: ignore[operator]
    assert out.dtype == np.dtype(dtype)
    out.sum().backward()
    assert np.isfinite(out.numpy()).all() and np.isfinite(x.grad).all()
    return out.numpy(), x.grad


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid(dtype: str) -> None:
    value, grad = run(F.sigmoid, Z, dtype)
    want = np.array([sigmoid_ref(z) for z in Z])
    np.testing.assert_allclose(value, want, rtol=RTOL[dtype], atol=TINY[dtype])
    # σ' = σ(1 − σ) is read from σ, which rounds to 1 for z ≳ 17 in float32 (PyTorch too), so
    # the derivative is right to float32's absolute precision there, not relatively.
    np.testing.assert_allclose(
        grad, want * (1 - want), rtol=RTOL[dtype], atol=1e-7 if dtype == "float32" else TINY[dtype]
    )
    assert value[-1] == 1.0 and value[0] >= 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus(dtype: str) -> None:
    value, grad = run(F.softplus, Z, dtype)
    tol = {"rtol": RTOL[dtype], "atol": TINY[dtype]}
    np.testing.assert_allclose(value, [softplus_ref(z) for z in Z], **tol)
    np.testing.assert_allclose(grad, [sigmoid_ref(z) for z in Z], **tol)
    assert value[-1] == 1000.0


@pytest.mark.parametrize(
    "fn",
    [F.tanh, F.gelu, F.elu, F.relu, F.leaky_relu],
    ids=["tanh", "gelu", "elu", "relu", "leaky_relu"],
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_friends_stay_finite_and_quiet(fn: object, dtype: str) -> None:
    value, _ = run(fn, Z, dtype)
    assert value[-1] == pytest.approx(1000.0 if fn is not F.tanh else 1.0)


ROWS = [
    [1000.0, -1000.0, 0.0],
    [1000.0, 1000.0, 999.0],
    [-1000.0, -1000.0, -1000.0],
    [0.0, 1.0, 2.0],
]


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp(dtype: str) -> None:
    value, grad = run(lambda x: F.logsumexp(x, axis=1), ROWS, dtype)
    np.testing.assert_allclose(value, [logsumexp_ref(r) for r in ROWS], rtol=RTOL[dtype])
    soft = [[math.exp(v - logsumexp_ref(r)) for v in r] for r in ROWS]
    np.testing.assert_allclose(grad, soft, rtol=RTOL[dtype], atol=TINY[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax(dtype: str) -> None:
    value, _ = run(lambda x: F.log_softmax(x, axis=1), ROWS, dtype)
    want = [[v - logsumexp_ref(r) for v in r] for r in ROWS]
    np.testing.assert_allclose(value, want, rtol=RTOL[dtype], atol=1e-5)
    assert value[0, 1] == pytest.approx(-2000.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax(dtype: str) -> None:
    value, _ = run(lambda x: F.softmax(x, axis=1), ROWS, dtype)
    want = [[math.exp(v - logsumexp_ref(r)) for v in r] for r in ROWS]
    np.testing.assert_allclose(value, want, rtol=RTOL[dtype], atol=TINY[dtype])
    np.testing.assert_allclose(value.sum(axis=1), 1.0, atol=1e-6)
    columns, _ = run(lambda x: F.softmax(x, axis=0), ROWS, dtype)
    np.testing.assert_allclose(columns.sum(axis=0), 1.0, atol=1e-6)


def test_softmax_rows_sum_to_one_on_random_wide_logits() -> None:
    rng = np.random.default_rng(0)
    for dtype in DTYPES:
        z = gn.tensor(rng.normal(scale=300.0, size=(64, 10)), dtype=dtype)
        np.testing.assert_allclose(F.softmax(z).numpy().sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_cross_entropy(dtype: str) -> None:
    logits = [[1000.0, -1000.0], [-1000.0, 1000.0], [1000.0, 1000.0]]
    labels = [1, 1, 0]
    z = gn.tensor(logits, dtype=dtype, requires_grad=True)
    loss = F.sparse_softmax_cross_entropy(z, labels)
    loss.backward()
    per = [logsumexp_ref(r) - r[y] for r, y in zip(logits, labels)]  # 2000, 0, log 2
    assert loss.item() == pytest.approx(sum(per) / 3, rel=RTOL[dtype])
    soft = np.array([[math.exp(v - logsumexp_ref(r)) for v in r] for r in logits])
    np.testing.assert_allclose(
        z.grad, (soft - np.eye(2)[labels]) / 3, rtol=RTOL[dtype], atol=TINY[dtype]
    )
    none = F.sparse_softmax_cross_entropy(z, labels, reduction="none").numpy()
    np.testing.assert_allclose(none, per, rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy(dtype: str) -> None:
    logits = [[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]]
    targets = np.array([[0.0, 0.5, 0.5], [0.0, 1.0, 0.0]])
    z = gn.tensor(logits, dtype=dtype, requires_grad=True)
    loss = F.softmax_cross_entropy(z, targets, reduction="sum")
    loss.backward()
    want = sum(
        -sum(t * (v - logsumexp_ref(r)) for t, v in zip(tr, r)) for tr, r in zip(targets, logits)
    )  # 0.5·2000 + 0.5·1000 + 0
    assert loss.item() == pytest.approx(want, rel=RTOL[dtype])
    soft = np.array([[math.exp(v - logsumexp_ref(r)) for v in r] for r in logits])
    np.testing.assert_allclose(z.grad, soft - targets, rtol=RTOL[dtype], atol=TINY[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_binary_cross_entropy(dtype: str) -> None:
    logits = [1000.0, -1000.0, 1000.0, -1000.0, 0.0]
    targets = [0.0, 1.0, 1.0, 0.0, 1.0]
    z = gn.tensor(logits, dtype=dtype, requires_grad=True)
    loss = F.sigmoid_binary_cross_entropy(z, targets)
    loss.backward()
    # −[y log σ(z) + (1 − y) log(1 − σ(z))] = softplus(z) − y·z
    per = [softplus_ref(v) - t * v for v, t in zip(logits, targets)]  # 1000, 1000, 0, 0, log 2
    assert loss.item() == pytest.approx(sum(per) / 5, rel=RTOL[dtype])
    want = [(sigmoid_ref(v) - t) / 5 for v, t in zip(logits, targets)]
    np.testing.assert_allclose(z.grad, want, rtol=RTOL[dtype], atol=TINY[dtype])


def test_kernels_derivatives_are_finite_at_extremes() -> None:
    """σ'(z) as the layers and explain tools read it (Kernel.prime), at ±1000."""
    z = np.array(Z, dtype=np.float32)
    for name, kernel in F.KERNELS.items():
        a = kernel.value(z)
        assert np.isfinite(a).all() and np.isfinite(kernel.prime(z, a)).all(), name
