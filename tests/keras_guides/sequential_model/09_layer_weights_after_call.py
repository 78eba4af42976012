# source: keras-io guides/sequential_model.py, "The Sequential model" (fchollet, Keras 3 version, last modified 2023/06/25)
# section: Specifying the input shape in advance
# cells: 9 of 16; prelude cells 8
# category: runs
# changed: import lines (keras -> glassnet.keras)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- prelude: earlier cells of the guide, run first as a notebook would ---
# [cell 8]
layer = layers.Dense(3)
layer.weights  # Empty

# --- snippet ---
# Call layer on a test input
x = ops.ones((1, 4))
y = layer(x)
layer.weights  # Now it has weights, of shape (4, 3) and (3,)
