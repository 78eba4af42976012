"""Metrics: ``glassnet.metrics.get("accuracy", loss)`` or the classes."""

from .training import metrics as _impl
from .training.metrics import *  # noqa: F403  (the public names; their list lives in one place)

__all__ = list(_impl.__all__)
