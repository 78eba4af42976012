"""Layers (Keras names): Dense, the activations, Dropout, Flatten, Rescaling, Input.

Dense computes, for a batch of rows a^{l−1} (shape (N, in_features)),

    z^l = a^{l−1} Wᵀ + b        a^l = σ(z^l)

with ``W`` of shape (units, in_features), so ``W[j, k]`` is the seeds' w^l_jk, the weight from
neuron k of layer l−1 to neuron j of layer l, and ``b`` of shape (units,).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import functional as F
from ..autograd.tensor import Tensor, as_array
from ..errors import DTypeError, InvalidArgumentError, ShapeError, UnknownNameError, describe
from ..functional.activations import KERNELS, Kernel
from . import initializers
from .module import Module, Parameter

__all__ = [
    "Layer",
    "Input",
    "Dense",
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
    "Dropout",
    "Flatten",
    "Rescaling",
    "Normalization",
    "get_activation",
    "LAYER_CLASSES",
]

Shape = tuple[int | None, ...]


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _check_shape_arg(value: Any, arg: str, layer: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),)
    if not isinstance(value, (tuple, list)) or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in value
    ):
        raise InvalidArgumentError(
            f"{layer}: {arg} must be a tuple of positive ints (without the batch axis), "
            f"received {arg}={value!r}"
        )
    return tuple(int(v) for v in value)


class Layer(Module):
    """A Module with a Keras-style life: a name, an optional input shape, lazy ``build``."""

    def __init__(
        self, name: str | None = None, input_shape: Sequence[int] | None = None, dtype: Any = None
    ) -> None:
        super().__init__()
        if name is not None and (not isinstance(name, str) or not name):
            raise InvalidArgumentError(
                f"{type(self).__name__}: name must be a non-empty string, received name={name!r}"
            )
        self.name = name or _snake(type(self).__name__)
        self.input_shape = _check_shape_arg(input_shape, "input_shape", type(self).__name__)
        self.dtype = as_array(0.0, dtype or "float32", type(self).__name__).dtype
        if self.dtype.kind != "f":
            raise DTypeError(
                f"{type(self).__name__}: dtype must be float32 or float64, received {self.dtype}"
            )
        self.built = False

    def build(self, input_shape: Shape) -> None:
        """Create parameters for inputs of ``input_shape`` (without the batch axis)."""
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """Output shape (without the batch axis) for a given input shape."""
        return input_shape

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(x, Tensor):
            arr = as_array(x, None, self.name) if not isinstance(x, np.ndarray) else x
            # Float data takes the layer's dtype directly: a float64 layer must not see its
            # float64 input rounded through the float32 default.
            x = Tensor(arr, dtype=self.dtype if arr.dtype.kind == "f" else None)
        if not self.built:
            self.build(tuple(x.shape[1:]))
        return self.forward(x, *args, **kwargs)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, for saving the architecture as JSON."""
        config: dict[str, Any] = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        if self.dtype != np.float32:
            config["dtype"] = str(self.dtype)
        return config

    def extra_repr(self) -> str:
        return f"name={self.name!r}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Input(Layer):
    """Declares the input shape of a Sequential model (``Input(shape=(28, 28))``)."""

    def __init__(self, shape: Sequence[int], name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name or "input", input_shape=shape, dtype=dtype)
        if self.input_shape is None:
            raise InvalidArgumentError("Input: shape is required, received shape=None")

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.input_shape:
            raise ShapeError(
                f"{self.name}: expected inputs of shape (batch, "
                f"{', '.join(map(str, self.input_shape or ()))}), "
                f"received {x.shape}"
            )
        return x

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["shape"] = config.pop("input_shape")
        return config


