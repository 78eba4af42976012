"""gradcheck: compare the engine's gradients with central differences, in float64.

For a function f of some tensors, gradcheck picks a fixed random cotangent r (the same shape as
f's output), forms the scalar s = Σ r ⊙ f(x), and compares for every element x_i of every
input that requires grad

    analytical  ∂s/∂x_i     from one backward pass with grad=r
    numerical   (s(x_i + h) − s(x_i − h)) / ((x_i + h) − (x_i − h)),  h = ε·max(1, |x_i|)

Using a random r rather than ones also checks that each backward really multiplies by the
gradient it receives. The step is relative to |x_i| where |x_i| > 1: an absolute ε = 1e-6 at
x = 1e30 is far below the spacing of float64 numbers there, so x ± ε == x and every correct
gradient would look like 0. The denominator is the step actually taken after rounding.

An element passes when |numerical − analytical| ≤ atol + rtol·|numerical| and both are finite:
NaN or ±inf on either side (f undefined or overflowing at x, a step below the float spacing)
means the check cannot judge that element, which is a failure with the reason given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DTypeError, GradcheckError, InvalidArgumentError
from .tensor import Tensor, no_grad

__all__ = ["central_difference", "judge", "gradcheck", "GradcheckReport", "InputReport"]


@dataclass
class InputReport:
    """How one input's analytical gradient compares with the numerical one."""

    index: int
    name: str
    shape: tuple[int, ...]
    ok: bool
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...]
    numerical: float
    analytical: float
    numerical_grad: np.ndarray = field(repr=False)
    analytical_grad: np.ndarray = field(repr=False)
    #: Why the check could not judge some elements (NaN/inf on a side, a step below the float
    #: spacing); empty when every element was compared.
    reason: str = ""

    def __str__(self) -> str:
        where = f"[{', '.join(map(str, self.worst_index))}]" if self.worst_index else ""
        verdict = "ok" if self.ok else ("NOT FINITE" if self.reason else "MISMATCH")
        text = (
            f"{self.name} {self.shape}: {verdict}  max abs error {self.max_abs_error:.3e}, "
            f"max rel error {self.max_rel_error:.3e}; worst element {self.name}{where}: "
            f"numerical {self.numerical:.10g} analytical {self.analytical:.10g}"
        )
        return text + (f"\n    reason: {self.reason}" if self.reason else "")


@dataclass
class GradcheckReport:
    """The result of ``gradcheck``: ``ok`` and one ``InputReport`` per checked input."""

    ok: bool
    inputs: list[InputReport]
    eps: float
    atol: float
    rtol: float
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = (
            f"gradcheck {'passed' if self.ok else 'FAILED'}: central differences with step "
            f"eps·max(1, |x|), eps={self.eps:g}, in float64, tolerance |num − ana| ≤ "
            f"{self.atol:g} + {self.rtol:g}·|num|, both finite"
        )
        lines = [head] + ["  " + str(r) for r in self.inputs] + ["  note: " + n for n in self.notes]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return "```\n" + str(self) + "\n```"


def _as_float64_input(x: Any, i: int) -> tuple[Tensor, bool]:
    """A float64 copy of an input and whether it is checked."""
    if isinstance(x, Tensor):
        if x.data.dtype.kind != "f":
            return x, False
        # A C-ordered copy: the perturbation below walks a flat view of it, and a column-major
        # or strided input would flatten into a copy instead.
        t = Tensor(np.array(x.data, dtype=np.float64, order="C", copy=True), dtype="float64")
        if x.requires_grad:
            t.requires_grad_(True)
        return t, x.requires_grad
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        return (
            Tensor(
                np.array(arr, dtype=np.float64, order="C", copy=True),
                dtype="float64",
                requires_grad=True,
            ),
            True,
        )
    if arr.dtype.kind in "iub":
        return Tensor(arr), False
    raise DTypeError(
        f"gradcheck: input {i} must be a tensor or numeric array, received {type(x).__name__}"
    )


def _scalarize(out: Any, r: np.ndarray | None) -> float:
    data = out.data if isinstance(out, Tensor) else np.asarray(out)
    if r is None:
        return float(np.sum(data))
    return float(np.sum(data * r))


