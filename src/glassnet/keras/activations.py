"""``keras.activations``: the activations as functions on tensors (Keras 3's names).

``keras.activations.relu(x)`` is σ(x) on a Tensor (differentiable); each is also accepted by
name as a layer's ``activation=``.
"""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..autograd.tensor import Tensor
from ..errors import UnknownNameError
from . import ops

__all__ = [
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "softplus",
    "elu",
    "gelu",
    "leaky_relu",
    "silu",
    "swish",
    "linear",
    "get",
]


def relu(x: Any, negative_slope: float = 0.0, max_value: float | None = None) -> Tensor:
    """max(0, x) (with a negative slope and a cap when asked, as Keras)."""
    out = F.relu(x) if not negative_slope else F.leaky_relu(x, negative_slope)
    return out if max_value is None else F.minimum(out, float(max_value))


def sigmoid(x: Any) -> Tensor:
    """σ(x) = 1 / (1 + e⁻ˣ)."""
    return F.sigmoid(x)


def tanh(x: Any) -> Tensor:
    """tanh x."""
    return F.tanh(x)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """e^x / Σ e^x along ``axis``."""
    return F.softmax(x, axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x − log Σ eˣ."""
    return F.log_softmax(x, axis=axis)


def softplus(x: Any) -> Tensor:
    """ln(1 + eˣ)."""
    return F.softplus(x)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x for x > 0, else α(eˣ − 1)."""
    return F.elu(x, alpha)


def gelu(x: Any, approximate: bool = False) -> Tensor:
    """Gaussian error linear unit (glassnet's kernel)."""
    return F.gelu(x)


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Tensor:
    """x for x > 0, else negative_slope · x."""
    return F.leaky_relu(x, negative_slope)


silu = ops.silu
swish = ops.silu


def linear(x: Any) -> Any:
    """x unchanged."""
    return x


_BY_NAME = {
    name: globals()[name]
    for name in (
        "relu",
        "sigmoid",
        "tanh",
        "softmax",
        "log_softmax",
        "softplus",
        "elu",
        "gelu",
        "leaky_relu",
        "silu",
        "swish",
        "linear",
    )
}


def get(identifier: Any) -> Any:
    """The activation function for a name (or the callable itself)."""
    if callable(identifier):
        return identifier
    if identifier is None:
        return linear
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise UnknownNameError(
        f"activations.get: unknown activation {identifier!r}; known: {', '.join(sorted(_BY_NAME))}"
    )
