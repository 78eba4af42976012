"""explain.diagram (issue 17): a neuron-level SVG of the network, without Graphviz."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from glassnet.errors import InvalidArgumentError
from glassnet.explain import backprop, diagram, forward, seed004_example
from glassnet.nn.layers import Dense
from glassnet.training.model import Sequential

SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter(f"{SVG}text")]


@pytest.fixture(scope="module")
def trace():  # type: ignore[no-untyped-def]
    model, x, y, loss, lr = seed004_example()
    return backprop(model, x, y, loss=loss, learning_rate=lr)


def test_values_on_neurons_and_weights_on_edges(trace) -> None:  # type: ignore[no-untyped-def]
    svg = diagram(trace)
    root = ET.fromstring(svg)
    assert root.get("width") == "1200"  # slide width
    texts = _texts(svg)
    assert len(root.findall(f"{SVG}circle")) == 6 and len(root.findall(f"{SVG}line")) == 8
    assert "w²₁₁ = 0.4" in texts and "w¹₂₁ = 0.25" in texts
    assert f"a={trace.layer(1).a[0]:.4g}" in texts and "0.05" in texts


def test_gradients_in_seed_004s_names(trace) -> None:  # type: ignore[no-untyped-def]
    texts = _texts(diagram(trace, show="gradients", notation="seed004"))
    assert f"∂E/∂w5 = {trace.layer(2).grad_W[0, 0]:.4g}" in texts
    assert f"∂E/∂w4 = {trace.layer(1).grad_W[1, 1]:.4g}" in texts
    assert {"i1", "i2", "h1", "h2", "o1", "o2"} <= set(texts)
    assert f"δ={trace.layer(2).delta[0]:.4g}" in texts


def test_a_wide_layer_is_elided_and_unlabelled() -> None:
    model = Sequential(
        [Dense(32, activation="relu", input_dim=784), Dense(10, activation="softmax")]
    )
    model.build((784,))
    svg = diagram(forward(model, np.random.default_rng(0).random(784)))
    texts = _texts(svg)
    assert texts.count("⋮") == 3
    assert not any(t.startswith("w") and "=" in t for t in texts)  # too many edges to label
    assert "layer 0 (input, 784)" in texts


def test_bad_arguments(trace) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgumentError, match="show"):
        diagram(trace, show="both")
    model, x, _, _, _ = seed004_example()
    with pytest.raises(InvalidArgumentError, match="forward trace has no δ"):
        diagram(forward(model, x), show="gradients")


def test_a_convolution_trace_is_refused_in_one_sentence() -> None:
    """A ConvTrace has stages of feature maps, not neurons: diagram names what it received and
    where those numbers are shown (it raised AttributeError: 'in_features' before)."""
    from glassnet.explain import conv_example

    model, x, label, loss = conv_example()
    with pytest.raises(InvalidArgumentError) as info:
        diagram(backprop(model, x, label, loss=loss))
    message = str(info.value)
    assert message.startswith("diagram: trace must be") and "ConvTrace" in message
    assert "to_html()" in message and "\n" not in message
