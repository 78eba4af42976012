"""What the Keras guides' last failing snippets needed: plot_model writing a real diagram,
PyDataset/generators as validation_data, data that is not an array refused (never a hang),
ModelCheckpoint(save_freq=N), fit of a model with nothing to train whose cost is add_loss,
loss objects called with sample_weight, and a custom layer called on two symbolic inputs."""

from __future__ import annotations

import shutil
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.keras as keras
from glassnet.errors import InvalidArgumentError, MissingDependencyError
from glassnet.keras import layers, ops
from glassnet.keras import plot as plot_module


def _branched_model() -> Any:
    a = keras.Input((4,), name="a")
    b = keras.Input((3,), name="b")
    x = layers.Dense(5, activation="relu", name="d1")(a)
    x = layers.concatenate([x, b], name="cat")
    out = layers.Dense(2, name="out")(x)
    return keras.Model([a, b], out)


# -- plot_model ------------------------------------------------------------------------------------


def test_plot_model_dot_has_the_graphs_boxes_and_arrows(tmp_path: Path) -> None:
    """The arrows are the model's connections, read off by hand: a→d1→cat←b, cat→out."""
    path = tmp_path / "m.dot"
    keras.utils.plot_model(_branched_model(), path, show_layer_names=True, show_shapes=True)
    text = path.read_text()
    boxes = {line.split()[0]: line for line in text.splitlines() if "[label=" in line}
    names = {key: line.split('"{')[1].split(" ")[0] for key, line in boxes.items()}
    arrows = {
        (names[a], names[b.rstrip(";")])
        for a, _, b in (line.split() for line in text.splitlines() if "->" in line)
    }
    assert arrows == {("a", "d1"), ("d1", "cat"), ("b", "cat"), ("cat", "out")}
    assert "output: (None, 8)" in boxes[next(k for k, v in names.items() if v == "cat")]


