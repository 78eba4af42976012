"""The fast step, predict and the compiled window kernels agree with the autograd graph on random
CONVOLUTIONAL configurations (the companion of test_differential.py's Dense configurations).

Each configuration is drawn from a seeded generator: a stack of one to five layers from
Conv1D/Conv2D/Conv2DTranspose (random filters, odd and even kernel sizes, strides, "valid" and
"same", dilation, activation, use_bias), max and average pooling, BatchNormalization,
LayerNormalization, ZeroPadding2D, UpSampling2D, Dropout and a Reshape from images to sequences,
on odd input sizes in channels_last or channels_first; then a head (Flatten or a global
pooling, an optional hidden Dense, the output Dense) with a random loss, from probabilities or
from logits, a random optimiser, float32 or float64, and sometimes a frozen layer. A layer whose
window does not fit the shape reached so far is not drawn. Every configuration is

* fitted for a few steps through fit's fast step and through the graph (``fused=False``): the
  losses and every weight (trained parameters and BatchNormalization's moving statistics) agree;
* run through predict (the layers' kernels on arrays) and through ``model(x)`` with the graph
  recording, in inference mode: the outputs agree;
* fitted again and predicted with the compiled kernels switched off (GLASSNET_NO_NUMBA's NumPy
  ops): the compiled sliding-window loops give the same numbers.

Tolerances come from tests/_tolerance.py: a few ulps times the longest reduction of the model
(a convolution's kernel·channels, a Dense layer's inputs, a normalisation's features), times a
factor for the steps that compound it.
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from _tolerance import rtol
from glassnet import layers as L
from glassnet import optimizers as O
from glassnet.errors import GlassnetError
from glassnet.nn.layers import conv
from glassnet.optim import accelerated
from glassnet.training import split

ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid", "elu", "gelu"]
# (loss, output activation from probabilities, kind of targets)
LOSSES = [
    ("mse", "linear", "real"),
    ("mae", "tanh", "real"),
    ("binary_crossentropy", "sigmoid", "binary"),
    ("categorical_crossentropy", "softmax", "onehot"),
    ("sparse_categorical_crossentropy", "softmax", "sparse"),
]
LOGIT_LOSSES = {
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
}
OPTIMIZERS = [
    lambda: O.SGD(learning_rate=0.05),
    lambda: O.SGD(learning_rate=0.02, momentum=0.9, nesterov=True),
    lambda: O.RMSprop(learning_rate=0.005),
    lambda: O.Adam(learning_rate=0.01),
    lambda: O.AdamW(learning_rate=0.01, weight_decay=0.01),
]
N_CONFIGS = 40
SAMPLES, BATCH = 12, 4  # three steps per epoch, two epochs
STEP_FACTOR = 30  # errors of a few ulps, compounded over six steps and a few layers


def _conv(rng, rank: int, fmt: str, dt: str) -> L.Layer:
    kernel = tuple(int(k) for k in rng.integers(1, 4, size=rank))
    strides = tuple(int(s) for s in rng.integers(1, 3, size=rank))
    dilated = rng.integers(3) == 0 and max(strides) == 1
    dilation = tuple(int(d) for d in rng.integers(1, 3, size=rank)) if dilated else 1
    kinds = ["conv"] if rank == 1 else ["conv", "conv", "transpose"]
    kind = str(rng.choice(kinds))
    args = {
        "filters": int(rng.integers(1, 5)),
        "kernel_size": kernel,
        "strides": strides,
        "padding": str(rng.choice(["valid", "same"])),
        "activation": str(rng.choice(ACTIVATIONS)),
        "use_bias": bool(rng.integers(4) != 0),
        "data_format": fmt,
        "dtype": dt,
    }
    if kind == "transpose":
        # dilation with strides is not supported by Keras's Conv2DTranspose either
        return L.Conv2DTranspose(**args, dilation_rate=dilation if max(strides) == 1 else 1)
    cls = L.Conv1D if rank == 1 else L.Conv2D
    return cls(**args, dilation_rate=dilation)


def _candidate(rng, rank: int, fmt: str, dt: str) -> L.Layer:
    """One layer of the body, drawn for inputs of ``rank`` spatial axes."""
    kinds = ["conv"] * 3 + ["pool"] * 2 + ["batchnorm", "layernorm", "dropout"]
    if rank == 2:
        kinds += ["zeropad", "upsample", "to_sequence"]
    kind = str(rng.choice(kinds))
    if kind == "conv":
        return _conv(rng, rank, fmt, dt)
    if kind == "pool":
        mode = "Max" if rng.integers(2) else "Average"
        cls = getattr(L, f"{mode}Pooling{rank}D")
        size = tuple(int(k) for k in rng.integers(1, 4, size=rank))
        strides = None if rng.integers(2) else tuple(int(s) for s in rng.integers(1, 3, size=rank))
        padding = str(rng.choice(["valid", "same"]))
        return cls(size, strides=strides, padding=padding, data_format=fmt, dtype=dt)
    if kind == "batchnorm":
        momentum = float(rng.choice([0.0, 0.5, 0.99]))
        axis = -1 if fmt == "channels_last" else 1
        return L.BatchNormalization(axis=axis, momentum=momentum, dtype=dt)
    if kind == "layernorm":
        return L.LayerNormalization(dtype=dt)
    if kind == "dropout":
        return L.Dropout(float(rng.choice([0.2, 0.5])), dtype=dt)
    if kind == "zeropad":
        pad = ((int(rng.integers(0, 2)), int(rng.integers(0, 3))), (int(rng.integers(0, 3)), 1))
        return L.ZeroPadding2D(pad, data_format=fmt, dtype=dt)
    if kind == "upsample":
        size = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        return L.UpSampling2D(size, data_format=fmt, dtype=dt)
    return _ToSequence()  # marker: a Reshape chosen once the shape is known


class _ToSequence:
    """Placeholder for a Reshape from (rows, cols, C) to (rows·cols, C) (or channels first)."""


def _spatial(shape: tuple[int, ...], fmt: str) -> tuple[int, ...]:
    return shape[:-1] if fmt == "channels_last" else shape[1:]


def draw(index: int) -> dict:
    rng = np.random.default_rng(5000 + index)
    rank = int(rng.integers(1, 3))
    fmt = str(rng.choice(["channels_last", "channels_first"]))
    dt = str(rng.choice(["float32", "float64"]))
    spatial = tuple(int(s) for s in rng.integers(4, 10, size=rank))
    channels = int(rng.integers(1, 4))
    shape = (*spatial, channels) if fmt == "channels_last" else (channels, *spatial)
    loss, output_act, target = LOSSES[rng.integers(len(LOSSES))]
    logits = loss in LOGIT_LOSSES and bool(rng.integers(2))
    return {
        "index": index,
        "rank": rank,
        "format": fmt,
        "dtype": dt,
        "input_shape": shape,
        "depth": int(rng.integers(1, 6)),
        "pooling": str(rng.choice(["flatten", "flatten", "global_max", "global_average"])),
        "hidden": int(rng.integers(0, 5)),  # units of a hidden Dense (0: none)
        "loss": loss,
        "from_logits": logits,
        "output_activation": "linear" if logits else output_act,
        "target": target,
        "classes": int(rng.integers(2, 4)),
        "frozen": int(rng.integers(-3, 3)),  # index of a frozen weight layer (< 0: none)
        "optimizer": int(rng.integers(len(OPTIMIZERS))),
    }


def _body(config: dict) -> tuple[list, int]:
    """The body's layers (drawn with their own generator) and the longest reduction seen."""
    rng = np.random.default_rng(9000 + config["index"])
    fmt, dt, rank = config["format"], config["dtype"], config["rank"]
    shape = tuple(config["input_shape"])
    layers: list = []
    reduction = 1
    attempts = 0
    while len(layers) < config["depth"] and attempts < 40:
        attempts += 1
        layer = _candidate(rng, rank, fmt, dt)
        if isinstance(layer, _ToSequence):
            spatial = _spatial(shape, fmt)
            seq = spatial[0] * spatial[1]
            target = (seq, shape[-1]) if fmt == "channels_last" else (shape[0], seq)
            layer, next_rank = L.Reshape(target), 1
        else:
            next_rank = rank
        try:
            out = tuple(layer.compute_output_shape(shape))
        except GlassnetError:  # the window does not fit what is left of the image
            continue
        if min(_spatial(out, fmt)) < 1 or int(np.prod(out)) > 600:
            continue
        reduction = max(reduction, _reduction(layer, shape, fmt))
        layers.append(layer)
        shape, rank = out, next_rank
    return layers, reduction


