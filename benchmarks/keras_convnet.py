"""Keras's own "Simple MNIST convnet", run by Keras itself: the reference for glassnet's accuracy.

keras-io's examples/vision/mnist_convnet.py as written — Conv2D(32, 3×3, relu) → MaxPooling(2) →
Conv2D(64, 3×3, relu) → MaxPooling(2) → Flatten → Dropout(0.5) → Dense(10, softmax), Adam,
categorical cross-entropy, batch 128, ``validation_split=0.1`` — with the data loading changed
(glassnet's loader, so that every framework reads the same images) and the number of epochs and
the seed as arguments. It prints the test accuracy Keras reaches, for comparison with
``benchmarks/convnet_accuracy.py`` (glassnet and PyTorch set up as Keras).

Keras is not a dependency of glassnet: install it with a backend first, e.g.

    pip install keras jax
    KERAS_BACKEND=jax python benchmarks/keras_convnet.py --dataset fashion-mnist --epochs 5
"""

from __future__ import annotations

import argparse
import os

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", default="0", help="comma-separated, e.g. 0,1,2")
    args = parser.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import glassnet as gn
    import keras
    from keras import layers

    (x_train, y_train), (x_test, y_test) = gn.datasets.load(args.dataset)
    # From here on, the example's own lines.
    num_classes, input_shape = 10, (28, 28, 1)
    x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
    x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)
    for seed in [int(s) for s in args.seeds.split(",")]:
        keras.utils.set_random_seed(seed)
        model = keras.Sequential(
            [
                keras.Input(shape=input_shape),
                layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
                layers.MaxPooling2D(pool_size=(2, 2)),
                layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
                layers.MaxPooling2D(pool_size=(2, 2)),
                layers.Flatten(),
                layers.Dropout(0.5),
                layers.Dense(num_classes, activation="softmax"),
            ]
        )
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        model.fit(
            x_train, y_train, batch_size=128, epochs=args.epochs, validation_split=0.1, verbose=2
        )
        loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
        print(
            f"{args.dataset}, {args.epochs} epochs, seed {seed}: Keras {keras.__version__} "
            f"({keras.backend.backend()}) test accuracy {accuracy:.4f} (loss {loss:.4f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
