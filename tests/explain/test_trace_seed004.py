"""Seed 004's worked 2-2-2 example, traced by the API and by run_explain(), checked against
numbers derived here independently, by hand, neuron by neuron as the seed writes them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import InvalidArgumentError, NotTraceableError
from glassnet.explain import backprop, seed004_example
from glassnet.explain.cli_support import parse_weight, run_explain
from glassnet.nn.layers import Dense, Dropout, Flatten, Layer, Rescaling
from glassnet.training.model import Model, Sequential


def sig(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def hand_derivation() -> dict[str, float]:
    """Seed 004, written out scalar by scalar (no arrays, no glassnet)."""
    i1, i2 = 0.05, 0.10
    w1, w2, w3, w4 = 0.15, 0.20, 0.25, 0.30
    w5, w6, w7, w8 = 0.40, 0.45, 0.50, 0.55
    b1, b2 = 0.35, 0.60
    t1, t2 = 0.01, 0.99
    alpha = 0.5
    net_h1 = w1 * i1 + w2 * i2 + b1
    net_h2 = w3 * i1 + w4 * i2 + b1
    out_h1, out_h2 = sig(net_h1), sig(net_h2)
    net_o1 = w5 * out_h1 + w6 * out_h2 + b2
    net_o2 = w7 * out_h1 + w8 * out_h2 + b2
    out_o1, out_o2 = sig(net_o1), sig(net_o2)
    E = 0.5 * (t1 - out_o1) ** 2 + 0.5 * (t2 - out_o2) ** 2
    # ∂E/∂w5 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5
    dE_dout_o1 = -(t1 - out_o1)
    dE_dout_o2 = -(t2 - out_o2)
    dout_o1 = out_o1 * (1 - out_o1)
    dout_o2 = out_o2 * (1 - out_o2)
    g = {}
    g["w5"] = dE_dout_o1 * dout_o1 * out_h1
    g["w6"] = dE_dout_o1 * dout_o1 * out_h2
    g["w7"] = dE_dout_o2 * dout_o2 * out_h1
    g["w8"] = dE_dout_o2 * dout_o2 * out_h2
    # ∂E/∂out_h1 sums the two paths, through o1 and through o2.
    dE_dout_h1 = dE_dout_o1 * dout_o1 * w5 + dE_dout_o2 * dout_o2 * w7
    dE_dout_h2 = dE_dout_o1 * dout_o1 * w6 + dE_dout_o2 * dout_o2 * w8
    dout_h1 = out_h1 * (1 - out_h1)
    dout_h2 = out_h2 * (1 - out_h2)
    g["w1"] = dE_dout_h1 * dout_h1 * i1
    g["w2"] = dE_dout_h1 * dout_h1 * i2
    g["w3"] = dE_dout_h2 * dout_h2 * i1
    g["w4"] = dE_dout_h2 * dout_h2 * i2
    out = {
        "net_h1": net_h1,
        "net_h2": net_h2,
        "out_h1": out_h1,
        "out_h2": out_h2,
        "net_o1": net_o1,
        "net_o2": net_o2,
        "out_o1": out_o1,
        "out_o2": out_o2,
        "E": E,
        "delta_o1": dE_dout_o1 * dout_o1,
        "delta_o2": dE_dout_o2 * dout_o2,
        "delta_h1": dE_dout_h1 * dout_h1,
        "delta_h2": dE_dout_h2 * dout_h2,
        "path1_w1": dE_dout_o1 * dout_o1 * w5 * dout_h1 * i1,
        "path2_w1": dE_dout_o2 * dout_o2 * w7 * dout_h1 * i1,
    }
    weights = {"w1": w1, "w2": w2, "w3": w3, "w4": w4, "w5": w5, "w6": w6, "w7": w7, "w8": w8}
    for name, value in g.items():
        out[f"dE/d{name}"] = value
        out[f"{name}'"] = weights[name] - alpha * value
    return out


H = hand_derivation()


def test_hand_derivation_matches_the_seeds_published_numbers() -> None:
    published = {
        "out_h1": 0.593269992,
        "out_h2": 0.596884378,
        "out_o1": 0.75136507,
        "out_o2": 0.772928465,
        "E": 0.298371109,
        "dE/dw5": 0.082167041,
        "w5'": 0.35891648,
        "dE/dw1": 0.000438568,
        "w1'": 0.149780716,
    }
    for key, value in published.items():
        assert H[key] == pytest.approx(value, abs=6e-9), key


@pytest.fixture(scope="module")
def trace():  # type: ignore[no-untyped-def]
    model, x, y, loss, lr = seed004_example()
    return backprop(model, x, y, loss=loss, learning_rate=lr)


def test_forward_pass_and_cost(trace) -> None:  # type: ignore[no-untyped-def]
    l1, l2 = trace.layer(1), trace.layer(2)
    np.testing.assert_allclose(l1.a_prev, [0.05, 0.10], rtol=0, atol=0)
    np.testing.assert_allclose(l1.z, [H["net_h1"], H["net_h2"]], rtol=1e-14)
    np.testing.assert_allclose(l1.a, [H["out_h1"], H["out_h2"]], rtol=1e-14)
    np.testing.assert_allclose(l2.a_prev, l1.a, rtol=0)
    np.testing.assert_allclose(l2.z, [H["net_o1"], H["net_o2"]], rtol=1e-14)
    np.testing.assert_allclose(l2.a, [H["out_o1"], H["out_o2"]], rtol=1e-14)
    assert trace.cost == pytest.approx(H["E"], rel=1e-14)


def test_bp1_to_bp4_and_the_update(trace) -> None:  # type: ignore[no-untyped-def]
    l1, l2 = trace.layer(1), trace.layer(2)
    np.testing.assert_allclose(l2.delta, [H["delta_o1"], H["delta_o2"]], rtol=1e-13)
    np.testing.assert_allclose(l1.delta, [H["delta_h1"], H["delta_h2"]], rtol=1e-13)
    np.testing.assert_allclose(
        l2.sigma_prime,
        [H["out_o1"] * (1 - H["out_o1"]), H["out_o2"] * (1 - H["out_o2"])],
        rtol=1e-14,
    )
    grad_W2 = [[H["dE/dw5"], H["dE/dw6"]], [H["dE/dw7"], H["dE/dw8"]]]
    grad_W1 = [[H["dE/dw1"], H["dE/dw2"]], [H["dE/dw3"], H["dE/dw4"]]]
    np.testing.assert_allclose(l2.grad_W, grad_W2, rtol=1e-13)
    np.testing.assert_allclose(l1.grad_W, grad_W1, rtol=1e-13)
    np.testing.assert_allclose(l2.grad_b, l2.delta, rtol=0)  # BP3
    np.testing.assert_allclose(l1.grad_b, l1.delta, rtol=0)
    assert l2.W_updated is not None and l1.W_updated is not None
    np.testing.assert_allclose(
        l2.W_updated, [[H["w5'"], H["w6'"]], [H["w7'"], H["w8'"]]], rtol=1e-14
    )
    np.testing.assert_allclose(
        l1.W_updated, [[H["w1'"], H["w2'"]], [H["w3'"], H["w4'"]]], rtol=1e-14
    )
    assert l2.b_updated is not None
    np.testing.assert_allclose(
        l2.b_updated, 0.60 - 0.5 * np.array([H["delta_o1"], H["delta_o2"]]), rtol=1e-14
    )


def test_engine_and_central_differences_agree(trace) -> None:  # type: ignore[no-untyped-def]
    assert trace.max_discrepancy < 1e-14
    assert trace.check() is trace
    assert len(trace.spot_checks) == 12  # every weight and bias of this small network
    assert trace.numerical_discrepancy < 1e-5
    assert trace.delta_rule == "bp1"


def test_one_fit_step_gives_the_traced_update() -> None:
    model, x, y, _, _ = seed004_example()
    trace = backprop(model, x, y, learning_rate=0.5)
    model.fit(x[None], y[None], epochs=1, batch_size=1, verbose=0)
    W1, b1, W2, b2 = model.get_weights()
    np.testing.assert_allclose(W2, trace.layer(2).W_updated, rtol=1e-14)
    np.testing.assert_allclose(W1, trace.layer(1).W_updated, rtol=1e-14)
    np.testing.assert_allclose(b2, trace.layer(2).b_updated, rtol=1e-14)


def test_a_batch_shaped_single_sample_is_the_same_trace(trace) -> None:  # type: ignore[no-untyped-def]
    model, x, y, loss, lr = seed004_example()
    t2 = backprop(model, x[None], y[None], loss=loss, learning_rate=lr)
    assert t2.single and t2.batch_size == 1
    np.testing.assert_array_equal(t2.layer(1).grad_W, trace.layer(1).grad_W)


def test_weight_paths(trace) -> None:  # type: ignore[no-untyped-def]
    w5 = trace.path(2, 1, 1, style="net/out")
    assert w5.path_count == 1
    values = [f.value for f in w5.samples[0].terms[0].factors]
    np.testing.assert_allclose(
        values, [H["out_o1"] - 0.01, H["out_o1"] * (1 - H["out_o1"]), H["out_h1"]], rtol=1e-14
    )
    assert w5.value == pytest.approx(H["dE/dw5"], rel=1e-13)
    text = str(w5)
    assert "∂E/∂outₒ₁ · ∂outₒ₁/∂netₒ₁ · ∂netₒ₁/∂w5" in text
    w1 = trace.path("w1")
    assert w1.path_count == 2 and not w1.grouped
    products = [t.value for t in w1.samples[0].terms]
    np.testing.assert_allclose(products, [H["path1_w1"], H["path2_w1"]], rtol=1e-13)
    assert w1.value == pytest.approx(H["dE/dw1"], rel=1e-12)
    assert w1.agrees and w1.code_index == (0, 0) and w1.number == 1
    assert trace.weight_from_number(7) == (2, 2, 1)
    with pytest.raises(InvalidArgumentError):
        trace.path(3, 1, 1)
    with pytest.raises(InvalidArgumentError):
        trace.path(1, 0, 1)  # indices are 1-based


def fmt9(v: float) -> str:
    return format(v, ".9g")


def test_run_explain_prints_the_whole_trace() -> None:
    text = run_explain()
    for key in (
        "out_h1",
        "out_h2",
        "out_o1",
        "out_o2",
        "E",
        "dE/dw5",
        "w5'",
        "dE/dw1",
        "w1'",
        "delta_h2",
        "dE/dw8",
        "w8'",
    ):
        assert fmt9(H[key]) in text, (key, fmt9(H[key]))
    for label in ("BP1", "BP2", "BP3", "BP4", "FORWARD PASS", "BACKWARD PASS", "agree"):
        assert label in text
    assert "\x1b[" not in text


def test_run_explain_weight_story_and_formats(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = run_explain(weight="1,1,1")
    assert "ONE WEIGHT'S STORY" in text and "2 paths" in text
    assert fmt9(H["path1_w1"]) in text and fmt9(H["dE/dw1"]) in text
    data = json.loads(run_explain(format="json", weight="w5"))
    assert data["cost"] == pytest.approx(H["E"], rel=1e-14)
    assert data["layers"][1]["grad_W"][0][0] == pytest.approx(H["dE/dw5"], rel=1e-13)
    assert data["weight_paths"][0]["value"] == pytest.approx(H["dE/dw5"], rel=1e-13)
    md = run_explain(format="markdown")
    assert "$$" in md and fmt9(H["out_o2"]) in md
    html = run_explain(format="html")
    assert html.startswith("<!DOCTYPE html>") and fmt9(H["w1'"]) in html
    dot_file = tmp_path / "seed004.dot"
    out = run_explain(graph=dot_file)
    assert dot_file.exists() and "written to" in out
    assert "W1" in dot_file.read_text()
    assert parse_weight("2, 1, 1") == (2, 1, 1) and parse_weight((1, 2, 2)) == (1, 2, 2)
    for bad in ("2,1", "x", (1, 2)):
        with pytest.raises(InvalidArgumentError):
            parse_weight(bad)
    with pytest.raises(InvalidArgumentError):
        run_explain(format="pdf")
    with pytest.raises(InvalidArgumentError):
        run_explain(graph="out.png")


def test_run_explain_with_a_model_and_data() -> None:
    model, x, y, _, _ = seed004_example()
    data = (np.stack([x, x * 2]), np.stack([y, y]))
    text = run_explain(model=model, dataset=data, index=0, loss="quadratic")
    assert fmt9(H["E"])[:8] in text  # 6 significant digits by default
    assert run_explain(
        model="seed.gn", dataset=data, index=1, loader=lambda path: model
    ).startswith("Backpropagation, traced")
    with pytest.raises(InvalidArgumentError):
        run_explain(model=model)  # no dataset
    with pytest.raises(InvalidArgumentError):
        run_explain(model=model, dataset=data, index=5)


def test_untraceable_models_name_the_layer() -> None:
    class Custom(Layer):
        def forward(self, x):  # type: ignore[no-untyped-def]
            return x

    model = Sequential([Dense(2, "sigmoid", input_dim=2), Custom(name="mystery"), Dense(1)])
    with pytest.raises(NotTraceableError, match="mystery.*not traceable yet"):
        backprop(model, [0.1, 0.2], [1.0], loss="quadratic")
    model = Sequential([Dense(2, input_dim=2), Rescaling(2.0, name="scale"), Dense(1)])
    with pytest.raises(NotTraceableError, match="scale"):
        backprop(model, [0.1, 0.2], [1.0], loss="quadratic")
    with pytest.raises(NotTraceableError, match="Model"):
        backprop(Model(), [0.1], [1.0], loss="quadratic")
    model, x, y, _, _ = seed004_example()
    model.loss = None
    with pytest.raises(InvalidArgumentError, match="loss"):
        backprop(model, x, y)


def test_flatten_dropout_and_rescaling_are_traced_through() -> None:
    gn.seed(0)
    model = Sequential(
        [
            Flatten(input_shape=(2, 2)),
            Rescaling(0.5),
            Dense(3, "tanh"),
            Dropout(0.5),
            Dense(2, "sigmoid"),
        ]
    )
    x = np.array([[0.2, -0.4], [0.6, 0.8]])
    t = backprop(model, x, [0.0, 1.0], loss="quadratic")
    assert t.single and t.layer(1).a_prev.shape == (4,)
    np.testing.assert_allclose(t.layer(1).a_prev, x.reshape(-1) * 0.5)
    assert any("Dropout" in n for n in t.layer(1).notes)
    assert any("Flatten" in n for n in t.notes)
    t.check(rtol=1e-10)
    assert model.training  # the model's own mode is left alone
