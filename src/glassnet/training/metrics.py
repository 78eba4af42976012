"""Metrics (Keras names): running means over the samples seen in an epoch, on NumPy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, UnknownNameError
from ..nn.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    SparseCategoricalCrossentropy,
)

__all__ = [
    "Metric",
    "Mean",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "MeanAbsoluteErrorMetric",
    "MeanSquaredErrorMetric",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "MeanAbsolutePercentageError",
    "Precision",
    "Recall",
    "AUC",
    "TruePositives",
    "FalsePositives",
    "TrueNegatives",
    "FalseNegatives",
    "FunctionMetric",
    "get",
]


class Metric:
    """A running, sample-weighted mean of a per-sample score."""

    name = "metric"

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self.reset()

    def reset(self) -> None:
        """Forget everything seen."""
        self.total = 0.0
        self.count = 0

    def scores(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """One score per sample."""
        raise NotImplementedError

    def update(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        """Add a batch."""
        s = self.scores(np.asarray(y_true), np.asarray(y_pred))
        self.total += float(s.sum())
        self.count += int(s.size)

    def result(self) -> float:
        """The mean so far (0 before any update)."""
        return self.total / self.count if self.count else 0.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """Sample-weighted mean of values passed with ``update_value(value, n)`` (the loss)."""

    name = "loss"

    def update_value(self, value: float, n: int) -> None:
        self.total += float(value) * n
        self.count += n


class BinaryAccuracy(Metric):
    """Fraction of outputs on the right side of ``threshold`` (0.5 for probabilities)."""

    name = "accuracy"

    def __init__(self, name: str | None = None, threshold: float = 0.5) -> None:
        self.threshold = float(threshold)
        super().__init__(name)

    def scores(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        hit = (y_pred > self.threshold) == (y_true.reshape(y_pred.shape) > 0.5)
        return hit.reshape(len(hit), -1).mean(axis=1) if hit.ndim > 1 else hit.astype(float)


class CategoricalAccuracy(Metric):
    """argmax of the prediction equals argmax of the one-hot target."""

    name = "accuracy"

    def scores(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        return (y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)).astype(float)


class SparseCategoricalAccuracy(Metric):
    """argmax of the prediction equals the integer label."""

    name = "accuracy"

    def scores(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        return self._hits(y_true, y_pred).astype(float)

    @staticmethod
    def _hits(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        labels = y_true.reshape(len(y_true), -1)[:, 0] if y_true.ndim > 1 else y_true
        return y_pred.argmax(axis=-1) == labels  # type: ignore[no-any-return]

    def update(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        """Add a batch: counting hits gives the same total as summing 0/1 scores, faster."""
        hits = self._hits(np.asarray(y_true), np.asarray(y_pred))
        self.total += float(np.count_nonzero(hits))
        self.count += int(hits.size)


class TopKCategoricalAccuracy(Metric):
    """The one-hot target's class is among the k highest predictions."""

    name = "top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InvalidArgumentError(
                f"top-k accuracy: k must be a positive integer, received k={k!r}"
            )
        self.k = k
        super().__init__(name)

    def _hits(self, labels: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        k = min(self.k, y_pred.shape[-1])
        target = y_pred[np.arange(len(labels)), labels][:, None]
        # Count strictly larger scores, so ties do not push the true class out.
        return ((y_pred > target).sum(axis=-1) < k).astype(float)

    def scores(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        return self._hits(y_true.argmax(axis=-1), y_pred)


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """The integer label is among the k highest predictions."""

    name = "sparse_top_k_categorical_accuracy"

    def scores(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        labels = y_true.reshape(len(y_true), -1)[:, 0] if y_true.ndim > 1 else y_true
        return self._hits(labels.astype(np.intp), y_pred)


class MeanAbsoluteErrorMetric(Metric):
    """mean |y − ŷ| per sample."""

    name = "mae"

    def scores(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        d = np.abs(y_pred - y_true.reshape(y_pred.shape))
        return d.reshape(len(d), -1).mean(axis=1)


class MeanSquaredErrorMetric(Metric):
    """mean (y − ŷ)² per sample."""

    name = "mse"

    def scores(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        d = y_pred - y_true.reshape(y_pred.shape)
        return (d * d).reshape(len(d), -1).mean(axis=1)


MeanAbsoluteError = MeanAbsoluteErrorMetric  # Keras's class names
MeanSquaredError = MeanSquaredErrorMetric


class MeanAbsolutePercentageError(Metric):
    """100 · mean |y − ŷ| / max(|y|, ε) per sample (Keras's mape, ε = 1e-7)."""

    name = "mape"

    def scores(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        y = y_true.reshape(y_pred.shape).astype(np.float64)
        d = np.abs(y - y_pred) / np.maximum(np.abs(y), 1e-7)
        return 100.0 * d.reshape(len(d), -1).mean(axis=1)  # type: ignore[no-any-return]


def _thresholds(thresholds: Any, where: str) -> np.ndarray:
    values = np.atleast_1d(np.asarray(0.5 if thresholds is None else thresholds, dtype=np.float64))
    if values.ndim != 1 or not np.all((values >= 0) & (values <= 1)):
        raise InvalidArgumentError(
            f"{where}: thresholds must be numbers in [0, 1], received thresholds={thresholds!r}"
        )
    return values


class _Confusion(Metric):
    """Counts of true/false positives/negatives at one or more thresholds, over every entry
    of binary targets (an entry is predicted positive when ŷ > threshold, as Keras)."""

    def __init__(self, thresholds: Any = None, name: str | None = None) -> None:
        self.thresholds = _thresholds(thresholds, type(self).__name__)
        super().__init__(name)

    def reset(self) -> None:
        super().reset()
        n = len(self.thresholds) if hasattr(self, "thresholds") else 1
        self.tp = np.zeros(n)
        self.fp = np.zeros(n)
        self.tn = np.zeros(n)
        self.fn = np.zeros(n)

    def update(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
        truth = np.asarray(y_true).reshape(-1) > 0.5
        if truth.size != pred.size:
            raise InvalidArgumentError(
                f"{self.name}: y_true has {truth.size} entries but y_pred has {pred.size}; "
                f"the confusion metrics need binary targets of the outputs' shape"
            )
        above = pred[None, :] > self.thresholds[:, None]
        self.tp += (above & truth).sum(axis=1)
        self.fp += (above & ~truth).sum(axis=1)
        self.fn += (~above & truth).sum(axis=1)
        self.tn += (~above & ~truth).sum(axis=1)

    def _one(self, values: np.ndarray) -> Any:
        return float(values[0]) if len(values) == 1 else values.tolist()


class TruePositives(_Confusion):
    """Entries with y = 1 predicted above the threshold."""

    name = "true_positives"

    def result(self) -> Any:
        return self._one(self.tp)


class FalsePositives(_Confusion):
    """Entries with y = 0 predicted above the threshold."""

    name = "false_positives"

    def result(self) -> Any:
        return self._one(self.fp)


class TrueNegatives(_Confusion):
    """Entries with y = 0 predicted at or below the threshold."""

    name = "true_negatives"

    def result(self) -> Any:
        return self._one(self.tn)


class FalseNegatives(_Confusion):
    """Entries with y = 1 predicted at or below the threshold."""

    name = "false_negatives"

    def result(self) -> Any:
        return self._one(self.fn)


class Precision(_Confusion):
    """TP / (TP + FP) (0 when nothing was predicted positive)."""

    name = "precision"

    def result(self) -> Any:
        return self._one(self.tp / np.maximum(self.tp + self.fp, 1e-300) * (self.tp > 0))


class Recall(_Confusion):
    """TP / (TP + FN) (0 when there is no positive)."""

    name = "recall"

    def result(self) -> Any:
        return self._one(self.tp / np.maximum(self.tp + self.fn, 1e-300) * (self.tp > 0))


class AUC(_Confusion):
    """Area under the ROC curve, Keras's way: TPR and FPR at ``num_thresholds`` thresholds
    (−ε, 1/(n−1), …, (n−2)/(n−1), 1 + ε) joined by the trapezoidal rule."""

    name = "auc"

    def __init__(
        self, num_thresholds: int = 200, curve: str = "ROC", name: str | None = None
    ) -> None:
        if (
            isinstance(num_thresholds, bool)
            or not isinstance(num_thresholds, int)
            or (num_thresholds < 2)
        ):
            raise InvalidArgumentError(
                f"AUC: num_thresholds must be an integer > 1, received "
                f"num_thresholds={num_thresholds!r}"
            )
        if str(curve).upper() != "ROC":
            raise InvalidArgumentError(
                f"AUC: glassnet computes the ROC curve only, received curve={curve!r}"
            )
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        super().__init__(thresholds=0.5, name=name)
        self.thresholds = np.array([-1e-7, *inner, 1 + 1e-7])
        self.reset()

    def result(self) -> float:
        tpr = self.tp / np.maximum(self.tp + self.fn, 1e-300)
        fpr = self.fp / np.maximum(self.fp + self.tn, 1e-300)
        # thresholds rise, so (fpr, tpr) walk from (1, 1) down to (0, 0)
        return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))


class FunctionMetric(Metric):
    """A plain function ``f(y_true, y_pred)`` as a metric: the running mean of what it returns
    (one value per sample, or one per batch weighted by the batch size)."""

    def __init__(self, fn: Any, name: str | None = None) -> None:
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def scores(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        out = self.fn(y_true, y_pred)
        values = np.asarray(getattr(out, "data", out), dtype=np.float64)
        if values.ndim == 0:
            return np.full(len(y_pred), float(values))
        return values.reshape(len(y_pred), -1).mean(axis=1)  # type: ignore[no-any-return]


_NAMED: dict[str, type[Metric]] = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mae": MeanAbsoluteErrorMetric,
    "mean_absolute_error": MeanAbsoluteErrorMetric,
    "mse": MeanSquaredErrorMetric,
    "mean_squared_error": MeanSquaredErrorMetric,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "precision": Precision,
    "recall": Recall,
    "auc": AUC,
    "true_positives": TruePositives,
    "false_positives": FalsePositives,
    "true_negatives": TrueNegatives,
    "false_negatives": FalseNegatives,
}
_KNOWN = sorted(set(_NAMED) | {"accuracy", "acc", "top_k_accuracy"})


def _accuracy_for(loss: Loss | None, y_true_ndim: int, out_width: int | None) -> Metric:
    """Keras's rule: pick the accuracy that matches the loss, else the shapes."""
    if isinstance(loss, SparseCategoricalCrossentropy):
        return SparseCategoricalAccuracy()
    if isinstance(loss, CategoricalCrossentropy):
        return CategoricalAccuracy()
    if isinstance(loss, BinaryCrossentropy) or out_width == 1:
        return BinaryAccuracy()
    if y_true_ndim == 1:
        return SparseCategoricalAccuracy()
    return CategoricalAccuracy()


def get(
    identifier: Any, loss: Loss | None = None, y_true_ndim: int = 1, out_width: int | None = None
) -> Metric:
    """A Metric from a Keras name, an instance or a class; "accuracy" is resolved as Keras does."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier) and not isinstance(identifier, (str, type)):
        return FunctionMetric(identifier)
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            metric = _accuracy_for(loss, y_true_ndim, out_width)
            metric.name = identifier
            return metric
        if key == "top_k_accuracy":
            if isinstance(loss, SparseCategoricalCrossentropy) or y_true_ndim == 1:
                return SparseTopKCategoricalAccuracy(name="top_k_accuracy")
            return TopKCategoricalAccuracy(name="top_k_accuracy")
        if key in _NAMED:
            metric = _NAMED[key]()
            metric.name = key
            return metric
    raise UnknownNameError(f"metrics: unknown metric {identifier!r}; known: {', '.join(_KNOWN)}")
