"""Functional models in files: the guide's ticket-classification model (title, body and tags
in; priority and department out) trains, saves, loads and predicts the same numbers; so do a
shared-layer model and a nested autoencoder; get_config/from_config rebuilds the graph; a file
whose weights do not fit its graph is refused before anything is allocated."""

from __future__ import annotations

import json

import numpy as np
import pytest

import glassnet as gn
import glassnet.keras as keras
from glassnet.errors import FileFormatError
from glassnet.keras import layers

NUM_TAGS, NUM_WORDS, NUM_DEPARTMENTS = 12, 300, 4


def _ticket_model():
    """The Keras guide's model, with bag-of-words Dense features in place of Embedding+LSTM."""
    title_input = keras.Input(shape=(NUM_WORDS,), name="title")
    body_input = keras.Input(shape=(NUM_WORDS,), name="body")
    tags_input = keras.Input(shape=(NUM_TAGS,), name="tags")
    title_features = layers.Dense(16, activation="relu")(title_input)
    body_features = layers.Dense(8, activation="relu")(body_input)
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(NUM_DEPARTMENTS, name="department")(x)
    return keras.Model(
        inputs=[title_input, body_input, tags_input],
        outputs={"priority": priority_pred, "department": department_pred},
    )


def _ticket_data(n=320, seed=0):
    rng = np.random.default_rng(seed)
    title = rng.integers(2, size=(n, NUM_WORDS)).astype("float32")
    body = rng.integers(2, size=(n, NUM_WORDS)).astype("float32")
    tags = rng.integers(2, size=(n, NUM_TAGS)).astype("float32")
    # learnable targets: priority from the tags, department from the title's first words
    priority = (tags[:, :3].sum(axis=1, keepdims=True) >= 2).astype("float32")
    department = np.eye(NUM_DEPARTMENTS, dtype="float32")[
        (title[:, :2] @ np.array([1, 2])).astype(int)
    ]
    return {"title": title, "body": body, "tags": tags}, {
        "priority": priority,
        "department": department,
    }


def test_ticket_model_trains_saves_loads_and_predicts_the_same(tmp_path):
    gn.seed(0)
    model = _ticket_model()
    assert model.input_names == ["title", "body", "tags"]
    assert model.output_names == ["priority", "department"]
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss={
            "priority": keras.losses.BinaryCrossentropy(from_logits=True),
            "department": keras.losses.CategoricalCrossentropy(from_logits=True),
        },
        loss_weights={"priority": 1.0, "department": 0.2},
        metrics={"department": ["accuracy"]},
    )
    x, y = _ticket_data()
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0]
    assert set(history.history) == {
        "loss",
        "priority_loss",
        "department_loss",
        "department_accuracy",
    }
    # the weighted sum, epoch by epoch (running means over the same batches)
    np.testing.assert_allclose(
        losses,
        np.add(
            history.history["priority_loss"], 0.2 * np.asarray(history.history["department_loss"])
        ),
        rtol=1e-6,
    )
    before = model.predict(x)
    assert before["priority"].shape == (320, 1) and before["department"].shape == (320, 4)
    scores = model.evaluate(x, y, return_dict=True)

    path = tmp_path / "tickets.safetensors"
    model.save(path)
    loaded = gn.load_model(path)
    assert isinstance(loaded, gn.training.Functional)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    after = loaded.predict(x)
    for key in ("priority", "department"):
        np.testing.assert_array_equal(after[key], before[key])
    np.testing.assert_allclose(
        loaded.evaluate(x, y, return_dict=True)["loss"], scores["loss"], rtol=1e-12
    )
    # compiled again from the file: same losses, weights and metrics; training continues
    assert loaded.evaluate(x, y, return_dict=True) == pytest.approx(scores, rel=1e-12)
    loaded.fit(x, y, epochs=1, batch_size=32, verbose=0)
    # the list form of the data is accepted too
    np.testing.assert_array_equal(
        loaded.predict([x["title"], x["body"], x["tags"]])["priority"],
        loaded.predict(x)["priority"],
    )


