"""Every optimiser against torch.optim, step by step, on the same parameters and gradients.

The parameters include (units, in) weight matrices and biases; some input columns get an
exactly zero gradient at every step (blank pixels). Gradients are set directly each step
(p.grad = g), so the comparison is of the update rules alone; a last test drives both through
their own autograd on the same loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import glassnet as gn
from glassnet.nn import Parameter
from glassnet.optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

torch = pytest.importorskip("torch")

SHAPES = [(5, 7), (5,), (3, 5), (3,)]
STEPS = 20

# name → (glassnet factory, torch factory); equal hyper-parameters written out explicitly,
# since the defaults differ (Keras's on our side).
CASES: dict[str, tuple[Callable[[Any], Optimizer], Callable[[Any], Any]]] = {
    "sgd": (
        lambda p: SGD(p, learning_rate=0.1),
        lambda p: torch.optim.SGD(p, lr=0.1),
    ),
    "sgd_momentum": (
        lambda p: SGD(p, learning_rate=0.05, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    ),
    "sgd_nesterov": (
        lambda p: SGD(p, learning_rate=0.05, momentum=0.8, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
    ),
    "sgd_weight_decay": (
        lambda p: SGD(p, learning_rate=0.05, weight_decay=0.1),
        lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.1),
    ),
    "sgd_nesterov_weight_decay": (
        lambda p: SGD(p, learning_rate=0.05, momentum=0.9, nesterov=True, weight_decay=0.05),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05),
    ),
    "adagrad": (
        lambda p: Adagrad(p, learning_rate=0.1),
        lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=1e-7),
    ),
    "adagrad_initial_accumulator": (
        lambda p: Adagrad(p, learning_rate=0.2, initial_accumulator_value=2.5, epsilon=1e-4),
        lambda p: torch.optim.Adagrad(p, lr=0.2, initial_accumulator_value=2.5, eps=1e-4),
    ),
    "adagrad_zero_accumulator": (
        lambda p: Adagrad(p, learning_rate=0.1, initial_accumulator_value=0.0),
        lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-7),
    ),
    "rmsprop": (
        lambda p: RMSprop(p, learning_rate=0.01),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7),
    ),
    "rmsprop_momentum": (
        lambda p: RMSprop(p, learning_rate=0.01, rho=0.95, momentum=0.9),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.95, eps=1e-7, momentum=0.9),
    ),
    "rmsprop_centered": (
        lambda p: RMSprop(p, learning_rate=0.01, centered=True),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7, centered=True),
    ),
    "rmsprop_centered_momentum": (
        lambda p: RMSprop(p, learning_rate=0.01, momentum=0.5, centered=True, epsilon=1e-5),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-5, momentum=0.5, centered=True),
    ),
    "adam": (
        lambda p: Adam(p, learning_rate=0.01),
        lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-7),
    ),
    "adam_betas": (
        lambda p: Adam(p, learning_rate=0.03, beta_1=0.5, beta_2=0.9, epsilon=1e-3),
        lambda p: torch.optim.Adam(p, lr=0.03, betas=(0.5, 0.9), eps=1e-3),
    ),
    "adam_amsgrad": (
        lambda p: Adam(p, learning_rate=0.01, amsgrad=True),
        lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-7, amsgrad=True),
    ),
    "adamw": (
        lambda p: AdamW(p, learning_rate=0.01),
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.004, eps=1e-7),
    ),
    "adamw_strong_decay_amsgrad": (
        lambda p: AdamW(p, learning_rate=0.02, weight_decay=0.5, amsgrad=True),
        lambda p: torch.optim.AdamW(p, lr=0.02, weight_decay=0.5, eps=1e-7, amsgrad=True),
    ),
}

TOLERANCE = {"float64": {"rtol": 1e-10, "atol": 1e-12}, "float32": {"rtol": 2e-5, "atol": 2e-6}}


def param(arr: np.ndarray) -> Parameter:
    p = Parameter(arr)
    p.data = np.array(arr, copy=True)
    return p


def data(seed: int = 0) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = []
    for _ in range(STEPS):
        g = [rng.standard_normal(s) * rng.uniform(0.1, 3.0) for s in SHAPES]
        g[0][:, [1, 4]] = 0.0  # inputs that are always zero: their weights get no gradient
        grads.append(g)
    return init, grads


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_torch_step_by_step(case: str, dtype: str) -> None:
    make_ours, make_theirs = CASES[case]
    init, grads = data()
    ours = [param(a.astype(dtype)) for a in init]
    theirs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in init]
    opt, topt = make_ours(ours), make_theirs(theirs)
    tol = TOLERANCE[dtype]
    for step, g in enumerate(grads, start=1):
        for p, q, gi in zip(ours, theirs, g):
            p.grad = gi.astype(dtype)
            q.grad = torch.tensor(gi.astype(dtype))
        opt.step()
        topt.step()
        for i, (p, q) in enumerate(zip(ours, theirs)):
            assert p.data.dtype == np.dtype(dtype)
            np.testing.assert_allclose(
                p.data, q.detach().numpy(), **tol, err_msg=f"{case}, step {step}, parameter {i}"
            )
    # The optimiser state agrees too (same names as torch's state keys).
    state = opt.state_dict()
    for i, q in enumerate(theirs):
        for name, value in topt.state[q].items():
            if name == "step":
                assert float(value) == opt.iterations
                continue
            np.testing.assert_allclose(
                state[f"state.{i}.{name}"],
                value.numpy(),
                **tol,
                err_msg=f"{case}: state {name} of parameter {i}",
            )


def test_differs_from_torch_when_hyper_parameters_differ() -> None:
    # The comparison above can fail: a different eps is visible after a few steps.
    init, grads = data()
    ours = [param(a) for a in init]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    opt = Adam(ours, learning_rate=0.01, epsilon=1e-3)
    topt = torch.optim.Adam(theirs, lr=0.01, eps=1e-7)
    for g in grads[:3]:
        for p, q, gi in zip(ours, theirs, g):
            p.grad = gi.copy()
            q.grad = torch.tensor(gi)
        opt.step()
        topt.step()
    assert not np.allclose(ours[0].data, theirs[0].detach().numpy(), rtol=1e-10, atol=1e-12)


def test_training_loop_through_both_autograds_agrees() -> None:
    # A Dense layer z = a Wᵀ + b with a sigmoid and the seeds' quadratic cost, 20 Adam steps.
    rng = np.random.default_rng(5)
    a = rng.standard_normal((8, 7))
    y = rng.uniform(size=(8, 5))
    W0, b0 = rng.standard_normal((5, 7)), rng.standard_normal(5)
    W, b = param(W0), param(b0)
    tW = torch.tensor(W0, requires_grad=True)
    tb = torch.tensor(b0, requires_grad=True)
    opt = AdamW([W, b], learning_rate=0.05, weight_decay=0.1)
    topt = torch.optim.AdamW([tW, tb], lr=0.05, weight_decay=0.1, eps=1e-7)
    x, target = gn.tensor(a, dtype="float64"), gn.tensor(y, dtype="float64")
    tx, ty = torch.tensor(a), torch.tensor(y)
    for _ in range(STEPS):
        opt.zero_grad()
        out = (x @ W.T + b).sigmoid()
        loss = 0.5 * ((out - target) * (out - target)).sum() / 8.0
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = 0.5 * ((torch.sigmoid(tx @ tW.T + tb) - ty) ** 2).sum() / 8.0
        tloss.backward()
        topt.step()
        assert float(loss.item()) == pytest.approx(float(tloss.detach()), rel=1e-10)
    np.testing.assert_allclose(W.data, tW.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(b.data, tb.detach().numpy(), rtol=1e-10)
