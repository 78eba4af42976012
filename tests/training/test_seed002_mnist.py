"""Seed 002's Keras program, run by glassnet on the real MNIST subset.

Only the import line and the data loading differ from the program in the seed.
"""

from __future__ import annotations

import contextlib
import io


def test_seed002_keras_program_reaches_90_percent_on_mnist_5k():
    import glassnet as tf  # the seed: import tensorflow as tf

    # the seed: mnist = tf.keras.datasets.mnist; (...) = mnist.load_data()
    (x_train, y_train), (x_test, y_test) = tf.datasets.load("mnist-5k")
    tf.seed(0)  # glassnet addition: a repeatable test
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        # ---- from here on, the seed's program as written ----
        x_train, x_test = x_train / 255.0, x_test / 255.0

        model = tf.keras.models.Sequential(
            [
                tf.keras.layers.Flatten(input_shape=(28, 28)),
                tf.keras.layers.Dense(128, activation="relu"),
                tf.keras.layers.Dropout(0.2),
                tf.keras.layers.Dense(10, activation="softmax"),
            ]
        )

        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )

        model.fit(x_train, y_train, epochs=5)
        result = model.evaluate(x_test, y_test)
    loss, accuracy = result
    assert x_test.shape == (1000, 28, 28)
    assert accuracy >= 0.90, f"test accuracy {accuracy:.4f} after 5 epochs"
    assert loss < 0.4
    printed = out.getvalue()
    assert "Epoch 5/5" in printed and "accuracy: " in printed
