# source: keras-io guides/functional_api.py, "The Functional API" (fchollet, Keras 3 version, last modified 2020/04/12)
# section: Introduction
# cells: 8 of 31; prelude cells 1, 5, 6, 7
# category: runs
# changed: import lines (keras -> glassnet.keras)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import numpy as np
import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- prelude: earlier cells of the guide, run first as a notebook would ---
# [cell 1]
inputs = keras.Input(shape=(784,))

# [cell 5]
dense = layers.Dense(64, activation="relu")
x = dense(inputs)

# [cell 6]
x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10)(x)

# [cell 7]
model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")

# --- snippet ---
model.summary()
