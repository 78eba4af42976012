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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DTypeError, GradcheckError, InvalidArgumentError
from .tensor import Tensor, no_grad

__all__ = ["gradcheck", "GradcheckReport", "InputReport"]


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
    with no_grad():
        for i in checked:
            t = tensors[i]
            analytical = t.grad if t.grad is not None else np.zeros_like(t.data)
            analytical = np.asarray(analytical, dtype=np.float64)
            numerical = np.zeros_like(t.data)
            no_step = np.zeros(t.data.shape, dtype=bool)
            flat = t.data.reshape(-1)
            with np.errstate(all="ignore"):  # non-finite values are reported, not warned
                for j in range(flat.size):
                    original = flat[j]
                    h = eps * max(1.0, abs(float(original)))
                    up, down = original + h, original - h
                    flat[j] = up
                    plus = _scalarize(fn(*tensors), r)
                    flat[j] = down
                    minus = _scalarize(fn(*tensors), r)
                    flat[j] = original
                    step = float(up - down)  # the step actually taken, after rounding
                    if step > 0 and np.isfinite(step):
                        numerical.reshape(-1)[j] = (plus - minus) / step
                    else:
                        numerical.reshape(-1)[j] = np.nan
                        no_step.reshape(-1)[j] = True
                diff = np.abs(numerical - analytical)
                scale = np.maximum(np.abs(numerical), np.abs(analytical))
                rel = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
            unjudged = ~np.isfinite(numerical) | ~np.isfinite(analytical)
            bad = unjudged | (diff > atol + rtol * np.abs(numerical))
            name = getattr(inputs[i], "name", None) or f"input {i}"
            if diff.size:
                # The largest error among the failing elements (diff + 1e300 would round
                # them all to 1e300 and always name the first one); an element that could not
                # be judged first.
                if unjudged.any():
                    worst = int(np.argmax(unjudged))
                elif bad.any():
                    worst = int(np.argmax(np.where(bad, diff, -1.0)))
                else:
                    worst = int(np.argmax(diff))
                worst_index = tuple(int(v) for v in np.unravel_index(worst, diff.shape))
                num_w, ana_w = float(numerical.flat[worst]), float(analytical.flat[worst])
            else:
                worst_index, num_w, ana_w = (), 0.0, 0.0
            reason = (
                _unjudged_reason(name, t.data, numerical, analytical, unjudged, no_step, eps)
                if unjudged.any()
                else ""
            )
            reports.append(
                InputReport(
                    index=i,
                    name=name,
                    shape=tuple(t.data.shape),
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
            )
    report = GradcheckReport(
        ok=all(r_.ok for r_ in reports), inputs=reports, eps=eps, atol=atol, rtol=rtol, notes=notes
    )
    if raise_on_fail and not report.ok:
        raise GradcheckError(str(report))
    return report
