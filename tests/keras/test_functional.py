"""The functional API: keras.Input, layer calls on symbolic tensors, keras.Model(inputs,
outputs) — its graph views, shared layers, nested models, several inputs and outputs in
compile/fit/evaluate/predict, gradients (gradcheck, PyTorch), and the errors for bad graphs."""

from __future__ import annotations

import re

import numpy as np
import pytest

import glassnet as gn
import glassnet.keras as keras
from glassnet.errors import InvalidArgumentError, ShapeError
from glassnet.keras import layers


def _rng(seed=0):
    return np.random.default_rng(seed)


# -- symbolic inputs -------------------------------------------------------------------------------
def test_input_is_symbolic_with_keras_shapes_and_dtypes():
    x = keras.Input(shape=(784,))
    assert x.shape == (None, 784) and x.dtype == "float32"
    seq = keras.Input(shape=(None,), dtype="int32", name="title")
    assert seq.shape == (None, None) and seq.dtype == np.int32 and seq.name == "title"
    batch = keras.Input(batch_shape=(8, 3, 2))
    assert batch.shape == (8, 3, 2)
    with pytest.raises(InvalidArgumentError, match="give shape .* or batch_shape"):
        keras.Input()
    with pytest.raises(ShapeError, match="positive ints or None"):
        keras.Input(shape=(0, 3))
    with pytest.raises(gn.errors.DTypeError, match="float or integer"):
        keras.Input(shape=(3,), dtype="complex64")


def test_layer_calls_infer_shapes():
    x = keras.Input(shape=(28, 28))
    flat = layers.Flatten()(x)
    assert flat.shape == (None, 784)
    h = layers.Dense(32, activation="relu")(flat)
    assert h.shape == (None, 32)
    assert layers.Dropout(0.5)(h).shape == (None, 32)
    seq = keras.Input(shape=(None, 6))
    assert layers.Dense(4)(seq).shape == (None, None, 4)  # Dense over the last axis


def test_a_layer_that_cannot_run_symbolically_says_so_plainly():
    x = keras.Input(shape=(None,))  # the feature count is unknown: Dense cannot build
    with pytest.raises(InvalidArgumentError) as info:
        layers.Dense(3)(x)
    message = str(info.value)
    assert "cannot be called on a symbolic input" in message
    assert re.search(r"'dense(_\d+)?'", message)  # Keras numbers names per session
    assert "dtype object" not in message


def test_sequential_still_takes_input_layers_and_keras_input():
    for first in (gn.layers.Input(shape=(4,)), keras.Input(shape=(4,))):
        model = gn.Sequential([first, layers.Dense(2)])
        assert model.input_shape == (4,)
        assert model.predict(np.ones((3, 4), dtype="float32")).shape == (3, 2)


# -- the model and its views ---------------------------------------------------------------------
def _mlp():
    inputs = keras.Input(shape=(6,), name="features")
    x = layers.Dense(5, activation="relu", name="hidden")(inputs)
    outputs = layers.Dense(3, activation="softmax", name="probs")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name="mlp"), inputs, outputs


def test_model_views():
    model, inputs, outputs = _mlp()
    assert isinstance(model, gn.training.Functional) and model.name == "mlp"
    assert model.input is inputs and model.output is outputs
    assert model.inputs == [inputs] and model.outputs == [outputs]
    assert [layer.name for layer in model.layers] == ["features", "hidden", "probs"]
    assert model.get_layer("hidden") is model.get_layer(index=1)
    assert model.get_layer("probs").output is outputs
    assert model.get_layer("hidden").input is inputs
    assert [n for n, _ in model.named_parameters()] == [
        "hidden.W",
        "hidden.b",
        "probs.W",
        "probs.b",
    ]
    assert len(model.weights) == 4 and model.count_params() == 6 * 5 + 5 + 5 * 3 + 3
    with pytest.raises(InvalidArgumentError, match="no layer named 'nope'"):
        model.get_layer("nope")
    with pytest.raises(InvalidArgumentError, match="out of range"):
        model.get_layer(index=7)
    printed: list[str] = []
    assert model.summary(print_fn=printed.append) is None  # Keras returns None
    text = "\n".join(printed)
    assert "Connected to" in text and "hidden[0][0]" in text and "(None, 3)" in text


def test_model_computes_what_its_layers_compute():
    model, _, _ = _mlp()
    x = _rng().normal(size=(4, 6)).astype("float32")
    hidden, probs = model.get_layer("hidden"), model.get_layer("probs")
    np.testing.assert_allclose(model.predict(x), probs(hidden(x)).data, rtol=1e-6)
    np.testing.assert_allclose(model(x).data, model.predict(x), rtol=1e-6)


