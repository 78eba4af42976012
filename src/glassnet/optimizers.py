"""Optimisers with Keras names and defaults and PyTorch formulas.

``from glassnet.optimizers import Adam``.

Keras style: ``model.compile(optimizer=Adam(learning_rate=1e-3), ...)`` or ``optimizer="adam"``.
PyTorch style: ``opt = SGD(model.parameters(), learning_rate=0.1)``, then
``opt.zero_grad(); loss.backward(); opt.step()``.
"""

from .optim.flat import FlatParameters
from .optim.optimizers import (
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
]
