"""Learning-rate schedules: closed-form values, Smith's formula, configs and errors."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import glassnet.schedules as schedules
from glassnet.errors import InvalidArgumentError, UnknownNameError
from glassnet.schedules import (
    Constant,
    CosineDecay,
    CyclicalLearningRate,
    ExponentialDecay,
    Schedule,
    StepDecay,
)


def values(s: Schedule, n: int) -> list[float]:
    return [s(t) for t in range(n)]


def test_constant() -> None:
    assert values(Constant(0.1), 5) == [0.1] * 5


def test_step_decay_by_hand() -> None:
    assert values(StepDecay(1.0, step_size=3, gamma=0.5), 8) == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_exponential_decay_by_hand() -> None:
    s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert s(0) == 0.1 and s(10) == pytest.approx(0.05) and s(20) == pytest.approx(0.025)
    assert s(5) == pytest.approx(0.1 * math.sqrt(0.5))
    stairs = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert [stairs(t) for t in (0, 9, 10, 19, 20)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_cosine_decay_by_hand() -> None:
    s = CosineDecay(1.0, decay_steps=10, alpha=0.2)
    assert s(0) == 1.0
    assert s(5) == pytest.approx(0.2 + 0.8 * 0.5)
    assert s(10) == pytest.approx(0.2)
    assert s(25) == pytest.approx(0.2)  # held at the floor after decay_steps (Keras)
    assert all(a >= b for a, b in zip(values(s, 12), values(s, 12)[1:]))


def test_cosine_decay_with_linear_warmup_by_hand() -> None:
    s = CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=5)
    assert [s(t) for t in range(6)] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert s(10) == pytest.approx(0.5)  # half-way through the decay
    assert s(15) == pytest.approx(0.0) and s(100) == pytest.approx(0.0)
    s = CosineDecay(0.1, decay_steps=4, alpha=0.5, warmup_target=0.3, warmup_steps=2)
    assert s(1) == pytest.approx(0.2) and s(2) == pytest.approx(0.3)
    assert s(6) == pytest.approx(0.15)  # alpha · warmup_target


def smith(t: int, base: float, high: float, step: int, mode: str, gamma: float) -> float:
    """Smith 2015, section 3.1, as written there (independent of the implementation)."""
    cycle = math.floor(1 + t / (2 * step))
    x = abs(t / step - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": gamma**t}
    return base + (high - base) * max(0.0, 1 - x) * scale[mode]


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
@pytest.mark.parametrize("step_size", [1, 2, 5])
def test_cyclical_matches_smiths_formula(mode: str, step_size: int) -> None:
    s = CyclicalLearningRate(0.001, 0.006, step_size=step_size, mode=mode, gamma=0.99)
    for t in range(100):
        assert s(t) == pytest.approx(
            smith(t, 0.001, 0.006, step_size, mode, 0.99), rel=1e-12, abs=1e-15
        )


def test_cyclical_by_hand() -> None:
    s = CyclicalLearningRate(0.1, 1.0, step_size=2)
    assert values(s, 9) == pytest.approx([0.1, 0.55, 1.0, 0.55, 0.1, 0.55, 1.0, 0.55, 0.1])
    s2 = CyclicalLearningRate(0.1, 1.0, step_size=2, mode="triangular2")
    assert s2(2) == pytest.approx(1.0) and s2(6) == pytest.approx(0.55)
    assert s2(10) == pytest.approx(0.1 + 0.9 / 4)


def test_schedules_return_python_floats() -> None:
    for s in (
        Constant(1),
        StepDecay(1, 2),
        ExponentialDecay(1, 2, 0.5),
        CosineDecay(1, 3),
        CyclicalLearningRate(0.1, 1, 2),
    ):
        assert all(type(s(t)) is float for t in range(6)), s


ALL: list[Schedule] = [
    Constant(0.5),
    StepDecay(0.1, step_size=7, gamma=0.3),
    ExponentialDecay(0.1, decay_steps=100, decay_rate=0.96, staircase=True),
    CosineDecay(0.01, decay_steps=1000, alpha=0.1, warmup_target=0.1, warmup_steps=50),
    CyclicalLearningRate(1e-4, 1e-2, step_size=500, mode="exp_range", gamma=0.999),
]


@pytest.mark.parametrize("s", ALL, ids=lambda s: type(s).__name__)
def test_config_round_trip_through_json(s: Schedule) -> None:
    text = json.dumps(schedules.serialize(s))
    again = schedules.get(json.loads(text))
    assert again == s and again is not s
    assert [again(t) for t in range(0, 2000, 37)] == [s(t) for t in range(0, 2000, 37)]
    assert type(s).from_config(s.get_config()) == s
    assert repr(s).startswith(type(s).__name__ + "(")


def test_get_by_name_instance_and_errors() -> None:
    assert schedules.get("cosine", initial_learning_rate=0.1, decay_steps=10) == CosineDecay(
        0.1, 10
    )
    assert schedules.get(
        "CyclicalLearningRate", base_learning_rate=0.1, max_learning_rate=1.0, step_size=3
    ) == CyclicalLearningRate(0.1, 1.0, 3)
    assert isinstance(
        schedules.get("Step_Decay", initial_learning_rate=1.0, step_size=2), StepDecay
    )
    s = Constant(0.1)
    assert schedules.get(s) is s
    with pytest.raises(
        UnknownNameError,
        match=r"unknown schedule 'polynomial'; known schedules "
        r"are 'constant', 'step_decay', 'exponential_decay', 'cosine_decay', "
        r"'cyclical_learning_rate'",
    ):
        schedules.get("polynomial")
    with pytest.raises(InvalidArgumentError, match="wrong arguments for CosineDecay"):
        schedules.get("cosine", initial_learning_rate=0.1)
    with pytest.raises(InvalidArgumentError, match="expected a Schedule"):
        schedules.get(0.1)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: Constant(-1.0),
            r"Constant: learning_rate must be a finite number ≥ 0, "
            r"received learning_rate=-1.0",
        ),
        (lambda: StepDecay(0.1, step_size=0), "step_size must be an integer ≥ 1"),
        (lambda: StepDecay(0.1, step_size=2.5), "step_size=2.5"),
        (lambda: StepDecay(0.1, 2, gamma=0.0), "gamma must be a finite number > 0"),
        (lambda: ExponentialDecay(0.1, 0, 0.5), "decay_steps"),
        (lambda: ExponentialDecay(0.1, 10, -0.5), "decay_rate"),
        (lambda: ExponentialDecay(0.1, 10, 0.5, staircase="no"), "staircase must be True or"),
        (lambda: CosineDecay(0.1, 0), "decay_steps must be an integer ≥ 1"),
        (lambda: CosineDecay(0.1, 10, alpha=1.5), r"alpha must be a number in \[0, 1\]"),
        (lambda: CosineDecay(0.1, 10, warmup_steps=5), "needs warmup_target"),
        (lambda: CosineDecay(0.1, 10, warmup_target=-1.0, warmup_steps=5), "warmup_target"),
        (lambda: CosineDecay(0.1, 10, warmup_target=1.0, warmup_steps=-5), "warmup_steps"),
        (lambda: CyclicalLearningRate(0.1, 0.01, 5), "max_learning_rate must be ≥"),
        (lambda: CyclicalLearningRate(0.01, 0.1, 5, mode="sine"), "mode must be one of"),
        (lambda: CyclicalLearningRate(0.01, 0.1, 5, gamma=1.5), "gamma"),
        (lambda: CyclicalLearningRate(0.01, 0.1, 0), "step_size"),
        (lambda: Constant(0.1)(-1), "step must be a finite number ≥ 0"),
    ],
)
def test_bad_arguments_fail_with_one_sentence(make: Callable[[], Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match) as info:
        make()
    assert "\n" not in str(info.value)


def test_keras_schedule_config_with_a_name_is_accepted() -> None:
    keras = {
        "class_name": "ExponentialDecay",
        "config": {
            "initial_learning_rate": 0.01,
            "decay_steps": 1000,
            "decay_rate": 0.9,
            "staircase": False,
            "name": "ExponentialDecay",
        },
    }
    assert schedules.get(keras) == ExponentialDecay(0.01, 1000, 0.9)


def test_numpy_arguments_are_accepted_and_stored_as_python_numbers() -> None:
    s = StepDecay(np.float64(0.1), np.int64(3), np.float32(0.5))
    assert type(s.initial_learning_rate) is float and type(s.step_size) is int
    json.dumps(s.get_config())