def test_default_names_are_made_unique_and_chosen_ones_must_be():
    x = keras.Input(shape=(3,))
    model = keras.Model(x, layers.Dense(2)(layers.Dense(4)(x)))
    assert [layer.name for layer in model.layers] == ["input", "dense", "dense_1"]
    y = keras.Input(shape=(3,))
    clash = layers.Dense(2, name="same")(layers.Dense(4, name="same")(y))
    with pytest.raises(InvalidArgumentError, match="'same' is used by two different layers"):
        keras.Model(y, clash)


def test_bad_graphs_fail_with_a_sentence():
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(3,), name="b")
    both = layers.add([layers.Dense(2)(a), layers.Dense(2)(b)])
    with pytest.raises(
        InvalidArgumentError, match="disconnected.*'b'.*not among the model's inputs"
    ):
        keras.Model(inputs=a, outputs=both)
    unused = keras.Input(shape=(3,), name="unused")
    with pytest.raises(InvalidArgumentError, match=r"inputs\[1\] \('unused'\) is not connected"):
        keras.Model(inputs=[a, unused], outputs=layers.Dense(1)(a))
    with pytest.raises(InvalidArgumentError, match="outputs.* must be a symbolic tensor"):
        keras.Model(inputs=a, outputs=np.zeros((1, 3)))
    hidden = layers.Dense(2)(a)
    with pytest.raises(InvalidArgumentError, match=r"inputs\[0\] must come from keras.Input"):
        keras.Model(inputs=hidden, outputs=layers.Dense(1)(hidden))
    with pytest.raises(InvalidArgumentError, match="given twice"):
        keras.Model(inputs=[a, a], outputs=layers.Dense(1)(a))


# -- gradients ------------------------------------------------------------------------------------
def _two_input_model(dtype="float64"):
    gn.seed(4)
    a = keras.Input(shape=(4,), name="a")
    b = keras.Input(shape=(3,), name="b")
    ha = layers.Dense(5, activation="tanh", dtype=dtype, name="da")(a)
    hb = layers.Dense(5, activation="sigmoid", dtype=dtype, name="db")(b)
    joined = layers.concatenate([ha, hb, a])
    mixed = layers.Dense(5, activation="elu", dtype=dtype, name="mix")(joined)
    skip = layers.add([mixed, ha])
    out1 = layers.Dense(2, dtype=dtype, name="out1")(skip)
    out2 = layers.Dense(1, activation="sigmoid", dtype=dtype, name="out2")(
        layers.multiply([ha, hb])
    )
    return keras.Model(inputs=[a, b], outputs=[out1, out2])


def test_multi_input_model_gradcheck_inputs():
    model = _two_input_model()
    rng = _rng(1)
    xa, xb = rng.normal(size=(3, 4)), rng.normal(size=(3, 3))
    c1, c2 = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))

    def cost(a, b):
        o1, o2 = model([a, b])
        return (o1 * gn.tensor(c1, dtype="float64")).sum() + (
            o2 * gn.tensor(c2, dtype="float64")
        ).sum()

    xs = [gn.tensor(v, dtype="float64", requires_grad=True) for v in (xa, xb)]
    report = gn.gradcheck(cost, xs)
    assert report.ok, str(report)


def test_multi_input_model_parameter_gradients_match_central_differences():
    model = _two_input_model()
    rng = _rng(2)
    xa, xb = rng.normal(size=(3, 4)), rng.normal(size=(3, 3))
    c1, c2 = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))

    def cost():
        o1, o2 = model([xa, xb])
        return float((o1.data * c1).sum() + (o2.data * c2).sum())

    o1, o2 = model([xa, xb])
    (
        (o1 * gn.tensor(c1, dtype="float64")).sum() + (o2 * gn.tensor(c2, dtype="float64")).sum()
    ).backward()
    for name, p in model.named_parameters():
        numeric = np.empty_like(p.data)
        for idx in np.ndindex(p.data.shape):
            old = p.data[idx]
            p.data[idx] = old + 1e-6
            up = cost()
            p.data[idx] = old - 1e-6
            down = cost()
            p.data[idx] = old
            numeric[idx] = (up - down) / 2e-6
        np.testing.assert_allclose(p.grad, numeric, rtol=1e-5, atol=1e-7, err_msg=name)


