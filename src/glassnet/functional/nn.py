"""Network ops: one_hot, dropout, and the fused, numerically stable output-layer losses.

The fused losses take *logits* z^L (the output layer before its softmax/sigmoid). Their
gradient is the famous δ^L = a^L − y (per sample; divided by N for a batch mean): the same
value the composed path softmax → log → multiply → sum gives wherever that path is finite, but
computed without ever taking log(0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _rng
from ..autograd.tensor import Tensor, as_array
from ..errors import DTypeError, InvalidArgumentError, ShapeError
from ._core import lift, lift_like, require_float
from .activations import stable_log_softmax, stable_sigmoid

__all__ = [
    "one_hot",
    "dropout",
    "dropout_mask",
    "dropout_bits",
    "dropout_threshold",
    "check_sparse_labels",
    "sparse_softmax_cross_entropy",
    "softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "softmax_cross_entropy_parts",
    "softmax_cross_entropy_delta",
    "sigmoid_cross_entropy_parts",
    "sigmoid_cross_entropy_delta",
]

_REDUCTIONS = ("mean", "sum", "none")


def one_hot(labels: Any, num_classes: int, dtype: Any = "float32") -> Tensor:
    """Integer labels of shape (N,) → a (N, num_classes) tensor of 0/1 (no gradient)."""
    y = lift(labels, "one_hot").data
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or num_classes < 1
    ):
        raise InvalidArgumentError(
            f"one_hot: num_classes must be a positive integer, received {num_classes!r}"
        )
    check_sparse_labels(y, int(num_classes), "one_hot")
    out = np.zeros(y.shape + (int(num_classes),), dtype=as_array(0, dtype, "one_hot").dtype)
    np.put_along_axis(out, y[..., None].astype(np.intp), 1, axis=-1)
    return Tensor(out, dtype=out.dtype)  # dtype= again, or float64 falls back to float32


def check_sparse_labels(y: np.ndarray, num_classes: int, where: str) -> None:
    """Labels must be integers in [0, num_classes); say which one is not."""
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DTypeError(
                f"{where}: labels must be whole numbers (class indices), received float values "
                f"such as {y[np.flatnonzero(y != np.round(y))[:1]].tolist() or 'NaN'}"
            )
    elif y.dtype.kind not in "iu":
        raise DTypeError(f"{where}: labels must be integers, received dtype {y.dtype}")
    if y.size:
        lo, hi = y.min(), y.max()
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise InvalidArgumentError(
                f"{where}: labels must lie in [0, {num_classes}) for {num_classes} classes, "
                f"received a label {int(bad)}"
            )


def dropout_mask(shape: tuple[int, ...], rate: float, dtype: Any) -> np.ndarray:
    """Inverted-dropout mask: 0 with probability ``rate``, else 1/(1 − rate).

    Scaling the kept units by 1/(1 − rate) keeps each unit's expected value, so nothing
    changes at inference time.
    """
    keep = dropout_bits(shape) >= dropout_threshold(rate)
    dt = np.dtype(dtype)
    return np.multiply(keep, dt.type(1.0 / (1.0 - rate)), dtype=dt)


def dropout_bits(shape: tuple[int, ...]) -> np.ndarray:
    """32 random bits per unit, uint32 of the given shape, from the global generator.

    Each unit's bits come straight from the generator's bit stream (half of a raw 64-bit draw:
    2.4× faster than drawing floats); a unit is kept when they are at least
    ``dropout_threshold(rate)`` = rate·2³², so P(keep) = 1 − rate to within 2⁻³².
    """
    n = math.prod(shape)
    raw = _rng.generator().bit_generator.random_raw((n + 1) // 2)
    return raw.view(np.uint32)[:n].reshape(shape)


def dropout_threshold(rate: float) -> np.uint32:
    """Units whose 32 random bits are below this are dropped."""
    return np.uint32(min(round(rate * 2.0**32), 2**32 - 1))


def dropout(x: Any, rate: float, training: bool = True) -> Tensor:
    """Zero each element with probability ``rate`` while training (inverted dropout)."""
    x = lift(x, "dropout")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise InvalidArgumentError(f"dropout: rate must be in [0, 1), received rate={rate!r}")
    if not training or rate == 0:
        return x
    require_float(x, "dropout")
    mask = dropout_mask(x.data.shape, float(rate), x.data.dtype)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (g * mask,)

    return Tensor._make(x.data * mask, (x,), backward, "dropout")


def _reduce(per_sample: np.ndarray, reduction: str, op: str) -> tuple[np.ndarray, float | None]:
    """Apply the reduction; return the value and the factor each sample's gradient gets."""
    if reduction == "mean":
        # Every entry counts, not just the first axis: per_sample is (N, T) for (N, T, K) logits.
        n = per_sample.size
        if n == 0:
            raise ShapeError(f"{op}: the mean over an empty batch is undefined; got 0 samples")
        return np.asarray(per_sample.mean(), dtype=per_sample.dtype), 1.0 / max(n, 1)
    if reduction == "sum":
        return np.asarray(per_sample.sum(), dtype=per_sample.dtype), 1.0
    if reduction == "none":
        return per_sample, None
    raise InvalidArgumentError(
        f"{op}: reduction must be one of {', '.join(_REDUCTIONS)}, received {reduction!r}"
    )


