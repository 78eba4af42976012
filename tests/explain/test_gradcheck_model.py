"""gradcheck_model: the engine's gradient of a model's cost against central differences,
reported parameter by parameter."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.autograd.tensor import Tensor
from glassnet.errors import GradcheckError, InvalidArgumentError
from glassnet.explain import GradcheckReport, gradcheck, gradcheck_model, seed004_example
from glassnet.nn.layers import Dense, Dropout, Flatten, Layer
from glassnet.training.model import Sequential


def test_seed004_passes_with_one_line_per_parameter() -> None:
    model, x, y, loss, _ = seed004_example()
    report = gradcheck_model(model, x[None], y[None], loss)
    assert isinstance(report, GradcheckReport) and report.ok
    assert [r.name for r in report.inputs] == ["hidden.W", "hidden.b", "output.W", "output.b"]
    assert [r.shape for r in report.inputs] == [(2, 2), (2,), (2, 2), (2,)]
    text = str(report)
    assert text.startswith("gradcheck passed") and text.count(": ok") == 4
    w5 = report.inputs[2]
    assert w5.analytical_grad[0, 0] == pytest.approx(0.082167041, abs=1e-9)
    assert w5.numerical_grad[0, 0] == pytest.approx(0.082167041, abs=1e-8)
    assert model.parameters()[0].grad is None  # the model itself is untouched


def test_a_float32_classifier_with_dropout_and_sampling() -> None:
    gn.seed(0)
    rng = np.random.default_rng(0)
    model = Sequential(
        [Flatten(input_shape=(3, 4)), Dense(16, "relu"), Dropout(0.3), Dense(5, "softmax")]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = rng.normal(size=(4, 3, 4)).astype(np.float32)
    y = rng.integers(0, 5, size=4)
    report = gradcheck_model(model, x, y, max_per_parameter=20)
    assert report.ok, str(report)
    assert any("20 of 192 entries" in note for note in report.notes)
    assert np.isfinite(report.inputs[0].numerical_grad).sum() == 20
    assert model.parameters()[0].data.dtype == np.float32


class BrokenSquare(Layer):
    """x² whose backward forgets the factor 2: a bug gradcheck must catch."""

    def forward(self, x: Tensor) -> Tensor:
        data = x.data

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            return (g * data,)

        return Tensor._make(data * data, (x,), backward, "broken_square")


def test_a_wrong_backward_is_reported() -> None:
    gn.seed(1)
    rng = np.random.default_rng(1)
    model = Sequential([Dense(3, input_dim=2), BrokenSquare(), Dense(1)])
    x = rng.normal(size=(3, 2))
    y = rng.normal(size=(3, 1))
    report = gradcheck_model(model, x, y, "mse")
    assert not report.ok
    status = {r.name: r.ok for r in report.inputs}
    assert status["dense.W"] is False and status["dense_1.W"] is True
    assert "MISMATCH" in str(report)
    with pytest.raises(GradcheckError):
        gradcheck_model(model, x, y, "mse", raise_on_fail=True)


def test_arguments_are_checked() -> None:
    model, x, y, _, _ = seed004_example()
    with pytest.raises(InvalidArgumentError):
        gradcheck_model("not a model", x, y)
    with pytest.raises(InvalidArgumentError):
        gradcheck_model(model, x[None], y[None], eps=0)
    model.loss = None
    with pytest.raises(InvalidArgumentError, match="loss"):
        gradcheck_model(model, x[None], y[None])
    assert callable(gradcheck)  # the engine's own gradcheck is re-exported


def test_gradcheck_model_steps_relative_to_large_weights_and_fails_on_non_finite():
    # Regression: the step was an absolute 1e-6, below float64's spacing at |w| = 1e12, so
    # correct gradients failed; and NaN against NaN passed.
    model = gn.Sequential([gn.layers.Dense(1, input_dim=2, use_bias=False, dtype="float64")])
    model.compile(optimizer="sgd", loss="mse")
    model.layers[0].W.data[...] = [[1e12, -1e12]]
    x, y = np.array([[0.3, 0.1]]), np.array([[1.0]])
    report = gn.explain.gradcheck_model(model, x, y)
    assert report.ok, report
    model.layers[0].W.data[...] = np.nan
    report = gn.explain.gradcheck_model(model, x, y)
    assert not report.ok and "nan" in report.inputs[0].reason.lower()
