"""Embedding: a lookup table from integer indices to learned vectors, forward and backward.

For integer inputs i of shape (N, …) and a table E of shape (input_dim, output_dim):

    forward   a[n, …, :] = E[i[n, …], :]
    backward  ∂C/∂E[v, :] = Σ over the positions where i = v of g[n, …, :]

(the product of a one-hot row with E, written as a gather, so its gradient is a scatter-add).
The indices carry no gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import DTypeError, InvalidArgumentError, ShapeError, describe
from .. import initializers
from ..module import Parameter
from .base import Context, Layer, Shape

__all__ = ["Embedding"]


def _positive(value: Any, arg: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidArgumentError(
            f"Embedding: {arg} must be a positive integer, received {arg}={value!r}"
        )
    return int(value)


class Embedding(Layer):
    """Integer indices → rows of a learned table ``embeddings`` of shape (input_dim, output_dim).

    ``mask_zero=True`` is accepted and recorded (index 0 is padding, as in Keras); glassnet
    has no layer that consumes masks yet, so it changes no value.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        mask_zero: bool = False,
        input_length: int | None = None,
        input_shape: Any = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.input_dim = _positive(input_dim, "input_dim")
        self.output_dim = _positive(output_dim, "output_dim")
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.input_length = input_length
        self.embeddings: Parameter | None = None
        self.build(())

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {"embeddings": (self.input_dim, self.output_dim)}

    def build(self, input_shape: Shape) -> None:
        if self.embeddings is None:
            shape = (self.input_dim, self.output_dim)
            initializers.check_allocation(shape, self.dtype, f"{self.name}: Embedding table")
            table = self.embeddings_initializer(shape, self.dtype)
            self.embeddings = Parameter(table, name="embeddings")
            self._apply_trainable()
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape, self.output_dim)

    def _indices(self, x: np.ndarray) -> np.ndarray:
        if x.dtype.kind == "f":
            if not np.array_equal(x, np.round(x)):
                raise DTypeError(
                    f"{self.name}: Embedding expects integer indices, received {describe(x)} "
                    f"with non-integer values"
                )
        elif x.dtype.kind not in "iub":
            raise DTypeError(
                f"{self.name}: Embedding expects integer indices, received {describe(x)}"
            )
        idx = x.astype(np.intp, copy=False)
        if idx.size and (idx.min() < 0 or idx.max() >= self.input_dim):
            raise ShapeError(
                f"{self.name}: indices must lie in [0, {self.input_dim}) (input_dim="
                f"{self.input_dim}), received values from {idx.min()} to {idx.max()}"
            )
        return idx

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        assert self.embeddings is not None
        idx = self._indices(x)
        ctx.saved = idx
        return self.embeddings.data[idx]

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        grad = ctx.grads[0] if ctx.grads else None
        if grad is not None:
            grad.fill(0)
            np.add.at(grad, ctx.saved.reshape(-1), g.reshape(-1, self.output_dim))
        return None  # indices have no gradient

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        config = dict(config)
        if "vocabulary_size" in config:
            config["input_dim"] = config.pop("vocabulary_size")
        return cls(**config)

    def get_config(self) -> dict[str, Any]:
        # The table's rows are saved as "vocabulary_size": in glassnet's model files
        # "input_dim" declares the size of a layer's input, which here it is not.
        config = super().get_config()
        config.update(
            vocabulary_size=self.input_dim,
            output_dim=self.output_dim,
            embeddings_initializer={
                "name": self.embeddings_initializer.name,
                **self.embeddings_initializer.get_config(),
            },
            mask_zero=self.mask_zero,
        )
        return config

    def extra_repr(self) -> str:
        return f"{self.input_dim} → {self.output_dim}, name={self.name!r}"
