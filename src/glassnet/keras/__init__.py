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

from types import SimpleNamespace
from typing import Any

from .. import callbacks, initializers, optimizers, schedules
from . import activations, layers, losses, metrics, ops, random, regularizers, saving, utils
from .models import Model, Sequential

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


models = SimpleNamespace(Sequential=Sequential, Model=Model, load_model=load_model)
Input = layers.Input
optimizers.schedules = schedules  # type: ignore[attr-defined]  # keras.optimizers.schedules
