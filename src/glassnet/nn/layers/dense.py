"""Dense: the fully connected layer of the seeds, forward and BP1–BP4 in one place.

For a batch of rows a^{l−1} (shape (N, in_features); or (N, …, in_features), the product then
runs over the last axis):

    forward   z^l = a^{l−1} Wᵀ + b        a^l = σ(z^l)
    backward  δ^l = g ⊙ σ'(z^l)            with g = ∂C/∂a^l  (BP1 at the output, BP2 below)
              ∂C/∂b^l = Σ_n δ^l            (BP3, summed over the batch)
              ∂C/∂W^l = (δ^l)ᵀ a^{l−1}     (BP4)
              ∂C/∂a^{l−1} = δ^l W^l        (the (W^{l+1})ᵀ δ^{l+1} of BP2, for the layer below)

``W`` has shape (units, in_features), so ``W[j, k]`` is the seeds' w^l_jk, the weight from
neuron k of layer l−1 to neuron j of layer l; ``b`` has shape (units,).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...autograd.tensor import Tensor
from ...errors import InvalidArgumentError, ShapeError, describe
from ...functional.activations import Kernel
from .. import initializers
from ..module import Parameter
from .activation import Activation, activate, activation_vjp, get_activation
from .base import Context, Layer, Shape

__all__ = ["Dense"]


class Dense(Layer):
    """Fully connected layer: z = a_prev Wᵀ + b, a = σ(z).

    ``W``: (units, in_features) — ``W[j, k]`` is w_jk; ``b``: (units,). The input size comes
    from ``input_dim``/``input_shape`` or from the first batch.
    """

    explain_role = "dense"
    uses_product = True

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        input_dim: int | None = None,
        input_shape: Sequence[int] | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise InvalidArgumentError(
                f"Dense: units must be a positive integer, received units={units!r}"
            )
        if input_dim is not None:
            if input_shape is not None:
                raise InvalidArgumentError("Dense: give input_dim or input_shape, not both")
            input_shape = (input_dim,)
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.units = int(units)
        self.activation = get_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.W: Parameter | None = None
        self.b: Parameter | None = None
        if self.input_shape is not None:
            self.build(self.input_shape)

    @property
    def in_features(self) -> int | None:
        """Number of inputs per sample (None until built)."""
        return None if self.W is None else int(self.W.shape[1])

    # -- declarations ------------------------------------------------------------------------
    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ShapeError(
                f"{self.name}: Dense needs inputs of shape (batch, features), received a "
                f"per-sample shape {tuple(input_shape)}; add Flatten() before it"
            )
        shapes: dict[str, tuple[int, ...]] = {"W": (self.units, int(input_shape[-1]))}
        if self.use_bias:
            shapes["b"] = (self.units,)
        return shapes

    def output_kernel(self) -> Kernel:
        """The activation this layer ends with (the loss may pair with it)."""
        return self.activation.kernel

    def telemetry_tap(self, ctx: Context) -> dict[str, Any] | None:
        if ctx.saved is None or self.W is None:
            return None
        x, z, a = ctx.saved
        return {
            "kernel": self.activation.kernel,
            "z": z,
            "a": a,
            "delta": ctx.delta,
            "W": self.W.data,
            "grad_W": ctx.grads[0] if ctx.grads else None,
            "inputs": ctx.product.inputs(x),
        }

    def build(self, input_shape: Shape) -> None:
        shapes = self.parameter_shapes(input_shape)
        initializers.check_allocation(
            shapes["W"],
            self.dtype,
            f"{self.name}: Dense({self.units}) on {shapes['W'][1]} inputs, weights W",
            copies=2,  # the initialiser's array, then its column-major copy
        )
        # Column-major storage (W[j, k] is still w_jk): z = a Wᵀ + b then reads Wᵀ as a
        # contiguous array, which BLAS multiplies about 40 % faster at small batches.
        weights = np.asfortranarray(self.kernel_initializer(shapes["W"], self.dtype))
        self.W = Parameter(weights, name="W")
        if self.use_bias:
            self.b = Parameter(self.bias_initializer(shapes["b"], self.dtype), name="b")
        self._apply_trainable()
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1]) + (self.units,)

    # -- the kernels -------------------------------------------------------------------------
    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        assert self.W is not None, "Layer.__call__ and the fast step build the layer first"
        W = self.W.data
        if x.ndim < 2 or x.shape[-1] != W.shape[1]:
            raise ShapeError(
                f"{self.name}: expected inputs with {W.shape[1]} features (shape "
                f"(batch, {W.shape[1]})), received {describe(x)}"
            )
        out = ctx.buffer("z", x.shape[:-1] + (self.units,), W.dtype)
        z, saved = ctx.product.forward(x, W, out)
        b = None if self.b is None else self.b.data
        if ctx.logits_only:
            if b is not None:
                z += b
            a = z
        else:
            a = activate(self.activation.kernel, z, b, ctx)
        ctx.saved = (saved, z, a)
        return a

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        assert self.W is not None
        saved, z, a = ctx.saved
        delta = g if ctx.logits_only else activation_vjp(self.activation.kernel, z, a, g, ctx)
        ctx.delta = delta
        grad_W = ctx.grads[0]
        grad_b = ctx.grads[1] if self.b is not None else None
        if grad_W is not None:
            ctx.product.weight_grad(saved, delta, grad_W)  # BP4
        if grad_b is not None:
            rows = delta if delta.ndim == 2 else delta.reshape(-1, self.units)
            ctx.ops.column_sums(rows, grad_b)  # BP3
        if not ctx.need_input_grad:
            return None
        W = self.W.data
        out = ctx.buffer("g_prev", delta.shape[:-1] + (W.shape[1],), W.dtype)
        return np.matmul(delta, W, out=out) if out is not None else delta @ W

    def forward_logits(self, x: Tensor) -> Tensor:
        """z = x Wᵀ + b, before the activation (one graph node, the same kernels)."""
        if not self.built:
            self.build(tuple(x.shape[1:]))
        return self._node(x, logits_only=True)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        config = dict(config)
        act = config.get("activation")
        if isinstance(act, dict):  # the activation's own get_config()
            act = dict(act)
            kind = act.pop("activation", None)
            config["activation"] = Activation(kind, name=act.pop("name", None), **act)
        return cls(**config)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation.get_config(),
            use_bias=self.use_bias,
            kernel_initializer={
                "name": self.kernel_initializer.name,
                **self.kernel_initializer.get_config(),
            },
            bias_initializer={
                "name": self.bias_initializer.name,
                **self.bias_initializer.get_config(),
            },
        )
        if self.W is not None:
            config["input_dim"] = int(self.W.shape[1])
            config.pop("input_shape", None)
        return config

    def extra_repr(self) -> str:
        ins = self.in_features if self.built else "?"
        return (
            f"{ins} → {self.units}, activation={self.activation.kernel.name!r}, name={self.name!r}"
        )
