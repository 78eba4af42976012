"""``keras.utils``: ``to_categorical``, ``PyDataset``, ``plot_model`` and small helpers (Keras 3's
names)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _rng
from ..errors import InvalidArgumentError, ShapeError, describe
from .plot import model_to_dot, plot_model

__all__ = [
    "to_categorical",
    "normalize",
    "PyDataset",
    "Sequence",
    "set_random_seed",
    "plot_model",
    "model_to_dot",
]


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """Integer class labels → one-hot rows (float32), Keras's way: labels of shape (N,) or
    (N, 1) give (N, num_classes); ``num_classes`` defaults to max(label) + 1."""
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        if not np.array_equal(arr, np.round(arr)):
            raise InvalidArgumentError(
                f"to_categorical: x must hold integer class labels, received {describe(arr)} "
                f"with non-integer values"
            )
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iub":
        raise InvalidArgumentError(
            f"to_categorical: x must hold integer class labels, received {describe(arr)}"
        )
    if arr.ndim > 1 and arr.shape[-1] == 1:
        arr = arr.reshape(arr.shape[:-1])
    if arr.size and arr.min() < 0:
        raise InvalidArgumentError(
            f"to_categorical: class labels must be ≥ 0, received a minimum of {arr.min()}"
        )
    largest = int(arr.max()) + 1 if arr.size else 0
    if num_classes is None:
        num_classes = largest
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise InvalidArgumentError(
            f"to_categorical: num_classes must be an integer, received num_classes={num_classes!r}"
        )
    if num_classes < largest:
        raise ShapeError(
            f"to_categorical: num_classes={num_classes} is too small for the label "
            f"{largest - 1} found in x (labels must lie in [0, num_classes))"
        )
    out = np.zeros(arr.shape + (int(num_classes),), dtype=np.float32)
    np.put_along_axis(out, arr[..., None].astype(np.intp), 1.0, axis=-1)
    return out


def normalize(x: Any, axis: int = -1, order: int = 2) -> np.ndarray:
    """x divided by its L-``order`` norm along ``axis`` (zero rows stay zero)."""
    arr = np.asarray(x, dtype=np.float32) if np.asarray(x).dtype.kind != "f" else np.asarray(x)
    norm = np.linalg.norm(arr, ord=order, axis=axis, keepdims=True)
    return arr / np.where(norm == 0, 1, norm)  # type: ignore[no-any-return]


def set_random_seed(seed: int) -> None:
    """Seed glassnet's one generator (Keras's ``keras.utils.set_random_seed``)."""
    _rng.seed(seed)


class PyDataset:
    """Batches from Python code: subclass it and write ``__len__`` (batches per epoch) and
    ``__getitem__(index)`` returning ``(x, y)`` or ``(x, y, sample_weight)`` arrays.
    ``on_epoch_end()`` runs after every epoch (reshuffle there). Pass it to fit, evaluate or
    predict in place of x (glassnet reads it on the calling thread: ``workers`` and
    ``use_multiprocessing`` are accepted and ignored)."""

    def __init__(
        self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10
    ) -> None:
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def on_epoch_end(self) -> None:
        """Called after every epoch."""

    @property
    def num_batches(self) -> int:
        """Batches per epoch."""
        return len(self)


Sequence = PyDataset  # Keras 2's name
