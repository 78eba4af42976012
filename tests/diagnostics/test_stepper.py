"""The Stepper (issue 17): one mini-batch at a time, each step with its loss, its trace, the
update it made and the doctor's findings; N steps equal N steps of fit."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import Stepper, report
from glassnet.errors import InvalidArgumentError
from glassnet.layers import Dense
from glassnet.training import Sequential


def _data(n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    return x, (x[:, 0] - x[:, 1] > 0).astype(np.int64)


def _model(optimizer: object) -> Sequential:
    gn.seed(0)
    model = Sequential([Dense(5, activation="tanh", input_dim=2), Dense(2, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_n_steps_equal_n_steps_of_fit(optimizer: str) -> None:
    x, y = _data()
    make = {"sgd": lambda: gn.optimizers.SGD(learning_rate=0.3), "adam": lambda: "adam"}[optimizer]
    stepped, fitted = _model(make()), _model(make())
    stepper = Stepper(stepped, x, y, batch_size=16, trace=False)
    records = stepper.run(2 * stepper.steps_per_epoch)  # 7 batches per epoch, the last of 4
    history = fitted.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_allclose(stepper.losses, history.telemetry.step_loss, rtol=1e-5)
    for p, q in zip(stepped.parameters(), fitted.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-6)
    assert [r.epoch for r in records] == [0] * 7 + [1] * 7
    assert len(records[6].batch) == 4 and records[7].batch[0] == 0
    np.testing.assert_allclose(stepper.history.history["loss"], history.history["loss"], rtol=1e-5)


def test_each_step_traces_its_batch_and_the_trace_update_is_the_real_one() -> None:
    x, y = _data()
    model = _model(gn.optimizers.SGD(learning_rate=0.3))
    stepper = Stepper(model, x, y, batch_size=10)
    for record in stepper.run(3):
        trace = record.trace
        assert trace is not None and trace.ok and trace.batch_size == 10
        np.testing.assert_array_equal(trace.x, x[record.batch])
        assert trace.cost == pytest.approx(record.loss, rel=1e-5)  # C of the batch, before
        for lt, name in zip(trace.layers, ("dense", "dense_1")):
            shown = lt.W_updated - lt.W  # −α ∂C/∂W from BP4
            np.testing.assert_allclose(record.update[name]["W"], shown, rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(record.update[name]["b"], lt.b_updated - lt.b, atol=1e-6)
    # With Adam the trace shows the gradients but no "W − α ∂C/∂W": that is not Adam's step.
    adam = Stepper(_model("adam"), x, y, batch_size=10).step()
    assert adam.trace.learning_rate is None and adam.update["dense"]["W"].any()


def test_a_divergence_is_seen_at_the_step_it_happens(tmp_path) -> None:
    x, y = _data()
    model = _model(gn.optimizers.SGD(learning_rate=80.0))
    stepper = Stepper(model, x, y, batch_size=10, trace=False)
    records = stepper.run(20)
    flagged = [r for r in records if any(f.rule == "lr_too_high" for f in r.findings)]
    assert flagged and flagged[0].step < 20
    pytest.importorskip("matplotlib")
    page = report(stepper.history, model, tmp_path / "steps.html").read_text()
    assert "Loss at every mini-batch step" in page


def test_bad_arguments_are_one_sentence() -> None:
    x, y = _data()
    with pytest.raises(InvalidArgumentError, match="compiled"):
        Stepper(Sequential([Dense(2, input_dim=2)]), x, y)
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        Stepper(_model("sgd"), x, y, batch_size=0)
    with pytest.raises(InvalidArgumentError, match="steps"):
        Stepper(_model("sgd"), x, y).run(-1)
