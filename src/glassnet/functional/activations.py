"""Activation functions σ and their derivatives σ', as NumPy kernels and as differentiable ops.

Each activation is written once, as a ``Kernel``: ``value(z)`` is σ(z) and ``prime(z, a)`` is
σ'(z) (``a`` = σ(z) is passed in because several derivatives are cheapest from the output, e.g.
σ'(z) = σ(z)(1 − σ(z)) for the sigmoid). The differentiable ops below, the layers, the fused
training step and the explain tools all use these same kernels, so there is one definition of
each σ and σ' in the library.

All kernels are stable: no overflow, no warning, finite output for inputs of ±1e4 in float32
and float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..errors import InvalidArgumentError, ShapeError, UnknownNameError
from ._core import check_finite_scalar, normalize_axis, to_float

__all__ = [
    "Kernel",
    "KERNELS",
    "get_kernel",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "softplus",
    "softmax",
    "log_softmax",
    "stable_sigmoid",
    "stable_softplus",
    "stable_log_softmax",
    "stable_softmax",
]


# --------------------------------------------------------------------------------------------
# NumPy kernels
# --------------------------------------------------------------------------------------------
def stable_sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1/(1 + e^(−z)), written exactly so (seed 003's ``1/(1+np.exp(-x))``).

    For z below about −88 (float32) or −709 (float64) e^(−z) overflows to inf and the result
    is 1/inf = 0, the correctly rounded limit; the overflow warning is silenced because that
    inf is intended. Elsewhere this form is accurate to the last bit.
    """
    z = np.asarray(z)
    with np.errstate(over="ignore"):
        e = np.exp(-z.reshape(-1) if z.ndim == 0 else -z)  # an array even for 0-d input
    e += 1.0
    return np.divide(1.0, e, out=e).reshape(z.shape)


