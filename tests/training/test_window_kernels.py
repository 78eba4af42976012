"""The compiled sliding-window loops (im2col, col2im, window max and its gradient) give the
NumPy reference's bits, over strides, dilations, overlapping windows, one and two spatial axes
and ties (after a ReLU many window values are equal: both route to the first maximum)."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet.functional.array_ops import NUMPY_OPS
from glassnet.optim import accelerated
from glassnet.training import kernels
from glassnet.training.kernels import COMPILED_OPS


@pytest.fixture(autouse=True)
def compiled():
    if not accelerated.available():
        pytest.skip("numba is not installed: only the NumPy path exists here")
    if not accelerated.enabled():
        pytest.skip("GLASSNET_NO_NUMBA=1: the compiled kernels are switched off")
    assert kernels._kernels() is not None


CASES = [
    # kernel, strides, dilation, padded spatial size
    ((3, 3), (1, 1), (1, 1), (30, 30)),
    ((3, 2), (2, 1), (1, 2), (31, 29)),
    ((2, 2), (2, 2), (1, 1), (26, 26)),
    ((3, 3), (1, 2), (2, 1), (33, 30)),
    ((5,), (1,), (1,), (70,)),
    ((3,), (2,), (3,), (91,)),
    # windows that do not overlap but leave inputs in no window (odd sizes, gaps)
    ((2, 2), (2, 2), (1, 1), (11, 11)),
    ((2, 3), (3, 3), (1, 1), (13, 14)),
    ((2,), (2,), (1,), (9,)),
    ((1, 1), (1, 1), (1, 1), (4, 5)),
    # 2×2 windows (the compiled window maximum's own loop) that overlap, with odd sizes
    ((2, 2), (1, 1), (1, 1), (9, 10)),
    ((2, 2), (1, 2), (1, 1), (7, 9)),
]


def _out(kernel, strides, dilation, size):
    return tuple(
        (n - ((k - 1) * d + 1)) // s + 1 for n, k, s, d in zip(size, kernel, strides, dilation)
    )


@pytest.mark.parametrize("kernel,strides,dilation,size", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_and_col2im_are_the_references_bits(kernel, strides, dilation, size, dtype):
    rng = np.random.default_rng(0)
    xp = rng.standard_normal((5, *size, 6)).astype(dtype)
    out = _out(kernel, strides, dilation, size)
    cols = [np.full((5, *out, *kernel, 6), np.nan, dtype) for _ in range(2)]
    for ops, c in zip((COMPILED_OPS, NUMPY_OPS), cols):
        ops.im2col(xp, kernel, strides, dilation, c)
    np.testing.assert_array_equal(cols[0], cols[1])
    dcols = rng.standard_normal(cols[0].shape).astype(dtype)
    dxp = [np.full(xp.shape, np.nan, dtype) for _ in range(2)]
    for ops, d in zip((COMPILED_OPS, NUMPY_OPS), dxp):
        ops.col2im(dcols, kernel, strides, dilation, d)
    np.testing.assert_array_equal(dxp[0], dxp[1])


@pytest.mark.parametrize("kernel,strides,_,size", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_window_max_and_its_gradient_are_the_references_bits(kernel, strides, _, size, dtype):
    rng = np.random.default_rng(1)
    xp = np.maximum(rng.standard_normal((4, *size, 5)), 0).astype(dtype)  # many ties at 0
    xp[0, 0, ..., 0] = np.nan  # a NaN at a window's first offset stays its maximum...
    xp[1, 1, ..., 1] = np.nan  # ...one at a later offset never replaces it (as np.greater)
    out_shape = (4, *_out(kernel, strides, (1,) * len(kernel), size), 5)
    results = []
    for ops in (COMPILED_OPS, NUMPY_OPS):
        out = np.empty(out_shape, dtype)
        argmax = np.empty(out_shape, np.uint8)
        ops.window_max(xp, kernel, strides, out, argmax)
        g = np.random.default_rng(2).standard_normal(out_shape).astype(dtype)
        g[..., 0] = -0.0  # routed as 0 + g: +0, as the reference adds g to a zero
        g[1, ..., 2] = np.nan
        dxp = np.full(xp.shape, np.nan, dtype)
        ops.window_max_grad(g, argmax, kernel, strides, dxp)
        results.append((out, argmax, dxp))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
        assert np.array_equal(np.signbit(a), np.signbit(b))


def test_the_halved_ops_give_the_same_bits_on_two_threads():
    """The fast step's window ops run two halves of the batch at once; each sample is still
    computed by the same loop, so the result is the compiled ops' bit for bit."""
    from glassnet.training.split import HALVED_OPS, HALVES_MIN

    rng = np.random.default_rng(3)
    xp = rng.standard_normal((64, 15, 15, 16)).astype(np.float32)
    cols = [np.empty((64, 13, 13, 3, 3, 16), np.float32) for _ in range(2)]
    assert cols[0].size >= HALVES_MIN
    for ops, c in zip((HALVED_OPS, COMPILED_OPS), cols):
        ops.im2col(xp, (3, 3), (1, 1), (1, 1), c)
    np.testing.assert_array_equal(cols[0], cols[1])
    dxp = [np.empty_like(xp) for _ in range(2)]
    for ops, d in zip((HALVED_OPS, COMPILED_OPS), dxp):
        ops.col2im(cols[0], (3, 3), (1, 1), (1, 1), d)
    np.testing.assert_array_equal(dxp[0], dxp[1])
    big = np.maximum(rng.standard_normal((64, 30, 30, 16)), 0).astype(np.float32)
    results = []
    for ops in (HALVED_OPS, COMPILED_OPS):
        out, argmax = np.empty((64, 15, 15, 16), np.float32), np.empty((64, 15, 15, 16), np.uint8)
        ops.window_max(big, (2, 2), (2, 2), out, argmax)
        grad = np.empty_like(big)
        ops.window_max_grad(out, argmax, (2, 2), (2, 2), grad)
        results.append((out, argmax, grad))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_halved_bias_relu_and_relu_vjp_give_the_compiled_ops_bits(dtype):
    """A convolution's z (positions, filters) split by rows on two threads: each element is
    the same single operation, so the same bits (−0 and NaN included)."""
    from glassnet.training.split import HALVED_OPS, HALVES_MIN

    rng = np.random.default_rng(4)
    z = rng.standard_normal((20_001, 32)).astype(dtype)
    z[::7, 3] = -0.0
    z[5, 5] = np.nan
    b = rng.standard_normal(32).astype(dtype)
    g = rng.standard_normal(z.shape).astype(dtype)
    assert z.size >= HALVES_MIN
    outs = []
    for ops in (HALVED_OPS, COMPILED_OPS, NUMPY_OPS):
        zb, a, d = z.copy(), np.empty_like(z), np.empty_like(z)
        ops.bias_relu(zb, b, a)
        ops.relu_vjp(zb, g, d)
        outs.append((zb, a, d))
    for ours, other in ((outs[0], outs[1]), (outs[0], outs[2])):
        for x, y in zip(ours, other):
            np.testing.assert_array_equal(x, y)
            assert np.array_equal(np.signbit(x), np.signbit(y))


