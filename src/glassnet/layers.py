"""Keras-style layers: ``from glassnet.layers import Dense, Dropout, Flatten``."""

from .nn import layers as _impl
from .nn.layers import *  # noqa: F403  (the public names; their list lives in one place)

__all__ = list(_impl.__all__)
