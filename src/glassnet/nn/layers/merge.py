"""Merge layers: several inputs in, one output — Concatenate, Add, Subtract, Multiply, Average,
Maximum, Minimum and Dot, with Keras's lower-case shortcuts (``concatenate([a, b])``).

The layer protocol, extended for several inputs (the one extension: ``takes_list``): the
kernels receive and return lists,

* ``forward_kernel(xs, ctx) -> a`` — the output for the batches ``xs`` (one per input);
* ``backward_kernel(ctx, g) -> [∂C/∂x_1, …]`` — one gradient per input, from g = ∂C/∂a
  (merge layers have no parameters),

and ``layer([x1, x2])`` wraps them as one autograd node whose parents are the inputs, so every
path that runs a graph runs these kernels. Each layer's local derivative sits beside its value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ...autograd.tensor import Tensor
from ...errors import InvalidArgumentError, ShapeError, describe
from ..symbolic import call_symbolic, is_symbolic
from .base import Context, Layer, Shape, inference_mode

__all__ = [
    "Merge",
    "Concatenate",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Dot",
    "concatenate",
    "add",
    "subtract",
    "multiply",
    "average",
    "maximum",
    "minimum",
    "dot",
]


class Merge(Layer):
    """Base of the layers that take a list of inputs (see the module docstring)."""

    takes_list: ClassVar[bool] = True
    #: how many inputs the layer takes (None: two or more)
    arity: ClassVar[int | None] = None

    def __init__(self, name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.built = True

    def forward_kernel(self, xs: list[np.ndarray], ctx: Context) -> np.ndarray:  # type: ignore[override]
        raise NotImplementedError

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> list[np.ndarray]:  # type: ignore[override]
        raise NotImplementedError

    def fast_step_problem(self) -> str | None:
        return f"layer {self.name!r} ({type(self).__name__}) takes several inputs"

    def _check_inputs(self, xs: Any) -> list[Any]:
        if not isinstance(xs, (list, tuple)):
            raise InvalidArgumentError(
                f"{self.name}: {type(self).__name__} takes a list of inputs, received "
                f"{describe(xs)}"
            )
        n = len(xs)
        if (self.arity is not None and n != self.arity) or n < 2:
            expected = f"exactly {self.arity}" if self.arity is not None else "at least 2"
            raise InvalidArgumentError(
                f"{self.name}: {type(self).__name__} takes {expected} inputs, received {n}"
            )
        return list(xs)

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        xs = self._check_inputs(x)
        if is_symbolic(xs):
            return call_symbolic(self, xs, kwargs)
        tensors = [
            x if isinstance(x, Tensor) else Tensor(np.asarray(x), dtype=self.dtype) for x in xs
        ]
        return self.forward(tensors)

    def forward(self, xs: list[Tensor]) -> Tensor:  # type: ignore[override]
        """The graph path: the kernels as one node whose parents are the inputs."""
        ctx = Context(training=self.training and not inference_mode())
        value = self.forward_kernel([x.data for x in xs], ctx)

        def backward(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
            grads = self.backward_kernel(ctx, g)
            return tuple(
                gx.astype(x.data.dtype, copy=False) if x.requires_grad else None
                for gx, x in zip(grads, xs)
            )

        return Tensor._make(value, tuple(xs), backward, self.node_name())

    def compute_output_shape(self, input_shape: Any) -> Shape:
        # Merge shapes are inferred by running the kernels (see nn/symbolic.py).
        raise NotImplementedError


def _same_shapes(layer: Layer, xs: list[np.ndarray]) -> None:
    if any(x.shape != xs[0].shape for x in xs):
        raise ShapeError(
            f"{layer.name}: {type(layer).__name__} needs inputs of one shape, received "
            + ", ".join(str(x.shape) for x in xs)
        )


class Concatenate(Merge):
    """a = [x_1, x_2, …] joined along ``axis``; ∂C/∂x_i is g's slice for x_i."""

    def __init__(self, axis: int = -1, name: str | None = None, dtype: Any = None) -> None:
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise InvalidArgumentError(
                f"Concatenate: axis must be an integer, received axis={axis!r}"
            )
        super().__init__(name=name, dtype=dtype)
        self.axis = int(axis)

    def forward_kernel(self, xs: list[np.ndarray], ctx: Context) -> np.ndarray:  # type: ignore[override]
        ndim = xs[0].ndim
        axis = self.axis if self.axis >= 0 else ndim + self.axis
        if axis == 0 or not 0 < axis < ndim or any(x.ndim != ndim for x in xs):
            raise ShapeError(
                f"{self.name}: cannot concatenate inputs of shapes "
                f"{', '.join(str(x.shape) for x in xs)} along axis {self.axis}"
            )
        rest = [x.shape[:axis] + x.shape[axis + 1 :] for x in xs]
        if any(r != rest[0] for r in rest):
            raise ShapeError(
                f"{self.name}: inputs of shapes {', '.join(str(x.shape) for x in xs)} differ "
                f"outside the concatenation axis {self.axis}"
            )
        ctx.saved = (axis, np.cumsum([x.shape[axis] for x in xs])[:-1])
        return np.concatenate(xs, axis=axis)

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> list[np.ndarray]:  # type: ignore[override]
        axis, splits = ctx.saved
        return list(np.split(g, splits, axis=axis))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class Add(Merge):
    """a = Σ_i x_i; ∂C/∂x_i = g."""

    def forward_kernel(self, xs: list[np.ndarray], ctx: Context) -> np.ndarray:  # type: ignore[override]
        _same_shapes(self, xs)
        ctx.saved = len(xs)
        out = xs[0] + xs[1]
        for x in xs[2:]:
            out = out + x
        return out  # type: ignore[no-any-return]

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> list[np.ndarray]:  # type: ignore[override]
        return [g] * ctx.saved


