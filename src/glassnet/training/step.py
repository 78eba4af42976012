"""What one training step reports (shared by the graph step and the fused step)."""

from __future__ import annotations

import numpy as np

__all__ = ["StepResult"]


class StepResult:
    """The batch loss and the outputs a^L (for metrics) of one training step."""

    __slots__ = ("loss", "outputs")

    def __init__(self, loss: float, outputs: np.ndarray | None) -> None:
        self.loss = loss
        self.outputs = outputs
