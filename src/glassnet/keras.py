"""A Keras-shaped namespace, so Keras programs run with only their import line changed.

``import glassnet as tf`` then ``tf.keras.models.Sequential([tf.keras.layers.Dense(...)])``,
or ``from glassnet.keras import layers, models``. Everything here is an alias of glassnet's own
classes; see ``glassnet.layers``, ``glassnet.optimizers`` and friends for the documentation.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from . import callbacks, initializers, layers, losses, metrics, optimizers, schedules
from .nn.symbolic import SymbolicTensor
from .training.functional import Functional
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

models = SimpleNamespace(Sequential=Sequential, Model=Model, Functional=Functional)


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
