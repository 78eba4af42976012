"""Keras-style subclassing: the guide "Making new layers and models via subclassing" (its
backend-neutral snippets, with only the import line and the data changed), then what the
guide implies: gradients, saving, frozen layers, unique names, fit's path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.keras as keras
from glassnet.keras import ops

# -- the guide's layers -----------------------------------------------------------------------


class LinearInInit(keras.layers.Layer):
    def __init__(self, units: int = 32, input_dim: int = 32) -> None:
        super().__init__()
        self.w = self.add_weight(
            shape=(input_dim, units), initializer="random_normal", trainable=True
        )
        self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

    def call(self, inputs: Any) -> Any:
        return ops.matmul(inputs, self.w) + self.b


class ComputeSum(keras.layers.Layer):
    def __init__(self, input_dim: int) -> None:
        super().__init__()
        self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

    def call(self, inputs: Any) -> Any:
        self.total.assign_add(ops.sum(inputs, axis=0))
        return self.total


class Linear(keras.layers.Layer):
    def __init__(self, units: int = 32, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape: Any) -> None:
        self.seen_shape = input_shape
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True
        )
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs: Any) -> Any:
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"units": self.units})
        return config


class MLPBlock(keras.layers.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.linear_1 = Linear(32)
        self.linear_2 = Linear(32)
        self.linear_3 = Linear(1)

    def call(self, inputs: Any) -> Any:
        x = self.linear_1(inputs)
        x = keras.activations.relu(x)
        x = self.linear_2(x)
        x = keras.activations.relu(x)
        return self.linear_3(x)


class ActivityRegularizationLayer(keras.layers.Layer):
    def __init__(self, rate: float = 1e-2) -> None:
        super().__init__()
        self.rate = rate

    def call(self, inputs: Any) -> Any:
        self.add_loss(self.rate * ops.mean(inputs))
        return inputs


class OuterLayer(keras.layers.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.activity_reg = ActivityRegularizationLayer(1e-2)

    def call(self, inputs: Any) -> Any:
        return self.activity_reg(inputs)


class OuterLayerWithKernelRegularizer(keras.layers.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.dense = keras.layers.Dense(32, kernel_regularizer=keras.regularizers.l2(1e-3))

    def call(self, inputs: Any) -> Any:
        return self.dense(inputs)


class CustomDropout(keras.layers.Layer):
    def __init__(self, rate: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = rate
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs: Any, training: Any = None) -> Any:
        if training:
            return keras.random.dropout(inputs, rate=self.rate, seed=self.seed_generator)
        return inputs


class Sampling(keras.layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs: Any) -> Any:
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class Encoder(keras.layers.Layer):
    def __init__(
        self, latent_dim: int = 32, intermediate_dim: int = 64, name: str = "encoder", **kwargs: Any
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.dense_proj = keras.layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = keras.layers.Dense(latent_dim)
        self.dense_log_var = keras.layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs: Any) -> Any:
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        z = self.sampling((z_mean, z_log_var))
        return z_mean, z_log_var, z


class Decoder(keras.layers.Layer):
    def __init__(
        self, original_dim: int, intermediate_dim: int = 64, name: str = "decoder", **kwargs: Any
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.dense_proj = keras.layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = keras.layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs: Any) -> Any:
        x = self.dense_proj(inputs)
        return self.dense_output(x)


class VariationalAutoEncoder(keras.Model):
    def __init__(
        self,
        original_dim: int,
        intermediate_dim: int = 64,
        latent_dim: int = 32,
        name: str = "autoencoder",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs: Any) -> Any:
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
        self.add_loss(kl_loss)
        return reconstructed


# -- the guide, snippet by snippet ----------------------------------------------------------------


def test_guide_weights_created_in_init() -> None:
    x = ops.ones((2, 2))
    linear_layer = LinearInInit(4, 2)
    y = linear_layer(x)
    assert linear_layer.weights == [linear_layer.w, linear_layer.b]
    np.testing.assert_allclose(
        ops.convert_to_numpy(y), np.ones((2, 2)) @ linear_layer.w.numpy() + linear_layer.b.numpy()
    )


def test_guide_non_trainable_weight() -> None:
    x = ops.ones((2, 2))
    my_sum = ComputeSum(2)
    y = my_sum(x)
    np.testing.assert_array_equal(y.numpy(), [2.0, 2.0])
    y = my_sum(x)
    np.testing.assert_array_equal(y.numpy(), [4.0, 4.0])
    assert len(my_sum.weights) == 1
    assert len(my_sum.non_trainable_weights) == 1
    assert my_sum.trainable_weights == []


def test_guide_deferred_build_gets_the_batch_axis() -> None:
    linear_layer = Linear(32)
    y = linear_layer(ops.ones((2, 2)))
    assert linear_layer.seen_shape == (None, 2)  # Keras's build(input_shape) includes the batch
    assert ops.shape(y) == (2, 32)
    assert [tuple(w.shape) for w in linear_layer.weights] == [(2, 32), (32,)]


def test_guide_nested_layers_are_tracked() -> None:
    mlp = MLPBlock()
    y = mlp(ops.ones(shape=(3, 64)))
    assert ops.shape(y) == (3, 1)
    assert len(mlp.weights) == 6
    assert len(mlp.trainable_weights) == 6


def test_guide_add_loss_is_reset_at_each_call() -> None:
    layer = OuterLayer()
    assert len(layer.losses) == 0
    _ = layer(ops.zeros((1, 1)))
    assert len(layer.losses) == 1
    _ = layer(ops.zeros((1, 1)))
    assert len(layer.losses) == 1
    layer = OuterLayerWithKernelRegularizer()
    _ = layer(ops.zeros((1, 1)))
    (penalty,) = layer.losses
    kernel = layer.dense.get_weights()[0]
    assert float(penalty.data) == pytest.approx(
        1e-3 * float((kernel.astype(np.float64) ** 2).sum())
    )


def test_guide_get_config_and_from_config() -> None:
    layer = Linear(64)
    config = layer.get_config()
    assert config["units"] == 64 and config["name"] == layer.name and config["trainable"]
    new_layer = Linear.from_config(config)
    assert new_layer.units == 64 and new_layer.name == layer.name


def test_guide_training_argument() -> None:
    layer = CustomDropout(0.5)
    x = ops.ones((200, 10))
    np.testing.assert_array_equal(layer(x, training=False).numpy(), np.ones((200, 10)))
    dropped = layer(x, training=True).numpy()
    assert set(np.unique(dropped)) == {0.0, 2.0}
    # inside fit the flag is True, inside predict False
    model = keras.Sequential([keras.Input(shape=(10,)), CustomDropout(0.5), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    out1 = model.predict(np.ones((4, 10), "float32"))
    out2 = model.predict(np.ones((4, 10), "float32"))
    np.testing.assert_array_equal(out1, out2)


def test_guide_vae_trains_with_its_kl_loss() -> None:
    rng = np.random.default_rng(0)
    x_train = rng.uniform(size=(256, 784)).astype("float32")
    gn.seed(0)
    vae = VariationalAutoEncoder(784, 64, 32)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    vae.compile(optimizer, loss=keras.losses.MeanSquaredError())
    history = vae.fit(x_train, x_train, epochs=2, batch_size=64, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    # the logged loss is the reconstruction mse plus the KL term of the same pass
    vae(x_train[:64])
    (kl,) = vae.losses
    assert float(kl.data) != 0.0
    paths = [n for n, m in vae.named_modules() if isinstance(m, keras.layers.Dense)]
    assert len(paths) == len(set(paths)) == 5  # each Dense has its own path in the model


# -- what the guide implies -------------------------------------------------------------------


def test_custom_layer_gradients_match_gradcheck_and_torch() -> None:
    """One graph node per op: the layer's gradients are those of its ops."""
    gn.seed(1)
    layer = Linear(3, dtype="float64")
    x = np.random.default_rng(1).normal(size=(4, 5))
    layer(x)  # builds w (5, 3), b (3,)

    def f(w: Any, b: Any, xx: Any) -> Any:
        return ops.tanh(ops.matmul(xx, w) + b)

    report = gn.gradcheck(f, [layer.w.data, layer.b.data, x])
    assert report.ok, str(report)
    torch = pytest.importorskip("torch")
    out = ops.sum(ops.tanh(layer(gn.tensor(x, dtype="float64"))))
    out.backward()
    tw = torch.tensor(layer.w.data, requires_grad=True)
    tb = torch.tensor(layer.b.data, requires_grad=True)
    torch.tanh(torch.tensor(x) @ tw + tb).sum().backward()
    np.testing.assert_allclose(layer.w.grad, tw.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.b.grad, tb.grad.numpy(), rtol=1e-12)


