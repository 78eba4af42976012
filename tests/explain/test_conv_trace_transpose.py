"""The convolution trace through Conv2DTranspose, ZeroPadding2D and UpSampling2D: every traced
number agrees with the autograd engine to 1e-10 on seeded random small networks (strides {1, 2},
dilations {1, 2}, "valid"/"same" padding, odd sizes, both data layouts, batches of 1–3); the
transposed convolution's z and gradients equal ``torch.nn.functional.conv_transpose2d`` and its
autograd, the upsampling ``torch.nn.functional.interpolate(mode="nearest")``; what the trace
cannot show is refused in one sentence."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from glassnet.errors import NotTraceableError
from glassnet.explain import ConvTrace, backprop
from glassnet.nn.layers import (
    Conv2D,
    Conv2DTranspose,
    Dense,
    Flatten,
    MaxPooling2D,
    UpSampling2D,
    ZeroPadding2D,
)
from glassnet.training.model import Sequential

RTOL, ATOL = 1e-10, 1e-12

CONFIGS = list(itertools.product([1, 2], [1, 2], ["valid", "same"]))


def _randomise(model: Sequential, rng: np.random.Generator) -> None:
    for p in model.parameters():  # weights away from the initialisers' zeros
        if p.requires_grad:
            p.data[...] = rng.normal(scale=0.6, size=p.shape)


def _unet_like(
    strides: int, dilation: int, padding: str, seed: int
) -> tuple[Sequential, np.ndarray, np.ndarray]:
    """Conv2D → MaxPooling → Conv2DTranspose → ZeroPadding2D → UpSampling2D → Dense, with
    random odd sizes, kernels, channels and layout."""
    rng = np.random.default_rng(seed)
    fmt = ["channels_last", "channels_first"][seed % 2]
    rows, cols = (int(v) for v in rng.choice([7, 9], size=2))
    ch = int(rng.integers(1, 3))
    shape = (rows, cols, ch) if fmt == "channels_last" else (ch, rows, cols)
    layers = [
        Conv2D(2, 2, activation="relu", data_format=fmt, dtype="float64"),
        MaxPooling2D(2, data_format=fmt),
        Conv2DTranspose(
            int(rng.integers(1, 3)),
            (int(rng.integers(1, 4)), int(rng.integers(1, 4))),  # 1 < s: rows no kernel reaches
            strides=strides,
            dilation_rate=dilation,
            padding=padding,
            activation=["tanh", "sigmoid", "elu"][seed % 3],
            use_bias=bool(seed % 3),
            data_format=fmt,
            dtype="float64",
        ),
        ZeroPadding2D(((1, 0), (0, 2)), data_format=fmt),
        UpSampling2D((2, 1 + seed % 2), data_format=fmt),
        Conv2D(1, 3, strides=2, activation="tanh", data_format=fmt, dtype="float64"),
        Flatten(),
        Dense(3, "softmax", dtype="float64"),
    ]
    model = Sequential(layers)
    model.build(shape)
    _randomise(model, rng)
    n = int(rng.integers(1, 4))
    return model, rng.normal(size=(n, *shape)), rng.integers(0, 3, size=n)


@pytest.mark.parametrize(("strides", "dilation", "padding"), CONFIGS)
@pytest.mark.parametrize("seed", range(2))
def test_transposed_padded_upsampled_nets_agree_with_the_engine(
    strides: int, dilation: int, padding: str, seed: int
) -> None:
    model, x, y = _unet_like(strides, dilation, padding, seed)
    trace = backprop(model, x, y, loss="sparse_categorical_crossentropy", learning_rate=0.1)
    assert isinstance(trace, ConvTrace)
    assert [st.kind for st in trace.stages][2:5] == ["tconv", "zeropad", "upsample"]
    trace.check(rtol=RTOL, atol=ATOL)  # the engine to 1e-10, central differences to 1e-5
    labels = set(trace.discrepancies)
    assert {"z^3", "δ^3", "∂C/∂W^3", "∂C/∂a^3", "∂C/∂a^4", "a^5", "∂C/∂a^5", "∂C/∂a^0"} <= labels
    assert all(v <= 1e-10 for v in trace.discrepancies.values()), trace.discrepancies
    tconv = trace.stages[2]
    # Keras's output size: n·s for "same", n·s + max(span − s, 0) for "valid"
    span = (np.array(model.layers[2].kernel_size) - 1) * dilation + 1
    expected = np.array(tconv.a_prev.shape[2:]) * strides
    if padding == "valid":
        expected += np.maximum(span - strides, 0)
    assert tconv.z.shape[2:] == tuple(expected)


def test_a_single_sample_through_each_new_layer_alone() -> None:
    """Each layer right after the input, channels-first, one sample: ∂C/∂a^0 goes through it."""
    rng = np.random.default_rng(5)
    for first in (
        Conv2DTranspose(2, 3, strides=2, activation="tanh", data_format="channels_first"),
        ZeroPadding2D(2, data_format="channels_first"),
        UpSampling2D(3, data_format="channels_first"),
    ):
        first.dtype = np.dtype("float64")
        model = Sequential([first, Flatten(), Dense(2, "sigmoid", dtype="float64")])
        model.build((2, 3, 5))
        _randomise(model, rng)
        x = rng.normal(size=(2, 3, 5))
        trace = backprop(model, x, np.array([1.0, 0.0]), loss="binary_crossentropy")
        trace.check(rtol=RTOL, atol=ATOL)
        assert trace.single and "∂C/∂a^0" in trace.discrepancies


def _torch_reference_net(
    strides: tuple[int, int], dilation: tuple[int, int], padding: str, kernel: tuple[int, int]
) -> tuple[Sequential, np.ndarray, np.ndarray]:
    model = Sequential(
        [
            Conv2DTranspose(
                3,
                kernel,
                strides=strides,
                dilation_rate=dilation,
                padding=padding,
                activation="tanh",
                data_format="channels_first",
                dtype="float64",
            ),
            Flatten(),
            Dense(2, "softmax", dtype="float64"),
        ]
    )
    model.build((2, 5, 4))
    rng = np.random.default_rng(sum(strides) + 3 * sum(dilation) + 7 * sum(kernel))
    _randomise(model, rng)
    return model, rng.normal(size=(3, 2, 5, 4)), np.array([0, 1, 1])


@pytest.mark.parametrize(
    ("strides", "dilation", "padding", "kernel"),
    [
        ((1, 1), (1, 1), "valid", (3, 2)),
        ((2, 2), (1, 1), "same", (3, 3)),
        ((2, 1), (1, 2), "valid", (2, 3)),
        ((2, 2), (2, 1), "same", (2, 2)),
        ((3, 2), (1, 1), "valid", (1, 2)),  # span < stride: rows no kernel entry reaches
        ((2, 3), (1, 1), "same", (3, 4)),  # an odd crop: one more row after than before
    ],
)
def test_the_transposed_convolution_equals_pytorch(
    strides: tuple[int, int], dilation: tuple[int, int], padding: str, kernel: tuple[int, int]
) -> None:
    """z = conv_transpose2d(a, W, stride, dilation) + b with Keras's crop, and ∂C/∂a, ∂C/∂W,
    ∂C/∂b from torch's autograd given the trace's δ."""
    torch = pytest.importorskip("torch")
    model, x, y = _torch_reference_net(strides, dilation, padding, kernel)
    trace = backprop(model, x, y, loss="sparse_categorical_crossentropy")
    st = trace.stages[0]
    at, Wt = (
        torch.tensor(st.a_prev, requires_grad=True),
        torch.tensor(st.params["W"], requires_grad=True),
    )  # W[c, f]: torch's (in_channels, out_channels, kh, kw)
    bt = torch.tensor(st.params["b"], requires_grad=True)
    # every row and column the kernel reaches, none cropped
    full = torch.nn.functional.conv_transpose2d(at, Wt, stride=strides, dilation=dilation)
    out = st.z.shape[2:]
    top = [max((k - 1) * d + 1 - s, 0) // 2 if padding == "same" else 0
           for k, d, s in zip(kernel, dilation, strides)]  # fmt: skip
    extra = [max(o + t - f, 0) for o, t, f in zip(out, top, full.shape[2:])]
    full = torch.nn.functional.pad(full, (0, extra[1], 0, extra[0]))  # span < s: zeros after
    z = full[:, :, top[0] : top[0] + out[0], top[1] : top[1] + out[1]] + bt[None, :, None, None]
    np.testing.assert_allclose(st.z, z.detach().numpy(), rtol=RTOL, atol=ATOL)
    (z * torch.tensor(st.delta)).sum().backward()
    n = len(x)
    np.testing.assert_allclose(st.grad_a_prev, at.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(st.grads["W"] * n, Wt.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(st.grads["b"] * n, bt.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_upsampling_equals_pytorch_nearest() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    model = Sequential(
        [
            UpSampling2D((2, 3), data_format="channels_first"),
            Conv2D(2, 3, activation="tanh", data_format="channels_first", dtype="float64"),
            Flatten(),
            Dense(2, "softmax", dtype="float64"),
        ]
    )
    model.build((2, 3, 4))
    _randomise(model, rng)
    x = rng.normal(size=(2, 2, 3, 4))
    trace = backprop(model, x, [1, 0], loss="sparse_categorical_crossentropy")
    up = trace.stages[0]
    xt = torch.tensor(x, requires_grad=True)
    a = torch.nn.functional.interpolate(xt, scale_factor=(2, 3), mode="nearest")
    np.testing.assert_allclose(up.a, a.detach().numpy(), rtol=0, atol=0)
    (a * torch.tensor(up.grad_a)).sum().backward()
    np.testing.assert_allclose(up.grad_a_prev, xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    trace.check(rtol=RTOL, atol=ATOL)


def test_zero_padding_crops_delta_by_hand() -> None:
    """a = the input inside a frame of zeros; ∂C/∂a^{l−1} = ∂C/∂a^l without that frame."""
    rng = np.random.default_rng(4)
    model = Sequential(
        [ZeroPadding2D(((2, 1), (0, 3))), Flatten(), Dense(2, "softmax", dtype="float64")]
    )
    model.build((3, 2, 1))
    _randomise(model, rng)
    x = rng.normal(size=(3, 2, 1))
    trace = backprop(model, x, 1, loss="sparse_categorical_crossentropy")
    zp = trace.stages[0]
    assert zp.a.shape == (1, 1, 6, 5)
    np.testing.assert_array_equal(zp.a[0, 0, 2:5, 0:2], x[:, :, 0])
    assert zp.a[0, 0].sum() == x.sum()  # zeros elsewhere
    np.testing.assert_array_equal(zp.grad_a_prev[0, 0], zp.grad_a[0, 0, 2:5, 0:2])
    trace.check(rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    ("layer", "words"),
    [
        (
            Conv2DTranspose(2, 3, activation="softmax", dtype="float64", name="up"),
            ["'up'", "Conv2DTranspose", "activation='softmax'", "elementwise"],
        ),
        (
            UpSampling2D(2, name="bi"),
            ["'bi'", "UpSampling2D", "interpolation='bilinear'", "'nearest' only"],
        ),
    ],
)
def test_what_cannot_be_shown_is_refused_in_one_sentence(layer, words) -> None:  # type: ignore[no-untyped-def]
    if isinstance(layer, UpSampling2D):
        # the layer itself implements nearest only; a subclass or an edited model file could
        # carry another mode, which the trace must not show as nearest
        layer.interpolation = "bilinear"
    model = Sequential([layer, Flatten(), Dense(2, "softmax", dtype="float64")])
    model.build((4, 4, 1))
    with pytest.raises(NotTraceableError) as info:
        backprop(model, np.ones((4, 4, 1)), 1, loss="sparse_categorical_crossentropy")
    message = str(info.value)
    assert all(w in message for w in words), message
    assert message.count(". ") == 0 and "\n" not in message


def test_the_renderers_write_each_new_stage() -> None:
    """Text, Markdown (LaTeX), JSON and HTML show the transposed convolution's index map and
    crop, its worked entry (equal to z there), the padding and the upsampling."""
    model, x, y = _unet_like(2, 1, "same", seed=0)
    trace = backprop(model, x, y, loss="sparse_categorical_crossentropy", learning_rate=0.1)
    text = trace.to_text()
    assert "Layer 3 (transposed convolution, 'conv2d_transpose')" in text
    assert "Transposed convolution with strides (2, 2) and dilation (1, 1)" in text
    assert "Zero padding: 1 row(s) of zeros above each map, 0 below, 0 column(s) left" in text
    assert "Upsampling (nearest neighbour) by (2, 1)" in text
    md = trace.to_markdown()
    assert "**transposed**" in md and "**transposed, back**" in md and r"\text{crop}" in md
    assert "**zero padding**" in md and "**upsampling**" in md
    data = json.loads(trace.to_json())
    assert data["check"]["agree"] is True
    tconv = trace.stages[2]
    entries = [s for s in data["steps"] if s["title"].startswith("one entry of filter")]
    assert len(entries) == tconv.z.shape[1]
    for f, step in enumerate(entries):
        r, q = (int(v) - 1 for v in step["title"].rsplit("[", 1)[1].rstrip("]").split(", "))
        assert float(step["result"]) == pytest.approx(tconv.z[0, f, r, q], rel=1e-5)
    blocks = [s for s in data["steps"] if "collects its block" in s["title"]]
    up = trace.stages[4]
    s1, s2 = up.info["size"]
    assert (s1, s2) == (2, 1)
    first_block = up.grad_a[0, 0, :s1, :s2].sum()
    assert float(blocks[0]["result"]) == pytest.approx(first_block, rel=1e-5)
    html = trace.to_html()
    assert "transposed convolution" in html and "<math" in html
