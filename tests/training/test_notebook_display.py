"""What a notebook shows (issue 17, item 7): the HTML of Model, History, the doctor's findings
and the lr-finder read back with html.parser and compared with the objects' own numbers; the
notebook's progress bar (same numbers as the terminal's, at most ~10 redraws a second); no
IPython import outside a kernel. The kernel itself is exercised in test_notebook_kernel.py."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.keras as keras
from _html_parse import Page, polyline_points
from glassnet import layers as L
from glassnet.diagnostics import Finding, Findings, diagnose, lr_find
from glassnet.training import progress as progress_module
from glassnet.training.progress import Progress, format_value


def _data(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4)).astype(np.float32)
    return x, (x.sum(axis=1) > 2).astype(np.int64)


# --- Model -------------------------------------------------------------------------------------
def test_a_sequentials_table_has_its_layers_shapes_and_parameters() -> None:
    model = gn.Sequential(
        [
            L.Input((4,)),
            L.Dense(5, activation="relu", name="<hidden> & co"),
            L.Dropout(0.1),
            L.Dense(3, activation="softmax"),
        ],
        name='net "one"',
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    html = model._repr_html_()
    assert "<hidden>" not in html and "&lt;hidden&gt; &amp; co" in html  # names escaped
    page = Page(html)
    (table,) = page.tables
    assert table[0] == ["Layer (type)", "Output Shape", "Param #"]
    names = [layer.name for layer in model.layers]
    # By hand: Dense 4→5 has 4·5 + 5 parameters, Dropout none, Dense 5→3 has 5·3 + 3.
    expected = [
        [f"{names[0]} (Dense)", "(None, 5)", "25"],
        [f"{names[1]} (Dropout)", "(None, 5)", "0"],
        [f"{names[2]} (Dense)", "(None, 3)", "18"],
    ]
    assert table[1:] == expected
    text = page.all_text()
    assert 'Sequential "net "one""' in text
    assert "Total params: 43" in text and "Trainable params: 43" in text
    assert "Non-trainable params: 0" in text
    assert "compiled with Adam, loss SparseCategoricalCrossentropy, metrics accuracy" in text
    # The terminal's summary shows the same rows (one table behind both).
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    for row in expected:
        assert any(
            row[0] in line and row[1] in line and row[2] in line for line in lines[0].split("\n")
        )


def test_a_functional_models_table_has_its_calls_and_connections() -> None:
    a = keras.Input((3,), name="a")
    b = keras.Input((2,), name="b")
    shared = keras.layers.Dense(4, name="shared")
    joined = keras.layers.Concatenate(name="join")(
        [shared(keras.layers.Dense(3, name="pa")(a)), shared(keras.layers.Dense(3, name="pb")(b))]
    )
    model = keras.Model([a, b], keras.layers.Dense(1, name="out")(joined), name="two_inputs")
    page = Page(model._repr_html_())
    (table,) = page.tables
    assert table[0] == ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    rows = {row[0]: row[1:] for row in table[1:]}
    # By hand: pa 3·3+3 = 12, pb 2·3+3 = 9, shared 3·4+4 = 16 (counted at its first call
    # only), out 8·1+1 = 9.
    assert rows["pa (Dense)"] == ["(None, 3)", "12", "a[0][0]"]
    assert rows["pb (Dense)"] == ["(None, 3)", "9", "b[0][0]"]
    assert rows["join (Concatenate)"] == ["(None, 8)", "0", "shared[0][0], shared[1][0]"]
    assert rows["out (Dense)"] == ["(None, 1)", "9", "join[0][0]"]
    shared_rows = [row for row in table[1:] if row[0] == "shared (Dense)"]
    assert [r[2] for r in shared_rows] == ["16", "0"]
    assert "Total params: 46" in page.all_text()
    assert model.count_params() == 46


def _table(page: Page, first_header: str) -> list[list[str]]:
    (table,) = [t for t in page.tables if t and t[0][0] == first_header]
    return table


# --- History -----------------------------------------------------------------------------------
def _fit(epochs: int, **options: Any) -> tuple[Any, Any]:
    gn.seed(1)
    x, y = _data()
    model = gn.Sequential(
        [L.Input((4,)), L.Dense(6, activation="relu"), L.Dense(2, activation="softmax")]
    )
    model.compile(gn.optimizers.SGD(0.2), "sparse_categorical_crossentropy", ["accuracy"])
    return model, model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, **options)


def test_historys_table_and_curves_hold_its_numbers() -> None:
    _, history = _fit(6, validation_split=0.25)
    page = Page(history._repr_html_())
    table = _table(page, "epoch")
    keys = list(history.history)
    assert table[0] == ["epoch", *keys]
    assert len(table) == 1 + 6
    for i, row in enumerate(table[1:]):
        assert row[0] == str(i + 1)
        assert row[1:] == [format_value(k, history.history[k][i]) for k in keys]
    # One chart per metric, its val_ twin dashed; each line's points go up where the value
    # goes down (SVG's y grows downwards) and are spaced by epoch.
    lines = page.find("polyline")
    assert len(lines) == len(keys)  # every series finite: one unbroken line each
    for attrs, key in zip(lines, ["loss", "val_loss", "accuracy", "val_accuracy"]):
        values = np.array(history.history[key])
        points = polyline_points(attrs)
        assert len(points) == 6
        xs, ys = np.array(points).T
        assert np.all(np.diff(xs) > 0) and np.allclose(np.diff(xs), np.diff(xs)[0], atol=0.15)
        # y is an affine, decreasing function of the value
        if np.ptp(values) > 0:
            slope = np.polyfit(values, ys, 1)[0]
            assert slope < 0
            assert np.allclose(np.polyval(np.polyfit(values, ys, 1), values), ys, atol=0.1)
        assert ("stroke-dasharray" in attrs) == key.startswith("val_")


def test_a_long_historys_table_shows_its_first_and_last_epochs() -> None:
    _, history = _fit(30)
    table = _table(Page(history._repr_html_()), "epoch")
    epochs = [row[0] for row in table[1:]]
    half = history.HTML_ROWS // 2
    assert epochs == [str(e) for e in range(1, half + 1)] + ["…"] + [
        str(e) for e in range(31 - half, 31)
    ]
    assert table[-1][1] == format_value("loss", history.history["loss"][-1])


def test_a_historys_display_says_why_it_stopped_and_what_the_doctor_found() -> None:
    _, history = _fit(3)
    history.stopped_reason = "the loss became NaN at epoch 3, batch 2 <demo>"
    history.findings = Findings(
        [Finding("overfitting", None, 1, "val_loss rises & loss falls.", "Add Dropout.", "info")]
    )
    page = Page(history._repr_html_())
    text = page.all_text()
    assert "Stopped early: the loss became NaN at epoch 3, batch 2 <demo>" in text
    assert ["info", "overfitting", "", "2", "val_loss rises & loss falls.", "Add Dropout."] in (
        _table(page, "severity")
    )


# --- findings ----------------------------------------------------------------------------------
def test_the_doctors_findings_show_as_a_table_of_severity_evidence_and_advice() -> None:
    gn.seed(0)
    x, y = _data(200)
    model = gn.Sequential(
        [L.Input((4,)), L.Dense(8, activation="relu"), L.Dense(2, activation="softmax")]
    )
    model.compile("sgd", "sparse_categorical_crossentropy")
    # Inputs up to 100: the doctor must say they are not scaled.
    history = model.fit(x * 100, y, epochs=5, batch_size=16, verbose=0)
    findings = history.findings
    assert isinstance(findings, Findings)
    assert "unscaled_inputs" in [f.rule for f in findings]
    found = diagnose(history, model)
    assert isinstance(found, Findings)
    page = Page(findings._repr_html_())
    (table,) = page.tables
    assert table[0] == ["severity", "rule", "layer", "epoch", "evidence", "what to do"]
    assert len(table) == 1 + len(findings)
    for row, f in zip(table[1:], findings):
        assert row[:4] == [f.severity, f.rule, f.layer or "", str(f.epoch + 1)]
        # The evidence's words are there (its symbols are MathML, whose text is the symbol).
        assert row[4].split()[:3] == f.evidence.split()[:3]
        assert row[5].split()[:3] == f.suggestion.split()[:3]
    assert f"Doctor: {len(findings)} finding" in page.all_text()
    assert "no problems found" in Findings()._repr_html_()
    assert isinstance(findings, list) and repr(findings) == repr(list(findings))


# --- lr-finder ---------------------------------------------------------------------------------
def test_the_lr_finders_display_has_its_curve_and_suggestion() -> None:
    gn.seed(0)
    x, y = _data(512)
    model = gn.Sequential(
        [L.Input((4,)), L.Dense(8, activation="relu"), L.Dense(2, activation="softmax")]
    )
    model.compile("sgd", "sparse_categorical_crossentropy")
    result = lr_find(model, x, y, steps=60)
    assert result.suggestion is not None
    page = Page(result._repr_html_())
    text = page.all_text()
    assert f"suggested learning rate: {result.suggestion:.2g}" in text
    assert f"suggested α = {result.suggestion:.2g}" in text
    lines = page.find("polyline")
    n = result.learning_rates.size
    assert sum(len(polyline_points(a)) for a in lines) == 2 * n  # raw and smoothed, no gap
    # The marker stands where the suggestion lies on the log axis, between the first and last
    # points' x in proportion to log(rate).
    smooth = polyline_points(lines[-1])
    first, last = smooth[0][0], smooth[-1][0]
    logs = np.log10(result.learning_rates)
    where = first + (np.log10(result.suggestion) - logs[0]) / (logs[-1] - logs[0]) * (last - first)
    marker = [a for a in page.find("line") if a.get("stroke-dasharray") == "2,3"]
    assert len(marker) == 1
    # the plot area's lines are drawn relative to the nested svg at x=52
    assert abs(float(marker[0]["x1"]) - (where + 52)) < 0.2


# --- the progress bar --------------------------------------------------------------------------
class _Screen:
    """Stands in for IPython's display: records each HTML the bar sends."""

    shown: list[str] = []

    def __init__(self, first: str) -> None:
        _Screen.shown = [first]

    def update(self, text: str) -> None:
        _Screen.shown.append(text)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_in_a_notebook_the_bar_is_one_html_display_redrawn_at_most_ten_times_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress_module, "in_notebook", lambda: True)
    monkeypatch.setattr(progress_module, "LiveDisplay", _Screen)
    clock = _Clock()
    bar = Progress(2, 500, verbose=1, clock=clock)
    assert bar.mode == "html"
    text_bar = Progress(2, 500, verbose=1, stream=None, bar=True, clock=clock)  # the terminal's
    epoch_logs = []
    for epoch in range(2):
        bar.epoch_begin(epoch)
        text_bar.epoch_begin(epoch)
        for step in range(1, 501):
            clock.now += 0.004  # 2 s per epoch
            logs = {"loss": 1.0 / step, "accuracy": step / 500}
            bar.update(step, logs)
            text_bar._first_done = bar._first_done
        if epoch == 0:
            # Mid-run the display's ETA is the terminal line's.
            line = text_bar.line(400, {"loss": 0.5}, clock.now - 0.4, 200)
            assert "ETA" in line
        epoch_logs.append({"loss": 1.0 / 500 + epoch, "accuracy": 1.0})
        bar.epoch_end(epoch, epoch_logs[-1])
    bar.close()
    # 4 s of training: at most ~10 redraws a second, plus the first and the last.
    assert 2 <= len(_Screen.shown) <= 4 * 10 + 2
    final = Page(_Screen.shown[-1])
    table = final.tables[0]
    assert table[0] == ["epoch", "time", "loss", "accuracy"]
    assert [row[0] for row in table[1:]] == ["1/2", "2/2"]
    assert table[1][2:] == [format_value("loss", epoch_logs[0]["loss"]), "1.0000"]
    assert table[1][1] == "2.00s"  # 500 steps of 4 ms
    running = [page for page in map(Page, _Screen.shown) if page.find("progress")]
    assert running, "the running epoch shows a <progress> bar"
    bars = [(int(a["value"]), int(a["max"])) for p in running for a in p.find("progress")]
    assert all(m == 500 and 1 <= v <= 500 for v, m in bars)
    assert len(set(bars)) > 1  # the bar moved