def test_custom_layer_takes_the_graph_path_and_frozen_weights_stay() -> None:
    gn.seed(2)
    frozen = Linear(4, trainable=False)
    model = keras.Sequential([keras.Input(shape=(3,)), frozen, Linear(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    path, reason = model.fit_path()
    assert path == "graph" and "Keras-style layer" in reason
    before = [w.copy() for w in frozen.get_weights()]
    trainable_before = model.layers[1].get_weights()
    x = np.random.default_rng(3).normal(size=(32, 3)).astype("float32")
    model.fit(x, x.sum(axis=1), epochs=2, verbose=0)
    for a, b in zip(frozen.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.layers[1].get_weights()[0], trainable_before[0])
    assert len(model.non_trainable_weights) == 2 and len(model.trainable_weights) == 2
    frozen.trainable = True
    assert len(model.trainable_weights) == 4


def test_add_loss_joins_the_training_loss() -> None:
    """The cost fit minimises is the compiled loss plus the add_loss terms of the pass."""
    x = np.random.default_rng(4).normal(size=(16, 3)).astype("float32")
    y = np.zeros((16, 3), "float32")
    model = keras.Sequential([keras.Input(shape=(3,)), ActivityRegularizationLayer(0.5)])
    plain = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(3)])
    for m in (model, plain):
        m.compile("sgd", "mse")
    # no weights in the first model: its loss is the formula, by hand
    expected = float(np.mean(x.astype(np.float64) ** 2) + 0.5 * np.mean(x.astype(np.float64)))
    assert model.evaluate(x, y, batch_size=16) == pytest.approx(expected, rel=1e-6)


def test_kernel_regularizer_penalty_and_gradient() -> None:
    """Dense(kernel_regularizer=l2(λ)): loss = mse + λΣw², and one SGD step moves the kernel by
    −lr·(∂mse/∂W + 2λW), by hand."""
    lam, lr = 0.01, 0.1
    rng = np.random.default_rng(5)
    x = rng.normal(size=(8, 3)).astype("float64")
    y = rng.normal(size=(8, 2)).astype("float64")
    dense = keras.layers.Dense(
        2, kernel_regularizer=keras.regularizers.l2(lam), input_dim=3, dtype="float64"
    )
    model = keras.Sequential([dense])
    model.compile(keras.optimizers.SGD(lr), "mse")
    assert model.fit_path()[0] == "graph"
    kernel, bias = dense.get_weights()
    pred = x @ kernel + bias
    expected = np.mean((pred - y) ** 2) + lam * (kernel**2).sum()
    assert model.evaluate(x, y, batch_size=8) == pytest.approx(expected, rel=1e-12)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    grad_kernel = x.T @ (2 * (pred - y) / pred.size) + 2 * lam * kernel
    np.testing.assert_allclose(dense.get_weights()[0], kernel - lr * grad_kernel, rtol=1e-12)


class Classifier(keras.Model):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(16, activation="relu")
        self.dropout = keras.layers.Dropout(0.1)
        self.out = keras.layers.Dense(3, activation="softmax")

    def call(self, inputs: Any, training: Any = None) -> Any:
        x = self.hidden(inputs)
        x = self.dropout(x) if training else x
        return self.out(x)


def test_subclassed_model_compiles_fits_evaluates_predicts() -> None:
    gn.seed(6)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(120, 4)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)
    model = Classifier()
    model.compile(
        keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert history.history["accuracy"][-1] > 0.7
    loss, acc = model.evaluate(x, y)
    assert acc > 0.7
    probs = model.predict(x)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.hidden.name != model.out.name  # unique names, as Keras gives
    assert [w.shape for w in model.get_weights()] == [(4, 16), (16,), (16, 3), (3,)]


def test_compute_loss_override() -> None:
    """The guide "Customizing what happens in fit()" lets a model replace its loss."""

    class Doubled(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, inputs: Any) -> Any:
            return self.dense(inputs)

        def compute_loss(
            self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None
        ) -> Any:
            return 2.0 * ops.mean(ops.square(y_pred - np.reshape(y, (-1, 1))))

    gn.seed(7)
    model = Doubled()
    model.compile("sgd", "mse")
    x = np.random.default_rng(7).normal(size=(16, 2)).astype("float32")
    model.build((None, 2))
    pred = model.predict(x)[:, 0]
    history = model.fit(x, x.sum(axis=1), batch_size=16, epochs=1, verbose=0)
    assert history.history["loss"][0] == pytest.approx(
        2 * np.mean((pred - x.sum(axis=1)) ** 2), rel=1e-5
    )


def test_keras_model_of_inputs_and_outputs_is_the_functional_model() -> None:
    """keras.Model(inputs, outputs) builds the functional model, with Keras's weight layout."""
    from glassnet.keras.models import Functional

    x = keras.Input(shape=(3,))
    model = keras.Model(x, keras.layers.Dense(2)(x))
    assert isinstance(model, Functional) and model.get_weights()[0].shape == (3, 2)


def test_saving_a_registered_custom_layer(tmp_path: Path) -> None:
    @keras.saving.register_keras_serializable(package="tests")
    class Scale(keras.layers.Layer):
        def __init__(self, units: int = 2, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape: Any) -> None:
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones")

        def call(self, inputs: Any) -> Any:
            return ops.matmul(inputs, self.w)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "units": self.units}

    try:
        gn.seed(8)
        model = keras.Sequential([keras.Input(shape=(3,)), Scale(4), keras.layers.Dense(2)])
        model.compile("adam", "mse")
        x = np.random.default_rng(8).normal(size=(10, 3)).astype("float32")
        model.fit(x, np.zeros((10, 2), "float32"), epochs=1, verbose=0)
        path = tmp_path / "model.gn"
        model.save(path)
        loaded = keras.models.load_model(path)
        np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
        assert type(loaded.layers[0]) is Scale
    finally:
        gn.io.registry.unregister(Scale)


