"""fit(resume=...) checks the whole checkpoint before restoring anything (issue 14, item 4).

Each malformed checkpoint below is a well-formed *file* (written with save_checkpoint) whose
training state is wrong in one way. Resuming from it must raise one FileFormatError naming
the file — not KeyError, TypeError, IndexError or ZeroDivisionError — and leave the weights,
the optimiser state and glassnet's random generator exactly as they were.
"""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import glassnet as gn
from glassnet import _rng
from glassnet.callbacks import Callback, EarlyStopping
from glassnet.errors import FileFormatError, InvalidArgumentError
from glassnet.io import load_checkpoint, save_checkpoint
from glassnet.nn import Dense, Dropout, Input

X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
Y = np.arange(20) % 2
BATCH = 4  # 5 steps per epoch


class _Interrupt(Exception):
    pass


class _StopAfter(Callback):
    """Aborts fit after ``n`` steps, leaving the last mid-epoch checkpoint on disk."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.seen = n, 0

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.seen += 1
        if self.seen == self.n:
            raise _Interrupt


def _model() -> gn.Sequential:
    model = gn.Sequential(
        [
            Input(shape=(3,)),
            Dense(4, activation="relu", name="hidden"),
            Dropout(0.25),
            Dense(2, activation="softmax", name="out"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def mid_epoch_state(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real checkpoint taken in the middle of epoch 2 (step 3 of 5), with an order and
    running totals, as fit writes it."""
    path = tmp_path_factory.mktemp("resume") / "run.ckpt"
    gn.seed(0)
    model = _model()
    with pytest.raises(_Interrupt):
        model.fit(
            X,
            Y,
            epochs=3,
            batch_size=BATCH,
            verbose=0,
            checkpoint=path,
            checkpoint_every=1,
            callbacks=[_StopAfter(9)],
        )
    state = load_checkpoint(path)
    assert state["epoch"] == 1 and state["step"] == 3 and state["order"] is not None
    return state


def _trained_model() -> gn.Sequential:
    """The model that will try to resume: trained a little, so its optimiser has state."""
    gn.seed(1)
    model = _model()
    model.fit(X, Y, epochs=1, batch_size=BATCH, verbose=0)
    gn.seed(123)  # a generator state distinct from the checkpoint's
    return model


def _snapshot(model: gn.Sequential) -> tuple[dict[str, np.ndarray], dict[str, Any], Any]:
    weights = {k: np.array(v, copy=True) for k, v in model.state_dict().items()}
    optimizer = copy.deepcopy(model.optimizer.state_dict())
    return weights, optimizer, copy.deepcopy(_rng.get_state())


