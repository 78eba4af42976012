"""``keras.Model`` and ``keras.Sequential``: glassnet's models with Keras 3's faces.

* ``Model`` subclassing: write ``__init__`` (create layers as attributes) and
  ``call(inputs, training=None)``; compile / fit / evaluate / predict work as for any glassnet
  model (through the autograd graph, since ``call`` is the user's own code). A
  ``compute_loss(x, y, y_pred, sample_weight=None)`` override replaces the compiled loss.
* ``get_weights``/``set_weights`` follow Keras's layout (Dense kernels (in, units)), and
  ``weights``/``trainable_weights``/``non_trainable_weights`` list the variables.
* Sublayers get unique names within a model (``dense``, ``dense_1``, …).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor, no_grad
from ..errors import InvalidArgumentError
from ..io import registry
from ..nn.layers import Layer as _GlassnetLayer
from ..nn.layers.base import _snake, forcing_inference, inference_mode
from ..nn.symbolic import is_symbolic
from ..training import functional as _functional
from ..training import model as _training
from .layers import _accepts, auto_name, keras_get_weights, keras_set_weights, keras_variables

__all__ = ["Model", "Sequential", "FUNCTIONAL"]

#: The class that ``keras.Model(inputs, outputs)`` builds (the functional API's model); set by
#: the module that implements it. None: that form is refused with a clear error.
FUNCTIONAL: dict[str, Any] = {"class": None}


class _KerasFace:
    """Keras's weight accessors, shared by Model and Sequential."""

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight in Keras's order and layout (Dense kernels (in, units))."""
        return keras_get_weights(self)  # type: ignore[arg-type]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set every weight from arrays in Keras's order and layout."""
        keras_set_weights(self, weights)  # type: ignore[arg-type]

    @property
    def weights(self) -> list[Any]:
        """Every variable of the model, as Keras shows them (Dense kernels (in, units))."""
        return [v for v, _ in keras_variables(self)]  # type: ignore[arg-type]

    @property
    def trainable_weights(self) -> list[Any]:
        """The variables fit updates."""
        return [v for v, p in keras_variables(self) if p.requires_grad]  # type: ignore[arg-type]

    @property
    def non_trainable_weights(self) -> list[Any]:
        """The variables fit leaves alone (frozen layers, ``trainable=False`` weights)."""
        found = keras_variables(self)  # type: ignore[arg-type]
        return [v for v, p in found if not p.requires_grad]

    @property
    def trainable_variables(self) -> list[Any]:
        """Keras's alias of ``trainable_weights``."""
        return self.trainable_weights

    def load_weights(self, path: Any, strict: bool = True) -> None:
        """Load weights: a Keras 3 ``.weights.h5`` file (Keras's layout, read with h5py) or a
        glassnet weights file."""
        if str(path).endswith(".h5"):
            from .saving import load_keras_weights

            load_keras_weights(self, path)  # type: ignore[arg-type]
            return
        super().load_weights(path, strict=strict)  # type: ignore[misc]