class Subtract(Merge):
    """a = x_1 − x_2; ∂C/∂x_1 = g, ∂C/∂x_2 = −g."""

    arity = 2

    def forward_kernel(self, xs: list[np.ndarray], ctx: Context) -> np.ndarray:  # type: ignore[override]
        _same_shapes(self, xs)
        return xs[0] - xs[1]  # type: ignore[no-any-return]

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> list[np.ndarray]:  # type: ignore[override]
        return [g, -g]


class Multiply(Merge):
    """a = Π_i x_i; ∂C/∂x_i = g ⊙ Π_{j≠i} x_j."""

    def forward_kernel(self, xs: list[np.ndarray], ctx: Context) -> np.ndarray:  # type: ignore[override]
        _same_shapes(self, xs)
        ctx.saved = xs
        out = xs[0] * xs[1]
        for x in xs[2:]:
            out = out * x
        return out  # type: ignore[no-any-return]

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> list[np.ndarray]:  # type: ignore[override]
        xs = ctx.saved
        grads = []
        for i in range(len(xs)):
            gi = g
            for j, x in enumerate(xs):
                if j != i:
                    gi = gi * x
            grads.append(gi)
        return grads


class Average(Merge):
    """a = (1/n) Σ_i x_i; ∂C/∂x_i = g / n."""

    def forward_kernel(self, xs: list[np.ndarray], ctx: Context) -> np.ndarray:  # type: ignore[override]
        _same_shapes(self, xs)
        ctx.saved = len(xs)
        total = xs[0] + xs[1]
        for x in xs[2:]:
            total = total + x
        return total / np.asarray(len(xs), dtype=total.dtype)  # type: ignore[no-any-return]

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> list[np.ndarray]:  # type: ignore[override]
        share = g / np.asarray(ctx.saved, dtype=g.dtype)
        return [share] * ctx.saved


class _Extremum(Merge):
    """a = the elementwise max (min) of the inputs; g flows to the input that gave it (the
    first one on ties, as for a max over a stacked axis)."""

    pick: ClassVar[Any] = np.argmax

    def forward_kernel(self, xs: list[np.ndarray], ctx: Context) -> np.ndarray:  # type: ignore[override]
        _same_shapes(self, xs)
        winner = type(self).pick(np.stack(xs), axis=0)
        ctx.saved = (winner, len(xs))
        return np.choose(winner, xs)  # type: ignore[no-any-return]

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> list[np.ndarray]:  # type: ignore[override]
        winner, n = ctx.saved
        return [np.where(winner == i, g, np.zeros((), dtype=g.dtype)) for i in range(n)]


class Maximum(_Extremum):
    """a = max_i x_i elementwise; ∂C/∂x_i = g where x_i is the maximum, else 0."""

    pick = np.argmax


class Minimum(_Extremum):
    """a = min_i x_i elementwise; ∂C/∂x_i = g where x_i is the minimum, else 0."""

    pick = np.argmin


