"""fit / evaluate / predict: the Keras surface, bad input, NaN handling, repeatability."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import Callback
from glassnet.errors import GlassnetError, InvalidArgumentError, ShapeError, UnknownNameError
from glassnet.layers import Dense
from glassnet.optimizers import SGD
from glassnet.training import Sequential


def seed_model(hidden: int = 32, dropout: float = 0.2, input_shape=(8, 8)) -> Sequential:
    return Sequential(
        [
            gn.layers.Flatten(input_shape=input_shape),
            Dense(hidden, activation="relu"),
            gn.layers.Dropout(dropout),
            Dense(10, activation="softmax"),
        ]
    )


def _compiled(**kw):
    gn.seed(0)
    model = seed_model(**kw)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_fit_returns_history_with_val_entries_and_learns(digits):
    x, y, xt, yt = digits
    model = _compiled()
    history = model.fit(x, y, epochs=12, batch_size=32, validation_split=0.2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 12 for v in history.history.values())
    assert history.epoch == list(range(12))
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, acc = model.evaluate(xt, yt)
    assert acc > 0.85
    as_dict = model.evaluate(xt, yt, return_dict=True)
    assert as_dict == {"loss": loss, "accuracy": acc}
    probs = model.predict(xt)
    assert probs.shape == (len(xt), 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(probs.argmax(axis=1) == yt) == pytest.approx(acc)


def test_seeded_fit_is_bit_for_bit_repeatable(digits):
    x, y, _, _ = digits
    runs = []
    for _ in range(2):
        model = _compiled()
        h = model.fit(x[:600], y[:600], epochs=2, batch_size=16, verbose=0)
        runs.append((h.history["loss"], model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop", "adagrad", "adamw"])
@pytest.mark.parametrize(
    "loss,final",
    [
        ("sparse_categorical_crossentropy", "softmax"),
        ("categorical_crossentropy", "softmax"),
        ("mse", "sigmoid"),
        ("quadratic", "tanh"),
        ("binary_crossentropy", "sigmoid"),
    ],
)
def test_fused_step_matches_the_autograd_graph(digits, optimizer, loss, final):
    """The fused Sequential step gives the same losses and weights as loss.backward()."""
    x, y, _, _ = digits
    x, y = x[:200].astype(np.float64), y[:200]
    target = y if loss == "sparse_categorical_crossentropy" else np.eye(10)[y]
    results = []
    for fused in (True, False):
        gn.seed(4)
        model = Sequential(
            [
                gn.layers.Flatten(input_shape=(8, 8)),
                Dense(16, activation="tanh", dtype="float64"),
                gn.layers.Dropout(0.3),
                Dense(12, activation="relu", dtype="float64"),
                Dense(10, activation=final, dtype="float64"),
            ]
        )
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"], fused=fused)
        h = model.fit(x, target, epochs=2, batch_size=32, verbose=0)
        assert (model._step_function().__class__.__name__ == "FusedStep") == fused
        results.append((h.history, model.get_weights()))
    (h1, w1), (h2, w2) = results
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-12)
    assert h1["accuracy"] == h2["accuracy"]
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_fused_step_is_used_for_the_seed_model_and_refused_when_impossible():
    model = _compiled()
    assert model._step_function().__class__.__name__ == "FusedStep"

    class Custom(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(3, input_dim=2)

        def forward(self, x):
            return self.dense(x) * 2.0

    custom = Custom()
    with pytest.raises(InvalidArgumentError, match="fused"):
        custom.compile(optimizer="sgd", loss="mse", fused=True)


def test_dense_on_a_3d_batch_trains_through_the_graph_with_fused_on():
    # Regression: the fused step assumed every Dense gets (N, features) and crashed with a
    # matmul shape error on (N, T, features); such batches now take the graph path.
    x = np.random.default_rng(0).normal(size=(40, 3, 5)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 2, size=40)

    def run(fused):
        gn.seed(0)
        model = gn.Sequential(
            [
                Dense(4, activation="relu", input_shape=(3, 5)),
                gn.layers.Dropout(0.3),
                gn.layers.Flatten(),
                Dense(2, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", fused=fused)
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        return history.history["loss"], [p.numpy().copy() for p in model.parameters()]

    (loss_auto, w_auto), (loss_graph, w_graph) = run("auto"), run(False)
    assert loss_auto == loss_graph and np.isfinite(loss_auto).all()
    for a, b in zip(w_auto, w_graph):
        np.testing.assert_array_equal(a, b)


def test_subclassed_model_trains_through_the_graph():
    class TwoLayer(gn.Model):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(8, activation="tanh", input_dim=2)
            self.out = Dense(1, activation="sigmoid")

        def forward(self, x):
            return self.out(self.hidden(x))

    gn.seed(0)
    (x, y), _ = gn.datasets.load("xor")
    model = TwoLayer()
    model.compile(
        optimizer=gn.optimizers.Adam(learning_rate=0.05),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    h = model.fit(x, y.reshape(-1, 1).astype(np.float32), epochs=60, batch_size=16, verbose=0)
    assert h.history["accuracy"][-1] > 0.9


# ---------------------------------------------------------------------------------------------
# bad input stops before any training
# ---------------------------------------------------------------------------------------------
class _Spy(Callback):
    def __init__(self):
        super().__init__()
        self.began = False

    def on_train_begin(self, logs=None):
        self.began = True


@pytest.mark.parametrize(
    "kwargs,error,words",
    [
        ({"y": np.zeros(10, dtype=int)}, ShapeError, ["same number of samples", "100", "10"]),
        ({"x": np.zeros((100, 7, 7))}, ShapeError, ["x of shape (100, 7, 7)", "64"]),
        ({"y": np.full(100, 10)}, InvalidArgumentError, ["[0, 10)", "10"]),
        ({"y": np.full(100, -1)}, InvalidArgumentError, ["[0, 10)", "-1"]),
        ({"x": np.full((100, 8, 8), np.nan)}, InvalidArgumentError, ["NaN", "x"]),
        ({"batch_size": 0}, InvalidArgumentError, ["batch_size", "0"]),
        ({"epochs": -1}, InvalidArgumentError, ["epochs", "-1"]),
        ({"validation_split": 1.5}, InvalidArgumentError, ["validation_split", "1.5"]),
        ({"x": np.zeros((0, 8, 8)), "y": np.zeros(0, dtype=int)}, InvalidArgumentError, ["empty"]),
        ({"x": np.array([["a"] * 64] * 100)}, GlassnetError, ["x", "numbers"]),
    ],
)
def test_bad_input_is_one_clear_error_before_training(kwargs, error, words):
    model = _compiled()
    before = model.get_weights()
    spy = _Spy()
    args = {"x": np.zeros((100, 8, 8), dtype=np.float32), "y": np.zeros(100, dtype=int)}
    args.update(kwargs)
    with pytest.raises(error) as info:
        model.fit(args.pop("x"), args.pop("y"), verbose=0, callbacks=[spy], **args)
    message = str(info.value)
    assert message.startswith("fit")
    assert "\n" not in message
    for word in words:
        assert word in message
    assert not spy.began
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_one_hot_targets_of_the_wrong_width():
    gn.seed(0)
    model = seed_model()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ShapeError, match=r"\(100, 10\).*\(100, 9\)"):
        model.fit(np.zeros((100, 8, 8)), np.zeros((100, 9)), verbose=0)


def test_unknown_names_list_the_known_ones():
    model = seed_model()
    with pytest.raises(UnknownNameError, match="adam"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(UnknownNameError, match="sparse_categorical_crossentropy"):
        model.compile(optimizer="adam", loss="sparse_crossentropy")
    with pytest.raises(UnknownNameError, match="accuracy"):
        model.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
    with pytest.raises(UnknownNameError, match="relu"):
        Dense(3, activation="rleu")


def test_fit_before_compile_says_so():
    with pytest.raises(InvalidArgumentError, match="compile"):
        seed_model().fit(np.zeros((4, 8, 8)), np.zeros(4, dtype=int))


def test_nan_loss_stops_gracefully_at_the_last_finite_weights(digits):
    x, y, _, _ = digits
    gn.seed(0)
    model = Sequential(
        [
            gn.layers.Flatten(input_shape=(8, 8)),
            Dense(32, activation="relu"),
            Dense(10, activation="linear"),
        ]
    )
    model.compile(optimizer=SGD(learning_rate=1e6), loss="mse")
    target = np.eye(10, dtype=np.float32)[y]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, target, epochs=5, batch_size=32, verbose=0)
    assert history.stopped_reason is not None and "epoch 1" in history.stopped_reason
    assert history.stopped_batch is not None
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert any("epoch 1" in m and f"batch {history.stopped_batch + 1}" in m for m in messages)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_progress_lines_when_not_a_terminal_and_silence_at_verbose_0(digits):
    x, y, _, _ = digits
    model = _compiled()
    out = io.StringIO()
    model.fit(x[:256], y[:256], epochs=2, batch_size=64, verbose=1, stream=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("Epoch 1/2") and "loss: " in lines[0] and "accuracy: " in lines[0]
    assert lines[1].startswith("Epoch 2/2")
    assert lines[2].startswith("Doctor: no problems found")  # the doctor's closing report
    quiet = io.StringIO()
    model.fit(x[:256], y[:256], epochs=1, verbose=0, stream=quiet)
    assert quiet.getvalue() == ""


def test_progress_bar_on_a_terminal(digits):
    x, y, _, _ = digits

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    model = _compiled()
    out = Terminal()
    model.fit(x[:256], y[:256], epochs=2, batch_size=64, verbose=1, stream=out)
    text = out.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert "4/4" in text and "loss: " in text


def test_summary_lists_layers_shapes_and_counts():
    model = Sequential(
        [
            gn.layers.Flatten(input_shape=(28, 28)),
            Dense(128, activation="relu"),
            gn.layers.Dropout(0.2),
            Dense(10, activation="softmax"),
        ]
    )
    printed: list[str] = []
    assert model.summary(print_fn=printed.append) is None  # as Keras: a notebook shows it once
    (text,) = printed
    for piece in [
        "flatten (Flatten)",
        "(None, 784)",
        "dense (Dense)",
        "(None, 128)",
        "100,480",
        "dropout (Dropout)",
        "dense_1 (Dense)",
        "(None, 10)",
        "1,290",
        "Total params: 101,770",
    ]:
        assert piece in text


def test_low_level_loop_pytorch_style():
    gn.seed(0)
    (x, y), _ = gn.datasets.load("iris")
    model = Sequential([Dense(16, activation="relu", input_dim=4), Dense(3)])
    opt = SGD(model.parameters(), learning_rate=0.1)
    loss_fn = gn.losses.SparseCategoricalCrossentropy(from_logits=True)
    xs = (x - x.mean(0)) / x.std(0)
    first = None
    for _ in range(100):
        opt.zero_grad()
        loss = loss_fn(y, model(xs))
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.3 * first
