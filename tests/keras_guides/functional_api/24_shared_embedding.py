# source: keras-io guides/functional_api.py, "The Functional API" (fchollet, Keras 3 version, last modified 2020/04/12)
# section: Shared layers
# cells: 24 of 31; no prelude
# category: runs
# changed: import lines (keras -> glassnet.keras)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import numpy as np
import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- snippet ---
# Embedding for 1000 unique words mapped to 128-dimensional vectors
shared_embedding = layers.Embedding(1000, 128)

# Variable-length sequence of integers
text_input_a = keras.Input(shape=(None,), dtype="int32")

# Variable-length sequence of integers
text_input_b = keras.Input(shape=(None,), dtype="int32")

# Reuse the same layer to encode both inputs
encoded_input_a = shared_embedding(text_input_a)
encoded_input_b = shared_embedding(text_input_b)
