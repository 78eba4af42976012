"""Random networks: the equation-based trace agrees with the autograd engine to 1e-10.

Depth 1–6, every activation of glassnet.functional.KERNELS (softmax only as the output
layer), every loss with targets it accepts, float64, batch sizes 1 and 3. And a wrong σ',
planted in a test double, is caught by check().
"""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses
from glassnet.errors import GradcheckError
from glassnet.explain import backprop
from glassnet.functional.activations import KERNELS
from glassnet.nn.layers import Activation, Dense, Sigmoid
from glassnet.training.model import Sequential

HIDDEN = [name for name in KERNELS if name != "softmax"]
OUTPUTS = {
    "quadratic": list(KERNELS),
    "mse": list(KERNELS),
    "mae": list(KERNELS),
    "binary_crossentropy": ["sigmoid", "softmax"],
    "categorical_crossentropy": ["softmax", "sigmoid"],
    "sparse_categorical_crossentropy": ["softmax", "sigmoid"],
}
LOGIT_LOSSES = [
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
]


def make_loss(name: str, from_logits: bool) -> losses.Loss:
    loss = losses.get(name)
    return type(loss)(from_logits=True) if from_logits else loss


def targets(name: str, rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    if name == "sparse_categorical_crossentropy":
        return rng.integers(0, k, size=n)
    if name == "categorical_crossentropy":
        return np.eye(k)[rng.integers(0, k, size=n)]
    if name == "binary_crossentropy":
        return rng.uniform(size=(n, k))
    return rng.normal(size=(n, k))


def random_model(rng: np.random.Generator, depth: int, output: str, start: int) -> Sequential:
    sizes = [int(rng.integers(2, 6)) for _ in range(depth + 1)]
    layers = []
    for i in range(depth):
        act = output if i == depth - 1 else HIDDEN[(start + i) % len(HIDDEN)]
        layers.append(
            Dense(sizes[i + 1], act, input_dim=sizes[0] if i == 0 else None, dtype="float64")
        )
    model = Sequential(layers)
    for p in model.parameters():
        p.data[...] = rng.normal(0.0, 1.0, p.data.shape)
    return model


def scale_of(trace) -> float:  # type: ignore[no-untyped-def]
    """The largest gradient anywhere in the trace (for an atol on entries that are ~0)."""
    arrays = [trace.layers[-1].grad_a] + [
        a for lt in trace.layers for a in (lt.delta, lt.grad_W, lt.grad_b)
    ]
    return max(float(np.max(np.abs(a))) for a in arrays)


CASES = [(loss, False, out) for loss, outs in OUTPUTS.items() for out in outs] + [
    (loss, True, "linear") for loss in LOGIT_LOSSES
]


@pytest.mark.parametrize(
    "loss_name,from_logits,output", CASES, ids=[f"{a}-{'logits' if b else c}" for a, b, c in CASES]
)
def test_trace_agrees_with_engine(loss_name: str, from_logits: bool, output: str) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{loss_name}/{from_logits}/{output}".encode()))
    loss = make_loss(loss_name, from_logits)
    for case, (depth, n) in enumerate(itertools.product(range(1, 7), (1, 3))):
        model = random_model(rng, depth, output, start=case)
        k = model.layers[-1].units
        x = rng.normal(size=(n, model.layers[0].in_features))
        y = targets(loss_name, rng, n, k)
        trace = backprop(model, x[0] if n == 1 else x, y[0] if n == 1 else y, loss=loss)
        assert trace.batch_size == n and trace.single == (n == 1)
        # ≤ 1e-10 relative, entries that are zero up to rounding judged against the trace's
        # largest gradient
        trace.check(rtol=1e-10, atol=1e-14 * scale_of(trace))
        assert trace.max_discrepancy < 1e-8
        assert np.isfinite(trace.cost)
        assert trace.engine_cost == pytest.approx(trace.cost, rel=1e-12)


def test_every_activation_is_covered() -> None:
    depths = range(1, 7)
    used = {
        HIDDEN[(case + i) % len(HIDDEN)]
        for case, (depth, _) in enumerate(itertools.product(depths, (1, 3)))
        for i in range(depth - 1)
    }
    assert used == set(HIDDEN)
    assert {out for outs in OUTPUTS.values() for out in outs} == set(KERNELS)


def test_fused_rules_are_stated() -> None:
    rng = np.random.default_rng(0)
    model = random_model(rng, 2, "softmax", 0)
    y = np.array([1])
    t = backprop(
        model,
        rng.normal(size=model.layers[0].in_features),
        y,
        loss="sparse_categorical_crossentropy",
    )
    assert t.delta_rule == "softmax+crossentropy"
    np.testing.assert_allclose(
        t.layers[-1].delta, t.layers[-1].a - np.eye(model.layers[-1].units)[1], rtol=1e-15
    )
    assert "δᴸ = aᴸ − y" in t.to_text()
    model = random_model(rng, 2, "sigmoid", 0)
    k = model.layers[-1].units
    t = backprop(
        model,
        rng.normal(size=(3, model.layers[0].in_features)),
        rng.uniform(size=(3, k)),
        loss="binary_crossentropy",
    )
    assert t.delta_rule == "sigmoid+binary_crossentropy"
    np.testing.assert_allclose(t.layers[-1].delta, (t.layers[-1].a - t.y_matrix) / k, rtol=1e-14)
    model = random_model(rng, 2, "softmax", 0)
    t = backprop(
        model,
        rng.normal(size=model.layers[0].in_features),
        rng.normal(size=model.layers[-1].units),
        loss="quadratic",
    )
    assert t.delta_rule == "jacobian" and t.layers[-1].jacobian
    units = model.layers[-1].units
    assert t.layers[-1].sigma_prime.shape == (units, units)
    assert "Jacobian" in t.to_text()


class WrongSigmoid(Sigmoid):
    """A test double whose σ' is off by 10%: its forward (used by the engine) is right."""

    def derivative(self, z):  # type: ignore[no-untyped-def]
        return super().derivative(z) * 1.1


def test_a_wrong_sigma_prime_is_caught() -> None:
    rng = np.random.default_rng(3)
    model = Sequential(
        [Dense(3, "tanh", input_dim=2, dtype="float64"), Dense(2, dtype="float64"), WrongSigmoid()]
    )
    for p in model.parameters():
        p.data[...] = rng.normal(size=p.data.shape)
    trace = backprop(model, [0.3, -0.7], [0.2, 0.9], loss="quadratic")
    assert trace.max_discrepancy > 0.01
    assert not trace.ok
    with pytest.raises(GradcheckError, match="from the equations but"):
        trace.check()
    # the same network with a correct σ' passes
    model.layers[-1].__class__ = Sigmoid
    backprop(model, [0.3, -0.7], [0.2, 0.9], loss="quadratic").check()


def test_a_wrong_kernel_shared_with_the_engine_is_caught_by_central_differences(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Patching the kernel's σ' fools the engine too (it uses the same kernel); the central
    # differences of the trace's spot check are what notice.
    kernel = KERNELS["tanh"]
    monkeypatch.setattr(kernel, "_prime", lambda z, a: 1.0 - 0.9 * a * a)
    rng = np.random.default_rng(4)
    model = Sequential(
        [Dense(3, "tanh", input_dim=2, dtype="float64"), Dense(2, "sigmoid", dtype="float64")]
    )
    for p in model.parameters():
        p.data[...] = rng.normal(size=p.data.shape)
    trace = backprop(model, [0.5, -1.0], [0.0, 1.0], loss="quadratic")
    assert trace.max_discrepancy < 1e-12  # engine and equations share the mistake
    with pytest.raises(GradcheckError, match="central differences"):
        trace.check()


def test_an_activation_layer_after_a_linear_dense_is_its_sigma() -> None:
    rng = np.random.default_rng(5)
    model = Sequential(
        [
            Dense(3, input_dim=2, dtype="float64"),
            Activation("relu"),
            Dense(2, dtype="float64"),
            Activation("softmax"),
        ]
    )
    for p in model.parameters():
        p.data[...] = rng.normal(size=p.data.shape)
    t = backprop(
        model, rng.normal(size=(3, 2)), np.array([0, 1, 1]), loss="sparse_categorical_crossentropy"
    )
    assert [lt.activation for lt in t.layers] == ["relu", "softmax"]
    assert t.delta_rule == "softmax+crossentropy"
    t.check(rtol=1e-10)


def test_float32_models_are_traced_in_float64() -> None:
    gn.seed(0)
    rng = np.random.default_rng(6)
    model = Sequential([Dense(4, "relu", input_dim=3), Dense(3, "softmax")])
    t = backprop(
        model, rng.normal(size=(3, 3)), np.array([0, 2, 1]), loss="sparse_categorical_crossentropy"
    )
    assert t.layer(1).W.dtype == np.float64
    assert any("float32" in n for n in t.notes)
    t.check(rtol=1e-10)
