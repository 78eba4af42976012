"""keras.ops: every differentiable op gradchecked, compared with PyTorch (values and
gradients), the non-differentiable ones with NumPy, and the ops training inside a layer."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.keras as keras
from glassnet.keras import ops

try:  # the oracle; the lambdas below read it only when test_matches_torch runs
    import torch
except ImportError:  # pragma: no cover
    torch = None

Spec = tuple[tuple[int, ...], str]


def draw(rng: np.random.Generator, shape: tuple[int, ...], kind: str) -> np.ndarray:
    if kind == "any":
        return rng.normal(size=shape)
    if kind == "pos":
        return rng.uniform(0.5, 2.0, size=shape)
    if kind == "away0":
        return rng.uniform(0.2, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    if kind == "distinct":
        n = int(np.prod(shape, dtype=np.int64))
        return (rng.permutation(n) * 0.1 - 0.05 * n + rng.uniform(-0.02, 0.02, n)).reshape(shape)
    if kind == "prob":
        e = np.exp(rng.normal(size=shape))
        return e / e.sum(axis=-1, keepdims=True)
    if kind == "unit":
        return rng.uniform(0.05, 0.95, size=shape)
    raise ValueError(kind)


ONE_HOT = np.eye(4)[[0, 2, 3]]
# (name, our function of tensors, torch's of tensors (None: gradcheck only), input specs)
DIFFERENTIABLE: list[tuple[str, Callable[..., Any], Any, list[Spec]]] = [
    ("add", ops.add, "add", [((2, 3), "any"), ((3,), "any")]),
    ("subtract", ops.subtract, "sub", [((2, 3), "any"), ((2, 1), "any")]),
    ("multiply", ops.multiply, "mul", [((2, 3), "any"), ((2, 3), "any")]),
    ("divide", ops.divide, "div", [((2, 3), "any"), ((3,), "away0")]),
    ("true_divide", ops.true_divide, "div", [((2, 3), "any"), ((3,), "away0")]),
    ("negative", ops.negative, "neg", [((2, 3), "any")]),
    ("power-scalar", lambda a: ops.power(a, 3), lambda a: a**3, [((2, 3), "any")]),
    ("power-tensor", ops.power, "pow", [((2, 3), "pos"), ((2, 3), "any")]),
    ("matmul", ops.matmul, "matmul", [((2, 3), "any"), ((3, 4), "any")]),
    ("dot", ops.dot, "matmul", [((2, 3), "any"), ((3, 4), "any")]),
    ("dot-vectors", ops.dot, "dot", [((3,), "any"), ((3,), "any")]),
    ("square", ops.square, "square", [((2, 3), "any")]),
    ("sqrt", ops.sqrt, "sqrt", [((2, 3), "pos")]),
    ("exp", ops.exp, "exp", [((2, 3), "any")]),
    ("log", ops.log, "log", [((2, 3), "pos")]),
    ("log1p", ops.log1p, "log1p", [((2, 3), "pos")]),
    ("abs", ops.abs, "abs", [((2, 3), "away0")]),
    ("absolute", ops.absolute, "abs", [((2, 3), "away0")]),
    ("sin", ops.sin, "sin", [((2, 3), "any")]),
    ("cos", ops.cos, "cos", [((2, 3), "any")]),
    ("tanh", ops.tanh, "tanh", [((2, 3), "any")]),
    ("clip", lambda a: ops.clip(a, -0.5, 0.5), lambda a: a.clamp(-0.5, 0.5), [((2, 3), "away0")]),
    ("maximum", ops.maximum, "maximum", [((2, 3), "distinct"), ((3,), "distinct")]),
    ("minimum", ops.minimum, "minimum", [((2, 3), "distinct"), ((3,), "distinct")]),
    (
        "where",
        lambda a, b: ops.where(np.array([True, False, True]), a, b),
        lambda a, b: torch.where(torch.tensor([1, 0, 1]).bool(), a, b),
        [((2, 3), "any"), ((2, 3), "any")],
    ),
    ("sum", lambda a: ops.sum(a, axis=1), lambda a: a.sum(1), [((2, 3), "any")]),
    (
        "mean",
        lambda a: ops.mean(a, axis=0, keepdims=True),
        lambda a: a.mean(0, keepdim=True),
        [((2, 3), "any")],
    ),
    ("max", lambda a: ops.max(a, axis=-1), lambda a: a.amax(-1), [((2, 3), "distinct")]),
    ("min", lambda a: ops.min(a), lambda a: a.amin(), [((2, 3), "distinct")]),
    ("prod", lambda a: ops.prod(a, axis=1), lambda a: a.prod(1), [((2, 3), "away0")]),
    ("var", lambda a: ops.var(a, axis=1), lambda a: a.var(1, unbiased=False), [((2, 3), "any")]),
    ("std", lambda a: ops.std(a, axis=1), lambda a: a.std(1, unbiased=False), [((2, 3), "any")]),
    ("cumsum", lambda a: ops.cumsum(a, axis=1), lambda a: a.cumsum(1), [((2, 3), "any")]),
    ("cumsum-flat", ops.cumsum, lambda a: a.reshape(-1).cumsum(0), [((2, 3), "any")]),
    ("logsumexp", lambda a: ops.logsumexp(a, axis=1), lambda a: a.logsumexp(1), [((2, 3), "any")]),
    ("reshape", lambda a: ops.reshape(a, (3, -1)), lambda a: a.reshape(3, -1), [((2, 3), "any")]),
    ("transpose", ops.transpose, lambda a: a.permute(2, 1, 0), [((2, 3, 4), "any")]),
    (
        "transpose-axes",
        lambda a: ops.transpose(a, (1, 0, 2)),
        lambda a: a.permute(1, 0, 2),
        [((2, 3, 4), "any")],
    ),
    (
        "concatenate",
        lambda a, b: ops.concatenate([a, b], axis=1),
        lambda a, b: torch.cat([a, b], 1),
        [((2, 3), "any"), ((2, 2), "any")],
    ),
    (
        "stack",
        lambda a, b: ops.stack([a, b], axis=1),
        lambda a, b: torch.stack([a, b], 1),
        [((2, 3), "any"), ((2, 3), "any")],
    ),
    ("expand_dims", lambda a: ops.expand_dims(a, 1), lambda a: a.unsqueeze(1), [((2, 3), "any")]),
    ("squeeze", lambda a: ops.squeeze(a, 1), lambda a: a.squeeze(1), [((2, 1, 3), "any")]),
    (
        "broadcast_to",
        lambda a: ops.broadcast_to(a, (4, 3)),
        lambda a: a.expand(4, 3),
        [((3,), "any")],
    ),
    (
        "take",
        lambda a: ops.take(a, np.array([2, 0, 2]), axis=0),
        lambda a: a[torch.tensor([2, 0, 2])],
        [((3, 4), "any")],
    ),
    ("relu", ops.relu, "relu", [((2, 3), "away0")]),
    ("relu6", ops.relu6, lambda a: torch.nn.functional.relu6(a), [((2, 3), "away0")]),
    ("sigmoid", ops.sigmoid, "sigmoid", [((2, 3), "any")]),
    ("softmax", ops.softmax, lambda a: a.softmax(-1), [((2, 3), "any")]),
    ("log_softmax", ops.log_softmax, lambda a: a.log_softmax(-1), [((2, 3), "any")]),
    (
        "softplus",
        ops.softplus,
        lambda a: torch.nn.functional.softplus(a),
        [((2, 3), "any")],
    ),
    ("swish", ops.swish, lambda a: torch.nn.functional.silu(a), [((2, 3), "any")]),
    ("silu", ops.silu, lambda a: torch.nn.functional.silu(a), [((2, 3), "any")]),
    ("elu", ops.elu, lambda a: torch.nn.functional.elu(a), [((2, 3), "away0")]),
    (
        "gelu",
        ops.gelu,
        lambda a: torch.nn.functional.gelu(a, approximate="tanh"),
        [((2, 3), "any")],
    ),
    (
        "leaky_relu",
        ops.leaky_relu,
        lambda a: torch.nn.functional.leaky_relu(a, 0.2),
        [((2, 3), "away0")],
    ),
    (
        "binary_crossentropy",
        lambda p: ops.binary_crossentropy(np.array([[1.0, 0.0, 1.0]]), p),
        lambda p: torch.nn.functional.binary_cross_entropy(
            p, torch.tensor([[1.0, 0.0, 1.0]], dtype=p.dtype).expand(2, 3), reduction="none"
        ),
        [((2, 3), "unit")],
    ),
    (
        "binary_crossentropy-logits",
        lambda z: ops.binary_crossentropy(np.array([[1.0, 0.0, 1.0]]), z, from_logits=True),
        lambda z: torch.nn.functional.binary_cross_entropy_with_logits(
            z,
            torch.tensor([[1.0, 0.0, 1.0]], dtype=z.dtype).expand(2, 3),
            reduction="none",
        ),
        [((2, 3), "any")],
    ),
    (
        "categorical_crossentropy",
        lambda p: ops.categorical_crossentropy(ONE_HOT, p),
        lambda p: -(torch.tensor(ONE_HOT) * (p / p.sum(-1, keepdim=True)).log()).sum(-1),
        [((3, 4), "prob")],
    ),
    (
        "categorical_crossentropy-logits",
        lambda z: ops.categorical_crossentropy(ONE_HOT, z, from_logits=True),
        lambda z: torch.nn.functional.cross_entropy(z, torch.tensor([0, 2, 3]), reduction="none"),
        [((3, 4), "any")],
    ),
    (
        "sparse_categorical_crossentropy-logits",
        lambda z: ops.sparse_categorical_crossentropy(np.array([0, 2, 3]), z, from_logits=True),
        lambda z: torch.nn.functional.cross_entropy(z, torch.tensor([0, 2, 3]), reduction="none"),
        [((3, 4), "any")],
    ),
    ("moments-mean", lambda a: ops.moments(a, axes=[0])[0], lambda a: a.mean(0), [((3, 4), "any")]),
    (
        "moments-var",
        lambda a: ops.moments(a, axes=[0])[1],
        lambda a: a.var(0, unbiased=False),
        [((3, 4), "any")],
    ),
    ("cast", lambda a: ops.cast(a, "float64") * 2.0, lambda a: a * 2.0, [((2, 3), "any")]),
]
IDS = [c[0] for c in DIFFERENTIABLE]


@pytest.mark.parametrize("name, ours, theirs, specs", DIFFERENTIABLE, ids=IDS)
def test_gradcheck(name: str, ours: Any, theirs: Any, specs: list[Spec]) -> None:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [draw(rng, shape, kind) for shape, kind in specs]
    report = gn.gradcheck(ours, arrays, atol=1e-6, rtol=1e-5)
    assert report.ok, str(report)


@pytest.mark.parametrize("name, ours, theirs, specs", DIFFERENTIABLE, ids=IDS)
def test_matches_torch(name: str, ours: Any, theirs: Any, specs: list[Spec]) -> None:
    pytest.importorskip("torch")
    rng = np.random.default_rng(zlib.crc32(name.encode()) + 1)
    arrays = [draw(rng, shape, kind) for shape, kind in specs]
    fn = getattr(torch, theirs) if isinstance(theirs, str) else theirs
    xs = [gn.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, ref = ours(*xs), fn(*ts)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = rng.normal(size=out.shape)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for x, t in zip(xs, ts):
        expected = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
        got = np.zeros(x.shape) if x.grad is None else x.grad
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_every_listed_op_is_covered() -> None:
    """Each name in keras.ops.__all__ is either gradchecked above or checked as constant."""
    covered = {name.split("-")[0] for name in IDS} | set(NOT_DIFFERENTIABLE) | INSPECTION
    assert set(ops.__all__) - covered == set()


NOT_DIFFERENTIABLE: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "sign": (ops.sign, np.sign),
    "floor": (ops.floor, np.floor),
    "ceil": (ops.ceil, np.ceil),
    "round": (ops.round, np.round),
    "argmax": (lambda a: ops.argmax(a, axis=1), lambda a: np.argmax(a, axis=1)),
    "argmin": (lambda a: ops.argmin(a, axis=0), lambda a: np.argmin(a, axis=0)),
    "all": (lambda a: ops.all(a > 0, axis=1), lambda a: np.all(a > 0, axis=1)),
    "any": (lambda a: ops.any(a > 1), lambda a: np.any(a > 1)),
    "count_nonzero": (lambda a: ops.count_nonzero(a > 0), lambda a: np.count_nonzero(a > 0)),
    "equal": (lambda a: ops.equal(a, a[0]), lambda a: np.equal(a, a[0])),
    "not_equal": (lambda a: ops.not_equal(a, 0.1), lambda a: np.not_equal(a, 0.1)),
    "greater": (lambda a: ops.greater(a, 0), lambda a: a > 0),
    "greater_equal": (lambda a: ops.greater_equal(a, 0), lambda a: a >= 0),
    "less": (lambda a: ops.less(a, 0), lambda a: a < 0),
    "less_equal": (lambda a: ops.less_equal(a, 0), lambda a: a <= 0),
    "logical_and": (lambda a: ops.logical_and(a > 0, a < 1), lambda a: (a > 0) & (a < 1)),
    "logical_or": (lambda a: ops.logical_or(a > 1, a < -1), lambda a: (a > 1) | (a < -1)),
    "logical_not": (lambda a: ops.logical_not(a > 0), lambda a: ~(a > 0)),
    "zeros_like": (ops.zeros_like, np.zeros_like),
    "ones_like": (ops.ones_like, np.ones_like),
    "full_like": (lambda a: ops.full_like(a, 7.0), lambda a: np.full_like(a, 7.0)),
    "stop_gradient": (ops.stop_gradient, lambda a: a),
    "one_hot": (
        lambda a: ops.one_hot(np.argmax(a, axis=1), 3),
        lambda a: np.eye(3)[np.argmax(a, axis=1)],
    ),
}
INSPECTION = {
    "convert_to_tensor",
    "convert_to_numpy",
    "shape",
    "dtype",
    "is_tensor",
    "zeros",
    "ones",
    "full",
    "eye",
    "identity",
    "arange",
    "linspace",
}


@pytest.mark.parametrize("name", sorted(NOT_DIFFERENTIABLE))
def test_constant_ops_match_numpy(name: str) -> None:
    ours, reference = NOT_DIFFERENTIABLE[name]
    a = np.random.default_rng(zlib.crc32(name.encode())).normal(size=(4, 3))
    out = ours(gn.tensor(a, dtype="float64", requires_grad=True))
    assert not out.requires_grad  # no gradient flows through them, as in Keras
    np.testing.assert_array_equal(ops.convert_to_numpy(out), reference(a))


def test_creation_and_inspection() -> None:
    assert ops.shape(ops.zeros((2, 3))) == (2, 3)
    assert ops.dtype(ops.ones((2,))) == "float32"
    assert ops.dtype(ops.convert_to_tensor([1.5, 2.0])) == "float32"
    assert ops.dtype(ops.convert_to_tensor(np.array([1.5]))) == "float64"
    assert ops.is_tensor(ops.full((2,), 3.0)) and not ops.is_tensor(np.ones(2))
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.eye(3)), np.eye(3))
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.identity(2)), np.eye(2))
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.arange(4)), np.arange(4))
    np.testing.assert_allclose(ops.convert_to_numpy(ops.linspace(0, 1, 5)), np.linspace(0, 1, 5))
    assert ops.convert_to_numpy(ops.full((2,), 3.0)).tolist() == [3.0, 3.0]


def test_where_needs_both_branches() -> None:
    with pytest.raises(gn.errors.InvalidArgumentError, match="x1 and x2"):
        ops.where(np.array([True]))


def test_ops_train_inside_a_custom_layer() -> None:
    """A layer written with keras.ops learns a linear map: y = x·w + b through the graph."""
    gn.seed(0)

    class Linear(keras.layers.Layer):
        def build(self, input_shape: Any) -> None:
            self.w = self.add_weight(shape=(input_shape[-1], 1), initializer="zeros")
            self.b = self.add_weight(shape=(1,), initializer="zeros")

        def call(self, inputs: Any) -> Any:
            return ops.add(ops.matmul(inputs, self.w), self.b)

    rng = np.random.default_rng(1)
    x = rng.normal(size=(256, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32) + 0.25
    model = keras.Sequential([keras.Input(shape=(3,)), Linear()])
    model.compile(keras.optimizers.SGD(learning_rate=0.1), "mse")
    model.fit(x, y, epochs=40, batch_size=64, verbose=0)
    w, b = model.get_weights()
    np.testing.assert_allclose(w[:, 0], [1.0, -2.0, 0.5], atol=1e-3)
    np.testing.assert_allclose(b, [0.25], atol=1e-3)
