"""``keras.regularizers``: weight penalties added to the loss (Keras 3's L1, L2, L1L2).

``Dense(..., kernel_regularizer=keras.regularizers.l2(0.01))`` adds 0.01·Σ w² to the cost of
every step; its gradient 0.02·w joins ∂C/∂w through the autograd graph.
"""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..autograd.tensor import Tensor
from ..errors import InvalidArgumentError, UnknownNameError

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get"]


def _factor(value: Any, arg: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InvalidArgumentError(
            f"regularizer: {arg} must be a number ≥ 0, received {arg}={value!r}"
        )
    return float(value)


class Regularizer:
    """Base class: ``regularizer(weight)`` is a scalar tensor added to the loss."""

    name = "regularizer"

    def __call__(self, weight: Tensor) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {}

    def get_config_with_name(self) -> dict[str, Any]:
        """The config with the registered name (what a saved layer records)."""
        return {"name": self.name, **self.get_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Regularizer:
        """The regularizer rebuilt from ``get_config()``."""
        return cls(**config)


class L1L2(Regularizer):
    """l1·Σ|w| + l2·Σ w²."""

    name = "l1_l2"

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = _factor(l1, "l1")
        self.l2 = _factor(l2, "l2")

    def __call__(self, weight: Tensor) -> Tensor:
        total: Any = 0.0
        if self.l1:
            total = F.mul(F.sum(F.abs(weight)), self.l1)
        if self.l2:
            term = F.mul(F.sum(F.square(weight)), self.l2)
            total = term if isinstance(total, float) else F.add(total, term)
        if isinstance(total, float):
            return F.mul(F.sum(weight), 0.0)
        return total

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """l1·Σ|w| (Keras's default l1 = 0.01)."""

    name = "l1"

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(L1L2):
    """l2·Σ w² (Keras's default l2 = 0.01)."""

    name = "l2"

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


l1 = L1
l2 = L2
l1_l2 = L1L2

_NAMED: dict[str, type[Regularizer]] = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(identifier: Any) -> Regularizer | None:
    """A regularizer from a name ("l2"), a config dict, an instance or None."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _NAMED:
        return _NAMED[identifier.lower()]()
    if isinstance(identifier, dict) and str(identifier.get("name", "")).lower() in _NAMED:
        config = dict(identifier)
        return _NAMED[str(config.pop("name")).lower()](**config)
    if callable(identifier):
        return _Function(identifier)
    raise UnknownNameError(
        f"regularizer: unknown regularizer {identifier!r}; known: l1, l2, l1_l2, or a callable"
    )


class _Function(Regularizer):
    """A plain function ``f(weight) -> scalar tensor`` used as a regularizer."""

    name = "function"

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def __call__(self, weight: Tensor) -> Tensor:
        return self.fn(weight)  # type: ignore[no-any-return]