def test_the_notebook_bar_and_the_terminal_line_show_the_same_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress_module, "in_notebook", lambda: True)
    monkeypatch.setattr(progress_module, "LiveDisplay", _Screen)
    clock = _Clock()
    bar = Progress(5, 100, verbose=1, clock=clock)
    bar.epoch_begin(2)
    for step in range(1, 41):
        clock.now += 0.5
        bar.update(step, {"loss": 0.123456, "accuracy": 0.5})
    line = bar.line(40, {"loss": 0.123456, "accuracy": 0.5}, clock.now, 200)
    page = Page(bar._html_bar(40, {"loss": 0.123456, "accuracy": 0.5}, clock.now))
    text = page.all_text()
    assert line.startswith("Epoch 3/5  40/100")
    assert "Epoch 3/5" in text and "40/100" in text
    # ETA from the steps after the first: 39 steps in 19.5 s → 60 steps left take 30 s.
    assert "ETA  0:30" in line and "ETA 0:30" in text
    assert "loss: 0.1235 - accuracy: 0.5000" in line and "loss: 0.1235 - accuracy: 0.5000" in text
    assert "0:20 elapsed" in text


def test_outside_a_kernel_the_bar_stays_text_and_ipython_is_not_imported() -> None:
    code = (
        "import sys, io, numpy as np, glassnet as gn\n"
        "from glassnet import layers as L\n"
        "from glassnet.training._notebook import in_notebook\n"
        "m = gn.Sequential([L.Input((2,)), L.Dense(1)]); m.compile('sgd', 'mse')\n"
        "m.fit(np.zeros((8, 2), 'float32'), np.zeros((8, 1), 'float32'), epochs=2, verbose=1)\n"
        "m._repr_html_(); m.history._repr_html_()\n"
        "print('IPython' in sys.modules, in_notebook())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert "Epoch 1/2 - 1 steps" in out and "Epoch 2/2" in out
    assert "<div" not in out
    assert out.strip().endswith("False False")


def test_in_notebook_needs_a_kernels_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    from glassnet.training._notebook import in_notebook

    class ZMQInteractiveShell:
        pass

    class ColabShell(ZMQInteractiveShell):
        pass

    class TerminalInteractiveShell:
        pass

    class FakeIPython:
        shell: Any = None

        def get_ipython(self) -> Any:
            return self.shell

    fake = FakeIPython()
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert not in_notebook()  # IPython imported, no shell running
    fake.shell = TerminalInteractiveShell()
    assert not in_notebook()
    fake.shell = ColabShell()
    assert in_notebook()
    monkeypatch.delitem(sys.modules, "IPython")
    assert not in_notebook()
