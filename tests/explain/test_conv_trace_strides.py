"""The convolution trace with strides, dilations, "same"/"causal" padding and Conv1D (issue 16,
item 3): every traced number agrees with the autograd engine to 1e-10 on seeded random small
networks over strides {1, 2}, dilations {1, 2}, paddings and odd sizes in both data layouts; the
input gradient's two forms (the rotated full correlation of the spread δ, and the scatter
through the index map) against each other and against PyTorch; one strided position derived
with plain loops; the four renderers write the index map."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from glassnet.explain import ConvTrace, backprop
from glassnet.explain.conv import full_correlate_rotated, kernel_gradient, scatter_back
from glassnet.nn.layers import (
    AveragePooling1D,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Dense,
    Flatten,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    MaxPooling1D,
    MaxPooling2D,
)
from glassnet.training.model import Sequential

RTOL, ATOL = 1e-10, 1e-12

CONFIGS_2D = [
    (s, d, pad)
    for s, d, pad in itertools.product([1, 2], [1, 2], ["valid", "same"])
    if (s, d) != (1, 1)
]


def _randomise(model: Sequential, rng: np.random.Generator) -> None:
    for p in model.parameters():  # weights away from the initialisers' zeros and ones
        if p.requires_grad:
            p.data[...] = rng.normal(scale=0.6, size=p.shape)


def _strided_net(
    strides: int, dilation: int, padding: str, seed: int
) -> tuple[Sequential, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    fmt = ["channels_last", "channels_first"][seed % 2]
    size = int(rng.choice([7, 9, 11]))  # odd sizes: "valid" strides leave rows unreached
    ch = int(rng.integers(1, 3))
    shape = (size, size, ch) if fmt == "channels_last" else (ch, size, size)
    act = ["relu", "tanh", "sigmoid", "elu"][seed % 4]
    layers = [
        Conv2D(
            int(rng.integers(1, 3)),
            int(rng.integers(2, 4)),
            strides=strides,
            dilation_rate=dilation,
            padding=padding,
            activation=act,
            data_format=fmt,
            dtype="float64",
            use_bias=bool(seed % 3),
        ),
        # a second, rectangular one: different steps and spreads along rows and columns
        Conv2D(
            2,
            (2, 1),
            strides=(1, strides),
            dilation_rate=(dilation, 1),
            padding="same",
            activation="tanh",
            data_format=fmt,
            dtype="float64",
        ),
        Flatten(),
        Dense(3, "softmax", dtype="float64"),
    ]
    model = Sequential(layers)
    model.build(shape)
    _randomise(model, rng)
    n = int(rng.integers(1, 3))
    return model, rng.normal(size=(n, *shape)), rng.integers(0, 3, size=n)


@pytest.mark.parametrize(("strides", "dilation", "padding"), CONFIGS_2D)
@pytest.mark.parametrize("seed", range(3))
def test_strided_and_dilated_conv_nets_agree_with_the_engine(
    strides: int, dilation: int, padding: str, seed: int
) -> None:
    model, x, y = _strided_net(strides, dilation, padding, seed)
    trace = backprop(model, x, y, loss="sparse_categorical_crossentropy", learning_rate=0.1)
    assert isinstance(trace, ConvTrace)
    trace.check(rtol=RTOL, atol=ATOL)  # the engine to 1e-10, central differences to 1e-5
    conv = trace.stages[0]
    assert conv.info["strides"] == (strides, strides)
    assert conv.info["dilation"] == (dilation, dilation)
    assert {"∂C/∂W^1", "∂C/∂a^0", "δ^1", "z^2"} <= set(trace.discrepancies)
    # the scatter through the index map gives the same input gradient as the equations
    scattered = scatter_back(
        conv.delta,
        conv.params["W"],
        conv.info["strides"],
        conv.info["dilation"],
        conv.info["a_pad"].shape[2:],
    )
    np.testing.assert_allclose(scattered, conv.info["full"], rtol=1e-12, atol=1e-14)


def test_the_renderers_write_the_index_map() -> None:
    model, x, y = _strided_net(2, 2, "same", seed=1)
    trace = backprop(model, x, y, loss="sparse_categorical_crossentropy")
    text = trace.to_text()
    assert "Strides (2, 2), dilation (2, 2): z[r, s] = Σᵢⱼ W[i, j] a[2r + 2i, 2s + 2j]" in text
    assert "Strides (1, 2), dilation (2, 1)" in text  # the rectangular second layer
    assert "Padding 'same'" in text and "⌈size/stride⌉" in text
    md = trace.to_markdown()
    assert "**stride**" in md and "**stride, back**" in md and "s₁r + d₁i" in md
    assert "a[2r + 2i, 2s + 2j] += W[i, j] δ[r, s]" in md
    data = json.loads(trace.to_json())
    assert data["check"]["agree"] is True
    position = next(step for step in data["steps"] if step["title"].startswith("one position"))
    assert "[1 + 2i, 1 + 2j]" in position["equation"]["text"]  # the worked window's index map
    html = trace.to_html()
    assert "Strides (2, 2)" in html and "<math" in html
    plain = backprop(*_strided_net(1, 1, "valid", 0)[:3], loss="sparse_categorical_crossentropy")
    assert "Strides" not in plain.to_text()  # a plain convolution's page is unchanged


def test_one_strided_dilated_position_by_hand() -> None:
    """z[r, q] = Σ W[i, j] a[2r + 2i, 2q + 2j] + b and ∂C/∂W, ∂C/∂a with plain loops."""
    model = Sequential(
        [
            Conv2D(1, 2, strides=2, dilation_rate=2, activation="tanh", dtype="float64"),
            Flatten(),
            Dense(2, "softmax", dtype="float64"),
        ]
    )
    model.build((8, 8, 1))
    rng = np.random.default_rng(11)
    _randomise(model, rng)
    x = rng.normal(size=(8, 8, 1))
    trace = backprop(model, x, 1, loss="sparse_categorical_crossentropy")
    W, b = model.layers[0].W.data[:, :, 0, 0], model.layers[0].b.data[0]
    img = x[:, :, 0]
    z = np.zeros((3, 3))  # (8 − 3) // 2 + 1 positions per axis (span 3)
    for r in range(3):
        for q in range(3):
            z[r, q] = b + sum(
                W[i, j] * img[2 * r + 2 * i, 2 * q + 2 * j] for i in range(2) for j in range(2)
            )
    conv = trace.stages[0]
    np.testing.assert_allclose(conv.z[0, 0], z, rtol=0, atol=1e-14)
    delta = conv.delta[0, 0]
    dW, dx = np.zeros((2, 2)), np.zeros((8, 8))
    for r in range(3):
        for q in range(3):
            for i in range(2):
                for j in range(2):
                    dW[i, j] += img[2 * r + 2 * i, 2 * q + 2 * j] * delta[r, q]
                    dx[2 * r + 2 * i, 2 * q + 2 * j] += W[i, j] * delta[r, q]
    np.testing.assert_allclose(conv.grads["W"][0, 0], dW, rtol=0, atol=1e-14)
    np.testing.assert_allclose(trace.input_grad[0, 0], dx, rtol=0, atol=1e-14)
    assert not dx[-1].any() and not dx[:, -1].any()  # row and column 8: under no window
    trace.check(rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("seed", range(4))
def test_the_spread_rotation_identity_is_pytorch_s_gradients(seed: int) -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(seed)
    n, c, f = 2, int(rng.integers(1, 3)), int(rng.integers(1, 3))
    strides = tuple(int(v) for v in rng.integers(1, 3, size=2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, size=2))
    kernel = tuple(int(v) for v in rng.integers(1, 4, size=2))
    size = tuple(int(v) for v in rng.integers(7, 10, size=2))
    x = rng.normal(size=(n, c, *size))
    W = rng.normal(size=(f, c, *kernel))
    xt, Wt = torch.tensor(x, requires_grad=True), torch.tensor(W, requires_grad=True)
    z = F.conv2d(xt, Wt, stride=strides, dilation=dilation)
    delta = rng.normal(size=tuple(z.shape))
    (z * torch.tensor(delta)).sum().backward()
    ours = full_correlate_rotated(delta, W, strides, dilation, size)  # type: ignore[arg-type]
    np.testing.assert_allclose(ours, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        scatter_back(delta, W, strides, dilation, size),
        ours,
        rtol=1e-12,
        atol=1e-14,  # type: ignore[arg-type]
    )
    grad = kernel_gradient(x, delta, kernel, strides, dilation)  # type: ignore[arg-type]
    np.testing.assert_allclose(grad * n, Wt.grad.numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Conv1D: the same equations with one spatial axis
# ---------------------------------------------------------------------------------------------
CONFIGS_1D = list(itertools.product([1, 2], [1, 2], ["valid", "same", "causal"]))


@pytest.mark.parametrize(("strides", "dilation", "padding"), CONFIGS_1D)
def test_conv1d_nets_agree_with_the_engine(strides: int, dilation: int, padding: str) -> None:
    seed = strides * 7 + dilation * 3 + len(padding)
    rng = np.random.default_rng(seed)
    fmt = ["channels_last", "channels_first"][seed % 2]
    steps = int(rng.choice([9, 11]))
    ch = int(rng.integers(1, 3))
    shape = (steps, ch) if fmt == "channels_last" else (ch, steps)
    pool = [MaxPooling1D, AveragePooling1D][seed % 2]
    layers = [
        Conv1D(
            2,
            3,
            strides=strides,
            dilation_rate=dilation,
            padding=padding,
            activation=None,
            data_format=fmt,
            dtype="float64",
        ),
        BatchNormalization(axis=-1 if fmt == "channels_last" else 1, dtype="float64"),
        Conv1D(2, 2, activation="relu", padding="same", data_format=fmt, dtype="float64"),
        pool(2, padding="same", data_format=fmt),
        Flatten(),
        Dense(2, "sigmoid", dtype="float64"),
    ]
    model = Sequential(layers)
    model.build(shape)
    _randomise(model, rng)
    x = rng.normal(size=(3, *shape))
    y = rng.integers(0, 2, size=(3, 2)).astype(float)
    trace = backprop(model, x, y, loss="binary_crossentropy", learning_rate=0.05)
    trace.check(rtol=RTOL, atol=ATOL)
    assert trace.rank == 1
    conv = trace.stages[0]
    assert conv.z.shape[2] == 1  # a sequence's maps are kept as one row
    assert {"∂C/∂W^1", "∂C/∂gamma^2", "∂C/∂W^3", "∂C/∂a^0"} <= set(trace.discrepancies)
    text = trace.to_text()
    assert "The inputs are sequences" in text and "Layer 1 (convolution, 'conv1d')" in text
    assert f"{ch}×{steps} →" in text  # channels × steps, no row axis in the shapes
    assert trace.to_markdown() and json.loads(trace.to_json())["check"]["agree"] is True


def test_conv1d_forward_and_gradients_equal_pytorch() -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(4)
    model = Sequential(
        [
            Conv1D(
                3,
                3,
                strides=2,
                dilation_rate=2,
                padding="causal",
                activation="linear",
                dtype="float64",
            ),
            GlobalMaxPooling1D(),
            Dense(2, "softmax", dtype="float64"),
        ]
    )
    model.build((10, 2))
    _randomise(model, rng)
    x = rng.normal(size=(2, 10, 2))
    trace = backprop(model, x, [0, 1], loss="sparse_categorical_crossentropy")
    trace.check(rtol=RTOL, atol=ATOL)
    conv = trace.stages[0]
    W = model.layers[0].W.data  # (k, in, out)
    xt = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)  # (n, C, steps)
    Wt = torch.tensor(W.transpose(2, 1, 0).copy(), requires_grad=True)
    z = F.conv1d(
        F.pad(xt, (4, 0)), Wt, torch.tensor(model.layers[0].b.data), stride=2, dilation=2
    )  # causal: span − 1 = 4 zeros before
    np.testing.assert_allclose(conv.z[:, :, 0, :], z.detach().numpy(), rtol=1e-10, atol=1e-12)
    (z * torch.tensor(conv.delta[:, :, 0, :])).sum().backward()
    np.testing.assert_allclose(
        conv.grad_a_prev[:, :, 0, :], xt.grad.numpy(), rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        conv.grads["W"][:, :, 0, :] * 2, Wt.grad.numpy(), rtol=1e-10, atol=1e-12
    )


def test_global_average_pooling_1d_and_mixed_refusal() -> None:
    model = Sequential(
        [
            Conv1D(2, 2, activation="tanh", dtype="float64"),
            GlobalAveragePooling1D(),
            Dense(2, "softmax", dtype="float64"),
        ]
    )
    model.build((6, 1))
    trace = backprop(
        model, np.linspace(-1, 1, 6)[:, None], 1, loss="sparse_categorical_crossentropy"
    )
    trace.check(rtol=RTOL, atol=ATOL)
    assert "global average pooling" in trace.to_text()
    mixed = Sequential([Conv2D(1, 2, dtype="float64"), MaxPooling2D(1), Flatten(), Dense(2)])
    mixed.build((4, 4, 1))
    assert backprop(mixed, np.ones((4, 4, 1)), np.ones(2), loss="quadratic").rank == 2


def test_the_new_messages_are_translated_into_chinese() -> None:
    from glassnet.explain import i18n

    before = set(i18n.untranslated())
    model, x, y = _strided_net(2, 2, "valid", seed=0)
    strided = backprop(model, x, y, loss="sparse_categorical_crossentropy")
    seq = Sequential(
        [
            Conv1D(2, 3, strides=2, padding="causal", activation="tanh", dtype="float64"),
            Flatten(),
            Dense(2, "softmax", dtype="float64"),
        ]
    )
    seq.build((9, 1))
    sequence = backprop(
        seq, np.linspace(0, 1, 9)[:, None], 1, loss="sparse_categorical_crossentropy"
    )
    pages = [trace.to_text(lang="zh") for trace in (strided, sequence)]
    assert {m for lang, m in set(i18n.untranslated()) - before if lang == "zh"} == set()
    assert "步幅 (2, 2)，膨胀率 (2, 2)" in pages[0]
    assert "输入是序列" in pages[1] and "'causal' 填充" in pages[1]
