"""Losses, as classes and Keras strings.

``glassnet.losses.get("sparse_categorical_crossentropy")`` or
``glassnet.losses.SparseCategoricalCrossentropy()``.
"""

from .nn import losses as _impl
from .nn.losses import *  # noqa: F403  (the public names; their list lives in one place)

__all__ = list(_impl.__all__)
