"""BatchNormalization and LayerNormalization, forward and backward in one place.

Both normalise x over some axes and then scale and shift it per feature:

    x̂ = (x − μ) / √(σ² + ε)        a = γ ⊙ x̂ + β

BatchNormalization takes μ and σ² (the biased variance, as Keras) over the batch and every axis
but ``axis`` (the channels) in training mode, and updates its moving statistics

    moving_mean ← momentum·moving_mean + (1 − momentum)·μ         (the same for the variance)

which inference mode uses instead. LayerNormalization takes them over the trailing ``axis``
axes of each sample, the same in both modes. The backward of a normalisation over m values,
with ĝ = g ⊙ γ:

    ∂C/∂γ = Σ g ⊙ x̂        ∂C/∂β = Σ g
    ∂C/∂x = (ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂)) / √(σ² + ε)      (μ, σ² from the batch)
    ∂C/∂x = ĝ / √(σ² + ε)                                     (moving statistics: constants)

The moving statistics are parameters that nothing trains (``requires_grad`` False): model files,
``get_weights`` and the summary's non-trainable count include them, as in Keras.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import InvalidArgumentError, ShapeError, describe
from .. import initializers
from ..module import Parameter
from .base import Context, Layer, Shape

__all__ = ["BatchNormalization", "LayerNormalization"]


def _number(value: Any, arg: str, layer: str, low: float, high: float | None) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= low
    if not ok or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f"≥ {low}"
        raise InvalidArgumentError(f"{layer}: {arg} must be a number {bound}, received {value!r}")
    return float(value)


def _init_config(init: Any) -> dict[str, Any]:
    return {"name": init.name, **init.get_config()}


class _Normalization(Layer):
    """γ, β and the shared backward of the two normalisations."""

    def __init__(
        self,
        epsilon: float,
        center: bool,
        scale: bool,
        beta_initializer: Any,
        gamma_initializer: Any,
        name: str | None,
        input_shape: Sequence[int] | None,
        dtype: Any,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        cls = type(self).__name__
        self.epsilon = _number(epsilon, "epsilon", cls, 0.0, None)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.gamma: Parameter | None = None
        self.beta: Parameter | None = None

    def kernel_parameters(self) -> list[Parameter]:
        return [p for p in (self.gamma, self.beta) if p is not None]

    def _affine_grads(self, ctx: Context) -> tuple[np.ndarray | None, np.ndarray | None]:
        grads = list(ctx.grads)
        gamma = grads.pop(0) if self.gamma is not None else None
        beta = grads.pop(0) if self.beta is not None else None
        return gamma, beta

    def _scale_shift(self, xhat: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        a = xhat * self.gamma.data.reshape(shape) if self.gamma is not None else xhat.copy()
        if self.beta is not None:
            a += self.beta.data.reshape(shape)
        return a

    def _backward(
        self,
        ctx: Context,
        g: np.ndarray,
        xhat: np.ndarray,
        inv: np.ndarray,
        axes: tuple[int, ...],
        shape: tuple[int, ...],
        batch_stats: bool,
    ) -> np.ndarray | None:
        """The module docstring's backward; axes are those μ and σ² were taken over, shape the
        broadcast shape of γ (and of μ, σ² when they are per feature)."""
        grad_gamma, grad_beta = self._affine_grads(ctx)
        param_axes = tuple(i for i in range(g.ndim) if shape[i] == 1)
        if grad_gamma is not None:
            grad_gamma[...] = (g * xhat).sum(axis=param_axes).reshape(grad_gamma.shape)
        if grad_beta is not None:
            grad_beta[...] = g.sum(axis=param_axes).reshape(grad_beta.shape)
        if not ctx.need_input_grad:
            return None
        ghat = g * self.gamma.data.reshape(shape) if self.gamma is not None else g
        if not batch_stats:
            return ghat * inv  # type: ignore[no-any-return]
        mean_g = ghat.mean(axis=axes, keepdims=True)
        mean_gx = (ghat * xhat).mean(axis=axes, keepdims=True)
        return (ghat - mean_g - xhat * mean_gx) * inv  # type: ignore[no-any-return]

    def _build_affine(self, features: tuple[int, ...]) -> None:
        if self.scale:
            self.gamma = Parameter(self.gamma_initializer(features, self.dtype), name="gamma")
        if self.center:
            self.beta = Parameter(self.beta_initializer(features, self.dtype), name="beta")

    def _affine_shapes(self, features: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {}
        if self.scale:
            shapes["gamma"] = features
        if self.center:
            shapes["beta"] = features
        return shapes

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": _init_config(self.beta_initializer),
            "gamma_initializer": _init_config(self.gamma_initializer),
        }


class BatchNormalization(_Normalization):
    """Keras's BatchNormalization: normalise each feature of ``axis`` (default the last, the
    channels of a channels-last image) over the batch and the other axes.

    Training mode uses the batch's statistics and updates the moving ones; inference mode, and a
    layer with ``trainable = False`` (as in Keras), uses the moving statistics.
    """

    explain_role = "batchnorm"  # glassnet.explain.conv traces it with the batch's statistics

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: Any = None,
    ) -> None:
        cls = "BatchNormalization"
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis == 0:
            raise InvalidArgumentError(
                f"{cls}: axis must be a non-zero integer (a feature axis, not the batch), "
                f"received axis={axis!r}"
            )
        super().__init__(
            epsilon, center, scale, beta_initializer, gamma_initializer, name, input_shape, dtype
        )
        self.axis = int(axis)
        self.momentum = _number(momentum, "momentum", cls, 0.0, 1.0)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.moving_mean: Parameter | None = None
        self.moving_variance: Parameter | None = None
        if self.input_shape is not None:
            self.build(self.input_shape)

    def _feature_axis(self, ndim: int) -> int:
        """The feature axis of a batch with ``ndim`` axes."""
        axis = self.axis if self.axis > 0 else ndim + self.axis
        if not 0 < axis < ndim:
            raise ShapeError(
                f"{self.name}: axis={self.axis} is not a feature axis of a batch with {ndim} axes"
            )
        return axis

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        axis = self._feature_axis(len(input_shape) + 1)
        features = (int(input_shape[axis - 1]),)  # type: ignore[arg-type]
        shapes = self._affine_shapes(features)
        shapes["moving_mean"] = features
        shapes["moving_variance"] = features
        return shapes

    def build(self, input_shape: Shape) -> None:
        features = self.parameter_shapes(input_shape)["moving_mean"]
        self._build_affine(features)
        self.moving_mean = Parameter(
            self.moving_mean_initializer(features, self.dtype), name="moving_mean"
        )
        self.moving_variance = Parameter(
            self.moving_variance_initializer(features, self.dtype), name="moving_variance"
        )
        self.moving_mean.requires_grad = False  # state, not trained
        self.moving_variance.requires_grad = False
        self._apply_trainable()
        self.built = True

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        assert self.moving_mean is not None and self.moving_variance is not None
        dt = self.moving_mean.data.dtype
        batch_stats = ctx.training and self.trainable
        a, (xhat, inv, axes, shape, mean, var) = self.normalise(
            x.astype(dt, copy=False), batch_stats
        )
        if batch_stats:
            m = self.momentum
            self.moving_mean.data *= m
            self.moving_mean.data += (1 - m) * mean.reshape(-1)
            self.moving_variance.data *= m
            self.moving_variance.data += (1 - m) * var.reshape(-1)
        ctx.saved = (xhat, inv, axes, shape, batch_stats)
        return a

    def normalise(self, x: np.ndarray, batch_stats: bool) -> tuple[np.ndarray, tuple[Any, ...]]:
        """(γ x̂ + β, (x̂, 1/√(σ² + ε), axes, shape, μ, σ²)) with x̂ = (x − μ)/√(σ² + ε): the
        batch's statistics (biased variance, as Keras) when ``batch_stats``, else the moving
        ones. The moving statistics are not updated here (forward_kernel does that; the
        doctor's probe runs this alone). Computed in x's dtype."""
        assert self.moving_mean is not None and self.moving_variance is not None
        if x.ndim < 2 or x.shape[self._feature_axis(x.ndim)] != self.moving_mean.shape[0]:
            raise ShapeError(
                f"{self.name}: expected {self.moving_mean.shape[0]} features on axis "
                f"{self.axis}, received {describe(x)}"
            )
        axis = self._feature_axis(x.ndim)
        axes = tuple(i for i in range(x.ndim) if i != axis)
        shape = tuple(x.shape[axis] if i == axis else 1 for i in range(x.ndim))
        if batch_stats:
            mean = x.mean(axis=axes, keepdims=True)
            centred = x - mean
            var = np.mean(centred * centred, axis=axes, keepdims=True)
        else:
            mean = self.moving_mean.data.reshape(shape)
            centred = x - mean
            var = self.moving_variance.data.reshape(shape)
        inv = 1.0 / np.sqrt(var + x.dtype.type(self.epsilon))
        xhat = centred * inv
        return self._scale_shift(xhat, shape), (xhat, inv, axes, shape, mean, var)

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        xhat, inv, axes, shape, batch_stats = ctx.saved
        return self._backward(ctx, g, xhat, inv, axes, shape, batch_stats)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "moving_mean_initializer": _init_config(self.moving_mean_initializer),
            "moving_variance_initializer": _init_config(self.moving_variance_initializer),
        }

    def extra_repr(self) -> str:
        return f"axis={self.axis}, momentum={self.momentum}, epsilon={self.epsilon}"


class LayerNormalization(_Normalization):
    """Keras's LayerNormalization: normalise each sample over its last ``axis`` axes (default
    the last one) — the same in training and inference — then γ ⊙ x̂ + β per feature."""

    def __init__(
        self,
        axis: Any = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: Any = None,
    ) -> None:
        axes = [axis] if isinstance(axis, (int, np.integer)) else axis
        if (
            isinstance(axis, bool)
            or not isinstance(axes, (list, tuple))
            or not axes
            or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes)
            or sorted(int(a) for a in axes) != list(range(-len(axes), 0))
        ):
            raise InvalidArgumentError(
                f"LayerNormalization: axis must be -1 or the last axes as negative integers "
                f"(e.g. [-2, -1]), received axis={axis!r}"
            )
        super().__init__(
            epsilon, center, scale, beta_initializer, gamma_initializer, name, input_shape, dtype
        )
        self.axis = int(axes[0]) if isinstance(axis, (int, np.integer)) else [int(a) for a in axes]
        self._count = len(axes)
        if self.input_shape is not None:
            self.build(self.input_shape)

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        if len(input_shape) < self._count:
            raise ShapeError(
                f"{self.name}: axis={self.axis} needs inputs with at least {self._count} "
                f"feature axes, received per-sample shape {tuple(input_shape)}"
            )
        features = tuple(int(d) for d in input_shape[-self._count :])  # type: ignore[arg-type]
        return self._affine_shapes(features)

    def build(self, input_shape: Shape) -> None:
        self.parameter_shapes(input_shape)
        self._build_affine(tuple(int(d) for d in input_shape[-self._count :]))  # type: ignore[arg-type]
        self._features = tuple(int(d) for d in input_shape[-self._count :])  # type: ignore[arg-type]
        self._apply_trainable()
        self.built = True

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        k = self._count
        if x.ndim <= k or tuple(x.shape[-k:]) != self._features:
            raise ShapeError(
                f"{self.name}: expected inputs ending in {self._features}, received {describe(x)}"
            )
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        axes = tuple(range(x.ndim - k, x.ndim))
        shape = (1,) * (x.ndim - k) + self._features
        mean = x.mean(axis=axes, keepdims=True)
        centred = x - mean
        var = np.mean(centred * centred, axis=axes, keepdims=True)
        inv = 1.0 / np.sqrt(var + self.dtype.type(self.epsilon))
        xhat = centred * inv
        ctx.saved = (xhat, inv, axes, shape)
        return self._scale_shift(xhat, shape)

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        xhat, inv, axes, shape = ctx.saved
        return self._backward(ctx, g, xhat, inv, axes, shape, batch_stats=True)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}

    def extra_repr(self) -> str:
        return f"axis={self.axis}, epsilon={self.epsilon}"