def _l2_normalize(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """u = x / max(‖x‖, 1e-6) along ``axis`` (Keras's l2_normalize: ε = 1e-12 on ‖x‖²)."""
    norm = np.sqrt(np.maximum((x * x).sum(axis=axis, keepdims=True), 1e-12)).astype(x.dtype)
    return x / norm, norm


def _l2_normalize_vjp(u: np.ndarray, norm: np.ndarray, g: np.ndarray, axis: int) -> np.ndarray:
    """∂C/∂x = (g − u (u·g)) / ‖x‖ (where ‖x‖ was not clamped)."""
    return (g - u * (u * g).sum(axis=axis, keepdims=True)) / norm  # type: ignore[no-any-return]


class Dot(Merge):
    """The per-sample dot product of two inputs over ``axes``: for x (N, n) and y (N, n),
    a = Σ_k x_k y_k of shape (N, 1); for x (N, m, n), y (N, k, n) and axes=2, a = x yᵀ per
    sample, (N, m, k). ``normalize=True`` divides each input by its L2 norm along the axis
    first (cosine similarity). ∂C/∂x = g y (over the other axes), ∂C/∂y = xᵀ g."""

    arity = 2

    def __init__(
        self,
        axes: int | Sequence[int],
        normalize: bool = False,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        pair = (axes, axes) if isinstance(axes, (int, np.integer)) else axes
        if (
            not isinstance(pair, (tuple, list))
            or len(pair) != 2
            or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in pair)
        ):
            raise InvalidArgumentError(
                f"Dot: axes must be an integer or a pair of integers, received axes={axes!r}"
            )
        super().__init__(name=name, dtype=dtype)
        self.axes = (int(pair[0]), int(pair[1]))
        self.normalize = bool(normalize)

    def _axes_for(self, xs: list[np.ndarray]) -> tuple[int, int]:
        x, y = xs
        ax, ay = (a if a >= 0 else nd + a for a, nd in zip(self.axes, (x.ndim, y.ndim)))
        if not (0 < ax < x.ndim and 0 < ay < y.ndim) or x.shape[ax] != y.shape[ay]:
            raise ShapeError(
                f"{self.name}: Dot(axes={self.axes}) cannot combine inputs of shapes "
                f"{x.shape} and {y.shape}"
            )
        return ax, ay

    def forward_kernel(self, xs: list[np.ndarray], ctx: Context) -> np.ndarray:  # type: ignore[override]
        ax, ay = self._axes_for(xs)
        x, y = xs
        norms = None
        if self.normalize:
            x, nx = _l2_normalize(x, ax)
            y, ny = _l2_normalize(y, ay)
            norms = (x, nx, y, ny)
        # x → (N, P, n) and y → (N, n, Q): one batched product, then back to Keras's shape.
        xm, ym = np.moveaxis(x, ax, -1), np.moveaxis(y, ay, 1)
        n = x.shape[0]
        x3 = xm.reshape(n, -1, xm.shape[-1])
        y3 = ym.reshape(n, ym.shape[1], -1)
        z = np.matmul(x3, y3)
        out_shape = xm.shape[:-1] + ym.shape[2:]
        ctx.saved = (ax, ay, xm.shape, ym.shape, x3, y3, norms)
        out = z.reshape(out_shape)
        return out.reshape(n, 1) if out.ndim == 1 else out

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> list[np.ndarray]:  # type: ignore[override]
        ax, ay, xm_shape, ym_shape, x3, y3, norms = ctx.saved
        g3 = g.reshape(x3.shape[0], x3.shape[1], y3.shape[2])
        gx = np.moveaxis(np.matmul(g3, np.swapaxes(y3, 1, 2)).reshape(xm_shape), -1, ax)
        gy = np.moveaxis(np.matmul(np.swapaxes(x3, 1, 2), g3).reshape(ym_shape), 1, ay)
        if norms is not None:
            ux, nx, uy, ny = norms
            gx = _l2_normalize_vjp(ux, nx, gx, ax)
            gy = _l2_normalize_vjp(uy, ny, gy, ay)
        return [gx, gy]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axes": list(self.axes), "normalize": self.normalize}


def concatenate(inputs: Sequence[Any], axis: int = -1, **kwargs: Any) -> Any:
    """``Concatenate(axis=axis)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """``Add()(inputs)``."""
    return Add(**kwargs)(inputs)


def subtract(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """``Subtract()(inputs)``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """``Multiply()(inputs)``."""
    return Multiply(**kwargs)(inputs)


def average(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """``Average()(inputs)``."""
    return Average(**kwargs)(inputs)


def maximum(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """``Maximum()(inputs)``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """``Minimum()(inputs)``."""
    return Minimum(**kwargs)(inputs)


def dot(
    inputs: Sequence[Any], axes: int | Sequence[int], normalize: bool = False, **kwargs: Any
) -> Any:
    """``Dot(axes, normalize)(inputs)``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
