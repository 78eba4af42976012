# source: keras-io guides/sequential_model.py, "The Sequential model" (fchollet, Keras 3 version, last modified 2023/06/25)
# section: Specifying the input shape in advance
# cells: 8 of 16; no prelude
# category: runs
# changed: import lines (keras -> glassnet.keras)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- snippet ---
layer = layers.Dense(3)
layer.weights  # Empty
