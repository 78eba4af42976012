"""The convolution trace (issue 16, item 3): every traced number agrees with the autograd engine
to 1e-10 in float64, on the example network and on seeded random small convolutional networks;
one position's numbers derived by hand with plain loops; the 180°-rotation identity against
PyTorch; unsupported layers and arguments refused with one sentence; the Markdown's LaTeX and
the JSON well formed."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from glassnet.errors import InvalidArgumentError, NotTraceableError
from glassnet.explain import ConvTrace, backprop, conv_example
from glassnet.explain.conv import full_correlate_rotated, kernel_gradient
from glassnet.nn.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    LayerNormalization,
    MaxPooling2D,
)
from glassnet.training.model import Sequential

RTOL, ATOL = 1e-10, 1e-12


@pytest.fixture(params=[False, True], ids=["conv", "conv-bn"])
def example(request: pytest.FixtureRequest) -> ConvTrace:
    model, x, y, loss = conv_example(batchnorm=request.param)
    trace = backprop(model, x, y, loss=loss)
    assert isinstance(trace, ConvTrace)
    return trace


def test_example_agrees_with_the_engine_to_1e10(example: ConvTrace) -> None:
    example.check(rtol=RTOL, atol=ATOL)
    labels = set(example.discrepancies)
    # every stage's forward values and gradients were compared, and the input's gradient
    for st in example.stages:
        l = st.index
        if st.z is not None:
            assert {f"z^{l}", f"δ^{l}"} <= labels
        for name in st.grads:
            assert f"∂C/∂{name}^{l}" in labels
    assert {"C", "a^1", "∂C/∂a^0", "∂C/∂W^1", "∂C/∂b^1"} <= labels
    if any(st.kind == "batchnorm" for st in example.stages):
        assert {"∂C/∂gamma^2", "∂C/∂beta^2"} <= labels
    assert example.spot_checks and example.numerical_discrepancy < 1e-5


def _hand_conv_example() -> dict[str, np.ndarray]:
    """The example network's forward and backward pass in plain Python loops."""
    model, x, label, _ = conv_example()
    W, b, Wd, bd = model.get_weights()  # W: (3, 3, 1, 2) Keras layout
    img = x[:, :, 0]
    z = np.zeros((2, 4, 4))
    for f in range(2):
        for r in range(4):
            for s in range(4):
                total = b[f]
                for i in range(3):
                    for j in range(3):
                        total += W[i, j, 0, f] * img[r + i, s + j]
                z[f, r, s] = total
    a = np.maximum(z, 0)
    pooled = np.zeros((2, 2, 2))
    argmax = {}
    for f in range(2):
        for r in range(2):
            for s in range(2):
                best = None
                for i in range(2):
                    for j in range(2):
                        v = a[f, 2 * r + i, 2 * s + j]
                        if best is None or v > best:
                            best, argmax[f, r, s] = v, (2 * r + i, 2 * s + j)
                pooled[f, r, s] = best
    flat = [pooled[f, r, s] for r in range(2) for s in range(2) for f in range(2)]  # HWC order
    zd = [bd[k] + sum(Wd[k, m] * flat[m] for m in range(8)) for k in range(3)]
    e = [np.exp(v - max(zd)) for v in zd]
    p = [v / sum(e) for v in e]
    dd = [p[k] - (1.0 if k == label else 0.0) for k in range(3)]
    dflat = [sum(Wd[k, m] * dd[k] for k in range(3)) for m in range(8)]
    dpool = np.zeros((2, 2, 2))
    for m, (r, s, f) in enumerate((r, s, f) for r in range(2) for s in range(2) for f in range(2)):
        dpool[f, r, s] = dflat[m]
    delta = np.zeros((2, 4, 4))
    for (f, r, s), (i, j) in argmax.items():
        delta[f, i, j] = dpool[f, r, s] * (1.0 if z[f, i, j] > 0 else 0.0)
    dW = np.zeros((2, 3, 3))
    dx = np.zeros((6, 6))
    for f in range(2):
        for r in range(4):
            for s in range(4):
                for i in range(3):
                    for j in range(3):
                        dW[f, i, j] += img[r + i, s + j] * delta[f, r, s]
                        dx[r + i, s + j] += W[i, j, 0, f] * delta[f, r, s]  # the scatter form
    return {"z": z, "pooled": pooled, "delta": delta, "dW": dW, "db": delta.sum(axis=(1, 2)),
            "dx": dx, "cost": -np.log(p[label])}  # fmt: skip


