"""The progress bar: its ETA leaves out the first step's warm-up, and its metrics are never cut,
whatever the terminal's width (the bar takes what room is left)."""

from __future__ import annotations

import io

import pytest

from glassnet.training.progress import Progress

LOGS = {"loss": 0.432109, "accuracy": 0.876543, "val_loss": 0.512345, "val_accuracy": 0.854321}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _frames(text: str) -> list[str]:
    """Each redraw of the bar (separated by carriage returns), trailing blanks removed."""
    return [f.rstrip() for f in text.replace("\n", "\r").split("\r") if f.strip()]


def test_the_eta_leaves_out_the_first_steps_warm_up():
    clock = FakeClock()
    out = io.StringIO()
    progress = Progress(5, 1875, verbose=1, stream=out, bar=True, clock=clock)
    progress.epoch_begin(0)
    clock.now = 4.0  # the first step compiles: 4 s, when later steps take 2 ms
    progress.update(1, {"loss": 2.3})
    assert "ETA" not in _frames(out.getvalue())[-1]  # nothing to estimate from yet
    assert progress.eta(1, clock.now) is None
    for step in range(2, 201):
        clock.now += 0.002
        progress.update(step, {"loss": 1.0})
    left = progress.eta(200, clock.now)
    assert left == pytest.approx(0.002 * (1875 - 200))  # 3.35 s, not 1875 × 4 s ≈ 2 h
    assert "ETA  0:03" in _frames(out.getvalue())[-1]
    # The estimate counted from the start would have been more than half an hour:
    assert clock.now / 200 * (1875 - 200) > 30


@pytest.mark.parametrize("columns", [60, 80, 120, 200])
def test_metrics_are_shown_whole_and_the_bar_takes_the_rest(columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(columns))
    clock = FakeClock()
    out = io.StringIO()
    progress = Progress(5, 1875, verbose=1, stream=out, bar=True, clock=clock)
    progress.epoch_begin(2)
    for step in (1, 2, 3, 900):
        clock.now += 0.5
        progress.update(step, LOGS)
    frame = _frames(out.getvalue())[-1]
    for piece in ("loss: 0.4321", "accuracy: 0.8765", "val_loss: 0.5123", "val_accuracy: 0.8543"):
        assert piece in frame, (columns, frame)
    assert frame.startswith("Epoch 3/5  900/1875")  # padded to the total's width
    needed = len("Epoch 3/5  900/1875 - ") + len(
        "loss: 0.4321 - accuracy: 0.8765 - val_loss: 0.5123 - val_accuracy: 0.8543"
    )
    if needed <= columns:
        assert len(frame) <= columns, (columns, frame)
    if "[" in frame:
        bar = frame[frame.index("[") + 1 : frame.index("]")]
        assert len(bar) >= 10  # never one lone block
        assert len(frame) == columns  # the bar fills the line
        filled = bar.count("█")
        assert filled == len(bar) * 900 // 1875
    if columns >= 200:
        assert "[" in frame and "ETA" in frame
    progress.epoch_end(2, LOGS)
    last = out.getvalue().rstrip("\n").split("\r")[-1]
    assert "val_accuracy: 0.8543" in last and out.getvalue().endswith("\n")


def test_a_shorter_redraw_blanks_what_the_longer_one_left(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    clock = FakeClock()
    out = io.StringIO()
    progress = Progress(1, 10, verbose=1, stream=out, bar=True, clock=clock)
    progress.epoch_begin(0)
    progress.update(1, {"loss": 0.5, "a_long_metric_name": 0.25})
    clock.now += 1
    progress.update(2, {"loss": 0.5})
    first, second = out.getvalue().split("\r")[1:3]
    assert len(second) >= len(first.rstrip())


def test_the_bar_keeps_its_length_while_the_step_count_grows(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    clock = FakeClock()
    out = io.StringIO()
    progress = Progress(1, 1875, verbose=1, stream=out, bar=True, clock=clock)
    progress.epoch_begin(0)
    for step in (1, 2, 3, 45, 900, 1875):
        clock.now += 0.5
        progress.update(step, {"loss": 0.5})
    bars = [f[f.index("[") : f.index("]")] for f in _frames(out.getvalue()) if "[" in f]
    # Once the ETA shows (from step 3), only the metrics' text could change the length.
    assert len(bars) == 6 and len({len(b) for b in bars[2:]}) == 1
