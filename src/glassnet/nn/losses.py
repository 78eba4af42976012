"""Losses (Keras names, called as ``loss(y_true, y_pred)``), with their closed-form gradients.

Each loss has two faces:

* ``__call__(y_true, y_pred)`` — a differentiable Tensor, the batch mean of per-sample costs
  C_x (the seeds' C = 1/n Σ_x C_x), for the autograd graph;
* ``per_sample(y_true, a)`` and ``gradient(y_true, a)`` — NumPy, C_x and ∇_a C_x written out
  from the formula; ``output_error`` turns them into (C, ∂C/∂a, a) for a batch — the start of
  BP1 for the fast training step and evaluate — and, on logits, uses the stable fused form of
  the cross-entropies, whose error is δ^L = a^L − y (``functional.nn``'s one definition).

A subclass that changes only its tensor face (or has no array face) is honoured by fit through
the graph: ``array_form_problem()`` says why the array face cannot stand for it.

Probabilities are clipped to [ε, 1 − ε] (ε = 1e-7) before a log, as Keras does, unless
``from_logits=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from ..autograd.tensor import Tensor, as_array
from ..errors import InvalidArgumentError, ShapeError, UnknownNameError, describe
from ..functional.array_ops import NUMPY_OPS
from ..functional.nn import (
    check_sparse_labels,
    sigmoid_cross_entropy_delta,
    sigmoid_cross_entropy_parts,
    softmax_cross_entropy_delta,
    softmax_cross_entropy_parts,
)

__all__ = [
    "Loss",
    "Quadratic",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "get",
    "EPSILON",
    "matches_by_unit_axis",
    "FunctionLoss",
    "NoLoss",
    "Hinge",
    "SquaredHinge",
    "Huber",
    "LogCosh",
    "MeanSquaredLogarithmicError",
    "MeanAbsolutePercentageError",
    "Poisson",
    "KLDivergence",
]

EPSILON = 1e-7


def _pred_tensor(y_pred: Any, name: str) -> Tensor:
    t = y_pred if isinstance(y_pred, Tensor) else Tensor(as_array(y_pred, None, name))
    if t.data.dtype.kind != "f":
        t = Tensor(t.data.astype(np.float32))
    return t


def matches_by_unit_axis(target: tuple[int, ...], pred: tuple[int, ...]) -> bool:
    """True when the shapes differ only by a trailing axis of size 1 — targets (N,) against
    outputs (N, 1), or (N, 1) against (N,) — which Keras reshapes rather than refuses."""
    if len(target) + 1 == len(pred):
        return pred[-1] == 1 and pred[:-1] == target
    if len(pred) + 1 == len(target):
        return target[-1] == 1 and target[:-1] == pred
    return False


def _target_array(y_true: Any, like: np.ndarray, name: str, integer: bool = False) -> np.ndarray:
    arr = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
    if arr.dtype.kind not in "fiub":
        raise InvalidArgumentError(f"{name}: y_true must hold numbers, received {describe(arr)}")
    if integer:
        return arr
    if arr.shape != like.shape and matches_by_unit_axis(arr.shape, like.shape):
        arr = arr.reshape(like.shape)
    return arr.astype(like.dtype, copy=False)


def _inside_clip(a: np.ndarray) -> np.ndarray:
    """1 where ε ≤ a ≤ 1 − ε, else 0: the clipped cost is flat outside, so is its gradient."""
    return ((a >= EPSILON) & (a <= 1 - EPSILON)).astype(a.dtype)


def _weights(sample_weight: Any) -> np.ndarray:
    """A loss call's ``sample_weight`` (an array or a tensor) as an array."""
    return np.asarray(sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight)


