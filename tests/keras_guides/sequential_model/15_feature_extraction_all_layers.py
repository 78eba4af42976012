# source: keras-io guides/sequential_model.py, "The Sequential model" (fchollet, Keras 3 version, last modified 2023/06/25)
# section: Feature extraction with a Sequential model
# cells: 15 of 16; no prelude
# category: needs-conv
# reason: Conv2D
# changed: import lines (keras -> glassnet.keras)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- snippet ---
initial_model = keras.Sequential(
    [
        keras.Input(shape=(250, 250, 3)),
        layers.Conv2D(32, 5, strides=2, activation="relu"),
        layers.Conv2D(32, 3, activation="relu"),
        layers.Conv2D(32, 3, activation="relu"),
    ]
)
feature_extractor = keras.Model(
    inputs=initial_model.inputs,
    outputs=[layer.output for layer in initial_model.layers],
)

# Call feature extractor on test input.
x = ops.ones((1, 250, 250, 3))
features = feature_extractor(x)
