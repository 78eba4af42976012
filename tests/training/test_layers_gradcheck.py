"""Every layer, activation and loss passes gradcheck; fused and composed paths agree."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
import glassnet.functional as F
from glassnet import initializers, losses
from glassnet.functional import KERNELS
from glassnet.layers import (
    ELU,
    Activation,
    Dense,
    Dropout,
    Flatten,
    LeakyReLU,
    Rescaling,
    Softmax,
)

ACTIVATIONS = sorted(KERNELS)


def _f64(shape, seed=0, low=-1.5, high=1.5):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_gradcheck_every_activation(activation):
    gn.seed(1)
    layer = Dense(
        3,
        activation=activation,
        input_dim=4,
        dtype="float64",
        kernel_initializer="glorot_normal",
        bias_initializer="normal",
    )
    x = gn.tensor(_f64((5, 4), 2), dtype="float64", requires_grad=True)

    def run(x, W, b):
        layer.W.data, layer.b.data = W.data, b.data
        z = F.linear(x, W, b)
        return layer.activation.forward(z)

    report = gn.gradcheck(run, (x, layer.W, layer.b))
    assert report.ok, str(report)
    # and the layer's own forward is that computation
    np.testing.assert_allclose(layer(x).data, run(x, layer.W, layer.b).data)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_derivative_matches_numerical(activation):
    """σ'(z) exposed by each activation is the true derivative (diagonal for softmax)."""
    layer = Activation(activation)
    z = _f64((4, 5), 3)
    z[np.abs(z) < 1e-3] = 0.3  # keep away from ReLU's kink
    eps = 1e-6
    if layer.kernel.elementwise:
        numerical = (layer.function(z + eps) - layer.function(z - eps)) / (2 * eps)
    else:
        numerical = np.zeros_like(z)
        for j in range(z.shape[1]):
            dz = np.zeros_like(z)
            dz[:, j] = eps
            numerical[:, j] = ((layer.function(z + dz) - layer.function(z - dz)) / (2 * eps))[:, j]
    np.testing.assert_allclose(layer.derivative(z), numerical, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "layer",
    [LeakyReLU(0.2), ELU(0.7), Softmax(), Flatten(), Rescaling(0.5, offset=0.25), Dropout(0.5)],
    ids=lambda layer: type(layer).__name__,
)
def test_other_layers_gradcheck(layer):
    x = gn.tensor(_f64((3, 2, 2), 4), dtype="float64", requires_grad=True)

    def run(x):
        gn.seed(7)  # the same dropout mask at every evaluation
        inp = x if isinstance(layer, (Flatten, Dropout, Rescaling)) else F.reshape(x, (3, 4))
        return layer(inp)

    layer.dtype = np.dtype("float64")
    report = gn.gradcheck(run, (x,))
    assert report.ok, str(report)


def test_dropout_is_identity_in_eval_mode_and_scales_in_training():
    gn.seed(0)
    layer = Dropout(0.25)
    x = gn.tensor(np.ones((2000, 10)))
    out = layer(x).data
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(out[kept], 1 / 0.75)
    layer.eval()
    assert layer(x) is x


def _targets(loss, shape, rng):
    n, k = shape
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        return rng.integers(0, k, size=n)
    if isinstance(loss, losses.CategoricalCrossentropy):
        return np.eye(k)[rng.integers(0, k, size=n)]
    if isinstance(loss, losses.BinaryCrossentropy):
        return rng.integers(0, 2, size=shape).astype(float)
    return rng.normal(size=shape)


LOSS_NAMES = [
    "quadratic",
    "mse",
    "mae",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
]


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_every_loss_gradcheck_on_probabilities(name):
    loss = losses.get(name)
    rng = np.random.default_rng(5)
    shape = (4, 3)
    y = _targets(loss, shape, rng)
    p = rng.uniform(0.1, 0.9, size=shape)
    if isinstance(loss, (losses.CategoricalCrossentropy, losses.SparseCategoricalCrossentropy)):
        p = p / p.sum(axis=1, keepdims=True)
    a = gn.tensor(p, dtype="float64", requires_grad=True)
    report = gn.gradcheck(lambda a: loss(y, a), (a,))
    assert report.ok, str(report)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_closed_form_gradient_matches_autograd(name):
    """loss.gradient() (∇_a C_x, used by the explain tools) equals N·∂C/∂a from autograd."""
    loss = losses.get(name)
    rng = np.random.default_rng(6)
    y = _targets(loss, (5, 4), rng)
    p = rng.uniform(0.05, 0.95, size=(5, 4))
    a = gn.tensor(p, dtype="float64", requires_grad=True)
    loss(y, a).backward()
    np.testing.assert_allclose(loss.gradient(y, p) / 5, a.grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(loss.per_sample(y, p).mean(), loss(y, a).item(), rtol=1e-12)


@pytest.mark.parametrize(
    "name,activation",
    [
        ("categorical_crossentropy", F.softmax),
        ("sparse_categorical_crossentropy", F.softmax),
        ("binary_crossentropy", F.sigmoid),
    ],
)
def test_fused_and_composed_paths_agree(name, activation):
    """From logits (fused, δ = a − y) and through probabilities (composed) give one gradient."""
    loss = losses.get(name)
    fused = losses.get({"name": name, "from_logits": True})
    rng = np.random.default_rng(8)
    y = _targets(loss, (6, 4), rng)
    z_np = rng.normal(scale=2.0, size=(6, 4))
    z1 = gn.tensor(z_np, dtype="float64", requires_grad=True)
    z2 = gn.tensor(z_np, dtype="float64", requires_grad=True)
    composed = loss(y, activation(z1))
    direct = fused(y, z2)
    composed.backward()
    direct.backward()
    np.testing.assert_allclose(direct.item(), composed.item(), rtol=1e-12)
    np.testing.assert_allclose(z2.grad, z1.grad, rtol=1e-9, atol=1e-14)
    assert gn.gradcheck(lambda z: fused(y, z), (z2,)).ok


def test_fused_loss_is_finite_where_composed_saturates():
    z = gn.tensor([[1000.0, -1000.0, 0.0]], dtype="float64", requires_grad=True)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)(np.array([1]), z)
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(2000.0)
    np.testing.assert_allclose(z.grad, [[1.0, -1.0, 0.0]], atol=1e-12)


