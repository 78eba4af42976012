# source: keras-io guides/training_with_built_in_methods.py, "Training & evaluation with the built-in methods" (fchollet, Keras 3 version, last modified 2023/03/25)
# section: Custom losses
# cells: 11 of 45; prelude cells 2, 9
# category: runs
# changed: import lines (keras -> glassnet.keras; the setup cell's `import torch` and `import tensorflow as tf` dropped: only the backend-specific snippets use them); data loading: keras.datasets.mnist -> glassnet.datasets "mnist-5k" (4,000 / 1,000 digits); reshape(60000, 784) -> reshape(4000, 784), reshape(10000, 784) -> reshape(1000, 784); validation hold-out 10,000 -> 1,000 samples (so 3,000 remain for training)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import os
import numpy as np
import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- prelude: earlier cells of the guide, run first as a notebook would ---
# [cell 2]
# changed (data loading): keras.datasets.mnist.load_data() -> glassnet's embedded MNIST
# subset (4,000 training / 1,000 test digits, uint8 images of 28x28 as Keras's)
import glassnet.datasets

(x_train, y_train), (x_test, y_test) = glassnet.datasets.load("mnist-5k")
y_train, y_test = y_train.astype("uint8"), y_test.astype("uint8")  # changed: uint8 as Keras's

# Preprocess the data (these are NumPy arrays)
x_train = x_train.reshape(4000, 784).astype("float32") / 255  # changed: 60000 -> 4000
x_test = x_test.reshape(1000, 784).astype("float32") / 255  # changed: 10000 -> 1000

y_train = y_train.astype("float32")
y_test = y_test.astype("float32")

# Reserve 10,000 samples for validation
x_val = x_train[-1000:]  # changed: 10000 -> 1000
y_val = y_train[-1000:]  # changed: 10000 -> 1000
x_train = x_train[:-1000]  # changed: 10000 -> 1000
y_train = y_train[:-1000]  # changed: 10000 -> 1000

# [cell 9]
def get_uncompiled_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(
        optimizer="rmsprop",
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    return model

# --- snippet ---
class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor


model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE())

y_train_one_hot = ops.one_hot(y_train, num_classes=10)
model.fit(x_train, y_train_one_hot, batch_size=64, epochs=1)