class Model(_KerasFace, _training.Model):
    """Subclass it: create layers in ``__init__``, write ``call(inputs, training=None)``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        functional = "inputs" in kwargs or (args and not isinstance(args[0], str))
        if cls is Model and functional:
            target = FUNCTIONAL["class"]
            if target is None:
                raise InvalidArgumentError(
                    "keras.Model(inputs, outputs): the functional API is not available in this "
                    "build of glassnet; subclass keras.Model and write call(), or use "
                    "keras.Sequential"
                )
            return target(*args, **kwargs)
        if (
            functional
            and not issubclass(cls, _functional.Functional)
            and _symbolic_inputs(args, kwargs)
        ):
            # A subclass called on symbolic inputs is a functional model that keeps the
            # subclass's own methods (train_step, compute_loss, ...), as in Keras; Python then
            # calls its __init__, which builds the graph.
            return super().__new__(_functional_subclass(cls))
        return super().__new__(cls)

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Any:
        """A functional model's config rebuilds a keras Functional (Keras's weight layout)."""
        if isinstance(config, dict) and "nodes" in config and not issubclass(cls, Functional):
            return Functional.from_config(config, custom_objects)
        return super().from_config(config, custom_objects)

    def __init__(self, *args: Any, name: str | None = None, **kwargs: Any) -> None:
        if isinstance(self, _functional.Functional):  # a subclass called on symbolic inputs
            _functional.Functional.__init__(self, *args, **kwargs, name=name)  # type: ignore[misc]
            self._added_losses: list[Any] = []
            return
        kwargs.pop("trainable", None)
        kwargs.pop("dtype", None)
        if args or kwargs:
            raise InvalidArgumentError(
                f"{type(self).__name__}: unexpected argument(s) "
                f"{', '.join([repr(a) for a in args] + sorted(kwargs))}; a subclassed Model "
                f"takes name= (and trainable=) in super().__init__()"
            )
        super().__init__(name=name or auto_name(_snake(type(self).__name__)))
        self._added_losses = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("train_step")
        if step is not None and _keras_style_step(step):
            cls.train_step = _refuse_keras_train_step(step)  # type: ignore[method-assign]

    def __setattr__(self, key: str, value: Any) -> None:
        if isinstance(value, _GlassnetLayer) and not key.startswith("_"):
            taken = {
                m.name
                for k, m in vars(self).items()
                if isinstance(m, _GlassnetLayer) and k != key and m is not value
            }
            if value.name in taken:
                value.name = _training._unique_name(value.name, taken)
        super().__setattr__(key, value)

    @property
    def layers(self) -> list[_GlassnetLayer]:
        """The layers held as attributes (directly, or in lists), in assignment order."""
        if isinstance(self, _functional.Functional):
            return _functional.Functional.layers.fget(self)  # type: ignore[attr-defined,no-any-return]
        return [m for _, m in self.named_children() if isinstance(m, _GlassnetLayer)]

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """The model's computation; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs)")

    def forward(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(self, _functional.Functional) and type(self).call is Model.call:
            return _functional.Functional.forward(self, x, *args, **kwargs)
        training = kwargs.pop("training", None)
        if training is None:
            training = self.training and not inference_mode()
        if _accepts(self.call, "training"):
            kwargs["training"] = bool(training)
        return self.call(x, *args, **kwargs)

    def build(self, input_shape: Sequence[Any]) -> None:
        """Create every weight by running ``call`` once on zeros of ``input_shape``."""
        dims = tuple(1 if s is None else int(s) for s in input_shape)
        with no_grad(), forcing_inference():
            self(Tensor(np.zeros(dims, dtype=np.float32)))

    def compute_loss(
        self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None
    ) -> Tensor:
        """The compiled loss of (y, y_pred) plus ``self.losses`` (override to change it)."""
        assert self.loss is not None
        total = self.loss(y, y_pred)
        for term in self.losses:
            total = total + term
        return total

    def forward_loss(
        self, x: Tensor, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> tuple[Tensor, np.ndarray]:
        if type(self).compute_loss is Model.compute_loss:
            return super().forward_loss(x, y, sample_weight)
        with _training.outermost_call(self):
            out = self(x)
        loss = self.compute_loss(x=x, y=y, y_pred=out, sample_weight=sample_weight)
        return loss, out.data if isinstance(out, Tensor) else np.asarray(out)


def _keras_style_step(step: Any) -> bool:
    """True for Keras's ``train_step(self, data)`` (glassnet's is ``(self, xb, yb, ...)``)."""
    try:
        params = list(inspect.signature(step).parameters)
    except (TypeError, ValueError):
        return False
    return params == ["self", "data"]


def _refuse_keras_train_step(step: Any) -> Any:
    def train_step(self: Model, *args: Any, **kwargs: Any) -> Any:
        raise InvalidArgumentError(
            f"fit: {type(self).__name__}.train_step(self, data) is Keras's backend-specific "
            f"form (tf.GradientTape, torch's autograd, jax.grad), which glassnet cannot run; "
            f"override compute_loss(x, y, y_pred, sample_weight) instead, or write glassnet's "
            f"train_step(self, xb, yb, record=None) with loss.backward() and "
            f"self.optimizer.step()"
        )

    train_step.__doc__ = step.__doc__
    return train_step


class Sequential(_KerasFace, _training.Sequential):
    """glassnet's Sequential with Keras's weight layout in ``get_weights``/``set_weights``."""

    def __init__(self, layers: Sequence[Any] | None = None, name: str | None = None) -> None:
        super().__init__(layers, name=name or auto_name("sequential"))


registry.register(Sequential, name="keras.Sequential")


class Functional(_KerasFace, _functional.Functional):
    """``keras.Model(inputs, outputs)``: the functional model (training/functional.py) with
    Keras's weight accessors (Dense kernels (in, units))."""


FUNCTIONAL["class"] = Functional
registry.register(Functional, name="keras.Functional")
_FUNCTIONAL_SUBCLASSES: dict[type, type] = {}


def _symbolic_inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    inputs = args[0] if args else kwargs.get("inputs")
    return inputs is not None and not isinstance(inputs, str) and is_symbolic(inputs)


def _functional_subclass(cls: type) -> type:
    """``cls`` combined with the functional model (made once per class): the subclass's own
    methods first, as in Keras; keras.Model's ``__init__``, ``forward`` and ``layers`` defer to
    the graph's for such a model."""
    made = _FUNCTIONAL_SUBCLASSES.get(cls)
    if made is None:
        made = _FUNCTIONAL_SUBCLASSES[cls] = type(
            cls.__name__,
            (cls, Functional),
            {"__module__": cls.__module__, "__qualname__": cls.__qualname__},
        )
    return made