def _reduction(layer, shape: tuple[int, ...], fmt: str) -> int:
    channels = shape[-1] if fmt == "channels_last" else shape[0]
    if isinstance(layer, (L.Conv1D, L.Conv2D)):
        return int(np.prod(layer.kernel_size)) * channels
    if isinstance(layer, L.Conv2DTranspose):
        return int(np.prod(layer.kernel_size)) * max(channels, layer.filters)
    if isinstance(layer, L.LayerNormalization):
        return channels
    if isinstance(layer, L.BatchNormalization):
        return SAMPLES * int(np.prod(shape)) // channels  # the batch statistics' sums
    return 1


def build(config: dict, fused: object) -> tuple[gn.Sequential, int]:
    gn.seed(config["index"])
    dt, fmt = config["dtype"], config["format"]
    body, reduction = _body(config)
    layers = [L.Input(shape=config["input_shape"]), *body]
    rank = config["rank"] if not any(isinstance(x, L.Reshape) for x in body) else 1
    if config["pooling"] == "flatten":
        layers.append(L.Flatten())
    else:
        kind = "Max" if config["pooling"] == "global_max" else "Average"
        layers.append(getattr(L, f"Global{kind}Pooling{rank}D")(data_format=fmt, dtype=dt))
    if config["hidden"]:
        layers.append(L.Dense(config["hidden"], activation="tanh", dtype=dt))
    layers.append(L.Dense(config["classes"], activation=config["output_activation"], dtype=dt))
    model = gn.Sequential(layers)
    weighted = [layer for layer in model.layers if layer.kernel_parameters()]
    if 0 <= config["frozen"] < len(weighted) - 1:  # the output layer stays trainable
        weighted[config["frozen"]].trainable = False
    loss = gn.losses.get({"name": config["loss"], "from_logits": config["from_logits"]})
    model.compile(optimizer=OPTIMIZERS[config["optimizer"]](), loss=loss, fused=fused)
    dense_inputs = max(
        (layer.W.data.shape[-1] for layer in model.layers if isinstance(layer, L.Dense)), default=1
    )
    return model, max(reduction, dense_inputs)