def _upstream(g: np.ndarray, scale: float | None, extra_dims: int) -> np.ndarray | float:
    """The per-sample factor of the upstream gradient, shaped to broadcast over classes."""
    if scale is None:  # reduction="none": g has one entry per sample
        return g.reshape(g.shape + (1,) * extra_dims)
    return float(g) * scale


def _logits_2d(logits: Any, op: str) -> Tensor:
    z = lift(logits, op)
    require_float(z, op)
    if z.data.ndim != 2 or z.data.shape[1] < 1:
        raise ShapeError(f"{op}: logits must have shape (batch, classes), received {z.shape}")
    return z


def softmax_cross_entropy_parts(
    z: np.ndarray, labels: np.ndarray | None = None, targets: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample cost C_x and the probabilities a = softmax(z), from logits z of shape (N, K).

    With m = max_k z_k and S = Σ_k e^(z_k − m):  a_k = e^(z_k − m)/S and
    C_x = log S − (z_y − m) for an integer label y, or −Σ_k y_k (z_k − m − log S) for target
    rows. Nothing overflows and no log(0) is taken. The fused ops below and the fused training
    step both use this one function.
    """
    # ufunc.reduce directly: the ndarray.max/sum wrappers cost more than the work at (32, 10).
    shifted = z - np.maximum.reduce(z, axis=-1, keepdims=True)
    e = np.exp(shifted)
    total = np.add.reduce(e, axis=-1, keepdims=True)
    log_total = np.log(total)
    if labels is not None:
        per_sample = log_total[:, 0] - shifted[np.arange(len(z)), labels]
    else:
        assert targets is not None
        per_sample = -(targets * (shifted - log_total)).sum(axis=-1)
    e /= total
    return per_sample, e


def softmax_cross_entropy_delta(
    a: np.ndarray,
    scale: Any,
    labels: np.ndarray | None = None,
    targets: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """∂C/∂z of the softmax cross-entropy: (a·Σ_k y_k − y)·scale, i.e. δ^L = a^L − y per sample.

    ``a`` = softmax(z) of shape (N, K); integer ``labels`` (N,) or target rows ``targets``
    (N, K); ``scale`` is 1/N for a batch mean (or a (N, 1) column per sample). Written once:
    the differentiable ops below and the fast training step's output error both call it.
    """
    if labels is not None:
        if out is None:
            delta = a.copy()
        else:
            np.copyto(out, a)
            delta = out
        delta[np.arange(len(a)), labels] -= 1.0
    else:
        assert targets is not None
        delta = np.subtract(a * targets.sum(axis=-1, keepdims=True), targets, out=out)
    delta *= scale
    return delta


def sigmoid_cross_entropy_parts(z: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample cost (the mean over the last axis) and a = σ(z), from logits z.

    C = max(z, 0) − z·t + log(1 + e^(−|z|)) per element: −[t log σ(z) + (1 − t) log(1 − σ(z))]
    without a log of 0.
    """
    elementwise = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
    return (elementwise.mean(axis=-1) if z.ndim > 1 else elementwise), stable_sigmoid(z)


def sigmoid_cross_entropy_delta(a: np.ndarray, t: np.ndarray, scale: Any) -> np.ndarray:
    """∂C/∂z of the sigmoid cross-entropy: (a − t)·scale, δ^L = a^L − y (scale = 1/(N·K))."""
    return (a - t) * scale


def sparse_softmax_cross_entropy(logits: Any, labels: Any, reduction: str = "mean") -> Tensor:
    """C = −log softmax(z)_y per sample, from logits z (N, K) and integer labels y (N,).

    Gradient: ∂C/∂z = softmax(z) − onehot(y) (δ^L = a^L − y), times 1/N for the mean.
    """
    op = "sparse_softmax_cross_entropy"
    z = _logits_2d(logits, op)
    y = lift(labels, op).data
    n, k = z.data.shape
    if y.shape != (n,):
        raise ShapeError(
            f"{op}: labels must have shape ({n},) to match logits {z.shape}, received {y.shape}"
        )
    check_sparse_labels(y, k, op)
    y = y.astype(np.intp, copy=False)
    per_sample, probs = softmax_cross_entropy_parts(z.data, labels=y)
    value, scale = _reduce(per_sample, reduction, op)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (softmax_cross_entropy_delta(probs, _upstream(g, scale, 1), labels=y),)

    return Tensor._make(value, (z,), backward, op)


def softmax_cross_entropy(logits: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """C = −Σ_k y_k log softmax(z)_k per sample, for target distributions y (N, K).

    Gradient: ∂C/∂z = softmax(z)·Σ_k y_k − y, which is a^L − y for one-hot or probability rows.
    """
    op = "softmax_cross_entropy"
    z = _logits_2d(logits, op)
    t = lift_like(targets, z.data.dtype, op)
    if t.data.shape != z.data.shape:
        raise ShapeError(
            f"{op}: targets must have the logits' shape {z.shape} (one column per "
            f"class), received {t.shape}"
        )
    td = t.data.astype(z.data.dtype, copy=False)
    per_sample, probs = softmax_cross_entropy_parts(z.data, targets=td)
    value, scale = _reduce(per_sample, reduction, op)

    def backward(g: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        up = _upstream(g, scale, 1)
        gz = softmax_cross_entropy_delta(probs, up, targets=td)
        gt = -stable_log_softmax(z.data, -1) * up if t.requires_grad else None
        return gz, gt

    return Tensor._make(value, (z, t), backward, op)


def sigmoid_binary_cross_entropy(logits: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """C = −[y log σ(z) + (1 − y) log(1 − σ(z))], averaged over the last axis per sample.

    Computed as max(z, 0) − z·y + log(1 + e^(−|z|)), finite for any z. Gradient: σ(z) − y.
    """
    op = "sigmoid_binary_cross_entropy"
    z = lift(logits, op)
    require_float(z, op)
    t = lift_like(targets, z.data.dtype, op)
    if t.data.shape != z.data.shape:
        raise ShapeError(f"{op}: targets must have the logits' shape {z.shape}, received {t.shape}")
    zd = z.data
    td = t.data.astype(zd.dtype, copy=False)
    per_sample, probs = sigmoid_cross_entropy_parts(zd, td)
    width = zd.shape[-1] if zd.ndim > 1 else 1
    value, scale = _reduce(per_sample, reduction, op)

    def backward(g: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        up = _upstream(g, scale, 1 if zd.ndim > 1 else 0)
        factor = up / width if zd.ndim > 1 else up
        gz = sigmoid_cross_entropy_delta(probs, td, factor)
        gt = -zd * factor if t.requires_grad else None
        return gz, gt

    return Tensor._make(value, (z, t), backward, op)
