"""Layers that only reshape: Input (declares and checks the per-sample shape) and Flatten."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import InvalidArgumentError, ShapeError
from .base import Context, Layer, Shape

__all__ = ["Input", "Flatten"]


class Input(Layer):
    """Declares the input shape of a Sequential model (``Input(shape=(28, 28))``)."""

    explain_role = "identity"
    reshape_only = True

    def __init__(self, shape: Sequence[int], name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name or "input", input_shape=shape, dtype=dtype)
        if self.input_shape is None:
            raise InvalidArgumentError("Input: shape is required, received shape=None")
        self.built = True

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        if tuple(x.shape[1:]) != self.input_shape:
            raise ShapeError(
                f"{self.name}: expected inputs of shape (batch, "
                f"{', '.join(map(str, self.input_shape or ()))}), "
                f"received {x.shape}"
            )
        return x

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        return g

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["shape"] = config.pop("input_shape")
        return config


class Flatten(Layer):
    """(N, d1, d2, ...) → (N, d1·d2·...), e.g. 28×28 images to 784 inputs."""

    explain_role = "flatten"
    reshape_only = True

    def __init__(
        self,
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if any(d is None for d in input_shape):
            return (None,)
        return (int(np.prod([int(d) for d in input_shape if d is not None], dtype=np.int64)),)

    def is_identity(self, x: np.ndarray, ctx: Context) -> bool:
        return x.ndim == 2

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        if x.ndim < 1:
            raise ShapeError(f"{self.name}: Flatten needs a batch axis, received a scalar")
        ctx.saved = x.shape
        return x if x.ndim == 2 else x.reshape(x.shape[0], -1)

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        return g.reshape(ctx.saved)
