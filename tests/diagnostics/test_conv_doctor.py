"""Issue 16, item 4: the doctor judges convolutions per filter.

Telemetry's per-filter statistics (share of z ≤ 0, saturated share, ‖∂C/∂W‖, mean |δ|) are
checked against PyTorch's conv2d and autograd on the same batch and weights, on the fast step
and the graph, in both data layouts; the rules name exactly the filters made dead (a very
negative bias under ReLU) or saturated (a large bias under tanh), and stay quiet on healthy
convnets.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import Doctor, Finding, diagnose
from glassnet.diagnostics.conv_rules import FILTER_WARNING_SHARE
from glassnet.diagnostics.rules import RunView
from glassnet.layers import (
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Flatten,
    GlobalAveragePooling1D,
    MaxPooling2D,
)
from glassnet.optim import Adam
from glassnet.training import Sequential


def _digits(n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    (x, y), _ = gn.datasets.load("digits")
    x = (x / 16.0).astype("float32")[..., None]
    return (x, y) if n is None else (x[:n], y[:n])


def _convnet(filters: int, activation: str, **conv: object) -> Sequential:
    return Sequential(
        [
            Conv2D(filters, 3, activation=activation, input_shape=(8, 8, 1), **conv),
            MaxPooling2D(2),
            Flatten(),
            Dense(10, activation="softmax"),
        ]
    )


def _fit(model: Sequential, epochs: int = 2, lr: float = 0.005, **kwargs: object):
    optimizer = Adam(learning_rate=lr)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _digits(600)
    return model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, telemetry=5, **kwargs)


def _named_filters(finding: Finding) -> list[int]:
    match = re.search(
        r"\((?:filters?) ([\d, and]+?)(?: and \d+ more)?, counted from 0", finding.evidence
    )
    assert match, finding.evidence
    return [int(i) for i in re.split(r", | and ", match.group(1))]


def _only(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


# ---------------------------------------------------------------------------------------------
# telemetry per filter against PyTorch
# ---------------------------------------------------------------------------------------------
def _torch_reference(x, W, b, y, activation):
    """Per-filter statistics of the first step, computed by PyTorch from the same weights."""
    torch = pytest.importorskip("torch")
    xt = torch.tensor(np.moveaxis(x, -1, 1), dtype=torch.float64)  # (N, C, H, W)
    Wt = torch.tensor(np.transpose(W, (3, 2, 0, 1)), dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    z = torch.nn.functional.conv2d(xt, Wt, bt)
    z.retain_grad()
    a = torch.relu(z) if activation == "relu" else torch.tanh(z)
    logits_layer = a.flatten(1)
    return torch, z, a, logits_layer, Wt


def _one_step(data_format: str, activation: str, fused: bool):
    rng = np.random.default_rng(3)
    n, filters = 16, 4
    x = rng.normal(size=(n, 6, 6, 2))
    y = rng.integers(0, 3, size=n)
    gn.seed(1)
    shape = (6, 6, 2) if data_format == "channels_last" else (2, 6, 6)
    model = Sequential(
        [
            Conv2D(
                filters,
                3,
                activation=activation,
                input_shape=shape,
                data_format=data_format,
                dtype="float64",
            ),
            Flatten(),
            Dense(3, activation="softmax", dtype="float64"),
        ]
    )
    conv, dense = model.layers[0], model.layers[2]
    conv.b.data[:] = [0.0, -0.4, 0.3, 3.5]  # a partly silent and a mostly saturated filter
    W0, b0 = conv.W.data.copy(), conv.b.data.copy()
    Wd, bd = dense.W.data.copy(), dense.b.data.copy()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", fused=fused)
    xin = x if data_format == "channels_last" else np.moveaxis(x, -1, 1)
    history = model.fit(
        xin, y, epochs=1, batch_size=n, shuffle=False, verbose=0, telemetry=1, doctor=False
    )
    return history.telemetry, x, y, W0, b0, Wd, bd


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("fused", [True, False], ids=["fast", "graph"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_per_filter_statistics_equal_pytorch(data_format, fused, activation):
    tel, x, y, W0, b0, Wd, bd = _one_step(data_format, activation, fused)
    torch, z, a, flat, Wt = _torch_reference(x, W0, b0, y, activation)
    # Flatten follows glassnet's layout: channels-last rows (or channels-first) before Dense.
    a_layout = a.permute(0, 2, 3, 1) if data_format == "channels_last" else a
    logits = a_layout.flatten(1) @ torch.tensor(Wd).T + torch.tensor(bd)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y))
    loss.backward()
    n = len(x)
    zn = z.detach().numpy()  # (N, F, H, W)
    per = {k: np.asarray(v[0]) for k, v in tel.filters["conv2d"].items()}
    expect_grad = np.sqrt((Wt.grad.numpy() ** 2).sum(axis=(1, 2, 3)))
    expect_delta = np.abs(n * z.grad.numpy()).mean(axis=(0, 2, 3))
    np.testing.assert_allclose(per["grad_norm"], expect_grad, rtol=1e-10)
    np.testing.assert_allclose(per["mean_abs_delta"], expect_delta, rtol=1e-10)
    if activation == "relu":
        np.testing.assert_array_equal(per["zero_fraction"], (zn <= 0).mean(axis=(0, 2, 3)))
        assert np.isnan(per["saturated_fraction"]).all()
        assert 0 < per["zero_fraction"][1] < 1  # the check sees a real mixture
    else:
        prime = 1.0 - np.tanh(zn) ** 2
        np.testing.assert_array_equal(
            per["saturated_fraction"], (prime < 0.05).mean(axis=(0, 2, 3))
        )
        assert np.isnan(per["zero_fraction"]).all()
        assert per["saturated_fraction"][3] > 0.5
    assert tel.layer_info["conv2d"]["units"] == 4
    assert tel.layer_info["conv2d"]["filters"] == 4


def test_filter_axis_of_the_transposed_and_1d_convolutions():
    """Conv2DTranspose keeps its filters on W's axis -2, Conv1D on -1: a dead filter has zero
    gradient exactly there."""
    rng = np.random.default_rng(0)
    for kind, shape, dead in ((Conv2DTranspose, (4, 4, 3), 2), (Conv1D, (9, 3), 4)):
        gn.seed(0)
        layer = kind(5, 3, activation="relu", input_shape=shape)
        head = Flatten() if kind is Conv2DTranspose else GlobalAveragePooling1D()
        model = Sequential([layer, head, Dense(2, activation="softmax")])
        layer.b.data[dead] = -100.0
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        x = rng.normal(size=(8, *shape)).astype("float32")
        history = model.fit(x, rng.integers(0, 2, 8), epochs=1, verbose=0, telemetry=1)
        per = {k: np.asarray(v[0]) for k, v in history.telemetry.filters[layer.name].items()}
        assert per["grad_norm"].shape == (5,)
        assert per["grad_norm"][dead] == 0 and (np.delete(per["grad_norm"], dead) > 0).all()
        assert per["zero_fraction"][dead] == 1.0


# ---------------------------------------------------------------------------------------------
# the rules
# ---------------------------------------------------------------------------------------------
def test_the_doctor_names_exactly_the_dead_filters():
    gn.seed(0)
    model = _convnet(8, "relu")
    model.layers[0].b.data[[1, 3]] = -100.0
    history = _fit(model, callbacks=[Doctor(verbose=0)])
    dead = _only(history.findings, "dead_filters")
    assert len(dead) == 1
    assert dead[0].layer == "conv2d"
    assert _named_filters(dead[0]) == [1, 3]
    assert "2 of 8" in dead[0].evidence and "is 0" in dead[0].evidence
    assert dead[0].severity == "warning"  # 2 of 8 is more than FILTER_WARNING_SHARE
    assert 2 / 8 > FILTER_WARNING_SHARE
    # The post-hoc diagnosis agrees; the Dense rules leave the convolution to these rules.
    again = diagnose(history, model)
    assert [(f.rule, f.layer, f.evidence) for f in again if f.rule == "dead_filters"] == [
        (dead[0].rule, dead[0].layer, dead[0].evidence)
    ]
    assert not [f for f in again if f.rule in ("dead_relu", "saturation") and f.layer == "conv2d"]


def test_one_dead_filter_of_many_is_information():
    gn.seed(0)
    model = _convnet(16, "relu")
    model.layers[0].b.data[7] = -100.0
    dead = _only(diagnose(_fit(model, lr=0.001), model), "dead_filters")
    assert [(_named_filters(f), f.severity) for f in dead] == [([7], "info")]


def test_the_doctor_names_exactly_the_saturated_tanh_filters():
    gn.seed(0)
    model = _convnet(8, "tanh")
    model.layers[0].b.data[[0, 2]] = 10.0  # tanh'(z) ≈ 8e-9 there
    findings = diagnose(_fit(model), model)
    saturated = _only(findings, "saturated_filters")
    assert len(saturated) == 1
    assert saturated[0].layer == "conv2d"
    assert _named_filters(saturated[0]) == [0, 2]
    assert not _only(findings, "dead_filters")


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_a_healthy_convnet_has_no_filter_finding(activation):
    gn.seed(0)
    init = "he_normal" if activation == "relu" else "glorot_uniform"
    model = _convnet(8, activation, kernel_initializer=init)
    history = _fit(model, epochs=3)
    findings = diagnose(history, model)
    assert not [f for f in findings if f.rule in ("dead_filters", "saturated_filters")]
    # The statistics were there to judge: every filter fires somewhere.
    zero = np.asarray(history.telemetry.filters["conv2d"]["zero_fraction"])
    if activation == "relu":
        assert zero.shape[1] == 8 and (zero < 1).all()
    assert np.asarray(history.history["accuracy"])[-1] > 0.5  # it did learn


def test_unscaled_images_are_reported_at_the_convolution():
    """The first layer with telemetry is now the convolution: the inputs the doctor judges
    (and names) are the images it receives."""
    gn.seed(0)
    model = _convnet(4, "relu")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = _digits(300)
    history = model.fit(x * 255.0, y, epochs=1, verbose=0, telemetry=5)
    view = RunView.from_history(history, model)
    assert view.layer_names == ["dense"] and view.tapped_names == ["conv2d", "dense"]
    unscaled = _only(diagnose(history, model), "unscaled_inputs")
    assert unscaled and "reaching conv2d" in unscaled[0].evidence
    assert view.inputs["max_abs"][0] == pytest.approx(255.0)


def test_per_filter_telemetry_exports_and_trims():
    gn.seed(0)
    model = _convnet(3, "relu")
    history = _fit(model, epochs=1)
    tel = history.telemetry
    data = json.loads(tel.to_json())
    assert len(data["filters"]["conv2d"]["zero_fraction"]) == len(tel.sample_steps)
    assert all(len(row) == 3 for row in data["filters"]["conv2d"]["grad_norm"])
    # A sample cut short (a NaN loss) is dropped from the per-filter series too.
    tel.sample_steps.append(99)
    tel.sample_epochs.append(0)
    for values in tel.filters["conv2d"].values():
        values.append(np.zeros(3))
    tel.drop_incomplete_sample()
    assert len(tel.filters["conv2d"]["grad_norm"]) == len(tel.sample_steps)


def test_the_filter_rules_and_thresholds_are_documented():
    from pathlib import Path

    from glassnet.diagnostics import RULES, conv_rules

    text = (Path(__file__).resolve().parents[2] / "docs" / "diagnostics.md").read_text("utf-8")
    assert {"dead_filters", "saturated_filters"} <= set(RULES)
    for name in conv_rules.__all__:
        if name.isupper() and name != "CONV_RULES":
            assert isinstance(getattr(conv_rules, name), float)
            assert f"`{name}`" in text, f"docs/diagnostics.md does not explain {name}"
    for rule in conv_rules.CONV_RULES:
        assert f"`{rule}`" in text