@pytest.mark.parametrize(
    "name",
    [
        "zeros",
        "ones",
        "normal",
        "uniform",
        "glorot_uniform",
        "glorot_normal",
        "he_uniform",
        "he_normal",
        "lecun_normal",
    ],
)
def test_initializers_are_seeded_and_have_the_documented_spread(name):
    init = initializers.get(name)
    gn.seed(3)
    w1 = init((200, 300))
    gn.seed(3)
    w2 = init((200, 300))
    np.testing.assert_array_equal(w1, w2)
    assert w1.dtype == np.float32
    fan_in, fan_out = 300, 200
    expected_std = {
        "zeros": 0.0,
        "ones": 0.0,
        "normal": 1.0,
        "uniform": 0.1 / np.sqrt(12),
        "glorot_uniform": np.sqrt(2 / (fan_in + fan_out)),
        "glorot_normal": np.sqrt(2 / (fan_in + fan_out)),
        "he_uniform": np.sqrt(2 / fan_in),
        "he_normal": np.sqrt(2 / fan_in),
        "lecun_normal": np.sqrt(1 / fan_in),
    }[name]
    assert w1.std() == pytest.approx(expected_std, rel=0.03, abs=1e-9)
    if name == "glorot_uniform":
        assert np.abs(w1).max() <= np.sqrt(6 / (fan_in + fan_out))
    if name in ("glorot_normal", "he_normal", "lecun_normal"):
        assert np.abs(w1).max() <= 2 * expected_std / 0.87962566103423978 + 1e-6


def test_constant_initializer_and_unknown_name():
    np.testing.assert_array_equal(initializers.get(0.35)((2,)), np.float32([0.35, 0.35]))
    with pytest.raises(gn.errors.UnknownNameError, match="glorot_uniform"):
        initializers.get("glorot_unifrom")


@pytest.mark.parametrize(
    "name", ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"]
)
def test_closed_form_gradient_matches_autograd_at_saturated_outputs(name):
    """Outside [ε, 1 − ε] the clipped cost is flat: gradient() must say 0 there too."""
    loss = losses.get(name)
    rng = np.random.default_rng(9)
    y = _targets(loss, (4, 3), rng)
    p = rng.uniform(0.2, 0.8, size=(4, 3))
    p[0, :] = [1e-12, 1.0, 1e-9]
    p[1, 0] = 1.0 - 1e-12
    if name != "binary_crossentropy":
        p[2:] /= p[2:].sum(axis=1, keepdims=True)
    a = gn.tensor(p, dtype="float64", requires_grad=True)
    loss(y, a).backward()
    np.testing.assert_allclose(loss.gradient(y, p) / 4, a.grad, rtol=1e-10, atol=1e-12)


def test_float64_layers_keep_float64_parameters():
    layer = Dense(3, input_dim=2, dtype="float64")
    assert layer.W.dtype == np.float64 and layer.b.dtype == np.float64
    model = gn.Sequential([Dense(4, input_dim=2), Dense(1)])
    model.to("float64")
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model.dtype == np.float64


def test_losses_reject_nan_targets_and_empty_batches():
    loss = losses.get("mse")
    with pytest.raises(gn.errors.InvalidArgumentError, match="NaN"):
        loss(np.array([[np.nan]]), gn.tensor([[0.5]]))
    fused = losses.SparseCategoricalCrossentropy(from_logits=True)
    with pytest.raises(gn.errors.ShapeError, match="empty"):
        fused(np.zeros(0, dtype=int), gn.tensor(np.zeros((0, 3))))