# ---------------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------------
class Activation(Layer):
    """a = σ(z) as a layer: ``Activation("relu")``, or one of the named classes below.

    ``function(z)`` is σ(z) and ``derivative(z)`` is σ'(z) on NumPy arrays — the quantities in
    BP1 and BP2 — from the same kernels the training ops use.
    """

    kernel_name = "linear"

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

    def forward(self, x: Tensor) -> Tensor:
        k = self.kernel
        if k.name == "linear":
            return x
        if k.name == "softmax":
            return F.softmax(x, axis=-1)
        if k.name == "leaky_relu":
            return F.leaky_relu(x, **k.params)
        if k.name == "elu":
            return F.elu(x, **k.params)
        return getattr(F, k.name)(x)  # type: ignore[no-any-return]

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


# ---------------------------------------------------------------------------------------------
# Dense
# ---------------------------------------------------------------------------------------------
class Dense(Layer):
    """Fully connected layer: z = a_prev Wᵀ + b, a = σ(z).

    ``W``: (units, in_features) — ``W[j, k]`` is w_jk; ``b``: (units,). The input size comes
    from ``input_dim``/``input_shape`` or from the first batch.
    """

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

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ShapeError(
                f"{self.name}: Dense needs inputs of shape (batch, features), received a "
                f"per-sample shape {tuple(input_shape)}; add Flatten() before it"
            )
        fan_in = int(input_shape[-1])
        # Column-major storage (W[j, k] is still w_jk): z = a Wᵀ + b then reads Wᵀ as a
        # contiguous array, which BLAS multiplies about 40 % faster at small batches.
        weights = np.asfortranarray(self.kernel_initializer((self.units, fan_in), self.dtype))
        self.W = Parameter(weights, name="W")
        if self.use_bias:
            self.b = Parameter(self.bias_initializer((self.units,), self.dtype), name="b")
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1]) + (self.units,)

    def _cast(self, x: Tensor) -> Tensor:
        if x.data.dtype != self.dtype:
            if x.requires_grad:
                return F.cast(x, self.dtype)
            return Tensor(x.data.astype(self.dtype))
        return x

    def forward_logits(self, x: Tensor) -> Tensor:
        """z = x Wᵀ + b, before the activation."""
        if self.W is None:
            self.build(tuple(x.shape[1:]))
        assert self.W is not None
        if x.ndim < 2 or x.shape[-1] != self.W.shape[1]:
            raise ShapeError(
                f"{self.name}: expected inputs with {self.W.shape[1]} features (shape "
                f"(batch, {self.W.shape[1]})), received {describe(x.data)}"
            )
        return F.linear(self._cast(x), self.W, self.b)

    def forward(self, x: Tensor) -> Tensor:
        return self.activation.forward(self.forward_logits(x))

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


# ---------------------------------------------------------------------------------------------
# Shape and regularisation layers
# ---------------------------------------------------------------------------------------------
class Dropout(Layer):
    """Inverted dropout: in training mode, zero each unit with probability ``rate`` and scale
    the rest by 1/(1 − rate); in eval mode, the identity."""

    def __init__(self, rate: float, name: str | None = None, dtype: Any = None) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise InvalidArgumentError(f"Dropout: rate must be in [0, 1), received rate={rate!r}")
        super().__init__(name=name, dtype=dtype)
        self.rate = float(rate)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.rate, training=self.training)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate}

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


