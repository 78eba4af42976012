"""Where the loss meets the model's output: decided once, used by every path.

Three cases, the same for the graph and the fast step:

* ``from_logits=True``: the model's output is z; the loss's fused form gives C and ∂C/∂z.
* a softmax (sigmoid) output layer with the matching cross-entropy: the output layer stops at
  z, and the fused form gives δ^L = a^L − y directly (stable, no log of a clipped a);
* otherwise: C and ∇_a C from the outputs a^L, then BP1's ⊙ σ'(z^L) in the output layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..nn.losses import Loss

__all__ = ["OutputHead"]


class OutputHead:
    """The pairing of a loss with the model's last layer (None when the model has none)."""

    def __init__(self, loss: Loss, last_layer: Any = None) -> None:
        self.loss = loss
        kernel = None
        output_kernel = getattr(last_layer, "output_kernel", None)
        exact = last_layer is not None and last_layer.fast_step_problem() is None
        if output_kernel is not None and exact and not loss.from_logits:
            candidate = output_kernel()
            if loss.fused_activation is not None and candidate.name == loss.fused_activation:
                kernel = candidate
        #: the output activation that the loss absorbs (the last layer then stops at z)
        self.paired_kernel = kernel
        #: whether the loss receives logits
        self.logits = loss.from_logits or kernel is not None

    def tensor_loss(self, y: Any, out: Tensor) -> tuple[Tensor, np.ndarray]:
        """The graph's cost tensor and the outputs for metrics (probabilities when paired)."""
        if self.paired_kernel is not None:
            return self.loss.from_logits_tensor(y, out), self.paired_kernel.value(out.data)
        return self.loss(y, out), out.data

    def error(self, y: Any, out: np.ndarray, ops: Any) -> tuple[float, np.ndarray, np.ndarray]:
        """(C, ∂C/∂out, outputs for metrics) on arrays."""
        value, delta, a = self.loss.output_error(y, out, self.logits, ops)
        return value, delta, (a if self.paired_kernel is not None else out)