def test_small_dag_equals_torch_values_and_gradients():
    torch = pytest.importorskip("torch")
    model = _two_input_model()
    rng = _rng(3)
    xa, xb = rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    P = {
        name: torch.tensor(p.data.copy(), requires_grad=True)
        for name, p in model.named_parameters()
    }

    def lin(name, x):
        return x @ P[f"{name}.W"].T + P[f"{name}.b"]

    ta, tb = torch.tensor(xa), torch.tensor(xb)
    ha, hb = torch.tanh(lin("da", ta)), torch.sigmoid(lin("db", tb))
    mixed = torch.nn.functional.elu(lin("mix", torch.cat([ha, hb, ta], dim=1)))
    t1 = lin("out1", mixed + ha)
    t2 = torch.sigmoid(lin("out2", ha * hb))
    o1, o2 = model([xa, xb])
    np.testing.assert_allclose(o1.data, t1.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(o2.data, t2.detach().numpy(), rtol=1e-10, atol=1e-12)
    ((o1 * o1).sum() + o2.sum()).backward()
    ((t1 * t1).sum() + t2.sum()).backward()
    for name, p in model.named_parameters():
        np.testing.assert_allclose(
            p.grad, P[name].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name
        )


# -- shared layers and nested models -------------------------------------------------------------
def test_shared_layer_shares_weights_and_sums_gradients():
    torch = pytest.importorskip("torch")
    gn.seed(0)
    a = keras.Input(shape=(4,), name="a")
    b = keras.Input(shape=(4,), name="b")
    shared = layers.Dense(3, activation="tanh", dtype="float64", name="shared")
    merged = layers.subtract([shared(a), shared(b)])
    model = keras.Model([a, b], layers.Dense(1, dtype="float64", name="head")(merged))
    assert [n for n, _ in model.named_parameters()] == ["shared.W", "shared.b", "head.W", "head.b"]
    printed: list[str] = []
    model.summary(print_fn=printed.append)
    assert "shared[1][0]" in printed[0]
    rng = _rng(5)
    xa, xb = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    out = model([xa, xb])
    (out * out).sum().backward()
    W, bias = (
        torch.tensor(model.get_layer("shared").W.data.copy(), requires_grad=True),
        torch.tensor(model.get_layer("shared").b.data.copy(), requires_grad=True),
    )
    head = model.get_layer("head")
    hw, hb = torch.tensor(head.W.data.copy()), torch.tensor(head.b.data.copy())
    diff = torch.tanh(torch.tensor(xa) @ W.T + bias) - torch.tanh(torch.tensor(xb) @ W.T + bias)
    t = diff @ hw.T + hb
    (t * t).sum().backward()
    np.testing.assert_allclose(out.data, t.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(model.get_layer("shared").W.grad, W.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(model.get_layer("shared").b.grad, bias.grad.numpy(), rtol=1e-9)


def _autoencoder():
    gn.seed(2)
    encoder_input = keras.Input(shape=(8,), name="original")
    code = layers.Dense(3, activation="relu")(layers.Dense(6, activation="relu")(encoder_input))
    encoder = keras.Model(encoder_input, code, name="encoder")
    decoder_input = keras.Input(shape=(3,), name="encoded")
    decoded = layers.Dense(8, activation="sigmoid")(
        layers.Dense(6, activation="relu")(decoder_input)
    )
    decoder = keras.Model(decoder_input, decoded, name="decoder")
    autoencoder_input = keras.Input(shape=(8,), name="img")
    encoded = encoder(autoencoder_input)
    assert encoded.shape == (None, 3)
    autoencoder = keras.Model(autoencoder_input, decoder(encoded), name="autoencoder")
    return autoencoder, encoder, decoder


def test_nested_models_run_their_own_graphs_and_train():
    autoencoder, encoder, decoder = _autoencoder()
    assert [layer.name for layer in autoencoder.layers] == ["img", "encoder", "decoder"]
    names = [n for n, _ in autoencoder.named_parameters()]
    assert names[0] == "encoder.dense.W" and names[-1] == "decoder.dense_1.b" and len(names) == 8
    x = _rng(6).uniform(size=(64, 8)).astype("float32")
    np.testing.assert_allclose(
        autoencoder.predict(x), decoder.predict(encoder.predict(x)), rtol=1e-6
    )
    autoencoder.compile(optimizer="adam", loss="mse")
    before = autoencoder.evaluate(x, x)
    autoencoder.fit(x, x, epochs=30, batch_size=16, verbose=0)
    assert autoencoder.evaluate(x, x) < before
    # the encoder trained with it: the same weights
    np.testing.assert_allclose(
        autoencoder.predict(x), decoder.predict(encoder.predict(x)), rtol=1e-5
    )


def test_sequential_nested_in_a_functional_model():
    gn.seed(1)
    block = gn.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)], name="block")
    x = keras.Input(shape=(3,))
    model = keras.Model(x, layers.Dense(1)(block(x)))
    data = _rng(1).normal(size=(5, 3)).astype("float32")
    expected = model.get_layer("dense")(block(data)).data
    np.testing.assert_allclose(model.predict(data), expected, rtol=1e-6)


