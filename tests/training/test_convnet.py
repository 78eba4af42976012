"""Convolutional networks through fit: the fast step runs them (and gives the graph's numbers),
BatchNormalization's moving statistics follow Keras's rule, model files round-trip every new
layer, the summary shows their shapes and counts, and Keras's "Simple MNIST convnet" learns."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.training.split import ROW_SPLIT_MIN, RowSplit


def _images(n=48, size=10, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(n, size, size, channels)).astype("float32")
    y = x[:, : size // 2].mean(axis=(1, 2, 3)) > x[:, size // 2 :].mean(axis=(1, 2, 3))
    return x, y.astype("int64")


def _convnet(dtype="float32"):
    return gn.Sequential(
        [
            L.Input(shape=(10, 10, 1)),
            L.Conv2D(4, 3, padding="same", activation="relu", dtype=dtype),
            L.BatchNormalization(dtype=dtype),
            L.MaxPooling2D(2, dtype=dtype),
            L.Conv2D(6, (2, 2), strides=2, activation="tanh", dtype=dtype),
            L.AveragePooling2D(1, dtype=dtype),
            L.Flatten(),
            L.Dropout(0.25, dtype=dtype),
            L.Dense(2, activation="softmax", dtype=dtype),
        ]
    )


def _fit(fused, dtype="float32", epochs=2):
    gn.seed(3)
    model = _convnet(dtype)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", fused=fused)
    x, y = _images()
    history = model.fit(x.astype(dtype), y, batch_size=16, epochs=epochs, verbose=0)
    return model, history


def test_the_fast_step_runs_a_convnet_and_gives_the_graphs_numbers():
    fast, h_fast = _fit("auto")
    assert fast.fit_path()[0] == "fast", fast.fit_path()
    graph, h_graph = _fit(False)
    assert graph.fit_path()[0] == "graph"
    # The same kernels in the same order: only how buffers are reused differs, so the two
    # agree to float32 rounding (a few ulps, compounded over 6 Adam steps).
    np.testing.assert_allclose(h_fast.history["loss"], h_graph.history["loss"], rtol=1e-5)
    for (name, a), (_, b) in zip(fast.named_parameters(), graph.named_parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-4, atol=1e-5, err_msg=name)


def test_row_split_is_one_product_per_element():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4000, 300)).astype("float32")
    b = rng.standard_normal((300, 64)).astype("float32")
    assert a.shape[0] * a.shape[1] * b.shape[1] >= ROW_SPLIT_MIN
    split = RowSplit()
    out = split.gemm(a, b, np.empty((4000, 64), "float32"))
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-4)
    # a transposed operand, as ∂C/∂W = colsᵀ δ passes it
    np.testing.assert_allclose(
        split.gemm(a.T, out, None), a.T @ out, rtol=1e-4, atol=1e-2 * np.abs(a.T @ out).max()
    )


def test_batch_normalization_moving_statistics_follow_keras_rule():
    """moving ← momentum·moving + (1 − momentum)·batch statistic, with the biased variance
    (Keras 3), derived here by hand over three batches."""
    rng = np.random.default_rng(5)
    layer = L.BatchNormalization(momentum=0.9, dtype="float64")
    layer.build((4,))
    mean, var = np.zeros(4), np.ones(4)
    for _ in range(3):
        x = rng.normal(2.0, 3.0, size=(7, 4))
        layer.train(True)
        layer(x)
        batch_mean = x.sum(axis=0) / 7
        batch_var = ((x - batch_mean) ** 2).sum(axis=0) / 7
        mean = 0.9 * mean + 0.1 * batch_mean
        var = 0.9 * var + 0.1 * batch_var
        np.testing.assert_allclose(layer.moving_mean.data, mean, rtol=1e-12)
        np.testing.assert_allclose(layer.moving_variance.data, var, rtol=1e-12)
    # inference mode reads them and changes nothing
    layer.train(False)
    x = rng.normal(size=(5, 4))
    out = layer(x).data
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-12)
    np.testing.assert_allclose(layer.moving_mean.data, mean, rtol=1e-12)


def test_batch_normalization_state_is_not_trained_but_is_saved(tmp_path):
    model, _ = _fit("auto", epochs=1)
    bn = model.layers[1]
    assert not bn.moving_mean.requires_grad and not bn.moving_variance.requires_grad
    assert bn.moving_mean.data.any(), "fit updated the moving mean"
    assert not any(p is bn.moving_mean or p is bn.moving_variance for p in model.optimizer.params)
    printed: list[str] = []
    model.summary(print_fn=printed.append)
    text = "\n".join(printed)
    assert "Non-trainable params: 8" in text  # moving mean and variance of 4 channels
    path = tmp_path / "convnet.safetensors"
    model.save(path)
    loaded = gn.load_model(path)
    np.testing.assert_array_equal(loaded.layers[1].moving_variance.data, bn.moving_variance.data)
    x, _ = _images(8, seed=9)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_every_new_layer_round_trips_through_a_model_file(tmp_path):
    gn.seed(4)
    model = gn.Sequential(
        [
            L.Input(shape=(12, 3)),
            L.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu"),
            L.MaxPooling1D(2, padding="same"),
            L.AveragePooling1D(1),
            L.LayerNormalization(),
            L.Reshape((3, 2, 4)),
            L.ZeroPadding2D(((1, 0), (0, 1))),
            L.UpSampling2D((1, 2)),
            L.Conv2DTranspose(3, 2, strides=2, padding="same", data_format="channels_last"),
            L.Conv2D(2, 3, data_format="channels_first", activation="tanh"),
            L.BatchNormalization(axis=1),
            L.GlobalMaxPooling2D(data_format="channels_first"),
            L.Reshape((2, 1)),
            L.GlobalAveragePooling1D(),
            L.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert model.fit_path()[0] == "fast", model.fit_path()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 12, 3)).astype("float32")
    y = rng.integers(0, 2, 20)
    model.fit(x, y, epochs=1, batch_size=10, verbose=0)
    path = tmp_path / "all.safetensors"
    model.save(path)
    loaded = gn.load_model(path)
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    for (na, a), (nb, b) in zip(loaded.named_parameters(), model.named_parameters()):
        assert na == nb
        np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_summary_shows_output_shapes_and_parameter_counts():
    model = gn.Sequential(
        [
            L.Input(shape=(28, 28, 1)),
            L.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)),
            L.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)),
            L.Flatten(),
            L.Dropout(0.5),
            L.Dense(10, activation="softmax"),
        ]
    )
    printed: list[str] = []
    model.summary(print_fn=printed.append)
    text = "\n".join(printed)
    # Keras's documented summary of this model: the same shapes and counts.
    for row in [
        ("conv2d (Conv2D)", "(None, 26, 26, 32)", "320"),
        ("max_pooling2d (MaxPooling2D)", "(None, 13, 13, 32)", "0"),
        ("conv2d_1 (Conv2D)", "(None, 11, 11, 64)", "18,496"),
        ("max_pooling2d_1 (MaxPooling2D)", "(None, 5, 5, 64)", "0"),
        ("flatten (Flatten)", "(None, 1600)", "0"),
        ("dense (Dense)", "(None, 10)", "16,010"),
    ]:
        line = next(s for s in text.splitlines() if s.startswith(row[0] + " "))
        assert row[1] in line and line.rstrip().endswith(row[2]), line
    assert "Total params: 34,826" in text


@pytest.mark.slow  # ~1-2 minutes on two cores: pytest -m slow tests/training/test_convnet.py
def test_keras_simple_mnist_convnet_on_mnist_5k():
    """Keras's example with only the import line and the data loading changed."""
    from glassnet import keras
    from glassnet.keras import layers

    (x_train, y_train), (x_test, y_test) = gn.datasets.load("mnist-5k")
    x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
    x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
    gn.seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=5, validation_split=0.1, verbose=0)
    score = model.evaluate(x_test, y_test, verbose=0)
    assert score[1] >= 0.93, score


def test_predict_on_a_large_batch_runs_the_convolutions_in_chunks_with_the_same_values():
    from glassnet.nn.layers.conv import INFERENCE_CHUNK

    model, _ = _fit("auto", epochs=1)
    x, _ = _images(INFERENCE_CHUNK * 2 + 37, seed=11)
    chunked = model.predict(x, batch_size=len(x))  # one batch, convolved in chunks
    model.eval()
    whole = model(x).data  # the graph in eval mode: one product over the whole batch
    model.train()
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-6)
    channels_first = gn.Sequential(
        [L.Input(shape=(1, 10, 10)), L.Conv2D(3, 3, data_format="channels_first")]
    )
    y = channels_first.predict(x.transpose(0, 3, 1, 2), batch_size=len(x))
    layer = channels_first.layers[0]
    layer.eval()
    np.testing.assert_allclose(y, layer(x.transpose(0, 3, 1, 2)).data, rtol=1e-5, atol=1e-6)
