"""Learning-rate schedules, applied per step: ``glassnet.schedules.CosineDecay(1e-3, 1000)``.

Pass one as an optimiser's ``learning_rate``; step t (counting from 0) uses ``schedule(t)``.
"""

from .optim.schedules import (
    Constant,
    CosineDecay,
    CyclicalLearningRate,
    ExponentialDecay,
    LearningRateSchedule,
    Schedule,
    StepDecay,
    deserialize,
    get,
    serialize,
)

__all__ = [
    "Schedule",
    "LearningRateSchedule",
    "Constant",
    "StepDecay",
    "ExponentialDecay",
    "CosineDecay",
    "CyclicalLearningRate",
    "get",
    "serialize",
    "deserialize",
]
