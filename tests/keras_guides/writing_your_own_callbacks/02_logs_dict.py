# source: keras-io guides/writing_your_own_callbacks.py, "Writing your own callbacks" (Rick Chao, Francois Chollet, Keras 3 version, last modified 2023/06/25)
# section: Usage of logs dict
# cells: 5 of 7; prelude cells 1, 2
# category: runs
# changed: import lines (keras -> glassnet.keras); data loading: keras.datasets.mnist -> glassnet.datasets "mnist-5k" (the guide keeps 1,000 training and 1,000 test digits; so does this)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import numpy as np
import glassnet.keras as keras

# --- prelude: earlier cells of the guide, run first as a notebook would ---
# [cell 1]
# Define the Keras model to add callbacks to
def get_model():
    model = keras.Sequential()
    model.add(keras.layers.Dense(1))
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
    )
    return model

# [cell 2]
# changed (data loading): keras.datasets.mnist.load_data() -> glassnet's embedded MNIST
# subset (4,000 training / 1,000 test digits, uint8 images of 28x28 as Keras's)
import glassnet.datasets

(x_train, y_train), (x_test, y_test) = glassnet.datasets.load("mnist-5k")
y_train, y_test = y_train.astype("uint8"), y_test.astype("uint8")  # changed: uint8 as Keras's
x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
x_test = x_test.reshape(-1, 784).astype("float32") / 255.0

# Limit the data to 1000 samples
x_train = x_train[:1000]
y_train = y_train[:1000]
x_test = x_test[:1000]
y_test = y_test[:1000]

# --- snippet ---
class LossAndErrorPrintingCallback(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print(
            "Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"])
        )

    def on_test_batch_end(self, batch, logs=None):
        print(
            "Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"])
        )

    def on_epoch_end(self, epoch, logs=None):
        print(
            "The average loss for epoch {} is {:7.2f} "
            "and mean absolute error is {:7.2f}.".format(
                epoch, logs["loss"], logs["mean_absolute_error"]
            )
        )


model = get_model()
model.fit(
    x_train,
    y_train,
    batch_size=128,
    epochs=2,
    verbose=0,
    callbacks=[LossAndErrorPrintingCallback()],
)

res = model.evaluate(
    x_test,
    y_test,
    batch_size=128,
    verbose=0,
    callbacks=[LossAndErrorPrintingCallback()],
)
