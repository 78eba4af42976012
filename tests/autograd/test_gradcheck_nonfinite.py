"""gradcheck never passes what it cannot judge, and its step follows |x| (issue 14, item 6).

Before: sqrt at −800 passed (NaN against NaN compares as "no error"), so did exp(1e30) (NaN
against inf), and at |x| = 1e30 correct gradients failed because x ± 1e-6 == x.
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
import glassnet.functional as F
from glassnet.errors import GradcheckError


def _t(*values: float) -> gn.Tensor:
    return gn.tensor(list(values), dtype="float64", requires_grad=True)


def test_sqrt_of_a_negative_number_fails_with_a_reason() -> None:
    report = gn.gradcheck(lambda t: F.sum(F.sqrt(t)), (_t(-800.0),))
    assert not report.ok and not report.inputs[0].ok
    reason = report.inputs[0].reason
    assert "input 0[0]" in reason and "nan" in reason and "cannot be checked" in reason
    text = str(report)
    assert "FAILED" in text and "NOT FINITE" in text and "reason:" in text
    assert any("not finite" in note for note in report.notes)


def test_overflowing_exp_fails_with_a_reason() -> None:
    report = gn.gradcheck(lambda t: F.sum(F.exp(t)), (_t(1e30),))
    assert not report.ok
    reason = report.inputs[0].reason
    assert "analytical gradient is inf" in reason and "numerical gradient is nan" in reason


def test_one_non_finite_side_is_enough_to_fail() -> None:
    """Analytical finite, numerical NaN (f is NaN everywhere): still not judged, not passed."""

    def f(t: gn.Tensor) -> gn.Tensor:
        return F.sum(t) + float("nan")

    report = gn.gradcheck(f, (_t(1.0, 2.0),))
    assert not report.ok
    assert "numerical gradient is nan" in report.inputs[0].reason
    assert "1 more element" in report.inputs[0].reason


def test_raise_on_fail_carries_the_reason() -> None:
    with pytest.raises(GradcheckError, match="reason: input 0.*nan"):
        gn.gradcheck(lambda t: F.sum(F.log(t)), (_t(-1.0),), raise_on_fail=True)


def test_a_mix_reports_the_unjudged_element_first() -> None:
    """x² whose backward gives inf for one element: that element is named, the others are
    still compared (and agree)."""

    def square_with_an_inf(t: gn.Tensor) -> gn.Tensor:
        xd = t.data

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            grad = g * 2.0 * xd
            grad[2] = np.inf
            return (grad,)

        return gn.Tensor._make(xd * xd, (t,), backward, "square_with_an_inf")

    report = gn.gradcheck(square_with_an_inf, (_t(4.0, 9.0, -1.0, 2.0),))
    (r,) = report.inputs
    assert not r.ok and r.worst_index == (2,) and r.reason.startswith("input 0[2]")
    assert "analytical gradient is inf" in r.reason and "more element" not in r.reason
    keep = [0, 1, 3]
    np.testing.assert_allclose(r.numerical_grad[keep], r.analytical_grad[keep], rtol=1e-6)


@pytest.mark.parametrize("x", [1e30, -1e30, 3e15, 1e200, -7.5e100])
def test_correct_gradients_pass_at_large_magnitudes(x: float) -> None:
    """The step is eps·|x| there, so x ± step differs from x and the quotient is right."""
    assert gn.gradcheck(lambda t: F.sum(t * 3.0), (_t(x),)).ok
    assert gn.gradcheck(lambda t: F.sum(t * t), (_t(x / 1e100 if abs(x) > 1e100 else x),)).ok
    assert gn.gradcheck(lambda t: F.sum(F.tanh(t / x) * x), (_t(x, -x / 2),)).ok


def test_wrong_gradients_still_fail_at_large_magnitudes() -> None:
    def wrong_square(t: gn.Tensor) -> gn.Tensor:
        xd = t.data
        return gn.Tensor._make(xd * xd, (t,), lambda g: (g * xd,), "wrong_square")

    report = gn.gradcheck(wrong_square, (_t(1e30, -2e30),))
    assert not report.ok and report.inputs[0].reason == ""
    assert "MISMATCH" in str(report)


def test_small_values_keep_the_absolute_step() -> None:
    report = gn.gradcheck(lambda t: F.sum(t * t), (_t(0.0, 1e-3, -0.5),))
    assert report.ok and report.eps == 1e-6


def test_a_step_lost_to_rounding_is_named() -> None:
    report = gn.gradcheck(lambda t: F.sum(t * 2.0), (_t(1.0),), eps=1e-20)
    assert not report.ok
    assert "lost to rounding" in report.inputs[0].reason and "larger eps" in report.inputs[0].reason


def test_non_finite_inputs_are_named() -> None:
    report = gn.gradcheck(lambda t: F.sum(t * 2.0), (_t(float("inf")),))
    assert not report.ok
    assert "inf" in report.inputs[0].reason
