"""categorical_crossentropy takes probabilities as targets (issue 14, item 8, first part).

Before: targets such as [-1, 2] were accepted and gave a negative loss (−1.17 in the issue).
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import InvalidArgumentError
from glassnet.nn import Dense, losses

A = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]])


@pytest.mark.parametrize(
    "y, seen",
    [
        ([[0, 2, 0], [1, 0, 0]], "values from 0 to 2"),
        ([[0, 1, 0], [-1, 0, 0]], "values from -1 to 1"),
        ([[0.0, 1.5, -0.5], [1.0, 0.0, 0.0]], "values from -0.5 to 1.5"),
        ([[0.0, np.nan, 0.0], [1.0, 0.0, 0.0]], "values from 0.0 to 1.0 and NaN or inf"),
        ([[0.0, np.inf, 0.0], [1.0, 0.0, 0.0]], "and NaN or inf"),
    ],
)
def test_targets_outside_zero_one_are_refused(y: list[list[float]], seen: str) -> None:
    loss = losses.get("categorical_crossentropy")
    with pytest.raises(InvalidArgumentError, match=r"targets must be probabilities in \[0, 1\]"):
        loss.check(np.asarray(y), A)
    with pytest.raises(InvalidArgumentError) as info:
        loss(np.asarray(y), gn.tensor(A, dtype="float64"))
    assert seen in str(info.value) or "NaN or inf" in str(info.value)


@pytest.mark.parametrize(
    "y",
    [
        np.array([[0, 1, 0], [1, 0, 0]]),
        np.array([[False, True, False], [True, False, False]]),
        np.array([[0.05, 0.9, 0.05], [0.9, 0.05, 0.05]], np.float32),  # label smoothing
        np.zeros((2, 3)),
        np.ones((2, 3)),
    ],
)
def test_probabilities_are_accepted(y: np.ndarray) -> None:
    loss = losses.get("categorical_crossentropy")
    loss.check(y, A)
    value = float(loss(y, gn.tensor(A, dtype="float64")).data)
    assert value >= 0


def test_fit_and_evaluate_refuse_them_before_any_step() -> None:
    gn.seed(0)
    model = gn.Sequential([Dense(3, input_dim=2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = np.ones((4, 2), np.float32)
    y = np.array([[0, -1, 2]] * 4, np.float32)
    before = model.get_weights()
    with pytest.raises(InvalidArgumentError, match=r"\[0, 1\]"):
        model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(InvalidArgumentError, match=r"\[0, 1\]"):
        model.evaluate(x, y)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
