"""Keras-style callbacks: ``from glassnet.callbacks import EarlyStopping``."""

from .training import callbacks as _impl
from .training.callbacks import *  # noqa: F403  (the public names; their list lives in one place)

__all__ = list(_impl.__all__)
