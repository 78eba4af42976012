"""The doctor: one run per rule that has the problem and is diagnosed with it, and a healthy
run that is diagnosed with nothing. Every run is also diagnosed post hoc by diagnose(), which
must agree with the callback."""

from __future__ import annotations

import io
import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import RULES, Doctor, Finding, diagnose
from glassnet.diagnostics import rules as rules_module
from glassnet.errors import InvalidArgumentError, UnknownNameError
from glassnet.initializers import RandomNormal
from glassnet.layers import Dense, Dropout, Flatten, Rescaling
from glassnet.training import Sequential
from glassnet.training.callbacks import History
from glassnet.training.telemetry import Telemetry

DOCS = Path(__file__).resolve().parents[2] / "docs" / "diagnostics.md"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist():
    return gn.datasets.load("mnist-5k")


def _seed_model(optimizer, rescale=True, seed=0):
    """Seed 002's model: Flatten → Dense(128, relu) → Dropout(0.2) → Dense(10, softmax)."""
    gn.seed(seed)
    front = (
        [Rescaling(1 / 255, input_shape=(28, 28)), Flatten()]
        if rescale
        else [Flatten(input_shape=(28, 28))]
    )
    model = Sequential(
        front + [Dense(128, activation="relu"), Dropout(0.2), Dense(10, activation="softmax")]
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _run(model, x, y, epochs, **kwargs):
    """Fit with an explicit Doctor; check diagnose() agrees; return (history, rules found)."""
    doctor = Doctor(verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN-stop warnings of broken runs
        history = model.fit(x, y, epochs=epochs, verbose=0, callbacks=[doctor], **kwargs)
    assert history.findings is doctor.findings
    post = diagnose(history, model)
    assert [(f.rule, f.layer, f.epoch, f.severity) for f in post] == [
        (f.rule, f.layer, f.epoch, f.severity) for f in history.findings
    ]
    for f in history.findings:
        assert isinstance(f, Finding)
        assert f.rule in rules_module.RULE_NAMES
        assert re.search(r"\d", f.evidence), f"evidence without numbers: {f.evidence}"
        assert f.suggestion and "\n" not in str(f)
    return history, {f.rule for f in history.findings}


def _layer_stack(*layers):
    return lambda: list(layers)


# ---------------------------------------------------------------------------------------------
# one run per rule
# ---------------------------------------------------------------------------------------------
def test_healthy_seed_model_gets_no_finding(mnist):
    (x, y), (xt, yt) = mnist
    history, found = _run(_seed_model(gn.optimizers.Adam(1e-3)), x, y, 3, validation_data=(xt, yt))
    assert history.history["val_accuracy"][-1] > 0.85  # it really is a healthy run
    assert found == set(), [str(f) for f in history.findings]


def test_rate_10_is_too_high(mnist):
    (x, y), _ = mnist
    history, found = _run(_seed_model(gn.optimizers.Adam(10.0)), x[:2000], y[:2000], 2)
    assert "lr_too_high" in found
    f = next(f for f in history.findings if f.rule == "lr_too_high")
    assert f.epoch == 0 and f.severity == "warning"
    assert "lr_find" in f.suggestion and "1506.01186" in f.suggestion


def test_rate_1e_minus_7_is_too_low(mnist):
    (x, y), _ = mnist
    history, found = _run(_seed_model(gn.optimizers.Adam(1e-7)), x[:2000], y[:2000], 2)
    assert "lr_too_low" in found
    assert "underfitting" not in found  # the learning rate is the cause, not the capacity
    f = next(f for f in history.findings if f.rule == "lr_too_low")
    assert "1.00e-07" in f.suggestion


def test_rate_10_without_telemetry_is_still_too_high(mnist):
    (x, y), _ = mnist
    model = _seed_model(gn.optimizers.Adam(10.0))
    history = model.fit(x[:2000], y[:2000], epochs=2, verbose=0, telemetry=False)
    found = diagnose(history, model)
    assert [f.rule for f in found] == ["lr_too_high"]
    assert "epoch's training loss" in found[0].evidence


def test_nan_loss_is_a_rate_too_high():
    """A run stopped by a NaN loss in the first batch of an epoch (no epoch end was reached)."""
    history = History()
    history.stopped_reason = (
        "the loss became NaN at epoch 1, batch 1; training stopped and "
        "the weights are those of the last finite step"
    )
    history.stopped_epoch, history.stopped_batch = 0, 0
    found = diagnose(history)
    assert [f.rule for f in found] == ["lr_too_high"]
    assert "NaN" in found[0].evidence


def test_tiny_training_set_and_a_big_model_overfit(mnist):
    (x, y), (xt, yt) = mnist
    gn.seed(0)
    model = Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28)),
            Flatten(),
            Dense(512, activation="relu"),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history, found = _run(
        model, x[:100], y[:100], 25, batch_size=20, validation_data=(xt[:500], yt[:500])
    )
    assert "overfitting" in found
    warning = [f for f in history.findings if f.rule == "overfitting" and f.severity == "warning"]
    assert warning, "the rising validation loss was not reported"
    assert "validation loss rose" in warning[0].evidence
    assert "EarlyStopping" in warning[0].suggestion and "Dropout" in warning[0].suggestion
    # The accuracy gap is seen long before the validation loss turns (an early "info").
    info = [f for f in history.findings if f.rule == "overfitting" and f.severity == "info"]
    assert info and info[0].epoch < warning[0].epoch