def data(config: dict) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(config["index"])
    x = rng.normal(size=(SAMPLES, *config["input_shape"])).astype(config["dtype"])
    k = config["classes"]
    if config["target"] == "sparse":
        y = rng.integers(0, k, size=SAMPLES)
    elif config["target"] == "onehot":
        y = np.eye(k)[rng.integers(0, k, size=SAMPLES)]
    elif config["target"] == "binary":
        y = rng.integers(0, 2, size=(SAMPLES, k)).astype(float)
    else:
        y = rng.normal(size=(SAMPLES, k))
    return x, y


def fit(config: dict, fused: object) -> tuple[gn.Sequential, list[float], list[np.ndarray], int]:
    x, y = data(config)
    model, reduction = build(config, fused)
    history = model.fit(x, y, epochs=2, batch_size=BATCH, verbose=0, telemetry=False)
    weights = [p.data.copy() for p in model.parameters()]  # moving statistics included
    return model, history.history["loss"], weights, reduction


def tolerance(dtype: str, reduction: int, steps: int = STEP_FACTOR) -> dict[str, float]:
    tol = rtol(dtype, reduction) * steps
    return {"rtol": tol, "atol": tol}


@pytest.fixture
def numpy_ops():
    """A function running its argument with the compiled kernels switched off."""

    def run(fn):
        was = accelerated.enabled()
        accelerated.enable(False)
        try:
            return fn()
        finally:
            accelerated.enable(was)

    return run


@pytest.mark.parametrize("index", range(N_CONFIGS))
def test_fast_step_equals_the_graph_on_random_conv_configurations(index):
    config = draw(index)
    fast, fast_loss, fast_weights, reduction = fit(config, "auto")
    graph, graph_loss, graph_weights, _ = fit(config, False)
    assert fast.fit_path()[0] == "fast", fast.fit_path()
    assert graph.fit_path()[0] == "graph"
    tol = tolerance(config["dtype"], reduction)
    described = f"{config} {[type(x).__name__ for x in fast.layers]}"
    np.testing.assert_allclose(fast_loss, graph_loss, **tol, err_msg=described)
    for (name, _), a, b in zip(fast.named_parameters(), fast_weights, graph_weights):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(
            a, b, rtol=tol["rtol"], atol=tol["atol"] * scale, err_msg=f"{name}: {described}"
        )


@pytest.fixture
def split_everything(monkeypatch):
    """The two-core paths on every product and window op, however small (their thresholds at
    zero), the convolutions' input gradients one sample at a time, and predict's convolutions
    in chunks of three samples: the tiny configurations then run the code that only large
    models reach otherwise."""
    monkeypatch.setattr(split, "ROW_SPLIT_MIN", 0)
    monkeypatch.setattr(split, "CHUNK_BYTES", 0)
    monkeypatch.setattr(split, "HALVES_MIN", 0)
    monkeypatch.setattr(conv, "INFERENCE_CHUNK", 3)
    monkeypatch.setattr(conv._Conv, "inference_rows", 3)


