"""``keras.layers``: glassnet's layers under Keras 3's names, plus Keras-style subclassing.

Two things differ from ``glassnet.layers``, both so that Keras code runs unchanged:

* ``Layer`` is the Keras-flavoured base class (``build(input_shape)`` with the batch axis,
  ``call(inputs, training=None)``, ``add_weight``, ``add_loss``, ``get_config``/
  ``from_config``). Its subclasses compute with ``keras.ops`` inside ``call``, so they train
  through the autograd graph; fit sees that they override the forward pass and never runs
  them through the fast step.
* ``Dense`` keeps glassnet's own storage ``W[j, k]`` of shape (units, in) — the seeds' w_jk —
  but its ``get_weights``/``set_weights`` and ``kernel`` speak Keras's (in, units) layout, so
  weights copied from Keras land in the right places. The transpose happens only here, at the
  border, and a square kernel is never guessed at: the Keras namespace always means (in,
  units), ``glassnet.layers.Dense`` always means (units, in).

Layers created here without a name get Keras's unique names (``dense``, ``dense_1``, …).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import functional as F
from ..autograd.tensor import Tensor, no_grad
from ..errors import InvalidArgumentError, ShapeError, describe
from ..io import registry
from ..nn import initializers
from ..nn import layers as _gl
from ..nn.layers.base import forcing_inference, inference_mode
from ..nn.layers.embedding import Embedding as _Embedding
from ..nn.module import Module, Parameter, hold_loss
from ..training.model import collect_losses, outermost_call
from . import regularizers as regularizers_module

__all__ = [
    "Layer",
    "Variable",
    "Dense",
    "Embedding",
    "LeakyReLU",
    "Input",
    "InputLayer",
    "Activation",
    "ReLU",
    "Softmax",
    "ELU",
    "Dropout",
    "Flatten",
    "Rescaling",
    "Normalization",
]

# Keras's names: one counter per base name, shared by every layer made in this process.
_NAME_COUNTS: dict[str, itertools.count[int]] = {}
_NAME_LOCK = threading.Lock()


def auto_name(base: str) -> str:
    """A layer's default name: ``base`` (e.g. ``dense``). The model that holds it makes the
    names unique within it (``dense``, ``dense_1``, …, as Keras shows them), and not across
    the session as Keras does: model files and checkpoints key the weights by layer name, so
    a model built again in the same process must get the same names."""
    return base


class Variable(Parameter):
    """A layer weight made by ``add_weight``: a Parameter with Keras's variable methods."""

    __slots__ = ()

    def assign(self, value: Any) -> Variable:
        """Overwrite the values in place (no gradient flows through an assignment)."""
        self.data[...] = value.data if isinstance(value, Tensor) else np.asarray(value)
        return self

    def assign_add(self, value: Any) -> Variable:
        """Add to the values in place."""
        self.data[...] += value.data if isinstance(value, Tensor) else np.asarray(value)
        return self

    def assign_sub(self, value: Any) -> Variable:
        """Subtract from the values in place."""
        self.data[...] -= value.data if isinstance(value, Tensor) else np.asarray(value)
        return self

    @property
    def value(self) -> Tensor:
        """The variable itself (Keras's ``variable.value``)."""
        return self

    @property
    def trainable(self) -> bool:
        """Whether fit updates it."""
        return bool(self.requires_grad)


def _full_shape(shape: Any) -> Any:
    """The batch-including shape a Keras ``build`` expects, from glassnet's per-sample one;
    a shape that already starts with None (a Keras caller) is left as it is."""
    if isinstance(shape, list) and shape and isinstance(shape[0], (tuple, list)):
        return [_full_shape(s) for s in shape]
    shape = tuple(shape)
    return shape if shape and shape[0] is None else (None, *shape)


