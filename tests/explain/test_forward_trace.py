"""explain.forward (issue 17): a forward-only trace, no dummy target needed."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet.errors import InvalidArgumentError
from glassnet.explain import backprop, forward, seed004_example
from glassnet.nn.layers import Dense
from glassnet.training.model import Sequential


def sig(v: float) -> float:
    return 1 / (1 + np.exp(-v))


def test_seed004_forward_pass_by_hand() -> None:
    model, x, y, loss, _ = seed004_example()
    trace = forward(model, x)
    out_h1 = sig(0.15 * 0.05 + 0.20 * 0.10 + 0.35)
    out_h2 = sig(0.25 * 0.05 + 0.30 * 0.10 + 0.35)
    out_o1 = sig(0.40 * out_h1 + 0.45 * out_h2 + 0.60)
    np.testing.assert_allclose(trace.layer(1).a, [out_h1, out_h2], rtol=1e-12)
    assert trace.output[0] == pytest.approx(out_o1, rel=1e-12)
    assert trace.max_discrepancy < 1e-12
    # the same numbers as the full trace's forward half
    full = backprop(model, x, y, loss=loss)
    np.testing.assert_allclose(trace.layer(2).z, full.layer(2).z, rtol=1e-15)
    text = trace.to_text(precision=9)
    assert "z² = W²a¹ + b²" in text and "0.751365" in text
    assert "BP1" not in text and "cost" not in text
    assert "z³ = w³a² + b³" in trace.to_text(notation="seed000")
    assert "<math" in trace.to_html() and "\\begin{bmatrix}" in trace.to_markdown()
    data = trace.to_dict()
    assert data["output"] == pytest.approx([out_o1, trace.output[1]])


def test_a_batch_through_relu_and_softmax_matches_predict() -> None:
    rng = np.random.default_rng(0)
    model = Sequential([Dense(6, activation="relu", input_dim=4), Dense(3, activation="softmax")])
    model.build((4,))
    x = rng.normal(size=(5, 4)).astype(np.float32)
    trace = forward(model, x)
    np.testing.assert_allclose(trace.output, model.predict(x), rtol=1e-5)
    np.testing.assert_allclose(trace.output.sum(axis=1), 1.0, rtol=1e-12)
    with pytest.raises(InvalidArgumentError, match="from 1 to 2"):
        trace.layer(3)


def test_a_convolutional_network_is_sent_to_backprop_in_one_sentence() -> None:
    """forward follows Dense chains; for a convnet it said "backprop: layer 'conv' (Conv2D) is
    not traceable yet; the trace follows ... Conv2D ..." — another function's name, and a list
    naming the very layer it refused."""
    from glassnet.errors import NotTraceableError
    from glassnet.explain import conv_example

    model, x, _, _ = conv_example()
    with pytest.raises(NotTraceableError) as info:
        forward(model, x)
    message = str(info.value)
    assert message.startswith("forward: layer 'conv' (Conv2D) belongs to a convolutional")
    assert "backprop(model, x, y)" in message and "not traceable yet" not in message