# -- training: frozen layers, several inputs and outputs ----------------------------------------
def test_trainable_false_is_honoured():
    model, _, _ = _mlp()
    hidden = model.get_layer("hidden")
    hidden.trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    frozen = hidden.W.data.copy()
    head = model.get_layer("probs").W.data.copy()
    x = _rng(7).normal(size=(40, 6)).astype("float32")
    y = _rng(8).integers(0, 3, size=40)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(hidden.W.data, frozen)
    assert not np.array_equal(model.get_layer("probs").W.data, head)
    model.trainable = False
    assert model.trainable_weights == []


def _multi_io_data(n=96, seed=0):
    rng = _rng(seed)
    xa = rng.normal(size=(n, 4)).astype("float32")
    xb = rng.normal(size=(n, 3)).astype("float32")
    y1 = rng.normal(size=(n, 2)).astype("float32")
    y2 = (rng.uniform(size=(n, 1)) > 0.5).astype("float32")
    return xa, xb, y1, y2


def test_loss_weights_combine_the_per_output_losses():
    model = _two_input_model("float32")
    xa, xb, y1, y2 = _multi_io_data()
    model.compile(optimizer="sgd", loss=["mse", "binary_crossentropy"], loss_weights=[0.5, 2.0])
    result = model.evaluate([xa, xb], [y1, y2], return_dict=True)
    o1, o2 = model.predict([xa, xb])
    mse = float(np.mean((o1 - y1) ** 2))
    p = np.clip(o2.astype(np.float64), 1e-7, 1 - 1e-7)
    bce = float(np.mean(-(y2 * np.log(p) + (1 - y2) * np.log(1 - p))))
    assert set(result) == {"loss", "out1_loss", "out2_loss"}
    np.testing.assert_allclose(result["out1_loss"], mse, rtol=1e-5)
    np.testing.assert_allclose(result["out2_loss"], bce, rtol=1e-4)
    np.testing.assert_allclose(result["loss"], 0.5 * mse + 2.0 * bce, rtol=1e-4)


def test_compile_forms_and_history_keys():
    xa, xb, y1, y2 = _multi_io_data()
    model = _two_input_model("float32")
    model.compile(
        optimizer="adam",
        loss={"out1": "mse", "out2": "binary_crossentropy"},
        metrics={"out2": ["accuracy"], "out1": ["mae"]},
    )
    history = model.fit(
        {"a": xa, "b": xb},
        {"out1": y1, "out2": y2},
        epochs=2,
        batch_size=32,
        verbose=0,
        validation_data=([xa[:20], xb[:20]], [y1[:20], y2[:20]]),
    )
    assert set(history.history) == {
        "loss",
        "out1_loss",
        "out2_loss",
        "out1_mae",
        "out2_accuracy",
        "val_loss",
        "val_out1_loss",
        "val_out2_loss",
        "val_out1_mae",
        "val_out2_accuracy",
    }
    assert len(history.history["out2_accuracy"]) == 2
    single = _two_input_model("float32")
    single.compile(optimizer="adam", loss="mse")  # one loss for every output
    assert set(single.evaluate([xa, xb], [y1, y2], return_dict=True)) == {
        "loss",
        "out1_loss",
        "out2_loss",
    }
    with pytest.raises(InvalidArgumentError, match="one entry per output"):
        single.compile(optimizer="adam", loss=["mse"])
    with pytest.raises(InvalidArgumentError, match=r"names \['nope'\], which are not outputs"):
        single.compile(optimizer="adam", loss={"nope": "mse"})
    with pytest.raises(InvalidArgumentError, match="the model has 2 inputs"):
        model.fit(xa, [y1, y2], verbose=0)
    with pytest.raises(InvalidArgumentError, match="missing"):
        model.fit({"a": xa}, [y1, y2], verbose=0)
    with pytest.raises(ShapeError, match="same number of samples"):
        model.fit([xa, xb[:50]], [y1, y2], verbose=0)


def test_an_output_without_loss_is_predicted_not_trained():
    xa, xb, y1, _ = _multi_io_data()
    model = _two_input_model("float32")
    out2_before = model.get_layer("out2").W.data.copy()
    model.compile(optimizer="adam", loss={"out1": "mse"})
    model.fit([xa, xb], {"out1": y1}, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.get_layer("out2").W.data, out2_before)
    assert [o.shape for o in model.predict([xa, xb])] == [(96, 2), (96, 1)]


def test_a_graph_takes_the_graph_path():
    model = _two_input_model("float32")
    model.compile(optimizer="sgd", loss="mse")
    assert model.chain_layers() is None
    assert model.fit_path() == ("graph", "the model has several inputs or outputs")
    x = keras.Input(shape=(3,))
    h = layers.Dense(3)(x)
    residual = keras.Model(x, layers.Dense(2)(layers.add([h, x])))
    residual.compile(optimizer="sgd", loss="mse")
    assert residual.chain_layers() is None and residual.fit_path()[0] == "graph"


