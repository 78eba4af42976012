# source: keras-io guides/training_with_built_in_methods.py, "Training & evaluation with the built-in methods" (fchollet, Keras 3 version, last modified 2023/03/25)
# section: Passing data to multi-input, multi-output models
# cells: 35 of 45; prelude cells 31
# category: needs-conv
# reason: Conv2D, GlobalMaxPooling2D, Conv1D, GlobalMaxPooling1D
# changed: import lines (keras -> glassnet.keras; the setup cell's `import torch` and `import tensorflow as tf` dropped: only the backend-specific snippets use them)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import os
import numpy as np
import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- prelude: earlier cells of the guide, run first as a notebook would ---
# [cell 31]
image_input = keras.Input(shape=(32, 32, 3), name="img_input")
timeseries_input = keras.Input(shape=(None, 10), name="ts_input")

x1 = layers.Conv2D(3, 3)(image_input)
x1 = layers.GlobalMaxPooling2D()(x1)

x2 = layers.Conv1D(3, 3)(timeseries_input)
x2 = layers.GlobalMaxPooling1D()(x2)

x = layers.concatenate([x1, x2])

score_output = layers.Dense(1, name="score_output")(x)
class_output = layers.Dense(5, name="class_output")(x)

model = keras.Model(
    inputs=[image_input, timeseries_input], outputs=[score_output, class_output]
)

# --- snippet ---
model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "score_output": keras.losses.MeanSquaredError(),
        "class_output": keras.losses.CategoricalCrossentropy(),
    },
    metrics={
        "score_output": [
            keras.metrics.MeanAbsolutePercentageError(),
            keras.metrics.MeanAbsoluteError(),
        ],
        "class_output": [keras.metrics.CategoricalAccuracy()],
    },
)
