# source: keras-io guides/training_with_built_in_methods.py, "Training & evaluation with the built-in methods" (fchollet, Keras 3 version, last modified 2023/03/25)
# section: Writing your own callback
# cells: 41 of 45; no prelude
# category: runs
# changed: import lines (keras -> glassnet.keras; the setup cell's `import torch` and `import tensorflow as tf` dropped: only the backend-specific snippets use them)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import os
import numpy as np
import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- snippet ---
class LossHistory(keras.callbacks.Callback):
    def on_train_begin(self, logs):
        self.per_batch_losses = []

    def on_batch_end(self, batch, logs):
        self.per_batch_losses.append(logs.get("loss"))
