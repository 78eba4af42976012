"""Activation layers: a = σ(z), and σ'(z) in the backward (BP1/BP2's ⊙ σ'(z)).

σ, σ' and the vector-Jacobian product of every activation are the ``Kernel`` objects of
``functional/activations.py``; this file only applies them to a layer's arrays. Dense uses
``activate`` and ``activation_vjp`` below for its own activation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import InvalidArgumentError, UnknownNameError
from ...functional.activations import KERNELS, Kernel
from .base import Context, Layer

__all__ = [
    "Activation",
    "Linear",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "GELU",
    "Softplus",
    "Softmax",
    "get_activation",
    "activate",
    "activation_vjp",
]


def activate(kernel: Kernel, z: np.ndarray, b: np.ndarray | None, ctx: Context) -> np.ndarray:
    """a = σ(z + b), adding b into z in place (z is the caller's own array)."""
    if kernel.name == "relu":
        out = ctx.buffer("a", z.shape, z.dtype)
        return ctx.ops.bias_relu(z, b, np.empty_like(z) if out is None else out)
    if b is not None:
        z += b
    return z if kernel.name == "linear" else kernel.value(z)


def activation_vjp(
    kernel: Kernel, z: np.ndarray, a: np.ndarray, g: np.ndarray, ctx: Context
) -> np.ndarray:
    """δ = g ⊙ σ'(z) (for softmax, the Jacobian's transpose times g); never writes into g."""
    if kernel.name == "linear":
        return g
    if kernel.name == "relu":
        out = ctx.buffer("delta", g.shape, g.dtype)
        return ctx.ops.relu_vjp(z, g, np.empty_like(g) if out is None else out)
    return kernel.vjp(z, a, g)


class Activation(Layer):
    """a = σ(z) as a layer: ``Activation("relu")``, or one of the named classes below.

    ``function(z)`` is σ(z) and ``derivative(z)`` is σ'(z) on NumPy arrays — the quantities in
    BP1 and BP2 — from the same kernels the training paths use.
    """

    kernel_name = "linear"
    explain_role = "activation"

    def __init__(
        self,
        activation: str | None = None,
        name: str | None = None,
        dtype: Any = None,
        **params: float,
    ) -> None:
        key = self.kernel_name if activation is None else str(activation).lower()
        if key not in KERNELS:
            raise UnknownNameError(
                f"Activation: unknown activation {activation!r}; known: "
                f"{', '.join(sorted(KERNELS))}"
            )
        super().__init__(name=name or key, dtype=dtype)
        self.kernel: Kernel = KERNELS[key].with_params(**params) if params else KERNELS[key]
        self.built = True

    @property
    def activation_name(self) -> str:
        """The activation's registered name ("relu", "softmax", ...)."""
        return self.kernel.name

    def function(self, z: np.ndarray) -> np.ndarray:
        """σ(z) on a NumPy array."""
        return self.kernel.value(np.asarray(z))

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """σ'(z) on a NumPy array (for softmax: the Jacobian's diagonal a(1 − a))."""
        return self.kernel.prime(np.asarray(z))

    def output_kernel(self) -> Kernel:
        """The activation this layer ends with (the loss may pair with it)."""
        return self.kernel

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        if x.dtype.kind != "f":
            x = x.astype(self.dtype)
        if ctx.logits_only:
            return x
        a = activate(self.kernel, x, None, ctx)
        ctx.saved = (x, a)
        return a

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        if ctx.logits_only:
            return g
        z, a = ctx.saved
        return activation_vjp(self.kernel, z, a, g, ctx)

    def node_name(self) -> str:
        return self.kernel.name

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["activation"] = self.kernel.name
        config.update(self.kernel.params)
        return config

    def extra_repr(self) -> str:
        params = "".join(f", {k}={v}" for k, v in self.kernel.params.items())
        return f"{self.kernel.name!r}{params}"


class Linear(Activation):
    """The identity σ(z) = z."""

    kernel_name = "linear"


class Sigmoid(Activation):
    """σ(z) = 1/(1 + e^(−z)); σ'(z) = σ(z)(1 − σ(z))."""

    kernel_name = "sigmoid"


class Tanh(Activation):
    """tanh(z); σ'(z) = 1 − tanh²(z)."""

    kernel_name = "tanh"


class ReLU(Activation):
    """max(z, 0); σ'(z) = 1 for z > 0, else 0."""

    kernel_name = "relu"


class LeakyReLU(Activation):
    """z for z > 0, else negative_slope·z."""

    kernel_name = "leaky_relu"

    def __init__(
        self,
        negative_slope: float = 0.01,
        name: str | None = None,
        dtype: Any = None,
        activation: str | None = None,
    ) -> None:
        if not isinstance(negative_slope, (int, float)) or negative_slope < 0:
            raise InvalidArgumentError(
                f"LeakyReLU: negative_slope must be a number ≥ 0, "
                f"received negative_slope={negative_slope!r}"
            )
        super().__init__(None, name=name, dtype=dtype, negative_slope=float(negative_slope))


class ELU(Activation):
    """z for z > 0, else α(eᶻ − 1)."""

    kernel_name = "elu"

    def __init__(
        self,
        alpha: float = 1.0,
        name: str | None = None,
        dtype: Any = None,
        activation: str | None = None,
    ) -> None:
        if not isinstance(alpha, (int, float)) or alpha < 0:
            raise InvalidArgumentError(f"ELU: alpha must be a number ≥ 0, received alpha={alpha!r}")
        super().__init__(None, name=name, dtype=dtype, alpha=float(alpha))


class GELU(Activation):
    """GELU (tanh approximation)."""

    kernel_name = "gelu"


class Softplus(Activation):
    """log(1 + eᶻ); σ'(z) = sigmoid(z)."""

    kernel_name = "softplus"


class Softmax(Activation):
    """softmax over the last axis; its derivative is the Jacobian diag(a) − a aᵀ."""

    kernel_name = "softmax"


_ACTIVATION_CLASSES: dict[str, type[Activation]] = {
    "linear": Linear,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "gelu": GELU,
    "softplus": Softplus,
    "softmax": Softmax,
}


def get_activation(identifier: Any) -> Activation:
    """An Activation layer from a name, None (linear), or an Activation instance."""
    if identifier is None:
        return Linear()
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _ACTIVATION_CLASSES:
            return _ACTIVATION_CLASSES[key]()
    raise UnknownNameError(
        f"activation: unknown activation {identifier!r}; known: "
        f"{', '.join(sorted(_ACTIVATION_CLASSES))}"
    )
