"""Training: Model.compile / fit / evaluate / predict, callbacks, metrics, progress."""

from . import callbacks, metrics
from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from .functional import Functional
from .model import Model, Sequential

__all__ = [
    "Model",
    "Sequential",
    "Functional",
    "Callback",
    "History",
    "EarlyStopping",
    "ModelCheckpoint",
    "LearningRateScheduler",
    "ReduceLROnPlateau",
    "CSVLogger",
    "LambdaCallback",
    "TerminateOnNaN",
    "callbacks",
    "metrics",
]
