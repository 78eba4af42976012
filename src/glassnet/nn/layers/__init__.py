"""Layers (Keras names), one file per family, each holding its whole math as array kernels.

``base.py`` states the protocol every layer implements (``forward_kernel``/``backward_kernel``
and what the rest of the library needs to know about it); ``dense.py``, ``activation.py``,
``regularization.py`` (Dropout), ``shape.py`` (Input, Flatten, Reshape, ZeroPadding2D,
UpSampling2D), ``preprocessing.py`` (Rescaling, Normalization), ``conv.py`` (Conv1D, Conv2D,
Conv2DTranspose), ``pooling.py`` (max, average and global pooling) and ``normalization.py``
(BatchNormalization, LayerNormalization) implement it; ``_windows.py`` holds the sliding-window
geometry and the im2col/col2im copies the convolutions and poolings share.
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
from .base import Context, Layer, forcing_inference, recording, weight_layers
from .conv import Conv1D, Conv2D, Conv2DTranspose
from .dense import Dense
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from .preprocessing import Normalization, Rescaling
from .regularization import Dropout
from .shape import Flatten, Input, Reshape, UpSampling2D, ZeroPadding2D

__all__ = [
    "Layer",
    "Context",
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
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "BatchNormalization",
    "LayerNormalization",
    "Reshape",
    "UpSampling2D",
    "ZeroPadding2D",
    "get_activation",
    "forcing_inference",
    "recording",
    "weight_layers",
    "LAYER_CLASSES",
]

LAYER_CLASSES: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (
        Input,
        Dense,
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
        Conv1D,
        Conv2D,
        Conv2DTranspose,
        MaxPooling1D,
        MaxPooling2D,
        AveragePooling1D,
        AveragePooling2D,
        GlobalAveragePooling1D,
        GlobalAveragePooling2D,
        GlobalMaxPooling1D,
        GlobalMaxPooling2D,
        BatchNormalization,
        LayerNormalization,
        Reshape,
        UpSampling2D,
        ZeroPadding2D,
    )
}
