"""Issue 17's regressions in training, the doctor, the plots and the report."""

from __future__ import annotations

import colorsys
import re

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import report
from glassnet.errors import InvalidArgumentError
from glassnet.explain import Perceptron
from glassnet.layers import Dense
from glassnet.training import Sequential
from glassnet.training.progress import format_logs


def _blobs(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)


def _model(lr: float, hidden_activation: str = "sigmoid") -> Sequential:
    gn.seed(0)
    model = Sequential(
        [Dense(4, activation=hidden_activation, input_dim=2), Dense(2, activation="softmax")]
    )
    model.compile(
        optimizer=gn.optimizers.SGD(learning_rate=lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_the_doctor_reports_at_verbose_0_too(capsys) -> None:
    x, y = _blobs()
    loud = _model(50.0).fit(x, y, epochs=4, batch_size=20, verbose=1)
    capsys.readouterr()
    quiet = _model(50.0).fit(x, y, epochs=4, batch_size=20, verbose=0)
    assert capsys.readouterr().out == ""  # silent ...
    assert [f.rule for f in loud.findings] and (  # ... but watching, with the same findings
        [f.as_dict() for f in quiet.findings] == [f.as_dict() for f in loud.findings]
    )
    none = _model(50.0).fit(x, y, epochs=1, batch_size=20, verbose=0, doctor=False)
    assert none.findings == []


def test_train_step_after_compile_needs_no_bind() -> None:
    x, y = _blobs(8)
    model = _model(0.5)
    twin = _model(0.5)
    before = [p.data.copy() for p in model.parameters()]
    loss = model.train_step(x, y).loss
    # the same step by hand: backward through the engine, then w := w − α ∂C/∂w
    cost = twin.loss(y, twin(gn.tensor(x)))
    cost.backward()
    assert loss == pytest.approx(float(cost.data), rel=1e-6)
    for p, q, old in zip(model.parameters(), twin.parameters(), before):
        np.testing.assert_allclose(p.data, old - 0.5 * q.grad, rtol=1e-5, atol=1e-7)
    uncompiled = Sequential([Dense(2, input_dim=2)])
    with pytest.raises(InvalidArgumentError, match="compile"):
        uncompiled.train_step(x, y)


def test_huge_losses_are_not_printed_with_37_digits() -> None:
    text = format_logs({"loss": 4.2484041875964802e35, "accuracy": 0.4258})
    assert text == "loss: 4.248e+35 - accuracy: 0.4258"


def _hue(colour) -> float:
    r, g, b = colour[:3]
    return colorsys.rgb_to_hsv(r, g, b)[0]


def test_decision_boundary_points_differ_in_hue_from_their_region() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.collections import PathCollection

    from glassnet.diagnostics import plots

    x, y = _blobs()
    model = _model(0.5)
    model.fit(x, y, epochs=5, batch_size=20, verbose=0)
    fig = plots.decision_boundary(model, x, y, resolution=30, class_names=["left", "right"])
    ax = fig.axes[0]
    region = ax.collections[0]  # contourf: one filled level per class
    region_colours = region.get_facecolor() if hasattr(region, "get_facecolor") else None
    assert region_colours is not None and len(region_colours) == 2
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(points) == 2
    for cls, coll in enumerate(points):
        face = coll.get_facecolor()[0]
        assert abs(_hue(face) - _hue(region_colours[cls])) > 0.08  # another hue
        assert np.allclose(coll.get_edgecolor()[0][:3], 0.0)  # black edge
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["left", "right"]


@pytest.mark.parametrize("output", ["step", "sign"])
def test_decision_boundary_of_seed_003s_perceptron(output: str) -> None:
    pytest.importorskip("matplotlib")
    from glassnet.diagnostics import plots

    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 0, 0, 1]) if output == "step" else np.array([-1, -1, -1, 1])
    p = Perceptron(output=output)
    p.fit(x, y)
    fig = plots.decision_boundary(p, x, y, resolution=25)  # crashed: no attribute 'dtype'
    assert "accuracy 1.000" in fig.axes[0].get_title()


@pytest.fixture(scope="module")
def softmax_report(tmp_path_factory) -> str:
    pytest.importorskip("matplotlib")
    x, y = _blobs(300)
    model = _model(0.5, hidden_activation="relu")
    history = model.fit(x, y, epochs=3, batch_size=20, verbose=0)
    path = tmp_path_factory.mktemp("r") / "r.html"
    return report(history, model, path, x=x[:60], y=y[:60], class_names=["cat", "dog"]).read_text()


def _layer_rows(page: str) -> list[list[str]]:
    table = re.search(r"<th[^>]*>layer</th>.*?</table>", page, re.S)
    assert table is not None
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S)
    return [re.findall(r"<td[^>]*>(.*?)</td>", r, re.S) for r in rows]


