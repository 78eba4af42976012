"""The full MNIST and Fashion-MNIST: four gzipped IDX files, found on this machine or downloaded.

A set is the four standard files::

    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
    t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz

(each may also be present uncompressed, without ``.gz``). ``load`` looks for all four, in
this order, in

1. ``path=`` (the directory itself, then ``path/<name>/``),
2. ``$GLASSNET_DATA/<name>/`` (``GLASSNET_DATA`` may list several roots, separated by ``:``),
3. the user cache ``$XDG_CACHE_HOME/glassnet/<name>/`` (default ``~/.cache/glassnet/<name>/``),
4. for fashion-mnist, ``/usr/share/datasets/fashion-mnist/``, where the Debian package
   ``dataset-fashion-mnist`` puts them,

and otherwise downloads the missing files into the cache. Each download streams into a
temporary file beside its target while its SHA-256 is computed, and is renamed into place only
when its length and SHA-256 match the published values below: a cut connection, a truncated
body or a wrong checksum raises ``DownloadError`` and leaves nothing in the cache, not even the
temporary file. Files found on disk are not hashed (the Debian package re-compresses them, so
their bytes differ from the download's); they are checked as IDX files instead — magic, shape,
length, 28×28 uint8 images, as many labels as images, labels 0..9.

Downloads are off with ``download=False`` or ``GLASSNET_OFFLINE=1`` (an explicit
``download=True`` wins over the variable). The mirrors are ``mirrors=`` (base URLs of a
directory holding the four files), else ``GLASSNET_MIRROR`` (base URLs under which
``<name>/<file>`` lives, separated by spaces or commas), else the canonical ones.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import (
    DatasetNotFoundError,
    DownloadError,
    FileFormatError,
    InvalidArgumentError,
    UnknownNameError,
    describe,
)
from ..io.atomic import atomic_write
from .idx import read_idx

__all__ = [
    "FILES",
    "RemoteFile",
    "FullDataset",
    "SPECS",
    "cache_dir",
    "search_dirs",
    "find",
    "download",
    "load_full",
    "how_to_get",
    "downloads_enabled",
]

#: The four files of a set, in the order they are read and downloaded.
FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
_CHUNK = 1 << 16
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class RemoteFile:
    """One published file: its name, SHA-256 and size in bytes (None skips the size check)."""

    name: str
    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class FullDataset:
    """Where a full data set comes from and how a user gets it."""

    name: str
    mirrors: tuple[str, ...]
    files: tuple[RemoteFile, ...]
    system_dirs: tuple[str, ...] = ()
    debian_package: str | None = None
    class_names: tuple[str, ...] = ()

    @property
    def download_size(self) -> int:
        return sum(f.size or 0 for f in self.files)


# SHA-256 of the files as published. Fashion-MNIST: computed here from the Debian package's
# files with the original gzip header (name and time stamp) restored, which reproduces
# byte for byte the MD5 sums in zalandoresearch/fashion-mnist's README; the labels files
# also hashed directly from that repository's data/fashion/; the same values appear in
# many independent download scripts. MNIST: the widely published values for the files on
# the ossci-datasets / cvdf-datasets mirrors (byte-identical copies of Yann LeCun's
# originals, whose MD5 sums torchvision checks).
SPECS: dict[str, FullDataset] = {
    "mnist": FullDataset(
        name="mnist",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        files=(
            RemoteFile(
                "train-images-idx3-ubyte.gz",
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                9_912_422,
            ),
            RemoteFile(
                "train-labels-idx1-ubyte.gz",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                28_881,
            ),
            RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                1_648_877,
            ),
            RemoteFile(
                "t10k-labels-idx1-ubyte.gz",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                4_542,
            ),
        ),
        class_names=tuple(str(d) for d in range(10)),
    ),
    "fashion-mnist": FullDataset(
        name="fashion-mnist",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        files=(
            RemoteFile(
                "train-images-idx3-ubyte.gz",
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                26_421_880,
            ),
            RemoteFile(
                "train-labels-idx1-ubyte.gz",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                29_515,
            ),
            RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                4_422_102,
            ),
            RemoteFile(
                "t10k-labels-idx1-ubyte.gz",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                5_148,
            ),
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        debian_package="dataset-fashion-mnist",
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
    ),
}

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _spec(name: str) -> FullDataset:
    try:
        return SPECS[name]
    except KeyError:
        raise UnknownNameError(
            f"full data sets: unknown name {name!r}, expected one of {', '.join(SPECS)}"
        ) from None


def cache_dir(name: str | None = None) -> Path:
    """The user cache: ``$XDG_CACHE_HOME/glassnet`` or ``~/.cache/glassnet`` (plus ``/name``)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        root = Path(xdg) / "glassnet"
    else:
        root = Path(os.path.expanduser("~")) / ".cache" / "glassnet"
    return root / name if name else root


