"""The message validator and the session, without a browser or a server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _playground_export import run_exported_code
from glassnet.datasets import load
from glassnet.errors import InvalidArgumentError
from glassnet.explain import backprop
from glassnet.playground.session import (
    LIMITS,
    Config,
    Session,
    parse_csv,
    parse_message,
    python_code,
)

SRC = str(Path(__file__).resolve().parents[2] / "src")


def config_message(**fields: object) -> str:
    return json.dumps({"type": "config", "config": fields})


def test_a_good_config_is_accepted_with_its_values() -> None:
    layers = [{"units": 8, "activation": "tanh"}, {"units": 3, "activation": "relu"}]
    m = parse_message(config_message(dataset="moons", layers=layers, learning_rate=0.5))
    assert m["config"] == Config(
        dataset="moons", layers=((8, "tanh"), (3, "relu")), learning_rate=0.5
    )


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (config_message(layers=[{"units": -3, "activation": "tanh"}]), "units of layer 1"),
        (config_message(layers=[{"units": 65, "activation": "tanh"}]), "units of layer 1"),
        (config_message(layers=[{"units": True, "activation": "tanh"}]), "units of layer 1"),
        (config_message(layers=[{"units": 4, "activation": "tanh"}] * 9), "layers"),
        (config_message(layers=[{"units": 4, "activation": "tanh"}] * 10_000), "message"),
        (config_message(layers=[{"units": 4, "activation": "__import__('os')"}]), "activation"),
        (config_message(learning_rate="abc"), "learning_rate"),
        (config_message(learning_rate=0), "learning_rate"),
        (config_message(learning_rate=11), "learning_rate"),
        ('{"type": "config", "config": {"learning_rate": NaN}}', "learning_rate"),
        ('{"type": "config", "config": {"learning_rate": Infinity}}', "learning_rate"),
        (config_message(batch_size=0), "batch_size"),
        (config_message(speed=-1), "speed"),
        (config_message(speed=101), "speed"),
        (config_message(speed=2.5), "speed"),
        (config_message(batch_size=513), "batch_size"),
        (config_message(n=LIMITS["n"] + 1), "n"),
        (config_message(dataset="../../etc/passwd"), "dataset"),
        (config_message(code="print(1)"), "config"),
        (json.dumps({"type": "exec", "code": "1"}), "type"),
        (json.dumps({"type": "step", "extra": 1}), "field"),
        (json.dumps({"type": "story", "l": 1, "j": 1}), "k"),
        (json.dumps({"type": "story", "l": 0, "j": 1, "k": 1}), "l"),
        ("not json", "message"),
        ("[1, 2]", "message"),
        (None, "message"),
    ],
)
def test_a_bad_message_is_refused_naming_what_is_wrong(text: object, names: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_message(text)
    message = str(info.value)
    assert message.startswith(names), message
    assert "received" in message and "\n" not in message


def test_step_takes_exactly_one_batch_and_story_matches_backprop() -> None:
    session = Session(Config(dataset="xor", batch_size=16, optimizer="sgd", learning_rate=0.1))
    before = session.model.get_weights()
    session.step()
    assert session.steps == 1
    weights, xb, yb = session.last  # type: ignore[misc]
    assert xb.shape == (16, 2)
    for w0, w1 in zip(before, weights):
        np.testing.assert_array_equal(w0, w1)
    story = session.story(2, 3, 4)
    # Reference: a model of the same shape with the same weights, traced on the same batch.
    twin = Session(session.config).model
    twin.set_weights(weights)
    trace = backprop(twin, xb, yb, learning_rate=0.1)
    grad = trace.layer(2).grad_W[2, 3]
    assert story["grad"] == pytest.approx(grad, rel=1e-9, abs=1e-15)
    # SGD's update is the trace's W − α ∂C/∂W (float32 storage of the model's weights).
    assert story["after"] == pytest.approx(trace.layer(2).W_updated[2, 3], rel=1e-6, abs=1e-7)
    per_sample = trace.path(2, 3, 4).samples[0].total
    assert story["sample_total"] == pytest.approx(per_sample, rel=1e-9, abs=1e-15)


def test_story_before_any_step_and_out_of_range_are_refused() -> None:
    session = Session(Config(dataset="moons"))
    with pytest.raises(InvalidArgumentError, match="no step"):
        session.story(1, 1, 1)
    session.step()
    with pytest.raises(InvalidArgumentError, match="neuron"):
        session.story(9, 1, 1)
    with pytest.raises(InvalidArgumentError, match="k must"):
        session.story(1, 1, 3)


def test_the_exported_code_rebuilds_the_same_network_and_trains(tmp_path: Path) -> None:
    config = Config(dataset="moons", layers=((6, "relu"),), learning_rate=0.05, batch_size=16)
    code = python_code(config, epochs=3)
    # Up to compile, the program builds the network with the page's initial weights.
    done = run_exported_code(code, config, tmp_path)
    assert "'accuracy'" in done.stdout


def test_the_exported_model_file_predicts_what_the_session_predicts(tmp_path: Path) -> None:
    import glassnet

    session = Session(Config(dataset="circles"))
    for _ in range(5):
        session.step()
    path = tmp_path / "model.glassnet"
    path.write_bytes(base64.b64decode(session.export()["model"]))
    loaded = glassnet.load_model(path)
    np.testing.assert_array_equal(
        loaded.predict(session.x_val), session.model.predict(session.x_val)
    )


def test_a_neuron_map_is_that_neuron_over_the_grid() -> None:
    session = Session(Config(dataset="xor", layers=((3, "tanh"),)))
    session.step()
    m = session.neuron_map(1, 2)
    values = np.frombuffer(base64.b64decode(m["values"]), dtype=np.uint8).astype(np.float64)
    # By hand: neuron 2 of layer 1 is tanh(w · x + b) with the model's current weights.
    W, b = session.model.get_weights()[:2]
    a = np.tanh(session._grid().astype(np.float64) @ W[1].astype(np.float64) + b[1])
    assert m["low"] == pytest.approx(a.min(), abs=1e-6)
    assert m["high"] == pytest.approx(a.max(), abs=1e-6)
    expected = (a - a.min()) / (a.max() - a.min()) * 255
    assert np.max(np.abs(values - expected)) <= 0.5 + 1e-3


def moons_csv(rows: int = 200) -> str:
    (x, y), _ = load("moons", n=rows, noise=0.1, seed=3)
    names = ["upper", "lower"]
    lines = ["width,height,kind"] + [f"{a:.5f},{b:.5f},{names[k]}" for (a, b), k in zip(x, y)]
    return "\n".join(lines) + "\n"


def test_a_csv_upload_is_parsed_and_trained_on() -> None:
    text = moons_csv()
    m = parse_message(json.dumps({"type": "csv", "text": text, "label": None}))
    upload = m["data"]
    assert upload.columns == ("width", "height") and upload.classes == ("lower", "upper")
    assert upload.x.shape == (160, 2)
    first = text.splitlines()[1].split(",")
    assert upload.x[0].tolist() == pytest.approx([float(first[0]), float(first[1])])
    assert upload.classes[upload.y[0]] == first[2]
    session = Session(Config(dataset="csv"), upload)
    assert len(session.x) + len(session.x_val) == 160
    for _ in range(3):
        session.step()
    assert "boundary" in session.state()
    with pytest.raises(InvalidArgumentError, match="until a CSV file is uploaded"):
        Session(Config(dataset="csv"))


@pytest.mark.parametrize(
    ("text", "label", "names"),
    [
        ("a,b\n1,x\n2,y\n3,x\n4,y\n", "c", "label column"),
        ("a,b,c\n1,2,x\n2,oops,y\n3,4,x\n4,5,y\n", None, "csv row 3, column 'b'"),
        ("a,b,c\n1,2,x\n2,nan,y\n3,4,x\n4,5,y\n", None, "csv row 3"),
        ("a,b,c\n1,2,x\n2,3\n3,4,x\n4,5,y\n", None, "csv row 3"),
        ("a,b\n1,x\n", None, "csv rows"),
        ("a,b\n" + "1,x\n2,x\n" * 1001, None, "csv rows"),
        ("a,b\n1,x\n2,x\n3,x\n4,x\n", None, "label column's classes"),
        ("a,b\n1,x\n2,x\n3,x\n4,y\n", None, "label column"),
        ("", None, "csv text"),
    ],
)
def test_a_bad_csv_is_refused_naming_the_place(text: str, label: Any, names: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_message(json.dumps({"type": "csv", "text": text, "label": label}))
    assert str(info.value).startswith(names), str(info.value)


def test_the_exported_code_for_a_csv_reads_the_file_and_trains(tmp_path: Path) -> None:
    text = moons_csv()
    (tmp_path / "data.csv").write_text(text)
    session = Session(Config(dataset="csv", layers=((4, "tanh"),)), parse_csv(text))
    code = session.export()["code"].replace("epochs=50", "epochs=2")
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert done.returncode == 0, done.stderr
    assert "'accuracy'" in done.stdout


def test_digits_pixels_constant_in_training_are_not_blown_up() -> None:
    (x, _), (x_val, _) = load("digits")
    flat, flat_val = x.reshape(len(x), -1), x_val.reshape(len(x_val), -1)
    constant = flat.std(axis=0) < 1e-6
    assert constant.any()  # the premise: some border pixel never changes in training
    session = Session(Config(dataset="digits"))
    # Those pixels are only shifted by the training mean, never divided by ~0.
    shifted = flat_val[:, constant] - flat[:, constant].mean(axis=0)
    np.testing.assert_allclose(session.x_val[:, constant], shifted, atol=1e-5)
    assert np.abs(session.x_val).max() < 100


def test_image_sets_send_the_first_layer_as_images_and_the_misclassified() -> None:
    session = Session(Config(dataset="digits", layers=((5, "relu"),)))
    session.step()
    state = session.state()
    assert state["weights"][0] is not None  # 64 inputs: still drawn as edges
    images = state["images"]
    assert images["shape"] == [8, 8] and len(images["first"]) == 5
    W = session.model.get_weights()[0].astype(np.float64)
    shown = np.frombuffer(base64.b64decode(images["first"][2]), dtype=np.uint8)
    by_hand = np.clip(np.rint(127.5 + 127.5 * W[2] / np.abs(W).max()), 0, 255)
    np.testing.assert_array_equal(shown, by_hand)
    predicted = session.model.predict(session.x_val).argmax(axis=1)
    wrong = np.flatnonzero(predicted != session.y_val)[:8]
    assert [(w["label"], w["predicted"]) for w in images["wrong"]] == [
        (int(session.y_val[i]), int(predicted[i])) for i in wrong
    ]
    mnist = Session(Config(dataset="mnist-5k", layers=((4, "relu"),)))
    assert mnist.state()["weights"][0] is None  # 784 inputs: images only


def test_a_diverged_loss_stays_valid_json_and_the_doctor_says_so() -> None:
    session = Session(Config(dataset="spirals"))
    session.step()
    session.model.parameters()[0].data[:] = np.nan  # what a far too high rate ends in
    with pytest.warns(RuntimeWarning):
        session.step()
        state = session.state()
    json.dumps(state, allow_nan=False)  # still valid JSON for the page
    assert state["loss"] is None
    found = session.findings(force=True)
    assert [f["rule"] for f in found] == ["lr_too_high"]
    assert found[0]["evidence"] == "The loss became nan at step 2."
    with pytest.raises(InvalidArgumentError, match="diverged"):
        session.story(1, 1, 1)


def test_every_neurons_map_is_its_output_over_the_grid_computed_by_hand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = Session(Config(dataset="moons", layers=((5, "tanh"), (3, "relu"))))
    for _ in range(20):
        session.step()
    maps = session.state()["maps"]
    W1, b1, W2, b2 = (w.astype(np.float64) for w in session.model.get_weights()[:4])
    grid = session._grid().astype(np.float64)
    a1 = np.tanh(grid @ W1.T + b1)  # the seeds' a = σ(W a_prev + b), per row
    a2 = np.maximum(a1 @ W2.T + b2, 0.0)
    g = LIMITS["grid"]
    for layer, (a, scale) in enumerate([(a1, 1.0), (a2, None)]):
        shown = maps[layer]
        assert shown["size"] == 25
        cells = a.reshape(g, g, -1)[::2, ::2]
        expected_scale = scale if layer == 0 else float(np.abs(cells).max())
        assert shown["scale"] == pytest.approx(expected_scale, rel=1e-5)
        expected = 127.5 + 127.5 * np.moveaxis(cells, 2, 0) / expected_scale
        got = np.frombuffer(base64.b64decode(shown["values"]), dtype=np.uint8)
        assert got.size == cells.size
        # float32 kernels against float64 by hand: at most one step of the byte scale apart
        assert np.abs(got.astype(float) - expected.ravel()).max() <= 1.0
    # While playing (live) the maps go out at most MAPS_PER_SECOND times a second.
    from glassnet.playground import session as module

    # The fake clock moves by 1/32 s, exact in binary: steps of 0.025 s made "two steps apart"
    # land a rounding error either side of 1/20 s, depending on where the clock started.
    clock = [float(2**20)]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    sent = []
    for _ in range(40):  # 40 updates at 32 a second: every second one may carry the maps
        sent.append("maps" in session.state(live=True))
        clock[0] += 1 / 32
    assert sent == [True, False] * 20