def test_huge_initial_sigmoid_weights_saturate(mnist):
    (x, y), _ = mnist
    gn.seed(0)
    model = Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28)),
            Flatten(),
            Dense(64, activation="sigmoid", kernel_initializer=RandomNormal(stddev=5.0)),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history, found = _run(model, x[:1000], y[:1000], 2)
    assert "saturation" in found
    f = next(f for f in history.findings if f.rule == "saturation")
    assert f.layer == model.layers[2].name
    assert "BP2" in f.suggestion and "ReLU" in f.suggestion
    # The softmax output of a cross-entropy model is never blamed: δ^L = a^L − y.
    assert all(f.layer != model.layers[3].name for f in history.findings)


def test_large_negative_bias_kills_relus(mnist):
    (x, y), _ = mnist
    gn.seed(0)
    model = Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28)),
            Flatten(),
            Dense(64, activation="relu", bias_initializer=-50.0),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history, found = _run(model, x[:1000], y[:1000], 2)
    assert "dead_relu" in found
    f = next(f for f in history.findings if f.rule == "dead_relu")
    assert f.layer == model.layers[2].name and "100%" in f.evidence
    assert "BP4" in f.suggestion and "LeakyReLU" in f.suggestion
    # Zero gradients are not a learning rate that is too low.
    assert "lr_too_low" not in found


def test_twenty_sigmoid_layers_vanish():
    (x, y), _ = gn.datasets.load("digits")
    gn.seed(0)
    model = Sequential(
        [Flatten(input_shape=(8, 8))]
        + [Dense(32, activation="sigmoid") for _ in range(19)]
        + [Dense(10, activation="softmax")]
    )
    model.compile(optimizer=gn.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    history, found = _run(model, (x / 16).astype(np.float32), y, 2)
    assert "vanishing_gradients" in found
    f = next(f for f in history.findings if f.rule == "vanishing_gradients")
    assert f.layer == model.layers[1].name and f.epoch == 0
    assert "BP2" in f.suggestion
    assert "exploding_gradients" not in found


def test_deep_linear_net_with_large_weights_explodes():
    (x, y), _ = gn.datasets.load("moons", n=600, noise=0.1)
    gn.seed(0)
    big = RandomNormal(stddev=0.5)  # gain 0.5·√32 ≈ 2.8 per layer
    model = Sequential(
        [Dense(32, input_dim=2, kernel_initializer=big)]
        + [Dense(32, kernel_initializer=big) for _ in range(11)]
        + [Dense(2, activation="softmax")]
    )
    model.compile(optimizer=gn.optimizers.SGD(1e-7), loss="sparse_categorical_crossentropy")
    history, found = _run(model, x, y, 2)
    assert "exploding_gradients" in found
    f = next(f for f in history.findings if f.rule == "exploding_gradients")
    assert f.layer == model.layers[0].name
    assert "vanishing_gradients" not in found


def test_raw_pixels_are_unscaled_inputs(mnist):
    (x, y), _ = mnist
    history, found = _run(
        _seed_model(gn.optimizers.Adam(1e-3), rescale=False), x[:1000], y[:1000], 1
    )
    assert "unscaled_inputs" in found
    f = next(f for f in history.findings if f.rule == "unscaled_inputs")
    assert "255" in f.evidence and "Rescaling(1/255)" in f.suggestion and "BP4" in f.suggestion
    # The huge loss of the first steps comes from the inputs, not from the learning rate.
    assert "lr_too_high" not in found


def test_linear_model_on_circles_underfits():
    (x, y), _ = gn.datasets.load("circles", n=1000)
    gn.seed(0)
    model = Sequential([Dense(2, activation="softmax", input_dim=2)])
    model.compile(
        optimizer=gn.optimizers.Adam(1e-2),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history, found = _run(model, x, y, 5)
    assert "underfitting" in found
    f = next(f for f in history.findings if f.rule == "underfitting")
    assert "chance" in f.evidence and "capacity" in f.suggestion


def test_one_unit_bottleneck_underfits(mnist):
    (x, y), _ = mnist
    gn.seed(0)
    model = Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28)),
            Flatten(),
            Dense(1, activation="tanh"),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _, found = _run(model, x[:2000], y[:2000], 4)
    assert "underfitting" in found


