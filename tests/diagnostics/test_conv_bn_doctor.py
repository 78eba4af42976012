"""The doctor judges the filters of Conv → BatchNormalization → Activation blocks on the
activation after the normalisation (telemetry sees only the convolution's own, linear z):
a filter made dead by a very negative β under ReLU, or saturated by a large β under tanh, is
named — by the Doctor given a batch, by diagnose(x=...) and in the report — and nothing is
found on a healthy block; the per-filter shares equal PyTorch's conv2d → batch_norm →
activation on the same batch and weights."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import Doctor, Finding, diagnose, report
from glassnet.diagnostics.conv_rules import bn_blocks, probe_blocks
from glassnet.errors import InvalidArgumentError
from glassnet.layers import (
    Activation,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Dense,
    Flatten,
    MaxPooling2D,
)
from glassnet.optim import Adam
from glassnet.training import Sequential


def _digits(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    (x, y), _ = gn.datasets.load("digits")
    return (x / 16.0).astype("float32")[..., None][:n], y[:n]


def _block_net(activation: str, filters: int = 4, fmt: str = "channels_last") -> Sequential:
    shape = (8, 8, 1) if fmt == "channels_last" else (1, 8, 8)
    model = Sequential(
        [
            Conv2D(filters, 3, input_shape=shape, data_format=fmt),
            BatchNormalization(axis=-1 if fmt == "channels_last" else 1),
            Activation(activation),
            MaxPooling2D(2, data_format=fmt),
            Flatten(),
            Dense(10, activation="softmax"),
        ]
    )
    model.build(shape)
    model.compile(optimizer=Adam(learning_rate=0.005), loss="sparse_categorical_crossentropy")
    return model


def _named_filters(finding: Finding) -> list[int]:
    match = re.search(r"\(filters? ([\d, and]+?), counted from 0", finding.evidence)
    assert match, finding.evidence
    return [int(i) for i in re.split(r", | and ", match.group(1))]


def _only(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


def test_the_doctor_names_the_filter_a_negative_beta_kills_after_bn_and_relu() -> None:
    x, y = _digits()
    model = _block_net("relu")
    model.layers[1].beta.data[2] = -100.0  # γ x̂ + β < 0 for every position and sample
    doctor = Doctor(x=x[:256], verbose=0)
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0, telemetry=5, callbacks=[doctor])
    dead = _only(history.findings, "dead_filters")
    assert len(dead) == 1 and dead[0].layer == "conv2d", [f.evidence for f in dead]
    assert _named_filters(dead[0]) == [2]
    assert "after batch_normalization and relu" in dead[0].evidence
    assert "256 inputs" in dead[0].evidence
    assert dead[0].epoch == 0  # found at the first epoch end
    assert dead[0].severity == "warning"  # 1 of 4 filters: more than 10 %
    # post hoc: the same finding with a batch, none without (telemetry sees a linear z)
    with_x = _only(diagnose(history, model, x=x), "dead_filters")
    assert [_named_filters(f) for f in with_x] == [[2]]
    assert _only(diagnose(history, model), "dead_filters") == []
    zh = _only(diagnose(history, model, x=x, lang="zh"), "dead_filters")
    assert "在 batch_normalization 和 relu 之后已经死亡" in zh[0].evidence


def test_a_saturated_tanh_filter_after_bn_is_named_and_a_healthy_block_is_quiet() -> None:
    x, y = _digits(300)
    model = _block_net("tanh", filters=6)
    history = model.fit(x, y, epochs=1, batch_size=32, verbose=0, telemetry=5)
    healthy = diagnose(history, model, x=x)
    assert _only(healthy, "saturated_filters") == [] and _only(healthy, "dead_filters") == []
    model.layers[1].beta.data[[1, 4]] = [25.0, -25.0]  # tanh' ≈ 0 on both sides
    found = _only(diagnose(history, model, x=x), "saturated_filters")
    assert len(found) == 1 and _named_filters(found[0]) == [1, 4]
    assert "after batch_normalization and tanh" in found[0].evidence


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_the_probe_equals_pytorch_conv_batch_norm_activation(fmt: str, activation: str) -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    model = _block_net(activation, filters=5, fmt=fmt)
    bn = model.layers[1]
    bn.gamma.data[...] = rng.normal(1.0, 2.0, size=5)
    bn.beta.data[...] = rng.normal(0.0, 2.0, size=5)
    x = rng.random((40, *model.input_shape)).astype("float32")
    probe = probe_blocks(model, x)["conv2d"]
    conv = model.layers[0]
    xt = torch.tensor(np.asarray(x, dtype=np.float64))
    if fmt == "channels_last":
        xt = xt.permute(0, 3, 1, 2)
    W = torch.tensor(np.asarray(conv.W.data, dtype=np.float64)).permute(3, 2, 0, 1)
    z = F.conv2d(xt, W, torch.tensor(np.asarray(conv.b.data, dtype=np.float64)))
    gamma = torch.tensor(np.asarray(bn.gamma.data, dtype=np.float64))
    beta = torch.tensor(np.asarray(bn.beta.data, dtype=np.float64))
    y = F.batch_norm(z, None, None, gamma, beta, training=True, eps=bn.epsilon)
    if activation == "relu":
        expected = (F.relu(y) == 0).double().mean(dim=(0, 2, 3)).numpy()
        np.testing.assert_array_equal(probe["zero_fraction"], expected)
        assert np.isnan(probe["saturated_fraction"]).all()
    else:
        a = torch.sigmoid(y)
        expected = (a * (1 - a) < 0.05 * 0.25).double().mean(dim=(0, 2, 3)).numpy()
        np.testing.assert_array_equal(probe["saturated_fraction"], expected)
    assert probe["samples"] == 40 and probe["activation"] == activation


def test_only_conv_bn_activation_blocks_are_probed_and_bad_batches_refused() -> None:
    plain = Sequential(
        [Conv2D(2, 3, activation="relu", input_shape=(8, 8, 1)), Flatten(), Dense(2, "softmax")]
    )
    plain.build((8, 8, 1))
    assert bn_blocks(plain) == [] and probe_blocks(plain, np.zeros((2, 8, 8, 1))) == {}
    seq = Sequential(
        [
            Conv1D(3, 2, input_shape=(9, 2)),
            BatchNormalization(),
            Activation("relu"),
            Flatten(),
            Dense(2, "softmax"),
        ]
    )
    seq.build((9, 2))
    seq.layers[1].beta.data[0] = -100.0
    probe = probe_blocks(seq, np.random.default_rng(0).normal(size=(8, 9, 2)))
    np.testing.assert_array_equal(probe["conv1d"]["zero_fraction"] == 1.0, [True, False, False])
    with pytest.raises(InvalidArgumentError, match="Doctor: x must be a batch"):
        Doctor(x="images")
    with pytest.raises(InvalidArgumentError, match="received"):
        Doctor(x=np.zeros((0, 8, 8, 1)))


def test_the_report_names_and_outlines_the_dead_block_filter(tmp_path: Path) -> None:
    x, y = _digits(300)
    model = _block_net("relu")
    model.layers[1].beta.data[1] = -100.0
    history = model.fit(x, y, epochs=1, batch_size=32, verbose=0, telemetry=5)
    page = report(history, model, tmp_path / "r.html", x=x[:200], y=y[:200]).read_text()
    assert "1 of 4 filters of conv2d are dead after batch_normalization and relu" in page
    assert "1 · dead" in page  # the filter's tile is outlined and captioned


def test_the_report_draws_a_conv1d_s_filters_and_maps_as_strips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 40, 2)).astype("float32")
    y = (x[:, :, 0].mean(axis=1) > 0).astype(int)
    model = Sequential(
        [
            Conv1D(4, 5, input_shape=(40, 2)),
            BatchNormalization(),
            Activation("relu"),
            Conv1D(3, 3, activation="relu"),
            Flatten(),
            Dense(2, activation="softmax"),
        ]
    )
    model.build((40, 2))
    model.layers[1].beta.data[3] = -100.0
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=1, batch_size=32, verbose=0, telemetry=5)
    page = report(history, model, tmp_path / "r.html", x=x[:50], y=y[:50]).read_text()
    assert "Filters of <code>conv1d</code>: 4 filters of 1×5 on 2 input channels" in page
    assert page.count("data-filter=") == 8  # a strip per filter and input channel
    assert "batch_normalization → relu): 4 maps of 1×36" in page  # the block's output
    assert "the second convolution, relu): 3 maps of 1×34" in page
    assert page.count('data-layer="conv1d" data-map=') == 4
    assert "3 · dead" in page and "strip of one row" in page
    strip = re.search(r'alt="conv1d map 0" width="(\d+)" height="(\d+)"', page)
    assert strip and int(strip.group(2)) >= 12 and int(strip.group(1)) > 36  # visible
