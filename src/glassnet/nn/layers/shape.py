"""Layers that only reshape: Input (declares and checks the per-sample shape) and Flatten."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import DTypeError, InvalidArgumentError, ShapeError
from ..symbolic import Node, SymbolicTensor, check_symbolic_shape
from .base import Context, Layer, Shape

__all__ = ["Input", "Flatten", "Reshape", "ZeroPadding2D", "UpSampling2D"]


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


class Reshape(Layer):
    """(N, *d) → (N, *target_shape); one entry of target_shape may be -1 (inferred)."""

    reshape_only = True

    def __init__(
        self,
        target_shape: Sequence[int],
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: Any = None,
    ) -> None:
        dims = [target_shape] if isinstance(target_shape, int) else target_shape
        if (
            not isinstance(dims, (tuple, list))
            or not dims
            or not all(isinstance(d, int) and not isinstance(d, bool) for d in dims)
            or any(d < 1 and d != -1 for d in dims)
            or list(dims).count(-1) > 1
        ):
            raise InvalidArgumentError(
                f"Reshape: target_shape must be a tuple of positive ints with at most one -1, "
                f"received target_shape={target_shape!r}"
            )
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.target_shape = tuple(int(d) for d in dims)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if any(d is None for d in input_shape):
            return self.target_shape
        size = int(np.prod([int(d) for d in input_shape if d is not None], dtype=np.int64))
        known = int(np.prod([d for d in self.target_shape if d != -1], dtype=np.int64))
        if -1 in self.target_shape:
            if size % known:
                raise ShapeError(
                    f"{self.name}: cannot reshape {size} values per sample into {self.target_shape}"
                )
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise ShapeError(
                f"{self.name}: cannot reshape per-sample shape {tuple(input_shape)} ({size} "
                f"values) into {self.target_shape} ({known} values)"
            )
        return self.target_shape

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        target = self.compute_output_shape(tuple(x.shape[1:]))
        ctx.saved = x.shape
        return x.reshape(len(x), *target)  # type: ignore[misc]

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        return g.reshape(ctx.saved)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


def _image_layout(layer: Layer, x: np.ndarray, data_format: str) -> tuple[int, int]:
    """The (rows, cols) axes of a 4-D image batch in ``data_format``."""
    if x.ndim != 4:
        raise ShapeError(
            f"{layer.name}: {type(layer).__name__} needs a batch of images (4-D, "
            f"{data_format}), received an array of shape {x.shape}"
        )
    return (1, 2) if data_format == "channels_last" else (2, 3)


def _pairs(value: Any, arg: str, layer: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Keras's ZeroPadding2D padding: n, (rows, cols) or ((top, bottom), (left, right))."""

    def count(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    if count(value):
        return (value, value), (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        if all(count(v) for v in value):
            return (value[0], value[0]), (value[1], value[1])
        if all(isinstance(v, (tuple, list)) and len(v) == 2 and all(map(count, v)) for v in value):
            return (int(value[0][0]), int(value[0][1])), (int(value[1][0]), int(value[1][1]))
    raise InvalidArgumentError(
        f"{layer}: {arg} must be an int ≥ 0, a pair (rows, cols) or a pair of pairs "
        f"((top, bottom), (left, right)), received {arg}={value!r}"
    )


class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros around each image (Keras's ZeroPadding2D)."""

    explain_role = "zeropad"  # glassnet.explain.conv crops δ back

    def __init__(
        self,
        padding: Any = (1, 1),
        data_format: str | None = None,
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: Any = None,
    ) -> None:
        from ._windows import data_format_arg

        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.padding = _pairs(padding, "padding", "ZeroPadding2D")
        self.data_format = data_format_arg(data_format, "ZeroPadding2D")
        self.built = True

    def _axes(self, ndim: int) -> tuple[int, int]:
        return (0, 1) if self.data_format == "channels_last" else (1, 2)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = list(input_shape)
        for axis, (lo, hi) in zip(self._axes(len(shape)), self.padding):
            if shape[axis] is not None:
                shape[axis] = int(shape[axis]) + lo + hi  # type: ignore[arg-type]
        return tuple(shape)

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        axes = _image_layout(self, x, self.data_format)
        widths = [(0, 0)] * 4
        for axis, pair in zip(axes, self.padding):
            widths[axis] = pair
        ctx.saved = axes
        return np.pad(x, widths)

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        index = [slice(None)] * 4
        for axis, (lo, hi) in zip(ctx.saved, self.padding):
            index[axis] = slice(lo, g.shape[axis] - hi)
        return g[tuple(index)]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "padding": [list(p) for p in self.padding],
            "data_format": self.data_format,
        }


class UpSampling2D(Layer):
    """Repeats each row ``size[0]`` times and each column ``size[1]`` times (nearest
    neighbour, Keras's UpSampling2D); the backward sums each block's gradient."""

    explain_role = "upsample"  # glassnet.explain.conv sums δ over each block

    def __init__(
        self,
        size: Any = (2, 2),
        data_format: str | None = None,
        interpolation: str = "nearest",
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: Any = None,
    ) -> None:
        from ._windows import data_format_arg, tuple_arg

        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.size = tuple_arg(size, 2, "size", "UpSampling2D")
        self.data_format = data_format_arg(data_format, "UpSampling2D")
        if interpolation != "nearest":
            raise InvalidArgumentError(
                f"UpSampling2D: interpolation must be 'nearest' (the one glassnet implements), "
                f"received interpolation={interpolation!r}"
            )
        self.interpolation = interpolation
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = list(input_shape)
        axes = (0, 1) if self.data_format == "channels_last" else (1, 2)
        for axis, k in zip(axes, self.size):
            if shape[axis] is not None:
                shape[axis] = int(shape[axis]) * k  # type: ignore[arg-type]
        return tuple(shape)

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        rows, cols = _image_layout(self, x, self.data_format)
        ctx.saved = (rows, cols)
        return np.repeat(np.repeat(x, self.size[0], axis=rows), self.size[1], axis=cols)

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        rows, cols = ctx.saved
        shape = list(g.shape)
        blocks = shape[:rows] + [shape[rows] // self.size[0], self.size[0]]
        blocks += [shape[cols] // self.size[1], self.size[1]] + shape[cols + 1 :]
        return g.reshape(blocks).sum(axis=(rows + 1, cols + 2))  # type: ignore[no-any-return]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "size": list(self.size),
            "data_format": self.data_format,
            "interpolation": self.interpolation,
        }
