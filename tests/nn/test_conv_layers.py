"""The convolution, pooling, normalisation and reshaping layers pass gradcheck (float64, central
differences) over strides, paddings, dilations, odd sizes and both data layouts: the gradient of
the input and of every parameter comes from the layer's own backward kernel."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.autograd.tensor import Tensor
from glassnet.nn.layers import Context


def kernel_node(layer, x, params, training=True):
    """The layer's kernels as one graph node whose parents are x and the given tensors (the
    gradcheck's copies of the parameters), so their gradients come from backward_kernel."""
    own = layer.kernel_parameters()
    for p, t in zip(own, params):
        p.data = t.data
    ctx = Context(training=training)
    value = layer.forward_kernel(x.data, ctx)

    def backward(g):
        ctx.need_input_grad = True
        ctx.grads = [np.empty_like(p.data) for p in own]
        return (layer.backward_kernel(ctx, g), *ctx.grads)

    return Tensor._make(value, (x, *params), backward, type(layer).__name__)


def check(layer, shape, seed=0, training=True, values=None):
    rng = np.random.default_rng(seed)
    data = rng.uniform(-1.5, 1.5, size=shape) if values is None else values
    layer.dtype = np.dtype("float64")
    if not layer.built:
        layer.build(tuple(shape[1:]))
    params = layer.kernel_parameters()
    for p in params:  # move the parameters away from their initial zeros and ones
        p.data = p.data.astype(np.float64) + rng.uniform(-0.5, 0.5, size=p.data.shape)
    x = gn.tensor(data, dtype="float64", requires_grad=True)
    ts = [gn.tensor(p.data.copy(), dtype="float64", requires_grad=True) for p in params]
    report = gn.gradcheck(
        lambda x, *ts: kernel_node(layer, x, ts, training), (x, *ts), atol=1e-7, rtol=1e-6
    )
    assert report.ok, str(report)
    # and the layer called as usual (its graph node) is the same computation
    ctx_out = kernel_node(layer, x, ts, training).data
    layer.train(training)
    np.testing.assert_allclose(layer(x).data, ctx_out, rtol=1e-12, atol=1e-12)


CONV2D = [
    # (kernel, strides, padding, dilation, data_format, input shape)
    ((3, 3), 1, "valid", 1, "channels_last", (2, 7, 6, 3)),
    ((3, 2), 2, "valid", 1, "channels_last", (2, 7, 9, 2)),
    ((3, 3), 1, "same", 1, "channels_last", (2, 5, 6, 2)),
    ((2, 3), 2, "same", 1, "channels_last", (1, 7, 5, 3)),
    ((3, 3), 1, "valid", 2, "channels_last", (2, 7, 8, 1)),
    ((3, 2), 1, "same", (2, 1), "channels_last", (2, 6, 5, 2)),
    ((3, 3), 2, "same", 2, "channels_last", (1, 9, 7, 2)),
    ((3, 3), 1, "valid", 1, "channels_first", (2, 3, 7, 6)),
    ((2, 2), (2, 1), "same", 1, "channels_first", (2, 2, 5, 7)),
    ((1, 1), 1, "valid", 1, "channels_last", (2, 3, 3, 4)),
]


@pytest.mark.parametrize("kernel,strides,padding,dilation,fmt,shape", CONV2D)
@pytest.mark.parametrize("activation", ["tanh", None])
def test_conv2d_gradcheck(kernel, strides, padding, dilation, fmt, shape, activation):
    gn.seed(1)
    layer = L.Conv2D(
        3,
        kernel,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        data_format=fmt,
        activation=activation,
        dtype="float64",
    )
    check(layer, shape)


@pytest.mark.parametrize(
    "kernel,strides,padding,dilation,fmt,shape",
    [
        (3, 1, "valid", 1, "channels_last", (2, 9, 3)),
        (2, 2, "same", 1, "channels_last", (2, 7, 2)),
        (3, 1, "causal", 2, "channels_last", (2, 8, 2)),
        (3, 2, "valid", 1, "channels_first", (2, 3, 9)),
    ],
)
def test_conv1d_gradcheck(kernel, strides, padding, dilation, fmt, shape):
    gn.seed(2)
    layer = L.Conv1D(
        2,
        kernel,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        data_format=fmt,
        activation="tanh",
        dtype="float64",
    )
    check(layer, shape)


@pytest.mark.parametrize(
    "kernel,strides,padding,dilation,fmt,shape",
    [
        ((3, 3), 1, "valid", 1, "channels_last", (2, 4, 3, 2)),
        ((3, 3), 2, "same", 1, "channels_last", (2, 3, 4, 2)),
        ((2, 3), 2, "valid", 1, "channels_last", (1, 3, 3, 3)),
        ((2, 2), 3, "valid", 1, "channels_last", (2, 3, 2, 1)),  # kernel < stride: gaps
        ((3, 3), 1, "same", 2, "channels_last", (1, 4, 5, 2)),
        ((3, 2), (2, 1), "same", 1, "channels_first", (2, 2, 3, 4)),
    ],
)
def test_conv2d_transpose_gradcheck(kernel, strides, padding, dilation, fmt, shape):
    gn.seed(3)
    layer = L.Conv2DTranspose(
        2,
        kernel,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        data_format=fmt,
        activation="tanh",
        dtype="float64",
    )
    check(layer, shape)


