"""lr_too_high's update-ratio clause: large steps are a problem only when the loss does not fall.

Found writing lesson 002: a linear model on iris trained with SGD(1.0) reached 0.97 accuracy,
its loss falling from 0.51 to 0.08, and the doctor still advised lowering the learning rate
because each step moved the weights by ~25 % of their size.
"""

from __future__ import annotations

import numpy as np

import glassnet as gn
from glassnet.diagnostics import diagnose


def _linear_softmax_run(x: np.ndarray, y: np.ndarray, epochs: int) -> tuple[object, object]:
    gn.seed(0)
    model = gn.Sequential([gn.layers.Dense(3, "softmax", input_dim=x.shape[1])])
    model.compile(
        optimizer=gn.optimizers.SGD(learning_rate=1.0), loss="sparse_categorical_crossentropy"
    )
    history = model.fit(x, y, epochs=epochs, batch_size=10, verbose=0, telemetry=True)
    return history, model


def _largest_update_ratio(history: object) -> float:
    ratios = history.telemetry.layers["dense"]["update_ratio"]  # type: ignore[attr-defined]
    return float(np.max(ratios))


def test_large_steps_that_bring_the_loss_down_are_not_flagged() -> None:
    (x, y), _ = gn.datasets.load("iris")
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    history, model = _linear_softmax_run(x, y, epochs=30)
    losses = history.history["loss"]  # type: ignore[attr-defined]
    assert losses[-1] < 0.3 * losses[0]  # it trains well ...
    assert _largest_update_ratio(history) > 0.1  # ... with steps the old rule called too large
    assert [f.rule for f in diagnose(history, model, rules=["lr_too_high"])] == []


def test_large_steps_that_do_not_bring_the_loss_down_are_flagged() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 4)), rng.integers(0, 3, size=200)  # labels with no signal
    history, model = _linear_softmax_run(x, y, epochs=5)
    losses = history.history["loss"]  # type: ignore[attr-defined]
    assert losses[-1] > 0.9 * losses[0]
    found = diagnose(history, model, rules=["lr_too_high"])
    assert [f.rule for f in found] == ["lr_too_high"]
    assert "||dW||/||W||" in found[0].evidence
