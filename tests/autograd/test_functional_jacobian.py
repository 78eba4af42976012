"""jacobian, vjp, jvp (issue 17, seed 003's Jacobians) against PyTorch's
torch.autograd.functional, central differences and the engine's own matmul VJPs."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet.functional as F
from glassnet.autograd import Tensor
from glassnet.autograd.functional import jacobian, jvp, vjp
from glassnet.errors import InvalidArgumentError, ShapeError


def _central(f_np, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """J by central differences: (f(x + ε e_j) − f(x − ε e_j)) / 2ε, column by column."""
    out = np.asarray(f_np(x))
    jac = np.zeros(out.shape + x.shape)
    for j in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[j] = eps
        jac[(...,) + j] = (np.asarray(f_np(x + step)) - np.asarray(f_np(x - step))) / (2 * eps)
    return jac


W = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
W_T = Tensor(W.T, dtype="float64")  # a float64 constant: glassnet's default dtype is float32


def ours_layer(x):  # type: ignore[no-untyped-def]
    return F.sigmoid(x @ W_T)


def np_layer(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(x @ W.T)))


def test_jacobian_of_a_sigmoid_layer_matches_central_differences_and_torch() -> None:
    x = np.array([[0.3, -0.2, 0.9], [1.1, 0.4, -0.5]])
    jac = jacobian(ours_layer, x)
    assert jac.shape == (2, 2, 2, 3)
    np.testing.assert_allclose(jac, _central(np_layer, x), rtol=1e-6, atol=1e-9)
    torch = pytest.importorskip("torch")
    ref = torch.autograd.functional.jacobian(
        lambda t: torch.sigmoid(t @ torch.tensor(W).T), torch.tensor(x)
    )
    np.testing.assert_allclose(jac, ref.numpy(), rtol=1e-12, atol=1e-15)


def test_vjp_and_jvp_match_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, v_out, v_in = rng.normal(size=(2, 3)), rng.normal(size=(2, 2)), rng.normal(size=(2, 3))
    tf = lambda t: torch.sigmoid(t @ torch.tensor(W).T)  # noqa: E731
    out, got = vjp(ours_layer, x, v_out)
    ref_out, ref = torch.autograd.functional.vjp(tf, torch.tensor(x), torch.tensor(v_out))
    np.testing.assert_allclose(out, ref_out.numpy(), rtol=1e-12)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-12, atol=1e-15)
    out, got = jvp(ours_layer, x, v_in)
    ref_out, ref = torch.autograd.functional.jvp(tf, torch.tensor(x), torch.tensor(v_in))
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-12, atol=1e-15)
    # J v by central differences along v
    eps = 1e-6
    np.testing.assert_allclose(
        got, (np_layer(x + eps * v_in) - np_layer(x - eps * v_in)) / (2 * eps), rtol=1e-6
    )


def test_seed_003_matrix_product_gradients_are_the_vjps() -> None:
    """D = W X: dW = dD Xᵀ and dX = Wᵀ dD, as seed 003 derives through the Jacobians."""
    rng = np.random.default_rng(1)
    w, x, d_d = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    out, (d_w, d_x) = vjp(lambda a, b: a @ b, (w, x), d_d)
    np.testing.assert_allclose(out, w @ x, rtol=1e-15)
    np.testing.assert_allclose(d_w, d_d @ x.T, rtol=1e-12)
    np.testing.assert_allclose(d_x, w.T @ d_d, rtol=1e-12)
    j_w, j_x = jacobian(lambda a, b: a @ b, (w, x))
    assert j_w.shape == (4, 5, 4, 3) and j_x.shape == (4, 5, 3, 5)
    # contracting the Jacobians with dD gives the same
    np.testing.assert_allclose(np.tensordot(d_d, j_w, axes=2), d_w, rtol=1e-12)
    np.testing.assert_allclose(np.tensordot(d_d, j_x, axes=2), d_x, rtol=1e-12)


def test_softmax_jacobian_is_diag_a_minus_a_at() -> None:
    z = np.array([0.2, -1.0, 0.7])
    a = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(
        jacobian(lambda t: F.softmax(t, axis=-1), z), np.diag(a) - np.outer(a, a), atol=1e-15
    )


def test_bad_calls_are_one_sentence() -> None:
    with pytest.raises(InvalidArgumentError, match="v must be given"):
        vjp(ours_layer, np.ones((2, 3)))
    with pytest.raises(ShapeError, match="v has shape"):
        vjp(ours_layer, np.ones((2, 3)), np.ones(3))
    with pytest.raises(InvalidArgumentError, match="Tensor"):
        jacobian(lambda t: 3.0, np.ones(2))
    with pytest.raises(ShapeError, match="match the inputs"):
        jvp(ours_layer, np.ones((2, 3)), np.ones(2))