def test_sgd_with_too_much_momentum_oscillates():
    (x, y), _ = gn.datasets.load("moons", n=1000, noise=0.1)
    gn.seed(0)
    model = Sequential([Dense(32, activation="tanh", input_dim=2), Dense(2, activation="softmax")])
    model.compile(
        optimizer=gn.optimizers.SGD(0.5, momentum=0.99), loss="sparse_categorical_crossentropy"
    )
    history, found = _run(model, x, y, 30)
    assert "oscillation" in found
    f = next(f for f in history.findings if f.rule == "oscillation")
    assert "ReduceLROnPlateau" in f.suggestion


# ---------------------------------------------------------------------------------------------
# the oscillation rule on constructed step losses
# ---------------------------------------------------------------------------------------------
def _history_of_steps(losses, epochs=4):
    history = History()
    tel = Telemetry()
    per = len(losses) // epochs
    for i, value in enumerate(losses):
        tel.record_step(float(value), 0.01, min(i // per, epochs - 1))
    history.telemetry = tel
    history.epoch = list(range(epochs))
    history.history = {
        "loss": [float(np.mean(losses[e * per : (e + 1) * per])) for e in range(epochs)]
    }
    return history


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("swinging plateau", True),  # slow swings much larger than the batch noise
        ("noisy plateau", False),  # the same level and noise, no swings: a converged run
        ("falling", False),  # swings, but the loss keeps going down
        ("converged", False),  # swings around a loss 50x below where it started
    ],
)
def test_oscillation_needs_swings_beyond_noise_without_progress(kind, expected):
    rng = np.random.default_rng(0)
    n = 800
    t = np.arange(n)
    noise = 0.15 * rng.standard_normal(n)
    start = np.full(40, 2.3)  # the first steps at chance level
    body = {
        "swinging plateau": 1.0 + 0.6 * np.sin(2 * np.pi * t / 60) + noise,
        "noisy plateau": 1.0 + noise,
        "falling": np.linspace(2.0, 0.6, n) + 0.3 * np.sin(2 * np.pi * t / 60) + noise,
        "converged": 0.04 * (1 + 0.6 * np.sin(2 * np.pi * t / 60) + noise),
    }[kind]
    losses = np.abs(np.concatenate([start, body]))
    found = diagnose(_history_of_steps(losses))
    assert ("oscillation" in {f.rule for f in found}) is expected, [str(f) for f in found]


