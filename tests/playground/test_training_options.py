"""Loss, learning-rate schedule, dropout and L2: validated, trained with, told in the story,
exported, and driven from the page."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _playground_export import run_exported_code
from glassnet.errors import InvalidArgumentError
from glassnet.layers import Dropout
from glassnet.playground.session import Config, Session, get_weights, parse_message, python_code

TIMEOUT_MS = 30_000


def config_message(**fields: object) -> str:
    return json.dumps({"type": "config", "config": fields})


def test_the_new_fields_are_accepted() -> None:
    fields = dict(loss="mse", lr_schedule="cosine", decay_steps=300, l2=0.001)
    assert parse_message(config_message(**fields))["config"] == Config(**fields)  # type: ignore[arg-type]


def test_each_hidden_layer_has_its_own_dropout_rate() -> None:
    layers = [
        {"units": 8, "activation": "tanh", "dropout": 0.25},
        {"units": 4, "activation": "relu"},  # no rate: no dropout
        {"units": 3, "activation": "elu", "dropout": 0},
    ]
    config = parse_message(config_message(layers=layers))["config"]
    assert config.layers == ((8, "tanh", 0.25), (4, "relu", 0.0), (3, "elu", 0.0))
    assert config.dropout == (0.25, 0.0, 0.0)
    assert Config(layers=((8, "tanh"),)).layers == ((8, "tanh", 0.0),)


def test_the_single_rate_of_earlier_pages_applies_to_every_layer_without_one() -> None:
    assert parse_message(config_message(dropout=0.3))["config"].dropout == (0.3, 0.3)
    layers = [
        {"units": 5, "activation": "tanh"},
        {"units": 6, "activation": "tanh", "dropout": 0.1},
    ]
    config = parse_message(config_message(dropout=0.3, layers=layers))["config"]
    assert config.layers == ((5, "tanh", 0.3), (6, "tanh", 0.1))


@pytest.mark.parametrize("rate", [1, 1.0, 1.5, -0.1, "abc", True, None])
def test_a_bad_rate_of_a_layer_is_refused_in_one_sentence(rate: Any) -> None:
    layers = [
        {"units": 4, "activation": "tanh"},
        {"units": 4, "activation": "tanh", "dropout": rate},
    ]
    with pytest.raises(InvalidArgumentError) as info:
        parse_message(config_message(layers=layers))
    assert str(info.value) == (
        f"dropout of layer 2 must be a finite number >= 0 and < 1, received {rate!r}"
    )


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"loss": "hinge"}, "loss"),
        ({"loss": "__import__('os')"}, "loss"),
        ({"lr_schedule": "linear"}, "lr_schedule"),
        ({"decay_steps": 0}, "decay_steps"),
        ({"decay_steps": 100_001}, "decay_steps"),
        ({"decay_steps": 2.5}, "decay_steps"),
        ({"dropout": 1}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"dropout": "abc"}, "dropout"),
        ({"l2": 2}, "l2"),
        ({"l2": -1e-3}, "l2"),
        ({"l2": True}, "l2"),
    ],
)
def test_bad_values_are_refused_naming_the_field(fields: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_message(config_message(**fields))
    assert str(info.value).startswith(f"{name} must be"), str(info.value)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        # by hand: α0 = 0.1, decay_steps = 4, factor 0.5; the 10th step is t = 9
        ("constant", 0.1),
        ("step", 0.1 * 0.5 ** (9 // 4)),
        ("exponential", 0.1 * 0.5 ** (9 / 4)),
        ("cosine", 0.1 * 0.5 * (1 + math.cos(math.pi * 4 / 4))),  # t ≥ T: stays at 0
    ],
)
def test_the_schedule_sets_the_rate_of_each_step(schedule: str, expected: float) -> None:
    session = Session(
        Config(
            dataset="xor", optimizer="sgd", learning_rate=0.1, lr_schedule=schedule, decay_steps=4
        )
    )
    for _ in range(10):
        session.step()
    assert session.state()["rate"] == pytest.approx(expected, abs=1e-12)
    # SGD moves w by exactly −α(t) ∂C/∂w: the story's numbers with this step's rate.
    story = session.story(1, 1, 1)
    assert story["learning_rate"] == pytest.approx(expected, abs=1e-12)
    assert story["after"] == pytest.approx(story["before"] - expected * story["grad"], abs=1e-6)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_an_sgd_step_with_l2_is_the_storys_gradient_plus_2_lambda_w(loss: str) -> None:
    lam, rate = 0.05, 0.5
    session = Session(
        Config(dataset="moons", loss=loss, optimizer="sgd", learning_rate=rate, l2=lam)
    )
    session.step()
    for l, j, k in [(1, 1, 1), (1, 8, 2), (2, 3, 5), (3, 2, 8)]:
        story = session.story(l, j, k)
        assert story["l2_term"] == pytest.approx(2 * lam * story["before"])
        expected = story["before"] - rate * (story["grad"] + story["l2_term"])
        # the trace is float64 from the equations, the step float32 on the graph
        assert story["after"] == pytest.approx(expected, rel=1e-5, abs=1e-6), (l, j, k)
    if loss == "mse":
        assert session.model.layers[-1].activation.name == "sigmoid"
        assert session.model.loss.name == "mse"


def test_dropout_masks_training_only() -> None:
    config = Config(dataset="circles", layers=((16, "relu", 0.5), (16, "relu", 0.0)))
    session = Session(config)
    drops = [(i, m.rate) for i, m in enumerate(session.model.layers) if isinstance(m, Dropout)]
    # Dense, Dropout, Dense, Dense: after the first hidden layer only, the one with a rate
    assert drops == [(1, 0.5)] and len(session.model.layers) == 4
    plain = Session(Config(dataset="circles", layers=((16, "relu"), (16, "relu"))))
    # Same initial weights; at inference dropout is the identity: same outputs.
    np.testing.assert_array_equal(
        session.model.predict(session.x_val), plain.model.predict(plain.x_val)
    )
    # In training a random half of the units is silenced: the step differs from the plain one.
    session.step()
    plain.step()
    changes = [a - b for a, b in zip(get_weights(session.model), get_weights(plain.model))]
    assert max(float(np.abs(c).max()) for c in changes) > 1e-4


def test_the_exported_code_carries_every_option(tmp_path: Path) -> None:
    config = Config(
        dataset="moons",
        layers=((6, "relu", 0.1), (4, "tanh", 0.0)),
        loss="mse",
        lr_schedule="step",
        decay_steps=50,
        l2=0.001,
        optimizer="sgd",
        learning_rate=0.2,
    )
    code = python_code(config, epochs=2)
    for part in ("Dropout(0.1)", "regularizers.l2(0.001)", "StepDecay(0.2, 50, 0.5)"):
        assert part in code
    assert code.count("Dropout(") == 1  # after the layer with a rate only
    dense = "keras_layers.Dense(6, activation='relu', kernel_regularizer=regularizers.l2(0.001))"
    assert f"{dense},\n        Dropout(0.1),\n        keras_layers.Dense(4," in code
    assert "loss='mean_squared_error'" in code and "activation='sigmoid'" in code
    run_exported_code(code, config, tmp_path)


def test_the_page_sets_them_and_the_link_keeps_them(page: Any, server_url: str) -> None:
    page.goto(f"{server_url}/")
    page.wait_for_function("window.__playground && window.__playground.updates > 0")
    page.get_by_test_id("loss-fn").select_option("mse")
    page.wait_for_function("location.hash.includes('loss=mse')", timeout=TIMEOUT_MS)
    page.get_by_test_id("lr-schedule").select_option("cosine")
    page.wait_for_function("location.hash.includes('sched=cosine')", timeout=TIMEOUT_MS)
    for name, text, key in (
        ("dropout-1", "0.2", "layers=8:tanh:0.2,8:tanh&"),
        ("l2", "0.001", "l2=0.001"),
        ("decay-steps", "500", "decay=500"),
    ):  # one at a time: each reply redraws the controls with what the server runs
        page.get_by_test_id(name).fill(text)
        page.get_by_test_id(name).dispatch_event("change")
        page.wait_for_function(f"location.hash.includes('{key}')", timeout=TIMEOUT_MS)
    other = page.context.new_page()
    other.goto(page.url)
    other.wait_for_function("window.__playground && window.__playground.updates > 0")
    assert other.get_by_test_id("loss-fn").input_value() == "mse"
    assert other.get_by_test_id("lr-schedule").input_value() == "cosine"
    assert other.get_by_test_id("dropout-1").input_value() == "0.2"
    assert other.get_by_test_id("dropout-2").input_value() == "0"
    assert other.get_by_test_id("l2").input_value() == "0.001"
    # The story of a weight shows L2's share of the gradient.
    other.get_by_test_id("step").click()
    other.wait_for_function("window.__playground.state.step === 1", timeout=TIMEOUT_MS)
    other.get_by_test_id("weight-1-1-1").dispatch_event("click")
    other.wait_for_function("window.__playground.story !== null", timeout=TIMEOUT_MS)
    assert "2λw" in other.get_by_test_id("weight-story").inner_text()
    other.close()
    # A bad value is refused visibly and the controls show what runs.
    page.get_by_test_id("dropout-2").fill("abc")
    page.get_by_test_id("dropout-2").dispatch_event("change")
    error = page.get_by_test_id("error")
    error.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert error.inner_text() == (
        "dropout of layer 2 must be a finite number >= 0 and < 1, received 'abc'"
    )
    assert page.get_by_test_id("dropout-2").input_value() == "0"
    assert page.get_by_test_id("dropout-1").input_value() == "0.2"
    assert page.console_errors == []


def test_a_link_with_the_single_dropout_rate_of_earlier_pages_still_opens(
    page: Any, server_url: str
) -> None:
    page.goto(f"{server_url}/#dataset=moons&layers=5:tanh,3:relu:0.1&drop=0.3")
    page.wait_for_function("window.__playground && window.__playground.updates > 0")
    # the old rate for the layer that names none; the link rewritten in the new form
    page.wait_for_function("location.hash.includes('layers=5:tanh:0.3,3:relu:0.1&')")
    assert "drop=" not in page.url
    assert page.get_by_test_id("dropout-1").input_value() == "0.3"
    assert page.get_by_test_id("dropout-2").input_value() == "0.1"
    assert page.console_errors == []
