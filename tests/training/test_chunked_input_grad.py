"""The fast step's convolution input gradient, col2im(δ W_matᵀ), computed a few samples at a
time on two threads (training/split.py ``RowSplit.gemm_col2im``) against the whole product
then col2im (the plain strategy) and against the same sum in float64.

Each chunk's product is one BLAS call over fewer rows, which may round differently from the
whole product by a few float32 ulps; the chunks depend only on the shapes, so the result does
not depend on which thread ran them, nor on whether the second thread was allowed at all.
"""

from __future__ import annotations

import numpy as np
import pytest

from glassnet.functional.array_ops import NUMPY_OPS
from glassnet.nn.layers import _windows as win
from glassnet.nn.layers.base import MATMUL, Context
from glassnet.training import kernels, split

# kernel, strides, dilation, input size, padding, channels, filters, samples
CASES = [
    ((3, 3), (1, 1), (1, 1), (13, 13), "valid", 32, 64, 37),  # the Keras convnet's conv 2
    ((3, 2), (2, 1), (1, 1), (15, 12), "same", 8, 16, 9),
    ((2, 2), (1, 1), (2, 2), (11, 10), "valid", 5, 7, 5),
    ((5,), (2,), (1,), (41,), "same", 6, 12, 11),
    ((3,), (1,), (3,), (30,), "valid", 3, 4, 2),
]


def _operands(case, seed):
    kernel, strides, dilation, size, padding, channels, filters, n = case
    geo = win.geometry(size, kernel, strides, dilation, padding, "test")
    rng = np.random.default_rng(seed)
    rows = n * int(np.prod(geo.out))
    delta = rng.standard_normal((rows, filters)).astype(np.float32)
    W = rng.standard_normal((int(np.prod(kernel)) * channels, filters)).astype(np.float32)
    return geo, delta, W.T  # W_matᵀ as the layer passes it: a transposed view


def _reference(geo, delta, Wt):
    """The same sum in float64: the whole product, then NumPy's col2im."""
    a, b = delta.astype(np.float64), Wt.astype(np.float64)
    return MATMUL.gemm_col2im(a, b, geo, Context(), ("dcols", "dxp"))


def _chunked(geo, delta, Wt, ops):
    ctx = Context(training=True, ops=ops, reuse_buffers=True)
    return split.RowSplit().gemm_col2im(delta, Wt, geo, ctx, ("dcols", "dxp")).copy()


@pytest.fixture
def small_chunks(monkeypatch):
    """Every product chunked, two samples' worth of rows (of the first case) per chunk."""
    monkeypatch.setattr(split, "ROW_SPLIT_MIN", 0)
    monkeypatch.setattr(split, "CHUNK_BYTES", 2 * 121 * 288 * 4)


def _ops():
    ops = [NUMPY_OPS]
    if kernels._kernels() is not None:  # numba present and not switched off
        ops += [kernels.COMPILED_OPS, split.HALVED_OPS]
    return ops


@pytest.mark.parametrize("case", CASES)
def test_the_chunked_input_gradient_is_the_whole_products(case, small_chunks):
    geo, delta, Wt = _operands(case, seed=len(case[3]) + case[6])
    expected = _reference(geo, delta, Wt)
    whole = MATMUL.gemm_col2im(delta, Wt, geo, Context(), ("dcols", "dxp"))
    depth = Wt.shape[0]  # the length of each dot product
    for ops in _ops():
        got = _chunked(geo, delta, Wt, ops)
        assert got.shape == expected.shape == whole.shape
        tol = 4 * depth * np.finfo(np.float32).eps * np.abs(expected).max()
        np.testing.assert_allclose(got, expected, rtol=0, atol=tol, err_msg=ops.name)
        np.testing.assert_allclose(got, whole, rtol=0, atol=tol, err_msg=ops.name)


@pytest.mark.parametrize("case", CASES[:2])
def test_the_chunks_give_the_same_bits_on_one_thread_or_two(case, small_chunks, monkeypatch):
    geo, delta, Wt = _operands(case, seed=7)
    ops = _ops()[-1]
    two = _chunked(geo, delta, Wt, ops)
    monkeypatch.setattr(split, "helper_allowed", lambda: False)
    one = _chunked(geo, delta, Wt, ops)
    np.testing.assert_array_equal(two, one)


def test_the_chunk_size_follows_the_shapes_only(monkeypatch):
    """Below the product threshold the whole product runs (one call, no pool thread); above
    it the chunks are at most CHUNK_BYTES of δ W_matᵀ each, whatever the batch."""
    geo, delta, Wt = _operands(CASES[0], seed=1)
    calls = []
    real = np.matmul

    def counting(a, b, out=None):
        calls.append(a.shape[0])
        return real(a, b, out=out)

    monkeypatch.setattr(split.np, "matmul", counting)
    _chunked(geo, delta, Wt, NUMPY_OPS)
    per_chunk = max(1, split.CHUNK_BYTES // (121 * 288 * 4)) * 121
    assert calls and max(calls) == per_chunk and sum(calls) == delta.shape[0]
    calls.clear()
    monkeypatch.setattr(split, "ROW_SPLIT_MIN", 10**12)
    _chunked(geo, delta, Wt, NUMPY_OPS)
    assert calls == [delta.shape[0]]  # one product of every row, then col2im
