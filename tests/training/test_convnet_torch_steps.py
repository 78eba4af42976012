"""Keras's "Simple MNIST convnet" trains with PyTorch's numbers: from identical float64 weights,
three Adam steps (Keras's ε = 1e-7) on the same batches with the same dropout masks give the
same losses and weights in glassnet (fast step and graph) and in torch, with the Flatten in
Keras's channels_last order. And the weights start as Keras draws them."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L

torch = pytest.importorskip("torch")


def _keras_convnet(dtype, fused):
    gn.seed(7)
    model = gn.Sequential(
        [
            L.Input(shape=(28, 28, 1)),
            L.Conv2D(32, kernel_size=(3, 3), activation="relu", dtype=dtype),
            L.MaxPooling2D(pool_size=(2, 2), dtype=dtype),
            L.Conv2D(64, kernel_size=(3, 3), activation="relu", dtype=dtype),
            L.MaxPooling2D(pool_size=(2, 2), dtype=dtype),
            L.Flatten(),
            L.Dropout(0.5, dtype=dtype),
            L.Dense(10, activation="softmax", dtype=dtype),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", fused=fused)
    return model


def _torch_twin(model):
    """torch layers holding the glassnet model's weights: kernels (kh, kw, in, out) → (out, in,
    kh, kw); Dense's W is already (out, in)."""
    f64 = torch.float64  # made in float64: copying into float32 parameters would round
    conv1, conv2 = torch.nn.Conv2d(1, 32, 3, dtype=f64), torch.nn.Conv2d(32, 64, 3, dtype=f64)
    dense = torch.nn.Linear(1600, 10, dtype=f64)
    with torch.no_grad():
        for ours, theirs in ((model.layers[0], conv1), (model.layers[2], conv2)):
            theirs.weight.copy_(torch.from_numpy(ours.W.data.transpose(3, 2, 0, 1).copy()))
            theirs.bias.copy_(torch.from_numpy(ours.b.data.copy()))
        dense.weight.copy_(torch.from_numpy(np.ascontiguousarray(model.layers[6].W.data)))
        dense.bias.copy_(torch.from_numpy(model.layers[6].b.data.copy()))
    return conv1, conv2, dense


def _record_dropout_masks(layer, masks):
    original = layer.forward_kernel

    def recording(a, ctx):
        out = original(a, ctx)
        if ctx.training:
            # where a = 0 (a window of ReLU zeros) no gradient passes either way
            masks.append(np.divide(out, a, out=np.zeros_like(out), where=a != 0))
        return out

    layer.forward_kernel = recording


@pytest.mark.parametrize("fused", ["auto", False])
def test_three_adam_steps_equal_torch_from_the_same_weights(fused):
    rng = np.random.default_rng(1)
    batch, steps = 24, 3
    x = rng.uniform(0, 1, size=(batch * steps, 28, 28, 1))
    y = rng.integers(0, 10, size=batch * steps)
    model = _keras_convnet("float64", fused)
    model.build((28, 28, 1))
    conv1, conv2, dense = _torch_twin(model)
    masks: list[np.ndarray] = []
    _record_dropout_masks(model.layers[5], masks)
    batches = [slice(i * batch, (i + 1) * batch) for i in range(steps)]
    losses = [float(model.train_on_batch(x[b], y[b])) for b in batches]
    assert len(masks) == steps
    kept = np.concatenate([m[m != 0] for m in masks])
    np.testing.assert_allclose(kept, 2.0, rtol=1e-15)  # inverted dropout: 1 / (1 − 0.5)
    assert 0.3 < np.mean(np.concatenate([m.ravel() for m in masks]) != 0) < 0.7

    pool = torch.nn.functional.max_pool2d
    params = [p for m in (conv1, conv2, dense) for p in m.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    for b, mask, loss in zip(batches, masks, losses):
        optimizer.zero_grad()
        h = torch.from_numpy(x[b]).permute(0, 3, 1, 2)
        h = pool(torch.relu(conv2(pool(torch.relu(conv1(h)), 2))), 2)
        h = h.permute(0, 2, 3, 1).flatten(1)  # Keras flattens (rows, cols, channels)
        logits = dense(h * torch.from_numpy(mask))
        expected = torch.nn.functional.cross_entropy(logits, torch.tensor(y[b]))
        expected.backward()
        optimizer.step()
        assert loss == pytest.approx(expected.item(), rel=1e-12)

    for ours, theirs in [
        (model.layers[0].W.data, conv1.weight.detach().numpy().transpose(2, 3, 1, 0)),
        (model.layers[0].b.data, conv1.bias.detach().numpy()),
        (model.layers[2].W.data, conv2.weight.detach().numpy().transpose(2, 3, 1, 0)),
        (model.layers[2].b.data, conv2.bias.detach().numpy()),
        (model.layers[6].W.data, dense.weight.detach().numpy()),
        (model.layers[6].b.data, dense.bias.detach().numpy()),
    ]:
        # Adam divides by √v + ε: a gradient near ε amplifies rounding, hence 1e-10 of the scale
        scale = np.abs(theirs).max()
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10 * scale)


def test_weights_start_as_keras_draws_them():
    """glorot_uniform with Keras's fans — conv: fan_in = kh·kw·in, fan_out = kh·kw·filters —
    and zero biases. Each bound is reached to within a few percent by thousands of draws, so
    a fan computed another way (for example without kh·kw) fails."""
    model = _keras_convnet("float64", "auto")
    for layer, fan_in, fan_out in [
        (model.layers[0], 9 * 1, 9 * 32),
        (model.layers[2], 9 * 32, 9 * 64),
        (model.layers[6], 1600, 10),
    ]:
        limit = np.sqrt(6 / (fan_in + fan_out))
        w = layer.W.data
        assert np.abs(w).max() <= limit
        assert np.abs(w).max() > 0.97 * limit
        assert w.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)  # uniform's std
        assert not layer.b.data.any()
