"""Weight initialisers: ``glassnet.initializers.get("he_normal")``."""

from .nn import initializers as _impl
from .nn.initializers import *  # noqa: F403  (the public names; their list lives in one place)

__all__ = list(_impl.__all__)