def _accepts(fn: Any, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class Layer(_gl.Layer):
    """Base class of Keras-style custom layers: write ``build(input_shape)`` (optional) and
    ``call(inputs, training=None)``; create weights with ``self.add_weight(...)``.

    ``input_shape`` in ``build`` includes the batch axis (None), as in Keras. ``call`` runs
    on glassnet Tensors through the autograd graph; use ``keras.ops`` in it.
    """

    def __init__(
        self,
        trainable: bool = True,
        name: str | None = None,
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        kwargs.pop("autocast", None)  # glassnet never changes dtypes behind the user's back
        if kwargs:
            raise InvalidArgumentError(
                f"{type(self).__name__}: unknown keyword argument(s) {', '.join(sorted(kwargs))}"
                f"; a Layer accepts trainable, name, dtype and input_shape"
            )
        if input_dim is not None:
            input_shape = (input_dim,)
        super().__init__(
            name=name,  # None: the class's snake-case name, made unique by the model
            input_shape=input_shape,
            dtype=_float_dtype_or_none(dtype),
        )
        self._keras_weights: list[Parameter] = []
        self._weight_trainable: dict[int, bool] = {}
        self._regularized: list[tuple[Parameter, Any]] = []
        self._added_losses: list[Any] = []
        if not isinstance(trainable, bool):
            raise InvalidArgumentError(
                f"{self.name}: trainable must be True or False, received trainable={trainable!r}"
            )
        self._trainable = trainable

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # glassnet builds layers with the per-sample shape; a Keras build expects the batch
        # axis too. The translation happens once, here, for every subclass that writes one.
        if "build" in cls.__dict__:
            cls.build = _keras_build(cls.__dict__["build"])  # type: ignore[method-assign]
        if "compute_output_shape" in cls.__dict__:
            cls.compute_output_shape = _keras_output_shape(  # type: ignore[method-assign]
                cls.__dict__["compute_output_shape"]
            )

    # -- Keras's API ---------------------------------------------------------------------------
    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """The layer's computation on tensors; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs)")

    def add_weight(
        self,
        shape: Sequence[int] | None = None,
        initializer: Any = None,
        dtype: Any = None,
        trainable: bool = True,
        regularizer: Any = None,
        constraint: Any = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> Variable:
        """A new weight of ``shape`` (Keras's layout), tracked by this layer.

        ``initializer``: a name or an initializer ("glorot_uniform" by default, as Keras);
        ``trainable=False`` makes a weight that fit never updates (assign to it in ``call``);
        ``regularizer``: its penalty joins the loss (``model.losses``).
        """
        if constraint is not None:
            raise InvalidArgumentError(
                f"{self.name}.add_weight: constraints are not supported by glassnet, received "
                f"constraint={constraint!r}"
            )
        shape = () if shape is None else tuple(int(s) for s in shape)
        dt = np.dtype(_float_dtype_or_none(dtype) or self.dtype)
        init = initializers.get("glorot_uniform" if initializer is None else initializer)
        if len(shape) == 2:
            # glassnet's initialisers read fans from (out, in); a Keras kernel is (in, out).
            values = np.ascontiguousarray(init((shape[1], shape[0]), dt).T)
        else:
            values = init(shape, dt)
        weight = Variable(values, name=name or f"weight_{len(self._keras_weights)}")
        self._keras_weights.append(weight)
        self._weight_trainable[id(weight)] = bool(trainable)
        weight.requires_grad = bool(trainable) and self._trainable
        if regularizer is not None:
            self._regularized.append((weight, regularizers_module.get(regularizer)))
        return weight

    def add_loss(self, loss: Any) -> None:
        """Add a scalar tensor to the cost of this forward pass (cleared at the next one)."""
        hold_loss(self, loss)

    def layer_losses(self) -> list[Any]:
        """What this layer adds to the loss: ``add_loss`` terms and weight penalties."""
        return [*self._added_losses, *(reg(w) for w, reg in self._regularized)]

    @property
    def losses(self) -> list[Any]:
        """This layer's and its sublayers' added losses and penalties (Keras's ``losses``)."""
        return collect_losses(self)

    @property
    def weights(self) -> list[Tensor]:
        """Every weight of this layer and its sublayers, as Keras shows them."""
        return [v for v, _ in keras_variables(self)]

    @property
    def trainable_weights(self) -> list[Tensor]:
        """The weights fit updates."""
        return [v for v, p in keras_variables(self) if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        """The weights fit leaves alone."""
        return [v for v, p in keras_variables(self) if not p.requires_grad]

    @property
    def variables(self) -> list[Tensor]:
        """Keras's alias of ``weights``."""
        return self.weights

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight, sublayers included, each in its layer's Keras layout."""
        return keras_get_weights(self)

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set every weight from arrays in Keras's layout and ``weights`` order."""
        keras_set_weights(self, weights)

    def get_config(self) -> dict[str, Any]:
        """Keras's base config: name, trainable, dtype (subclasses add their arguments)."""
        config: dict[str, Any] = {"name": self.name, "trainable": self._trainable}
        if self.dtype != np.float32:
            config["dtype"] = str(self.dtype)
        return config

    # -- glassnet's protocol -------------------------------------------------------------------
    def _own_parameters(self) -> Any:
        named = {id(v): k for k, v in vars(self).items() if isinstance(v, Parameter)}
        seen = set()
        for w in self._keras_weights:
            seen.add(id(w))
            yield named.get(id(w), w.name or "weight"), w
        for key, value in vars(self).items():
            if isinstance(value, Parameter) and id(value) not in seen:
                yield key, value

    def _apply_trainable(self) -> None:
        for m in self.modules():
            if m is not self and isinstance(m, _gl.Layer):
                m.trainable = self._trainable
        for p in self.kernel_parameters():
            own = getattr(self, "_weight_trainable", {}).get(id(p), True)
            p.requires_grad = self._trainable and own

    def fast_step_problem(self) -> str | None:
        return (
            f"layer {self.name!r} ({type(self).__name__}) is a Keras-style layer: its call() "
            f"runs through the autograd graph"
        )

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Per-sample output shape, found by running ``call`` on one sample of zeros."""
        if not self.built:
            self.build(input_shape)
        probe = _zeros_like_shape(input_shape, self.dtype)
        with no_grad(), forcing_inference():
            out = self.call(probe)
        return tuple(out.shape[1:]) if isinstance(out, Tensor) else np.shape(out)[1:]

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        with outermost_call(self):
            if isinstance(x, (list, tuple)):  # a layer of several inputs
                tensors = [_as_tensor(item, self.dtype) for item in x]
                if not self.built:
                    self.build([tuple(t.shape[1:]) for t in tensors])  # type: ignore[arg-type]
                return self.forward(tensors, *args, **kwargs)
            return super().__call__(x, *args, **kwargs)

    def forward(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        """Calls ``call``, passing ``training`` when its signature takes it."""
        training = kwargs.pop("training", None)
        if training is None:
            training = self.training and not inference_mode()
        if _accepts(self.call, "training"):
            kwargs["training"] = bool(training)
        if "mask" in kwargs and not _accepts(self.call, "mask"):
            kwargs.pop("mask")  # Keras passes a mask only to a call that takes one
        return self.call(x, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


def _keras_build(user_build: Any) -> Any:
    @functools.wraps(user_build)
    def build(self: Layer, input_shape: Any) -> None:
        user_build(self, _full_shape(input_shape))
        self.built = True

    return build


def _keras_output_shape(user_fn: Any) -> Any:
    @functools.wraps(user_fn)
    def compute_output_shape(self: Layer, input_shape: Any) -> Any:
        full = user_fn(self, _full_shape(input_shape))
        return tuple(full)[1:]

    return compute_output_shape


def _float_dtype_or_none(dtype: Any) -> Any:
    if dtype is None:
        return None
    name = getattr(dtype, "name", dtype)  # a DTypePolicy-like object carries a name
    return name if str(name) in ("float32", "float64") else None


def _as_tensor(x: Any, dtype: np.dtype) -> Tensor:
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    return Tensor(arr, dtype=dtype if arr.dtype.kind == "f" else None)


def _zeros_like_shape(shape: Any, dtype: np.dtype) -> Any:
    if isinstance(shape, list) and shape and isinstance(shape[0], (tuple, list)):
        return [_zeros_like_shape(s, dtype) for s in shape]
    dims = tuple(1 if s is None else int(s) for s in shape)
    return Tensor(np.zeros((1, *dims), dtype=dtype), dtype=dtype)


# -- weights in Keras's layout ------------------------------------------------------------------
def _weight_owners(module: Module) -> list[Module]:
    return [m for _, m in module.named_modules() if any(True for _ in m._own_parameters())]


def keras_variables(module: Module) -> list[tuple[Tensor, Parameter]]:
    """(variable as Keras shows it, the parameter behind it) for every weight of ``module`` in
    Keras's order: a Dense kernel appears as kernel = Wᵀ, (in, units), a view of W's values
    (differentiable), every other weight as itself."""
    found: list[tuple[Tensor, Parameter]] = []
    seen: set[int] = set()
    for m in _weight_owners(module):
        own = [p for _, p in m._own_parameters() if id(p) not in seen]
        seen.update(id(p) for p in own)
        shown = getattr(m, "keras_view", None)
        views = shown(own) if shown is not None else own
        found.extend(zip(views, own))
    return found


def keras_get_weights(module: Module) -> list[np.ndarray]:
    """Copies of every weight of ``module`` in Keras's order and layout (each owner's
    ``to_keras_layout`` applied: Dense's kernel becomes (in, units))."""
    out: list[np.ndarray] = []
    seen: set[int] = set()
    for m in _weight_owners(module):
        own = [p for _, p in m._own_parameters() if id(p) not in seen]
        seen.update(id(p) for p in own)
        arrays = [p.data.copy() for p in own]
        convert = getattr(m, "to_keras_layout", None)
        out.extend(convert(arrays) if convert is not None else arrays)
    return out


def keras_set_weights(module: Module, weights: Sequence[Any]) -> None:
    """Set every weight of ``module`` from arrays in Keras's order and layout; every shape is
    checked before anything changes."""
    if not isinstance(weights, (list, tuple)):
        raise ShapeError(f"set_weights: expected a list of arrays, received {describe(weights)}")
    plan: list[tuple[str, Parameter, np.ndarray]] = []
    seen: set[int] = set()
    rest = [np.asarray(w) for w in weights]
    for m in _weight_owners(module):
        own = [(k, p) for k, p in m._own_parameters() if id(p) not in seen]
        seen.update(id(p) for _, p in own)
        given, rest = rest[: len(own)], rest[len(own) :]
        if len(given) < len(own):
            break
        convert = getattr(m, "from_keras_layout", None)
        arrays = convert(given) if convert is not None else given
        label = getattr(m, "name", type(m).__name__)
        for (key, p), arr, raw in zip(own, arrays, given):
            if arr.shape != p.data.shape:
                keras_shape = _keras_shape(m, key, p)
                raise ShapeError(
                    f"set_weights: {label}.{key} expects an array of shape {keras_shape} "
                    f"(Keras's layout), received {raw.shape}"
                )
            plan.append((f"{label}.{key}", p, arr))
    expected = sum(len(list(m._own_parameters())) for m in _weight_owners(module))
    if len(plan) != expected or rest:
        raise ShapeError(
            f"set_weights: expected a list of {expected} arrays, received {len(weights)}"
        )
    for name, _, arr in plan:
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise InvalidArgumentError(f"set_weights: {name} contains NaN or inf")
    for _, p, arr in plan:
        p.data[...] = arr


def _keras_shape(m: Module, key: str, p: Parameter) -> tuple[int, ...]:
    convert = getattr(m, "to_keras_layout", None)
    if convert is None:
        return tuple(p.data.shape)
    own = [q for _, q in m._own_parameters()]
    shapes = [a.shape for a in convert([q.data for q in own])]
    return tuple(shapes[[id(q) for q in own].index(id(p))])


# -- layers whose Keras face differs from glassnet's ---------------------------------------------
class Dense(_gl.Dense):
    """Keras's Dense: a = σ(x · kernel + bias) with ``kernel`` of shape (in, units).

    Stored as glassnet's W = kernelᵀ, shape (units, in) (``W[j, k]`` is w_jk); ``kernel``,
    ``get_weights`` and ``set_weights`` use Keras's (in, units). ``kernel_regularizer`` /
    ``bias_regularizer`` (``keras.regularizers.l2(0.01)``) add their penalty to the loss; such
    a layer trains through the autograd graph, which adds them.
    """

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        input_dim: int | None = None,
        input_shape: Sequence[int] | None = None,
        name: str | None = None,
        dtype: Any = None,
        trainable: bool = True,
    ) -> None:
        if callable(activation) and not isinstance(activation, (str, _gl.Activation)):
            activation = getattr(activation, "__name__", activation)
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            input_dim=input_dim,
            input_shape=input_shape,
            name=name,
            dtype=_float_dtype_or_none(dtype),
        )
        self.kernel_regularizer = regularizers_module.get(kernel_regularizer)
        self.bias_regularizer = regularizers_module.get(bias_regularizer)
        if not trainable:
            self.trainable = False

    @property
    def kernel(self) -> Tensor:
        """Keras's kernel, (in, units): Wᵀ, differentiable (a view of the same weights)."""
        if self.W is None:
            raise InvalidArgumentError(f"{self.name}: the layer is not built yet; call it first")
        return F.transpose(self.W)

    @property
    def bias(self) -> Parameter | None:
        """The bias b, (units,)."""
        return self.b

    def keras_view(self, params: list[Parameter]) -> list[Tensor]:
        """[W, b] as Keras shows them: [kernel = Wᵀ (in, units), b]."""
        return [self.kernel, *params[1:]] if params and params[0] is self.W else list(params)

    @property
    def weights(self) -> list[Tensor]:
        """[kernel (in, units), bias] — Keras's variables (kernel is a view of W)."""
        return [v for v, _ in keras_variables(self)]

    @property
    def trainable_weights(self) -> list[Tensor]:
        """The weights fit updates."""
        return [v for v, p in keras_variables(self) if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        """The weights fit leaves alone."""
        return [v for v, p in keras_variables(self) if not p.requires_grad]

    def to_keras_layout(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """[W (units, in), b] → [kernel (in, units), b]."""
        return [np.ascontiguousarray(arrays[0].T), *arrays[1:]]

    def from_keras_layout(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """[kernel (in, units), b] → [W (units, in), b]."""
        return [arrays[0].T, *arrays[1:]] if arrays and arrays[0].ndim == 2 else arrays

    def get_weights(self) -> list[np.ndarray]:
        """[kernel (in, units), bias (units,)] — Keras's layout."""
        return keras_get_weights(self)

    def set_weights(self, weights: Sequence[Any]) -> None:
        """From [kernel (in, units), bias (units,)] — Keras's layout."""
        keras_set_weights(self, weights)

    def layer_losses(self) -> list[Any]:
        """The regularizers' penalties on W and b (elementwise, so layout does not matter)."""
        found = []
        if self.kernel_regularizer is not None and self.W is not None:
            found.append(self.kernel_regularizer(self.W))
        if self.bias_regularizer is not None and self.b is not None:
            found.append(self.bias_regularizer(self.b))
        return found

    def fast_step_problem(self) -> str | None:
        if self.kernel_regularizer is not None or self.bias_regularizer is not None:
            return f"layer {self.name!r} has a weight regularizer (the graph adds its penalty)"
        return super().fast_step_problem()

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        for key in ("kernel_regularizer", "bias_regularizer"):
            reg = getattr(self, key)
            if reg is not None:
                config[key] = reg.get_config_with_name()
        return config


class Embedding(_Embedding):
    """Keras's Embedding, with Keras's unique names (see ``glassnet.layers.Embedding``)."""

    def __init__(self, input_dim: int, output_dim: int, **kwargs: Any) -> None:
        super().__init__(input_dim, output_dim, **kwargs)


class LeakyReLU(_gl.LeakyReLU):
    """Keras 3's LeakyReLU: negative_slope defaults to 0.3 (glassnet's own: 0.01)."""

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        super().__init__(negative_slope=negative_slope, **kwargs)


Input = _gl.Input
InputLayer = _gl.Input
Activation = _gl.Activation
ReLU = _gl.ReLU
Softmax = _gl.Softmax
ELU = _gl.ELU
Dropout = _gl.Dropout
Flatten = _gl.Flatten
Rescaling = _gl.Rescaling
Normalization = _gl.Normalization

for _cls in (Dense, Embedding, LeakyReLU):
    registry.register(_cls, name=f"keras.{_cls.__name__}")


def __getattr__(name: str) -> Any:
    """Every other glassnet layer under its own name (GELU, Tanh, Softplus, …)."""
    try:
        return getattr(_gl, name)
    except AttributeError:
        raise AttributeError(f"module 'glassnet.keras.layers' has no attribute {name!r}") from None
