"""``keras.metrics``: glassnet's metrics under Keras's names, and Keras's base class for
custom metrics (``update_state``, ``result``, ``reset_state``, ``add_variable``)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..metrics import *  # noqa: F403  (glassnet's metrics, Keras's class names)
from ..nn import initializers
from ..nn.layers.base import _snake
from ..training import metrics as _gl
from .layers import Variable

__all__ = [*_gl.__all__, "Metric"]


class Metric(_gl.Metric):
    """Base class of Keras-style custom metrics: create state with ``add_variable`` in
    ``__init__``, accumulate in ``update_state(y_true, y_pred, sample_weight=None)``, return the
    value from ``result()``; ``reset_state()`` puts every variable back to its initial value.
    fit and evaluate call them once per batch, and reset them at each epoch."""

    def __init__(self, name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        self._state: list[tuple[Variable, np.ndarray]] = []
        self._ready = False  # the subclass creates its variables after this __init__
        super().__init__(name or _snake(type(self).__name__))
        self._ready = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "result" in cls.__dict__:  # the loop logs numbers, a Keras result is a tensor
            cls.result = _as_float(cls.__dict__["result"])  # type: ignore[method-assign]

    def add_variable(
        self,
        shape: Any = (),
        initializer: Any = "zeros",
        dtype: Any = None,
        aggregation: str = "sum",
        name: str | None = None,
    ) -> Variable:
        """A state variable of ``shape``, reset to its initial value by ``reset_state``."""
        init = initializers.get(initializer)
        values = np.asarray(init(tuple(shape), np.dtype(dtype or "float32")))
        variable = Variable(values.copy(), name=name)
        variable.requires_grad = False
        self._state.append((variable, values))
        return variable

    add_weight = add_variable

    @property
    def variables(self) -> list[Variable]:
        """The state variables."""
        return [v for v, _ in getattr(self, "_state", [])]

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Accumulate one batch; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_state")

    def reset_state(self) -> None:
        """Every state variable back to its initial value."""
        for variable, initial in getattr(self, "_state", []):
            variable.assign(initial)

    # glassnet's loop calls update/reset
    def update(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        self.update_state(y_true, y_pred)

    def reset(self) -> None:
        super().reset()
        if self._ready:
            self.reset_state()


def _as_float(result: Any) -> Any:
    @functools.wraps(result)
    def wrapped(self: Metric) -> float:
        value = result(self)
        return float(np.asarray(getattr(value, "data", value)))

    return wrapped


# Keras's classes log under their long names ("sparse_categorical_accuracy"), glassnet's own
# under the short ones it shares with the strings ("accuracy", "mae").
class BinaryAccuracy(_gl.BinaryAccuracy):
    """glassnet's BinaryAccuracy, named as Keras names it."""

    name = "binary_accuracy"


class CategoricalAccuracy(_gl.CategoricalAccuracy):
    """glassnet's CategoricalAccuracy, named as Keras names it."""

    name = "categorical_accuracy"


class SparseCategoricalAccuracy(_gl.SparseCategoricalAccuracy):
    """glassnet's SparseCategoricalAccuracy, named as Keras names it."""

    name = "sparse_categorical_accuracy"


class MeanAbsoluteError(_gl.MeanAbsoluteErrorMetric):
    """glassnet's MAE metric, named as Keras names it."""

    name = "mean_absolute_error"


class MeanSquaredError(_gl.MeanSquaredErrorMetric):
    """glassnet's MSE metric, named as Keras names it."""

    name = "mean_squared_error"


class MeanAbsolutePercentageError(_gl.MeanAbsolutePercentageError):
    """glassnet's MAPE metric, named as Keras names it."""

    name = "mean_absolute_percentage_error"
