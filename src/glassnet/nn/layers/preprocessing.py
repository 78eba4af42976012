"""Preprocessing layers with fixed constants: Rescaling (x·scale + offset) and Normalization."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...autograd.tensor import Tensor
from ...errors import InvalidArgumentError, ShapeError, describe
from .base import Context, Layer

__all__ = ["Rescaling", "Normalization"]


class Rescaling(Layer):
    """x · scale + offset, as floats: ``Rescaling(1/255)`` turns uint8 pixels into [0, 1].

    Integer pixels are converted and scaled in one pass (the same numbers as astype, then
    multiply); backward: ∂C/∂x = g · scale.
    """

    explain_role = "scale"

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
        self.built = True

    def pointwise_affine(self) -> tuple[float, float] | None:
        return self.scale, self.offset

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        t = self.dtype.type
        out = ctx.buffer("a", x.shape, self.dtype)
        if out is None:
            out = np.empty(x.shape, self.dtype)
        if x.dtype.kind in "iub":
            ctx.ops.scale_into(x, self.scale, out)
        else:
            np.multiply(
                x if x.dtype == self.dtype else x.astype(self.dtype), t(self.scale), out=out
            )
        if self.offset:
            out += t(self.offset)
        return out

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        return g * self.scale

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}

    def extra_repr(self) -> str:
        return f"scale={self.scale:g}, offset={self.offset:g}"


class Normalization(Layer):
    """(x − mean) / √variance per feature, with fixed statistics (Keras's Normalization).

    Give ``mean`` and ``variance`` (numbers or per-feature lists), or call ``adapt(x)`` to take
    them from training data. They are constants saved with the model, not trained.
    """

    # A fixed affine map of the inputs: the explain trace applies it before layer 1.
    explain_role = "normalize"

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
        self.built = True

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

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        inv, mean = self.scale_and_shift()
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        ctx.saved = inv
        return (x - mean) * inv

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        return g * ctx.saved

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self.mean is not None and self.variance is not None:
            config["mean"] = self.mean.tolist()
            config["variance"] = self.variance.tolist()
        return config
