"""The data side of fit: checked arrays, the validation split, and the epoch iterator.

``EpochIterator`` hands out the mini-batches of each epoch (seed 003 §9.4): the order is a
permutation drawn from glassnet's one generator (or 0..N−1 without shuffling), and each batch
is gathered by index when it is needed — the training set is never copied, and uint8 images stay
uint8 until a batch is formed. A resumed run starts mid-epoch from the order it saved.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import _rng
from ..autograd.tensor import Tensor
from ..errors import DTypeError, InvalidArgumentError, ShapeError, describe

__all__ = ["positive_int", "as_data", "split_validation", "EpochIterator", "StructuredData"]


class StructuredData:
    """Several arrays with one sample axis — a model's inputs or targets when it has more than
    one (``keys`` names them) — indexed together, as fit's loop indexes one array. An entry may
    be None (an output trained without targets)."""

    def __init__(
        self,
        arrays: Sequence[np.ndarray | None],
        keys: list[str],
        what: str,
        samples: int | None = None,
    ) -> None:
        sizes = {len(a) for a in arrays if a is not None}
        if samples is not None:
            sizes.add(samples)
        if len(sizes) > 1:
            shown = ", ".join(f"{k}: {len(a)}" for k, a in zip(keys, arrays) if a is not None)
            raise ShapeError(
                f"{what}: every array needs the same number of samples, received {shown}"
            )
        self.arrays = list(arrays)
        self.keys = keys
        self.what = what
        self._len = sizes.pop() if sizes else 0

    def __len__(self) -> int:
        return self._len

    @property
    def shape(self) -> tuple[int]:
        """(samples,): the per-sample shapes are each array's own."""
        return (self._len,)

    def __getitem__(self, index: Any) -> StructuredData:
        arrays = [None if a is None else a[index] for a in self.arrays]
        samples = len(np.arange(self._len)[index]) if all(a is None for a in arrays) else None
        return StructuredData(arrays, self.keys, self.what, samples)


def positive_int(value: Any, name: str, where: str, allow_zero: bool = False) -> int:
    """``value`` as an int ≥ 1 (≥ 0 with ``allow_zero``), or an error naming the argument."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < (0 if allow_zero else 1):
        bound = "≥ 0" if allow_zero else "≥ 1"
        raise InvalidArgumentError(
            f"{where}: {name} must be an integer {bound}, received {name}={value!r}"
        )
    return int(value)


def as_data(value: Any, name: str, where: str) -> np.ndarray:
    """User data as a NumPy array of numbers, checked for emptiness and NaN/inf."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, StructuredData):
        return value  # type: ignore[return-value]  # each array was checked when it was made
    if value is None:
        raise InvalidArgumentError(f"{where}: {name} is required, received None")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise DTypeError(
            f"{where}: {name} must be an array of numbers, received {describe(value)} ({exc})"
        ) from None
    if arr.dtype.kind not in "fiub":
        raise DTypeError(f"{where}: {name} must hold numbers, received {describe(arr)}")
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise InvalidArgumentError(
            f"{where}: {name} is empty (shape {arr.shape}); expected at least one sample"
        )
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise InvalidArgumentError(
            f"{where}: {name} contains NaN or inf (first at index {tuple(int(i) for i in bad)}); "
            f"clean or impute the data first"
        )
    return arr


def split_validation(
    x: Any, y: Any, validation_split: Any, validation_data: Any, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(x, y, x_val, y_val): ``validation_split`` holds out the last fraction of the data
    (before shuffling, as Keras does); ``validation_data=(x_val, y_val)`` gives it directly."""
    if (
        not isinstance(validation_split, (int, float))
        or isinstance(validation_split, bool)
        or not 0 <= validation_split < 1
    ):
        raise InvalidArgumentError(
            f"{where}: validation_split must be in [0, 1), received "
            f"validation_split={validation_split!r}"
        )
    if validation_split and validation_data is not None:
        raise InvalidArgumentError(f"{where}: give validation_split or validation_data, not both")
    x_arr, y_arr = as_data(x, "x", where), as_data(y, "y", where)
    if len(x_arr) != len(y_arr):
        raise ShapeError(
            f"{where}: x and y must have the same number of samples, received "
            f"{len(x_arr)} and {len(y_arr)}"
        )
    if validation_split:
        split_at = int(len(x_arr) * (1.0 - validation_split))
        if split_at < 1 or split_at >= len(x_arr):
            raise InvalidArgumentError(
                f"{where}: validation_split={validation_split} of {len(x_arr)} samples "
                f"leaves an empty training or validation set"
            )
        return x_arr[:split_at], y_arr[:split_at], x_arr[split_at:], y_arr[split_at:]
    if validation_data is None:
        return x_arr, y_arr, None, None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise InvalidArgumentError(
            f"{where}: validation_data must be a tuple (x_val, y_val), received "
            f"{describe(validation_data)}"
        )
    x_val = as_data(validation_data[0], "validation_data x", where)
    y_val = as_data(validation_data[1], "validation_data y", where)
    if x_val.shape[1:] != x_arr.shape[1:]:
        raise ShapeError(
            f"{where}: validation x has per-sample shape {x_val.shape[1:]} but x has "
            f"{x_arr.shape[1:]}"
        )
    return x_arr, y_arr, x_val, y_val


class EpochIterator:
    """The mini-batches of each epoch over N samples, as index arrays into the data."""

    def __init__(self, samples: int, batch_size: int, shuffle: bool) -> None:
        self.samples = samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.steps = -(-samples // batch_size)

    def order(self) -> np.ndarray:
        """This epoch's order: a permutation from the global generator, or 0..N−1."""
        if self.shuffle:
            return _rng.generator().permutation(self.samples)
        return np.arange(self.samples)

    def batches(self, order: np.ndarray, first_step: int = 0) -> Iterator[tuple[int, np.ndarray]]:
        """(step, indices) for the steps of an epoch, from ``first_step`` on."""
        size = self.batch_size
        for step in range(first_step, self.steps):
            yield step, order[step * size : (step + 1) * size]

    def config(self) -> dict[str, Any]:
        """What a checkpoint records to refuse resuming with other data or batches."""
        return {"samples": self.samples, "batch_size": self.batch_size, "shuffle": self.shuffle}
