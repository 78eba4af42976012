"""The plots: each returns a Figure, saves PNG or SVG by suffix, fails clearly without
matplotlib, and draws the right numbers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import lr_find
from glassnet.errors import GlassnetError, InvalidArgumentError, ShapeError
from glassnet.layers import Dense, Flatten
from glassnet.training import Sequential

pytest.importorskip("matplotlib")

from glassnet.diagnostics import plots  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digits_run():
    """A small trained classifier on the 8×8 digits with validation and telemetry."""
    (x, y), (xt, yt) = gn.datasets.load("digits")
    x, xt = (x / 16).astype(np.float32), (xt / 16).astype(np.float32)
    gn.seed(0)
    model = Sequential(
        [
            Flatten(input_shape=(8, 8)),
            Dense(32, activation="tanh"),
            Dense(16, activation="relu"),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, verbose=0, validation_data=(xt, yt), telemetry=5)
    return model, history, xt, yt


@pytest.fixture(scope="module")
def moons_run():
    (x, y), (xt, yt) = gn.datasets.load("moons", n=400, noise=0.15)
    gn.seed(0)
    model = Sequential([Dense(16, activation="tanh", input_dim=2), Dense(2, activation="softmax")])
    model.compile(
        optimizer=gn.optimizers.Adam(0.02),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=15, verbose=0)
    return model, xt, yt


def _all_figures(digits_run, moons_run):
    model, history, xt, yt = digits_run
    mmodel, mx, my = moons_run
    result = lr_find(model, xt, yt, steps=30)
    return {
        "loss_curves": lambda p: plots.loss_curves(history, p),
        "learning_rate": lambda p: plots.learning_rate(history, p),
        "gradient_norms": lambda p: plots.gradient_norms(history, p),
        "layer_health": lambda p: plots.layer_health(history, p),
        "lr_find_curve": lambda p: plots.lr_find_curve(result, p),
        "confusion_matrix": lambda p: plots.confusion_matrix(yt, model.predict(xt), p),
        "decision_boundary": lambda p: plots.decision_boundary(mmodel, mx, my, p),
        "weight_histograms": lambda p: plots.weight_histograms(model, p),
    }


def test_every_plot_saves_png_and_svg(digits_run, moons_run, tmp_path):
    from matplotlib.figure import Figure

    for name, draw in _all_figures(digits_run, moons_run).items():
        fig = draw(None)
        assert isinstance(fig, Figure), name
        assert fig.axes, name
        draw(tmp_path / f"{name}.png")
        draw(tmp_path / f"{name}.SVG")
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG, name
        assert b"<svg" in (tmp_path / f"{name}.SVG").read_bytes()[:400], name
    # Atomic writes leave no temporary files behind.
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".SVG"] * 8 + [".png"] * 8


def test_a_bad_suffix_fails_before_drawing(digits_run, tmp_path):
    _, history, _, _ = digits_run
    with pytest.raises(InvalidArgumentError, match=r"path must end in \.png or \.svg.*curves\.jpg"):
        plots.loss_curves(history, tmp_path / "curves.jpg")
    assert not any(tmp_path.iterdir())


def test_no_pyplot_state_is_touched(digits_run):
    import matplotlib
    import matplotlib.pyplot as plt

    _, history, _, _ = digits_run
    backend, figures = matplotlib.get_backend(), plt.get_fignums()
    plots.loss_curves(history)
    plots.weight_histograms(digits_run[0])
    # Figures are made on the Agg canvas directly: pyplot keeps no reference to them and the
    # user's backend is not switched.
    assert plt.get_fignums() == figures
    assert matplotlib.get_backend() == backend


def test_curves_show_the_history(digits_run):
    _, history, _, _ = digits_run
    fig = plots.loss_curves(history)
    loss_ax = fig.axes[0]
    assert loss_ax.get_title() == "loss"
    lines = {line.get_label(): line for line in loss_ax.get_lines()}
    np.testing.assert_allclose(lines["training"].get_ydata(), history.history["loss"])
    np.testing.assert_allclose(lines["validation"].get_ydata(), history.history["val_loss"])
    np.testing.assert_array_equal(lines["training"].get_xdata(), [1, 2, 3])
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]


def test_gradient_norms_and_health_follow_the_telemetry(digits_run):
    _, history, _, _ = digits_run
    tel = history.telemetry
    fig = plots.gradient_norms(history)
    left = fig.axes[0]
    by_label = {line.get_label(): line for line in left.get_lines()}
    assert set(by_label) == set(tel.layers)
    np.testing.assert_allclose(by_label["dense"].get_ydata(), tel.layers["dense"]["grad_norm"])
    health = plots.layer_health(history)
    sat = {line.get_label() for line in health.axes[0].get_lines()}
    dead = {line.get_label() for line in health.axes[1].get_lines()}
    assert sat == {"dense", "doctor's threshold"}  # tanh; the softmax output is left out
    assert dead == {"dense_1", "doctor's threshold"}  # the only ReLU layer


def test_confusion_matrix_counts():
    y_true = np.array([0, 0, 1, 1, 1, 2])
    scores = np.eye(3)[[0, 1, 1, 1, 2, 2]]  # one-hot "predictions"
    fig = plots.confusion_matrix(y_true, scores, class_names=["a", "b", "c"])
    image = np.asarray(fig.axes[0].images[0].get_array())
    np.testing.assert_array_equal(image, [[1, 1, 0], [0, 2, 1], [0, 0, 1]])
    assert "accuracy 0.667" in fig.axes[0].get_title()
    fig = plots.confusion_matrix(y_true, scores.argmax(1), normalize=True)
    np.testing.assert_allclose(np.asarray(fig.axes[0].images[0].get_array()).sum(axis=1), 1.0)
    with pytest.raises(ShapeError, match="same number of samples"):
        plots.confusion_matrix(y_true, y_true[:3])
    with pytest.raises(InvalidArgumentError, match="integer class labels"):
        plots.confusion_matrix(y_true, y_true + 0.5)


def test_decision_boundary_is_the_model_prediction(moons_run):
    model, x, y = moons_run
    fig = plots.decision_boundary(model, x, y, resolution=50)
    ax = fig.axes[0]
    accuracy = float((model.predict(x).argmax(1) == y).mean())
    assert f"accuracy {accuracy:.3f}" in ax.get_title()
    assert accuracy > 0.85
    with pytest.raises(ShapeError, match=r"\(N, 2\)"):
        plots.decision_boundary(model, np.zeros((4, 3)), np.zeros(4, dtype=int))


def test_decision_boundary_of_a_perceptron_is_a_line():
    """Seed 003's perceptron: one sigmoid unit separates the plane by the line w·x + b = 0."""
    gn.seed(0)
    model = Sequential([Dense(1, activation="sigmoid", input_dim=2)])
    model.layers[0].W.data[...] = [[1.0, -1.0]]
    model.layers[0].b.data[...] = [0.0]
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [1.0, 2.0]], dtype=np.float32)
    y = np.array([1, 0, 1, 0])
    fig = plots.decision_boundary(model, x, y, resolution=21)
    assert "accuracy 1.000" in fig.axes[0].get_title()


def test_histograms_one_panel_per_dense_layer(digits_run):
    model, _, _, _ = digits_run
    fig = plots.weight_histograms(model)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    assert visible[0].get_title().startswith("dense (tanh)")
    with pytest.raises(InvalidArgumentError, match="no built layer with weights"):
        plots.weight_histograms(Sequential([Flatten()]))


def test_telemetry_is_required_where_it_is_drawn(digits_run):
    model, _, xt, yt = digits_run
    history = model.fit(xt[:64], yt[:64], epochs=1, verbose=0, telemetry=False)
    for draw in (plots.learning_rate, plots.gradient_norms, plots.layer_health):
        with pytest.raises(InvalidArgumentError, match="telemetry=True"):
            draw(history)


def test_missing_matplotlib_is_a_clear_error(digits_run, monkeypatch):
    _, history, _, _ = digits_run
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(
        plots.MissingDependencyError, match=r"pip install glassnet\[plots\]"
    ) as info:
        plots.loss_curves(history)
    assert isinstance(info.value, GlassnetError) and isinstance(info.value, ImportError)


def test_importing_glassnet_diagnostics_does_not_import_matplotlib():
    code = (
        "import sys, glassnet, glassnet.diagnostics as d; d.Doctor; d.lr_find; "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
