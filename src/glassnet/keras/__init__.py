"""A Keras-3-shaped namespace, so Keras programs run with only their import line changed.

``import glassnet.keras as keras`` (or ``import glassnet as tf`` then ``tf.keras``), then
``keras.Sequential``, ``keras.layers.Dense``, ``keras.ops.matmul``, ``keras.utils.
to_categorical``, … Most names are glassnet's own classes; where Keras's face differs the
class here is a thin subclass that says so: ``keras.layers.Layer`` (Keras-style subclassing),
``keras.Model`` (``call``), and the weight layout of ``get_weights``/``set_weights`` (Dense
kernels (in, units), as Keras; glassnet's own namespace keeps W of shape (units, in)).
See docs/keras.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from .. import callbacks, initializers, optimizers, schedules
from ..nn.symbolic import SymbolicTensor
from . import activations, layers, losses, metrics, ops, random, regularizers, saving, utils
from .models import Functional, Model, Sequential

__all__ = [
    "models",
    "layers",
    "ops",
    "optimizers",
    "losses",
    "metrics",
    "callbacks",
    "initializers",
    "regularizers",
    "activations",
    "random",
    "utils",
    "saving",
    "Sequential",
    "Model",
    "Input",
]


def load_model(path: Any, compile: bool = True, **kwargs: Any) -> Any:
    """Rebuild a model saved with ``model.save(path)`` (glassnet's file format)."""
    from .. import load_model as _load

    return _load(path, compile=compile)


models = SimpleNamespace(
    Sequential=Sequential, Model=Model, Functional=Functional, load_model=load_model
)


def Input(  # noqa: N802 - Keras's name
    shape: Sequence[int | None] | None = None,
    batch_size: int | None = None,
    dtype: Any = None,
    batch_shape: Sequence[int | None] | None = None,
    name: str | None = None,
) -> SymbolicTensor:
    """A symbolic input for the functional API: ``keras.Input(shape=(None,), dtype="int32")``.

    ``shape`` is per sample (None for sizes known only from the data); call layers on the
    result, then ``keras.Model(inputs, outputs)``. A Sequential accepts it as its first entry.
    """
    layer = layers.Input(
        shape=shape, name=name, dtype=dtype, batch_shape=batch_shape, batch_size=batch_size
    )
    return layer.symbolic_output()


optimizers.schedules = schedules  # type: ignore[attr-defined]  # keras.optimizers.schedules
