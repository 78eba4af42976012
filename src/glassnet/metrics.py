"""Metrics: ``glassnet.metrics.get("accuracy", loss)`` or the classes."""

from .training.metrics import (
    BinaryAccuracy,
    CategoricalAccuracy,
    MeanAbsoluteErrorMetric,
    MeanSquaredErrorMetric,
    Metric,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    get,
)

__all__ = [
    "Metric",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "MeanAbsoluteErrorMetric",
    "MeanSquaredErrorMetric",
    "get",
]
