"""Jacobians and vector–Jacobian / Jacobian–vector products of user functions.

As ``torch.autograd.functional`` offers them, on glassnet's engine::

    jacobian(f, x)      → J with J[i…, j…] = ∂f(x)[i…]/∂x[j…], shape f(x).shape + x.shape
    vjp(f, x, v)        → (f(x), vᵀJ)   one backward pass: what backpropagation computes
    jvp(f, x, v)        → (f(x), J v)   the directional derivative along v

``f`` takes Tensors and returns one Tensor; ``x`` is an array (or a tuple of arrays, one per
argument of f: then the results are tuples too). Seed 003 derives the gradients of a matrix
product through Jacobians: for D = W X, the Jacobian contracted with the upstream gradient dD
gives dW = dD Xᵀ and dX = Wᵀ dD, which is exactly what ``vjp`` returns.

``jacobian`` runs one backward pass per output entry (reverse mode), and ``jvp`` contracts that
Jacobian with v: exact, and meant for the small functions one studies, not for large models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, ShapeError
from .tensor import Tensor

__all__ = ["jacobian", "vjp", "jvp"]

Inputs = np.ndarray | Sequence[Any]


def _as_inputs(x: Any, where: str) -> tuple[list[np.ndarray], bool]:
    """(the inputs as float arrays, whether they came as a tuple)."""
    many = isinstance(x, (tuple, list))
    items = list(x) if many else [x]
    if many and not items:
        raise InvalidArgumentError(f"{where}: inputs is an empty tuple; give at least one array")
    arrays = []
    for item in items:
        arr = np.asarray(item.data if isinstance(item, Tensor) else item)
        if arr.dtype.kind not in "fiub":
            raise InvalidArgumentError(
                f"{where}: inputs must be numeric arrays, received dtype {arr.dtype}"
            )
        arrays.append(arr.astype(arr.dtype if arr.dtype.kind == "f" else np.float64))
    return arrays, many


def _evaluate(
    f: Callable[..., Any], arrays: list[np.ndarray], where: str
) -> tuple[list[Tensor], Tensor]:
    if not callable(f):
        raise InvalidArgumentError(f"{where}: f must be a function of Tensors, received {f!r}")
    leaves = [Tensor(a, dtype=a.dtype, requires_grad=True) for a in arrays]
    out = f(*leaves)
    if not isinstance(out, Tensor):
        raise InvalidArgumentError(
            f"{where}: f must return one glassnet Tensor, received {type(out).__name__}"
        )
    return leaves, out


def _grads(leaves: list[Tensor]) -> list[np.ndarray]:
    return [
        np.zeros_like(leaf.data) if leaf.grad is None else np.array(leaf.grad) for leaf in leaves
    ]


def _pack(values: list[Any], many: bool) -> Any:
    return tuple(values) if many else values[0]


def vjp(f: Callable[..., Any], inputs: Inputs, v: Any = None) -> tuple[np.ndarray, Any]:
    """(f(x), vᵀJ): the gradient of ⟨v, f(x)⟩ with respect to each input, one backward pass.

    ``v`` has f(x)'s shape (it may be left out when f(x) is a single number). The result has
    each input's shape.
    """
    where = "vjp"
    arrays, many = _as_inputs(inputs, where)
    leaves, out = _evaluate(f, arrays, where)
    if v is None and out.data.size != 1:
        raise InvalidArgumentError(
            f"{where}: f(x) has shape {out.data.shape}, so v must be given (an array of "
            f"that shape); only a one-number output has the implicit v = 1"
        )
    seed = np.ones_like(out.data) if v is None else np.asarray(v, dtype=out.data.dtype)
    if seed.shape != out.data.shape:
        raise ShapeError(f"{where}: v has shape {seed.shape} but f(x) has {out.data.shape}")
    if out.requires_grad:
        out.backward(seed)
    return np.array(out.data), _pack(_grads(leaves), many)


def jacobian(f: Callable[..., Any], inputs: Inputs) -> Any:
    """J[i…, j…] = ∂f(x)[i…]/∂x[j…], of shape f(x).shape + x.shape (a tuple, one per input,
    when ``inputs`` is a tuple)."""
    where = "jacobian"
    arrays, many = _as_inputs(inputs, where)
    leaves, out = _evaluate(f, arrays, where)
    rows: list[list[np.ndarray]] = [[] for _ in leaves]
    for i in range(out.data.size):
        seed = np.zeros(out.data.size, dtype=out.data.dtype)
        seed[i] = 1.0
        for leaf in leaves:
            leaf.grad = None
        if out.requires_grad:
            out.backward(seed.reshape(out.data.shape), retain_graph=True)
        for r, g in zip(rows, _grads(leaves)):
            r.append(g)
    result = [
        np.stack(r).reshape(out.data.shape + a.shape) if r else np.zeros(a.shape)
        for r, a in zip(rows, arrays)
    ]
    return _pack(result, many)


def jvp(f: Callable[..., Any], inputs: Inputs, v: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(f(x), J v): how f(x) changes along the direction v (a tuple of arrays, one per input,
    when ``inputs`` is a tuple; may be left out when every input is a single number)."""
    where = "jvp"
    arrays, many = _as_inputs(inputs, where)
    if v is None:
        if any(a.size != 1 for a in arrays):
            raise InvalidArgumentError(
                f"{where}: v must be given (one array per input, of its shape) unless every "
                f"input is a single number"
            )
        directions = [np.ones_like(a) for a in arrays]
    else:
        directions = [np.asarray(d, dtype=np.float64) for d in (v if many else [v])]
    if len(directions) != len(arrays) or any(
        d.shape != a.shape for d, a in zip(directions, arrays)
    ):
        raise ShapeError(
            f"{where}: v must match the inputs' shapes {[a.shape for a in arrays]}, received "
            f"{[d.shape for d in directions]}"
        )
    jac = jacobian(f, tuple(arrays) if many else arrays[0])
    parts = list(jac) if many else [jac]
    out = np.asarray(f(*[Tensor(a, dtype=a.dtype) for a in arrays]).data)
    total = np.zeros(out.size)
    for j, d in zip(parts, directions):
        total += j.reshape(out.size, -1) @ d.reshape(-1)
    return out, total.reshape(out.shape)
