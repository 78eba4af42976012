"""gradcheck itself: it must catch a wrong backward and say clearly where."""

from __future__ import annotations

import re

import numpy as np
import pytest

import glassnet as gn
import glassnet.functional as F
from glassnet.errors import GlassnetError, GradcheckError, InvalidArgumentError


def wrong_square(x: gn.Tensor) -> gn.Tensor:
    """x² with the classic slip: local derivative x instead of 2x."""
    xd = x.data

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (g * xd,)

    return gn.Tensor._make(xd * xd, (x,), backward, "wrong_square")


def ignores_upstream(x: gn.Tensor) -> gn.Tensor:
    """eˣ whose backward returns the local derivative but forgets to multiply by g."""
    out = np.exp(x.data)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (out.copy(),)

    return gn.Tensor._make(out, (x,), backward, "ignores_upstream")


def right_square(x: gn.Tensor) -> gn.Tensor:
    xd = x.data

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (g * 2.0 * xd,)

    return gn.Tensor._make(xd * xd, (x,), backward, "right_square")


def test_correct_hand_written_op_passes() -> None:
    report = gn.gradcheck(right_square, [np.array([0.5, -1.0, 2.0])])
    assert report.ok and bool(report)
    assert report.inputs[0].max_abs_error < 1e-8
    assert "passed" in str(report)


def test_wrong_backward_is_reported() -> None:
    x = np.array([0.5, -1.0, 2.0, 3.0])
    report = gn.gradcheck(wrong_square, [x])
    assert not report.ok and not bool(report)
    (r,) = report.inputs
    assert not r.ok
    # The analytical gradient is half the true one everywhere: compare with r·2x from the
    # report's own numerical gradient (the cotangent r is random), and the worst element is the
    # largest |x|.
    np.testing.assert_allclose(r.analytical_grad, r.numerical_grad / 2, rtol=1e-6)
    assert r.worst_index == (3,)
    assert r.numerical == pytest.approx(2 * r.analytical, rel=1e-6)
    assert r.max_abs_error == pytest.approx(abs(r.numerical - r.analytical), rel=1e-9)
    assert r.max_rel_error == pytest.approx(0.5, rel=1e-6)  # |2x - x| / |2x|

    text = str(report)
    assert "FAILED" in text and "MISMATCH" in text
    assert "input 0" in text and "[3]" in text
    assert f"numerical {r.numerical:.10g}" in text
    assert f"analytical {r.analytical:.10g}" in text


def test_raise_on_fail() -> None:
    with pytest.raises(GradcheckError) as info:
        gn.gradcheck(wrong_square, [np.array([1.0, 2.0])], raise_on_fail=True)
    assert isinstance(info.value, GlassnetError) and isinstance(info.value, AssertionError)
    assert "numerical" in str(info.value) and "analytical" in str(info.value)
    # no raise when right
    gn.gradcheck(right_square, [np.array([1.0, 2.0])], raise_on_fail=True)


def test_backward_that_ignores_upstream_gradient_is_caught() -> None:
    """A random cotangent (not ones) catches a backward that drops g (PyTorch's check too)."""
    report = gn.gradcheck(ignores_upstream, [np.array([0.1, 0.2, -0.3])])
    assert not report.ok


def test_names_the_offending_input_only() -> None:
    def f(a: gn.Tensor, b: gn.Tensor) -> gn.Tensor:
        ad, bd = a.data, b.data

        def backward(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return g * bd, g * bd  # ∂/∂b should be a

        return gn.Tensor._make(ad * bd, (a, b), backward, "bad_mul")

    a = gn.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    b = gn.tensor([3.0, -4.0], dtype="float64", requires_grad=True)
    b.name = "weights"
    report = gn.gradcheck(f, [a, b])
    assert [r.ok for r in report.inputs] == [True, False]
    assert report.inputs[1].name == "weights"
    assert re.search(r"weights \(2,\): MISMATCH", str(report))


def test_only_inputs_requiring_grad_are_checked() -> None:
    a = gn.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    c = gn.tensor([3.0, 4.0], dtype="float64")  # a constant
    labels = gn.tensor([1, 0])
    report = gn.gradcheck(
        lambda a, c, y: F.sparse_softmax_cross_entropy(F.stack([a * c, a]), y), [a, c, labels]
    )
    assert report.ok
    assert [r.index for r in report.inputs] == [0]


def test_float32_inputs_are_checked_in_float64_with_a_note() -> None:
    x = gn.tensor([0.3, -0.7], requires_grad=True)
    seen = []

    def f(t: gn.Tensor) -> gn.Tensor:
        seen.append(t.dtype)
        return F.tanh(t)

    report = gn.gradcheck(f, [x])
    assert report.ok
    assert set(seen) == {np.dtype(np.float64)}
    assert any("float64" in n for n in report.notes)
    assert x.dtype == np.float32 and x.grad is None  # the user's tensor is untouched


def test_does_not_change_the_inputs() -> None:
    x = np.array([0.25, 0.5])
    before = x.copy()
    gn.gradcheck(F.exp, [x])
    np.testing.assert_array_equal(x, before)


def test_argument_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="eps"):
        gn.gradcheck(F.exp, [np.ones(2)], eps=0)
    with pytest.raises(InvalidArgumentError, match="nothing to check"):
        gn.gradcheck(F.exp, [gn.tensor([1.0, 2.0])])
    with pytest.raises(InvalidArgumentError, match="callable"):
        gn.gradcheck("exp", [np.ones(2)])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="Tensor"):
        gn.gradcheck(lambda x: 1.0, [np.ones(2)])  # type: ignore[arg-type,return-value]


def test_gradcheck_perturbs_column_major_and_strided_inputs() -> None:
    """Regression: a Fortran-ordered input flattened into a copy, so nothing was perturbed."""
    base = np.random.default_rng(0).normal(size=(3, 4))
    for data in (np.asfortranarray(base), base[:, ::2], base.T):
        x = gn.tensor(data, dtype="float64", requires_grad=True)
        report = gn.gradcheck(lambda x: (x * x).sum(), (x,))
        assert report.ok, str(report)
        numerical = report.inputs[0].numerical_grad
        assert np.abs(numerical).min() > 0  # every element really was perturbed
        np.testing.assert_allclose(numerical, report.inputs[0].analytical_grad, rtol=1e-6)