def stable_softplus(z: np.ndarray) -> np.ndarray:
    """softplus(z) = log(1 + eᶻ) = max(z, 0) + log1p(e^(−|z|))."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def stable_softmax(z: np.ndarray, axis: int | None = -1) -> np.ndarray:
    """softmax(z)_i = e^(z_i − max z) / Σ_j e^(z_j − max z); rows sum to 1."""
    if z.size == 0:
        return np.empty_like(z)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def stable_log_softmax(z: np.ndarray, axis: int | None = -1) -> np.ndarray:
    """log softmax(z) = z − logsumexp(z), finite for any finite z."""
    if z.size == 0:
        return np.empty_like(z)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


class Kernel:
    """One activation: ``value(z)`` = σ(z), ``prime(z, a)`` = σ'(z) with a = σ(z).

    ``elementwise`` is False only for softmax, whose derivative is a Jacobian; its ``vjp``
    gives Jᵀg, which for an elementwise σ is simply g ⊙ σ'(z).
    """

    def __init__(
        self,
        name: str,
        value: Callable[..., np.ndarray],
        prime: Callable[..., np.ndarray],
        params: dict[str, float] | None = None,
        elementwise: bool = True,
        vjp: Callable[..., np.ndarray] | None = None,
    ) -> None:
        self.name = name
        self._value = value
        self._prime = prime
        self._vjp = vjp
        self.params = dict(params or {})
        self.elementwise = elementwise

    def value(self, z: np.ndarray) -> np.ndarray:
        """σ(z)."""
        return self._value(z, **self.params)

    def prime(self, z: np.ndarray, a: np.ndarray | None = None) -> np.ndarray:
        """σ'(z), elementwise (for softmax: the diagonal of the Jacobian, a(1 − a))."""
        if a is None:
            a = self.value(z)
        return self._prime(z, a, **self.params)

    def vjp(self, z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
        """(∂a/∂z)ᵀ g: g ⊙ σ'(z) for elementwise σ, a ⊙ (g − Σ g a) for softmax."""
        if self._vjp is not None:
            return self._vjp(z, a, g, **self.params)
        if self.elementwise:
            return g * self._prime(z, a, **self.params)
        return a * (g - (g * a).sum(axis=-1, keepdims=True))

    def with_params(self, **params: float) -> Kernel:
        """A copy with other parameters (negative_slope, alpha)."""
        unknown = set(params) - set(self.params)
        if unknown:
            raise InvalidArgumentError(
                f"activation '{self.name}': unknown parameter(s) {sorted(unknown)}; "
                f"it takes {sorted(self.params) or 'none'}"
            )
        # Plain floats: a NumPy float64 slope would upcast a float32 activation.
        floats = {k: check_finite_scalar(v, k, self.name) for k, v in params.items()}
        return Kernel(
            self.name,
            self._value,
            self._prime,
            {**self.params, **floats},
            self.elementwise,
            self._vjp,
        )

    def __repr__(self) -> str:
        return f"Kernel({self.name!r}{', ' + repr(self.params) if self.params else ''})"


def _linear_value(z: np.ndarray) -> np.ndarray:
    return z


def _linear_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    return np.ones_like(z)


def _sigmoid_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    return a * (1.0 - a)


def _sigmoid_vjp(z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
    # g·σ·(1 − σ) multiplied left to right, as seed 003 writes grad_h * h * (1 - h).
    return g * a * (1.0 - a)


def _tanh_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    return 1.0 - a * a


def _relu_value(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def _relu_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    # σ'(0) is taken as 0, as PyTorch and Keras do.
    return (z > 0).astype(z.dtype)


def _relu_vjp(z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
    # g ⊙ σ'(z) with σ' as a boolean mask: the same numbers, one pass fewer.
    return np.multiply(g, z > 0)


def _leaky_value(z: np.ndarray, negative_slope: float) -> np.ndarray:
    return np.where(z > 0, z, z * negative_slope)


def _leaky_prime(z: np.ndarray, a: np.ndarray, negative_slope: float) -> np.ndarray:
    return np.where(z > 0, 1.0, negative_slope).astype(z.dtype)


def _elu_value(z: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def _elu_prime(z: np.ndarray, a: np.ndarray, alpha: float) -> np.ndarray:
    # For z ≤ 0, σ(z) = α(eᶻ − 1) so σ'(z) = α eᶻ = σ(z) + α.
    return np.where(z > 0, 1.0, a + alpha).astype(z.dtype)


def _gelu_value(z: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation: ½ z (1 + tanh(√(2/π)(z + 0.044715 z³)))."""
    inner = _GELU_C * (z + _GELU_A * z * z * z)
    return 0.5 * z * (1.0 + np.tanh(inner))


def _gelu_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    t = np.tanh(_GELU_C * (z + _GELU_A * z * z * z))
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * _GELU_C * (1.0 + 3.0 * _GELU_A * z * z)


def _softmax_value(z: np.ndarray) -> np.ndarray:
    return stable_softmax(z, -1)


def _softmax_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    return a * (1.0 - a)


KERNELS: dict[str, Kernel] = {
    "linear": Kernel("linear", _linear_value, _linear_prime),
    "sigmoid": Kernel("sigmoid", stable_sigmoid, _sigmoid_prime, vjp=_sigmoid_vjp),
    "tanh": Kernel("tanh", np.tanh, _tanh_prime),
    "relu": Kernel("relu", _relu_value, _relu_prime, vjp=_relu_vjp),
    "leaky_relu": Kernel("leaky_relu", _leaky_value, _leaky_prime, {"negative_slope": 0.01}),
    "elu": Kernel("elu", _elu_value, _elu_prime, {"alpha": 1.0}),
    "gelu": Kernel("gelu", _gelu_value, _gelu_prime),
    "softplus": Kernel("softplus", stable_softplus, lambda z, a: stable_sigmoid(z)),
    "softmax": Kernel("softmax", _softmax_value, _softmax_prime, elementwise=False),
}


def get_kernel(name: str) -> Kernel:
    """The kernel registered under ``name`` (None and "linear" give the identity)."""
    key = "linear" if name is None else str(name).lower()
    if key not in KERNELS:
        raise UnknownNameError(
            f"activation: unknown name {name!r}; known: {', '.join(sorted(KERNELS))}"
        )
    return KERNELS[key]


# --------------------------------------------------------------------------------------------
# Differentiable ops
# --------------------------------------------------------------------------------------------
def _elementwise_op(kernel: Kernel, x: Any) -> Tensor:
    x = to_float(x, kernel.name)
    z = x.data
    a = kernel.value(z)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (kernel.vjp(z, a, g),)

    return Tensor._make(a, (x,), backward, kernel.name)


def sigmoid(x: Any) -> Tensor:
    """σ(z) = 1/(1 + e^(−z)); σ'(z) = σ(z)(1 − σ(z)) (the sigmoid gate of seed 003)."""
    return _elementwise_op(KERNELS["sigmoid"], x)


def tanh(x: Any) -> Tensor:
    """tanh(z); σ'(z) = 1 − tanh²(z)."""
    return _elementwise_op(KERNELS["tanh"], x)


def relu(x: Any) -> Tensor:
    """max(z, 0); σ'(z) = 1 for z > 0, else 0."""
    return _elementwise_op(KERNELS["relu"], x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """z for z > 0, else negative_slope·z (PyTorch's default slope 0.01)."""
    return _elementwise_op(KERNELS["leaky_relu"].with_params(negative_slope=negative_slope), x)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """z for z > 0, else α(eᶻ − 1)."""
    return _elementwise_op(KERNELS["elu"].with_params(alpha=alpha), x)


def gelu(x: Any) -> Tensor:
    """GELU, tanh approximation: ½ z (1 + tanh(√(2/π)(z + 0.044715 z³)))."""
    return _elementwise_op(KERNELS["gelu"], x)


def softplus(x: Any) -> Tensor:
    """log(1 + eᶻ), stable; its derivative is σ(z)."""
    return _elementwise_op(KERNELS["softplus"], x)


def _one_axis(axis: Any, ndim: int, op: str) -> int | None:
    """The single axis softmax-like ops normalise over (None for a 0-d tensor: one element)."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise ShapeError(f"{op}: axis must be a single int, received {axis!r}")
    axes = normalize_axis(axis, ndim, op)
    return axes[0] if axes else None


def softmax(x: Any, axis: int = -1) -> Tensor:
    """softmax along ``axis``: e^(z_i) / Σ_j e^(z_j), stable (the max is subtracted first).

    Backward: ∂C/∂z = a ⊙ (g − Σ_j g_j a_j), the Jacobian diag(a) − a aᵀ applied to g.
    """
    x = to_float(x, "softmax")
    ax = _one_axis(axis, x.data.ndim, "softmax")
    a = stable_softmax(x.data, ax)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (a * (g - (g * a).sum(axis=ax, keepdims=True)),)

    return Tensor._make(a, (x,), backward, "softmax")


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """log softmax(z) = z − logsumexp(z), stable. Backward: g − softmax(z) Σ_j g_j."""
    x = to_float(x, "log_softmax")
    ax = _one_axis(axis, x.data.ndim, "log_softmax")
    out = stable_log_softmax(x.data, ax)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (g - np.exp(out) * g.sum(axis=ax, keepdims=True),)

    return Tensor._make(out, (x,), backward, "log_softmax")