def search_dirs(name: str, path: str | os.PathLike[str] | None = None) -> list[Path]:
    """The directories ``load(name, path)`` searches, in order."""
    spec = _spec(name)
    dirs: list[Path] = []
    if path is not None:
        base = Path(os.path.expanduser(os.fspath(path)))
        dirs += [base, base / name]
    for root in os.environ.get("GLASSNET_DATA", "").split(os.pathsep):
        if root.strip():
            dirs.append(Path(os.path.expanduser(root.strip())) / name)
    dirs.append(cache_dir(name))
    dirs += [Path(d) for d in spec.system_dirs]
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def _file_in(directory: Path, filename: str) -> Path | None:
    for candidate in (directory / filename, directory / filename.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _scan(directory: Path, spec: FullDataset) -> dict[str, Path]:
    found = {}
    for remote in spec.files:
        hit = _file_in(directory, remote.name)
        if hit is not None:
            found[remote.name] = hit
    return found


def find(name: str, path: str | os.PathLike[str] | None = None) -> Path | None:
    """The first searched directory that holds all four files, or None."""
    spec = _spec(name)
    for directory in search_dirs(name, path):
        if len(_scan(directory, spec)) == len(spec.files):
            return directory
    return None


def downloads_enabled(download: bool | None = None) -> bool:
    """``download`` if given, else False when ``GLASSNET_OFFLINE`` is set to a true value."""
    if download is not None:
        return bool(download)
    flag = os.environ.get("GLASSNET_OFFLINE", "").strip().lower()
    return flag in ("", "0", "false", "no", "off")


def _mirrors(spec: FullDataset, mirrors: str | Sequence[str] | None) -> list[str]:
    if mirrors is not None:
        bases = [mirrors] if isinstance(mirrors, str) else list(mirrors)
        if not bases or not all(isinstance(b, str) and b for b in bases):
            raise InvalidArgumentError(
                f"load({spec.name!r}): mirrors must be a URL or a non-empty list of URLs, "
                f"received mirrors={describe(mirrors)}"
            )
    else:
        env = os.environ.get("GLASSNET_MIRROR", "").replace(",", " ").split()
        bases = [b.rstrip("/") + "/" + spec.name + "/" for b in env] or list(spec.mirrors)
    for base in bases:
        scheme = urllib.parse.urlsplit(base).scheme
        if scheme not in ("http", "https", "file"):
            raise InvalidArgumentError(
                f"load({spec.name!r}): a mirror must be an http, https or file URL, "
                f"received {base!r}"
            )
    return [b if b.endswith("/") else b + "/" for b in bases]


def how_to_get(name: str) -> str:
    """One clause telling a user how to put the set on this machine."""
    spec = _spec(name)
    files = ", ".join(f.name for f in spec.files)
    places = f"$GLASSNET_DATA/{name}/ or {cache_dir(name)}/"
    text = ""
    if spec.debian_package:
        text = (
            f"install the Debian package {spec.debian_package} "
            f"(apt-get install -y {spec.debian_package}), which puts the four files in "
            f"{', '.join(d + '/' for d in spec.system_dirs)}, or "
        )
    text += (
        f"download {files} from {spec.mirrors[0]} and put them in {places}, "
        "or allow glassnet to download them (download=True, GLASSNET_OFFLINE unset)"
    )
    return text


def _where_searched(spec: FullDataset, dirs: list[Path]) -> str:
    parts = []
    for d in dirs:
        found = _scan(d, spec)
        if found:
            missing = [f.name for f in spec.files if f.name not in found]
            parts.append(f"{d}/ (has {len(found)} of 4, missing {', '.join(missing)})")
        else:
            parts.append(f"{d}/")
    return ", ".join(parts)


class _Rejected(Exception):
    """One mirror's copy of one file could not be used; the message says why."""


def _fetch(url: str, target: Path, remote: RemoteFile, timeout: float) -> None:
    """Stream ``url`` into ``target`` atomically, or raise with nothing written."""
    request = urllib.request.Request(url, headers={"User-Agent": "glassnet"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        header = response.headers.get("Content-Length")
        declared = int(header) if header and header.strip().isdigit() else None
        if declared is not None and remote.size is not None and declared != remote.size:
            raise _Rejected(f"the server announced {declared} bytes, expected {remote.size}")
        digest = hashlib.sha256()
        received = 0
        with atomic_write(target, "wb") as handle:
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                received += len(chunk)
                if remote.size is not None and received > remote.size:
                    raise _Rejected(f"the server sent more than the expected {remote.size} bytes")
                digest.update(chunk)
                handle.write(chunk)
            if declared is not None and received != declared:
                raise _Rejected(f"the connection closed after {received} of {declared} bytes")
            if remote.size is not None and received != remote.size:
                raise _Rejected(f"received {received} bytes, expected {remote.size}")
            actual = digest.hexdigest()
            if actual != remote.sha256:
                raise _Rejected(f"SHA-256 mismatch, received {actual}, expected {remote.sha256}")


def download(
    name: str,
    directory: str | os.PathLike[str] | None = None,
    *,
    mirrors: str | Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    verbose: bool = True,
) -> Path:
    """Download the set's missing files into ``directory`` (default: the user cache).

    Every file is verified (length and SHA-256) before it appears under its name; files
    already in ``directory`` are kept. Returns the directory. Raises ``DownloadError`` when
    a file cannot be had from any mirror.
    """
    spec = _spec(name)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise InvalidArgumentError(
            f"load({name!r}): timeout must be a number of seconds > 0, received timeout={timeout!r}"
        )
    bases = _mirrors(spec, mirrors)
    target_dir = Path(directory) if directory is not None else cache_dir(name)
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"load({name!r}): cannot create the download directory {target_dir}/ "
            f"({exc.strerror or exc}), expected a writable directory"
        ) from exc
    have = _scan(target_dir, spec)
    for remote in spec.files:
        if remote.name in have:
            continue
        reasons = []
        for base in bases:
            url = urllib.parse.urljoin(base, remote.name)
            if verbose:
                size = f" ({remote.size / 1e6:.1f} MB)" if remote.size else ""
                print(f"glassnet: downloading {url}{size}", file=sys.stderr)
            try:
                _fetch(url, target_dir / remote.name, remote, float(timeout))
                break
            except _Rejected as exc:
                reasons.append(f"{url}: {exc}")
            except urllib.error.HTTPError as exc:
                reasons.append(f"{url}: HTTP {exc.code} {exc.reason}")
            except urllib.error.URLError as exc:
                reasons.append(f"{url}: {exc.reason}")
            except (OSError, http.client.HTTPException, ValueError) as exc:
                reasons.append(f"{url}: {type(exc).__name__} {exc}".rstrip())
        else:
            raise DownloadError(
                f"load({name!r}): could not download {remote.name} "
                f"({'; '.join(reasons)}), so nothing was stored for it in {target_dir}/; "
                f"to get the files, {how_to_get(name)}"
            )
    return target_dir


_download = download  # load_full's ``download`` argument shadows the function


def _read_pair(
    spec: FullDataset, images_path: Path, labels_path: Path
) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise FileFormatError(
            f"load({spec.name!r}): {images_path} holds an array of shape {images.shape} and "
            f"dtype {images.dtype}, expected uint8 images of shape (N, 28, 28)"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1 or len(labels) != len(images):
        raise FileFormatError(
            f"load({spec.name!r}): {labels_path} holds an array of shape {labels.shape} and "
            f"dtype {labels.dtype}, expected {len(images)} uint8 labels to match {images_path}"
        )
    if len(labels) and int(labels.max()) >= len(spec.class_names):
        raise FileFormatError(
            f"load({spec.name!r}): {labels_path} holds the label {int(labels.max())}, "
            f"expected labels 0..{len(spec.class_names) - 1}"
        )
    return images, labels.astype(np.int64)


def load_full(
    name: str,
    path: str | os.PathLike[str] | None = None,
    *,
    download: bool | None = None,
    mirrors: str | Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    verbose: bool = True,
) -> Arrays:
    """``(x_train, y_train), (x_test, y_test)`` of a full set; see the module docstring.

    x: uint8 ``(60000, 28, 28)`` and ``(10000, 28, 28)``; y: int64 ``(60000,)``, ``(10000,)``.
    """
    spec = _spec(name)
    dirs = search_dirs(name, path)
    directory = find(name, path)
    if directory is None:
        if not downloads_enabled(download):
            why = "download=False" if download is False else "GLASSNET_OFFLINE is set"
            raise DatasetNotFoundError(
                f"load({name!r}): the four IDX files were not found in "
                f"{_where_searched(spec, dirs)} and downloads are disabled ({why}); "
                f"to get them, {how_to_get(name)}"
            )
        directory = _download(name, mirrors=mirrors, timeout=timeout, verbose=verbose)
    found = _scan(directory, spec)
    paths = [found[f.name] for f in spec.files]
    train = _read_pair(spec, paths[0], paths[1])
    test = _read_pair(spec, paths[2], paths[3])
    return train, test
