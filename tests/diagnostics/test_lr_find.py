"""Smith's learning-rate range test: a sensible suggestion, and no side effects at all."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import _rng
from glassnet.diagnostics import LRFinderResult, lr_find
from glassnet.diagnostics.lr_find import suggest
from glassnet.errors import InvalidArgumentError
from glassnet.layers import Dense, Dropout, Flatten, Rescaling
from glassnet.training import Sequential


@pytest.fixture(scope="module")
def mnist():
    return gn.datasets.load("mnist-5k")


def _seed_model(optimizer="adam", seed=0):
    gn.seed(seed)
    model = Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28)),
            Flatten(),
            Dense(128, activation="relu"),
            Dropout(0.2),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _snapshot(model):
    """Everything lr_find must leave alone, copied."""
    opt = model.optimizer
    # Gradients first: state_dict() syncs the flat buffers, which gives every p.grad a view.
    grads = [None if p.grad is None else p.grad.copy() for p in model.parameters()]
    state = opt.state_dict() if opt.flat is not None else None
    return (
        [p.data.copy() for p in model.parameters()],
        grads,
        state,
        opt.learning_rate,
        opt.iterations,
        opt.last_learning_rate,
        _rng.get_state(),
        model.training,
    )


def _assert_same(before, after):
    w0, g0, s0, lr0, it0, last0, rng0, tr0 = before
    w1, g1, s1, lr1, it1, last1, rng1, tr1 = after
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(w0, w1))
    for a, b in zip(g0, g1):
        assert (a is None and b is None) or np.array_equal(a, b)
    if s0 is not None:
        assert s1.keys() == s0.keys()
        for key, value in s0.items():
            if isinstance(value, np.ndarray):
                assert np.array_equal(value, s1[key]), key
            else:
                assert value == s1[key], key
    assert lr1 is lr0 or lr1 == lr0
    assert (it0, last0, tr0) == (it1, last1, tr1)
    assert rng0 == rng1


def test_suggestion_for_adam_on_the_seed_model(mnist):
    (x, y), _ = mnist
    model = _seed_model()
    result = lr_find(model, x, y)
    assert isinstance(result, LRFinderResult)
    assert result.suggestion is not None and 1e-4 <= result.suggestion <= 1e-1, str(result)
    # The loss explodes at the top of the range, so the test stops early, and the lowest
    # smoothed loss lies past the suggestion.
    assert result.stopped_early and result.learning_rates.size < 100
    assert result.min_loss_learning_rate > result.suggestion
    rates = result.learning_rates
    assert rates[0] == pytest.approx(1e-7)
    np.testing.assert_allclose(rates[1:] / rates[:-1], (10 / 1e-7) ** (1 / 99), rtol=1e-9)
    assert result.losses.shape == result.smoothed_losses.shape == rates.shape
    text = str(result)
    assert "suggested learning rate" in text and f"{result.suggestion:.2g}" in text


def test_weights_optimizer_and_rng_are_left_bit_identical(mnist):
    (x, y), _ = mnist
    model = _seed_model()
    model.fit(x[:640], y[:640], epochs=1, verbose=0)  # Adam moments and step count non-zero
    before = _snapshot(model)
    assert before[4] == 20
    with pytest.warns(UserWarning, match=r"already trained \(20 optimizer steps\)"):
        lr_find(model, x, y, steps=60)
    _assert_same(before, _snapshot(model))


def test_an_unbound_optimizer_is_left_fresh(mnist):
    """lr_find before any fit (as `glassnet lr-find` does) must not leave training state that
    changes the next fit: training after it is bit-identical to training without it."""
    (x, y), _ = mnist
    runs = []
    for use_finder in (False, True):
        model = _seed_model(seed=3)
        if use_finder:
            lr_find(model, x, y, steps=40)
        model.fit(x[:960], y[:960], epochs=1, verbose=0)
        runs.append([p.data.copy() for p in model.parameters()])
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


def test_a_schedule_survives_as_the_same_object(mnist):
    (x, y), _ = mnist
    schedule = gn.schedules.ExponentialDecay(1e-3, decay_steps=100, decay_rate=0.5)
    model = _seed_model(optimizer=gn.optimizers.Adam(schedule))
    before = _snapshot(model)
    lr_find(model, x, y, steps=30)
    assert model.optimizer.learning_rate is schedule
    _assert_same(before, _snapshot(model))


def test_weights_are_restored_even_when_a_step_fails(mnist, monkeypatch):
    (x, y), _ = mnist
    model = _seed_model()
    model.optimizer.bind(model.parameters())
    before = _snapshot(model)
    real = model._step_function()
    calls = []

    def failing(xb, yb, record=None):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(xb, yb)

    monkeypatch.setattr(model, "_step_function", lambda: failing)
    with pytest.raises(KeyboardInterrupt):
        lr_find(model, x, y, steps=20)
    _assert_same(before, _snapshot(model))


def test_sgd_diverges_and_stops(mnist):
    (x, y), _ = mnist
    result = lr_find(_seed_model(gn.optimizers.SGD()), x, y, end=100.0, steps=80)
    assert result.stopped_early
    last = result.smoothed_losses[-1]
    assert not np.isfinite(last) or last > 4.0 * np.nanmin(result.smoothed_losses)
    assert result.suggestion is not None and result.suggestion < result.learning_rates[-1]


def test_suggestion_is_the_steepest_descent_before_the_minimum():
    lrs = np.logspace(-6, 0, 61)
    logs = np.log10(lrs)
    # A loss that falls fastest at 1e-3 and turns up after 1e-1.
    loss = 2.0 - np.tanh(2.0 * (logs + 3.0)) + np.where(logs > -1, 10 * (logs + 1) ** 2, 0.0)
    assert suggest(lrs, loss) == pytest.approx(1e-3, rel=0.13)
    assert suggest(lrs, np.linspace(1.0, 2.0, 61)) is None  # never falls
    assert suggest(lrs[:2], loss[:2]) is None


def test_argument_errors(mnist):
    (x, y), _ = mnist
    model = _seed_model()
    with pytest.raises(InvalidArgumentError, match="end must be larger than start"):
        lr_find(model, x, y, start=1.0, end=0.1)
    with pytest.raises(InvalidArgumentError, match="steps must be an integer >= 2"):
        lr_find(model, x, y, steps=1)
    with pytest.raises(InvalidArgumentError, match="smoothing"):
        lr_find(model, x, y, smoothing=1.0)
    with pytest.raises(InvalidArgumentError, match="diverge_factor"):
        lr_find(model, x, y, diverge_factor=0.5)
    with pytest.raises(InvalidArgumentError, match="not compiled"):
        lr_find(Sequential([Dense(3, input_dim=2)]), x, y)
    with pytest.raises(InvalidArgumentError, match="glassnet Model"):
        lr_find("model", x, y)


def test_plot_is_saved(mnist, tmp_path):
    pytest.importorskip("matplotlib")
    (x, y), _ = mnist
    result = lr_find(_seed_model(), x, y, steps=50)
    fig = result.plot(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.axes[0].get_xscale() == "log"


def test_a_trained_model_is_said_to_give_a_fine_tuning_rate(mnist):
    # Issue 19: lr_find on a trained model suggested 4.4e-07 (0.0148 for a fresh one) and
    # did not say why. It still runs from the current weights (as fastai's) and restores them,
    # and now says the suggestion is a fine-tuning rate.
    (x, y), _ = mnist
    fresh = _seed_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fresh model: no warning
        first = lr_find(fresh, x[:2000], y[:2000], steps=60)
    assert first.trained_steps == 0 and "note:" not in str(first)

    trained = _seed_model()
    trained.fit(x[:2000], y[:2000], epochs=2, batch_size=32, verbose=0)
    steps = trained.optimizer.iterations
    before = _snapshot(trained)
    with pytest.warns(UserWarning, match=r"already trained \(126 optimizer steps\)"):
        result = lr_find(trained, x[:2000], y[:2000], steps=60)
    assert result.trained_steps == steps == 126
    text = str(result)
    assert "already trained (126 optimizer steps)" in text and "fine-tuning" in text
    assert "fresh model" in text and result.as_dict()["trained_steps"] == 126
    assert "trained_steps=126" in repr(result)
    _assert_same(before, _snapshot(trained))
    # The trained model's loss starts low: the curve starts far below the fresh one's.
    assert result.smoothed_losses[0] < 0.5 * first.smoothed_losses[0]
