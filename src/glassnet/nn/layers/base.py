"""The layer protocol: each layer's math written once, as array kernels.

A layer implements two kernels on NumPy arrays, the seeds' equations for that layer:

* ``forward_kernel(x, ctx) -> a`` — its output for a batch ``x``, saving on ``ctx`` what the
  backward needs;
* ``backward_kernel(ctx, g) -> ∂C/∂x`` — from g = ∂C/∂a, the gradient of each of its
  parameters, written into ``ctx.grads`` (an array per parameter of ``kernel_parameters()``,
  or None where that parameter is frozen), and the gradient for its input (None when
  ``ctx.need_input_grad`` is False).

Every path runs those two functions: the autograd graph wraps them as one node (``forward``
below), the fast training step is a loop over them with preallocated buffers, and predict and
evaluate call ``forward_kernel`` alone. A layer also declares what the rest of the library needs
from it, so that nothing outside tests for its type:

* ``parameter_shapes(input_shape)`` — the shapes of its parameters for an input shape (model
  files check sizes against it before allocating anything);
* ``telemetry_tap(ctx)`` — what telemetry records after a step (None: nothing);
* ``explain_role`` — how the explain trace treats it ("dense", "activation", "identity", "conv",
  "tconv", "pool", "global_pool", "batchnorm", "zeropad", "upsample", "flatten", "scale",
  "normalize"; None: not traceable);
* ``pointwise_affine()`` / ``reshape_only`` — lets the fast step fuse a preprocessing prefix
  into the first layer's product;
* ``fast_step_problem()`` — why the fast step cannot run it exactly (None when it can): a
  subclass that overrides ``forward`` computes something the kernels do not know, so fit takes
  the graph for it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ...autograd.tensor import Tensor, as_array
from ...errors import DTypeError, InvalidArgumentError
from ...functional.array_ops import NUMPY_OPS
from ..module import Module, Parameter
from ..symbolic import SymbolicTensor, call_symbolic, is_symbolic
from . import _windows as win

__all__ = [
    "Layer",
    "Context",
    "Matmul",
    "MATMUL",
    "Shape",
    "inference_mode",
    "forcing_inference",
    "recording",
    "weight_layers",
]

Shape = tuple[int | None, ...]

_local = threading.local()


def _snake(name: str) -> str:
    # Conv2D → conv2d, MaxPooling2D → max_pooling2d, Conv2DTranspose → conv2d_transpose (Keras)
    return re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def check_shape_arg(value: Any, arg: str, layer: str) -> tuple[int, ...] | None:
    """A per-sample shape argument as a tuple of positive ints (None stays None)."""
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


class Matmul:
    """The plain product strategy: z = x Wᵀ and ∂C/∂W = δᵀ x (the fast step may pass another,
    e.g. the two-core split of training/split.py, with the same two methods)."""

    @staticmethod
    def forward(x: np.ndarray, W: np.ndarray, out: np.ndarray | None) -> tuple[np.ndarray, Any]:
        """(z, what weight_grad needs); x is cast to W's dtype first."""
        if x.dtype != W.dtype:
            x = x.astype(W.dtype)
        if out is None or x.ndim != 2:
            return x @ W.T, x
        return np.matmul(x, W.T, out=out), x

    def gemm(self, a: np.ndarray, b: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        """out = a @ b for 2-D a and b (a convolution's im2col products; the fast step may
        pass a strategy that splits the rows of out over two cores)."""
        return a @ b if out is None else np.matmul(a, b, out=out)

    def gemm_col2im(
        self, a: np.ndarray, b: np.ndarray, geo: Any, ctx: Context, names: tuple[str, str]
    ) -> np.ndarray:
        """col2im(a @ b), (N, *padded, C): a convolution's input gradient (δ W_matᵀ added back
        where each window came from) and a transposed convolution's forward. Here the whole
        product, then col2im, in ctx's buffers ``names`` (the product's, col2im's); the fast
        step's strategy takes a few samples at a time instead (training/split.py)."""
        rows_per_sample, depth = int(np.prod(geo.out)), b.shape[1]
        n, channels = a.shape[0] // rows_per_sample, depth // int(np.prod(geo.kernel))
        dt = np.result_type(a, b)
        cols = self.gemm(a, b, ctx.buffer(names[0], (a.shape[0], depth), dt))
        cols = cols.reshape(n, *geo.out, *geo.kernel, channels)
        return win.col2im(cols, geo, ctx.buffer(names[1], (n, *geo.padded, channels), dt), ctx.ops)

    @staticmethod
    def inputs(saved: np.ndarray) -> np.ndarray:
        """The layer's input, from what forward saved (for telemetry)."""
        return saved

    @staticmethod
    def weight_grad(saved: np.ndarray, delta: np.ndarray, out: np.ndarray) -> None:
        """out = δᵀ x summed over every sample (and position, for (N, T, in) inputs)."""
        if delta.ndim != 2:
            delta = delta.reshape(-1, delta.shape[-1])
            saved = saved.reshape(-1, saved.shape[-1])
        np.matmul(delta.T, saved, out=out)


MATMUL = Matmul()


class Context:
    """What one call of a layer's kernels keeps: the mode, the ops, the saved arrays, the
    parameter gradients' destinations and (in the fast step) buffers reused every step."""

    __slots__ = (
        "training",
        "ops",
        "product",
        "saved",
        "grads",
        "need_input_grad",
        "logits_only",
        "delta",
        "_buffers",
    )

    def __init__(
        self,
        training: bool = False,
        ops: Any = NUMPY_OPS,
        reuse_buffers: bool = False,
        product: Any = MATMUL,
    ) -> None:
        self.training = training
        self.ops = ops
        self.product = product
        self.saved: Any = None
        self.grads: list[np.ndarray | None] = []
        self.need_input_grad = True
        # The output layer before its activation (the loss pairs with it: δ^L = a^L − y).
        self.logits_only = False
        self.delta: np.ndarray | None = None  # ∂C/∂z, kept for telemetry
        self._buffers: dict[str, np.ndarray] | None = {} if reuse_buffers else None

    def buffer(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
        """A reusable array of this shape and dtype in the fast step; None elsewhere (the
        kernel allocates, as results must not be overwritten by the next call)."""
        buffers = self._buffers
        if buffers is None:
            return None
        arr = buffers.get(name)
        if arr is None or arr.shape != shape or arr.dtype != dtype:
            arr = buffers[name] = np.empty(shape, dtype=dtype)
        return arr


def inference_mode() -> bool:
    """True inside ``forcing_inference()`` on this thread (predict/evaluate)."""
    return getattr(_local, "inference", False)


class forcing_inference:  # noqa: N801 - used as a context manager, like no_grad
    """Layers run in inference mode on this thread, whatever their ``training`` flag: predict
    and evaluate use it instead of switching the model to eval mode, so they never change the
    model that other threads are using."""

    def __enter__(self) -> None:
        self._previous = inference_mode()
        _local.inference = True

    def __exit__(self, *exc: Any) -> None:
        _local.inference = self._previous


class recording:  # noqa: N801 - a context manager
    """Collects (layer, ctx) of every kernel node built on this thread, for telemetry."""

    def __enter__(self) -> list[tuple[Layer, Context]]:
        self._previous = getattr(_local, "tape", None)
        _local.tape = []
        return _local.tape  # type: ignore[no-any-return]

    def __exit__(self, *exc: Any) -> None:
        _local.tape = self._previous


class Layer(Module):
    """A Module with a Keras-style life (a name, an optional input shape, lazy ``build``) and
    the kernel protocol described in this module's docstring."""

    #: how the explain trace shows this layer (None: not traceable)
    explain_role: ClassVar[str | None] = None
    #: the layer only reshapes its input (the fast step may defer it into the next product)
    reshape_only: ClassVar[bool] = False
    #: the kernels compute their product through ``ctx.product`` (the fast step may pass a
    #: two-core split of it)
    uses_product: ClassVar[bool] = False
    #: the kernels compute large products through ``ctx.product.gemm`` (the fast step may pass
    #: a strategy that runs each on two cores)
    uses_gemm: ClassVar[bool] = False
    #: inference (predict, evaluate) runs at most this many samples through the layers at a
    #: time, so that this layer's intermediate arrays stay in the cache (None: any number)
    inference_rows: ClassVar[int | None] = None

    def __init__(
        self, name: str | None = None, input_shape: Sequence[int] | None = None, dtype: Any = None
    ) -> None:
        super().__init__()
        if name is not None and (not isinstance(name, str) or not name):
            raise InvalidArgumentError(
                f"{type(self).__name__}: name must be a non-empty string, received name={name!r}"
            )
        self.name = name or _snake(type(self).__name__)
        # A model renames a default name that collides; a name the user chose must be unique.
        self._auto_name = name is None
        self.input_shape = check_shape_arg(input_shape, "input_shape", type(self).__name__)
        self.dtype = as_array(0.0, dtype or "float32", type(self).__name__).dtype
        if self.dtype.kind != "f":
            raise DTypeError(
                f"{type(self).__name__}: dtype must be float32 or float64, received {self.dtype}"
            )
        self.built = False
        self._trainable = True

    # -- the protocol ----------------------------------------------------------------------------
    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        """The layer's output for a batch x; saves on ctx what backward_kernel needs."""
        raise NotImplementedError(
            f"{type(self).__name__} implements neither forward_kernel nor forward"
        )

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        """From g = ∂C/∂(output): parameter gradients into ctx.grads, and ∂C/∂x (or None)."""
        raise NotImplementedError(f"{type(self).__name__} implements no backward_kernel")

    def kernel_parameters(self) -> list[Parameter]:
        """The parameters the kernels use, in the order of ``ctx.grads``."""
        return [p for _, p in self._own_parameters()]

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        """Parameter name → shape for inputs of ``input_shape`` (no batch axis)."""
        return {}

    def telemetry_tap(self, ctx: Context) -> dict[str, Any] | None:
        """What telemetry records for this layer after a step (see Telemetry.record_layer)."""
        return None

    def is_identity(self, x: np.ndarray, ctx: Context) -> bool:
        """True when the layer passes x through unchanged in this mode (the graph then adds
        no node: Dropout at inference, Flatten of a 2-D batch)."""
        return False

    def pointwise_affine(self) -> tuple[float, float] | None:
        """(scale, offset) when the layer is x·scale + offset on any dtype, else None."""
        return None

    def fast_step_problem(self) -> str | None:
        """Why the fast step cannot run this layer exactly, or None when it can."""
        cls = type(self)
        for method in ("forward", "__call__"):
            if getattr(cls, method) is not getattr(Layer, method):
                return f"layer {self.name!r} ({cls.__name__}) overrides {method}"
        if cls.forward_kernel is Layer.forward_kernel:
            return f"layer {self.name!r} ({cls.__name__}) has no forward_kernel"
        if not self.built:
            return f"layer {self.name!r} is not built yet"
        return None

    # -- Keras life --------------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        """Create parameters for inputs of ``input_shape`` (without the batch axis)."""
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """Output shape (without the batch axis) for a given input shape."""
        return input_shape

    @property
    def trainable(self) -> bool:
        """False freezes the layer's parameters: fit leaves them unchanged (Keras's flag)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise InvalidArgumentError(
                f"{self.name}: trainable must be True or False, received trainable={value!r}"
            )
        self._trainable = value
        self._apply_trainable()

    def _apply_trainable(self) -> None:
        for p in self.kernel_parameters():
            p.requires_grad = self._trainable

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(x, (Tensor, np.ndarray)) and is_symbolic(x):
            return call_symbolic(self, x, kwargs, args)  # the functional API: record a node
        if not isinstance(x, Tensor):
            arr = as_array(x, None, self.name) if not isinstance(x, np.ndarray) else x
            # Float data takes the layer's dtype directly: a float64 layer must not see its
            # float64 input rounded through the float32 default.
            x = Tensor(arr, dtype=self.dtype if arr.dtype.kind == "f" else None)
        if not self.built:
            self.build(tuple(x.shape[1:]))
        return self.forward(x, *args, **kwargs)

    @property
    def output(self) -> SymbolicTensor:
        """The symbolic output of the layer's first call on a symbolic input (Keras's name)."""
        return self._first_node("output").outputs[0]  # type: ignore[no-any-return]

    @property
    def input(self) -> Any:
        """The symbolic input(s) of the layer's first call on a symbolic input."""
        node = self._first_node("input")
        return node.inputs[0] if node.structure == "single" else list(node.inputs)

    def _first_node(self, what: str) -> Any:
        nodes = getattr(self, "_symbolic_nodes", None)
        if not nodes:
            raise InvalidArgumentError(
                f"{self.name}: the layer has no {what} yet; it is defined once the layer is "
                f"called on a symbolic tensor (keras.Input)"
            )
        return nodes[0]

    def forward(self, x: Tensor) -> Tensor:
        """The graph path: the layer's kernels as one autograd node."""
        return self._node(x, logits_only=False)

    def _node(self, x: Tensor, logits_only: bool) -> Tensor:
        ctx = Context(training=self.training and not inference_mode())
        ctx.logits_only = logits_only
        if self.is_identity(x.data, ctx):
            return x
        params = self.kernel_parameters()
        value = self.forward_kernel(x.data, ctx)
        tape = getattr(_local, "tape", None)
        if tape is not None:
            tape.append((self, ctx))

        def backward(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
            ctx.need_input_grad = x.requires_grad
            ctx.grads = [np.empty_like(p.data) if p.requires_grad else None for p in params]
            gx = self.backward_kernel(ctx, g)
            return (gx, *ctx.grads)

        return Tensor._make(value, (x, *params), backward, self.node_name())

    def node_name(self) -> str:
        """The op name the layer's node carries in graph drawings."""
        return type(self).__name__

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """The layer rebuilt from ``get_config()`` (Keras's name)."""
        return cls(**config)

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


def weight_layers(model: Module) -> list[tuple[str, Layer, np.ndarray]]:
    """(name, layer, W) for every built layer of ``model`` whose first parameter has two or more
    axes — its weight matrix, as the plots and the doctor's rules show it."""
    found = []
    for name, m in model.named_modules():
        if not isinstance(m, Layer):
            continue
        params = m.kernel_parameters()
        if params and params[0].data.ndim >= 2:
            found.append((name, m, params[0].data))
    return found