def test_unknown_layer_keyword_is_named() -> None:
    with pytest.raises(gn.errors.InvalidArgumentError, match="unknown keyword argument"):
        Linear(3, units_typo=4)


def test_keras_backend_train_step_is_refused_clearly() -> None:
    class Custom(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, inputs: Any) -> Any:
            return self.dense(inputs)

        def train_step(self, data: Any) -> Any:  # the guide's backend-specific form
            raise AssertionError("not reached")

    model = Custom()
    model.compile("sgd", "mse")
    with pytest.raises(gn.errors.InvalidArgumentError, match="override compute_loss"):
        model.fit(np.ones((4, 2), "float32"), np.ones(4, "float32"), verbose=0)


def test_mask_is_passed_only_to_a_call_that_takes_it() -> None:
    class TakesMask(keras.layers.Layer):
        def call(self, inputs: Any, mask: Any = None) -> Any:
            return inputs if mask is None else inputs * mask

    class NoMask(keras.layers.Layer):
        def call(self, inputs: Any) -> Any:
            return inputs * 2.0

    x = np.ones((2, 3), "float32")
    mask = np.array([[1.0, 0.0, 1.0]], "float32")
    np.testing.assert_array_equal(TakesMask()(x, mask=mask).numpy(), np.ones((2, 1)) * mask)
    np.testing.assert_array_equal(NoMask()(x, mask=mask).numpy(), 2 * x)


def test_compile_without_a_loss_trains_on_add_loss() -> None:
    """compile(optimizer) alone: the cost is what the model adds (Keras's rule)."""

    class SelfSupervised(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, inputs: Any) -> Any:
            out = self.dense(inputs)
            self.add_loss(ops.mean(ops.square(out - inputs)))  # reconstruct the input
            return out

    gn.seed(9)
    x = np.random.default_rng(9).normal(size=(64, 3)).astype("float32")
    model = SelfSupervised()
    model.compile(keras.optimizers.Adam(0.05))
    history = model.fit(x, x, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    pred = model.predict(x)
    assert model.evaluate(x, x) == pytest.approx(np.mean((pred - x) ** 2), rel=1e-4)
    plain = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(3)])
    plain.compile("sgd")
    with pytest.raises(gn.errors.InvalidArgumentError, match="compiled without a loss"):
        plain.fit(x, x, verbose=0)
