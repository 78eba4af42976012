"""Keras's other losses (hinge, squared hinge, Huber, log-cosh, MSLE, MAPE, Poisson, KL):
each one's three faces agree (the tensor, the per-sample costs, the closed-form gradient),
the tensor face passes gradcheck and matches PyTorch, and fit's fast step equals the graph."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses as L

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def _data(name: str, shape: tuple[int, ...] = (6, 3)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    if name in ("hinge", "squared_hinge"):
        return rng.integers(0, 2, size=shape).astype(float), rng.normal(size=shape)
    if name in ("msle", "poisson"):
        return rng.uniform(0.1, 3, size=shape), rng.uniform(0.2, 3, size=shape)
    if name == "kl_divergence":
        e = np.exp(rng.normal(size=shape))
        f = np.exp(rng.normal(size=shape))
        return e / e.sum(-1, keepdims=True), f / f.sum(-1, keepdims=True)
    if name == "mape":
        y = rng.uniform(0.5, 2, size=shape) * rng.choice([-1, 1], size=shape)
        return y, y + rng.uniform(0.1, 0.5, size=shape) * rng.choice([-1, 1], size=shape)
    y = rng.normal(size=shape)
    return y, y + rng.normal(scale=1.5, size=shape)  # huber, log_cosh: both sides of δ


def _torch_reference(name: str, y: Any, a: Any) -> Any:
    nf = torch.nn.functional
    if name == "hinge":
        t = torch.where(y == 0, -1.0, y)
        return torch.clamp(1 - t * a, min=0).mean()
    if name == "squared_hinge":
        t = torch.where(y == 0, -1.0, y)
        return (torch.clamp(1 - t * a, min=0) ** 2).mean()
    if name == "huber":
        return nf.huber_loss(a, y, delta=1.0)
    if name == "log_cosh":
        return torch.log(torch.cosh(a - y)).mean()
    if name == "msle":
        return ((torch.log1p(a) - torch.log1p(y)) ** 2).mean()
    if name == "mape":
        return (100 * (a - y).abs() / y.abs()).mean()
    if name == "poisson":
        return nf.poisson_nll_loss(a, y, log_input=False, eps=1e-7)
    if name == "kl_divergence":
        return nf.kl_div(torch.log(a), y, reduction="batchmean")
    raise ValueError(name)


NAMES = ["hinge", "squared_hinge", "huber", "log_cosh", "msle", "mape", "poisson", "kl_divergence"]


@pytest.mark.parametrize("name", NAMES)
def test_three_faces_agree(name: str) -> None:
    loss = L.get(name)
    y, a = _data(name)
    t = gn.tensor(a, dtype="float64", requires_grad=True)
    value = loss(y, t)
    value.backward()
    assert float(value.data) == pytest.approx(loss.per_sample(y, a).mean(), rel=1e-12)
    np.testing.assert_allclose(t.grad, loss.gradient(y, a) / len(a), rtol=1e-10, atol=1e-14)
    c, grad, _ = loss.output_error(y, a, logits=False)
    assert c == pytest.approx(float(value.data), rel=1e-12)
    np.testing.assert_allclose(grad, t.grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck(name: str) -> None:
    loss = L.get(name)
    y, a = _data(name)
    report = gn.gradcheck(lambda p: loss(y, p), [a])
    assert report.ok, str(report)


@pytest.mark.parametrize("name", NAMES)
def test_matches_torch(name: str) -> None:
    pytest.importorskip("torch")
    loss = L.get(name)
    y, a = _data(name)
    t = gn.tensor(a, dtype="float64", requires_grad=True)
    ours = loss(y, t)
    ours.backward()
    ta = torch.tensor(a, requires_grad=True)
    ref = _torch_reference(name, torch.tensor(y), ta)
    ref.backward()
    assert float(ours.data) == pytest.approx(ref.item(), rel=1e-6)
    np.testing.assert_allclose(t.grad, ta.grad.numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_fast_step_equals_graph(name: str) -> None:
    y, _ = _data(name, (32, 3))
    x = np.random.default_rng(1).normal(size=(32, 4))
    activation = "softmax" if name == "kl_divergence" else None
    if name in ("msle", "poisson"):
        activation = "softplus"
    runs = []
    for fused in ("auto", False):
        gn.seed(2)
        model = gn.Sequential([gn.layers.Dense(3, activation=activation, input_dim=4,
                                               dtype="float64")])  # fmt: skip
        model.compile("sgd", name, fused=fused)
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
        runs.append((model.fit_path()[0], history.history["loss"], model.get_weights()))
    assert [r[0] for r in runs] == ["fast", "graph"]
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-12)
    for p, q in zip(runs[0][2], runs[1][2]):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-14)


def test_hinge_reads_labels_0_1_and_minus_1_1_alike() -> None:
    a = np.array([[0.3], [-2.0], [0.9]])
    zero_one = L.Hinge()(np.array([1.0, 0.0, 1.0]), gn.tensor(a, dtype="float64"))  # (N,)
    signed = L.Hinge()(np.array([[1.0], [-1.0], [1.0]]), gn.tensor(a, dtype="float64"))
    assert float(zero_one.data) == float(signed.data) == pytest.approx((0.7 + 0 + 0.1) / 3)


def test_huber_delta_is_checked_and_saved() -> None:
    assert L.get({"name": "huber", "delta": 2.0}).delta == 2.0
    with pytest.raises(gn.errors.InvalidArgumentError, match="delta"):
        L.Huber(delta=0)
