"""Progress display for fit/evaluate: a bar on a terminal or in a notebook, else lines.

verbose=0: nothing. verbose=1: a bar redrawn in place when the stream is a terminal (like
Keras's Progbar: ``Epoch 3/5``, steps, ETA, ``loss: 0.4321``); in a Jupyter kernel (and no
``stream`` given) one HTML display updated in place (``_notebook.py``) with the same numbers;
else one summary line per epoch. verbose=2: one summary line per epoch. The bar is drawn here
rather than by tqdm: tqdm cut the line at the terminal's width, metrics included, and
estimated the ETA from the first step, whose warm-up made it hours.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from ..i18n import t
from ._notebook import LiveDisplay, box, escape, html_table, in_notebook

__all__ = ["Progress", "format_logs", "format_value"]


def format_value(key: str, value: Any) -> str:
    """One metric as fit shows it: ``0.4321``; learning rates and values ≥ 1e5 in %g."""
    if isinstance(value, float):
        # A diverging loss (4.2e+35) in %f would print 37 digits.
        big = abs(value) >= 1e5
        return f"{value:.4g}" if "learning_rate" in key or big else f"{value:.4f}"
    return str(value)


def format_logs(logs: dict[str, Any]) -> str:
    """``loss: 0.4321 - accuracy: 0.8765`` (learning rates and values ≥ 1e5 in %g)."""
    return " - ".join(f"{key}: {format_value(key, value)}" for key, value in logs.items())


def _epoch(epoch: int, epochs: int) -> str:
    """``Epoch 3/5`` (0-based ``epoch``), in the current language."""
    return t("Epoch {n}/{total}").format(n=epoch + 1, total=epochs)


def _columns_of(text: str) -> int:
    """Terminal columns ``text`` takes: two for a wide (CJK) character, one otherwise."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _clock_text(seconds: float) -> str:
    """0:07, 3:12, 1:02:03: as tqdm and Keras show times."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# The ETA is estimated from the steps after the first (whose time includes compiling the
# kernels, binding the optimiser, the first touch of every buffer: it may last as long as a
# hundred later steps), and only once this many of them have been timed.
ETA_AFTER_STEPS = 2
MIN_BAR = 10  # narrower than this the bar says nothing; the line goes without it


class Progress:
    """One epoch's progress at a time.

    On a terminal the bar is one line redrawn in place: ``Epoch 3/5 120/469 [███····] ETA 0:12
    - loss: 0.4321 - accuracy: 0.8765``. The metrics are always shown whole: the bar takes what
    width the terminal (``shutil.get_terminal_size()``) leaves, and goes, then the ETA, when
    there is not room for both.
    """

    def __init__(
        self,
        epochs: int,
        steps: int,
        verbose: int,
        stream: IO[str] | None = None,
        bar: bool | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.epochs = epochs
        self.steps = steps
        self.verbose = verbose
        self.clock = clock
        use_bar = _is_terminal(self.stream) if bar is None else bar
        self.mode = "none" if verbose == 0 else ("bar" if verbose == 1 and use_bar else "line")
        if verbose == 1 and stream is None and bar is None and in_notebook():
            self.mode = "html"
        self._live: LiveDisplay | None = None
        self._live_at = -1.0  # when the notebook display was last redrawn
        self._finished: list[tuple[int, float, dict[str, Any]]] = []  # (epoch, seconds, logs)
        self._current = ""  # the running epoch's part of the notebook display
        self._epoch = 0
        self._started = 0.0
        self._first_done: float | None = None  # when the first (warm-up) step ended
        self._last_refresh = -1.0
        self._drawn = 0  # length of the line on screen, to blank what a shorter one leaves

    def epoch_begin(self, epoch: int) -> None:
        self._epoch = epoch
        self._started = self.clock()
        self._first_done = None
        self._last_refresh = -1.0
        self._drawn = 0

    def eta(self, step: int, now: float) -> float | None:
        """Seconds left after ``step`` steps, from the steps after the first; None until
        ``ETA_AFTER_STEPS`` of them are timed."""
        if self._first_done is None or step - 1 < ETA_AFTER_STEPS:
            return None
        per_step = (now - self._first_done) / (step - 1)
        return per_step * (self.steps - step)

    def line(self, step: int, logs: dict[str, Any], now: float, width: int) -> str:
        """The bar's line after ``step`` steps, at most ``width`` columns unless the metrics
        alone need more (they are never cut)."""
        # The step count padded to the total's width, so the bar keeps its length.
        head = f"{_epoch(self._epoch, self.epochs)} {step:>{len(str(self.steps))}}/{self.steps}"
        metrics = format_logs(logs)
        left = self.eta(step, now)
        # Padded to 5 (up to 59:59) so that the bar keeps its length as the ETA falls.
        eta = f"{t('ETA')} {_clock_text(left):>5}" if left is not None else ""
        tail = " - ".join(part for part in (eta, metrics) if part)
        # the spaces and brackets around the bar; a Chinese character takes two columns
        room = width - _columns_of(head) - _columns_of(tail) - 4
        if room >= MIN_BAR:
            filled = room * step // max(self.steps, 1)
            bar = "█" * filled + "·" * (room - filled)
            return f"{head} [{bar}] {tail}".rstrip()
        if eta and _columns_of(head) + _columns_of(tail) + 1 > width:
            tail = metrics
        return f"{head} - {tail}" if tail else head

    def _draw(self, text: str) -> None:
        pad = " " * max(0, self._drawn - len(text))
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._drawn = len(text)

    def update(self, step: int, logs: dict[str, Any]) -> None:
        """After ``step`` steps of this epoch (1-based), with the running metrics."""
        if self.mode not in ("bar", "html"):
            return
        now = self.clock()
        if step == 1 and self._first_done is None:
            self._first_done = now
        if self.mode == "html":
            self._current = self._html_bar(step, logs, now)
            self._show(now)
            return
        if now - self._last_refresh >= 0.1 or step == self.steps or step == 1:
            self._last_refresh = now
            self._draw(self.line(step, logs, now, _columns()))

    def epoch_end(self, epoch: int, logs: dict[str, Any]) -> float:
        """End the bar's line or print the summary line; returns the epoch's seconds."""
        seconds = self.clock() - self._started
        per_step = seconds / max(self.steps, 1) * 1000
        summary = t("{steps} steps - {seconds}s ({per_step}ms/step)").format(
            steps=self.steps, seconds=f"{seconds:.2f}", per_step=f"{per_step:.2f}"
        )
        if self.mode == "html":
            self._finished.append((epoch, seconds, dict(logs)))
            self._current = ""
            self._show(self.clock())
        elif self.mode == "bar":
            head = f"{_epoch(epoch, self.epochs)} {self.steps}/{self.steps}"
            self._draw(f"{head} - {seconds:.2f}s - {format_logs(logs)}")
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0
        elif self.mode == "line":
            print(
                f"{_epoch(epoch, self.epochs)} - {summary} - {format_logs(logs)}",
                file=self.stream,
                flush=True,
            )
        return seconds

    def close(self) -> None:
        """End a line left open (fit stopped in the middle of an epoch); in a notebook,
        draw the display's last state (updates in between are at most 10 a second)."""
        if self.mode == "html" and self._live is not None:
            self._live.update(self._html())
        if self.mode == "bar" and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0

    # -- the notebook's rendering of the same numbers ------------------------------------------
    def _html_bar(self, step: int, logs: dict[str, Any], now: float) -> str:
        """The running epoch: a native <progress> bar, step/steps, elapsed time, ETA, metrics."""
        left = self.eta(step, now)
        times = t("{time} elapsed").format(time=_clock_text(now - self._started)) + (
            f" - {t('ETA')} {_clock_text(left)}" if left is not None else ""
        )
        return (
            f"<div><b>{escape(_epoch(self._epoch, self.epochs))}</b> "
            f'<progress value="{step}" max="{max(self.steps, 1)}" '
            'style="width:240px;vertical-align:middle"></progress> '
            f"{step}/{self.steps} - {escape(times)}</div>"
            f'<div style="font-family:monospace">{escape(format_logs(logs))}</div>'
        )

    def _html(self) -> str:
        """The whole display: the finished epochs as a table, then the running one."""
        parts = [box("progress")]
        if self._finished:
            keys = list(dict.fromkeys(k for _, _, logs in self._finished for k in logs))
            rows = [
                [f"{e + 1}/{self.epochs}", f"{seconds:.2f}s"]
                + [format_value(k, logs[k]) if k in logs else "" for k in keys]
                for e, seconds, logs in self._finished
            ]
            headers = [t("epoch"), t("time"), *keys]
            parts.append(html_table(headers, rows, right=range(1, len(keys) + 2)))
        parts.append(self._current)
        parts.append("</div>")
        return "".join(parts)

    def _show(self, now: float) -> None:
        """Redraw the notebook display, at most 10 times a second (``close`` draws the end)."""
        if self._live is None:
            self._live = LiveDisplay(self._html())
            self._live_at = now
        elif now - self._live_at >= 0.1:
            self._live.update(self._html())
            self._live_at = now


def _columns() -> int:
    """The terminal's width now (it may be resized during an epoch), 80 when unknown."""
    return shutil.get_terminal_size((80, 24)).columns
