"""The new layers against ``torch.nn.functional`` in float64 (rtol 1e-10): forward values and the
gradients of the input and of every parameter, for seeded random shapes and arguments.

PyTorch is channels-first with weights (out, in, *kernel); the layers here are Keras's
channels-last with W (*kernel, in, out), so the comparisons move axes, never values. Keras's
"same" padding may be uneven (the extra row after), which PyTorch's symmetric ``padding``
cannot express: the reference pads explicitly with ``F.pad`` first.
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these layers")
F = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12
DRAWS = 12


def close(ours, theirs):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


def run_ours(layer, x, r, training=True):
    """y = layer(x) on the graph, then y.backward(r): (y, ∂/∂x, [∂/∂param...])."""
    layer.train(training)
    for p in layer.kernel_parameters():
        p.grad = None
    t = gn.tensor(x, dtype="float64", requires_grad=True)
    y = layer(t)
    y.backward(r)
    return y.data, t.grad, [p.grad for p in layer.kernel_parameters()]


def torch_grads(fn, x, params, r):
    xt = torch.tensor(x, requires_grad=True)
    pts = [torch.tensor(p, requires_grad=True) for p in params]
    y = fn(xt, *pts)
    y.backward(torch.tensor(r))
    return y, xt.grad, [p.grad for p in pts]


def nchw(a):
    return np.ascontiguousarray(np.moveaxis(a, -1, 1))


def nhwc(t):
    return np.moveaxis(t.detach().numpy(), 1, -1)


def keras_pads(layer, spatial):
    geo = layer._geometry(spatial)
    pads = []
    for b, a in reversed(list(zip(geo.before, geo.after))):  # F.pad: last axis first
        pads += [b, a]
    return pads


@pytest.mark.parametrize("seed", range(DRAWS))
def test_conv2d_matches_torch(seed):
    rng = np.random.default_rng(seed)
    k = tuple(int(v) for v in rng.integers(1, 4, 2))
    s = tuple(int(v) for v in rng.integers(1, 3, 2))
    d = tuple(int(v) for v in rng.integers(1, 3, 2))
    padding = ["valid", "same"][seed % 2]
    fmt = ["channels_last", "channels_first"][(seed // 2) % 2]
    n, c, f = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
    hw = tuple(int(v) for v in rng.integers(7, 12, 2))
    gn.seed(seed)
    layer = L.Conv2D(
        f,
        k,
        strides=s,
        padding=padding,
        dilation_rate=d,
        data_format=fmt,
        dtype="float64",
        bias_initializer="normal",
    )
    x_last = rng.standard_normal((n, *hw, c))
    x = x_last if fmt == "channels_last" else nchw(x_last)
    layer.build(x.shape[1:])
    y, gx, (gW, gb) = run_ours(layer, x, r := rng.standard_normal(layer(x).shape))
    pads = keras_pads(layer, hw)

    def ref(xt, w, b):
        xt = xt if fmt == "channels_first" else xt.permute(0, 3, 1, 2)
        out = F.conv2d(F.pad(xt, pads), w.permute(3, 2, 0, 1).contiguous(), b, stride=s, dilation=d)
        return out if fmt == "channels_first" else out.permute(0, 2, 3, 1)

    yt, gxt, (gWt, gbt) = torch_grads(ref, x, [layer.W.data, layer.b.data], r)
    close(y, yt)
    close(gx, gxt)
    close(gW, gWt)
    close(gb, gbt)


@pytest.mark.parametrize("seed", range(DRAWS))
def test_conv1d_matches_torch(seed):
    rng = np.random.default_rng(100 + seed)
    k, s, d = int(rng.integers(1, 5)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
    padding = ["valid", "same", "causal"][seed % 3]
    n, c, f, length = 2, int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(9, 15))
    gn.seed(seed)
    layer = L.Conv1D(
        f,
        k,
        strides=s,
        padding=padding,
        dilation_rate=d,
        dtype="float64",
        bias_initializer="normal",
    )
    x = rng.standard_normal((n, length, c))
    layer.build(x.shape[1:])
    y, gx, (gW, gb) = run_ours(layer, x, r := rng.standard_normal(layer(x).shape))
    pads = keras_pads(layer, (length,))

    def ref(xt, w, b):
        out = F.conv1d(
            F.pad(xt.permute(0, 2, 1), pads),
            w.permute(2, 1, 0).contiguous(),
            b,
            stride=s,
            dilation=d,
        )
        return out.permute(0, 2, 1)

    yt, gxt, (gWt, gbt) = torch_grads(ref, x, [layer.W.data, layer.b.data], r)
    for ours, theirs in ((y, yt), (gx, gxt), (gW, gWt), (gb, gbt)):
        close(ours, theirs)


@pytest.mark.parametrize("seed", range(DRAWS))
def test_conv2d_transpose_matches_torch(seed):
    """PyTorch's conv_transpose2d without padding gives the whole scatter, (n − 1)·s + span
    per axis; Keras's output is a window of it (starting at the "same" padding, zeros past
    its end when the kernel is shorter than the stride)."""
    rng = np.random.default_rng(200 + seed)
    k = tuple(int(v) for v in rng.integers(1, 4, 2))
    s = tuple(int(v) for v in rng.integers(1, 4, 2))
    d = (1, 1) if seed % 3 else (2, 1)
    padding = ["valid", "same"][seed % 2]
    n, c, f = 2, int(rng.integers(1, 4)), int(rng.integers(1, 4))
    hw = tuple(int(v) for v in rng.integers(2, 6, 2))
    gn.seed(seed)
    layer = L.Conv2DTranspose(
        f,
        k,
        strides=s,
        padding=padding,
        dilation_rate=d,
        dtype="float64",
        bias_initializer="normal",
    )
    x = rng.standard_normal((n, *hw, c))
    layer.build(x.shape[1:])
    geo = layer._geometry(hw)
    y, gx, (gW, gb) = run_ours(layer, x, r := rng.standard_normal(layer(x).shape))

    def ref(xt, w, b):
        full = F.conv_transpose2d(
            xt.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1).contiguous(), None, stride=s, dilation=d
        )
        (b0, b1), (o0, o1) = geo.before, geo.size
        extra = [0, max(b1 + o1 - full.shape[3], 0), 0, max(b0 + o0 - full.shape[2], 0)]
        full = F.pad(full, extra)[:, :, b0 : b0 + o0, b1 : b1 + o1]
        return full.permute(0, 2, 3, 1) + b

    yt, gxt, (gWt, gbt) = torch_grads(ref, x, [layer.W.data, layer.b.data], r)
    for ours, theirs in ((y, yt), (gx, gxt), (gW, gWt), (gb, gbt)):
        close(ours, theirs)


@pytest.mark.parametrize("seed", range(DRAWS))
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("rank", [1, 2])
def test_pooling_matches_torch(seed, kind, rank):
    """Valid padding, and "same" where Keras's padding is even (what PyTorch can express:
    PyTorch's padding ≤ half the window, avg without the padding in the count)."""
    rng = np.random.default_rng(300 + seed)
    pool = tuple(int(v) for v in rng.integers(1, 4, rank))
    strides = tuple(int(v) for v in rng.integers(1, 4, rank))
    fmt = ["channels_last", "channels_first"][seed % 2]
    cls = {
        ("max", 1): L.MaxPooling1D,
        ("max", 2): L.MaxPooling2D,
        ("avg", 1): L.AveragePooling1D,
        ("avg", 2): L.AveragePooling2D,
    }[kind, rank]
    spatial = tuple(int(v) for v in rng.integers(5, 10, rank))
    padding = "valid"
    if seed % 3 == 0:  # "same" with an odd window and stride 1: even padding of (k − 1)/2
        pool, strides, padding = tuple(2 * (p // 2) + 1 for p in pool), (1,) * rank, "same"
    layer = cls(pool_size=pool, strides=strides, padding=padding, data_format=fmt, dtype="float64")
    n, c = 2, int(rng.integers(1, 4))
    # After a ReLU many values tie (zeros): both route the gradient to the first maximum.
    x_last = np.maximum(rng.standard_normal((n, *spatial, c)), 0)
    x = x_last if fmt == "channels_last" else nchw(x_last)
    out_shape = layer.compute_output_shape(x.shape[1:])
    r = rng.standard_normal((n, *out_shape))
    y, gx, _ = run_ours(layer, x, r)
    pad = tuple(p // 2 for p in pool) if padding == "same" else 0
    fn = {
        ("max", 1): F.max_pool1d,
        ("max", 2): F.max_pool2d,
        ("avg", 1): F.avg_pool1d,
        ("avg", 2): F.avg_pool2d,
    }[kind, rank]
    extra = {"count_include_pad": False} if kind == "avg" else {}

    def ref(xt):
        xt = xt if fmt == "channels_first" else xt.movedim(-1, 1)
        out = fn(xt, pool, strides, pad, **extra)
        return out if fmt == "channels_first" else out.movedim(1, -1)

    yt, gxt, _ = torch_grads(ref, x, [], r)
    close(y, yt)
    close(gx, gxt)


@pytest.mark.parametrize("seed", range(DRAWS))
def test_batch_normalization_matches_torch(seed):
    rng = np.random.default_rng(400 + seed)
    shape = [(8, 3), (4, 5, 5, 3), (3, 6, 2)][seed % 3]
    eps = [1e-3, 1e-5, 0.1][seed % 3]
    layer = L.BatchNormalization(epsilon=eps, dtype="float64")
    layer.build(shape[1:])
    layer.gamma.data[:] = rng.uniform(0.5, 1.5, shape[-1])
    layer.beta.data[:] = rng.standard_normal(shape[-1])
    x = rng.standard_normal(shape) * 2 + 1
    r = rng.standard_normal(shape)
    y, gx, (gg, gb) = run_ours(layer, x, r, training=True)

    def ref(xt, g, b):
        moved = xt.movedim(-1, 1)
        out = F.batch_norm(moved, None, None, g, b, training=True, eps=eps)
        return out.movedim(1, -1)

    yt, gxt, (ggt, gbt) = torch_grads(ref, x, [layer.gamma.data, layer.beta.data], r)
    for ours, theirs in ((y, yt), (gx, gxt), (gg, ggt), (gb, gbt)):
        close(ours, theirs)
    # inference mode: the moving statistics, as torch's running_mean/running_var
    mean, var = layer.moving_mean.data.copy(), layer.moving_variance.data.copy()
    y, gx, (gg, gb) = run_ours(layer, x, r, training=False)

    def ref_eval(xt, g, b):
        out = F.batch_norm(
            xt.movedim(-1, 1), torch.tensor(mean), torch.tensor(var), g, b, training=False, eps=eps
        )
        return out.movedim(1, -1)

    yt, gxt, (ggt, gbt) = torch_grads(ref_eval, x, [layer.gamma.data, layer.beta.data], r)
    for ours, theirs in ((y, yt), (gx, gxt), (gg, ggt), (gb, gbt)):
        close(ours, theirs)


@pytest.mark.parametrize("seed", range(DRAWS))
def test_layer_normalization_matches_torch(seed):
    rng = np.random.default_rng(500 + seed)
    shape = [(5, 7), (3, 4, 6), (2, 3, 4, 5)][seed % 3]
    axes = [-1] if seed % 2 else list(range(-min(2, len(shape) - 1), 0))
    layer = L.LayerNormalization(axis=axes, epsilon=1e-5, dtype="float64")
    layer.build(shape[1:])
    normalized = tuple(shape[len(shape) - len(axes) :])
    layer.gamma.data[...] = rng.uniform(0.5, 1.5, normalized)
    layer.beta.data[...] = rng.standard_normal(normalized)
    x = rng.standard_normal(shape) * 3
    r = rng.standard_normal(shape)
    y, gx, (gg, gb) = run_ours(layer, x, r)

    def ref(xt, g, b):
        return F.layer_norm(xt, normalized, g, b, eps=1e-5)

    yt, gxt, (ggt, gbt) = torch_grads(ref, x, [layer.gamma.data, layer.beta.data], r)
    for ours, theirs in ((y, yt), (gx, gxt), (gg, ggt), (gb, gbt)):
        close(ours, theirs)
