"""Seed 003 §9.3.3.1: the two-layer NumPy training loop, written with glassnet tensors.

The seed computes every gradient by hand; glassnet's autograd must reproduce the same 20
losses and weights from the same initial weights (float64). The seed multiplies with
``ndarray.dot`` and glassnet with ``np.matmul``, which choose their BLAS routines separately
(gemv or gemm for an (n, 2)·(2, 1) product) and so need not round alike: the comparison is to
float64 rounding (1e-12 relative), not bit for bit.
"""

from __future__ import annotations

import numpy as np

import glassnet as gn
import glassnet.functional as F
from _tolerance import assert_close


def _numpy_loop(x, y, w1, w2, steps=20):
    """The seed's code, verbatim apart from returning the losses."""
    w1, w2 = w1.copy(), w2.copy()
    losses = []
    for _ in range(steps):
        h = 1 / (1 + np.exp(-x.dot(w1)))
        y_pred = h.dot(w2)
        loss = np.square(y_pred - y).sum()
        losses.append(loss)
        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h.T.dot(grad_y_pred)
        grad_h = grad_y_pred.dot(w2.T)
        grad_w1 = x.T.dot(grad_h * h * (1 - h))
        w1 -= 1e-4 * grad_w1
        w2 -= 1e-4 * grad_w2
    return np.array(losses), w1, w2


def _glassnet_loop(x_np, y_np, w1_np, w2_np, steps=20):
    x = gn.tensor(x_np, dtype="float64")
    y = gn.tensor(y_np, dtype="float64")
    w1 = gn.tensor(w1_np, dtype="float64", requires_grad=True)
    w2 = gn.tensor(w2_np, dtype="float64", requires_grad=True)
    losses = []
    for _ in range(steps):
        h = F.sigmoid(x @ w1)
        y_pred = h @ w2
        loss = ((y_pred - y) ** 2).sum()
        losses.append(loss.item())
        loss.backward()
        with gn.no_grad():
            w1 -= 1e-4 * w1.grad
            w2 -= 1e-4 * w2.grad
        w1.grad = None
        w2.grad = None
    return np.array(losses), w1.numpy(), w2.numpy()


def test_seed003_two_layer_loop_reproduced():
    rng = np.random.default_rng(2023)
    N, D_in, H, D_out = 3, 3, 2, 1
    x, y = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
    w1, w2 = rng.standard_normal((D_in, H)), rng.standard_normal((H, D_out))
    expected, w1_np, w2_np = _numpy_loop(x, y, w1, w2)
    got, w1_gn, w2_gn = _glassnet_loop(x, y, w1, w2)
    assert len(got) == 20
    assert_close(got, expected, reduction=N)
    assert_close(w1_gn, w1_np, reduction=N)
    assert_close(w2_gn, w2_np, reduction=N)
    assert expected[-1] < expected[0]  # the loss falls, as the seed shows


def test_seed003_loop_repeats_bit_for_bit():
    """The same loop run twice: the same operations in the same order, the same bits."""
    rng = np.random.default_rng(2023)
    x, y = rng.standard_normal((3, 3)), rng.standard_normal((3, 1))
    w1, w2 = rng.standard_normal((3, 2)), rng.standard_normal((2, 1))
    # copies: the tensors may share memory with the arrays they start from
    first = _glassnet_loop(x, y, w1.copy(), w2.copy())
    second = _glassnet_loop(x, y, w1.copy(), w2.copy())
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_seed003_loop_with_a_parameter_object_updates_in_place():
    """``w -= lr * w.grad`` under no_grad changes the very tensor the model holds."""
    w = gn.nn.Parameter(np.ones((2, 2)), dtype="float64")
    before = id(w)
    w.grad = np.full((2, 2), 2.0)
    with gn.no_grad():
        w -= 0.5 * w.grad
    assert id(w) == before
    np.testing.assert_array_equal(w.numpy(), np.zeros((2, 2)))