class Loss:
    """Base class. ``from_logits``: y_pred are pre-activation scores, not probabilities."""

    name = "loss"
    #: the output activation whose pairing with this loss makes δ^L = a^L − y
    fused_activation: str | None = None

    def __init__(self, from_logits: bool = False) -> None:
        if not isinstance(from_logits, bool):
            raise InvalidArgumentError(
                f"{type(self).__name__}: from_logits must be True or "
                f"False, received {from_logits!r}"
            )
        self.from_logits = from_logits

    # -- the three faces -------------------------------------------------------------------------
    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        """The batch-mean cost as a differentiable scalar tensor; with ``sample_weight`` (one
        weight per sample) 1/N Σ_x w_x C_x, as Keras's losses."""
        pred = _pred_tensor(y_pred, self.name)
        if sample_weight is not None:
            return self.weighted_tensor(y_true, pred, self.from_logits, _weights(sample_weight))
        targets = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
        if targets.dtype.kind == "f" and not np.isfinite(targets).all():
            raise InvalidArgumentError(
                f"{self.name}: y_true contains NaN or inf; targets must be finite"
            )
        self.check(y_true, pred.data)
        if self.from_logits:
            return self.from_logits_tensor(y_true, pred)
        return self.tensor(y_true, pred)

    def tensor(self, y_true: Any, a: Tensor) -> Tensor:
        """Mean of C_x over the batch, for outputs ``a`` (probabilities/values)."""
        raise NotImplementedError

    def from_logits_tensor(self, y_true: Any, z: Tensor) -> Tensor:
        """Mean of C_x for logits ``z`` (stable fused form where one exists)."""
        raise InvalidArgumentError(f"{self.name}: from_logits=True is not meaningful for this loss")

    def per_sample(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        """C_x for each sample, shape (N,), from the formula (NumPy)."""
        raise NotImplementedError

    def gradient(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        """∇_a C_x for each sample, shape of ``a``, from the formula (NumPy)."""
        raise NotImplementedError

    # -- the array face, for the fast step and evaluate -----------------------------------------
    def output_error(
        self, y_true: Any, out: np.ndarray, logits: bool, ops: Any = NUMPY_OPS
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """(C, ∂C/∂out, a) for the batch mean C = 1/N Σ_x C_x of the model's output ``out``.

        ``logits``: ``out`` holds pre-activation scores z and the fused form gives ∂C/∂z
        (δ^L = a^L − y); ``a`` is then softmax(z) or σ(z). Otherwise ``out`` is a^L and the
        result is ∇_a C / N from ``gradient``.
        """
        if logits:
            return self.logits_error(y_true, out, ops)
        n = len(out)
        value = ops.mean(self.per_sample(y_true, out))
        return value, (self.gradient(y_true, out) / n).astype(out.dtype, copy=False), out

    def logits_error(
        self, y_true: Any, z: np.ndarray, ops: Any = NUMPY_OPS
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """(C, ∂C/∂z, a) from logits, for the losses with a fused form."""
        raise InvalidArgumentError(f"{self.name}: from_logits=True is not meaningful for this loss")

    def array_form_problem(self) -> str | None:
        """Why ``output_error`` cannot stand for this loss's tensor face, or None when it can:
        the class that writes ``gradient`` must also be the one behind every other face."""
        cls = type(self)
        definer = next((c for c in cls.__mro__ if "gradient" in vars(c)), Loss)
        if definer is Loss:
            return (
                f"loss {self.name!r} ({cls.__name__}) has no array form (per_sample and gradient)"
            )
        faces = ("__call__", "tensor", "from_logits_tensor", "per_sample")
        for face in (*faces, "logits_error", "output_error"):
            if getattr(cls, face) is not getattr(definer, face):
                return f"loss {self.name!r} ({cls.__name__}) overrides {face}"
        return None

    def weighted_tensor(
        self, y_true: Any, out: Tensor, logits: bool, weights: np.ndarray
    ) -> Tensor:
        """C = 1/N Σ_x w_x C_x for per-sample weights w (Keras's ``sample_weight``: divided by
        the batch size N, not by Σ w), as a graph node.

        Each C_x depends on its own output row only, so ∂C/∂out is the unweighted mean's
        gradient (the array face, ``output_error``) with row x scaled by w_x; the value uses
        ``per_sample`` on the outputs a (probabilities when ``logits``).
        """
        problem = self.array_form_problem()
        if problem is not None:
            raise InvalidArgumentError(
                f"{self.name}: sample weights need per-sample costs, but {problem}"
            )
        _, grad, a = self.output_error(y_true, out.data, logits)
        w = np.asarray(weights, dtype=out.data.dtype).reshape(-1)
        if len(w) != len(out.data):
            raise ShapeError(
                f"{self.name}: {len(w)} sample weights for a batch of {len(out.data)} samples"
            )
        rows = w.reshape((len(w),) + (1,) * (out.data.ndim - 1))
        value = np.asarray(np.mean(w * self.per_sample(y_true, a)), dtype=out.data.dtype)

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            return (grad * rows * g,)

        return Tensor._make(value, (out,), backward, f"weighted_{self.name}")

    # -- shared ----------------------------------------------------------------------------------
    def check(self, y_true: Any, pred: np.ndarray) -> None:
        """Validate targets against predictions before any work (shape, range, finiteness)."""
        arr = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
        if arr.shape != pred.shape and not matches_by_unit_axis(arr.shape, pred.shape):
            raise ShapeError(
                f"{self.name}: y_true has shape {arr.shape} but y_pred has shape "
                f"{pred.shape}; they must match"
            )

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, for saving."""
        return {"from_logits": self.from_logits} if self.from_logits else {}

    def formula(self) -> str:
        """C_x in LaTeX, for the explain renderers."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({'from_logits=True' if self.from_logits else ''})"


class Quadratic(Loss):
    """The seeds' quadratic cost: C_x = ½‖y − a‖², batch cost C = 1/n Σ_x C_x.

    ∇_a C_x = a − y. Seed 004's E = Σ ½(target − out)² is this cost for one sample.
    """

    name = "quadratic"

    def tensor(self, y_true: Any, a: Tensor) -> Tensor:
        y = _target_array(y_true, a.data, self.name)
        diff = a - y
        per = F.sum(diff * diff, axis=-1) * 0.5 if a.ndim > 1 else diff * diff * 0.5
        return F.mean(per)

    def per_sample(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        y = _target_array(y_true, a, self.name)
        d = a - y
        return 0.5 * (d * d).reshape(len(a), -1).sum(axis=1)

    def gradient(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        return a - _target_array(y_true, a, self.name)

    def formula(self) -> str:
        return r"C_x = \tfrac{1}{2}\lVert y - a^L \rVert^2"


class MeanSquaredError(Loss):
    """C_x = mean_k (y_k − a_k)² (Keras's mse). ∇_a C_x = 2(a − y)/K."""

    name = "mse"

    def tensor(self, y_true: Any, a: Tensor) -> Tensor:
        y = _target_array(y_true, a.data, self.name)
        diff = a - y
        return F.mean(diff * diff)

    def per_sample(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        d = a - _target_array(y_true, a, self.name)
        return (d * d).reshape(len(a), -1).mean(axis=1)

    def gradient(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        k = a[0].size if a.ndim > 1 else 1
        return 2.0 * (a - _target_array(y_true, a, self.name)) / k

    def formula(self) -> str:
        return r"C_x = \tfrac{1}{K}\sum_k (y_k - a^L_k)^2"


class MeanAbsoluteError(Loss):
    """C_x = mean_k |y_k − a_k| (Keras's mae). ∇_a C_x = sign(a − y)/K."""

    name = "mae"

    def tensor(self, y_true: Any, a: Tensor) -> Tensor:
        y = _target_array(y_true, a.data, self.name)
        return F.mean(F.abs(a - y))

    def per_sample(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        d = a - _target_array(y_true, a, self.name)
        return np.abs(d).reshape(len(a), -1).mean(axis=1)

    def gradient(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        k = a[0].size if a.ndim > 1 else 1
        return np.sign(a - _target_array(y_true, a, self.name)) / k

    def formula(self) -> str:
        return r"C_x = \tfrac{1}{K}\sum_k \lvert y_k - a^L_k \rvert"


class BinaryCrossentropy(Loss):
    """C_x = −mean_k [y_k log a_k + (1 − y_k) log(1 − a_k)], targets in [0, 1].

    With a sigmoid output, δ^L = ∇_a C ⊙ σ'(z) simplifies to (a − y)/K: training then uses the
    stable fused op on z.
    """

    name = "binary_crossentropy"
    fused_activation = "sigmoid"

    def check(self, y_true: Any, pred: np.ndarray) -> None:
        super().check(y_true, pred)
        arr = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise InvalidArgumentError(
                f"{self.name}: targets must lie in [0, 1], received values from "
                f"{arr.min()} to {arr.max()}"
            )

    def tensor(self, y_true: Any, a: Tensor) -> Tensor:
        y = _target_array(y_true, a.data, self.name)
        p = F.clip(a, EPSILON, 1.0 - EPSILON)
        return -F.mean(y * F.log(p) + (1.0 - y) * F.log(1.0 - p))

    def from_logits_tensor(self, y_true: Any, z: Tensor) -> Tensor:
        y = _target_array(y_true, z.data, self.name)
        return F.sigmoid_binary_cross_entropy(z, y)

    def logits_error(
        self, y_true: Any, z: np.ndarray, ops: Any = NUMPY_OPS
    ) -> tuple[float, np.ndarray, np.ndarray]:
        y = _target_array(y_true, z, self.name).reshape(z.shape)
        per, a = sigmoid_cross_entropy_parts(z, y)
        width = z.shape[-1] if z.ndim > 1 else 1
        # The same factor as the graph's fused op: (1/N)/K, K the outputs per sample.
        delta = sigmoid_cross_entropy_delta(a, y, (1.0 / len(z)) / width)
        return ops.mean(per), delta.astype(z.dtype, copy=False), a

    def per_sample(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        y = _target_array(y_true, a, self.name)
        p = np.clip(a, EPSILON, 1 - EPSILON)
        c = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        return c.reshape(len(a), -1).mean(axis=1)

    def gradient(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        y = _target_array(y_true, a, self.name)
        p = np.clip(a, EPSILON, 1 - EPSILON)
        k = a[0].size if a.ndim > 1 else 1
        return (p - y) / (p * (1 - p)) / k * _inside_clip(a)

    def formula(self) -> str:
        return r"C_x = -\tfrac{1}{K}\sum_k \left[y_k \ln a^L_k + (1-y_k)\ln(1-a^L_k)\right]"


class CategoricalCrossentropy(Loss):
    """C_x = −Σ_k y_k log a_k for one-hot (or probability) targets of shape (N, K).

    With a softmax output, δ^L = a^L − y: training then uses the stable fused op on z.
    """

    name = "categorical_crossentropy"
    fused_activation = "softmax"

    def check(self, y_true: Any, pred: np.ndarray) -> None:
        arr = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
        if pred.ndim != 2:
            raise ShapeError(
                f"{self.name}: y_pred must have shape (batch, classes), received {pred.shape}"
            )
        if arr.shape != pred.shape:
            hint = " (integer labels need sparse_categorical_crossentropy)" if arr.ndim == 1 else ""
            raise ShapeError(
                f"{self.name}: one-hot targets must have shape {pred.shape} ({pred.shape[1]} "
                f"classes), received {arr.shape}{hint}"
            )
        # Probabilities (one-hot or smoothed): a target outside [0, 1] (or NaN) makes
        # −Σ y ln a meaningless — a negative "loss" — rather than an error somewhere later.
        if arr.size and (arr.dtype.kind not in "biuf" or not ((arr >= 0) & (arr <= 1)).all()):
            finite = arr[np.isfinite(arr)] if arr.dtype.kind in "biuf" else arr.ravel()[:0]
            seen = f"values from {finite.min()} to {finite.max()}" if finite.size else describe(arr)
            nan = " and NaN or inf" if arr.dtype.kind == "f" and finite.size < arr.size else ""
            raise InvalidArgumentError(
                f"{self.name}: targets must be probabilities in [0, 1] (one-hot rows such as "
                f"[0, 1, 0]), received {seen}{nan}"
            )

    def tensor(self, y_true: Any, a: Tensor) -> Tensor:
        y = _target_array(y_true, a.data, self.name)
        p = F.clip(a, EPSILON, 1.0 - EPSILON)
        return -F.mean(F.sum(y * F.log(p), axis=-1))

    def from_logits_tensor(self, y_true: Any, z: Tensor) -> Tensor:
        return F.softmax_cross_entropy(z, _target_array(y_true, z.data, self.name))

    def logits_error(
        self, y_true: Any, z: np.ndarray, ops: Any = NUMPY_OPS
    ) -> tuple[float, np.ndarray, np.ndarray]:
        y = _target_array(y_true, z, self.name)
        per, a = softmax_cross_entropy_parts(z, targets=y)
        return ops.mean(per), softmax_cross_entropy_delta(a, 1.0 / len(z), targets=y), a

    def per_sample(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        y = _target_array(y_true, a, self.name)
        return -(y * np.log(np.clip(a, EPSILON, 1 - EPSILON))).sum(axis=-1)

    def gradient(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        y = _target_array(y_true, a, self.name)
        return -y / np.clip(a, EPSILON, 1 - EPSILON) * _inside_clip(a)

    def formula(self) -> str:
        return r"C_x = -\sum_k y_k \ln a^L_k"


class SparseCategoricalCrossentropy(Loss):
    """C_x = −log a_{y} for integer labels y of shape (N,) and outputs (N, K).

    With a softmax output, δ^L = a^L − onehot(y): training then uses the stable fused op on z.
    """

    name = "sparse_categorical_crossentropy"
    fused_activation = "softmax"

    def check(self, y_true: Any, pred: np.ndarray) -> None:
        arr = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
        if pred.ndim != 2:
            raise ShapeError(
                f"{self.name}: y_pred must have shape (batch, classes), received {pred.shape}"
            )
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.shape != (pred.shape[0],):
            hint = " (one-hot targets need categorical_crossentropy)" if arr.ndim == 2 else ""
            raise ShapeError(
                f"{self.name}: integer labels must have shape ({pred.shape[0]},), received "
                f"{arr.shape}{hint}"
            )
        check_sparse_labels(arr, pred.shape[1], self.name)

    @staticmethod
    def _labels(y_true: Any) -> np.ndarray:
        arr = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
        if arr.ndim == 2:
            arr = arr[:, 0]
        return arr.astype(np.intp, copy=False)

    def tensor(self, y_true: Any, a: Tensor) -> Tensor:
        y = self._labels(y_true)
        picked = F.getitem(a, (np.arange(len(y)), y))
        return -F.mean(F.log(F.clip(picked, EPSILON, 1.0 - EPSILON)))

    def from_logits_tensor(self, y_true: Any, z: Tensor) -> Tensor:
        return F.sparse_softmax_cross_entropy(z, self._labels(y_true))

    def logits_error(
        self, y_true: Any, z: np.ndarray, ops: Any = NUMPY_OPS
    ) -> tuple[float, np.ndarray, np.ndarray]:
        delta = np.empty_like(z)
        scale = z.dtype.type(1.0 / len(z))
        per, a = ops.sparse_softmax_cross_entropy(z, self._labels(y_true), delta, scale)
        return ops.mean(per), delta, a

    def per_sample(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        y = self._labels(y_true)
        return -np.log(np.clip(a[np.arange(len(y)), y], EPSILON, 1 - EPSILON))

    def gradient(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        y = self._labels(y_true)
        g = np.zeros_like(a)
        rows = np.arange(len(y))
        picked = a[rows, y]
        g[rows, y] = -1.0 / np.clip(picked, EPSILON, 1 - EPSILON) * _inside_clip(picked)
        return g

    def formula(self) -> str:
        return r"C_x = -\ln a^L_{y}"


class _Elementwise(Loss):
    """A cost that is the mean over each sample's K outputs of an elementwise term c(y, a):
    C_x = 1/K Σ_k c(y_k, a_k), so ∇_a C_x = c'(y, a)/K. A subclass writes c three ways
    that tests hold together: on tensors (``term``), on arrays (``term_array``) and its
    derivative in a (``term_grad``)."""

    def term(self, y: np.ndarray, a: Tensor) -> Tensor:
        raise NotImplementedError

    def term_array(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def term_grad(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def targets(self, y: np.ndarray) -> np.ndarray:
        """The targets as the term reads them (hinge losses map labels 0/1 to −1/1)."""
        return y

    def tensor(self, y_true: Any, a: Tensor) -> Tensor:
        y = self.targets(_target_array(y_true, a.data, self.name))
        return F.mean(self.term(y, a))

    def per_sample(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        y = self.targets(_target_array(y_true, a, self.name))
        return self.term_array(y, a).reshape(len(a), -1).mean(axis=1)  # type: ignore[no-any-return]

    def gradient(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        y = self.targets(_target_array(y_true, a, self.name))
        k = a[0].size if a.ndim > 1 else 1
        return self.term_grad(y, a) / k


class Hinge(_Elementwise):
    """C_x = mean_k max(1 − t_k a_k, 0) with labels t = ±1 (0/1 labels are mapped, as Keras)."""

    name = "hinge"

    def targets(self, y: np.ndarray) -> np.ndarray:
        return np.where(y == 0, -1.0, y).astype(y.dtype)

    def term(self, y: np.ndarray, a: Tensor) -> Tensor:
        return F.relu(1.0 - a * y)

    def term_array(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.maximum(1.0 - y * a, 0.0)

    def term_grad(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        return -y * (1.0 - y * a > 0)


class SquaredHinge(Hinge):
    """C_x = mean_k max(1 − t_k a_k, 0)²."""

    name = "squared_hinge"

    def term(self, y: np.ndarray, a: Tensor) -> Tensor:
        return F.square(F.relu(1.0 - a * y))

    def term_array(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.maximum(1.0 - y * a, 0.0) ** 2

    def term_grad(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        return -2.0 * y * np.maximum(1.0 - y * a, 0.0)


class Huber(_Elementwise):
    """C_x = mean_k h(a_k − y_k), h(e) = ½e² for |e| ≤ δ, else δ|e| − ½δ²."""

    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        super().__init__(False)
        if not isinstance(delta, (int, float)) or isinstance(delta, bool) or delta <= 0:
            raise InvalidArgumentError(f"huber: delta must be a number > 0, received {delta!r}")
        self.delta = float(delta)

    def term(self, y: np.ndarray, a: Tensor) -> Tensor:
        e = F.abs(a - y)
        small = F.minimum(e, self.delta)  # ½q² + δ(|e| − q) with q = min(|e|, δ)
        return 0.5 * small * small + self.delta * (e - small)

    def term_array(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        e = np.abs(a - y)
        q = np.minimum(e, self.delta)
        return 0.5 * q * q + self.delta * (e - q)

    def term_grad(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.clip(a - y, -self.delta, self.delta)

    def get_config(self) -> dict[str, Any]:
        return {"delta": self.delta}


class LogCosh(_Elementwise):
    """C_x = mean_k ln cosh(a_k − y_k), computed as e + softplus(−2e) − ln 2 (no overflow)."""

    name = "log_cosh"

    def term(self, y: np.ndarray, a: Tensor) -> Tensor:
        e = a - y
        return e + F.softplus(-2.0 * e) - float(np.log(2.0))

    def term_array(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        e = a - y
        return e + np.logaddexp(0.0, -2.0 * e) - np.log(2.0)

    def term_grad(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.tanh(a - y)


class MeanSquaredLogarithmicError(_Elementwise):
    """C_x = mean_k (ln(max(a_k, ε) + 1) − ln(max(y_k, ε) + 1))²."""

    name = "msle"

    def term(self, y: np.ndarray, a: Tensor) -> Tensor:
        d = F.log1p(F.maximum(a, EPSILON)) - np.log1p(np.maximum(y, EPSILON))
        return F.square(d)

    def term_array(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        return (np.log1p(np.maximum(a, EPSILON)) - np.log1p(np.maximum(y, EPSILON))) ** 2

    def term_grad(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        d = np.log1p(np.maximum(a, EPSILON)) - np.log1p(np.maximum(y, EPSILON))
        return 2.0 * d / (1.0 + np.maximum(a, EPSILON)) * (a > EPSILON)


class MeanAbsolutePercentageError(_Elementwise):
    """C_x = 100 · mean_k |y_k − a_k| / max(|y_k|, ε)."""

    name = "mape"

    def term(self, y: np.ndarray, a: Tensor) -> Tensor:
        return F.abs(a - y) * (100.0 / np.maximum(np.abs(y), EPSILON))

    def term_array(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        return 100.0 * np.abs(a - y) / np.maximum(np.abs(y), EPSILON)

    def term_grad(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        return 100.0 * np.sign(a - y) / np.maximum(np.abs(y), EPSILON)


class Poisson(_Elementwise):
    """C_x = mean_k (a_k − y_k ln(a_k + ε))."""

    name = "poisson"

    def term(self, y: np.ndarray, a: Tensor) -> Tensor:
        return a - y * F.log(a + EPSILON)

    def term_array(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        return a - y * np.log(a + EPSILON)

    def term_grad(self, y: np.ndarray, a: np.ndarray) -> np.ndarray:
        return 1.0 - y / (a + EPSILON)


class KLDivergence(Loss):
    """C_x = Σ_k y_k ln(y_k / a_k), both clipped to [ε, 1] (Keras's KLDivergence)."""

    name = "kl_divergence"

    def tensor(self, y_true: Any, a: Tensor) -> Tensor:
        y = np.clip(_target_array(y_true, a.data, self.name), EPSILON, 1.0)
        p = F.clip(a, EPSILON, 1.0)
        per = (
            F.sum(y * (np.log(y) - F.log(p)), axis=-1) if a.ndim > 1 else y * (np.log(y) - F.log(p))
        )
        return F.mean(per)

    def per_sample(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        y = np.clip(_target_array(y_true, a, self.name), EPSILON, 1.0)
        c = y * np.log(y / np.clip(a, EPSILON, 1.0))
        return c.reshape(len(a), -1).sum(axis=1)  # type: ignore[no-any-return]

    def gradient(self, y_true: Any, a: np.ndarray) -> np.ndarray:
        y = np.clip(_target_array(y_true, a, self.name), EPSILON, 1.0)
        inside = ((a >= EPSILON) & (a <= 1.0)).astype(a.dtype)
        return -y / np.clip(a, EPSILON, 1.0) * inside  # type: ignore[no-any-return]


class NoLoss(Loss):
    """What ``compile(loss=None)`` uses, as Keras allows: the compiled part of the cost is 0,
    so the cost is what the model adds itself (``add_loss``, regularizers). The targets are
    not read. It has no array form, so fit trains through the graph."""

    name = "no_loss"

    def tensor(self, y_true: Any, a: Tensor) -> Tensor:
        return F.mul(F.sum(a), 0.0)

    def weighted_tensor(
        self, y_true: Any, out: Tensor, logits: bool, weights: np.ndarray
    ) -> Tensor:
        return self.tensor(y_true, out)

    def check(self, y_true: Any, pred: np.ndarray) -> None:
        """Any targets do: they are not read."""


class FunctionLoss(Loss):
    """A plain function ``f(y_true, y_pred)`` used as a loss (Keras accepts them in compile).

    It returns per-sample costs (or one scalar) as a tensor computed with differentiable ops;
    the batch cost is their mean. It has no array form, so fit trains through the graph.
    Targets are passed as they are (reshaped to the outputs' shape when they differ only by
    a trailing axis of 1, as Keras does).
    """

    def __init__(self, fn: Any, name: str | None = None) -> None:
        super().__init__(False)
        if not callable(fn):
            raise InvalidArgumentError(f"loss: expected a callable, received {describe(fn)}")
        self.fn = fn
        self.name = str(name or getattr(fn, "__name__", "loss"))

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        pred = _pred_tensor(y_pred, self.name)
        if sample_weight is not None:
            return self.weighted_tensor(y_true, pred, False, _weights(sample_weight))
        y = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
        if y.shape != pred.data.shape and matches_by_unit_axis(y.shape, pred.data.shape):
            y = y.reshape(pred.data.shape)
        out = self.fn(y, pred)
        if not isinstance(out, Tensor):
            raise InvalidArgumentError(
                f"loss {self.name!r}: the function must return a tensor computed from y_pred "
                f"(use keras.ops or glassnet.functional), received {describe(out)}"
            )
        return F.mean(out) if out.data.ndim else out

    def tensor(self, y_true: Any, a: Tensor) -> Tensor:
        return self(y_true, a)

    def weighted_tensor(
        self, y_true: Any, out: Tensor, logits: bool, weights: np.ndarray
    ) -> Tensor:
        """1/N Σ_x w_x f(y, ŷ)_x: the function must return one cost per sample."""
        pred = _pred_tensor(out, self.name)
        y = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
        if y.shape != pred.data.shape and matches_by_unit_axis(y.shape, pred.data.shape):
            y = y.reshape(pred.data.shape)
        per = self.fn(y, pred)
        if not isinstance(per, Tensor) or per.data.shape[:1] != (len(pred.data),):
            raise InvalidArgumentError(
                f"loss {self.name!r}: sample weights need one cost per sample from the "
                f"function, received {describe(per)}"
            )
        if per.data.ndim > 1:
            per = F.mean(F.reshape(per, (len(pred.data), -1)), axis=1)
        w = np.asarray(weights, dtype=per.data.dtype).reshape(-1)
        return F.mean(F.mul(per, w))

    def check(self, y_true: Any, pred: np.ndarray) -> None:
        arr = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
        if len(arr) != len(pred):
            raise ShapeError(
                f"loss {self.name!r}: y_true has {len(arr)} samples but y_pred has {len(pred)}"
            )

    def get_config(self) -> dict[str, Any]:
        return {}


_REGISTRY: dict[str, type[Loss]] = {
    "quadratic": Quadratic,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "hinge": Hinge,
    "squared_hinge": SquaredHinge,
    "huber": Huber,
    "huber_loss": Huber,
    "log_cosh": LogCosh,
    "logcosh": LogCosh,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "poisson": Poisson,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "no_loss": NoLoss,
}


def get(identifier: Any) -> Loss:
    """A Loss from a Keras name ("sparse_categorical_crossentropy"), an instance or a class."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, dict) and "name" in identifier:
        config = dict(identifier)
        cls = _REGISTRY.get(str(config.pop("name")).lower())
        if cls is not None:
            return cls(**config)
    if isinstance(identifier, str) and identifier.lower() in _REGISTRY:
        return _REGISTRY[identifier.lower()]()
    if callable(identifier) and not isinstance(identifier, type):
        return FunctionLoss(identifier)
    raise UnknownNameError(
        f"loss: unknown loss {identifier!r}; known: {', '.join(sorted(_REGISTRY))}"
    )
