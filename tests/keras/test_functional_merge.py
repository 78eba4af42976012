"""Merge layers: every one passes gradcheck on each of its inputs and equals PyTorch's result
(values and gradients) on the same arrays; bad inputs fail with a sentence naming the layer."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers
from glassnet.errors import InvalidArgumentError, ShapeError


def _arrays(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.5, 1.5, size=s) for s in shapes]


CASES = [
    (lambda: layers.Concatenate(), [(3, 4), (3, 2), (3, 5)]),
    (lambda: layers.Concatenate(axis=1), [(2, 3, 4), (2, 1, 4)]),
    (lambda: layers.Add(), [(3, 4), (3, 4), (3, 4)]),
    (lambda: layers.Subtract(), [(3, 4), (3, 4)]),
    (lambda: layers.Multiply(), [(3, 4), (3, 4), (3, 4)]),
    (lambda: layers.Average(), [(3, 4), (3, 4)]),
    (lambda: layers.Maximum(), [(3, 4), (3, 4), (3, 4)]),
    (lambda: layers.Minimum(), [(3, 4), (3, 4)]),
    (lambda: layers.Dot(axes=1), [(3, 4), (3, 4)]),
    (lambda: layers.Dot(axes=1, normalize=True), [(3, 4), (3, 4)]),
    (lambda: layers.Dot(axes=2), [(2, 3, 4), (2, 5, 4)]),
    (lambda: layers.Dot(axes=(1, 2)), [(2, 3, 4), (2, 5, 3)]),
]
IDS = [
    "concat",
    "concat_axis1",
    "add",
    "subtract",
    "multiply",
    "average",
    "maximum",
    "minimum",
    "dot",
    "dot_normalize",
    "dot_axes2",
    "dot_axes12",
]


@pytest.mark.parametrize(("make", "shapes"), CASES, ids=IDS)
def test_merge_gradcheck(make, shapes):
    layer = make()
    xs = [gn.tensor(a, dtype="float64", requires_grad=True) for a in _arrays(shapes)]
    report = gn.gradcheck(lambda *ts: layer(list(ts)), xs)
    assert report.ok, str(report)


def _torch_merge(name, layer, ts):
    torch = pytest.importorskip("torch")
    if name.startswith("concat"):
        return torch.cat(ts, dim=layer.axis)
    if name == "add":
        return ts[0] + ts[1] + ts[2]
    if name == "subtract":
        return ts[0] - ts[1]
    if name == "multiply":
        return ts[0] * ts[1] * ts[2]
    if name == "average":
        return (ts[0] + ts[1]) / 2
    if name == "maximum":
        return torch.maximum(torch.maximum(ts[0], ts[1]), ts[2])
    if name == "minimum":
        return torch.minimum(ts[0], ts[1])
    if name == "dot":
        return (ts[0] * ts[1]).sum(dim=1, keepdim=True)
    if name == "dot_normalize":
        a = torch.nn.functional.normalize(ts[0], dim=1)
        b = torch.nn.functional.normalize(ts[1], dim=1)
        return (a * b).sum(dim=1, keepdim=True)
    if name == "dot_axes2":
        return torch.bmm(ts[0], ts[1].transpose(1, 2))
    if name == "dot_axes12":  # x (2, 3, 4) over axis 1, y (2, 5, 3) over axis 2 → (2, 4, 5)
        return torch.einsum("bkp,bqk->bpq", ts[0], ts[1])
    raise AssertionError(name)


@pytest.mark.parametrize(("make", "shapes"), CASES, ids=IDS)
def test_merge_matches_torch(make, shapes, request):
    torch = pytest.importorskip("torch")
    name = request.node.callspec.id
    layer = make()
    arrays = _arrays(shapes, seed=3)
    xs = [gn.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours = layer(xs)
    theirs = _torch_merge(name, layer, ts)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    cotangent = np.random.default_rng(9).normal(size=ours.shape)
    (ours * gn.tensor(cotangent, dtype="float64")).sum().backward()
    (theirs * torch.tensor(cotangent)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_merge_shortcuts_build_the_layers():
    a, b = (x.astype("float32") for x in _arrays([(2, 3), (2, 3)]))
    np.testing.assert_allclose(layers.add([a, b]).data, a + b, rtol=1e-6)
    np.testing.assert_allclose(
        layers.concatenate([a, b]).data, np.concatenate([a, b], 1), rtol=1e-6
    )
    np.testing.assert_allclose(layers.subtract([a, b]).data, a - b, rtol=1e-6)
    np.testing.assert_allclose(layers.multiply([a, b]).data, a * b, rtol=1e-6)
    np.testing.assert_allclose(layers.average([a, b]).data, (a + b) / 2, rtol=1e-6)
    np.testing.assert_allclose(layers.maximum([a, b]).data, np.maximum(a, b), rtol=1e-6)
    np.testing.assert_allclose(layers.minimum([a, b]).data, np.minimum(a, b), rtol=1e-6)
    np.testing.assert_allclose(
        layers.dot([a, b], axes=1).data, (a * b).sum(1, keepdims=True), rtol=1e-6
    )


def test_merge_errors_name_the_layer():
    a, b = _arrays([(2, 3), (2, 4)])
    with pytest.raises(ShapeError, match="add: Add needs inputs of one shape"):
        layers.Add()([a, b])
    with pytest.raises(InvalidArgumentError, match="exactly 2 inputs, received 3"):
        layers.Subtract()([a, a, a])
    with pytest.raises(InvalidArgumentError, match="takes a list of inputs"):
        layers.Concatenate()(a)
    with pytest.raises(ShapeError, match="cannot combine inputs of shapes"):
        layers.Dot(axes=1)([a, b])
    with pytest.raises(InvalidArgumentError, match="axis must be an integer"):
        layers.Concatenate(axis="x")
    with pytest.raises(InvalidArgumentError, match="axes must be an integer or a pair"):
        layers.Dot(axes=(1, 2, 3))


def test_merge_symbolic_shapes():
    a = gn.keras.Input(shape=(None, 4))
    b = gn.keras.Input(shape=(None, 4))
    assert layers.Concatenate(axis=1)([a, b]).shape == (None, None, 4)
    assert layers.Add()([a, b]).shape == (None, None, 4)
    c = gn.keras.Input(shape=(3, 4))
    d = gn.keras.Input(shape=(5, 4))
    assert layers.Dot(axes=2)([c, d]).shape == (None, 3, 5)
    assert layers.Dot(axes=1)([gn.keras.Input(shape=(4,)), gn.keras.Input(shape=(4,))]).shape == (
        None,
        1,
    )
    with pytest.raises(InvalidArgumentError, match="cannot be called on a symbolic input"):
        layers.Add()([gn.keras.Input(shape=(3,)), gn.keras.Input(shape=(4,))])
