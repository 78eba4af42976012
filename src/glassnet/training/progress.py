"""Progress display for fit/evaluate: a tqdm bar on a terminal, one line per epoch otherwise.

verbose=0: nothing. verbose=1: a bar redrawn in place when the stream is a terminal (like
Keras's Progbar: ``Epoch 3/5``, steps, ETA, ``loss: 0.4321``), else one summary line per
epoch. verbose=2: one summary line per epoch.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

__all__ = ["Progress", "format_logs"]


def format_logs(logs: dict[str, Any]) -> str:
    """``loss: 0.4321 - accuracy: 0.8765`` (learning rates and values ≥ 1e5 in %g)."""
    parts = []
    for key, value in logs.items():
        if isinstance(value, float):
            # A diverging loss (4.2e+35) in %f would print 37 digits.
            big = abs(value) >= 1e5
            text = f"{value:.4g}" if "learning_rate" in key or big else f"{value:.4f}"
        else:
            text = str(value)
        parts.append(f"{key}: {text}")
    return " - ".join(parts)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """One epoch's progress at a time."""

    def __init__(
        self,
        epochs: int,
        steps: int,
        verbose: int,
        stream: IO[str] | None = None,
        bar: bool | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.epochs = epochs
        self.steps = steps
        self.verbose = verbose
        use_bar = _is_terminal(self.stream) if bar is None else bar
        self.mode = "none" if verbose == 0 else ("bar" if verbose == 1 and use_bar else "line")
        self._bar: Any = None
        self._started = 0.0
        self._last_refresh = 0.0

    def epoch_begin(self, epoch: int) -> None:
        self._started = time.perf_counter()
        if self.mode == "bar":
            try:
                from tqdm.auto import tqdm
            except ImportError:  # tqdm is a dependency, but never fail training over a bar
                self.mode = "line"
                return
            self._bar = tqdm(
                total=self.steps,
                desc=f"Epoch {epoch + 1}/{self.epochs}",
                unit="step",
                file=self.stream,
                dynamic_ncols=True,
                leave=True,
                mininterval=0.1,
            )

    def update(self, step: int, logs: dict[str, Any]) -> None:
        """After ``step`` steps of this epoch (1-based), with the running metrics."""
        if self._bar is None:
            return
        now = time.perf_counter()
        if now - self._last_refresh >= 0.1 or step == self.steps:
            self._last_refresh = now
            self._bar.set_postfix_str(format_logs(logs), refresh=False)
            self._bar.n = step
            self._bar.refresh()

    def epoch_end(self, epoch: int, logs: dict[str, Any]) -> float:
        """Close the bar or print the summary line; returns the epoch's seconds."""
        seconds = time.perf_counter() - self._started
        if self._bar is not None:
            self._bar.n = self.steps
            self._bar.set_postfix_str(format_logs(logs), refresh=True)
            self._bar.close()
            self._bar = None
        elif self.mode == "line":
            per_step = seconds / max(self.steps, 1) * 1000
            print(
                f"Epoch {epoch + 1}/{self.epochs} - {self.steps} steps - {seconds:.2f}s "
                f"({per_step:.2f}ms/step) - {format_logs(logs)}",
                file=self.stream,
                flush=True,
            )
        return seconds

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
