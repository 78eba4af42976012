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


def test_asymmetric_same_padding_is_refused_by_name():
    model = glassnet.Sequential([L.Conv2D(2, 2, padding="same", input_shape=(5, 5, 1), name="c")])
    with pytest.raises(ValueError, match=r"layer 'c' \(Conv2D\) pads \(0, 0\) before and \(1, 1\)"):
        to_torch_module(model)


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