@pytest.mark.parametrize("kernel,strides,_,size", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_window_maximum_without_argmax_is_the_one_with_it(kernel, strides, _, size, dtype):
    """Inference keeps no argmax; its maximum is the training forward's, bit for bit, in the
    compiled loops and the reference: a NaN wins only at a window's first offset, and of
    +0 and −0 the first stays."""
    rng = np.random.default_rng(5)
    xp = np.maximum(rng.standard_normal((3, *size, 6)), 0).astype(dtype)
    xp[0, 0, ..., 0] = np.nan  # at a window's first offset
    xp[1, 1, ..., 1] = np.nan  # at a later offset
    xp[2, ::2, ..., 2] = -0.0  # ties of −0 and +0
    out_shape = (3, *_out(kernel, strides, (1,) * len(kernel), size), 6)
    outs = []
    for ops, keep in ((COMPILED_OPS, False), (NUMPY_OPS, False), (NUMPY_OPS, True)):
        out = np.empty(out_shape, dtype)
        argmax = np.empty(out_shape, np.uint8) if keep else None
        ops.window_max(xp, kernel, strides, out, argmax)
        outs.append(out)
    for other in outs[1:]:
        np.testing.assert_array_equal(outs[0], other)
        assert np.array_equal(np.signbit(outs[0]), np.signbit(other))
