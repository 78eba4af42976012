"""glassnet: neural networks on NumPy that show their work.

Quick tour::

    import glassnet as gn
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()          # x.grad == [2., 4.]

The engine, layers, losses, optimisers and training loop load with the package; the data sets,
file formats, explain and diagnostics tools load on first use (``gn.datasets``,
``gn.explain``, ...), which keeps ``import glassnet`` fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import (
    callbacks,
    errors,
    functional,
    initializers,
    layers,
    losses,
    metrics,
    nn,
    optimizers,
    schedules,
)
from ._fpenv import get_flush_denormal, set_flush_denormal
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
from .training import Model, Sequential
from .training.loop import register_default_doctor

if TYPE_CHECKING:
    from . import datasets, diagnostics, explain, io, keras

from ._version import __version__  # noqa: E402

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
    "set_flush_denormal",
    "get_flush_denormal",
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
    "explain",
    "diagnostics",
    "io",
    "errors",
    "Model",
    "Sequential",
    "load_model",
    "register",
    "keras",
    "GlassnetError",
    "__version__",
]

_LAZY_MODULES = ("datasets", "explain", "diagnostics", "io", "keras", "cli")


def __getattr__(name: str) -> Any:
    """Import the heavier subpackages on first use (PEP 562)."""
    if name in _LAZY_MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'glassnet' has no attribute {name!r}")


def _default_doctor() -> Any:
    """The doctor fit(doctor=True) adds; the diagnostics are imported on first use."""
    return importlib.import_module(".diagnostics", __name__).Doctor()


# training sits below the diagnostics and does not import them: it is handed the factory.
register_default_doctor(_default_doctor)


def load_model(path: Any, compile: bool = True, custom_objects: Any = None) -> Any:
    """Rebuild a model saved with ``model.save(path)`` (architecture, weights, training config).

    Nothing in the file is executed; see ``glassnet.io.load_model`` and docs/saving.md. A
    custom loss is found among the registered classes or in ``custom_objects={name: class}``.
    """
    from .io.model_files import load_model as _load_model

    return _load_model(path, compile=compile, custom_objects=custom_objects)


def register(cls: Any = None, *, name: str | None = None) -> Any:
    """Class decorator: let ``load_model`` rebuild a custom Module or Loss
    (``@glassnet.register``)."""
    from .io.registry import register as _register

    return _register(cls, name=name)
