# source: keras-io guides/making_new_layers_and_models_via_subclassing.py, "Making new layers and models via subclassing" (fchollet, Keras 3 version, last modified 2023/06/25)
# section: Layers are recursively composable
# cells: 9 of 18; prelude cells 7
# category: runs
# changed: import lines (keras -> glassnet.keras)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import numpy as np
import glassnet.keras as keras
from glassnet.keras import ops
from glassnet.keras import layers

# --- prelude: earlier cells of the guide, run first as a notebook would ---
# [cell 7]
class Linear(keras.layers.Layer):
    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="random_normal",
            trainable=True,
        )
        self.b = self.add_weight(
            shape=(self.units,), initializer="random_normal", trainable=True
        )

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

# --- snippet ---
class MLPBlock(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.linear_1 = Linear(32)
        self.linear_2 = Linear(32)
        self.linear_3 = Linear(1)

    def call(self, inputs):
        x = self.linear_1(inputs)
        x = keras.activations.relu(x)
        x = self.linear_2(x)
        x = keras.activations.relu(x)
        return self.linear_3(x)


mlp = MLPBlock()
y = mlp(
    ops.ones(shape=(3, 64))
)  # The first call to the `mlp` will create the weights
print("weights:", len(mlp.weights))
print("trainable weights:", len(mlp.trainable_weights))
