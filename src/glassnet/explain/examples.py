"""The seeds' worked examples as ready-made glassnet objects.

``seed004_example()`` is seed 004's 2-2-2 network (the one whose every partial derivative the
article writes out); ``conv_example()`` a small convolutional network (a 6×6 image, two 3×3
filters, 2×2 max pooling, a Dense output) for the convolution trace; ``xor_network()`` is
the two-layer network of seed 003 §9.3 that solves XOR, which a single perceptron cannot
(see ``Perceptron``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from ..nn.layers import Dense
from ..nn.losses import Quadratic
from ..training.model import Sequential

__all__ = ["seed004_example", "conv_example", "xor_network", "XOR_X", "XOR_Y"]

#: The four XOR inputs and their targets.
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])


def seed004_example() -> tuple[Sequential, np.ndarray, np.ndarray, Quadratic, float]:
    """Seed 004's network, input, target, cost and learning rate: (model, x, y, loss, α).

    2 inputs → 2 sigmoid hidden neurons → 2 sigmoid outputs, in float64:
    W^1 = [[w1, w2], [w3, w4]] = [[0.15, 0.20], [0.25, 0.30]], b^1 = (0.35, 0.35);
    W^2 = [[w5, w6], [w7, w8]] = [[0.40, 0.45], [0.50, 0.55]], b^2 = (0.60, 0.60);
    x = (0.05, 0.10), y = (0.01, 0.99); E = Σ ½(target − out)², glassnet's "quadratic" cost
    for one sample; α = 0.5. The model is compiled with SGD(α) and that cost, so one
    ``fit`` step on the sample gives the trace's updated weights.
    """
    from ..optim.optimizers import SGD

    model = Sequential(
        [
            Dense(2, "sigmoid", input_dim=2, dtype="float64", name="hidden"),
            Dense(2, "sigmoid", dtype="float64", name="output"),
        ],
        name="seed004",
    )
    model.set_weights(
        [
            np.array([[0.15, 0.20], [0.25, 0.30]]),
            np.array([0.35, 0.35]),
            np.array([[0.40, 0.45], [0.50, 0.55]]),
            np.array([0.60, 0.60]),
        ]
    )
    loss = Quadratic()
    learning_rate = 0.5
    model.compile(optimizer=SGD(learning_rate=learning_rate), loss=loss)
    x = np.array([0.05, 0.10])
    y = np.array([0.01, 0.99])
    return model, x, y, loss, learning_rate


#: conv_example's input: a 6×6 "7" (1 = ink), read by the two filters below
CONV_X = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 1.0, 1.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
    ]
)


def _stroke_filters() -> np.ndarray:
    """conv_example's two 3×3 filters, (rows, cols, channels, filters) = (3, 3, 1, 2): filter 1
    answers vertical strokes ([0.2, 0, −0.2] in every row), filter 2 horizontal ones."""
    vertical = np.array([[0.2, 0.0, -0.2], [0.3, 0.0, -0.3], [0.2, 0.0, -0.2]])
    return np.stack([vertical, -vertical.T], axis=-1)[:, :, None, :]


def conv_example(
    batchnorm: bool = False, transposed: bool = False
) -> tuple[Sequential, np.ndarray, int, str]:
    """A small convolutional network, its input, label and loss: (model, x, label, loss).

    1×6×6 input (``CONV_X``, channels-last (6, 6, 1)) → Conv2D(2 filters, 3×3, relu) →
    MaxPooling2D(2) → Flatten → Dense(3, softmax), float64, sparse categorical cross-entropy,
    label 1. Filter 1 answers vertical strokes ([0.2, 0, −0.2] in every row), filter 2
    horizontal ones; the Dense weights are short decimals. ``batchnorm=True`` puts
    BatchNormalization and the ReLU after a linear convolution instead (Conv2D → BN → relu).
    ``transposed=True`` puts Conv2DTranspose(1 filter, 3×3, strides 2, "same", relu) after
    the pooling: the 2×2 maps grow back to one 4×4 map, each entry spread over a 3×3 patch
    and the overlaps summed, before Dense(3, softmax).
    """
    from ..nn.layers import (
        Activation,
        BatchNormalization,
        Conv2D,
        Flatten,
        MaxPooling2D,
    )

    if batchnorm and transposed:
        raise InvalidArgumentError(
            "conv_example: batchnorm and transposed are two separate examples; received both "
            "True, expected at most one"
        )
    if transposed:
        return _transposed_example()

    conv = Conv2D(
        2,
        3,
        activation=None if batchnorm else "relu",
        input_shape=(6, 6, 1),
        dtype="float64",
        name="conv",
    )
    middle: list[Any] = (
        [BatchNormalization(dtype="float64", name="bn"), Activation("relu", name="relu")]
        if batchnorm
        else []
    )
    model = Sequential(
        [
            conv,
            *middle,
            MaxPooling2D(2, name="pool"),
            Flatten(name="flatten"),
            Dense(3, "softmax", dtype="float64", name="output"),
        ],
        name="conv-bn" if batchnorm else "conv",
    )
    kernel = _stroke_filters()
    dense = np.array(
        [
            [0.3, -0.2, 0.1, 0.4, -0.1, 0.2, 0.0, -0.3],
            [-0.1, 0.4, 0.2, -0.3, 0.3, 0.1, -0.2, 0.2],
            [0.2, 0.1, -0.4, 0.1, 0.0, -0.2, 0.3, 0.1],
        ]
    )
    weights = [kernel, np.array([0.05, -0.05])]
    if batchnorm:
        weights += [np.array([1.0, 0.5]), np.array([0.1, 0.0]), np.zeros(2), np.ones(2)]
    model.set_weights([*weights, dense, np.array([0.1, 0.0, -0.1])])
    return model, CONV_X[:, :, None].copy(), 1, "sparse_categorical_crossentropy"


def xor_network(sharpness: float = 20.0, dtype: Any = "float64") -> Sequential:
    """A 2-2-1 sigmoid network with hand-set weights that computes XOR.

    Hidden neuron 1 is OR (fires when x1 + x2 > 0.5), hidden neuron 2 is AND (x1 + x2 > 1.5),
    and the output fires for "OR and not AND": a^2 = σ(s·(a^1_1 − a^1_2 − 0.5)). With
    ``sharpness`` s = 20 each sigmoid is nearly a step, so the outputs on ``XOR_X`` are within
    1e-4 of 0, 1, 1, 0.
    """
    s = float(sharpness)
    model = Sequential(
        [
            Dense(2, "sigmoid", input_dim=2, dtype=dtype, name="hidden"),
            Dense(1, "sigmoid", dtype=dtype, name="output"),
        ],
        name="xor",
    )
    model.set_weights(
        [
            np.array([[s, s], [s, s]]),
            np.array([-0.5 * s, -1.5 * s]),
            np.array([[s, -s]]),
            np.array([-0.5 * s]),
        ]
    )
    return model


def _transposed_example() -> tuple[Sequential, np.ndarray, int, str]:
    """conv_example(transposed=True): the 6×6 "7" → Conv2D(2, 3×3, relu) → MaxPooling2D(2) →
    Conv2DTranspose(1, 3×3, strides 2, "same", relu) → Flatten → Dense(3, softmax)."""
    from ..nn.layers import Conv2D, Conv2DTranspose, Flatten, MaxPooling2D

    model = Sequential(
        [
            Conv2D(2, 3, activation="relu", input_shape=(6, 6, 1), dtype="float64", name="conv"),
            MaxPooling2D(2, name="pool"),
            Conv2DTranspose(
                1, 3, strides=2, padding="same", activation="relu", dtype="float64", name="up"
            ),
            Flatten(name="flatten"),
            Dense(3, "softmax", dtype="float64", name="output"),
        ],
        name="conv-up",
    )
    kernel = _stroke_filters()
    # the transposed kernel (rows, cols, filters, channels): a tent that spreads each pooled
    # value over its 3×3 patch, channel 2 at half the weight
    tent = np.array([[0.1, 0.2, 0.1], [0.2, 0.4, 0.2], [0.1, 0.2, 0.1]])
    up = np.stack([tent, 0.5 * tent], axis=-1)[:, :, None, :]  # (3, 3, 1, 2)
    dense = np.array(
        [
            [0.3, -0.2, 0.1, 0.4, -0.1, 0.2, 0.0, -0.3, 0.2, 0.1, -0.1, 0.3, 0.0, -0.2, 0.1, 0.2],
            [-0.1, 0.4, 0.2, -0.3, 0.3, 0.1, -0.2, 0.2, -0.2, 0.0, 0.3, 0.1, 0.2, 0.1, -0.3, 0.0],
            [0.2, 0.1, -0.4, 0.1, 0.0, -0.2, 0.3, 0.1, 0.1, -0.3, 0.0, -0.1, 0.2, 0.3, 0.0, -0.1],
        ]
    )
    model.set_weights(
        [kernel, np.array([0.05, -0.05]), up, np.array([0.02]), dense, np.array([0.1, 0.0, -0.1])]
    )
    return model, CONV_X[:, :, None].copy(), 1, "sparse_categorical_crossentropy"