def _unjudged_reason(
    name: str,
    x: np.ndarray,
    numerical: np.ndarray,
    analytical: np.ndarray,
    unjudged: np.ndarray,
    no_step: np.ndarray,
    eps: float,
) -> str:
    """One sentence on the elements that could not be compared, naming the first of them."""
    count = int(unjudged.sum())
    first = int(np.argmax(unjudged))
    index = tuple(int(v) for v in np.unravel_index(first, unjudged.shape))
    where = f"{name}[{', '.join(map(str, index))}]" if index else name
    xv, num, ana = float(x.flat[first]), float(numerical.flat[first]), float(analytical.flat[first])
    if no_step.flat[first]:
        why = (
            f"the step eps·max(1, |x|) = {eps * max(1.0, abs(xv)):.3g} at x = {xv:.6g} is "
            f"lost to rounding (below the float64 spacing there); use a larger eps"
        )
    elif not np.isfinite(xv):
        why = f"the input itself is {xv}"
    else:
        sides = []
        if not np.isfinite(num):
            sides.append(f"the numerical gradient is {num}")
        if not np.isfinite(ana):
            sides.append(f"the analytical gradient is {ana}")
        why = (
            " and ".join(sides)
            + f" at x = {xv:.6g}: f is undefined or overflows at or near x, so the gradient "
            f"cannot be checked there"
        )
    others = f" ({count - 1} more element{'s' if count > 2 else ''} likewise)" if count > 1 else ""
    return f"{where}: {why}{others}"


def central_difference(
    cost: Callable[[], float], data: np.ndarray, at: tuple[Any, ...], eps: float
) -> float:
    """(C(x + h) − C(x − h)) / ((x + h) − (x − h)) for the element x = data[at], with
    h = eps·max(1, |x|) and the step actually taken after rounding as the denominator; NaN
    when that step is lost to rounding. ``data`` is changed in place and restored."""
    original = data[at]
    h = eps * max(1.0, abs(float(original)))
    up, down = original + h, original - h
    data[at] = up
    plus = cost()
    data[at] = down
    minus = cost()
    data[at] = original
    step = float(up - down)
    return (plus - minus) / step if step > 0 and np.isfinite(step) else math.nan


