"""``keras.losses``: glassnet's losses under Keras's names, Keras's base class for custom
losses (write ``call(y_true, y_pred)``), and the loss functions on tensors.

A ``Loss`` subclass or a plain function returns one cost per sample; the batch cost is their
mean (``reduction="sum_over_batch_size"``) or their sum (``"sum"``). Such a loss has no array
form, so fit trains through the autograd graph, which differentiates ``call`` op by op.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from ..autograd.tensor import Tensor
from ..errors import InvalidArgumentError
from ..losses import *  # noqa: F403  (glassnet's losses, Keras's class names)
from ..nn import losses as _gl
from ..nn.layers.base import _snake
from . import ops

__all__ = [
    *_gl.__all__,
    "Loss",
    "mean_squared_error",
    "mean_absolute_error",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "hinge",
]

_REDUCTIONS = ("sum_over_batch_size", "mean", "sum", None, "none")


class Loss(_gl.FunctionLoss):
    """Base class of Keras-style custom losses: implement ``call(y_true, y_pred)`` returning a
    tensor of per-sample costs (computed with ``keras.ops``)."""

    def __init__(
        self, name: str | None = None, reduction: Any = "sum_over_batch_size", dtype: Any = None
    ) -> None:
        if reduction not in _REDUCTIONS:
            raise InvalidArgumentError(
                f"{type(self).__name__}: reduction must be 'sum_over_batch_size', 'sum' or "
                f"None, received reduction={reduction!r}"
            )
        super().__init__(self.call, name=name or _snake(type(self).__name__))
        self.reduction = reduction

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        """Per-sample costs; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        if sample_weight is not None:
            pred = y_pred if isinstance(y_pred, Tensor) else Tensor(np.asarray(y_pred))
            return self.weighted_tensor(y_true, pred, False, np.asarray(sample_weight))
        if self.reduction == "sum":
            pred = y_pred if isinstance(y_pred, Tensor) else Tensor(np.asarray(y_pred))
            return F.sum(self.call(_same_shape(y_true, pred), pred))
        return super().__call__(y_true, y_pred)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}


def _same_shape(y_true: Any, pred: Tensor) -> np.ndarray:
    y = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
    if y.shape != pred.shape and _gl.matches_by_unit_axis(y.shape, pred.shape):
        y = y.reshape(pred.shape)
    return y


def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """Per sample: mean over the last axis of (y − ŷ)²."""
    return ops.mean(ops.square(ops.subtract(y_pred, y_true)), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    """Per sample: mean over the last axis of |y − ŷ|."""
    return ops.mean(ops.abs(ops.subtract(y_pred, y_true)), axis=-1)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Tensor:
    """Per sample: mean over the last axis of the binary cross-entropy."""
    return ops.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=-1)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Tensor:
    """Per sample: −Σ_k y_k ln p_k."""
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Tensor:
    """Per sample: −ln p_y for integer labels y."""
    return ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits)


def hinge(y_true: Any, y_pred: Any) -> Tensor:
    """Per sample: mean over the last axis of max(1 − t·ŷ, 0), labels 0/1 mapped to t = ±1."""
    y = np.asarray(getattr(y_true, "data", y_true), dtype=np.float64)
    t = np.where(y == 0, -1.0, y)
    return ops.mean(ops.relu(ops.subtract(1.0, ops.multiply(t, y_pred))), axis=-1)
