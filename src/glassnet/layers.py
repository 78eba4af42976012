"""Keras-style layers: ``from glassnet.layers import Dense, Dropout, Flatten``."""

from .nn.layers import (
    ELU,
    GELU,
    Activation,
    Dense,
    Dropout,
    Flatten,
    Input,
    Layer,
    LeakyReLU,
    Normalization,
    Linear,
    ReLU,
    Rescaling,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    get_activation,
)

__all__ = [
    "Layer", "Input", "Dense", "Activation", "Linear", "Sigmoid", "Tanh", "ReLU", "LeakyReLU",
    "ELU", "GELU", "Softplus", "Softmax", "Dropout", "Flatten", "Rescaling", "Normalization", "get_activation",
]
