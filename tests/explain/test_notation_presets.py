"""Notation presets (issue 17): for the same quantity, each preset prints the label the seed
prints. The seeds' own words are quoted beside each test; the numbers never change."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from glassnet.errors import InvalidArgumentError
from glassnet.explain import backprop, seed004_example
from glassnet.explain.cli_support import run_explain
from glassnet.nn.layers import Dense
from glassnet.training.model import Sequential

# Seed 000 (Nielsen's notation), on the weights and the layers:
#   "記w^l_jk為第l−1層第k個神經元到第l層第j個神經元的權重"  (w^l_jk: from neuron k of
#   layer l−1 to neuron j of layer l), and its example network:
#   "第一層是輸入層,包含兩個神經元i1,i2,和截距項b1 第二層是隱含層" — the input is layer 1.
# Seed 001: "$w_{jk}^{(l)}$ 从 $l-1$ 层的第 $k$ 个神经元到第 $l$ 层的第 $j$ 个神经元之间的权重"
#   and "对于神经网络的各层前向的计算一遍结果， $l = 2, 3, \dots, L$ 。"
#   "$$\begin{cases} z^{(l)} = w^{(l)} a^{(l-1)} + b \\ a^{(l)} = \sigma(z^{(l)}) \end{cases}$$"
# Seed 004: "我们先来求最简单的,求误差E对w5的导数", "最后再求neto1对w5的导数",
#   "outh1对neth1的梯度".
# Seed 003: "h1 = f(np.dot(W1, x) + b1)  # 计算第一层" and "h2 = f(np/dot(W2, h1) + b2)".


@pytest.fixture(scope="module")
def deep():  # type: ignore[no-untyped-def]
    """Input, two hidden layers, output: glassnet's W¹, W², W³ are seed 000's w², w³, w⁴."""
    rng = np.random.default_rng(7)
    model = Sequential(
        [
            Dense(3, activation="sigmoid", input_dim=2, dtype="float64"),
            Dense(3, activation="sigmoid", dtype="float64"),
            Dense(2, activation="sigmoid", dtype="float64"),
        ]
    )
    model.build((2,))
    return backprop(model, rng.normal(size=2), [0.2, 0.9], loss="quadratic", learning_rate=0.5)


@pytest.fixture(scope="module")
def seed004():  # type: ignore[no-untyped-def]
    model, x, y, loss, lr = seed004_example()
    return backprop(model, x, y, loss=loss, learning_rate=lr)


def _block(text: str, head: str) -> str:
    """The lines of one step from its equation's first line to the next step."""
    start = text.index(head)
    return text[start : start + 600]


def _numbers(text: str) -> list[str]:
    return re.findall(r"-?\d+\.\d+", text)


def test_glassnet_is_the_default_and_says_so(deep) -> None:  # type: ignore[no-untyped-def]
    text = deep.to_text()
    assert text == deep.to_text(notation="glassnet")
    assert "Notation: glassnet's notation (the default): the input is layer 0" in text
    assert "the input is the activation of layer 0" in text
    assert "z² = W²a¹ + b²" in text
    with pytest.raises(InvalidArgumentError, match="notation must be one of"):
        deep.to_text(notation="seed002")


def test_seed000_counts_the_input_as_layer_1(deep) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = deep.to_text(), deep.to_text(notation="seed000")
    assert "the input is the activation of layer 1" in theirs
    # the same quantity: glassnet's z² = W²a¹ + b² is seed 000's z³ = w³a² + b³
    assert "z³ = w³a² + b³" in theirs
    assert _numbers(_block(ours, "z² = W²a¹ + b²")) == _numbers(_block(theirs, "z³ = w³a² + b³"))
    # BP4, entry by entry, in seed 000's words: ∂C/∂w³_jk = a²_k δ³_j
    assert "∂C/∂w³ⱼₖ = a²ₖδ³ⱼ" in theirs and "∂C/∂w²ⱼₖ = a¹ₖδ²ⱼ" in ours
    assert "Layer 4 (output layer" in theirs and "Layer 3 (output layer" in ours
    symbols = deep.to_dict(notation="seed000")["notation"]["symbols"]
    assert symbols[2]["W"]["text"] == "w³" and symbols[2]["l"] == 2
    assert symbols[0]["a"]["text"] == "a¹"


def test_seed001_writes_the_layer_in_parentheses(deep) -> None:  # type: ignore[no-untyped-def]
    md = deep.to_markdown(notation="seed001")
    assert "forward pass for l = 2, …, L" in md
    # seed 001's z^{(l)} = w^{(l)} a^{(l-1)} + b, here for l = 3 (glassnet's layer 2)
    assert r"z^{(3)} &= w^{(3)} a^{(2)} + b^{(3)}" in md
    assert r"\partial w_{jk}^{(3)}}" in md  # as seed 001 writes w_{jk}^{(l)}
    text = deep.to_text(notation="seed001")
    assert "z⁽³⁾ = w⁽³⁾a⁽²⁾ + b⁽³⁾" in text


def test_seed004_names_i_h_o_net_out_and_w1_to_w8(seed004) -> None:  # type: ignore[no-untyped-def]
    text = seed004.to_text(notation="seed004", weights=["w5"], precision=9)
    assert "netₒ = Wₒoutₕ + b₂" in text  # net_o1 = w5·out_h1 + w6·out_h2 + b2, as vectors
    assert "netₕ = Wₕi + b₁" in text
    assert "∂E/∂w5 = 0.0821670406 ✓" in text  # "求误差E对w5的导数"
    assert "∂netₒ₁/∂w5 = outₕ₁ = 0.593269992" in text  # "neto1对w5的导数"
    assert "outₕ = σ(netₕ)" in text
    html = seed004.to_html(notation="seed004")
    assert "<mi>net</mi>" in html or "<mi>n</mi>" in html


def test_seed003_writes_w1_b1_and_h1(seed004) -> None:  # type: ignore[no-untyped-def]
    text = seed004.to_text(notation="seed003")
    # "h1 = f(np.dot(W1, x) + b1)": z₁ = W₁x + b₁, then h₁ = σ(z₁)
    assert "z₁ = W₁x + b₁" in text and "h₁ = σ(z₁)" in text
    assert "z₂ = W₂h₁ + b₂" in text  # "h2 = f(np/dot(W2, h1) + b2)"


@pytest.mark.parametrize("name", ["glassnet", "seed000", "seed001", "seed003", "seed004"])
def test_every_renderer_and_the_command_take_the_preset(name: str) -> None:
    data = json.loads(run_explain(format="json", notation=name))
    assert data["notation"]["name"] == name
    page = run_explain(format="html", notation=name)
    assert f"in {name} notation" in page
    assert f"notation={name!r}" in run_explain(format="markdown", notation=name)
    # numbers never depend on the names
    assert data["cost"] == pytest.approx(0.298371109, abs=1e-9)