@pytest.mark.parametrize("index", range(1, N_CONFIGS, 2))
def test_the_two_core_fast_step_equals_the_graph(index, split_everything):
    config = draw(index)
    fast, fast_loss, fast_weights, reduction = fit(config, "auto")
    graph, graph_loss, graph_weights, _ = fit(config, False)
    tol = tolerance(config["dtype"], reduction)
    np.testing.assert_allclose(fast_loss, graph_loss, **tol, err_msg=str(config))
    for (name, _), a, b in zip(fast.named_parameters(), fast_weights, graph_weights):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(
            a, b, rtol=tol["rtol"], atol=tol["atol"] * scale, err_msg=f"{name}: {config}"
        )
    x, _ = data(config)
    model, _ = build(config, "auto")
    chunked = model.predict(x, batch_size=SAMPLES)
    model.eval()
    np.testing.assert_allclose(chunked, model(x).numpy(), **tol, err_msg=str(config))


@pytest.mark.parametrize("index", range(N_CONFIGS))
def test_predict_equals_the_graph_forward_and_the_numpy_kernels(index, numpy_ops):
    config = draw(index)
    x, y = data(config)
    model, reduction = build(config, "auto")
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, telemetry=False)  # BN's statistics
    tol = tolerance(config["dtype"], reduction, steps=4)
    predicted = model.predict(x, batch_size=8)  # 8: the compiled ops run
    model.eval()
    graph = model(gn.tensor(x, dtype=config["dtype"]))  # the graph records: one node per layer
    model.train()
    assert graph.requires_grad, "the graph path must have run"
    np.testing.assert_allclose(predicted, graph.numpy(), **tol, err_msg=str(config))
    with gn.no_grad():
        model.eval()
        called = model(x).numpy()
        model.train()
    np.testing.assert_allclose(called, graph.numpy(), **tol, err_msg=str(config))
    # the same batches with NumPy's window ops: the compiled loops' numbers
    np.testing.assert_allclose(
        numpy_ops(lambda: model.predict(x, batch_size=8)), predicted, **tol, err_msg=str(config)
    )


@pytest.mark.parametrize("index", range(0, N_CONFIGS, 2))
def test_the_fast_step_with_numpy_kernels_equals_the_compiled_one(index, numpy_ops):
    if not accelerated.enabled():
        pytest.skip("the compiled kernels are off (GLASSNET_NO_NUMBA=1 or numba missing)")
    config = draw(index)
    _, compiled_loss, compiled_weights, reduction = fit(config, "auto")
    _, numpy_loss, numpy_weights, _ = numpy_ops(lambda: fit(config, "auto"))
    tol = tolerance(config["dtype"], reduction)
    np.testing.assert_allclose(compiled_loss, numpy_loss, **tol, err_msg=str(config))
    for a, b in zip(compiled_weights, numpy_weights):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(
            a, b, rtol=tol["rtol"], atol=tol["atol"] * scale, err_msg=str(config)
        )


def test_the_conv_configurations_cover_the_space():
    kinds: set[str] = set()
    configs = [draw(i) for i in range(N_CONFIGS)]
    for config in configs:
        for layer in _body(config)[0]:
            kinds.add(type(layer).__name__)
            if hasattr(layer, "strides") and max(layer.strides) > 1:
                kinds.add("strided")
            if max(getattr(layer, "dilation_rate", (1,))) > 1:
                kinds.add("dilated")
            if getattr(layer, "padding", None) == "same":
                kinds.add("same")
            if getattr(layer, "use_bias", True) is False:
                kinds.add("no bias")
    wanted = {
        "Conv1D",
        "Conv2D",
        "Conv2DTranspose",
        "MaxPooling1D",
        "MaxPooling2D",
        "AveragePooling1D",
        "AveragePooling2D",
        "BatchNormalization",
        "LayerNormalization",
        "ZeroPadding2D",
        "UpSampling2D",
        "Reshape",
        "Dropout",
        "strided",
        "dilated",
        "same",
        "no bias",
    }
    assert wanted <= kinds, wanted - kinds
    assert {c["format"] for c in configs} == {"channels_last", "channels_first"}
    assert {c["dtype"] for c in configs} == {"float32", "float64"}
    assert {c["pooling"] for c in configs} == {"flatten", "global_max", "global_average"}
    assert {c["loss"] for c in configs} == {loss for loss, _, _ in LOSSES}
    assert sum(c["from_logits"] for c in configs) >= 4
    assert {c["optimizer"] for c in configs} == set(range(len(OPTIMIZERS)))
