"""The data side of fit: checked arrays, the validation split, and the epoch iterator.

``EpochIterator`` hands out the mini-batches of each epoch (seed 003 §9.4): the order is a
permutation drawn from glassnet's one generator (or 0..N−1 without shuffling), and each batch
is gathered by index when it is needed — the training set is never copied, and uint8 images stay
uint8 until a batch is formed. A resumed run starts mid-epoch from the order it saved.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import _rng
from ..autograd.tensor import Tensor
from ..errors import DTypeError, InvalidArgumentError, ShapeError, describe

__all__ = [
    "positive_int",
    "as_data",
    "split_validation",
    "EpochIterator",
    "StructuredData",
    "BatchStream",
]


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
    _refuse_batch_source(value, name, where)
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


def _refuse_batch_source(value: Any, name: str, where: str) -> None:
    """Objects that give batches, or items without end, are not arrays: NumPy would read a
    PyDataset's batches as one ragged array, and an object whose ``__getitem__`` never raises
    IndexError as an endless sequence."""
    if isinstance(value, (np.ndarray, list, tuple, str, bytes, int, float, complex)):
        return
    array_like = any(
        hasattr(value, a) for a in ("__array__", "__array_interface__", "__array_struct__")
    )
    if array_like:
        return
    if is_batch_source(value):
        raise InvalidArgumentError(
            f"{where}: {name} must be an array, received {describe(value)} (a PyDataset or a "
            f"generator of batches); pass it as x, with y=None"
        )
    if hasattr(value, "__getitem__") and not hasattr(value, "__len__"):
        raise InvalidArgumentError(
            f"{where}: {name} must be an array, received {describe(value)}, which has "
            f"__getitem__ but no __len__ (its length is unknown)"
        )


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


def is_batch_source(x: Any) -> bool:
    """True for data given as batches by Python code (a PyDataset or a generator/iterator)
    rather than as arrays."""
    if isinstance(x, (np.ndarray, Tensor, list, tuple)) or x is None:
        return False
    indexed = hasattr(x, "__getitem__") and hasattr(x, "__len__") and hasattr(x, "on_epoch_end")
    return indexed or (hasattr(x, "__next__") and hasattr(x, "__iter__"))


def class_weights_for(y: np.ndarray, class_weight: Any, where: str) -> np.ndarray:
    """Per-sample weights from a {class: weight} dict (Keras's ``class_weight``): the class of
    a sample is its integer label, or the argmax of its one-hot row (a single output column
    counts as the labels 0/1)."""
    if not isinstance(class_weight, dict) or not class_weight:
        raise InvalidArgumentError(
            f"{where}: class_weight must be a dict {{class: weight}}, received "
            f"{describe(class_weight)}"
        )
    if y.ndim > 1 and y.shape[-1] > 1:
        labels = y.reshape(len(y), -1).argmax(axis=1)
    else:
        labels = np.rint(y.reshape(len(y))).astype(np.int64)
    missing = sorted(set(np.unique(labels).tolist()) - set(int(k) for k in class_weight))
    if missing:
        raise InvalidArgumentError(
            f"{where}: class_weight has no weight for class(es) {missing}; give one for every "
            f"class in y"
        )
    table = {int(k): float(v) for k, v in class_weight.items()}
    return np.array([table[int(c)] for c in labels], dtype=np.float64)


def sample_weights_for(value: Any, samples: int, where: str) -> np.ndarray:
    """``sample_weight`` as a float64 array of one finite weight ≥ 0 per sample."""
    w = as_data(value, "sample_weight", where).astype(np.float64)
    if w.ndim != 1 or len(w) != samples:
        raise ShapeError(
            f"{where}: sample_weight must have shape ({samples},) (one weight per sample), "
            f"received {w.shape}"
        )
    if (w < 0).any():
        raise InvalidArgumentError(f"{where}: sample_weight must be ≥ 0, received {w.min()}")
    return w


def collect_batches(
    source: Any, steps: int | None, where: str, what: str = "x", steps_name: str = "steps"
) -> tuple[np.ndarray, np.ndarray | None]:
    """evaluate's and predict's data (and fit's validation data) from a PyDataset or a
    generator: its batches joined into arrays (x, y or None). A generator must say how many
    batches to read (``steps``), so that an endless one cannot hang the call."""
    indexed = hasattr(source, "__getitem__") and hasattr(source, "__len__")
    if not indexed and steps is None:
        raise InvalidArgumentError(
            f"{where}: a generator as {what} needs {steps_name} (how many batches to read), "
            f"received {steps_name}=None"
        )
    count = steps if steps is not None else len(source)
    items = (source[i] for i in range(count)) if indexed else itertools.islice(source, count)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray | None] = []
    for batch in items:
        parts = batch if isinstance(batch, (tuple, list)) else (batch,)
        xs.append(as_data(parts[0], "x batch", where))
        ys.append(as_data(parts[1], "y batch", where) if len(parts) > 1 else None)
    if not xs:
        raise InvalidArgumentError(f"{where}: the data source gave no batches")
    y = None if any(v is None for v in ys) else np.concatenate([v for v in ys if v is not None])
    return np.concatenate(xs), y


class EpochIterator:
    """The mini-batches of each epoch over N samples, as index arrays into the data.

    With ``steps_per_epoch`` (Keras's argument) an epoch is that many batches taken from a
    stream of passes over the data: a pass that ends mid-epoch is followed by a new (shuffled)
    pass, and the next epoch continues where this one stopped.
    """

    def __init__(
        self, samples: int, batch_size: int, shuffle: bool, steps_per_epoch: int | None = None
    ) -> None:
        self.samples = samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.per_pass = -(-samples // batch_size)
        self.steps_per_epoch = steps_per_epoch
        self.steps = steps_per_epoch or self.per_pass
        self._stream: list[np.ndarray] = []
        self._bounds: list[int] = []

    def _pass_order(self) -> np.ndarray:
        if self.shuffle:
            return _rng.generator().permutation(self.samples)
        return np.arange(self.samples)

    def order(self) -> np.ndarray:
        """This epoch's order: a permutation from the global generator, or 0..N−1 (with
        ``steps_per_epoch``: the indices of this epoch's batches, one after the other)."""
        if self.steps_per_epoch is None:
            return self._pass_order()
        size = self.batch_size
        batches: list[np.ndarray] = []
        while len(batches) < self.steps:
            if not self._stream:
                p = self._pass_order()
                self._stream = [p[i * size : (i + 1) * size] for i in range(self.per_pass)]
            batches.append(self._stream.pop(0))
        self._bounds = list(np.cumsum([0] + [len(b) for b in batches]))
        return np.concatenate(batches)

    def batches(self, order: np.ndarray, first_step: int = 0) -> Iterator[tuple[int, np.ndarray]]:
        """(step, indices) for the steps of an epoch, from ``first_step`` on."""
        size = self.batch_size
        for step in range(first_step, self.steps):
            if self.steps_per_epoch is not None:
                yield step, order[self._bounds[step] : self._bounds[step + 1]]
            else:
                yield step, order[step * size : (step + 1) * size]

    def config(self) -> dict[str, Any]:
        """What a checkpoint records to refuse resuming with other data or batches."""
        return {"samples": self.samples, "batch_size": self.batch_size, "shuffle": self.shuffle}


class BatchStream:
    """The mini-batches of each epoch from Python code: a ``PyDataset``-like object
    (``__len__`` and ``__getitem__`` giving (x, y) or (x, y, sample_weight), ``on_epoch_end``)
    or a generator/iterator of such tuples. Each batch is checked as array data is."""

    def __init__(self, source: Any, steps_per_epoch: int | None, where: str) -> None:
        self.where = where
        self.indexed = hasattr(source, "__getitem__") and hasattr(source, "__len__")
        self.source = source
        if self.indexed:
            self.steps = steps_per_epoch or len(source)
            self._iterator: Any = None
        else:
            self._iterator = iter(source)
            self.steps = steps_per_epoch  # type: ignore[assignment]
        self._position = 0
        self._peeked: list[Any] = []
        self.exhausted = False
        self.samples = None
        self.batch_size = 32  # the first batch's size once seen (validation batches use it)

    def first(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The first batch (kept for the first step): fit checks the model with it."""
        if self.indexed:
            batch = self._checked(self.source[0])
        else:
            try:
                batch = self._checked(next(self._iterator))
            except StopIteration:
                raise InvalidArgumentError(f"{self.where}: the generator gave no batch") from None
            self._peeked.append(batch)
        self.batch_size = len(batch[0])
        return batch

    def _checked(self, batch: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            raise InvalidArgumentError(
                f"{self.where}: each batch must be a tuple (x, y) or (x, y, sample_weight), "
                f"received {describe(batch)}"
            )
        xb, yb = as_data(batch[0], "x batch", self.where), as_data(batch[1], "y batch", self.where)
        if len(xb) != len(yb):
            raise ShapeError(f"{self.where}: a batch has {len(xb)} samples in x and {len(yb)} in y")
        sw = None if len(batch) == 2 or batch[2] is None else np.asarray(batch[2], np.float64)
        return xb, yb, sw

    def order(self) -> None:
        """Batches come in the source's order (shuffle inside the dataset, as Keras does)."""
        return None

    def batches(self, order: Any, first_step: int = 0) -> Iterator[tuple[int, Any]]:
        """(step, (x, y, sample_weight)) for one epoch; a generator that runs out ends it."""
        step = 0
        while self.steps is None or step < self.steps:
            if self.indexed:
                batch = self._checked(self.source[self._position % len(self.source)])
                self._position += 1
            elif self._peeked:
                batch = self._peeked.pop(0)
            else:
                try:
                    batch = self._checked(next(self._iterator))
                except StopIteration:
                    self.exhausted = True
                    return
            yield step, batch
            step += 1
        if self.indexed:
            end = getattr(self.source, "on_epoch_end", None)
            if callable(end):
                end()

    def config(self) -> dict[str, Any]:
        return {}
