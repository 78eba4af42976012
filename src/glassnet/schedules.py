"""Learning-rate schedules, applied per step: ``glassnet.schedules.CosineDecay(1e-3, 1000)``.

Pass one as an optimiser's ``learning_rate``; step t (counting from 0) uses ``schedule(t)``.
"""

from .optim import schedules as _impl
from .optim.schedules import *  # noqa: F403  (the public names; their list lives in one place)

__all__ = list(_impl.__all__)
