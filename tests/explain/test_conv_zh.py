"""Chinese for the convolution trace (issue 17, build item 2): `glassnet explain --example conv
--lang zh` and a trace rendered with lang="zh" are Chinese — no English sentence left, the same
numbers as the English — and every message they look up is in the catalogue."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _zh import english_left
from glassnet import i18n
from glassnet.explain import backprop, conv_example
from glassnet.layers import (
    Activation,
    AveragePooling2D,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Flatten,
    UpSampling2D,
    ZeroPadding2D,
)
from glassnet.training import Sequential

SRC = Path(__file__).resolve().parents[2] / "src"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")
# The trace's step tags (like BP1, forward), its layer kinds in the network's description and
# the libraries it names: names, not sentences.
TAGS = {"conv", "back", "pool", "maxpool", "avgpool", "bn", "batchnorm", "route", "shape"}
TAGS |= {"keras", "pytorch", "mean", "max", "mask", "activation", "flatten", "pad", "rot"}
TAGS |= {"gamma", "beta"}  # batch normalisation's parameters, named as in the layer
TAGS |= {"averagepool", "meanpool", "json"}  # the pooling's function, the format
# the transposed convolution's and the upsampling's functions, and the kinds of layer as the
# network's description names them ("transposed conv", "zero padding", "upsampling")
TAGS |= {"crop", "spread", "up", "transposed", "zero", "padding", "upsampling"}


def _left(text: str) -> list[str]:
    return [w for w in english_left(text) if w.lower() not in TAGS]


def _explain(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "glassnet", "explain", *args],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("example", ["conv", "conv-bn", "conv-up"])
def test_the_command_explains_the_conv_example_in_chinese(example: str) -> None:
    text = _explain("--example", example, "--lang", "zh")
    english = _explain("--example", example)
    assert text.startswith("一个小型卷积网络：一幅 6×6 的图像，两个 3×3 的卷积核")
    for heading in ("输入", "前向传播", "反向传播", "结论：方程与引擎一致"):
        assert heading in text, heading
    assert "第 1 层（卷积，'conv'）：1×6×6 → 2×4×4, σ = " in text
    assert "卷积核 1 的一个位置：输入在 [1, 1] 处的窗口，用卷积核加权" in text
    assert _left(text) == [], _left(text)
    assert "FORWARD PASS" in english and "Layer 1 (convolution, 'conv')" in english
    # The same numbers, wherever each language puts them.
    assert sorted(NUMBER.findall(text)) == sorted(NUMBER.findall(english))
    for fmt in ("markdown", "html"):
        page = _explain("--example", example, "--lang", "zh", "--format", fmt)
        assert "卷积层 l（卷积核 f，输入通道 c）、池化和批归一化的公式：" in page
        assert _left(page) == [], (fmt, _left(page))
    data = json.loads(_explain("--example", example, "--lang", "zh", "--format", "json"))
    assert data["title"].startswith("一个小型卷积网络")


def _wider_trace():  # type: ignore[no-untyped-def]
    """Two samples of 2 channels, 'same' padding, a separate activation, average pooling: the
    branches the small example does not take."""
    rng = np.random.default_rng(0)
    model = Sequential(
        [
            Conv2D(5, 3, padding="same", input_shape=(5, 5, 2), dtype="float64"),
            Activation("tanh"),
            AveragePooling2D(2),
            Flatten(),
            Dense(3, activation="softmax", dtype="float64"),
        ]
    )
    model.build((5, 5, 2))
    x = rng.normal(size=(2, 5, 5, 2))
    return backprop(model, x, [0, 2], "sparse_categorical_crossentropy", 0.1)


def _transposed_trace():  # type: ignore[no-untyped-def]
    """Conv2DTranspose (stride 2, 'same', an odd crop), ZeroPadding2D and UpSampling2D, two
    samples."""
    rng = np.random.default_rng(1)
    model = Sequential(
        [
            Conv2DTranspose(2, 2, strides=2, padding="same", activation="tanh", dtype="float64"),
            ZeroPadding2D(((1, 0), (0, 1))),
            UpSampling2D((2, 1)),
            Flatten(),
            Dense(2, activation="softmax", dtype="float64"),
        ]
    )
    model.build((2, 3, 2))
    x = rng.normal(size=(2, 2, 3, 2))
    return backprop(model, x, [0, 1], "sparse_categorical_crossentropy", 0.1)


def test_every_message_of_the_chinese_conv_traces_is_translated() -> None:
    traces = [backprop(*conv_example()[:3], loss=conv_example()[3], learning_rate=0.1)]
    net, x, y, loss = conv_example(batchnorm=True)
    traces.append(backprop(net, x, y, loss=loss, learning_rate=0.1))
    traces.append(_wider_trace())
    traces.append(_transposed_trace())
    for trace in traces:
        for render in (trace.to_text, trace.to_markdown, trace.to_html):
            zh, en = render(lang="zh"), render()
            assert _left(zh) == [], (render.__name__, _left(zh))
            assert english_left(en)  # the English stays English
        notes = json.dumps(trace.to_dict(lang="zh"), ensure_ascii=False)
        assert "σ comes from" not in notes
    wide = traces[2].to_text(lang="zh")
    transposed = traces[3].to_text(lang="zh")
    assert "第 1 层（转置卷积，'conv2d_transpose'）" in transposed
    assert "转置卷积，步幅 (2, 2)，膨胀率 (1, 1)" in transposed
    assert "补零：每张特征图上方补 1 行零" in transposed
    assert "上采样（最近邻），倍数 (2, 1)" in transposed
    assert "'same' 填充：每张输入特征图在上方补 1 行零" in wide
    assert "卷积核 5 的带权输入" not in wide  # 4 filters in full, then a note
    assert "第 1 层的卷积核 5–5 以同样的方式计算和核对" in wide
    assert "σ 来自 'conv2d' 之后单独的一层 'tanh'（tanh）。" in wide
    assert {m for lang, m in i18n.untranslated() if lang == "zh"} == set()