def test_plot_model_png_through_graphviz(tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed")
    path = tmp_path / "model.png"
    keras.utils.plot_model(_branched_model(), str(path), show_shapes=True)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 100 and height > 200  # five boxes in four rows


def _box_at(boxes: dict[str, dict[str, float]], point: tuple[float, float], side: str) -> str:
    """The box whose top (bottom) edge holds ``point``."""
    x, y = point
    for name, b in boxes.items():
        edge_y = b["y"] + (b["h"] if side == "bottom" else 0.0)
        if np.isclose(y, edge_y) and b["x"] <= x <= b["x"] + b["w"]:
            return name
    raise AssertionError(f"no box has its {side} edge at {point}")


def test_plot_model_svg_without_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Graphviz the SVG is drawn here: one box per layer, one line per connection, each
    arrow from the bottom of its source box to the top of its target box."""
    monkeypatch.setattr(plot_module.shutil, "which", lambda name: None)
    path = tmp_path / "model.svg"
    keras.utils.plot_model(_branched_model(), path, show_layer_names=True)
    root = ET.parse(path).getroot()
    ns = {"s": "http://www.w3.org/2000/svg"}
    boxes = {}
    for group in root.findall("s:g", ns):
        rect, title = group.find("s:rect", ns), group.find("s:text", ns)
        assert rect is not None and title is not None and title.text is not None
        boxes[title.text.split(" ")[0]] = {k: float(rect.get(k, 0)) for k in "xy"} | {
            "w": float(rect.get("width", 0)),
            "h": float(rect.get("height", 0)),
        }
    assert set(boxes) == {"a", "b", "d1", "cat", "out"}
    lines = root.findall("s:line", ns)
    assert len(lines) == 4
    ends = set()
    for line in lines:
        start = (float(line.get("x1", 0)), float(line.get("y1", 0)))
        end = (float(line.get("x2", 0)), float(line.get("y2", 0)))
        ends.add((_box_at(boxes, start, "bottom"), _box_at(boxes, end, "top")))
    assert ends == {("a", "d1"), ("d1", "cat"), ("b", "cat"), ("cat", "out")}
    with pytest.raises(MissingDependencyError, match="Graphviz"):
        keras.utils.plot_model(_branched_model(), tmp_path / "model.png")


def test_plot_model_sequential_shapes_and_bad_options(tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input((6,)), layers.Dense(3), layers.Dense(1)])
    text = plot_module.to_dot(model, show_shapes=True)
    assert "input: (None, 6)|output: (None, 3)" in text
    assert "input: (None, 3)|output: (None, 1)" in text
    assert text.count("->") == 1
    with pytest.raises(InvalidArgumentError, match="rankdir"):
        keras.utils.plot_model(model, tmp_path / "m.dot", rankdir="XY")
    with pytest.raises(InvalidArgumentError, match="colour"):
        keras.utils.plot_model(model, tmp_path / "m.dot", colour=True)


# -- PyDataset and generators as validation data ---------------------------------------------------


class _Batches(keras.utils.PyDataset):
    def __init__(self, x: np.ndarray, y: np.ndarray, size: int) -> None:
        super().__init__()
        self.x, self.y, self.size = x, y, size

    def __len__(self) -> int:
        return -(-len(self.x) // self.size)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        part = slice(i * self.size, (i + 1) * self.size)
        return self.x[part], self.y[part]


def _functional_regressor() -> Any:
    gn.seed(3)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, layers.Dense(1)(layers.Dense(4, activation="tanh")(inputs)))
    model.compile(keras.optimizers.SGD(learning_rate=0.05), "mse")
    return model


def _regression(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return x, x @ np.array([0.5, -1.0, 2.0])


def test_pydataset_as_validation_data_of_a_functional_model() -> None:
    """val_loss is the loss over every validation batch: evaluate on the same arrays after
    the (one) epoch gives the same number."""
    x, y = _regression(40, 0)
    x_val, y_val = _regression(10, 1)
    model = _functional_regressor()
    history = model.fit(
        _Batches(x, y, 8), validation_data=_Batches(x_val, y_val, 4), epochs=1, verbose=0
    )
    expected = float(np.mean((model.predict(x_val, verbose=0)[:, 0] - y_val) ** 2))
    assert history.history["val_loss"][0] == pytest.approx(expected, rel=1e-5)


def test_generator_as_validation_data_needs_validation_steps() -> None:
    x, y = _regression(12, 0)

    def endless() -> Any:
        while True:
            yield x[:4], y[:4]

    model = _functional_regressor()
    with pytest.raises(InvalidArgumentError, match="validation_steps"):
        model.fit(x, y, validation_data=endless(), verbose=0)
    history = model.fit(x, y, validation_data=endless(), validation_steps=2, verbose=0)
    expected = float(np.mean((model.predict(x[:4], verbose=0)[:, 0] - y[:4]) ** 2))
    assert history.history["val_loss"][0] == pytest.approx(expected, rel=1e-5)


def test_objects_that_are_not_arrays_are_refused_not_looped_over() -> None:
    """An object whose __getitem__ never raises IndexError is an endless sequence: refused
    with an error naming the argument, never read item by item; so is a PyDataset given as
    y."""

    class Forever:
        def __getitem__(self, i: int) -> np.ndarray:
            return np.zeros(3)

    x, y = _regression(8, 0)
    model = _functional_regressor()
    with pytest.raises(InvalidArgumentError, match="y must be an array.*no __len__"):
        model.fit(x, Forever(), verbose=0)
    with pytest.raises(InvalidArgumentError, match="y must be an array.*PyDataset"):
        model.evaluate(x, _Batches(x, y, 4))


# -- ModelCheckpoint(save_freq=N) ------------------------------------------------------------------


def test_model_checkpoint_every_n_batches_saves_the_weights_of_that_batch(tmp_path: Path) -> None:
    """10 batches over two epochs, save_freq=3: saved after the 3rd, 6th and 9th batches seen
    (counted across epochs, as Keras), each file holding the weights of that moment."""
    x, y = _regression(20, 0)
    model = _functional_regressor()
    seen: dict[tuple[int, int], list[np.ndarray]] = {}
    epoch = [0]
    track = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda e, logs: epoch.__setitem__(0, e),
        on_train_batch_end=lambda b, logs: seen.__setitem__(
            (epoch[0] + 1, b + 1), [w.copy() for w in model.get_weights()]
        ),
    )
    save = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "m-{epoch}-{batch}.weights"), save_weights_only=True, save_freq=3
    )
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, callbacks=[track, save], verbose=0)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["m-1-3.weights", "m-2-1.weights", "m-2-4.weights"]
    for e, b in [(1, 3), (2, 1), (2, 4)]:
        fresh = _functional_regressor()
        fresh.load_weights(str(tmp_path / f"m-{e}-{b}.weights"))
        for got, want in zip(fresh.get_weights(), seen[(e, b)]):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(InvalidArgumentError, match="save_freq"):
        keras.callbacks.ModelCheckpoint("m.keras", save_freq=0)


# -- nothing to train: the cost is add_loss --------------------------------------------------------


class _ActivityCost(keras.layers.Layer):
    def call(self, inputs: Any) -> Any:
        self.add_loss(0.01 * ops.mean(inputs))
        return inputs


def test_fit_without_trainable_parameters_reports_the_added_loss() -> None:
    """Keras computes and reports the cost and warns; the cost is 0.01·mean(x), by hand."""
    x = np.random.default_rng(0).random((2, 3))
    inputs = keras.Input((3,))
    model = keras.Model(inputs, _ActivityCost()(inputs))
    model.compile(optimizer="adam")
    with pytest.warns(RuntimeWarning, match="no trainable parameters"):
        history = model.fit(x, x, verbose=0)
    assert history.history["loss"][0] == pytest.approx(0.01 * x.mean(), rel=1e-6)


def test_fit_of_a_frozen_model_changes_no_weight() -> None:
    x, y = _regression(8, 0)
    model = _functional_regressor()
    for layer in model.layers:
        layer.trainable = False
    before = [w.copy() for w in model.get_weights()]
    expected = float(np.mean((model.predict(x, verbose=0)[:, 0] - y) ** 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert history.history["loss"] == pytest.approx([expected, expected], rel=1e-6)
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)


# -- loss objects with sample_weight; a layer called on two symbolic inputs ------------------------


def test_loss_object_with_sample_weight_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    y, z, w = rng.random((5, 3)), rng.normal(size=(5, 3)), rng.random(5)
    zt = gn.Tensor(z, requires_grad=True)
    cost = keras.losses.BinaryCrossentropy(from_logits=True)(y, zt, w)
    cost.backward()
    z_ref = torch.tensor(z, requires_grad=True)
    per = torch.nn.functional.binary_cross_entropy_with_logits(
        z_ref, torch.tensor(y), reduction="none"
    ).mean(1)
    ref = (per * torch.tensor(w)).mean()
    ref.backward()
    assert zt.data.dtype == np.float32  # glassnet's default dtype: float32 tolerances
    assert float(cost.data) == pytest.approx(float(ref.detach()), rel=1e-5)
    assert z_ref.grad is not None
    np.testing.assert_allclose(zt.grad, z_ref.grad.numpy(), rtol=1e-4, atol=1e-7)
    mse = keras.losses.MeanSquaredError()(y, z, w)
    assert float(mse.data) == pytest.approx(float(np.mean(w * ((y - z) ** 2).mean(1))))


class _LogisticEndpoint(keras.layers.Layer):
    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets: Any, logits: Any, sample_weights: Any = None) -> Any:
        self.add_loss(self.loss_fn(targets, logits, sample_weights))
        return ops.softmax(logits)


def test_layer_called_on_two_symbolic_inputs_trains_on_its_added_loss() -> None:
    """The guide's LogisticEndpoint: the model's cost is the BCE of the Dense logits against
    the targets input — the first step's reported loss equals it computed by hand."""
    gn.seed(0)
    inputs = keras.Input((3,), name="inputs")
    targets = keras.Input((4,), name="targets")
    dense = layers.Dense(4)
    logits = dense(inputs)
    model = keras.Model([inputs, targets], _LogisticEndpoint(name="predictions")(targets, logits))
    model.compile(optimizer="adam")
    rng = np.random.default_rng(0)
    data = {"inputs": rng.random((6, 3)), "targets": rng.random((6, 4))}
    kernel, bias = dense.get_weights()  # Keras's layout: kernel (in, units)
    z = data["inputs"] @ kernel + bias
    t = data["targets"]
    bce = np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))
    history = model.fit(data, batch_size=6, verbose=0)
    assert history.history["loss"][0] == pytest.approx(bce, rel=1e-5)
    probs = model.predict(data, verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