class Flatten(Layer):
    """(N, d1, d2, ...) → (N, d1·d2·...), e.g. 28×28 images to 784 inputs."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if any(d is None for d in input_shape):
            return (None,)
        return (int(np.prod([int(d) for d in input_shape if d is not None], dtype=np.int64)),)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 1:
            raise ShapeError(f"{self.name}: Flatten needs a batch axis, received a scalar")
        if x.ndim == 2:
            return x
        return F.reshape(x, (x.shape[0], -1))


class Rescaling(Layer):
    """x · scale + offset, as floats: ``Rescaling(1/255)`` turns uint8 pixels into [0, 1]."""

    def __init__(
        self,
        scale: float,
        offset: float = 0.0,
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        for arg, value in (("scale", scale), ("offset", offset)):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not np.isfinite(value)
            ):
                raise InvalidArgumentError(
                    f"Rescaling: {arg} must be a finite number, received {arg}={value!r}"
                )
        self.scale = float(scale)
        self.offset = float(offset)

    def forward(self, x: Tensor) -> Tensor:
        if x.data.dtype.kind in "iub":
            # Integer pixels: convert and scale in one pass (the same numbers as astype, then
            # multiply); nothing to differentiate with respect to integers.
            t = self.dtype.type
            out = np.multiply(x.data, t(self.scale), dtype=self.dtype)
            if self.offset:
                out += t(self.offset)
            return Tensor(out, dtype=self.dtype)
        if x.data.dtype != self.dtype:
            x = F.cast(x, self.dtype) if x.requires_grad else Tensor(x.data.astype(self.dtype))
        out = x * self.scale
        return out + self.offset if self.offset else out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}

    def extra_repr(self) -> str:
        return f"scale={self.scale:g}, offset={self.offset:g}"


class Normalization(Layer):
    """(x − mean) / √variance per feature, with fixed statistics (Keras's Normalization).

    Give ``mean`` and ``variance`` (numbers or per-feature lists), or call ``adapt(x)`` to take
    them from training data. They are constants saved with the model, not trained.
    """

    def __init__(
        self,
        mean: Any = None,
        variance: Any = None,
        axis: int = -1,
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        if axis != -1:
            raise InvalidArgumentError(
                f"Normalization: only axis=-1 (per feature) is supported, received axis={axis!r}"
            )
        if (mean is None) != (variance is None):
            raise InvalidArgumentError(
                "Normalization: give both mean and variance, or neither and call adapt(x)"
            )
        self.mean: np.ndarray | None = None
        self.variance: np.ndarray | None = None
        if mean is not None:
            self._set(np.asarray(mean, dtype=np.float64), np.asarray(variance, dtype=np.float64))

    def _set(self, mean: np.ndarray, variance: np.ndarray) -> None:
        if mean.shape != variance.shape or mean.ndim > 1:
            raise ShapeError(
                f"{self.name}: mean and variance must be numbers or equal-length "
                f"lists, received shapes {mean.shape} and {variance.shape}"
            )
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(variance))) or np.any(
            variance < 0
        ):
            raise InvalidArgumentError(
                f"{self.name}: mean must be finite and variance finite and ≥ 0"
            )
        self.mean, self.variance = mean, variance

    def adapt(self, x: Any) -> Normalization:
        """Take mean and variance per feature (last axis) from ``x``."""
        arr = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.float64)
        if arr.ndim < 1 or arr.shape[0] == 0:
            raise InvalidArgumentError(
                f"{self.name}: adapt needs at least one sample, received {describe(arr)}"
            )
        flat = arr.reshape(-1, arr.shape[-1]) if arr.ndim > 1 else arr.reshape(-1, 1)
        self._set(flat.mean(axis=0), flat.var(axis=0))
        return self

    def scale_and_shift(self) -> tuple[np.ndarray, np.ndarray]:
        """(1/√variance, mean) in the layer's dtype; a zero variance leaves the feature unscaled."""
        if self.mean is None or self.variance is None:
            raise InvalidArgumentError(
                f"{self.name}: no statistics yet; pass mean= and "
                f"variance= or call adapt(x_train) before using it"
            )
        std = np.sqrt(self.variance)
        inv = np.where(std > 0, 1.0 / np.where(std > 0, std, 1.0), 1.0)
        return inv.astype(self.dtype), self.mean.astype(self.dtype)

    def forward(self, x: Tensor) -> Tensor:
        inv, mean = self.scale_and_shift()
        if x.data.dtype != self.dtype:
            x = F.cast(x, self.dtype) if x.requires_grad else Tensor(x.data.astype(self.dtype))
        return (x - mean) * inv

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self.mean is not None and self.variance is not None:
            config["mean"] = self.mean.tolist()
            config["variance"] = self.variance.tolist()
        return config


LAYER_CLASSES: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (
        Input,
        Dense,
        Activation,
        Linear,
        Sigmoid,
        Tanh,
        ReLU,
        LeakyReLU,
        ELU,
        GELU,
        Softplus,
        Softmax,
        Dropout,
        Flatten,
        Rescaling,
        Normalization,
    )
}
