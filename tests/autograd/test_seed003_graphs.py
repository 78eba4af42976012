"""Seed 003's hand-worked computational graphs (the cs231n examples), computed with tensors.

The expected values are derived here with plain arithmetic, step by step as the seed does it
("downstream gradient = upstream gradient × local gradient"), then checked against the
rounded numbers the seed prints.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet as gn
import glassnet.functional as F


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_add_then_multiply_gate(dtype: str) -> None:
    """f(x, y, z) = (x + y)·z at x = −2, y = 5, z = −4."""
    xv, yv, zv = -2.0, 5.0, -4.0
    # forward: q = x + y, f = q·z
    q_v = xv + yv
    f_v = q_v * zv
    # backward: ∂f/∂q = z, ∂f/∂z = q; ∂q/∂x = ∂q/∂y = 1
    df_dq = zv
    df_dz = q_v
    df_dx = df_dq * 1.0
    df_dy = df_dq * 1.0
    assert (f_v, df_dx, df_dy, df_dz) == (-12.0, -4.0, -4.0, 3.0)  # the seed's numbers

    x = gn.tensor(xv, dtype=dtype, requires_grad=True)
    y = gn.tensor(yv, dtype=dtype, requires_grad=True)
    z = gn.tensor(zv, dtype=dtype, requires_grad=True)
    q = x + y
    q.retain_grad()
    f = q * z
    assert f.dtype == np.dtype(dtype)
    assert f.item() == f_v
    f.backward()
    assert q.grad == df_dq
    assert (x.grad, y.grad, z.grad) == (df_dx, df_dy, df_dz)


def _expected_neuron() -> tuple[float, list[float], list[float]]:
    w = [2.0, -3.0, -3.0]
    x = [-1.0, -2.0]
    dot = w[0] * x[0] + w[1] * x[1] + w[2]
    f = 1.0 / (1.0 + math.exp(-dot))
    ddot = (1.0 - f) * f  # the sigmoid gate's local gradient σ(1 − σ)
    dx = [w[0] * ddot, w[1] * ddot]
    dw = [x[0] * ddot, x[1] * ddot, 1.0 * ddot]
    return f, dw, dx


def test_expected_values_are_the_seeds() -> None:
    f, dw, dx = _expected_neuron()
    assert round(f, 4) == 0.7311
    assert [round(v, 4) for v in dw] == [-0.1966, -0.3932, 0.1966]
    assert [round(v, 4) for v in dx] == [0.3932, -0.5898]


@pytest.mark.parametrize("dtype, rel", [("float64", 1e-12), ("float32", 1e-6)])
def test_sigmoid_neuron_scalar_gates(dtype: str, rel: float) -> None:
    """f(w, x) = 1 / (1 + e^−(w0·x0 + w1·x1 + w2)), gate by gate as in the seed's flat code."""
    f_e, dw_e, dx_e = _expected_neuron()
    w = [gn.tensor(v, dtype=dtype, requires_grad=True) for v in (2.0, -3.0, -3.0)]
    x = [gn.tensor(v, dtype=dtype, requires_grad=True) for v in (-1.0, -2.0)]
    dot = w[0] * x[0] + w[1] * x[1] + w[2]
    f = 1.0 / (1.0 + F.exp(-dot))
    assert f.item() == pytest.approx(f_e, rel=rel)
    f.backward()
    assert [t.grad for t in w] == pytest.approx(dw_e, rel=rel)
    assert [t.grad for t in x] == pytest.approx(dx_e, rel=rel)


@pytest.mark.parametrize("dtype, rel", [("float64", 1e-12), ("float32", 1e-6)])
def test_sigmoid_neuron_vectorised(dtype: str, rel: float) -> None:
    """The same neuron with vectors and the fused sigmoid: σ(w · [x, 1])."""
    f_e, dw_e, dx_e = _expected_neuron()
    w = gn.tensor([2.0, -3.0, -3.0], dtype=dtype, requires_grad=True)
    x = gn.tensor([-1.0, -2.0], dtype=dtype, requires_grad=True)
    z = w @ F.concat([x, gn.tensor([1.0], dtype=dtype)])
    z.retain_grad()
    f = F.sigmoid(z)
    assert f.item() == pytest.approx(f_e, rel=rel)
    f.backward()
    assert z.grad == pytest.approx((1 - f_e) * f_e, rel=rel)  # the sigmoid gate's gradient
    np.testing.assert_allclose(w.grad, dw_e, rtol=rel)
    np.testing.assert_allclose(x.grad, dx_e, rtol=rel)


def test_matrix_gate_matches_the_seeds_formulas() -> None:
    """D = W·X; with upstream dD the seed writes dW = dD·Xᵀ and dX = Wᵀ·dD."""
    rng = np.random.default_rng(0)
    W_np, X_np = rng.normal(size=(5, 10)), rng.normal(size=(10, 3))
    W = gn.tensor(W_np, dtype="float64", requires_grad=True)
    X = gn.tensor(X_np, dtype="float64", requires_grad=True)
    D = W @ X
    dD = rng.normal(size=D.shape)
    D.backward(dD)
    np.testing.assert_allclose(W.grad, dD @ X_np.T, rtol=1e-12)
    np.testing.assert_allclose(X.grad, W_np.T @ dD, rtol=1e-12)
