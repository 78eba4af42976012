# source: keras-io guides/training_with_built_in_methods.py, "Training & evaluation with the built-in methods" (fchollet, Keras 3 version, last modified 2023/03/25)
# section: Passing a schedule to an optimizer
# cells: 44 of 45; no prelude
# category: runs
# changed: import lines (keras -> glassnet.keras; the setup cell's `import torch` and `import tensorflow as tf` dropped: only the backend-specific snippets use them)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import os
import numpy as np
import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- snippet ---
initial_learning_rate = 0.1
lr_schedule = keras.optimizers.schedules.ExponentialDecay(
    initial_learning_rate, decay_steps=100000, decay_rate=0.96, staircase=True
)

optimizer = keras.optimizers.RMSprop(learning_rate=lr_schedule)
