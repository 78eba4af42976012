"""dtypes: every op keeps float32 and float64 (values and gradients), with Python scalars and
float64 NumPy constants mixed in; no silent upcast of a float32 model, no silent loss of
precision in a float64 one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.functional as F

C64 = np.array([0.1, -0.2, 0.3])  # float64 NumPy constants
M64 = np.linspace(-1, 1, 6).reshape(3, 2)
TARGETS = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])


def _dropout(x: Any) -> Any:
    gn.seed(0)
    return F.dropout(x, 0.5)


OPS: list[tuple[str, Callable[[Any], Any]]] = [
    ("add-const", lambda x: x + C64),
    ("radd-const", lambda x: C64 + x),
    ("add-scalar", lambda x: x + 1),
    ("add-np-scalar", lambda x: x + np.float64(2.5)),
    ("sub", lambda x: x - C64 - 0.5),
    ("rsub", lambda x: 1.0 - x),
    ("mul", lambda x: x * C64 * np.float64(3.0)),
    ("rmul", lambda x: C64 * x),
    ("div", lambda x: x / (C64 + 2.0)),
    ("rdiv", lambda x: 1.0 / (x + 3.0)),
    ("neg", lambda x: -x),
    ("pow", lambda x: x**2),
    ("pow-np-exponent", lambda x: F.abs(x) ** np.float64(1.5)),
    ("rpow", lambda x: 2.0**x),
    ("matmul", lambda x: x @ M64),
    ("rmatmul", lambda x: M64.T @ x.T),
    ("linear-const-W", lambda x: F.linear(x, M64.T, np.array([0.5, -0.5]))),
    ("linear-const-x", lambda x: F.linear(np.ones((4, 2)), x[:, :2])),
    ("linear-tensor-W", lambda x: F.linear(x, x[:1] * 2.0, x[0, :1])),
    ("exp", F.exp),
    ("log", lambda x: F.log(F.abs(x) + 1.0)),
    ("sqrt", lambda x: F.sqrt(F.abs(x))),
    ("abs", F.abs),
    ("clip", lambda x: F.clip(x, np.float64(-0.5), np.float64(0.5))),
    ("maximum", lambda x: F.maximum(x, np.float64(0.1))),
    ("minimum", lambda x: F.minimum(C64, x)),
    ("where", lambda x: F.where(x > 0, x, np.float64(0.0))),
    ("where-const-branch", lambda x: F.where(x > 0, C64, x)),
    ("tanh", F.tanh),
    ("sigmoid", F.sigmoid),
    ("relu", F.relu),
    ("leaky_relu", lambda x: F.leaky_relu(x, np.float64(0.1))),
    ("elu", lambda x: F.elu(x, np.float64(0.5))),
    ("gelu", F.gelu),
    ("softplus", F.softplus),
    ("softmax", F.softmax),
    ("log_softmax", lambda x: F.log_softmax(x, axis=0)),
    ("logsumexp", lambda x: F.logsumexp(x, axis=1)),
    ("sum", lambda x: F.sum(x, axis=0)),
    ("mean", F.mean),
    ("max", lambda x: F.max(x, axis=1)),
    ("min", F.min),
    ("var", lambda x: F.var(x, axis=0, ddof=1)),
    ("reshape", lambda x: F.reshape(x, (3, 2))),
    ("flatten", lambda x: F.flatten(x, 0)),
    ("transpose", F.transpose),
    ("permute", lambda x: F.permute(x, 1, 0)),
    ("broadcast_to", lambda x: F.broadcast_to(x, (4, 2, 3))),
    ("squeeze", lambda x: F.squeeze(x[None])),
    ("unsqueeze", lambda x: F.unsqueeze(x, 1)),
    ("concat-const", lambda x: F.concat([x, np.ones((2, 3))])),
    ("stack-const", lambda x: F.stack([np.zeros((2, 3)), x], axis=1)),
    ("getitem", lambda x: x[[1, 1, 0], 1:]),
    ("dropout", _dropout),
    ("cast", lambda x: F.cast(x, x.dtype)),
    ("sparse_softmax_cross_entropy", lambda x: F.sparse_softmax_cross_entropy(x, [2, 0])),
    ("softmax_cross_entropy", lambda x: F.softmax_cross_entropy(x, TARGETS)),
    (
        "sigmoid_binary_cross_entropy",
        lambda x: F.sigmoid_binary_cross_entropy(x, TARGETS, reduction="none"),
    ),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, fn", OPS, ids=[o[0] for o in OPS])
def test_op_keeps_the_float_dtype(name: str, fn: Callable[[Any], Any], dtype: str) -> None:
    x = gn.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=dtype, requires_grad=True)
    out = fn(x)
    assert out.dtype == np.dtype(dtype), f"{name}: {dtype} in, {out.dtype} out"
    out.backward(np.ones(out.shape))
    assert x.grad is not None and x.grad.dtype == np.dtype(dtype)


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x * 0.1,
        lambda x: (x - 1.0) + np.array([0.1]),
        lambda x: np.array([0.1]) * x,
        lambda x: F.where(x > 5, x, np.array([0.1])),
        lambda x: F.maximum(x - 1.0, 0.1),
        lambda x: F.concat([x * 0, np.array([0.1])])[1:],
        lambda x: F.linear(x[None], np.array([[0.1]]))[0],
        lambda x: F.cast(np.array([0.1]), "float64"),
    ],
)
def test_float64_constants_keep_full_precision(make: Callable[[Any], Any]) -> None:
    """0.1 must stay the float64 0.1, not the float32 0.10000000149 widened back."""
    x = gn.tensor([1.0], dtype="float64")
    out = make(x)
    assert out.dtype == np.float64
    assert out.numpy()[0] == 0.1


def test_fused_losses_use_float64_targets_in_full() -> None:
    z = gn.tensor([[0.0, 0.0]], dtype="float64")
    y = np.array([[0.1, 0.9]])
    value = F.sigmoid_binary_cross_entropy(z, y).item()
    assert value == pytest.approx(np.log(2.0), rel=1e-15)
    ce = F.softmax_cross_entropy(gn.tensor([[0.0, 1.0]], dtype="float64"), y).item()
    expected = -(0.1 * (0.0 - np.logaddexp(0.0, 1.0)) + 0.9 * (1.0 - np.logaddexp(0.0, 1.0)))
    assert ce == pytest.approx(expected, rel=1e-14)


def test_integer_tensors_for_labels() -> None:
    y = gn.tensor([0, 2, 1])
    assert y.dtype == np.int64 and not y.requires_grad
    assert (y * 2).dtype == np.int64
    assert (y + 1).dtype == np.int64
    assert F.sum(y).dtype == np.int64
    assert F.mean(y).dtype == np.float32  # averages are floats (the default float)
    assert (y / 2).dtype == np.float32
    assert (y * 0.5).dtype == np.float32
    assert (y + gn.tensor([1.0, 2.0, 3.0], dtype="float64")).dtype == np.float64
    assert F.one_hot(y, 3).dtype == np.float32
    assert F.one_hot(y, 3, dtype="float64").dtype == np.float64
    assert y[np.array([0, 0])].dtype == np.int64
    x = gn.tensor(np.zeros((3, 3)), requires_grad=True)
    assert x[y, y].requires_grad  # integer tensors index float tensors


def test_mixing_float32_and_float64_tensors_promotes_explicitly() -> None:
    """Two tensors of different float dtypes give float64 (as PyTorch); each grad keeps its own
    tensor's dtype."""
    a = gn.tensor([1.0, 2.0], requires_grad=True)
    b = gn.tensor([3.0, 4.0], dtype="float64", requires_grad=True)
    out = a * b
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_float32_chain_never_upcasts() -> None:
    """A small float32 model step with every kind of constant stays float32 end to end."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3))  # float64 data, as NumPy makes it
    W = gn.tensor(rng.normal(size=(2, 3)), requires_grad=True)
    b = gn.tensor(np.zeros(2), requires_grad=True)
    z = F.linear(x, W, b)
    h = F.leaky_relu(z, np.float64(0.01)) * np.float64(1.5) + rng.normal(size=2)
    loss = F.sparse_softmax_cross_entropy(h, np.array([0, 1, 1, 0])) + 1e-3 * (W**2).sum()
    assert z.dtype == h.dtype == loss.dtype == np.float32
    loss.backward()
    assert W.grad.dtype == b.grad.dtype == np.float32
