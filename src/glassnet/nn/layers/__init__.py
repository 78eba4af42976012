"""Layers (Keras names), one file per family, each holding its whole math as array kernels.

``base.py`` states the protocol every layer implements (``forward_kernel``/``backward_kernel``
and what the rest of the library needs to know about it); ``dense.py``, ``activation.py``,
``regularization.py`` (Dropout), ``embedding.py``, ``shape.py`` (Input, Flatten),
``preprocessing.py`` (Rescaling, Normalization) and ``merge.py`` (Concatenate, Add, …: several
inputs) implement it.
"""

from .activation import (
    ELU,
    GELU,
    Activation,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    get_activation,
)
from .base import Context, Layer, forcing_inference, inference_mode, recording, weight_layers
from .dense import Dense
from .embedding import Embedding
from .merge import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Merge,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from .preprocessing import Normalization, Rescaling
from .regularization import Dropout
from .shape import Flatten, Input

__all__ = [
    "Layer",
    "Context",
    "Input",
    "Dense",
    "Embedding",
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
    "Merge",
    "Concatenate",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Dot",
    "concatenate",
    "add",
    "subtract",
    "multiply",
    "average",
    "maximum",
    "minimum",
    "dot",
    "get_activation",
    "forcing_inference",
    "inference_mode",
    "recording",
    "weight_layers",
    "LAYER_CLASSES",
]

LAYER_CLASSES: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (
        Input,
        Dense,
        Embedding,
        Activation,
        Linear,
        Sigmoid,
        Tanh,
        ReLU,
        LeakyReLU,
        ELU,
        GELU,
        Softplus,
        Softmax,
        Dropout,
        Flatten,
        Rescaling,
        Normalization,
        Concatenate,
        Add,
        Subtract,
        Multiply,
        Average,
        Maximum,
        Minimum,
        Dot,
    )
}