# ---------------------------------------------------------------------------------------------
# the Doctor as a callback
# ---------------------------------------------------------------------------------------------
def test_doctor_prints_each_finding_once_and_a_summary(mnist):
    (x, y), _ = mnist
    out = io.StringIO()
    model = _seed_model(gn.optimizers.Adam(10.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        history = model.fit(
            x[:1000], y[:1000], epochs=3, verbose=0, callbacks=[Doctor(verbose=1, stream=out)]
        )
    text = out.getvalue()
    assert text.count("Doctor: warning: lr_too_high") == 1
    assert "problems found" in text or "problem found" in text
    assert text.count("lr_too_high") == 2  # once when it appeared, once in the summary
    assert len(history.findings) >= 1


def test_doctor_is_silent_at_verbose_0(mnist, capsys):
    (x, y), _ = mnist
    model = _seed_model(gn.optimizers.Adam(1e-7))
    history = model.fit(x[:1000], y[:1000], epochs=2, verbose=0, callbacks=[Doctor()])
    assert capsys.readouterr().out == ""
    assert {f.rule for f in history.findings} == {"lr_too_low"}


def test_doctor_reports_a_healthy_run_in_one_line(mnist, capsys):
    (x, y), _ = mnist
    model = _seed_model(gn.optimizers.Adam(1e-3))
    model.fit(x[:600], y[:600], epochs=1, verbose=2, callbacks=[Doctor()])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Doctor")]
    assert lines == ["Doctor: no problems found (12 rules checked over 1 epoch)."]


def test_doctor_batch_checks_find_a_blow_up_mid_epoch(mnist):
    (x, y), _ = mnist
    doctor = Doctor(check_every=10, verbose=0)
    assert doctor._wants_batches() and not Doctor()._wants_batches()
    seen_at: list[int] = []

    class Probe(gn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if not seen_at and doctor.findings:
                seen_at.append(batch)

    model = _seed_model(gn.optimizers.Adam(10.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(x[:2000], y[:2000], epochs=1, verbose=0, callbacks=[doctor, Probe()])
    assert seen_at and seen_at[0] < 62  # found well before the epoch (63 steps) ended
    assert doctor.findings[0].rule == "lr_too_high"


def test_doctor_state_survives_a_checkpoint(mnist):
    """get_state/set_state (used by fit's checkpoints) keep what was already reported."""
    (x, y), _ = mnist
    model = _seed_model(gn.optimizers.Adam(1e-7))
    doctor = Doctor(verbose=0)
    model.fit(x[:1000], y[:1000], epochs=2, verbose=0, callbacks=[doctor])
    state = doctor.get_state()
    state = json.loads(json.dumps(state))  # JSON-friendly
    again = Doctor(verbose=0)
    model.fit(x[:32], y[:32], epochs=1, verbose=0, callbacks=[again])  # sets model.history
    again.set_state(state)
    assert again.findings == doctor.findings
    assert model.history.findings is again.findings
    assert {k[0] for k in again._seen} == {"lr_too_low"}


def test_doctor_rule_selection():
    assert [r.name for r in Doctor(rules=["saturation"]).rules] == ["saturation"]
    with pytest.raises(UnknownNameError, match="unknown rule 'saturated'"):
        Doctor(rules=["saturated"])
    with pytest.raises(InvalidArgumentError, match="check_every"):
        Doctor(check_every=0)


def test_diagnose_without_telemetry_uses_the_epoch_rules(mnist):
    (x, y), (xt, yt) = mnist
    gn.seed(0)
    model = Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28)),
            Flatten(),
            Dense(512, activation="relu"),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x[:100],
        y[:100],
        epochs=25,
        batch_size=20,
        verbose=0,
        validation_data=(xt[:500], yt[:500]),
        telemetry=False,
    )
    assert history.telemetry is None
    assert {f.rule for f in diagnose(history, model)} == {"overfitting"}
    with pytest.raises(InvalidArgumentError, match="History"):
        diagnose({"loss": [1.0]})


# ---------------------------------------------------------------------------------------------
# findings and the documented set
# ---------------------------------------------------------------------------------------------
def test_finding_fields_and_validation():
    f = Finding(
        rule="dead_relu", layer="dense", epoch=2, evidence="90% dead.", suggestion="Use LeakyReLU."
    )
    assert str(f) == ("warning: dead_relu in dense (epoch 3): 90% dead. Suggestion: Use LeakyReLU.")
    assert f.as_dict()["epoch"] == 2
    with pytest.raises(InvalidArgumentError, match="rule must be one of"):
        Finding(rule="too_slow", layer=None, epoch=0, evidence="", suggestion="")
    with pytest.raises(InvalidArgumentError, match="severity"):
        Finding(
            rule="overfitting", layer=None, epoch=0, evidence="", suggestion="", severity="error"
        )


def test_the_rule_set_is_the_documented_one():
    assert tuple(RULES) == (
        "lr_too_high",
        "lr_too_low",
        "oscillation",
        "overfitting",
        "underfitting",
        "saturation",
        "dead_relu",
        "vanishing_gradients",
        "exploding_gradients",
        "unscaled_inputs",
        "dead_filters",
        "saturated_filters",
    )
    text = DOCS.read_text(encoding="utf-8")
    for name in RULES:
        assert f"`{name}`" in text, f"docs/diagnostics.md does not document {name}"
    thresholds = [
        n
        for n in rules_module.__all__
        if n.isupper() and n not in ("RULES", "RULE_NAMES", "SEVERITIES")
    ]
    assert len(thresholds) > 20
    for name in thresholds:
        value = getattr(rules_module, name)
        assert isinstance(value, (int, float)) and math.isfinite(value)
        assert f"`{name}`" in text, f"docs/diagnostics.md does not explain {name}"
