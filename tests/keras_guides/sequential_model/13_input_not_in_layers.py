# source: keras-io guides/sequential_model.py, "The Sequential model" (fchollet, Keras 3 version, last modified 2023/06/25)
# section: Specifying the input shape in advance
# cells: 13 of 16; prelude cells 12
# category: runs
# changed: import lines (keras -> glassnet.keras)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- prelude: earlier cells of the guide, run first as a notebook would ---
# [cell 12]
model = keras.Sequential()
model.add(keras.Input(shape=(4,)))
model.add(layers.Dense(2, activation="relu"))

model.summary()

# --- snippet ---
model.layers
