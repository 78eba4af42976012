# source: keras-io guides/training_with_built_in_methods.py, "Training & evaluation with the built-in methods" (fchollet, Keras 3 version, last modified 2023/03/25)
# section: Handling losses and metrics that don't fit the standard signature
# cells: 14, 15 of 45; no prelude
# category: runs
# changed: import lines (keras -> glassnet.keras; the setup cell's `import torch` and `import tensorflow as tf` dropped: only the backend-specific snippets use them)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import os
import numpy as np
import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- snippet ---
# [cell 14]
class LogisticEndpoint(keras.layers.Layer):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets, logits, sample_weights=None):
        # Compute the training-time loss value and add it
        # to the layer using `self.add_loss()`.
        loss = self.loss_fn(targets, logits, sample_weights)
        self.add_loss(loss)

        # Return the inference-time prediction tensor (for `.predict()`).
        return ops.softmax(logits)

# [cell 15]
inputs = keras.Input(shape=(3,), name="inputs")
targets = keras.Input(shape=(10,), name="targets")
logits = keras.layers.Dense(10)(inputs)
predictions = LogisticEndpoint(name="predictions")(targets, logits)

model = keras.Model(inputs=[inputs, targets], outputs=predictions)
model.compile(optimizer="adam")  # No loss argument!

data = {
    "inputs": np.random.random((3, 3)),
    "targets": np.random.random((3, 10)),
}
model.fit(data)
