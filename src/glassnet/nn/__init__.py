"""Modules, parameters, layers and initialisers (PyTorch's ``nn`` and Keras's ``layers``)."""

from . import initializers, layers
from .layers import *  # noqa: F403  (the layers' public names; their list lives in one place)
from .module import Module, Parameter

__all__ = ["Module", "Parameter", *layers.__all__, "initializers"]