def _assert_unchanged(before: Any, after: Any) -> None:
    weights_a, opt_a, rng_a = before
    weights_b, opt_b, rng_b = after
    assert weights_a.keys() == weights_b.keys()
    for k in weights_a:
        np.testing.assert_array_equal(weights_a[k], weights_b[k])
        assert weights_a[k].dtype == weights_b[k].dtype
    assert opt_a.keys() == opt_b.keys()
    for k in opt_a:
        if isinstance(opt_a[k], np.ndarray):
            np.testing.assert_array_equal(opt_a[k], opt_b[k])
        else:
            assert opt_a[k] == opt_b[k], k
    assert rng_a == rng_b


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(state: dict[str, Any]) -> None:
        target = state
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _delete(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def edit(state: dict[str, Any]) -> None:
        target = state
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


def _rename_weights(state: dict[str, Any]) -> None:
    state["weights"] = {k.replace("hidden", "other"): v for k, v in state["weights"].items()}


def _transpose_weight(state: dict[str, Any]) -> None:
    state["weights"]["hidden.W"] = np.ascontiguousarray(state["weights"]["hidden.W"].T)


def _float64_weights(state: dict[str, Any]) -> None:
    state["weights"] = {k: v.astype(np.float64) for k, v in state["weights"].items()}


def _nan_weight(state: dict[str, Any]) -> None:
    state["weights"]["out.b"] = np.array([np.nan, 0.0], np.float32)


def _short_moment(state: dict[str, Any]) -> None:
    state["optimizer"]["state.0.exp_avg"] = state["optimizer"]["state.0.exp_avg"][:2]


def _float64_moment(state: dict[str, Any]) -> None:
    moment = state["optimizer"]["state.1.exp_avg_sq"]
    state["optimizer"]["state.1.exp_avg_sq"] = moment.astype(np.float64)


def _order_out_of_range(state: dict[str, Any]) -> None:
    state["order"] = state["order"].copy()
    state["order"][0] = 10_000


def _order_repeats(state: dict[str, Any]) -> None:
    state["order"] = np.zeros_like(state["order"])


#: name → edit of a valid mid-epoch state. Today's main fails on these with KeyError,
#: TypeError, IndexError, ValueError, ShapeError, ... after overwriting the weights.
MALFORMED: dict[str, Callable[[dict[str, Any]], None]] = {
    "no config": _delete(("config",)),
    "config batch_size 0": _set(("config", "batch_size"), 0),
    "not written by fit": _delete(("kind",)),
    "weights of another model": _rename_weights,
    "weights of the wrong shape": _transpose_weight,
    "weights in float64": _float64_weights,
    "NaN in the weights": _nan_weight,
    "weights missing a tensor": _delete(("weights", "out.b")),
    "optimizer of another class": _set(("optimizer", "class_name"), "SGD"),
    "optimizer moment of the wrong shape": _short_moment,
    "optimizer moment missing": _delete(("optimizer", "state.2.exp_avg")),
    "optimizer moment in float64": _float64_moment,
    "optimizer iterations negative": _set(("optimizer", "iterations"), -3),
    "optimizer config garbage": _set(("optimizer", "config"), {"learning_rate": "fast"}),
    "optimizer state a list": _set(("optimizer",), [1, 2]),
    "rng state a string": _set(("rng", "state", "state"), "seed"),
    "rng state missing": _delete(("rng", "state")),
    "rng of another generator": _set(("rng", "bit_generator"), "MT19937"),
    "rng state too large": _set(("rng", "state", "state"), 2**200),
    "order index out of range": _order_out_of_range,
    "order not a permutation": _order_repeats,
    "order of the wrong length": _set(("order",), np.arange(7)),
    "order of floats": _set(("order",), np.arange(20, dtype=np.float64)),
    "totals missing": _set(("totals",), None),
    "totals seen zero": _set(("totals", "seen"), 0),
    "totals without metrics": _set(("totals", "metrics"), []),
    "totals loss a string": _set(("totals", "loss_total"), "low"),
    "step beyond the epoch": _set(("step",), 50),
    "step negative": _set(("step",), -1),
    "epoch a string": _set(("epoch",), "2"),
    "epoch a float": _set(("epoch",), 1.5),
    "global_step missing": _delete(("global_step",)),
    "history values strings": _set(("history", "history", "loss"), ["a", "b"]),
    "history without epochs": _delete(("history", "epoch")),
    "callbacks not a list": _set(("callbacks",), 7),
    "callback state not a dict": _set(("callbacks",), [[1, 2]]),
    "unexpected entry": _set(("intruder",), 1),
    "the state a list": _set(("weights",), [np.zeros(3, np.float32)]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_checkpoint_is_refused_and_nothing_changes(
    case: str, mid_epoch_state: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    state = copy.deepcopy(mid_epoch_state)
    MALFORMED[case](state)
    path = tmp_path / f"bad {case}.ckpt"
    save_checkpoint(path, state)
    model = _trained_model()
    before = _snapshot(model)
    with pytest.raises(FileFormatError) as info:
        model.fit(X, Y, epochs=3, batch_size=BATCH, verbose=0, resume=path)
    message = str(info.value)
    assert str(path) in message
    assert "nothing was restored" in message
    _assert_unchanged(before, _snapshot(model))


def test_there_are_at_least_ten_kinds() -> None:
    assert len(MALFORMED) >= 10


def test_the_valid_checkpoint_still_resumes_bit_for_bit(
    mid_epoch_state: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    """The checks refuse nothing fit writes: resuming the untouched state equals the run
    that was never interrupted."""
    path = tmp_path / "good.ckpt"
    save_checkpoint(path, mid_epoch_state)
    gn.seed(0)
    full = _model()
    full.fit(X, Y, epochs=3, batch_size=BATCH, verbose=0)
    resumed = _trained_model()
    resumed.fit(X, Y, epochs=3, batch_size=BATCH, verbose=0, resume=path)
    for name, value in full.state_dict().items():
        np.testing.assert_array_equal(value, resumed.state_dict()[name])


def test_a_checkpoint_of_another_run_is_an_argument_error(
    mid_epoch_state: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    """A correct checkpoint resumed with other data or batch size: the call is wrong, not the
    file (InvalidArgumentError, as before) — and nothing changes either."""
    path = tmp_path / "run.ckpt"
    save_checkpoint(path, mid_epoch_state)
    model = _trained_model()
    before = _snapshot(model)
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        model.fit(X, Y, epochs=3, batch_size=5, verbose=0, resume=path)
    _assert_unchanged(before, _snapshot(model))


def test_callback_states_are_checked_against_the_callbacks(
    mid_epoch_state: dict[str, Any],
) -> None:
    from glassnet.io.checkpoint import validate_fit_checkpoint

    model = _trained_model()
    config = {"samples": 20, "batch_size": BATCH, "shuffle": True}
    early = EarlyStopping(monitor="loss")
    state = copy.deepcopy(mid_epoch_state)
    state["callbacks"] = [{"wait": 0}]
    with pytest.raises(FileFormatError, match=r"callback 0 \(EarlyStopping\)"):
        validate_fit_checkpoint(state, model, model.optimizer, config, "x.ckpt", callbacks=[early])
    # A resume may have fewer callbacks (verbose=0 drops the automatic doctor): the pairs that
    # meet are checked, as fit hands the states out pairwise.
    state["callbacks"] = [early.get_state(), {"findings": []}]
    validate_fit_checkpoint(state, model, model.optimizer, config, "x.ckpt", callbacks=[early])
    state["callbacks"] = [early.get_state()]
    validate_fit_checkpoint(state, model, model.optimizer, config, "x.ckpt", callbacks=[early])
