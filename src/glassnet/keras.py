"""A Keras-shaped namespace, so Keras programs run with only their import line changed.

``import glassnet as tf`` then ``tf.keras.models.Sequential([tf.keras.layers.Dense(...)])``,
or ``from glassnet.keras import layers, models``. Everything here is an alias of glassnet's own
classes; see ``glassnet.layers``, ``glassnet.optimizers`` and friends for the documentation.
"""

from __future__ import annotations

from types import SimpleNamespace

from . import callbacks, initializers, layers, losses, metrics, optimizers, schedules
from .training.model import Model, Sequential

__all__ = [
    "models",
    "layers",
    "optimizers",
    "losses",
    "metrics",
    "callbacks",
    "initializers",
    "Sequential",
    "Model",
    "Input",
]

models = SimpleNamespace(Sequential=Sequential, Model=Model)
Input = layers.Input
optimizers.schedules = schedules  # type: ignore[attr-defined]  # keras.optimizers.schedules
