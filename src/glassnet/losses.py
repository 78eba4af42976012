"""Losses, as classes and Keras strings.

``glassnet.losses.get("sparse_categorical_crossentropy")`` or
``glassnet.losses.SparseCategoricalCrossentropy()``.
"""

from .nn.losses import (
    EPSILON,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    Quadratic,
    SparseCategoricalCrossentropy,
    get,
)

__all__ = [
    "Loss",
    "Quadratic",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "get",
    "EPSILON",
]
