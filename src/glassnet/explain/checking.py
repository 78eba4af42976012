"""``gradcheck_model``: the engine's gradient of a model's cost, checked parameter by parameter
against central differences (cs231n's "numerical … analytic … relative error" report).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..autograd.gradcheck import GradcheckReport, InputReport, central_difference, judge
from ..autograd.tensor import Tensor, no_grad
from ..errors import GradcheckError, InvalidArgumentError, ShapeError, describe
from ..nn.module import Module
from .trace import resolve_loss

__all__ = ["gradcheck_model"]


def _float64_copy(model: Module) -> Module:
    """A float64 deep copy in inference mode, without the optimiser or the training history.

    (``Module.to`` is not used: it tries to assign ``Model.dtype``, a read-only property.)
    """
    memo: dict[int, Any] = {}
    for attr in ("optimizer", "history"):
        value = getattr(model, attr, None)
        if value is not None:
            memo[id(value)] = None
    clone = copy.deepcopy(model, memo)
    for m in clone.modules():
        if m is clone:
            continue
        if isinstance(getattr(type(m), "dtype", None), property):
            continue  # a nested model: its dtype is its parameters'
        dtype = getattr(m, "dtype", None)
        if isinstance(dtype, np.dtype) and dtype.kind == "f":  # an integer Input stays so
            m.dtype = np.dtype(np.float64)  # type: ignore[attr-defined]
    for p in clone.parameters():
        p.data = p.data.astype(np.float64)
        p.grad = None
    clone.eval()
    return clone


def _cost(model: Any, x: Tensor, y: Any, loss: Any) -> Tensor:
    if hasattr(model, "forward_loss"):
        saved = model.loss
        model.loss = loss
        try:
            value, _ = model.forward_loss(x, y)
        finally:
            model.loss = saved
        return value  # type: ignore[no-any-return]
    return loss(y, model(x))  # type: ignore[no-any-return]


def gradcheck_model(
    model: Any,
    x: Any,
    y: Any,
    loss: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    max_per_parameter: int | None = 64,
    seed: int = 0,
    raise_on_fail: bool = False,
) -> GradcheckReport:
    """Compare ∂C/∂p from the engine with (C(p + h) − C(p − h)) / 2h for every parameter p,
    h = eps·max(1, |p|) (as ``glassnet.gradcheck``; a NaN or inf on either side fails).

    ``model``: any glassnet Model (it is copied to float64 and put in inference mode; the
    original is untouched). ``x``: a batch (n, ...); ``y``: its targets. ``loss``: default the
    compiled loss. The cost is computed the way training computes it (the fused softmax/sigmoid
    cross-entropy where it applies). Each parameter gets one line in the report; a parameter
    with more than ``max_per_parameter`` entries is checked on that many of them (the entry with
    the largest gradient plus a seeded random sample; None checks all). An entry passes when
    |numerical − analytical| ≤ atol + rtol·|numerical|.
    """
    if not isinstance(model, Module):
        raise InvalidArgumentError(
            f"gradcheck_model: model must be a glassnet Model, received {describe(model)}"
        )
    loss_obj = resolve_loss(model, loss, "gradcheck_model")
    if max_per_parameter is not None and (
        isinstance(max_per_parameter, bool)
        or not isinstance(max_per_parameter, int)
        or max_per_parameter < 1
    ):
        raise InvalidArgumentError(
            f"gradcheck_model: max_per_parameter must be a positive "
            f"integer or None, received {max_per_parameter!r}"
        )
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not value >= 0
            or (name == "eps" and value == 0)
        ):
            raise InvalidArgumentError(
                f"gradcheck_model: {name} must be a positive number, received {name}={value!r}"
            )
    x_arr = np.asarray(x.data if isinstance(x, Tensor) else x)
    if x_arr.dtype.kind not in "fiub" or x_arr.ndim == 0:
        raise ShapeError(
            f"gradcheck_model: x must be a batch of samples (n, ...), received {describe(x_arr)}"
        )
    y_arr = np.asarray(y.data if isinstance(y, Tensor) else y)
    clone = _float64_copy(model)
    xt = Tensor(x_arr.astype(np.float64), dtype="float64")
    named = list(clone.named_parameters())
    if not named:
        raise InvalidArgumentError("gradcheck_model: the model has no parameters to check")

    cost = _cost(clone, xt, y_arr, loss_obj)
    cost.backward()
    rng = np.random.default_rng(seed)
    reports: list[InputReport] = []
    notes: list[str] = ["the model was copied to float64 and put in inference mode"]
    with no_grad():
        for i, (name, p) in enumerate(named):
            analytical = p.grad if p.grad is not None else np.zeros_like(p.data)
            data = p.data
            size = data.size
            if max_per_parameter is None or size <= max_per_parameter:
                picks = np.arange(size)
            else:
                top = int(np.argmax(np.abs(analytical)))
                sample = [
                    int(v)
                    for v in rng.choice(size, max_per_parameter, replace=False)
                    if int(v) != top
                ][: max_per_parameter - 1]
                picks = np.array(sorted([top, *sample]))
                notes.append(f"{name}: {len(picks)} of {size} entries checked")
            numerical = np.full(data.shape, np.nan)
            for j in picks:
                # Index the array itself: a flat reshape of a column-major weight is a copy.
                at = np.unravel_index(int(j), data.shape)
                numerical[at] = central_difference(
                    lambda: float(_cost(clone, xt, y_arr, loss_obj).data), data, at, eps
                )
            reports.append(
                judge(i, name, data, numerical, analytical, eps, atol, rtol, picks=picks)
            )
    report = GradcheckReport(
        ok=all(r.ok for r in reports), inputs=reports, eps=eps, atol=atol, rtol=rtol, notes=notes
    )
    if raise_on_fail and not report.ok:
        raise GradcheckError(str(report))
    return report
