# source: keras-io guides/sequential_model.py, "The Sequential model" (fchollet, Keras 3 version, last modified 2023/06/25)
# section: A common debugging workflow: add() + summary()
# cells: 14 of 16; no prelude
# category: needs-conv
# reason: Conv2D, MaxPooling2D, GlobalMaxPooling2D
# changed: import lines (keras -> glassnet.keras)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- snippet ---
model = keras.Sequential()
model.add(keras.Input(shape=(250, 250, 3)))  # 250x250 RGB images
model.add(layers.Conv2D(32, 5, strides=2, activation="relu"))
model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.MaxPooling2D(3))

# Can you guess what the current output shape is at this point? Probably not.
# Let's just print it:
model.summary()

# The answer was: (40, 40, 32), so we can keep downsampling...

model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.MaxPooling2D(3))
model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.MaxPooling2D(2))

# And now?
model.summary()

# Now that we have 4x4 feature maps, time to apply global max pooling.
model.add(layers.GlobalMaxPooling2D())

# Finally, we add a classification layer.
model.add(layers.Dense(10))
