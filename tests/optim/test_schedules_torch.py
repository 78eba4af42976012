"""Each schedule against torch.optim.lr_scheduler, and optimisers driven by a schedule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from glassnet.nn import Parameter
from glassnet.optimizers import SGD, Adam
from glassnet.schedules import (
    Constant,
    CosineDecay,
    CyclicalLearningRate,
    ExponentialDecay,
    Schedule,
    StepDecay,
)

torch = pytest.importorskip("torch")
sched = torch.optim.lr_scheduler

STEPS = 30


def torch_rates(make: Callable[[Any], Any], lr: float, n: int = STEPS) -> list[float]:
    """The lr torch's optimiser uses at each of n steps, with the scheduler stepped per batch."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    scheduler = make(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        p.grad = torch.zeros(1)
        opt.step()
        scheduler.step()
    return out


CASES: dict[str, tuple[Schedule, float, Callable[[Any], Any]]] = {
    "constant": (Constant(0.05), 0.05, lambda o: sched.ConstantLR(o, factor=1.0)),
    "step": (
        StepDecay(0.1, step_size=4, gamma=0.5),
        0.1,
        lambda o: sched.StepLR(o, step_size=4, gamma=0.5),
    ),
    "exponential": (
        ExponentialDecay(0.1, decay_steps=1, decay_rate=0.9),
        0.1,
        lambda o: sched.ExponentialLR(o, gamma=0.9),
    ),
    "cosine": (
        CosineDecay(0.1, decay_steps=STEPS - 1),
        0.1,
        lambda o: sched.CosineAnnealingLR(o, T_max=STEPS - 1),
    ),
    "cosine_alpha": (
        CosineDecay(0.2, decay_steps=STEPS, alpha=0.1),
        0.2,
        lambda o: sched.CosineAnnealingLR(o, T_max=STEPS, eta_min=0.02),
    ),
    "cyclical_triangular": (
        CyclicalLearningRate(0.01, 0.1, step_size=4),
        0.01,
        lambda o: sched.CyclicLR(o, 0.01, 0.1, step_size_up=4, cycle_momentum=False),
    ),
    "cyclical_triangular2": (
        CyclicalLearningRate(0.01, 0.1, step_size=3, mode="triangular2"),
        0.01,
        lambda o: sched.CyclicLR(
            o, 0.01, 0.1, step_size_up=3, mode="triangular2", cycle_momentum=False
        ),
    ),
    "cyclical_exp_range": (
        CyclicalLearningRate(0.01, 0.1, step_size=5, mode="exp_range", gamma=0.95),
        0.01,
        lambda o: sched.CyclicLR(
            o, 0.01, 0.1, step_size_up=5, mode="exp_range", gamma=0.95, cycle_momentum=False
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_schedule_matches_torch_scheduler(case: str) -> None:
    ours, lr, make = CASES[case]
    expected = torch_rates(make, lr)
    got = [ours(t) for t in range(STEPS)]
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-15)


def test_torch_cosine_differs_after_t_max_where_keras_holds() -> None:
    # Documented difference: after decay_steps the rate stays at the floor.
    ours = CosineDecay(0.1, decay_steps=10)
    theirs = torch_rates(lambda o: sched.CosineAnnealingLR(o, T_max=10), 0.1, 15)
    assert ours(14) == pytest.approx(0.0, abs=1e-15) and theirs[14] > 0.0


def param(arr: np.ndarray) -> Parameter:
    p = Parameter(arr)
    p.data = np.array(arr, copy=True)
    return p


@pytest.mark.parametrize(
    ("ours_make", "theirs_make"),
    [
        (
            lambda p: SGD(p, learning_rate=CosineDecay(0.1, 20, alpha=0.05), momentum=0.9),
            lambda p: (
                o := torch.optim.SGD(p, lr=0.1, momentum=0.9),
                sched.CosineAnnealingLR(o, T_max=20, eta_min=0.005),
            ),
        ),
        (
            lambda p: Adam(p, learning_rate=CyclicalLearningRate(1e-3, 1e-2, 3, "triangular2")),
            lambda p: (
                o := torch.optim.Adam(p, lr=1e-3, eps=1e-7),
                sched.CyclicLR(
                    o, 1e-3, 1e-2, step_size_up=3, mode="triangular2", cycle_momentum=False
                ),
            ),
        ),
        (
            lambda p: Adam(p, learning_rate=StepDecay(0.01, 5, 0.5), amsgrad=True),
            lambda p: (
                o := torch.optim.Adam(p, lr=0.01, eps=1e-7, amsgrad=True),
                sched.StepLR(o, step_size=5, gamma=0.5),
            ),
        ),
    ],
    ids=["sgd_momentum_cosine", "adam_cyclical", "adam_amsgrad_step"],
)
def test_optimizer_driven_by_a_schedule_matches_torch(
    ours_make: Callable[[Any], Any], theirs_make: Callable[[Any], Any]
) -> None:
    rng = np.random.default_rng(0)
    shapes = [(4, 6), (4,)]
    init = [rng.standard_normal(s) for s in shapes]
    ours = [param(a) for a in init]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    opt = ours_make(ours)
    topt, tsched = theirs_make(theirs)
    for step in range(20):
        used = topt.param_groups[0]["lr"]
        assert opt.current_learning_rate == pytest.approx(used, rel=1e-10)
        for p, q in zip(ours, theirs):
            g = rng.standard_normal(p.shape)
            p.grad = g.copy()
            q.grad = torch.tensor(g)
        opt.step()
        topt.step()
        tsched.step()
        assert opt.last_learning_rate == pytest.approx(used, rel=1e-10)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(
                p.data, q.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"step {step}"
            )
