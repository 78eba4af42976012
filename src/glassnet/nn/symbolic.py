"""Symbolic tensors: what ``keras.Input`` returns, and what calling a layer on one records.

A ``SymbolicTensor`` holds no numbers, only a shape (batch axis and unknown sizes as None), a
dtype and where it comes from: the ``Node`` — one call of a layer (or a model) on symbolic
inputs — that produced it. ``training/functional.py`` walks these nodes from a model's outputs
back to its inputs to build the graph a ``Functional`` model runs.

Calling a layer on a symbolic tensor builds it from the symbolic shape (its own
``build``/``parameter_shapes``) and infers the output shape — from the layer's
``compute_output_shape`` when its kernels define it, else by running it once on a small batch of
zeros — so a layer that cannot be called symbolically says so plainly, naming itself.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor, no_grad
from ..errors import GlassnetError, InvalidArgumentError, ShapeError
from .module import Module

__all__ = [
    "SymbolicTensor",
    "Node",
    "is_symbolic",
    "as_symbolic",
    "call_symbolic",
    "flatten_structure",
    "invoke",
    "SymbolicOp",
    "apply_symbolic",
]

Shape = tuple[int | None, ...]


class SymbolicTensor:
    """A placeholder for a batch: ``shape`` (None for the batch axis and unknown sizes),
    ``dtype``, ``name``; ``node`` is the call that produced it (None for a model input before
    it is attached to its Input layer) and ``index`` which of that call's outputs it is."""

    __slots__ = ("shape", "dtype", "name", "node", "index")

    def __init__(
        self, shape: Shape, dtype: Any, name: str | None = None, node: Any = None, index: int = 0
    ) -> None:
        self.shape: Shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.name = name
        self.node: Node | None = node
        self.index = index

    @property
    def ndim(self) -> int:
        """Number of axes, the batch axis included."""
        return len(self.shape)

    def __repr__(self) -> str:
        label = f", name={self.name!r}" if self.name else ""
        return f"<SymbolicTensor shape={self.shape}, dtype={self.dtype}{label}>"

    # Arithmetic records an operation node, as on Keras's KerasTensor: (a - b) ** 2 / 2.
    def __add__(self, other: Any) -> Any:
        return apply_symbolic(operator.add, "add", self, other)

    def __radd__(self, other: Any) -> Any:
        return apply_symbolic(operator.add, "add", other, self)

    def __sub__(self, other: Any) -> Any:
        return apply_symbolic(operator.sub, "subtract", self, other)

    def __rsub__(self, other: Any) -> Any:
        return apply_symbolic(operator.sub, "subtract", other, self)

    def __mul__(self, other: Any) -> Any:
        return apply_symbolic(operator.mul, "multiply", self, other)

    def __rmul__(self, other: Any) -> Any:
        return apply_symbolic(operator.mul, "multiply", other, self)

    def __truediv__(self, other: Any) -> Any:
        return apply_symbolic(operator.truediv, "divide", self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return apply_symbolic(operator.truediv, "divide", other, self)

    def __matmul__(self, other: Any) -> Any:
        return apply_symbolic(operator.matmul, "matmul", self, other)

    def __pow__(self, exponent: Any) -> Any:
        return apply_symbolic(operator.pow, "power", self, exponent)

    def __neg__(self) -> Any:
        return apply_symbolic(operator.neg, "negative", self)

    def __getitem__(self, index: Any) -> Any:
        return apply_symbolic(operator.getitem, "get_item", self, index)

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidArgumentError(
            f"{self!r} is symbolic (it holds no numbers): pass it to layers and to "
            f"keras.Model(inputs, outputs), then call the model on arrays"
        )


class Node:
    """One call of ``layer`` on symbolic inputs: ``inputs`` (flat list), how they were passed
    (``structure``: "single", "list" — one list argument — or "args" — several positional
    arguments), the call's keyword arguments and its ``outputs``."""

    __slots__ = ("layer", "inputs", "structure", "kwargs", "outputs")

    def __init__(
        self, layer: Any, inputs: list[SymbolicTensor], structure: str, kwargs: dict[str, Any]
    ) -> None:
        self.layer = layer
        self.inputs = inputs
        self.structure = structure
        self.kwargs = kwargs
        self.outputs: list[SymbolicTensor] = []

    def __repr__(self) -> str:
        return f"Node({getattr(self.layer, 'name', self.layer)!r}, {len(self.inputs)} inputs)"


def as_symbolic(value: Any) -> SymbolicTensor | None:
    """``value`` as a symbolic tensor: itself, or the output of an Input layer; else None."""
    if isinstance(value, SymbolicTensor):
        return value
    symbolic = getattr(value, "symbolic_output", None)
    if callable(symbolic):
        out = symbolic()
        return out if isinstance(out, SymbolicTensor) else None
    return None


def is_symbolic(value: Any) -> bool:
    """True for a symbolic tensor, an Input layer, or a non-empty list/tuple/dict of them."""
    if isinstance(value, (list, tuple)):
        return bool(value) and all(as_symbolic(v) is not None for v in value)
    if isinstance(value, dict):
        return bool(value) and all(as_symbolic(v) is not None for v in value.values())
    return as_symbolic(value) is not None


def flatten_structure(value: Any, what: str) -> tuple[list[Any], str, list[str] | None]:
    """(items, structure, keys): a single item ("single"), a list/tuple ("list") or a dict
    ("dict", with its keys in order)."""
    if isinstance(value, dict):
        if not value or not all(isinstance(k, str) for k in value):
            raise InvalidArgumentError(
                f"{what}: a dict must be non-empty with string keys, received keys {list(value)!r}"
            )
        return list(value.values()), "dict", list(value)
    if isinstance(value, (list, tuple)):
        if not value:
            raise InvalidArgumentError(f"{what}: received an empty {type(value).__name__}")
        return list(value), "list", None
    return [value], "single", None


def invoke(layer: Any, structure: str, values: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call ``layer`` on ``values`` the way the node recorded it."""
    if structure == "single":
        return layer(values[0], **kwargs)
    if structure == "args":
        return layer(*values, **kwargs)
    return layer(list(values), **kwargs)


def _not_symbolic_error(layer: Any, reason: str) -> InvalidArgumentError:
    label = f"{getattr(layer, 'name', '?')!r} ({type(layer).__name__})"
    return InvalidArgumentError(
        f"layer {label} cannot be called on a symbolic input (keras.Input): {reason}"
    )


def _kernel_shape(layer: Any, shapes: list[Shape]) -> Shape | None:
    """The output shape from the layer's own declarations, when they can be trusted: a layer
    computed by its kernels (no forward of its own), or one defining compute_output_shape."""
    from .layers.base import Layer

    cls = type(layer)
    if not isinstance(layer, Layer):
        return None
    own_shape = cls.compute_output_shape is not Layer.compute_output_shape
    kernel_layer = cls.forward is Layer.forward and cls.__call__ is Layer.__call__
    if not (own_shape or kernel_layer) or getattr(layer, "takes_list", False):
        return None
    out = layer.compute_output_shape(tuple(shapes[0][1:]))
    return (None, *out)


def _dry_run_shape(layer: Any, items: list[SymbolicTensor], structure: str, kwargs: Any) -> Any:
    """Run the layer on zeros twice, with unknown sizes (and the batch) set to 2 and then 3:
    axes whose size follows them are unknown (None) in the output too."""
    from .layers.base import forcing_inference

    results = []
    for fill in (2, 3):
        arrays = [
            np.zeros(tuple(fill if d is None else d for d in t.shape), dtype=t.dtype) for t in items
        ]
        tensors = [Tensor(a, dtype=a.dtype if a.dtype.kind == "f" else None) for a in arrays]
        with no_grad(), forcing_inference():
            out = invoke(layer, structure, tensors, kwargs)
        results.append(out)
    outs0, kind, _ = flatten_structure(results[0], "output")
    outs1, _, _ = flatten_structure(results[1], "output")
    shapes: list[tuple[Shape, np.dtype]] = []
    for a, b in zip(outs0, outs1):
        if not isinstance(a, Tensor) or not isinstance(b, Tensor):
            raise TypeError(f"it returned {type(a).__name__}, not a tensor")
        shape = tuple(
            None if i == 0 or da != db else int(da)
            for i, (da, db) in enumerate(zip(a.shape, b.shape))
        )
        shapes.append((shape, a.data.dtype))
    return shapes, kind


def call_symbolic(layer: Any, inputs: Any, kwargs: dict[str, Any], args: Sequence[Any] = ()) -> Any:
    """Record ``layer(inputs, *args, **kwargs)`` as a node and return its symbolic output(s).

    The layer is built from the symbolic shape when it is not built yet (the batch axis is
    left out, as ``build`` expects)."""
    raw, structure, _ = flatten_structure(inputs, "inputs")
    if args:
        if structure != "single":
            raise _not_symbolic_error(layer, "pass several inputs as one list or as arguments")
        raw, structure = [inputs, *args], "args"
    if structure == "dict":
        raise _not_symbolic_error(layer, "pass several inputs as a list, not a dict")
    items = [as_symbolic(v) for v in raw]
    if any(t is None for t in items):
        raise _not_symbolic_error(layer, "mix of symbolic and concrete inputs")
    tensors: list[SymbolicTensor] = [t for t in items if t is not None]
    try:
        if not getattr(layer, "built", True) and structure == "single":
            layer.build(tuple(tensors[0].shape[1:]))
        shape = _kernel_shape(layer, [t.shape for t in tensors]) if structure == "single" else None
        if shape is not None:
            out_dtype = np.dtype(getattr(layer, "dtype", np.float32))
            specs, kind = [(shape, out_dtype)], "single"
        else:
            specs, kind = _dry_run_shape(layer, tensors, structure, kwargs)
    except (GlassnetError, NotImplementedError, TypeError, ValueError, IndexError) as exc:
        raise _not_symbolic_error(layer, f"{type(exc).__name__}: {exc}") from None
    node = Node(layer, tensors, structure, dict(kwargs))
    name = getattr(layer, "name", None)
    node.outputs = [
        SymbolicTensor(s, dt, name=name, node=node, index=i) for i, (s, dt) in enumerate(specs)
    ]
    nodes = getattr(layer, "_symbolic_nodes", None)
    if nodes is None:
        nodes = []
        try:
            layer._symbolic_nodes = nodes
        except AttributeError:  # pragma: no cover - a layer with __slots__
            pass
    nodes.append(node)
    return node.outputs[0] if kind == "single" else list(node.outputs)


class SymbolicOp(Module):
    """A function of tensors recorded as one node of a functional graph (an operation on
    symbolic tensors, as Keras records ``ops.mean(x)`` or ``a - b``): ``op(*tensors)`` calls
    ``fn`` with the tensors in the places the symbolic arguments held. It has no parameters;
    the function's own ops carry the gradients."""

    def __init__(
        self, fn: Callable[..., Any], name: str, args: list[Any], kwargs: dict[str, Any]
    ) -> None:
        super().__init__()
        self.fn = fn
        self.name = name
        self._auto_name = True
        self.args = args  # _SLOT where a tensor goes
        self.kwargs = kwargs

    def forward(self, *tensors: Any) -> Any:
        supply = iter(tensors)
        args = [next(supply) if a is _SLOT else a for a in self.args]
        return self.fn(*args, **self.kwargs)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "function": getattr(self.fn, "__name__", repr(self.fn))}

    def __repr__(self) -> str:
        return f"SymbolicOp({self.name!r})"


_SLOT = object()


def apply_symbolic(fn: Callable[..., Any], name: str, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` recorded as a node when some positional argument is symbolic
    (the others are kept as constants); the result is symbolic, its shape inferred by running
    ``fn`` on zeros. The hook for operations on symbolic tensors (``keras.ops`` may use it)."""
    slots = [_SLOT if as_symbolic(a) is not None else a for a in args]
    tensors = [a for a in args if as_symbolic(a) is not None]
    if not tensors:
        return fn(*args, **kwargs)
    op = SymbolicOp(fn, name, slots, dict(kwargs))
    return call_symbolic(op, tensors[0], {}, tensors[1:])


def check_symbolic_shape(shape: Sequence[Any], what: str) -> Shape:
    """A shape whose sizes are positive ints or None (unknown)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    if not isinstance(shape, (tuple, list)) or not all(
        d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0)
        for d in shape
    ):
        raise ShapeError(
            f"{what} must be a tuple of positive ints or None (unknown), received {shape!r}"
        )
    return tuple(None if d is None else int(d) for d in shape)
