# source: keras-io guides/sequential_model.py, "The Sequential model" (fchollet, Keras 3 version, last modified 2023/06/25)
# section: Creating a Sequential model
# cells: 3 of 16; no prelude
# category: runs
# changed: import lines (keras -> glassnet.keras)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- snippet ---
model = keras.Sequential(
    [
        layers.Dense(2, activation="relu"),
        layers.Dense(3, activation="relu"),
        layers.Dense(4),
    ]
)
