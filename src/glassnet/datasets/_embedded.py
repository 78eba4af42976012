"""The data sets that ship inside the package (``embedded/*.npz``, see embedded/README.md)."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DatasetNotFoundError, FileFormatError

if TYPE_CHECKING:
    from importlib.abc import Traversable

EMBEDDED = ("mnist-5k", "digits", "iris")
_KEYS = ("x_train", "y_train", "x_test", "y_test")

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def resource(name: str) -> Traversable:
    """The package resource holding an embedded set."""
    return resources.files("glassnet.datasets") / "embedded" / f"{name}.npz"


def load_embedded(name: str) -> Arrays:
    """``(x_train, y_train), (x_test, y_test)``, fresh arrays on every call; y as int64."""
    source = resource(name)
    if not source.is_file():
        raise DatasetNotFoundError(
            f"load({name!r}): the embedded file embedded/{name}.npz is missing from this "
            "glassnet installation, expected it to ship with the package (reinstall glassnet)"
        )
    with source.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
        missing = [k for k in _KEYS if k not in archive.files]
        if missing:
            raise FileFormatError(
                f"load({name!r}): embedded/{name}.npz lacks the arrays {', '.join(missing)}, "
                f"expected {', '.join(_KEYS)}"
            )
        x_train, y_train, x_test, y_test = (archive[k] for k in _KEYS)
    return (x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64))