def test_single_chain_functional_trains_like_the_sequential():
    gn.seed(3)
    seq = keras.Sequential(  # keras namespace: get/set_weights in Keras's layout on both sides
        [layers.Dense(8, activation="relu", input_dim=5), layers.Dense(3, activation="softmax")]
    )
    x = keras.Input(shape=(5,))
    h = layers.Dense(8, activation="relu")(x)
    func = keras.Model(x, layers.Dense(3, activation="softmax")(h))
    func.set_weights(seq.get_weights())
    data = _rng(9).normal(size=(64, 5)).astype("float32")
    labels = _rng(10).integers(0, 3, size=64)
    for model in (seq, func):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert func.chain_layers() == func.layers[1:]
    assert func.fit_path()[0] == "fast"  # a plain chain: the Sequential's fast step
    h1 = seq.fit(data, labels, epochs=3, batch_size=16, shuffle=False, verbose=0)
    h2 = func.fit(data, labels, epochs=3, batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(func.predict(data), seq.predict(data), rtol=1e-4, atol=1e-6)


# -- the rest of the library treats a functional model like a Sequential --------------------------
def test_explain_traces_a_functional_chain_as_the_sequential():
    gn.seed(0)
    seq = keras.Sequential(
        [layers.Dense(3, activation="sigmoid", input_dim=2), layers.Dense(2, activation="sigmoid")]
    )
    x = keras.Input(shape=(2,))
    h = layers.Dense(3, activation="sigmoid")(x)
    func = keras.Model(x, layers.Dense(2, activation="sigmoid")(h))
    func.set_weights(seq.get_weights())
    sample, target = np.array([[0.5, -0.2]]), np.array([[1.0, 0.0]])
    t_seq = gn.explain.backprop(seq, sample, target, loss="mse")
    t_func = gn.explain.backprop(func, sample, target, loss="mse")
    assert t_func.ok and t_func.cost == pytest.approx(t_seq.cost, rel=1e-12)
    for a, b in zip(t_func.layers, t_seq.layers):
        np.testing.assert_allclose(a.grad_W, b.grad_W, rtol=1e-12)


def test_gradcheck_model_on_a_dag_with_a_shared_layer():
    gn.seed(0)
    x = keras.Input(shape=(4,))
    h = layers.Dense(4, activation="tanh")(x)
    shared = layers.Dense(4, activation="relu")
    total = layers.add([shared(h), shared(x), h])
    model = keras.Model(x, layers.Dense(3, activation="softmax")(total))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    data = _rng(0).normal(size=(5, 4))
    report = gn.explain.gradcheck_model(model, data, np.array([0, 1, 2, 1, 0]))
    assert report.ok, str(report)
    with pytest.raises(gn.errors.NotTraceableError, match="not traceable yet"):
        gn.explain.backprop(model, data, np.array([0, 1, 2, 1, 0]))


@pytest.mark.parametrize("seed", range(6))
def test_functional_chain_fast_step_equals_its_graph(seed):
    """A random chain (depth, activations, dropout, loss, frozen layer) trained by the fast step
    and by the autograd graph from the same start gives the same losses and weights."""
    rng = _rng(100 + seed)
    sizes = [int(n) for n in rng.integers(3, 8, size=int(rng.integers(1, 4)))]
    activations = ["relu", "tanh", "sigmoid", "elu", "linear"]
    kind = ["softmax", "logits", "mse"][seed % 3]
    data = _rng(seed).normal(size=(48, 6)).astype("float32")
    y = _rng(seed + 1).integers(0, 3, size=48)
    target = y if kind != "mse" else np.eye(3, dtype="float32")[y]
    results = []
    for fused in ("auto", False):
        gn.seed(seed)
        x = keras.Input(shape=(6,))
        h = x
        for i, units in enumerate(sizes):
            h = layers.Dense(units, activation=activations[(seed + i) % 5])(h)
            if i == 0 and seed % 2:
                h = layers.Dropout(0.3)(h)
        out = layers.Dense(3, activation="softmax" if kind == "softmax" else None)(h)
        model = keras.Model(x, out)
        if seed % 3 == 2 and len(sizes) > 1:
            model.layers[1].trainable = False
        loss = {
            "softmax": "sparse_categorical_crossentropy",
            "mse": "mse",
            "logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        }[kind]
        model.compile(optimizer="adam", loss=loss, fused=fused)
        assert model.fit_path()[0] == ("fast" if fused == "auto" else "graph")
        history = model.fit(data, target, epochs=2, batch_size=16, verbose=0)
        results.append((history.history["loss"], model.get_weights()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_sequential_feature_extraction_through_its_symbolic_view():
    """The Sequential guide's feature extractor: keras.Model(model.inputs, [l.output ...])."""
    gn.seed(0)
    initial = keras.Sequential(
        [keras.Input(shape=(10,)), layers.Dense(8, activation="relu"), layers.Dense(4)]
    )
    extractor = keras.Model(
        inputs=initial.inputs, outputs=[layer.output for layer in initial.layers]
    )
    x = _rng(0).normal(size=(3, 10)).astype("float32")
    first, second = extractor(x)
    np.testing.assert_allclose(first.data, initial.layers[0](x).data, rtol=1e-6)
    np.testing.assert_allclose(second.data, initial.predict(x), rtol=1e-6)
    only = keras.Model(initial.input, initial.get_layer(name="dense").output)
    assert only.output.shape == (None, 8)
    assert initial.get_layer(index=-1) is initial.layers[-1]
    with pytest.raises(InvalidArgumentError, match="has no input yet"):
        _ = keras.Sequential([layers.Dense(2)]).outputs


def test_a_layer_called_with_several_positional_symbolic_arguments():
    class Gate(gn.layers.Layer):  # a = x ⊙ σ(g): its own forward, two positional inputs
        def forward(self, x, g):
            return x * gn.functional.sigmoid(g)

    x = keras.Input(shape=(3,), name="x")
    g = keras.Input(shape=(3,), name="g")
    gated = Gate(name="gate")(layers.Dense(3)(x), g)
    assert gated.shape == (None, 3) and gated.node.structure == "args"
    model = keras.Model([x, g], gated)
    xs, gs = _rng(1).normal(size=(4, 3)), _rng(2).normal(size=(4, 3))
    dense = model.get_layer("dense")
    expected = dense(xs.astype("float32")).data / (1 + np.exp(-gs))
    np.testing.assert_allclose(model.predict([xs, gs]), expected, rtol=1e-5)
    config = model.get_config()
    assert config["layers"][-1]["class_name"] == "Gate"
    assert config["nodes"][-1]["structure"] == "args"
    clone = keras.Model.from_config(config, custom_objects={"Gate": Gate})
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict([xs, gs]), model.predict([xs, gs]))


class _ActivityPenalty(gn.layers.Layer):
    """Passes x through and adds rate · Σ x² to the cost (the guides' activity regularizer)."""

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def forward(self, x):
        self.add_loss((x * x).sum() * self.rate)
        return x


def test_add_loss_terms_join_the_cost_and_are_cleared_each_pass():
    gn.seed(0)
    inputs = keras.Input(shape=(4,))
    hidden = layers.Dense(3, activation="tanh", dtype="float64")(inputs)
    penalty = _ActivityPenalty(0.1, name="penalty")
    model = keras.Model(inputs, layers.Dense(1, dtype="float64")(penalty(hidden)))
    x = _rng(0).normal(size=(8, 4))
    y = _rng(1).normal(size=(8, 1))
    model.compile(optimizer="sgd", loss="mse")
    model(x)
    model(x)
    assert len(model.losses) == 1  # one term per pass, not one per call ever made
    h = model.get_layer("dense")(x).data
    expected_penalty = 0.1 * float((h * h).sum())
    assert float(model.losses[0].data) == pytest.approx(expected_penalty, rel=1e-12)
    mse = float(np.mean((model.predict(x) - y) ** 2))
    assert model.evaluate(x, y, batch_size=8) == pytest.approx(mse + expected_penalty, rel=1e-10)
    # the gradient is that of the whole cost
    cost, _ = model.forward_loss(gn.tensor(x, dtype="float64"), y)
    cost.backward()
    W = model.get_layer("dense").W
    analytic = W.grad.copy()
    numeric = np.empty_like(W.data)
    for idx in np.ndindex(W.data.shape):
        old = W.data[idx]
        values = []
        for step in (1e-6, -1e-6):
            W.data[idx] = old + step
            values.append(model.evaluate(x, y, batch_size=8))
        W.data[idx] = old
        numeric[idx] = (values[0] - values[1]) / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)
    with pytest.raises(ShapeError, match="add_loss: expected a scalar"):
        penalty.add_loss(np.ones(3))


def test_add_loss_in_a_sequential_with_a_paired_output():
    gn.seed(1)
    model = gn.Sequential(
        [layers.Dense(4, input_dim=3), _ActivityPenalty(0.5), layers.Dense(3, activation="softmax")]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = _rng(2).normal(size=(6, 3)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2])
    before = model.evaluate(x, y)
    for _ in range(3):
        model.train_on_batch(x, y)  # paired softmax: forward_logits, cleared every step
    assert len(model.losses) == 1
    assert model.evaluate(x, y) < before


class _LogisticEndpoint(gn.layers.Layer):
    """The guide's endpoint layer: adds the loss of its logits against its targets input."""

    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def forward(self, targets, logits):
        self.add_loss(self.loss_fn(targets.data, logits))
        return gn.functional.sigmoid(logits)


def test_compile_without_a_loss_when_add_loss_supplies_it():
    gn.seed(0)
    inputs = keras.Input(shape=(3,), name="inputs")
    targets = keras.Input(shape=(10,), name="targets")
    logits = layers.Dense(10)(inputs)
    predictions = _LogisticEndpoint(name="predictions")(targets, logits)
    model = keras.Model(inputs=[inputs, targets], outputs=predictions)
    model.compile(optimizer="adam")  # no loss argument
    rng = _rng(3)
    data = {
        "inputs": rng.random((64, 3)).astype("float32"),
        "targets": (rng.random((64, 10)) > 0.5).astype("float32"),
    }
    history = model.fit(data, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    # the reported loss is the added term: the cross-entropy of the logits, by hand
    z = model.get_layer("dense")(data["inputs"]).data.astype(np.float64)
    t = data["targets"]
    by_hand = np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))
    assert model.evaluate(data, batch_size=64) == pytest.approx(by_hand, rel=1e-5)
    silent = keras.Model(inputs, layers.Dense(1)(inputs))
    silent.compile(optimizer="adam")
    with pytest.raises(InvalidArgumentError, match="without a loss and its layers added none"):
        silent.fit(data["inputs"], verbose=0)


def test_evaluate_of_a_float64_model_stays_float64():
    gn.seed(0)
    model = gn.Sequential([layers.Dense(2, input_dim=3, dtype="float64")])
    model.compile(optimizer="sgd", loss="mse")
    x = _rng(0).normal(size=(5, 3))
    y = _rng(1).normal(size=(5, 2)) * 1e3
    expected = np.mean((model.predict(x) - y) ** 2)
    assert model.evaluate(x, y) == pytest.approx(expected, rel=1e-13)


def test_options_a_several_output_model_does_not_take_are_refused():
    model = _two_input_model("float32")
    xa, xb, y1, y2 = _multi_io_data(8)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(InvalidArgumentError, match="foo is not supported yet"):
        model.evaluate([xa, xb], [y1, y2], foo=1)
    with pytest.raises(InvalidArgumentError, match="foo is not supported yet"):
        model.predict([xa, xb], foo=1)


def test_an_integer_input_stays_integer():
    ids = keras.Input(shape=(5,), dtype="int32", name="ids")
    scaled = layers.Dense(2)(ids)  # Dense takes the integer batch and computes in float
    model = keras.Model(ids, scaled)
    model.to("float64")
    assert model.get_layer("ids").dtype == np.int32 and model.dtype == np.float64
    batch = np.arange(10).reshape(2, 5)
    dense = model.get_layer("dense")
    np.testing.assert_allclose(model.predict(batch), batch @ dense.W.data.T + dense.b.data)


def test_one_input_model_takes_its_data_keyed_by_name_or_in_a_list():
    inputs = keras.Input(shape=(6,), name="digits")
    outputs = layers.Dense(3, activation="softmax", name="predictions")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = _rng(0).normal(size=(20, 6)).astype("float32")
    y = _rng(1).integers(0, 3, size=20)
    model.fit({"digits": x}, {"predictions": y}, epochs=1, verbose=0)
    plain = model.evaluate(x, y)
    assert model.evaluate({"digits": x}, {"predictions": y}) == plain
    assert model.evaluate([x], [y]) == plain
    np.testing.assert_array_equal(model.predict({"digits": x}), model.predict(x))
    with pytest.raises(InvalidArgumentError, match=r"x is keyed by \['digits'\]"):
        model.predict({"pixels": x})
    with pytest.raises(ShapeError, match=r"shape \(batch, 6\)"):
        model.predict(np.ones((2, 5), dtype="float32"))


def test_telemetry_names_nested_and_shared_layers_once_per_sample():
    gn.seed(2)
    encoder_input = keras.Input(shape=(8,))
    hidden = layers.Dense(6, activation="sigmoid")(encoder_input)
    encoder = keras.Model(encoder_input, layers.Dense(3, activation="relu")(hidden), name="encoder")
    decoder_input = keras.Input(shape=(3,))
    decoder = keras.Model(decoder_input, layers.Dense(8)(decoder_input), name="decoder")
    img = keras.Input(shape=(8,))
    shared = layers.Dense(8, activation="tanh", name="shared")
    model = keras.Model(img, layers.add([decoder(encoder(img)), shared(shared(img))]))
    x = _rng(0).normal(size=(64, 8)).astype("float32")
    model.compile(optimizer="adam", loss="mse")
    telemetry = model.fit(x, x, epochs=2, verbose=0, telemetry=2).telemetry
    assert set(telemetry.layers) == {"encoder.dense", "encoder.dense_1", "decoder.dense", "shared"}
    samples = len(telemetry.sample_steps)
    assert samples >= 2
    for name, stats in telemetry.layers.items():
        assert all(len(values) == samples for values in stats.values()), name


def test_operations_on_symbolic_tensors_and_a_symbolic_add_loss():
    """The subclassing guide's functional VAE, with the sampling noise left out: arithmetic
    and functions on symbolic tensors become nodes, and vae.add_loss(kl) joins the cost."""
    from glassnet.nn.symbolic import apply_symbolic

    F = gn.functional
    gn.seed(0)
    x_in = keras.Input(shape=(6,), name="x")
    h = layers.Dense(5, activation="relu")(x_in)
    z_mean = layers.Dense(2, name="z_mean")(h)
    z_log_var = layers.Dense(2, name="z_log_var")(h)
    z = z_mean + apply_symbolic(F.exp, "exp", z_log_var * 0.5)
    assert z.shape == (None, 2)
    vae = keras.Model(x_in, layers.Dense(6, name="decoded")(z), name="vae")
    inner = z_log_var - z_mean**2 - apply_symbolic(F.exp, "exp", z_log_var) + 1
    kl = -0.5 * apply_symbolic(F.mean, "mean", inner)
    assert kl.shape == ()
    vae.add_loss(kl)
    vae.compile(optimizer="adam", loss="mse")
    x = _rng(4).normal(size=(32, 6)).astype("float32")
    hidden = vae.get_layer("dense")(x).data
    mean, log_var = vae.get_layer("z_mean")(hidden).data, vae.get_layer("z_log_var")(hidden).data
    decoded = vae.get_layer("decoded")(mean + np.exp(0.5 * log_var)).data
    kl_by_hand = -0.5 * np.mean(log_var - mean**2 - np.exp(log_var) + 1)
    np.testing.assert_allclose(vae.predict(x), decoded, rtol=1e-5)
    total = vae.evaluate(x, x, batch_size=32)
    assert total == pytest.approx(np.mean((decoded - x) ** 2) + kl_by_hand, rel=1e-5)
    history = vae.fit(x, x, epochs=20, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert vae.fit_path()[0] == "graph"
    with pytest.raises(ShapeError, match="add_loss: expected a scalar"):
        vae.add_loss(z_mean)


def test_symbolic_arithmetic_gradcheck():
    gn.seed(1)
    a = keras.Input(shape=(4,))
    b = keras.Input(shape=(4,))
    d = layers.Dense(4, activation="tanh", dtype="float64")(a)
    model = keras.Model([a, b], (d - b) ** 2 / 2 + 3 * d[:, :1] - (-b) @ np.eye(4))
    xs = [gn.tensor(v, dtype="float64", requires_grad=True) for v in _rng(5).normal(size=(2, 3, 4))]
    report = gn.gradcheck(lambda p, q: model([p, q]).sum(), xs)
    assert report.ok, str(report)


def test_a_symbolic_tensor_used_as_numbers_says_what_it_is():
    x = keras.Input(shape=(3,))
    with pytest.raises(InvalidArgumentError, match="is symbolic .*holds no numbers"):
        np.asarray(x)
    with pytest.raises(gn.errors.GlassnetError, match="relu: .* is symbolic"):
        gn.functional.relu(x)


def test_lr_find_on_a_two_input_two_output_model():
    model = _two_input_model("float32")
    xa, xb, y1, y2 = _multi_io_data(64)
    model.compile(optimizer="sgd", loss=["mse", "binary_crossentropy"])
    before = model.get_weights()
    result = gn.diagnostics.lr_find(model, {"a": xa, "b": xb}, [y1, y2], steps=12, batch_size=16)
    assert len(result.losses) >= 2 and all(np.isfinite(result.losses[:2]))
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # lr_find leaves the model as it was


def test_a_model_subclass_built_from_inputs_and_outputs():
    class CustomModel(keras.Model):
        def describe(self):
            return f"{self.name}: {len(self.layers)} layers"

    class Net(keras.Model):  # an ordinary subclass: its own layers and forward
        def __init__(self, hidden=4):
            super().__init__()
            self.hidden = layers.Dense(hidden, input_dim=3)

        def forward(self, x):
            return self.hidden(x)

    inputs = keras.Input(shape=(3,))
    model = CustomModel(inputs, layers.Dense(1)(inputs), name="custom")
    assert isinstance(model, CustomModel) and isinstance(model, gn.training.Functional)
    assert model.describe() == "custom: 2 layers"
    model.compile(optimizer="sgd", loss="mse")
    x = _rng(0).normal(size=(16, 3)).astype("float32")
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    net = Net(8)
    assert type(net) is Net and net.hidden.units == 8
