"""The fit options and small utilities Keras code uses: PyDataset and generators as data,
sample_weight and class_weight (checked against values derived by hand), to_categorical,
keras.activations, keras.random, keras.regularizers, LeakyReLU(negative_slope=),
keras.models.load_model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.keras as keras


def _linear_model(seed: int = 0, dtype: str = "float64") -> Any:
    gn.seed(seed)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=3, dtype=dtype)])
    model.compile(keras.optimizers.SGD(learning_rate=0.1), "mse")
    return model


def _data(n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 3))
    return x, x @ np.array([1.0, -1.0, 0.5]) + 0.1


# -- sample and class weights, by hand ------------------------------------------------------------


def test_sample_weight_loss_and_step_by_hand() -> None:
    """Keras's weighted cost C = 1/N Σ_x w_x (y_x − ŷ_x)² (divided by N, not Σ w), and one
    SGD step moves the kernel by −lr · ∂C/∂kernel."""
    x, y = _data(8)
    w = np.array([0.0, 1.0, 2.0, 0.5, 1.0, 3.0, 0.0, 1.5])
    model = _linear_model()
    kernel, bias = model.get_weights()
    pred = x @ kernel[:, 0] + bias[0]
    history = model.fit(x, y, sample_weight=w, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert history.history["loss"][0] == pytest.approx(np.mean(w * (pred - y) ** 2), rel=1e-12)
    dcost = 2 * w * (pred - y) / 8
    np.testing.assert_allclose(model.get_weights()[0][:, 0], kernel[:, 0] - 0.1 * x.T @ dcost)
    np.testing.assert_allclose(model.get_weights()[1], bias - 0.1 * dcost.sum())


def test_weights_of_one_equal_the_unweighted_run() -> None:
    x, y = _data()
    a, b = _linear_model(), _linear_model()
    ha = a.fit(x, y, epochs=2, batch_size=6, verbose=0, shuffle=False)
    hb = b.fit(x, y, sample_weight=np.ones(len(x)), epochs=2, batch_size=6, verbose=0,
               shuffle=False)  # fmt: skip
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-12)
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(p, q, rtol=1e-12)


def test_class_weight_by_hand_with_softmax_cross_entropy() -> None:
    """class_weight {0: 1, 1: 4}: C = 1/N Σ_x w_{y_x} (−ln a_{y_x}), computed from the outputs
    before the step (the loss fit logs for a single full batch)."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(10, 3))
    y = rng.integers(0, 2, size=10)
    gn.seed(3)
    model = keras.Sequential([keras.layers.Dense(2, activation="softmax", input_dim=3,
                                                 dtype="float64")])  # fmt: skip
    model.compile("sgd", "sparse_categorical_crossentropy")
    probs = model.predict(x)
    history = model.fit(x, y, class_weight={0: 1.0, 1: 4.0}, batch_size=10, epochs=1, verbose=0)
    w = np.where(y == 1, 4.0, 1.0)
    expected = np.mean(w * -np.log(probs[np.arange(10), y]))
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-9)


def test_class_weight_must_cover_every_class() -> None:
    x, y = _data()
    model = _linear_model()
    with pytest.raises(gn.errors.InvalidArgumentError, match="no weight for class"):
        model.fit(x, (y > 0).astype(int), class_weight={0: 1.0}, verbose=0)
    with pytest.raises(gn.errors.ShapeError, match=r"sample_weight must have shape \(24,\)"):
        model.fit(x, y, sample_weight=np.ones(3), verbose=0)


# -- PyDataset and generators -------------------------------------------------------------------


