"""Mini-batches, train/validation splits, one-hot labels and pixel scaling.

Batches are gathered by index: shuffling permutes an index array, never the data, and each
batch is ``x[indices]`` — a copy of that batch only (without shuffling, a view). The dtype is
kept, so uint8 images stay uint8 (4× smaller than float32) until ``normalize`` converts one
batch at a time::

    for xb, yb in DataLoader(x_train, y_train, batch_size=32, seed=0):
        xb = normalize(xb)          # float32 in [0, 1], shape (32, 28, 28)

With ``seed=None`` the order comes from glassnet's generator, so ``glassnet.seed(n)`` makes it
repeatable; with an integer seed the loader owns its own generator.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import _rng
from ..errors import DTypeError, InvalidArgumentError, ShapeError, describe

__all__ = ["batches", "DataLoader", "train_val_split", "one_hot", "normalize"]

Seed = int | np.random.Generator | None
Batch = np.ndarray | tuple[np.ndarray, np.ndarray]


def _as_array(where: str, arg: str, value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        array = value
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"{where}: {arg} must be array-like, received {describe(value)}"
            ) from exc
    if array.ndim == 0:
        raise ShapeError(
            f"{where}: {arg} must have a first (sample) axis, received a scalar {describe(value)}"
        )
    if array.dtype == object:
        raise DTypeError(f"{where}: {arg} must be a numeric array, received {describe(value)}")
    return array


def _check_data(where: str, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray | None]:
    xa = _as_array(where, "x", x)
    if len(xa) == 0:
        raise ShapeError(f"{where}: x must hold at least one sample, received {describe(xa)}")
    if y is None:
        return xa, None
    ya = _as_array(where, "y", y)
    if len(ya) != len(xa):
        raise ShapeError(
            f"{where}: x and y must hold the same number of samples, received x of shape "
            f"{xa.shape} and y of shape {ya.shape}"
        )
    return xa, ya


def _check_batch_size(where: str, batch_size: Any, n: int, drop_last: bool) -> int:
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise InvalidArgumentError(
            f"{where}: batch_size must be an integer >= 1, received batch_size={batch_size!r}"
        )
    if drop_last and batch_size > n:
        raise InvalidArgumentError(
            f"{where}: drop_last=True with batch_size={batch_size} and only {n} samples would "
            "give no batch at all, expected batch_size <= the number of samples"
        )
    return int(batch_size)


def _check_seed(where: str, seed: Any) -> None:
    if seed is None or isinstance(seed, np.random.Generator):
        return
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidArgumentError(
            f"{where}: seed must be a non-negative integer, a numpy Generator or None, "
            f"received seed={seed!r}"
        )


def _generator(seed: Seed) -> np.random.Generator:
    if seed is None:
        return _rng.generator()
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(int(seed))


def _iterate(
    x: np.ndarray, y: np.ndarray | None, order: np.ndarray | None, batch_size: int, drop_last: bool
) -> Iterator[Batch]:
    n = len(x)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        end = min(start + batch_size, n)
        if order is None:
            xb, yb = x[start:end], (None if y is None else y[start:end])
        else:
            index = order[start:end]
            xb, yb = x[index], (None if y is None else y[index])
        yield xb if yb is None else (xb, yb)


def batches(
    x: Any,
    y: Any = None,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: Seed = None,
    drop_last: bool = False,
) -> Iterator[Batch]:
    """Yield mini-batches ``x_b`` of shape ``(B, ...)``, or ``(x_b, y_b)`` when ``y`` is given.

    One pass over the data: ``ceil(N / batch_size)`` batches, the last one smaller unless
    ``drop_last`` drops it. ``shuffle`` visits the samples in a random order drawn from
    ``seed`` (None: glassnet's generator). Batches keep the data's dtype. The arguments are
    checked when ``batches`` is called, before the first batch is asked for.
    """
    xa, ya = _check_data("batches", x, y)
    size = _check_batch_size("batches", batch_size, len(xa), drop_last)
    _check_seed("batches", seed)
    order = _generator(seed).permutation(len(xa)) if shuffle else None
    return _iterate(xa, ya, order, size, bool(drop_last))


class DataLoader:
    """An iterable over mini-batches that reshuffles at the start of every epoch.

    ``for xb, yb in loader`` gives ``len(loader)`` batches of shape ``(batch_size, ...)``
    (the last may be smaller unless ``drop_last``). With an integer ``seed`` the sequence of
    epochs is repeatable; with ``seed=None`` each epoch's order comes from glassnet's
    generator at the time the epoch starts, so ``glassnet.seed(n)`` makes it repeatable.
    """

    def __init__(
        self,
        x: Any,
        y: Any = None,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: Seed = None,
        drop_last: bool = False,
    ) -> None:
        self.x, self.y = _check_data("DataLoader", x, y)
        self.batch_size = _check_batch_size("DataLoader", batch_size, len(self.x), drop_last)
        _check_seed("DataLoader", seed)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self._own_rng = None if seed is None else _generator(seed)

    @property
    def num_samples(self) -> int:
        """N, the number of samples per epoch (before ``drop_last``)."""
        return len(self.x)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        order = None
        if self.shuffle:
            rng = self._own_rng if self._own_rng is not None else _rng.generator()
            order = rng.permutation(len(self.x))
        return _iterate(self.x, self.y, order, self.batch_size, self.drop_last)

    def __repr__(self) -> str:
        return (
            f"DataLoader(num_samples={self.num_samples}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, batches={len(self)})"
        )


def train_val_split(
    x: Any, y: Any, validation_split: float, shuffle: bool = False, seed: Seed = None
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Split ``(x, y)`` into ``(x_train, y_train), (x_val, y_val)``.

    The validation part has ``floor(N · validation_split)`` samples. Without ``shuffle`` it
    is the LAST ones, as Keras's ``fit(validation_split=...)`` takes them, and both parts are
    views of the inputs (no copy); glassnet's embedded sets are stored in shuffled order so
    the tail is not one class. With ``shuffle`` the samples are drawn at random (``seed``;
    None: glassnet's generator) and both parts are copies.
    """
    xa, ya = _check_data("train_val_split", x, y)
    if ya is None:
        raise InvalidArgumentError("train_val_split: y must be given, received y=None")
    if (
        isinstance(validation_split, bool)
        or not isinstance(validation_split, (int, float, np.integer, np.floating))
        or not 0 < validation_split < 1
    ):
        raise InvalidArgumentError(
            f"train_val_split: validation_split must be a fraction strictly between 0 and 1, "
            f"received validation_split={validation_split!r}"
        )
    _check_seed("train_val_split", seed)
    n = len(xa)
    n_val = int(math.floor(n * float(validation_split) + 1e-9))
    if n_val < 1 or n_val >= n:
        raise InvalidArgumentError(
            f"train_val_split: validation_split={validation_split} of {n} samples leaves "
            f"{n_val} for validation and {n - n_val} for training, expected at least one each"
        )
    if not shuffle:
        cut = n - n_val
        return (xa[:cut], ya[:cut]), (xa[cut:], ya[cut:])
    order = _generator(seed).permutation(n)
    train, val = order[: n - n_val], order[n - n_val :]
    return (xa[train], ya[train]), (xa[val], ya[val])


def one_hot(labels: Any, num_classes: int | None = None, dtype: Any = np.float32) -> np.ndarray:
    """Integer labels of shape ``S`` → one-hot array of shape ``S + (num_classes,)``.

    ``num_classes`` defaults to ``max(labels) + 1``. Labels must be integers in
    ``[0, num_classes)``.
    """
    array = np.asarray(labels)
    if array.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: labels must be an integer array, received {describe(array)}")
    if num_classes is None:
        if array.size == 0:
            raise InvalidArgumentError(
                "one_hot: num_classes must be given when labels is empty, received num_classes=None"
            )
        num_classes = int(array.max()) + 1
    elif (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or num_classes < 1
    ):
        raise InvalidArgumentError(
            f"one_hot: num_classes must be an integer >= 1, received num_classes={num_classes!r}"
        )
    if array.size:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high >= num_classes:
            raise InvalidArgumentError(
                f"one_hot: labels must lie in [0, {num_classes}), received labels from "
                f"{low} to {high}"
            )
    out = np.zeros(array.shape + (int(num_classes),), dtype=dtype)
    np.put_along_axis(out, array[..., None].astype(np.intp), 1, axis=-1)
    return out


def normalize(x: Any, mean: Any = None, std: Any = None, dtype: Any = np.float32) -> np.ndarray:
    """Scale to floats: uint8 pixels become ``x / 255`` in [0, 1]; then ``(x − mean) / std``.

    ``x`` of any shape; the result has the same shape and ``dtype`` (float32 by default).
    Other dtypes are converted without the 1/255 scaling. ``mean`` and ``std`` (scalars or
    arrays that broadcast against ``x``, in the scaled units) are optional and must be given
    together; a ``std`` of exactly 0 (a constant feature, e.g. a blank pixel) is treated as 1,
    as scikit-learn's StandardScaler does.
    """
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise DTypeError(f"normalize: x must be a numeric array, received {describe(array)}")
    out_dtype = np.dtype(dtype)
    if out_dtype.kind != "f":
        raise DTypeError(f"normalize: dtype must be a floating dtype, received dtype={out_dtype}")
    if (mean is None) != (std is None):
        raise InvalidArgumentError(
            f"normalize: mean and std must be given together, received "
            f"mean={describe(mean)} and std={describe(std)}"
        )
    out = array.astype(out_dtype)
    if array.dtype == np.uint8:
        out *= out_dtype.type(1.0 / 255.0)
    if mean is None:
        return out
    m = np.asarray(mean, dtype=out_dtype)
    s = np.asarray(std, dtype=out_dtype)
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(s)) and np.all(s >= 0)):
        raise InvalidArgumentError(
            f"normalize: mean must be finite and std finite and >= 0, received "
            f"mean={describe(mean)} and std={describe(std)}"
        )
    try:
        fits = np.broadcast_shapes(m.shape, s.shape, out.shape) == out.shape
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(
            f"normalize: mean of shape {m.shape} and std of shape {s.shape} must broadcast "
            f"to x's shape {out.shape}"
        )
    s = np.where(s == 0, out_dtype.type(1.0), s)
    out -= m
    out /= s
    return out