POOLS = [
    (L.MaxPooling2D, dict(pool_size=2), (2, 6, 6, 3)),
    (L.MaxPooling2D, dict(pool_size=(3, 2), strides=1), (2, 5, 6, 2)),
    (L.MaxPooling2D, dict(pool_size=3, strides=2, padding="same"), (2, 7, 6, 2)),
    (L.MaxPooling2D, dict(pool_size=2, data_format="channels_first"), (2, 3, 7, 5)),
    (L.AveragePooling2D, dict(pool_size=2), (2, 7, 6, 3)),
    (L.AveragePooling2D, dict(pool_size=3, strides=2, padding="same"), (2, 7, 6, 2)),
    (
        L.AveragePooling2D,
        dict(pool_size=(2, 3), strides=1, data_format="channels_first"),
        (2, 2, 5, 6),
    ),
    (L.MaxPooling1D, dict(pool_size=2), (2, 9, 3)),
    (L.MaxPooling1D, dict(pool_size=3, strides=2, padding="same"), (2, 8, 2)),
    (L.AveragePooling1D, dict(pool_size=3, strides=1, padding="same"), (2, 7, 2)),
    (L.AveragePooling1D, dict(pool_size=2, data_format="channels_first"), (2, 3, 7)),
    (L.GlobalAveragePooling2D, {}, (2, 5, 4, 3)),
    (L.GlobalAveragePooling2D, dict(data_format="channels_first", keepdims=True), (2, 3, 5, 4)),
    (L.GlobalMaxPooling2D, {}, (2, 5, 4, 3)),
    (L.GlobalMaxPooling2D, dict(data_format="channels_first"), (2, 3, 4, 5)),
    (L.GlobalAveragePooling1D, {}, (2, 7, 3)),
    (L.GlobalMaxPooling1D, dict(keepdims=True), (2, 7, 3)),
]


@pytest.mark.parametrize("cls,kwargs,shape", POOLS, ids=lambda v: getattr(v, "__name__", None))
def test_pooling_gradcheck(cls, kwargs, shape):
    # Distinct values far apart (no near-ties inside a window for the central differences).
    rng = np.random.default_rng(4)
    values = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01
    check(cls(**kwargs), shape, values=values)


@pytest.mark.parametrize(
    "layer,shape,training",
    [
        (lambda: L.BatchNormalization(), (6, 3), True),
        (lambda: L.BatchNormalization(), (3, 4, 3, 2), True),
        (lambda: L.BatchNormalization(axis=1), (3, 2, 4, 3), True),
        (lambda: L.BatchNormalization(center=False), (5, 4), True),
        (lambda: L.BatchNormalization(scale=False, epsilon=0.1), (4, 3, 2), True),
        (lambda: L.BatchNormalization(), (4, 3, 2), False),
        (lambda: L.LayerNormalization(), (4, 5), True),
        (lambda: L.LayerNormalization(axis=[-2, -1]), (3, 4, 3), True),
        (lambda: L.LayerNormalization(center=False, scale=False), (3, 2, 5), True),
    ],
)
def test_normalization_gradcheck(layer, shape, training):
    check(layer(), shape, training=training)


@pytest.mark.parametrize(
    "layer,shape",
    [
        (lambda: L.Reshape((-1, 2)), (3, 4, 3)),
        (lambda: L.Reshape((2, 6)), (3, 12)),
        (lambda: L.UpSampling2D((2, 3)), (2, 3, 2, 2)),
        (lambda: L.UpSampling2D(2, data_format="channels_first"), (2, 2, 3, 2)),
        (lambda: L.ZeroPadding2D(((1, 2), (0, 3))), (2, 3, 2, 2)),
        (lambda: L.ZeroPadding2D(1, data_format="channels_first"), (2, 2, 3, 2)),
    ],
)
def test_shape_layers_gradcheck(layer, shape):
    check(layer(), shape)


@pytest.mark.parametrize(
    "make,says",
    [
        (lambda: L.Conv2D(0, 3), "filters must be a positive integer"),
        (lambda: L.Conv2D(4, (3, 0)), "kernel_size must be an integer ≥ 1"),
        (lambda: L.Conv2D(4, 3, padding="full"), "padding must be one of"),
        (lambda: L.Conv1D(4, 3, strides=(1, 2)), "strides must be an integer ≥ 1 or a tuple of 1"),
        (lambda: L.Conv2D(4, 3, data_format="NHWC"), "data_format must be"),
        (lambda: L.MaxPooling2D(16, 16), "pool_size may cover at most 255 values"),
        (lambda: L.BatchNormalization(momentum=1.5), "momentum must be a number in [0.0, 1.0]"),
        (lambda: L.BatchNormalization(axis=0), "axis must be a non-zero integer"),
        (lambda: L.LayerNormalization(axis=1), "axis must be -1 or the last axes"),
        (lambda: L.Reshape((2, -1, -1)), "at most one -1"),
        (lambda: L.ZeroPadding2D((1, 2, 3)), "padding must be an int ≥ 0"),
        (lambda: L.UpSampling2D(2, interpolation="bilinear"), "interpolation must be 'nearest'"),
    ],
)
def test_bad_arguments_are_one_sentence_naming_the_argument(make, says):
    with pytest.raises(gn.errors.InvalidArgumentError) as info:
        make()
    assert says in str(info.value) and "received" in str(info.value)


def test_inputs_of_the_wrong_shape_are_named_errors():
    layer = L.Conv2D(2, 3)
    layer.build((8, 8, 3))
    with pytest.raises(gn.errors.ShapeError, match="3 channels"):
        layer(np.zeros((1, 8, 8, 2), "float32"))
    with pytest.raises(gn.errors.ShapeError, match="does not fit"):
        L.Conv2D(2, 5).build((3, 8, 1))