def _shared_model():
    a = keras.Input(shape=(5,), name="left")
    b = keras.Input(shape=(5,), name="right")
    shared = layers.Dense(4, activation="tanh", name="shared")
    distance = layers.Dot(axes=1, normalize=True)([shared(a), shared(b)])
    return keras.Model([a, b], layers.Dense(1, activation="sigmoid", name="same")(distance))


def test_shared_layer_model_trains_saves_and_loads(tmp_path):
    gn.seed(1)
    model = _shared_model()
    rng = np.random.default_rng(2)
    left = rng.normal(size=(128, 5)).astype("float32")
    right = np.where(rng.uniform(size=(128, 1)) < 0.5, left + 0.1, rng.normal(size=(128, 5)))
    right = right.astype("float32")
    target = (np.abs(right - left).max(axis=1, keepdims=True) < 0.2).astype("float32")
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit([left, right], target, epochs=10, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = tmp_path / "shared.safetensors"
    model.save(path)
    loaded = gn.load_model(path)
    assert [n for n, _ in loaded.named_parameters()] == ["shared.W", "shared.b", "same.W", "same.b"]
    np.testing.assert_array_equal(loaded.predict([left, right]), model.predict([left, right]))
    node_layers = [n["layer"] for n in loaded.get_config()["nodes"]]
    assert node_layers.count("shared") == 2


def test_nested_autoencoder_saves_and_loads(tmp_path):
    gn.seed(2)
    encoder_input = keras.Input(shape=(8,), name="original")
    encoder = keras.Model(
        encoder_input, layers.Dense(3, activation="relu")(encoder_input), name="encoder"
    )
    decoder_input = keras.Input(shape=(3,), name="encoded")
    decoder = keras.Model(decoder_input, layers.Dense(8)(decoder_input), name="decoder")
    img = keras.Input(shape=(8,), name="img")
    autoencoder = keras.Model(img, decoder(encoder(img)), name="autoencoder")
    x = np.random.default_rng(3).normal(size=(64, 8)).astype("float32")
    autoencoder.compile(optimizer="adam", loss="mse")
    autoencoder.fit(x, x, epochs=3, verbose=0)
    path = tmp_path / "autoencoder.safetensors"
    autoencoder.save(path)
    loaded = gn.load_model(path)
    assert [layer.name for layer in loaded.layers] == ["img", "encoder", "decoder"]
    assert isinstance(loaded.get_layer("encoder"), gn.training.Functional)
    np.testing.assert_array_equal(loaded.predict(x), autoencoder.predict(x))
    np.testing.assert_array_equal(loaded.get_layer("encoder").predict(x), encoder.predict(x))


def test_get_config_from_config_rebuilds_the_graph():
    gn.seed(4)
    model = _ticket_model()
    config = model.get_config()
    json.dumps(config)  # JSON-friendly
    clone = keras.Model.from_config(config)  # Keras's layout, as the model's get_weights
    assert clone.get_config() == config
    clone.set_weights(model.get_weights())
    x, _ = _ticket_data(n=10)
    np.testing.assert_array_equal(clone.predict(x)["department"], model.predict(x)["department"])


def test_a_file_whose_weights_do_not_fit_the_graph_is_refused(tmp_path):
    gn.seed(5)
    model = _shared_model()
    path = tmp_path / "model.safetensors"
    model.save(path)
    from glassnet.io._container import read_container, write_container

    tensors, metadata = read_container(path, "test")
    arch = json.loads(metadata["architecture"])
    arch["config"]["layers"][2]["config"]["units"] = 40000  # 'shared' asks for a huge W
    metadata["architecture"] = json.dumps(arch)
    bad = tmp_path / "bad.safetensors"
    write_container(bad, tensors, metadata, "test")
    with pytest.raises(FileFormatError, match=r"shared.W \(expected \(40000, 5\), file \(4, 5\)\)"):
        gn.load_model(bad)
    arch["config"]["nodes"][0]["inputs"] = [["nowhere", 0, 0]]
    metadata["architecture"] = json.dumps(arch)
    write_container(bad, tensors, metadata, "test")
    with pytest.raises(FileFormatError, match="invalid functional architecture"):
        gn.load_model(bad)


def test_a_several_output_run_resumes_bit_for_bit(tmp_path):
    def make():
        gn.seed(0)
        a = keras.Input(shape=(4,), name="a")
        b = keras.Input(shape=(3,), name="b")
        h = layers.concatenate([layers.Dense(5, activation="relu")(a), b])
        model = keras.Model(
            [a, b],
            {
                "o1": layers.Dense(2, name="o1")(h),
                "o2": layers.Dense(1, activation="sigmoid", name="o2")(h),
            },
        )
        model.compile(
            optimizer="adam",
            loss={"o1": "mse", "o2": "binary_crossentropy"},
            metrics={"o2": ["accuracy"]},
        )
        return model

    rng = np.random.default_rng(0)
    x = [rng.normal(size=(64, 4)).astype("float32"), rng.normal(size=(64, 3)).astype("float32")]
    y = {
        "o1": rng.normal(size=(64, 2)).astype("float32"),
        "o2": (rng.uniform(size=(64, 1)) > 0.5).astype("float32"),
    }
    full = make()
    expected = full.fit(x, y, epochs=4, batch_size=16, verbose=0).history
    checkpoint = tmp_path / "run.ckpt"
    make().fit(x, y, epochs=2, batch_size=16, verbose=0, checkpoint=checkpoint)
    resumed = make()
    history = resumed.fit(x, y, epochs=4, batch_size=16, verbose=0, resume=checkpoint).history
    assert history == expected
    for a, b in zip(resumed.get_weights(), full.get_weights()):
        np.testing.assert_array_equal(a, b)


class _Scale(gn.layers.Layer):
    """An unregistered layer with its own forward and config (a custom object)."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def forward(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_keras_model_from_config_with_custom_objects(tmp_path):
    gn.seed(6)
    inputs = keras.Input(shape=(4,), name="x")
    outputs = layers.Dense(2, name="out")(_Scale(3.0, name="scale")(inputs))
    model = keras.Model(inputs, outputs)
    config = model.get_config()
    assert config["layers"][1]["class_name"] == "_Scale"
    with pytest.raises(FileFormatError, match="unknown class '_Scale'"):
        keras.Model.from_config(config)
    clone = keras.Model.from_config(config, custom_objects={"_Scale": _Scale})
    assert clone.get_layer("scale").factor == 3.0
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    with pytest.raises(gn.errors.InvalidArgumentError, match="'scale' is a _Scale, which"):
        model.save(tmp_path / "custom.safetensors")  # load_model could not rebuild it


def test_sequential_from_config_rebuilds_it():
    gn.seed(7)
    seq = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4, activation="relu")])
    clone = keras.Sequential.from_config(seq.get_config())
    assert type(clone) is type(seq) and clone.get_config() == seq.get_config()


def test_a_sequential_whose_input_has_an_unknown_size_saves_and_loads(tmp_path):
    gn.seed(8)
    model = keras.Sequential([keras.Input(shape=(None, 4)), layers.Dense(2, activation="tanh")])
    x = np.random.default_rng(1).normal(size=(2, 3, 4)).astype("float32")
    model.save(tmp_path / "seq.safetensors")
    loaded = gn.load_model(tmp_path / "seq.safetensors")
    assert loaded.input_shape == (None, 4)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    longer = np.ones((1, 7, 4), dtype="float32")  # any length
    np.testing.assert_array_equal(loaded.predict(longer), model.predict(longer))
