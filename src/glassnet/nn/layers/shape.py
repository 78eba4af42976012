"""Layers that only reshape: Input (declares and checks the per-sample shape) and Flatten."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import DTypeError, InvalidArgumentError, ShapeError
from ..symbolic import Node, SymbolicTensor, check_symbolic_shape
from .base import Context, Layer, Shape

__all__ = ["Input", "Flatten"]


class Input(Layer):
    """Declares a model's input: ``Input(shape=(28, 28))`` first in a Sequential, or — called
    on by layers, as ``keras.Input`` returns it — a symbolic input of a functional model.

    ``shape`` is per sample (None for a size only known from the data, e.g. ``(None,)`` for
    sequences of any length); ``batch_shape`` includes the batch axis instead. ``dtype`` may be
    an integer type (token ids for an Embedding); float is the default.
    """

    explain_role = "identity"
    reshape_only = True

    def __init__(
        self,
        shape: Sequence[int | None] | None = None,
        name: str | None = None,
        dtype: Any = None,
        batch_shape: Sequence[int | None] | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(name=name or "input")
        self._auto_name = name is None
        if (shape is None) == (batch_shape is None):
            raise InvalidArgumentError(
                f"Input: give shape (per sample) or batch_shape (with the batch axis), "
                f"received shape={shape!r}, batch_shape={batch_shape!r}"
            )
        if batch_shape is not None:
            full = check_symbolic_shape(batch_shape, "Input: batch_shape")
            if not full:
                raise InvalidArgumentError("Input: batch_shape needs the batch axis, received ()")
            batch_size, per_sample = full[0], full[1:]
        else:
            per_sample = check_symbolic_shape(shape, "Input: shape")  # type: ignore[arg-type]
        self.input_shape = per_sample  # type: ignore[assignment]
        self.batch_size = batch_size
        self.dtype = np.dtype(dtype or "float32")
        if self.dtype.kind not in "fiub":
            raise DTypeError(
                f"Input: dtype must be a float or integer type, received dtype={dtype!r}"
            )
        self._symbolic: SymbolicTensor | None = None
        self.built = True

    @property
    def shape(self) -> tuple[int | None, ...]:
        """The batch shape, as Keras shows it: (None, 28, 28)."""
        return (self.batch_size, *(self.input_shape or ()))

    def symbolic_output(self) -> SymbolicTensor:
        """The symbolic tensor this input stands for (one per Input, made on first use)."""
        if self._symbolic is None:
            node = Node(self, [], "single", {})
            self._symbolic = SymbolicTensor(self.shape, self.dtype, self.name, node)
            node.outputs = [self._symbolic]
            self._symbolic_nodes = [node]
        return self._symbolic

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        expected = self.input_shape or ()
        if len(x.shape) != len(expected) + 1 or any(
            d is not None and d != s for d, s in zip(expected, x.shape[1:])
        ):
            shown = ", ".join("?" if d is None else str(d) for d in expected)
            raise ShapeError(
                f"{self.name}: expected inputs of shape (batch, {shown}), received {x.shape}"
            )
        return x

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        return g

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "shape": list(self.input_shape or ())}
        if self.dtype != np.float32:
            config["dtype"] = str(self.dtype)
        if self.batch_size is not None:
            config["batch_size"] = self.batch_size
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
