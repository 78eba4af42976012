"""Arithmetic ops: each forward is written beside its vector-Jacobian product (backward).

In every backward, ``g`` is the upstream gradient ∂C/∂out; the op returns the downstream
gradients ∂C/∂input = g × (local derivative), summed back over broadcast axes by
``unbroadcast``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.tensor import Tensor, as_array
from ..errors import DTypeError, ShapeError
from ._core import broadcast_shapes, lift, lift_like, lift_pair, require_float, unbroadcast

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "matmul", "linear", "cast"]


def _check_broadcast(da: np.ndarray, db: np.ndarray, op: str) -> None:
    sa, sb = da.shape, db.shape
    if sa == sb or not sa or not sb:  # the common cases, without NumPy's slower check
        return
    for x, y in zip(reversed(sa), reversed(sb)):
        if x != y and x != 1 and y != 1:
            broadcast_shapes(sa, sb, op)  # raises the ShapeError naming both shapes


def add(a: Any, b: Any) -> Tensor:
    """a + b (broadcasting). ∂/∂a = 1, ∂/∂b = 1."""
    a, b, da, db = lift_pair(a, b, "add")
    _check_broadcast(da, db, "add")

    def backward(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return unbroadcast(g, a), unbroadcast(g, b)

    return Tensor._make(da + db, (a, b), backward, "add")


def sub(a: Any, b: Any) -> Tensor:
    """a − b (broadcasting). ∂/∂a = 1, ∂/∂b = −1."""
    a, b, da, db = lift_pair(a, b, "sub")
    _check_broadcast(da, db, "sub")

    def backward(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return unbroadcast(g, a), unbroadcast(-g, b)

    return Tensor._make(da - db, (a, b), backward, "sub")


def mul(a: Any, b: Any) -> Tensor:
    """a ⊙ b (elementwise, broadcasting). ∂/∂a = b, ∂/∂b = a."""
    a, b, da, db = lift_pair(a, b, "mul")
    _check_broadcast(da, db, "mul")

    def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        return (
            unbroadcast(g * db, a) if a.requires_grad else None,
            unbroadcast(g * da, b) if b.requires_grad else None,
        )

    return Tensor._make(da * db, (a, b), backward, "mul")


def div(a: Any, b: Any) -> Tensor:
    """a / b (elementwise, broadcasting). ∂/∂a = 1/b, ∂/∂b = −a/b²."""
    a, b, da, db = lift_pair(a, b, "div")
    _check_broadcast(da, db, "div")
    if da.dtype.kind != "f":  # true division of integers gives floats
        da, db = da.astype(np.float32), db.astype(np.float32)
    out = da / db

    def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        ga = unbroadcast(g / db, a) if a.requires_grad else None
        gb = unbroadcast(-g * out / db, b) if b.requires_grad else None
        return ga, gb

    return Tensor._make(out, (a, b), backward, "div")


def neg(a: Any) -> Tensor:
    """−a. ∂/∂a = −1."""
    a = lift(a, "neg")

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (-g,)

    return Tensor._make(-a.data, (a,), backward, "neg")


def pow(a: Any, exponent: float) -> Tensor:  # noqa: A001 - the op's natural name
    """a ** p for a scalar exponent p. ∂/∂a = p·a^(p−1)."""
    a = lift(a, "pow")
    if isinstance(exponent, Tensor):
        if exponent.data.size != 1 or exponent.requires_grad:
            raise DTypeError(
                "pow: the exponent must be a plain number (a scalar exponent), "
                f"received a tensor of shape {exponent.shape}; use exp(b * log(a)) instead"
            )
        exponent = exponent.item()
    if not isinstance(exponent, (int, float, np.integer, np.floating)) or isinstance(
        exponent, bool
    ):
        raise DTypeError(f"pow: the exponent must be a number, received {exponent!r}")
    p = float(exponent)
    x = a.data
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    if p == 2.0:
        out = x * x
    elif p == int(p) and p >= 0:
        out = x ** int(p)
    else:
        out = np.power(x, p)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        if p == 0.0:  # a constant: 0, not 0·x^(−1) = NaN at x = 0
            return (np.zeros_like(g),)
        if p == 2.0:
            return (g * 2.0 * x,)
        return (g * p * np.power(x, p - 1.0),)

    return Tensor._make(out, (a,), backward, "pow")


def _matmul_error(sa: tuple[int, ...], sb: tuple[int, ...], why: str) -> ShapeError:
    return ShapeError(f"matmul: cannot multiply {sa} by {sb}: {why}")


def matmul(a: Any, b: Any) -> Tensor:
    """a @ b for 1-D, 2-D and batched (…, n, k) @ (…, k, m) operands.

    Backward (seed 003, D = W·X): ∂C/∂W = dD·Xᵀ and ∂C/∂X = Wᵀ·dD, batched.
    """
    a, b, da, db = lift_pair(a, b, "matmul")
    sa, sb = da.shape, db.shape
    if da.ndim == 0 or db.ndim == 0:
        raise _matmul_error(sa, sb, "both operands need at least one dimension; use mul")
    k_a = sa[-1]
    k_b = sb[0] if db.ndim == 1 else sb[-2]
    if k_a != k_b:
        raise _matmul_error(sa, sb, f"inner sizes {k_a} and {k_b} differ")
    if da.ndim > 2 or db.ndim > 2:
        batch_a, batch_b = (sa[:-2] if da.ndim > 1 else ()), (sb[:-2] if db.ndim > 1 else ())
        try:
            np.broadcast_shapes(batch_a, batch_b)
        except ValueError:
            raise _matmul_error(
                sa, sb, f"batch shapes {batch_a} and {batch_b} cannot be broadcast together"
            ) from None
    out = da @ db

    def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        # Promote 1-D operands to matrices so one formula covers every case.
        a2 = da[None, :] if da.ndim == 1 else da
        b2 = db[:, None] if db.ndim == 1 else db
        # b's axis first: for vector @ vector g is 0-d and must become (1, 1).
        g2 = g
        if db.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        if da.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        ga = gb = None
        if a.requires_grad:
            ga = g2 @ np.swapaxes(b2, -1, -2)
            if da.ndim == 1:
                ga = ga.reshape(ga.shape[:-2] + (ga.shape[-1],))
                ga = ga.sum(axis=tuple(range(ga.ndim - 1))) if ga.ndim > 1 else ga
            ga = unbroadcast(ga, a)
        if b.requires_grad:
            gb = np.swapaxes(a2, -1, -2) @ g2
            if db.ndim == 1:
                gb = gb[..., 0]
                gb = gb.sum(axis=tuple(range(gb.ndim - 1))) if gb.ndim > 1 else gb
            gb = unbroadcast(gb, b)
        return ga, gb

    return Tensor._make(out, (a, b), backward, "matmul")


def linear(x: Any, W: Any, b: Any = None) -> Tensor:  # noqa: N803 - seeds' notation
    """The fused dense op z = x Wᵀ + b for a batch of rows.

    x: (N, in) or (…, in); W: (units, in), so W[j, k] is the seeds' w_jk; b: (units,).
    Backward: ∂C/∂x = δ W, ∂C/∂W = δᵀ x (BP4 summed over the batch), ∂C/∂b = Σ_n δ (BP3).
    Same math as ``matmul(x, W.T) + b``, one node instead of three.
    """
    # A constant (a NumPy batch, say) takes the dtype of the tensor it meets.
    if isinstance(W, Tensor):
        x = lift_like(x, W.data.dtype, "linear")
    else:
        x = lift(x, "linear")
        W = lift_like(W, x.data.dtype, "linear")
    require_float(W, "linear")
    if W.data.ndim != 2:
        raise ShapeError(f"linear: W must have shape (units, in_features), received {W.shape}")
    xd = x.data
    if xd.dtype != W.data.dtype:
        xd = xd.astype(W.data.dtype)
    if xd.ndim == 0 or xd.shape[-1] != W.data.shape[1]:
        raise ShapeError(
            f"linear: input of shape {x.shape} has {xd.shape[-1] if xd.ndim else 0} features "
            f"but W of shape {W.shape} expects {W.data.shape[1]}"
        )
    Wd = W.data
    if b is not None:
        b = lift_like(b, W.data.dtype, "linear")
        if b.data.shape != (Wd.shape[0],):
            raise ShapeError(
                f"linear: b must have shape ({Wd.shape[0]},) to match W {W.shape}, "
                f"received {b.shape}"
            )
        out = xd @ Wd.T
        out += b.data
        parents: tuple[Tensor, ...] = (x, W, b)
    else:
        out = xd @ Wd.T
        parents = (x, W)

    def backward(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        x2 = xd.reshape(-1, xd.shape[-1])
        g2 = g.reshape(-1, g.shape[-1])
        gx = (g @ Wd).astype(x.data.dtype, copy=False) if x.requires_grad else None
        gW = g2.T @ x2 if W.requires_grad else None
        if len(parents) == 3:
            gb = g2.sum(axis=0) if parents[2].requires_grad else None
            return gx, gW, gb
        return gx, gW

    return Tensor._make(out, parents, backward, "linear")


def cast(x: Any, dtype: Any) -> Tensor:
    """x converted to ``dtype``; between float dtypes the gradient is cast back."""
    if not isinstance(x, Tensor):  # a constant: straight to dtype, not via the float32 default
        return Tensor(as_array(x, dtype, "cast"), dtype=dtype)
    data = as_array(x.data, dtype, "cast")

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (g.astype(x.data.dtype),)

    if data.dtype.kind != "f":
        return Tensor(data)
    return Tensor._make(data, (x,), backward, "cast")