def test_report_layer_table_has_no_nan_and_explains_softmax(softmax_report: str) -> None:
    rows = _layer_rows(softmax_report)
    assert rows and all("nan" not in cell.lower() for row in rows for cell in row)
    relu, softmax = rows
    assert softmax[1] == "softmax" and softmax[7] == "—"  # saturation: not judged
    assert relu[1] == "relu" and relu[8] != "—"  # dead fraction applies to ReLU
    assert "Saturation is not judged for the softmax output" in softmax_report


def test_report_caption_mentions_validation_only_with_validation_data(softmax_report: str) -> None:
    assert "validation (dashed)" not in softmax_report
    assert "no validation data" in softmax_report
    x, y = _blobs(200)
    model = _model(0.5)
    history = model.fit(x, y, epochs=2, batch_size=20, verbose=0, validation_split=0.2)
    from glassnet.diagnostics.report import render_report

    assert "validation (dashed)" in render_report(history, model)


def test_report_uses_the_class_names(softmax_report: str, tmp_path) -> None:
    assert 'alt="Confusion matrix on the test data"' in softmax_report
    from glassnet.diagnostics import plots

    fig = plots.confusion_matrix([0, 1, 1], [0, 1, 0], class_names=["T-shirt/top", "Trouser"])
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["T-shirt/top", "Trouser"]
    with pytest.raises(InvalidArgumentError, match="class_names"):
        report(None or _model(0.1).fit(*_blobs(40), epochs=1, verbose=0), _model(0.1),
               tmp_path / "x.html", class_names="cat")  # fmt: skip


def test_activation_plot_draws_each_function_and_its_derivative() -> None:
    pytest.importorskip("matplotlib")
    from glassnet.diagnostics import plots

    fig = plots.activations(["sigmoid", "tanh", "relu", "step"])
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["sigmoid", "tanh", "relu", "step"]
    for ax in axes[:3]:
        value, prime = ax.get_lines()[:2]
        z, a = value.get_data()
        _, d = prime.get_data()
        # σ' against central differences of the plotted σ (away from ReLU's kink)
        slope = np.gradient(a, z)
        smooth = np.abs(z) > 0.05
        np.testing.assert_allclose(d[smooth][1:-1], slope[smooth][1:-1], atol=2e-3)
    z, a = axes[0].get_lines()[0].get_data()
    np.testing.assert_allclose(a, 1 / (1 + np.exp(-z)), rtol=1e-12)
    assert max(axes[0].get_lines()[1].get_data()[1]) == pytest.approx(0.25, abs=1e-4)
    with pytest.raises(InvalidArgumentError, match="names"):
        plots.activations([])


def test_boundary_animation_writes_one_frame_per_epoch(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    image = pytest.importorskip("PIL.Image")
    from glassnet.diagnostics import plots

    x, y = _blobs(120)
    model = _model(0.5)
    accuracies = plots.boundary_animation(model, x, y, tmp_path / "b.gif", epochs=4, resolution=30)
    gif = image.open(tmp_path / "b.gif")
    assert gif.format == "GIF" and gif.n_frames == 5  # before training, then each epoch
    assert len(accuracies) == 5 and accuracies[-1] > 0.9
    # the last frame is the model as trained: its accuracy is the model's
    final = float((model.predict(x).argmax(1) == y).mean())
    assert accuracies[-1] == pytest.approx(final)
    with pytest.raises(InvalidArgumentError, match=".gif"):
        plots.boundary_animation(model, x, y, tmp_path / "b.png")


def test_chinese_labels_are_drawn_with_a_cjk_font(tmp_path) -> None:
    """Issue 17: plots showed boxes for CJK characters (DejaVu Sans has none)."""
    pytest.importorskip("matplotlib")
    import warnings

    from glassnet.diagnostics import plots

    if plots.cjk_font() is None:
        pytest.skip("no CJK font installed (Debian: fonts-noto-cjk)")
    fig = plots.confusion_matrix([0, 1, 1], [0, 1, 0], class_names=["猫", "狗"])
    ticks = fig.axes[0].get_xticklabels()
    assert plots.cjk_font() in ticks[0].get_fontfamily()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plots.save_figure(fig, tmp_path / "cm.png")
    assert not [w for w in caught if "missing from" in str(w.message)]  # no glyph is a box


def test_report_findings_show_scripts_not_carets(tmp_path) -> None:
    import html as html_module

    from glassnet.diagnostics.report import _rich

    text = "By BP4 ∂C/∂w = a^(l-1) δ^l is 0; BP2 multiplies by (W^(l+1))ᵀ"
    rendered = _rich(text)
    words = html_module.unescape(re.sub(r"<math.*?</math>", "", rendered, flags=re.S))
    assert "^" not in words
    assert rendered.count("<msup>") == 3 and "BP4" in words
