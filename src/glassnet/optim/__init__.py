"""Optimisers and learning-rate schedules over flat parameter buffers.

Public entry points are ``glassnet.optimizers`` and ``glassnet.schedules``; this package holds
the implementation: ``flat`` (parameters, gradients and optimiser state in one contiguous
buffer per dtype), ``optimizers`` (SGD, Adagrad, RMSprop, Adam, AdamW) and ``schedules``.
"""

from . import schedules
from .flat import FlatGroup, FlatParameters
from .optimizers import (
    OPTIMIZERS,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Optimizer,
    RMSprop,
    deserialize,
    get,
    serialize,
)
from .schedules import (
    Constant,
    CosineDecay,
    CyclicalLearningRate,
    ExponentialDecay,
    LearningRateSchedule,
    Schedule,
    StepDecay,
)

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "get",
    "serialize",
    "deserialize",
    "OPTIMIZERS",
    "FlatParameters",
    "FlatGroup",
    "Schedule",
    "LearningRateSchedule",
    "Constant",
    "StepDecay",
    "ExponentialDecay",
    "CosineDecay",
    "CyclicalLearningRate",
    "schedules",
]
