"""PyTorch weights: glassnet → torch → glassnet, with torch as the oracle."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the oracle is PyTorch")

import glassnet  # noqa: E402
import glassnet.layers as L  # noqa: E402
from glassnet.functional.activations import KERNELS  # noqa: E402
from glassnet.io import load_torch_state_dict, to_torch_module, to_torch_state_dict  # noqa: E402

TOL = {np.float32: 2e-5, np.float64: 1e-12}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}

# The oracle: the torch module for each activation, written here from PyTorch's documentation,
# independently of glassnet's own table.
ORACLE = {
    "relu": lambda: torch.nn.ReLU(),
    "sigmoid": lambda: torch.nn.Sigmoid(),
    "tanh": lambda: torch.nn.Tanh(),
    "leaky_relu": lambda: torch.nn.LeakyReLU(0.2),
    "elu": lambda: torch.nn.ELU(0.7),
    "gelu": lambda: torch.nn.GELU(approximate="tanh"),
    "softplus": lambda: torch.nn.Softplus(),
    "softmax": lambda: torch.nn.Softmax(dim=-1),
}
PARAMS = {"leaky_relu": {"negative_slope": 0.2}, "elu": {"alpha": 0.7}}


def _models(activation, dtype):
    """A glassnet model and, built by hand, the torch.nn.Sequential it should map to."""
    act_layer = L.Activation(activation, dtype=dtype, **PARAMS.get(activation, {}))
    dense_act = activation if activation not in PARAMS else "relu"
    ours = glassnet.Sequential(
        [
            L.Dense(7, dense_act, input_dim=5, dtype=dtype),
            L.Dropout(0.3, dtype=dtype),
            L.Dense(6, dtype=dtype),
            act_layer,
            L.Dense(3, "softmax", use_bias=False, dtype=dtype),
        ]
    )
    hidden = [] if dense_act == "linear" else [ORACLE[dense_act]()]
    act = [torch.nn.Identity()] if activation == "linear" else [ORACLE[activation]()]
    theirs = torch.nn.Sequential(
        torch.nn.Linear(5, 7), *hidden, torch.nn.Dropout(0.3), torch.nn.Linear(7, 6), *act,
        torch.nn.Linear(6, 3, bias=False), torch.nn.Softmax(dim=-1),
    )  # fmt: skip
    return ours, theirs.to(TORCH_DTYPE[dtype]).eval()


def _torch_out(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", sorted(KERNELS))
def test_round_trip_through_torch(activation, dtype):
    glassnet.seed(sorted(KERNELS).index(activation))
    ours, theirs = _models(activation, dtype)
    x = np.random.default_rng(0).normal(scale=2.0, size=(40, 5)).astype(dtype)
    # glassnet → torch: the keys fit a hand-built Sequential exactly, and it computes the same.
    theirs.load_state_dict(to_torch_state_dict(ours), strict=True)
    np.testing.assert_allclose(_torch_out(theirs, x), ours.predict(x), rtol=TOL[dtype],
                               atol=TOL[dtype])  # fmt: skip
    # torch → glassnet: new weights made in torch, loaded back, the same predictions.
    torch.manual_seed(1)
    for module in theirs:
        if isinstance(module, torch.nn.Linear):
            module.reset_parameters()
    load_torch_state_dict(ours, theirs.state_dict())
    np.testing.assert_allclose(ours.predict(x), _torch_out(theirs, x), rtol=TOL[dtype],
                               atol=TOL[dtype])  # fmt: skip
    # and the module glassnet builds itself is the same network.
    built = to_torch_module(ours)
    assert [type(m) for m in built] == [type(m) for m in theirs]
    np.testing.assert_allclose(_torch_out(built, x), ours.predict(x), rtol=TOL[dtype],
                               atol=TOL[dtype])  # fmt: skip


def test_keys_follow_torch_module_indices():
    model = glassnet.Sequential(
        [L.Dense(4, "relu", input_dim=3), L.Dropout(0.5), L.Dense(2), L.Dense(2, "softmax")]
    )
    state = to_torch_state_dict(model, tensors=False)
    assert list(state) == ["0.weight", "0.bias", "3.weight", "3.bias", "4.weight", "4.bias"]
    assert state["0.weight"].shape == (4, 3) and state["0.weight"].flags.c_contiguous
    state["0.weight"][:] = 99  # a copy: the model is not changed
    assert not np.any(model.layers[0].W.data == 99)


def test_preprocessing_and_flatten_in_the_torch_module():
    glassnet.seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(10, 2, 3)).astype(np.float32)
    model = glassnet.Sequential(
        [
            L.Flatten(input_shape=(2, 3)),
            L.Rescaling(0.5, 0.25),
            L.Normalization().adapt(x.reshape(10, 6)),
            L.Dense(4, "tanh"),
        ]
    )
    module = to_torch_module(model)
    assert list(module.state_dict()) == ["3.weight", "3.bias"]
    np.testing.assert_allclose(_torch_out(module, x), model.predict(x), rtol=1e-5, atol=1e-5)


def test_wrong_state_dicts_are_refused_in_one_sentence_and_change_nothing():
    glassnet.seed(0)
    model = glassnet.Sequential([L.Dense(4, "relu", input_dim=3), L.Dense(2)])
    before = model.get_weights()
    good = to_torch_state_dict(model)
    cases = {
        "missing keys \\['2.bias'\\]": {k: v for k, v in good.items() if k != "2.bias"},
        "unexpected keys \\['5.weight'\\]": {**good, "5.weight": torch.zeros(1)},
        r"2.weight has shape \(3, 4\), expected \(2, 4\)": {**good, "2.weight": torch.zeros(3, 4)},
    }
    for message, state in cases.items():
        with pytest.raises(ValueError, match=message) as info:
            load_torch_state_dict(model, state)
        assert str(info.value).count(". ") == 0
    with pytest.raises(ValueError, match="expected a state dict"):
        load_torch_state_dict(model, [1, 2])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_float64_model_and_numpy_state_dict():
    glassnet.seed(0)
    model = glassnet.Sequential([L.Dense(3, "elu", input_dim=2, dtype="float64")])
    state = to_torch_state_dict(model)
    assert state["0.weight"].dtype == torch.float64
    load_torch_state_dict(model, {k: v.numpy() * 2 for k, v in state.items()})
    np.testing.assert_array_equal(model.layers[0].W.data, 2 * state["0.weight"].numpy())


def test_unsupported_layer_is_named():
    class Twice(L.Layer):
        def forward_kernel(self, x, ctx):
            return 2 * x

        def backward_kernel(self, ctx, g):
            return 2 * g

    model = glassnet.Sequential([L.Dense(3, input_dim=2), Twice(name="twice")])
    with pytest.raises(ValueError, match=r"layer 'twice' \(Twice\) has no torch counterpart"):
        to_torch_state_dict(model)


def _convnet(fmt, dtype=np.float32):
    shape = (10, 10, 2) if fmt == "channels_last" else (2, 10, 10)
    bn_axis = -1 if fmt == "channels_last" else 1
    model = glassnet.Sequential(
        [
            L.Conv2D(4, 3, padding="same", data_format=fmt, activation="relu",
                     input_shape=shape, dtype=dtype),
            L.BatchNormalization(axis=bn_axis, dtype=dtype),
            L.MaxPooling2D(2, data_format=fmt, dtype=dtype),
            L.Conv2D(3, (2, 3), strides=(1, 2), dilation_rate=1, data_format=fmt,
                     activation="softmax", dtype=dtype),
            L.AveragePooling2D((2, 1), data_format=fmt, dtype=dtype),
            L.Flatten(dtype=dtype),
            L.BatchNormalization(dtype=dtype),
            L.Dense(5, "tanh", dtype=dtype),
        ]
    )  # fmt: skip
    rng = np.random.default_rng(3)
    for layer in model.layers:  # moving statistics other than 0 and 1
        if isinstance(layer, L.BatchNormalization):
            for param in layer.parameters():
                low = 0.5 if "variance" in param.name else -1.0
                param.data[...] = rng.uniform(low, 2.0, param.shape)
    return model, shape


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_convnet_round_trip_through_torch(fmt):
    glassnet.seed(0)
    model, shape = _convnet(fmt)
    x = np.random.default_rng(1).normal(size=(6, *shape)).astype(np.float32)
    module = to_torch_module(model)
    names = [type(m).__name__ for m in module]
    assert "Conv2d" in names and "BatchNorm2d" in names and "BatchNorm1d" in names
    np.testing.assert_allclose(_torch_out(module, x), model.predict(x), rtol=1e-4, atol=2e-5)
    # torch → glassnet: new weights in torch, loaded into a fresh model, same predictions.
    with torch.no_grad():
        for value in module.state_dict().values():
            if value.dtype.is_floating_point:
                value.mul_(1.1).add_(0.01)
    glassnet.seed(5)
    fresh, _ = _convnet(fmt)
    load_torch_state_dict(fresh, module.state_dict())
    np.testing.assert_allclose(fresh.predict(x), _torch_out(module, x), rtol=1e-4, atol=2e-5)


def test_conv_and_batch_norm_keys_and_layouts():
    glassnet.seed(0)
    model, _ = _convnet("channels_last")
    state = to_torch_state_dict(model)
    conv = model.layers[0]
    # module 0 is the Permute to channels-first, 1 the Conv2d, 2 the Permute back, 3 the ReLU
    assert tuple(state["1.weight"].shape) == (4, 2, 3, 3)
    np.testing.assert_array_equal(state["1.weight"][2, 1].numpy(), conv.W.data[:, :, 1, 2])
    bn = model.layers[1]
    assert {"5.weight", "5.bias", "5.running_mean", "5.running_var"} <= set(state)
    np.testing.assert_array_equal(state["5.running_var"].numpy(), bn.moving_variance.data)
    module = to_torch_module(model)
    assert module[5].momentum == pytest.approx(1 - bn.momentum)
    assert module[5].eps == pytest.approx(bn.epsilon)


def test_embedding_round_trip_through_torch():
    glassnet.seed(0)
    model = glassnet.Sequential(
        [L.Embedding(30, 4, input_shape=(6,)), L.Flatten(), L.Dense(3, "softmax")]
    )
    x = np.random.default_rng(0).integers(0, 30, size=(5, 6))
    module = to_torch_module(model)
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, model.predict(x), rtol=1e-5, atol=1e-6)
    assert module.state_dict()["0.weight"].shape == (30, 4)


def test_keras_dense_maps_as_dense_and_own_math_is_refused():
    import glassnet.keras.layers as KL

    glassnet.seed(0)
    model = glassnet.Sequential([KL.Dense(4, "relu", input_dim=3), KL.Dense(2)])
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    module = to_torch_module(model)
    np.testing.assert_allclose(_torch_out(module, x), model.predict(x), rtol=1e-5, atol=1e-6)

    class Doubled(L.Dense):
        def forward_kernel(self, x, ctx):
            return 2 * super().forward_kernel(x, ctx)

    odd = glassnet.Sequential([Doubled(2, input_dim=3, name="odd")])
    with pytest.raises(ValueError, match=r"layer 'odd' \(Doubled\) has no torch counterpart"):
        to_torch_module(odd)


# --- the layers of the convolution issue beyond Conv2D: random configurations in float64 ---

F64 = "float64"
FORMATS = ["channels_last", "channels_first"]


def _image(fmt, rows, cols, channels):
    return (rows, cols, channels) if fmt == "channels_last" else (channels, rows, cols)


def _steps(fmt, steps, channels):
    return (steps, channels) if fmt == "channels_last" else (channels, steps)


def _same_is_symmetric(size, window, stride):
    """Keras's "same": ceil(size / stride) outputs, the missing rows split with the extra one
    after — written here from Keras's documentation, not read from glassnet."""
    out = -(-size // stride)
    return max((out - 1) * stride + window - size, 0) % 2 == 0


def _conv1d(rng, fmt):
    kernel, dilation = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    stride = 1 if dilation > 1 else int(rng.integers(1, 4))
    steps = (kernel - 1) * dilation + int(rng.integers(1, 8))
    layer = L.Conv1D(
        int(rng.integers(1, 5)), kernel, strides=stride, dilation_rate=dilation,
        padding=str(rng.choice(["valid", "same", "causal"])), data_format=fmt,
        activation=str(rng.choice(["linear", "tanh", "softmax"])),
        use_bias=bool(rng.integers(2)), dtype=F64,
    )  # fmt: skip
    return layer, _steps(fmt, steps, int(rng.integers(1, 4)))


def _conv2d_odd_same(rng, fmt):
    """Conv2D with "same" on odd geometry: torch's ConstantPad2d then a valid Conv2d."""
    kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    strides = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    layer = L.Conv2D(2, kernel, strides=strides, padding="same", data_format=fmt, dtype=F64)
    return layer, _image(fmt, int(rng.integers(3, 9)), int(rng.integers(3, 9)), 2)


def _conv2d_transpose(rng, fmt):
    kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    dilation = (int(rng.integers(1, 3)), 1)
    strides = (1 if dilation[0] > 1 else int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    layer = L.Conv2DTranspose(
        int(rng.integers(1, 4)), kernel, strides=strides, dilation_rate=dilation,
        padding=str(rng.choice(["valid", "same"])), data_format=fmt,
        activation=str(rng.choice(["linear", "relu", "softmax"])),
        use_bias=bool(rng.integers(2)), dtype=F64,
    )  # fmt: skip
    return layer, _image(fmt, int(rng.integers(1, 6)), int(rng.integers(1, 6)), 2)


def _pooling1d(cls):
    def make(rng, fmt):
        pool, stride = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        steps = pool + int(rng.integers(0, 7))
        padding = str(rng.choice(["valid", "same"]))
        if cls is L.AveragePooling1D and not _same_is_symmetric(steps, pool, stride):
            padding = "valid"  # torch cannot average it: refused (see below)
        layer = cls(pool, strides=stride, padding=padding, data_format=fmt, dtype=F64)
        return layer, _steps(fmt, steps, 3)

    return make


def _global1d(cls):
    def make(rng, fmt):
        layer = cls(data_format=fmt, keepdims=bool(rng.integers(2)), dtype=F64)
        return layer, _steps(fmt, int(rng.integers(1, 9)), 3)

    return make


def _layer_norm(rng, fmt):
    center, scale = [(True, True), (False, True), (False, False)][int(rng.integers(3))]
    axis = [-1, [-2, -1]][int(rng.integers(2))]
    layer = L.LayerNormalization(
        axis=axis, epsilon=float(rng.uniform(1e-5, 1e-2)), center=center, scale=scale,
        dtype=F64,
    )  # fmt: skip
    return layer, (int(rng.integers(1, 5)), int(rng.integers(2, 6)))


def _reshape(rng, fmt):
    a, b, c = (int(v) for v in rng.integers(1, 5, size=3))
    target = [(b * c, a), (-1, a), (c, -1, b)][int(rng.integers(3))]
    return L.Reshape(target, dtype=F64), (a, b, c)


def _zero_padding(rng, fmt):
    pads = tuple(tuple(int(v) for v in rng.integers(0, 4, size=2)) for _ in range(2))
    layer = L.ZeroPadding2D(pads, data_format=fmt, dtype=F64)
    return layer, _image(fmt, int(rng.integers(1, 6)), int(rng.integers(1, 6)), 2)


def _upsampling(rng, fmt):
    size = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    layer = L.UpSampling2D(size, data_format=fmt, dtype=F64)
    return layer, _image(fmt, int(rng.integers(1, 6)), int(rng.integers(1, 6)), 2)


NEW_LAYERS = {
    "Conv1D": _conv1d,
    "Conv2D odd same": _conv2d_odd_same,
    "Conv2DTranspose": _conv2d_transpose,
    "MaxPooling1D": _pooling1d(L.MaxPooling1D),
    "MaxPooling2D odd same": lambda rng, fmt: (
        L.MaxPooling2D(2, strides=(2, 1), padding="same", data_format=fmt, dtype=F64),
        _image(fmt, int(rng.integers(2, 8)), int(rng.integers(2, 8)), 2),
    ),
    "AveragePooling1D": _pooling1d(L.AveragePooling1D),
    "GlobalAveragePooling1D": _global1d(L.GlobalAveragePooling1D),
    "GlobalMaxPooling1D": _global1d(L.GlobalMaxPooling1D),
    "LayerNormalization": _layer_norm,
    "Reshape": _reshape,
    "ZeroPadding2D": _zero_padding,
    "UpSampling2D": _upsampling,
}


def _randomise(model, rng):
    """Every parameter random (γ, β away from 1 and 0), so a wrong layout shows."""
    for param in model.parameters():
        param.data[...] = rng.normal(size=param.shape)


def _one_layer_model(make, seed, fmt):
    rng = np.random.default_rng(seed)
    layer, shape = make(rng, fmt)
    model = glassnet.Sequential([L.Input(shape=shape, dtype=F64), layer])
    _randomise(model, rng)
    return model, shape, layer


# The torch modules the seeds below must reach, so that each exact-padding path is exercised.
REACHED = {
    "Conv1D": {"ConstantPad1d", "Softmax"},  # "causal" and an odd "same"
    "Conv2D odd same": {"ConstantPad2d"},
    "Conv2DTranspose": {"ConstantPad2d", "output_padding", "Softmax"},  # the crop of odd same
    "MaxPooling1D": {"ConstantPad1d"},
    "MaxPooling2D odd same": {"ConstantPad2d"},
}


def _module_names(module):
    for m in module:
        yield type(m).__name__
        if isinstance(m, torch.nn.ConvTranspose2d) and any(m.output_padding):
            yield "output_padding"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", sorted(NEW_LAYERS))
def test_new_layers_give_glassnet_predictions_in_torch(kind, fmt):
    reached = set()
    for seed in range(12):
        model, shape, layer = _one_layer_model(NEW_LAYERS[kind], seed, fmt)
        x = np.random.default_rng(100 + seed).normal(size=(3, *shape))
        module = to_torch_module(model)
        reached.update(_module_names(module))
        expected = model.predict(x)
        got = _torch_out(module, x)
        assert got.shape == expected.shape, (kind, layer.get_config())
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12,
                                   err_msg=str(layer.get_config()))  # fmt: skip
        # torch → glassnet: the state dict loaded into another draw gives the weights back
        state = to_torch_state_dict(model)
        other, _, _ = _one_layer_model(NEW_LAYERS[kind], seed, fmt)
        _randomise(other, np.random.default_rng(999))
        load_torch_state_dict(other, state)
        for ours, back in zip(model.get_weights(), other.get_weights()):
            np.testing.assert_array_equal(back, ours)
    assert REACHED.get(kind, set()) <= reached


def test_new_layers_keys_and_layouts():
    glassnet.seed(0)
    model = glassnet.Sequential(
        [
            L.Input(shape=(7, 2), dtype=F64),
            L.Conv1D(3, 3, padding="causal", dtype=F64),
            L.LayerNormalization(dtype=F64),
            L.Reshape((3, 7), dtype=F64),
            L.Reshape((3, 7, 1), dtype=F64),
            L.Conv2DTranspose(4, (2, 3), strides=2, data_format="channels_last", dtype=F64),
        ]
    )
    module = to_torch_module(model)
    names = [type(m).__name__ for m in module]
    assert names == ["Permute", "ConstantPad1d", "Conv1d", "Permute", "LayerNorm", "Reshape",
                     "Reshape", "Permute", "ConvTranspose2d", "Permute"]  # fmt: skip
    assert module[1].padding == (2, 0)  # causal: every pad before, none after
    conv, transpose = model.layers[0], model.layers[4]
    state = to_torch_state_dict(model)
    # Conv1d's weight (out, in, k) from glassnet's (k, in, out)
    np.testing.assert_array_equal(state["2.weight"][2, 1].numpy(), conv.W.data[:, 1, 2])
    # ConvTranspose2d's weight (in, out, kh, kw) from Keras's (kh, kw, out, in)
    assert tuple(state["8.weight"].shape) == (1, 4, 2, 3)
    np.testing.assert_array_equal(state["8.weight"][0, 3].numpy(), transpose.W.data[:, :, 3, 0])
    assert set(state) == {"2.weight", "2.bias", "4.weight", "4.bias", "8.weight", "8.bias"}


def test_upsampling_repeats_exactly_in_float32_for_large_factors():
    """torch's "nearest" computes floor(i · (1/41)) in float32 and takes the wrong row at
    i = 41·m for some m; the exported module must repeat each value exactly, as glassnet."""
    model = glassnet.Sequential([L.Input(shape=(3, 64, 1)), L.UpSampling2D((2, 41))])
    x = np.arange(3 * 64, dtype=np.float32).reshape(1, 3, 64, 1)
    expected = x.repeat(2, axis=1).repeat(41, axis=2)
    np.testing.assert_array_equal(model.predict(x), expected)
    np.testing.assert_array_equal(_torch_out(to_torch_module(model), x), expected)


# --- configurations torch cannot express exactly: refused by name, in one sentence ---


def _refusal(layer, shape):
    model = glassnet.Sequential([L.Input(shape=shape), layer])
    with pytest.raises(ValueError) as info:
        to_torch_module(model)
    message = str(info.value)
    assert message.count(". ") == 0
    return message


@pytest.mark.parametrize("cls, shape", [(L.AveragePooling1D, (6, 2)),
                                        (L.AveragePooling2D, (6, 6, 2))])  # fmt: skip
def test_average_pooling_with_odd_same_padding_is_refused(cls, shape):
    message = _refusal(cls(3, strides=2, padding="same", name="p"), shape)
    rank = len(shape) - 1
    assert f"layer 'p' ({cls.__name__}) with padding='same' pads {(0,) * rank} before and " in (
        message
    )
    assert "torch's AvgPool pads both sides equally" in message


def test_layer_norm_with_beta_but_no_gamma_is_refused():
    layer = L.LayerNormalization(center=True, scale=False, name="ln")
    message = _refusal(layer, (4,))
    assert message.startswith("to_torch: layer 'ln' (LayerNormalization) has center=True with ")
    assert "no torch module for β without γ" in message


# --- two small models, exported, one step of torch's SGD against glassnet's own step ---


def _sequence_model(fmt):
    return glassnet.Sequential(
        [
            L.Input(shape=_steps(fmt, 11, 3), dtype=F64),
            L.Conv1D(4, 3, strides=1, dilation_rate=2, padding="causal", data_format=fmt,
                     activation="tanh", dtype=F64),
            L.MaxPooling1D(2, padding="same", data_format=fmt, dtype=F64),
            L.LayerNormalization(dtype=F64),
            L.Flatten(dtype=F64),
            L.Dense(3, dtype=F64),
        ]
    )  # fmt: skip


def _image_model(fmt):
    return glassnet.Sequential(
        [
            L.Input(shape=_image(fmt, 7, 6, 2), dtype=F64),
            L.Conv2D(3, 3, strides=2, padding="same", data_format=fmt, activation="relu",
                     dtype=F64),
            L.ZeroPadding2D(((1, 0), (0, 2)), data_format=fmt, dtype=F64),
            L.Conv2DTranspose(2, 3, strides=2, padding="same", data_format=fmt,
                              activation="tanh", dtype=F64),
            L.UpSampling2D((2, 1), data_format=fmt, dtype=F64),
            L.GlobalAveragePooling2D(data_format=fmt, dtype=F64),
            L.Dense(3, dtype=F64),
        ]
    )  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("build", [_sequence_model, _image_model])
def test_one_sgd_step_in_torch_equals_glassnets(build, fmt):
    glassnet.seed(0)
    model = build(fmt)
    rng = np.random.default_rng(4)
    _randomise(model, rng)
    for param in model.parameters():
        param.data *= 0.5
    x = rng.normal(size=(8, *model.input_shape))
    y = rng.normal(size=(8, 3))
    lr = 0.1
    module = to_torch_module(model).train()
    before = to_torch_state_dict(model, tensors=False)

    model.compile(optimizer=glassnet.optimizers.SGD(learning_rate=lr), loss="mse")
    loss = float(model.train_on_batch(x, y))
    after = to_torch_state_dict(model, tensors=False)

    optimizer = torch.optim.SGD(module.parameters(), lr=lr)
    optimizer.zero_grad()
    expected = torch.nn.functional.mse_loss(module(torch.from_numpy(x)), torch.from_numpy(y))
    expected.backward()
    optimizer.step()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    grads = {key: p.grad.numpy() for key, p in module.named_parameters()}
    assert set(grads) == set(before)
    for key, grad in grads.items():
        ours = (before[key] - after[key]) / lr  # glassnet's ∂C/∂w, in torch's layout
        scale = np.abs(grad).max()
        assert scale > 0, key
        np.testing.assert_allclose(ours, grad, rtol=1e-9, atol=1e-9 * scale, err_msg=key)
        np.testing.assert_allclose(after[key], module.state_dict()[key].numpy(), rtol=1e-12,
                                   atol=1e-12)  # fmt: skip
