"""Modules, parameters, layers and initialisers (PyTorch's ``nn`` and Keras's ``layers``)."""

from . import initializers
from .layers import (
    ELU,
    GELU,
    Activation,
    Dense,
    Dropout,
    Flatten,
    Input,
    Layer,
    LeakyReLU,
    Linear,
    Normalization,
    ReLU,
    Rescaling,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    get_activation,
)
from .module import Module, Parameter

__all__ = [
    "Module",
    "Parameter",
    "Layer",
    "Input",
    "Dense",
    "Activation",
    "Linear",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "GELU",
    "Softplus",
    "Softmax",
    "Dropout",
    "Flatten",
    "Rescaling",
    "Normalization",
    "get_activation",
    "initializers",
]