class Batches(keras.utils.PyDataset):
    """The Keras guide's shape of a PyDataset: batches by index, a hook after every epoch."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        sl = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        return self.x[sl], self.y[sl]

    def on_epoch_end(self) -> None:
        self.epochs_ended += 1


def test_pydataset_trains_as_the_same_arrays_unshuffled() -> None:
    x, y = _data()
    a, b = _linear_model(), _linear_model()
    data = Batches(x, y, batch_size=5, workers=2, use_multiprocessing=False)
    ha = a.fit(data, epochs=3, verbose=0)
    hb = b.fit(x, y, batch_size=5, epochs=3, verbose=0, shuffle=False)
    assert data.epochs_ended == 3
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-12)
    assert a.evaluate(data) == pytest.approx(b.evaluate(x, y), rel=1e-12)
    np.testing.assert_array_equal(a.predict(data), a.predict(x))


def test_generator_with_steps_per_epoch() -> None:
    x, y = _data()

    def batches() -> Any:
        while True:
            for i in range(0, 24, 8):
                yield x[i : i + 8], y[i : i + 8]

    a, b = _linear_model(), _linear_model()
    ha = a.fit(batches(), steps_per_epoch=3, epochs=2, verbose=0)
    hb = b.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-12)
    assert a.evaluate(batches(), steps=3) == pytest.approx(b.evaluate(x, y), rel=1e-12)
    assert a.predict(batches(), steps=2).shape == (16, 1)


def test_generator_with_weights_and_validation() -> None:
    x, y = _data()

    def weighted() -> Any:
        while True:
            yield x[:12], y[:12], np.full(12, 2.0)

    model = _linear_model()
    history = model.fit(weighted(), steps_per_epoch=2, epochs=2, verbose=0,
                        validation_data=(x[12:], y[12:]))  # fmt: skip
    assert set(history.history) == {"loss", "val_loss"}


def test_generator_errors_are_clear() -> None:
    x, y = _data()
    model = _linear_model()

    def finite() -> Any:
        yield x[:8], y[:8]

    with pytest.raises(gn.errors.InvalidArgumentError, match="needs steps_per_epoch"):
        model.fit(finite(), epochs=2, verbose=0)
    with pytest.raises(gn.errors.InvalidArgumentError, match="y must be None"):
        model.fit(Batches(x, y, 4), y, verbose=0)
    with pytest.raises(gn.errors.InvalidArgumentError, match="needs steps"):
        model.predict(finite())
    with pytest.raises(gn.errors.InvalidArgumentError, match=r"tuple \(x, y\)"):
        model.fit(iter([x[:4]] * 3), steps_per_epoch=1, verbose=0)
    with pytest.warns(RuntimeWarning, match="ran out of data"):
        history = model.fit(finite(), steps_per_epoch=1, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1


# -- utilities ----------------------------------------------------------------------------------


def test_to_categorical() -> None:
    out = keras.utils.to_categorical([2, 0, 1, 2])
    np.testing.assert_array_equal(out, np.eye(3, dtype=np.float32)[[2, 0, 1, 2]])
    assert out.dtype == np.float32
    assert keras.utils.to_categorical(np.array([[1], [3]]), num_classes=5).shape == (2, 5)
    assert keras.utils.to_categorical(np.array([1.0, 0.0])).tolist() == [[0, 1], [1, 0]]
    with pytest.raises(gn.errors.ShapeError, match="num_classes=2 is too small"):
        keras.utils.to_categorical([0, 3], num_classes=2)
    with pytest.raises(gn.errors.InvalidArgumentError, match="integer class labels"):
        keras.utils.to_categorical([0.5])
    with pytest.raises(gn.errors.InvalidArgumentError, match="≥ 0"):
        keras.utils.to_categorical([-1, 2])


def test_activations_are_the_kernels() -> None:
    z = np.linspace(-3, 3, 13)
    t = gn.tensor(z, dtype="float64")
    np.testing.assert_allclose(keras.activations.relu(t).numpy(), np.maximum(z, 0))
    np.testing.assert_allclose(keras.activations.sigmoid(t).numpy(), 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(keras.activations.tanh(t).numpy(), np.tanh(z))
    np.testing.assert_allclose(
        keras.activations.relu(t, negative_slope=0.1, max_value=2.0).numpy(),
        np.minimum(np.where(z > 0, z, 0.1 * z), 2.0),
    )
    s = keras.activations.softmax(gn.tensor(z.reshape(1, -1), dtype="float64")).numpy()
    np.testing.assert_allclose(s[0], np.exp(z) / np.exp(z).sum(), rtol=1e-12)
    assert keras.activations.get("relu") is keras.activations.relu
    # a function as a layer's activation, by its name
    layer = keras.layers.Dense(2, activation=keras.activations.relu)
    assert layer.activation.kernel.name == "relu"


def test_leaky_relu_keras_default_and_negative_slope() -> None:
    x = np.array([[-2.0, 3.0]], dtype=np.float32)
    np.testing.assert_allclose(keras.layers.LeakyReLU()(x).numpy(), [[-0.6, 3.0]], rtol=1e-6)
    np.testing.assert_allclose(
        keras.layers.LeakyReLU(negative_slope=0.1)(x).numpy(), [[-0.2, 3.0]], rtol=1e-6
    )


def test_random_is_seeded() -> None:
    a = keras.random.normal((3, 2), seed=4).numpy()
    np.testing.assert_array_equal(a, keras.random.normal((3, 2), seed=4).numpy())
    assert a.dtype == np.float32 and a.shape == (3, 2)
    u = keras.random.uniform((1000,), minval=2, maxval=3, seed=1).numpy()
    assert 2 <= u.min() and u.max() < 3
    gen = keras.random.SeedGenerator(7)
    first, second = keras.random.normal((4,), seed=gen), keras.random.normal((4,), seed=gen)
    assert not np.array_equal(first.numpy(), second.numpy())
    gn.seed(5)
    g1 = keras.random.uniform((3,)).numpy()
    gn.seed(5)
    np.testing.assert_array_equal(g1, keras.random.uniform((3,)).numpy())
    assert np.abs(keras.random.truncated_normal((500,), seed=2).numpy()).max() <= 2


def test_regularizers_by_name_and_config() -> None:
    w = gn.tensor(np.array([[1.0, -2.0]]), dtype="float64")
    assert float(keras.regularizers.l2(0.5)(w).data) == pytest.approx(2.5)
    assert float(keras.regularizers.l1(0.5)(w).data) == pytest.approx(1.5)
    assert float(keras.regularizers.l1_l2(l1=1.0, l2=1.0)(w).data) == pytest.approx(8.0)
    assert keras.regularizers.get("l2").l2 == 0.01
    assert keras.regularizers.get({"name": "l1", "l1": 0.2}).l1 == 0.2
    with pytest.raises(gn.errors.InvalidArgumentError, match="l2 must be a number"):
        keras.regularizers.l2(-1)


def test_regularized_model_saves_and_loads(tmp_path: Path) -> None:
    gn.seed(6)
    model = keras.Sequential(
        [keras.Input(shape=(3,)), keras.layers.Dense(2, kernel_regularizer="l2")]
    )
    model.compile("adam", "mse")
    x, y = _data()
    model.fit(x, np.c_[y, y], epochs=1, verbose=0)
    model.save(tmp_path / "m.gn")
    loaded = keras.models.load_model(tmp_path / "m.gn")
    assert isinstance(loaded, keras.Sequential)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[0].kernel_regularizer.l2 == 0.01
    assert loaded.evaluate(x, np.c_[y, y]) == pytest.approx(model.evaluate(x, np.c_[y, y]))


def test_keras_import_styles() -> None:
    import glassnet as tf
    from glassnet.keras import layers, ops

    assert tf.keras.layers.Dense is layers.Dense is keras.layers.Dense
    assert tf.keras.ops is ops
    assert keras.layers.GELU is gn.layers.GELU  # every other glassnet layer by its name
    assert keras.models.Sequential is keras.Sequential


def test_evaluate_with_sample_weight_by_hand() -> None:
    x, y = _data(10)
    w = np.linspace(0, 2, 10)
    model = _linear_model()
    pred = model.predict(x)[:, 0]
    assert model.evaluate(x, y, sample_weight=w, batch_size=4) == pytest.approx(
        np.mean(w * (pred - y) ** 2), rel=1e-12
    )