def test_one_position_and_every_gradient_derived_by_hand() -> None:
    model, x, y, loss = conv_example()
    trace = backprop(model, x, y, loss=loss)
    hand = _hand_conv_example()
    conv, pool = trace.stages[0], trace.stages[1]
    np.testing.assert_allclose(conv.z[0], hand["z"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(pool.a[0], hand["pooled"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(conv.delta[0], hand["delta"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(conv.grads["W"][:, 0], hand["dW"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(conv.grads["b"], hand["db"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(trace.input_grad[0, 0], hand["dx"], rtol=0, atol=1e-14)
    assert trace.cost == pytest.approx(hand["cost"], rel=1e-14)
    # the worked position in the text: z¹₁[1, 1] = Σ(window ⊙ kernel) + b¹₁ with its numbers
    text = trace.to_text()
    worked = text[text.index("z¹₁[1, 1] =") :]
    worked = worked[: worked.index("weighted input of filter 1")]
    assert f"= {hand['z'][0, 0, 0]:.6g}" in worked
    assert "⎢0.3  0  -0.3⎥" in worked  # the kernel's middle row, beside the window
    assert "+ 0.05" in worked  # b¹₁


def _random_net(seed: int) -> tuple[Sequential, np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(seed)
    fmt = ["channels_last", "channels_first"][seed % 2]
    ch = int(rng.integers(1, 3))
    size = int(rng.integers(5, 8))
    shape = (size, size, ch) if fmt == "channels_last" else (ch, size, size)
    acts = ["relu", "sigmoid", "tanh", "elu", "leaky_relu"]
    bn = bool(seed % 3 == 0)
    layers = [
        Conv2D(int(rng.integers(1, 3)), int(rng.integers(2, 4)),
               padding=["valid", "same"][int(rng.integers(2))], data_format=fmt,
               activation=None if bn else acts[int(rng.integers(len(acts)))],
               input_shape=shape, dtype="float64", use_bias=bool(rng.integers(2))),
    ]  # fmt: skip
    if bn:
        layers += [
            BatchNormalization(axis=-1 if fmt == "channels_last" else 1, dtype="float64"),
            Activation(acts[int(rng.integers(len(acts)))]),
        ]
    pool_cls = [MaxPooling2D, AveragePooling2D][int(rng.integers(2))]
    layers.append(pool_cls(2, padding=["valid", "same"][int(rng.integers(2))], data_format=fmt))
    if seed % 4 == 1:
        layers.append(Conv2D(2, 2, padding="same", activation="tanh", data_format=fmt,
                             dtype="float64"))  # fmt: skip
    layers += [Flatten(), Dropout(0.2), Dense(3, "tanh", dtype="float64")]
    losses = ["quadratic", "sparse_categorical_crossentropy", "binary_crossentropy"]
    loss = losses[seed % 3]
    layers.append(Dense(3 if loss != "binary_crossentropy" else 2,
                        "softmax" if loss == "sparse_categorical_crossentropy" else "sigmoid",
                        dtype="float64"))  # fmt: skip
    model = Sequential(layers)
    model.build(shape)
    for p in model.parameters():  # weights away from the initialisers' zeros and ones
        if p.requires_grad:
            p.data[...] = rng.normal(scale=0.6, size=p.shape)
    n = int(rng.integers(1, 4))
    x = rng.normal(size=(n, *shape))
    if loss == "sparse_categorical_crossentropy":
        y = rng.integers(0, 3, size=n)
    elif loss == "binary_crossentropy":
        y = rng.integers(0, 2, size=(n, 2)).astype(float)
    else:
        y = rng.normal(size=(n, 3))
    return model, x, y, loss


@pytest.mark.parametrize("seed", range(12))
def test_random_small_conv_nets_agree_with_the_engine(seed: int) -> None:
    model, x, y, loss = _random_net(seed)
    before = [p.data.copy() for p in model.parameters()]
    trace = backprop(model, x, y, loss=loss, learning_rate=0.1)
    trace.check(rtol=RTOL, atol=ATOL)  # the engine to 1e-10, central differences to 1e-5
    for p, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, old)  # the model (and BN's statistics) untouched
    for st in trace.stages:
        for name, new in st.updated.items():
            np.testing.assert_allclose(new, st.params[name] - 0.1 * st.grads[name], rtol=1e-15)
    assert trace.to_text() and trace.to_markdown() and json.loads(trace.to_json())


@pytest.mark.parametrize("seed", range(3))
def test_the_rotation_identity_is_pytorch_s_input_and_weight_gradient(seed: int) -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(seed)
    n, c, f, k, size = 2, int(rng.integers(1, 4)), int(rng.integers(1, 4)), 3, 7
    x = rng.normal(size=(n, c, size, size))
    W = rng.normal(size=(f, c, k, k))  # the trace's layout is PyTorch's (out, in, kh, kw)
    delta = rng.normal(size=(n, f, size - k + 1, size - k + 1))
    xt = torch.tensor(x, requires_grad=True)
    Wt = torch.tensor(W, requires_grad=True)
    (F.conv2d(xt, Wt) * torch.tensor(delta)).sum().backward()
    ours = full_correlate_rotated(delta, W)
    np.testing.assert_allclose(ours, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    transposed = F.conv_transpose2d(torch.tensor(delta), torch.tensor(W)).numpy()
    np.testing.assert_allclose(ours, transposed, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(kernel_gradient(x, delta) * n, Wt.grad.numpy(), rtol=1e-10,
                               atol=1e-12)  # fmt: skip


def test_batch_norm_backward_equals_pytorch() -> None:
    torch = pytest.importorskip("torch")
    model, x, y, loss = conv_example(batchnorm=True)
    trace = backprop(model, x, y, loss=loss)
    bn = trace.stages[1]
    xt = torch.tensor(bn.a_prev, requires_grad=True)
    gamma = torch.tensor(bn.params["gamma"], requires_grad=True)
    beta = torch.tensor(bn.params["beta"], requires_grad=True)
    out = torch.nn.functional.batch_norm(xt, None, None, gamma, beta, training=True, eps=1e-3)
    np.testing.assert_allclose(out.detach().numpy(), bn.a, rtol=1e-10, atol=1e-12)
    (out * torch.tensor(bn.grad_a)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), bn.grad_a_prev, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gamma.grad.numpy(), bn.grads["gamma"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(beta.grad.numpy(), bn.grads["beta"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("layer", "words"),
    [
        (Conv2D(2, 3, activation="softmax", dtype="float64", name="sm"), ["'sm'", "activation"]),
        (LayerNormalization(name="ln"), ["'ln'", "not traceable", "Conv2DTranspose"]),
        (GlobalMaxPooling2D(keepdims=True, name="gmp"), ["'gmp'", "keepdims"]),
    ],
)
def test_unsupported_layers_are_refused_in_one_sentence(layer, words) -> None:  # type: ignore[no-untyped-def]
    model = Sequential([layer, Flatten(), Dense(2, "softmax", dtype="float64")])
    model.build((9, 9, 1))
    with pytest.raises(NotTraceableError) as info:
        backprop(model, np.ones((9, 9, 1)), 1, loss="sparse_categorical_crossentropy")
    message = str(info.value)
    assert all(w in message for w in words), message
    assert message.count(". ") == 0 and "\n" not in message


def test_other_refusals() -> None:
    frozen = BatchNormalization(dtype="float64", name="frozen")
    frozen.trainable = False
    cases = [
        Sequential([Conv2D(1, 2, dtype="float64"), frozen, Flatten(), Dense(2, dtype="float64")]),
        Sequential([Conv2D(1, 2, dtype="float64"), MaxPooling2D(2)]),  # no Dense output
        Sequential([Conv2D(1, 2, dtype="float64"),
                    MaxPooling2D(1, data_format="channels_first"), Flatten(), Dense(2)]),
    ]  # fmt: skip
    shapes = [(5, 5, 1), (5, 5, 1), (5, 5, 1)]
    expected = ["trainable", "Dense output", "data formats"]
    for model, shape, word in zip(cases, shapes, expected):
        with pytest.raises(NotTraceableError, match=word):
            model.build(shape)
            backprop(model, np.ones(shape), np.ones(2), loss="quadratic")
    model, x, y, loss = conv_example()
    trace = backprop(model, x, y, loss=loss)
    with pytest.raises(InvalidArgumentError, match="glassnet's notation"):
        trace.to_text(notation="seed004")
    with pytest.raises(NotTraceableError, match="weight stories"):
        trace.path(1, 1, 1)


def _math_outside_text(tex: str) -> str:
    """tex with every \\text{...} removed (nested braces counted)."""
    out, i = [], 0
    while i < len(tex):
        if tex.startswith(r"\text{", i):
            depth, j = 0, i + 5
            while True:
                depth += {"{": 1, "}": -1}.get(tex[j], 0)
                if depth == 0:
                    break
                j += 1
            i = j + 1
        else:
            out.append(tex[i])
            i += 1
    return "".join(out)


def test_markdown_latex_is_plain_ascii_tex_and_json_is_complete(example: ConvTrace) -> None:
    md = example.to_markdown()
    chunks = re.findall(r"\$\$(.*?)\$\$|\$([^$]+)\$", md, re.S)
    assert len(chunks) > 40
    for block, inline in chunks:
        tex = _math_outside_text(block or inline)
        assert tex.count("{") == tex.count("}"), tex[:120]
        assert all(ord(ch) < 128 for ch in tex), sorted({ch for ch in tex if ord(ch) >= 128})
    assert r"\star" in md and r"\text{rot180}" in md and r"\begin{bmatrix}" in md
    markdown = pytest.importorskip("markdown")
    assert "<h2>Backward pass</h2>" in markdown.markdown(md, extensions=["extra"])
    data = json.loads(example.to_json())
    assert data["format"] == "glassnet.explain.conv/1" and data["check"]["agree"] is True
    conv = data["stages"][0]
    np.testing.assert_allclose(conv["grads"]["W"], example.stages[0].grads["W"])
    np.testing.assert_allclose(conv["engine"]["grad_W"], conv["grads"]["W"], rtol=1e-10)
    assert any(step["label"] == "route" for step in data["steps"])


def test_a_keras_sized_layer_shows_four_maps_and_checks_them_all() -> None:
    """Keras's convnet has 32 and 64 filters: the page shows four of each in full and says so,
    while check() covers every one (a float32 model is traced on float64 copies)."""
    model = Sequential(
        [
            Conv2D(6, 3, activation="relu", input_shape=(8, 8, 1)),
            MaxPooling2D(2),
            Conv2D(5, 2, activation="relu"),
            Flatten(),
            Dense(3, "softmax"),
        ]
    )
    model.build((8, 8, 1))
    x = np.random.default_rng(3).random((8, 8, 1))
    trace = backprop(model, x, 2, loss="sparse_categorical_crossentropy")
    trace.check(rtol=1e-10, atol=1e-12)
    assert trace.stages[2].grads["W"].shape == (5, 6, 2, 2)  # all 30 kernels compared
    text = trace.to_text()
    assert "Filters 5–6 of layer 1 are computed and checked the same way" in text
    assert "Input channels 5–6 of layer 3" in text
    assert "(channels 5–6)" in text  # the worked position adds up the channels not shown
    assert "float32; the trace and its checks use float64 copies" in text
    assert "z³₄[1, 1]" in text and "z³₅[1, 1]" not in text


@pytest.mark.parametrize("pool", [GlobalAveragePooling2D, GlobalMaxPooling2D])
def test_global_pooling_feeds_the_dense_output(pool) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    model = Sequential(
        [
            Conv2D(3, 3, activation="relu", input_shape=(6, 6, 2), dtype="float64"),
            BatchNormalization(dtype="float64"),
            pool(),
            Dense(2, "softmax", dtype="float64"),
        ]
    )
    model.build((6, 6, 2))
    x = rng.normal(size=(2, 6, 6, 2))
    trace = backprop(model, x, [0, 1], loss="sparse_categorical_crossentropy")
    trace.check(rtol=RTOL, atol=ATOL)
    st = trace.stages[2]
    g = st.grad_a[0]  # (channels,)
    maps = st.a_prev[0]
    if pool is GlobalMaxPooling2D:  # all of a channel's gradient at its (first) maximum
        for c in range(3):
            k = int(np.argmax(maps[c]))
            expected = np.zeros(maps[c].size)
            expected[k] = g[c]
            np.testing.assert_array_equal(st.grad_a_prev[0, c].reshape(-1), expected)
    else:
        np.testing.assert_allclose(
            st.grad_a_prev[0], np.broadcast_to(g[:, None, None] / 16, (3, 4, 4)), rtol=1e-15
        )
    assert "global" in trace.to_text()
