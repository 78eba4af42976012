"""detect_anomaly(): name the first op whose forward or backward made NaN/inf."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glassnet as gn
import glassnet.functional as F
from glassnet.autograd import is_anomaly_enabled
from glassnet.errors import AnomalyError, GlassnetError


def test_forward_names_the_first_op_that_made_nan() -> None:
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    with gn.detect_anomaly(), pytest.raises(AnomalyError) as info:
        y = x * 2.0 - 5.0  # finite: [-3, -1]
        z = F.log(y)  # NaN here: log of a negative number
        F.exp(z)  # never reached
    message = str(info.value)
    assert "'log'" in message and "forward" in message and "NaN or inf" in message
    assert "'sub'" not in message and "'exp'" not in message
    assert isinstance(info.value, GlassnetError) and isinstance(info.value, FloatingPointError)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:divide:RuntimeWarning")
@pytest.mark.parametrize(
    "make, op",
    [
        (lambda x: F.exp(x * 1000.0), "exp"),  # overflow to inf
        (lambda x: 1.0 / (x - x), "div"),  # 1/0
        (lambda x: F.sqrt(x - 10.0), "sqrt"),
        (lambda x: x**-1 * 0.0 + F.log(x - x), "log"),  # log 0 = -inf
    ],
)
def test_forward_names_each_op(make: object, op: str) -> None:
    x = gn.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    with gn.detect_anomaly(), pytest.raises(AnomalyError, match=f"'{op}'"):
        make(x)  # type: ignore[operator]


def test_nan_already_in_the_input_is_not_blamed_on_the_op() -> None:
    x = gn.tensor([np.nan, 1.0])
    with gn.detect_anomaly():
        y = x * 2.0 + 1.0
    assert np.isnan(y.numpy()[0])


def test_backward_names_the_first_op_whose_gradient_became_inf() -> None:
    x = gn.tensor([0.0, 1.0], requires_grad=True)
    with gn.detect_anomaly():
        y = F.sqrt(x)  # forward fine: sqrt(0) = 0
        loss = (y * 3.0).sum()
        with pytest.raises(AnomalyError) as info:
            loss.backward()  # ∂√x/∂x = 1/(2√x) = inf at 0
    message = str(info.value)
    assert "'sqrt'" in message and "backward" in message
    assert "'mul'" not in message and "'sum'" not in message


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_backward_anomaly_in_the_middle_of_a_graph() -> None:
    x = gn.tensor([0.0, 4.0], dtype="float64", requires_grad=True)
    with gn.detect_anomaly():
        y = F.abs(x) ** 0.5  # forward finite; backward of pow at 0: 0.5 · 0^(−0.5) = inf
        z = F.tanh(y) * 2.0
        with pytest.raises(AnomalyError, match="'pow'"):
            z.sum().backward()


def test_outside_the_block_nothing_is_raised_or_warned() -> None:
    assert not is_anomaly_enabled()
    x = gn.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bad = F.log(x - 2.0)
        assert np.isnan(bad.numpy()).all()
        y = F.sqrt(x)
        y.sum().backward()
    assert np.isinf(x.grad[0])


def test_mode_is_restored_after_an_error() -> None:
    with pytest.raises(AnomalyError), gn.detect_anomaly():
        assert is_anomaly_enabled()
        F.log(gn.tensor([-1.0]))
    assert not is_anomaly_enabled()
    F.log(gn.tensor([-1.0]))  # no error now


def test_finite_computations_pass_untouched() -> None:
    x = gn.tensor([0.5, 1.5], dtype="float64", requires_grad=True)
    with gn.detect_anomaly():
        loss = F.sparse_softmax_cross_entropy(F.stack([x, x * 2.0]), [0, 1])
        loss.backward()
    assert np.isfinite(x.grad).all()
