# source: keras-io guides/functional_api.py, "The Functional API" (fchollet, Keras 3 version, last modified 2020/04/12)
# section: Training, evaluation, and inference
# cells: 11 of 31; prelude cells 1, 5, 6, 7
# category: runs
# changed: import lines (keras -> glassnet.keras); data loading: keras.datasets.mnist -> glassnet.datasets "mnist-5k" (4,000 / 1,000 digits); reshape(60000, 784) -> reshape(4000, 784), reshape(10000, 784) -> reshape(1000, 784)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import numpy as np
import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- prelude: earlier cells of the guide, run first as a notebook would ---
# [cell 1]
inputs = keras.Input(shape=(784,))

# [cell 5]
dense = layers.Dense(64, activation="relu")
x = dense(inputs)

# [cell 6]
x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10)(x)

# [cell 7]
model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")

# --- snippet ---
# changed (data loading): keras.datasets.mnist.load_data() -> glassnet's embedded MNIST
# subset (4,000 training / 1,000 test digits, uint8 images of 28x28 as Keras's)
import glassnet.datasets

(x_train, y_train), (x_test, y_test) = glassnet.datasets.load("mnist-5k")
y_train, y_test = y_train.astype("uint8"), y_test.astype("uint8")  # changed: uint8 as Keras's

x_train = x_train.reshape(4000, 784).astype("float32") / 255  # changed: 60000 -> 4000
x_test = x_test.reshape(1000, 784).astype("float32") / 255  # changed: 10000 -> 1000

model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=["accuracy"],
)

history = model.fit(
    x_train, y_train, batch_size=64, epochs=2, validation_split=0.2
)

test_scores = model.evaluate(x_test, y_test, verbose=2)
print("Test loss:", test_scores[0])
print("Test accuracy:", test_scores[1])
