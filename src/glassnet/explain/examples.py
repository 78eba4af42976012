"""The seeds' worked examples as ready-made glassnet objects.

``seed004_example()`` is seed 004's 2-2-2 network (the one whose every partial derivative the
article writes out); ``xor_network()`` is the two-layer network of seed 003 §9.3 that solves
XOR, which a single perceptron cannot (see ``Perceptron``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.layers import Dense
from ..nn.losses import Quadratic
from ..training.model import Sequential

__all__ = ["seed004_example", "xor_network", "XOR_X", "XOR_Y"]

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
