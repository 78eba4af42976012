"""glassnet: neural networks on NumPy that show their work.

Quick tour::

    import glassnet as gn
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()          # x.grad == [2., 4.]
"""

from . import (
    callbacks,
    datasets,
    errors,
    functional,
    initializers,
    keras,  # noqa: E402  (after Sequential: keras.models refers to it)
    layers,
    losses,
    metrics,
    nn,
    optimizers,
    schedules,
)
from ._rng import seed
from ._threads import get_num_threads, set_num_threads
from .autograd import (
    GradcheckReport,
    Tensor,
    detect_anomaly,
    enable_grad,
    gradcheck,
    is_grad_enabled,
    no_grad,
    tensor,
)
from .errors import GlassnetError
from .io import load_model, register
from .training import Model, Sequential

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "tensor",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "detect_anomaly",
    "gradcheck",
    "GradcheckReport",
    "seed",
    "set_num_threads",
    "get_num_threads",
    "functional",
    "nn",
    "layers",
    "losses",
    "optimizers",
    "schedules",
    "callbacks",
    "metrics",
    "initializers",
    "datasets",
    "errors",
    "Model",
    "Sequential",
    "load_model",
    "register",
    "keras",
    "GlassnetError",
    "__version__",
]