def judge(
    index: int,
    name: str,
    x: np.ndarray,
    numerical: np.ndarray,
    analytical: np.ndarray,
    eps: float,
    atol: float,
    rtol: float,
    picks: np.ndarray | None = None,
) -> InputReport:
    """The report for one input: every element (or the flat indices ``picks``) passes when
    |numerical − analytical| ≤ atol + rtol·|numerical|; a NaN or inf on either side fails, and
    ``reason`` says why the first such element could not be judged."""
    analytical = np.asarray(analytical, dtype=np.float64)
    chosen = np.zeros(x.shape, dtype=bool)
    chosen.reshape(-1)[slice(None) if picks is None else picks] = True
    with np.errstate(all="ignore"):
        h = eps * np.maximum(1.0, np.abs(x))
        no_step = chosen & ~((x + h) - (x - h) > 0)
        diff = np.where(chosen, np.abs(numerical - analytical), 0.0)
        scale = np.maximum(np.abs(numerical), np.abs(analytical))
        rel = np.divide(diff, scale, out=np.zeros_like(diff), where=chosen & (scale > 0))
    unjudged = chosen & (~np.isfinite(numerical) | ~np.isfinite(analytical))
    bad = unjudged | (chosen & (diff > atol + rtol * np.abs(numerical)))
    if chosen.any():
        # The largest error among the failing elements; an element that could not be judged
        # first (diff + 1e300 would round them all to 1e300 and always name the first one).
        if unjudged.any():
            worst = int(np.argmax(unjudged))
        elif bad.any():
            worst = int(np.argmax(np.where(bad, diff, -1.0)))
        else:
            worst = int(np.argmax(np.where(chosen, diff, -1.0)))
        worst_index = tuple(int(v) for v in np.unravel_index(worst, x.shape))
        num_w, ana_w = float(numerical.flat[worst]), float(analytical.flat[worst])
    else:
        worst_index, num_w, ana_w = (), 0.0, 0.0
    reason = (
        _unjudged_reason(name, x, numerical, analytical, unjudged, no_step, eps)
        if unjudged.any()
        else ""
    )
    return InputReport(
        index=index,
        name=name,
        shape=tuple(x.shape),
        ok=not bad.any(),
        max_abs_error=float(diff.max()) if diff.size else 0.0,
        max_rel_error=float(rel.max()) if rel.size else 0.0,
        worst_index=worst_index,
        numerical=num_w,
        analytical=ana_w,
        numerical_grad=numerical,
        analytical_grad=np.array(analytical),
        reason=reason,
    )


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_on_fail: bool = False,
    seed: int = 0,
) -> GradcheckReport:
    """Check fn's gradients against central differences for each input that requires grad.

    ``inputs``: tensors (checked when ``requires_grad``) or float arrays (always checked);
    each is copied to float64 first. The step for element x is ``eps·max(1, |x|)``. Returns a
    GradcheckReport (``ok``, per-input errors and the worst element); a NaN or inf on either
    side fails, with the reason in ``InputReport.reason``. With ``raise_on_fail=True`` a
    failure raises GradcheckError.
    """
    if isinstance(inputs, (Tensor, np.ndarray)):
        inputs = (inputs,)
    if not callable(fn):
        raise InvalidArgumentError(f"gradcheck: fn must be callable, received {fn!r}")
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise InvalidArgumentError(
            "gradcheck: inputs must be a non-empty tuple of tensors or arrays, "
            f"received {type(inputs).__name__}"
        )
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if not isinstance(value, (int, float)) or not value >= 0 or (name == "eps" and value == 0):
            raise InvalidArgumentError(
                f"gradcheck: {name} must be a positive number, received {name}={value!r}"
            )
    notes: list[str] = []
    converted = [_as_float64_input(x, i) for i, x in enumerate(inputs)]
    if any(isinstance(x, Tensor) and x.data.dtype == np.float32 for x in inputs):
        notes.append(
            "float32 inputs were copied to float64: finite differences in float32 "
            "are too coarse to check anything"
        )
    tensors = [t for t, _ in converted]
    checked = [i for i, (_, c) in enumerate(converted) if c]
    if not checked:
        raise InvalidArgumentError(
            "gradcheck: no input requires grad, so there is nothing to check; pass tensors "
            "with requires_grad=True or float arrays"
        )

    out = fn(*tensors)
    if not isinstance(out, Tensor):
        raise InvalidArgumentError(
            f"gradcheck: fn must return a Tensor, received {type(out).__name__}"
        )
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.5, 1.5, size=out.data.shape) * rng.choice([-1.0, 1.0], size=out.data.shape)
    r = np.asarray(r, dtype=np.float64)
    for i in checked:
        tensors[i].grad = None
    value = _scalarize(out, r)
    if not np.isfinite(value):
        notes.append(
            f"f(x) is not finite at the given inputs (Σ r ⊙ f(x) = {value}): its gradients "
            f"cannot be checked by finite differences there"
        )
    if out.requires_grad:
        out.backward(r.astype(out.data.dtype))
    reports: list[InputReport] = []
    with no_grad(), np.errstate(all="ignore"):  # non-finite values are reported, not warned
        for i in checked:
            t = tensors[i]
            analytical = t.grad if t.grad is not None else np.zeros_like(t.data)
            numerical = np.zeros_like(t.data)
            for j in range(t.data.size):
                at = np.unravel_index(j, t.data.shape)
                numerical[at] = central_difference(
                    lambda: _scalarize(fn(*tensors), r), t.data, at, eps
                )
            name = getattr(inputs[i], "name", None) or f"input {i}"
            reports.append(judge(i, name, t.data, numerical, analytical, eps, atol, rtol))
    report = GradcheckReport(
        ok=all(r_.ok for r_ in reports), inputs=reports, eps=eps, atol=atol, rtol=rtol, notes=notes
    )
    if raise_on_fail and not report.ok:
        raise GradcheckError(str(report))
    return report
