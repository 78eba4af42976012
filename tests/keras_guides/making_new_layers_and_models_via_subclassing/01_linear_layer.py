# source: keras-io guides/making_new_layers_and_models_via_subclassing.py, "Making new layers and models via subclassing" (fchollet, Keras 3 version, last modified 2023/06/25)
# section: The Layer class: the combination of state (weights) and some computation
# cells: 1, 2 of 18; no prelude
# category: runs
# changed: import lines (keras -> glassnet.keras)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import numpy as np
import glassnet.keras as keras
from glassnet.keras import ops
from glassnet.keras import layers

# --- snippet ---
# [cell 1]
class Linear(keras.layers.Layer):
    def __init__(self, units=32, input_dim=32):
        super().__init__()
        self.w = self.add_weight(
            shape=(input_dim, units),
            initializer="random_normal",
            trainable=True,
        )
        self.b = self.add_weight(
            shape=(units,), initializer="zeros", trainable=True
        )

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

# [cell 2]
x = ops.ones((2, 2))
linear_layer = Linear(4, 2)
y = linear_layer(x)
print(y)
