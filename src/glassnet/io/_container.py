"""The safetensors container shared by model files and checkpoints: checked reading, atomic
writing, and a codec between nested Python state and (tensors, JSON).

A safetensors file is::

    8 bytes      N, the header length, unsigned little-endian
    N bytes      a JSON object: {"__metadata__": {str: str}, name: {"dtype", "shape",
                 "data_offsets": [begin, end]}, ...}
    the rest     the tensors' bytes, back to back, offsets relative to the end of the header

Nothing from a file is trusted. ``read_container`` checks the header itself — its length
against the file size and a 100 MB cap, the JSON, every entry's dtype, shape and offsets, and
that the tensors tile the data region exactly — then the file's checksum (the metadata entry
``glassnet_checksum``: a CRC-32 of every byte, its own value counted as zeros), all before the
``safetensors`` package sees a byte, and turns every failure into one ``FileFormatError``
naming the file; damage is reported as such. No pickle, no ``eval``, no
import by name: the file can only ever produce arrays and strings.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
import time
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FileFormatError, InvalidArgumentError
from ._paths import (
    FileAccessError,
    MissingFileError,
    access_error,
    as_path,
    check_name_lengths,
    temp_prefix,
)
from .atomic import atomic_write_bytes

__all__ = [
    "FileAccessError",
    "MissingFileError",
    "UncheckedFileWarning",
    "FORMAT",
    "CHECKPOINT_FORMAT",
    "FORMAT_VERSION",
    "CHECKSUM_KEY",
    "MAX_HEADER_BYTES",
    "STALE_TEMP_SECONDS",
    "DTYPES",
    "as_path",
    "read_container",
    "write_container",
    "seal",
    "check_format",
    "encode_tree",
    "decode_tree",
    "remove_stale_temps",
]

#: Largest header (JSON) accepted: real headers are kilobytes; this bounds what a hostile
#: file can make the loader parse.
MAX_HEADER_BYTES = 100 * 1024 * 1024

#: Temporary files left by a process killed mid-save (``.<name>.<8 chars>.tmp`` next to the
#: target) are removed by the next save to the same target once they are this old. Younger
#: ones may belong to a save still in progress in another process, so they are left alone.
STALE_TEMP_SECONDS = 3600.0

#: safetensors dtype codes glassnet reads and writes, with their NumPy dtypes.
DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "U16": np.dtype(np.uint16),
    "I16": np.dtype(np.int16),
    "U32": np.dtype(np.uint32),
    "I32": np.dtype(np.int32),
    "U64": np.dtype(np.uint64),
    "I64": np.dtype(np.int64),
    "F16": np.dtype(np.float16),
    "F32": np.dtype(np.float32),
    "F64": np.dtype(np.float64),
    "C64": np.dtype(np.complex64),
}
_NUMPY_TO_CODE = {dt: code for code, dt in DTYPES.items()}
_MAX_NDIM = 64  # NumPy's limit
_TAG = "__glassnet__"  # marks the JSON objects of encode_tree that are not plain dicts

#: The format markers of glassnet's files (metadata ``format``) and the version written.
#: Version 2 added the checksum; version 1 files (no checksum) are still read, with a note.
FORMAT = "glassnet"
CHECKPOINT_FORMAT = "glassnet-checkpoint"
FORMAT_VERSION = "2"
READABLE_VERSIONS = ("1", "2")
_GLASSNET_FORMATS = (FORMAT, CHECKPOINT_FORMAT)

#: The metadata entry holding the file's checksum, ``"<algorithm>:<hex digest>"``.
CHECKSUM_KEY = "glassnet_checksum"
#: The algorithm new files use (see docs/saving.md for the measured cost of each).
CHECKSUM_ALGORITHM = "crc32"
_HEX_DIGITS = {"sha256": 64, "crc32": 8}


class UncheckedFileWarning(UserWarning):
    """A glassnet file from before checksums (format version 1): it loads, but damage to it
    cannot be detected. Saving it again adds a checksum."""


# ---------------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------------
def _check_writable_target(p: Path, raw: str, where: str) -> None:
    check_name_lengths(p, where)
    if raw.endswith(("/", os.sep)):
        raise InvalidArgumentError(
            f"{where}: '{raw}' ends with a path separator; expected a file path such as "
            f"'{raw}model.safetensors'"
        )
    try:
        is_dir = stat.S_ISDIR(os.stat(p).st_mode)
    except OSError:  # missing (fine) or unreachable: the write reports it with the reason
        is_dir = False
    if is_dir:
        raise InvalidArgumentError(
            f"{where}: '{p}' is a directory; expected a file path such as "
            f"'{p / 'model.safetensors'}'"
        )


def remove_stale_temps(target: Path, older_than: float | None = None) -> list[Path]:
    """Delete ``.<target name>.<8 chars>.tmp`` files next to ``target`` older than
    ``older_than`` seconds (default ``STALE_TEMP_SECONDS``): the leftovers of saves that were
    killed before their rename. Returns what was removed; errors are ignored."""
    limit = STALE_TEMP_SECONDS if older_than is None else older_than
    directory = target.parent
    pattern = re.compile(re.escape(temp_prefix(target)) + r"[A-Za-z0-9_]{8}\.tmp")
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if now - entry.stat(follow_symlinks=False).st_mtime < limit:
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


# ---------------------------------------------------------------------------------------------
# Checksums
# ---------------------------------------------------------------------------------------------
# The checksum covers every byte of the file: the length field, the header (tensor entries and
# metadata, the checksum's own value counted as zeros) and the data. A flipped bit anywhere
# makes it differ, and a flip in the checksum entry itself either changes the value (which
# then does not match) or its key (and a version-2 file without a checksum is refused).
_CHECKSUM_ENTRY = re.compile(rb'"' + CHECKSUM_KEY.encode() + rb'"\s*:\s*"([^"\\]*)"')


def _digest(algorithm: str, pieces: list[memoryview | bytes]) -> str:
    if algorithm == "crc32":
        value = 0
        for piece in pieces:
            value = zlib.crc32(piece, value)
        return f"{value:08x}"
    h = hashlib.sha256()
    for piece in pieces:
        h.update(piece)
    return h.hexdigest()


def _checksum_span(data: bytes | memoryview, header_end: int) -> list[tuple[int, int]]:
    """Where the checksum's value sits in the header bytes: (begin, end) of every match."""
    return [m.span(1) for m in _CHECKSUM_ENTRY.finditer(bytes(data[8:header_end]))]


def _file_digest(data: bytes | memoryview, span: tuple[int, int], algorithm: str) -> str:
    """The checksum of ``data`` with the value at ``span`` (file offsets) counted as the
    placeholder ``<algorithm>:000...``."""
    view = memoryview(data)
    placeholder = f"{algorithm}:{'0' * _HEX_DIGITS[algorithm]}".encode()
    begin, end = span
    return _digest(algorithm, [view[:begin], placeholder, view[end:]])


def placeholder_checksum(algorithm: str = CHECKSUM_ALGORITHM) -> str:
    """The value a writer puts under CHECKSUM_KEY before ``seal`` fills it in."""
    return f"{algorithm}:{'0' * _HEX_DIGITS[algorithm]}"


def seal(data: bytes) -> bytes:
    """Fill in the checksum of a safetensors file image whose metadata has a CHECKSUM_KEY
    entry of the right length (``placeholder_checksum()`` or a stale checksum).

    ``write_container`` uses it; so can a test that crafts a file and wants it checked
    beyond its checksum.
    """
    n = int.from_bytes(data[:8], "little")
    spans = _checksum_span(data, 8 + n)
    if len(spans) != 1:
        raise InvalidArgumentError(
            f"seal: expected one {CHECKSUM_KEY!r} entry in the file's header, found {len(spans)}"
        )
    begin, end = (8 + spans[0][0], 8 + spans[0][1])
    algorithm, _, _ = bytes(data[begin:end]).decode("ascii", "replace").partition(":")
    if algorithm not in _HEX_DIGITS or end - begin != len(placeholder_checksum(algorithm)):
        raise InvalidArgumentError(
            f"seal: the {CHECKSUM_KEY!r} entry must hold '<sha256|crc32>:<hex digits>' of the "
            f"right length, received {bytes(data[begin:end])[:80]!r}"
        )
    value = f"{algorithm}:{_file_digest(data, (begin, end), algorithm)}".encode()
    out = bytearray(data)
    out[begin:end] = value
    return bytes(out)


def verify_checksum(data: bytes, metadata: Mapping[str, str], name: str, where: str) -> bool:
    """Check the file's checksum: True if it matches, False if the file has none (the caller
    decides whether that is allowed), FileFormatError saying the file is damaged otherwise."""
    if CHECKSUM_KEY not in metadata:
        return False

    def damaged(reason: str) -> FileFormatError:
        return FileFormatError(
            f"{where}: '{name}' is damaged: {reason}; nothing was loaded from it (restore it "
            f"from a copy, or save the model again)"
        )

    value = metadata[CHECKSUM_KEY]
    algorithm, _, digest = value.partition(":")
    if algorithm not in _HEX_DIGITS:
        raise damaged(
            f"its checksum names the algorithm {algorithm[:20]!r}, which glassnet does not "
            f"know (it knows {', '.join(_HEX_DIGITS)}; a file from a newer glassnet?)"
        )
    if len(digest) != _HEX_DIGITS[algorithm] or any(c not in "0123456789abcdef" for c in digest):
        raise damaged(f"its {algorithm} checksum {digest[:80]!r} is not a valid digest")
    n = int.from_bytes(data[:8], "little")
    spans = _checksum_span(data, 8 + n)
    if len(spans) != 1:
        raise damaged(f"its header holds {len(spans)} checksum entries, expected one")
    span = (8 + spans[0][0], 8 + spans[0][1])
    if bytes(data[span[0] : span[1]]) != value.encode("ascii", "replace"):
        raise damaged("its checksum entry is not stored as plain text")
    actual = _file_digest(data, span, algorithm)
    if actual != digest:
        raise damaged(
            f"its contents do not match the {algorithm} checksum stored in it (recorded "
            f"{digest[:16]}..., computed {actual[:16]}...), so at least one byte changed "
            f"after it was written"
        )
    return True


def _unchecked(metadata: Mapping[str, str], name: str, where: str) -> None:
    """A glassnet file without a checksum: fine (with a note) for version 1, damaged for the
    versions that always carry one. Files of other tools and unknown versions pass here (the
    loaders' format checks name what they are)."""
    if metadata.get("format") not in _GLASSNET_FORMATS:
        return
    version = metadata.get("format_version")
    if version == "1":
        warnings.warn(
            f"{where}: '{name}' was written by an older glassnet (format version 1) and "
            f"carries no checksum, so damage to it cannot be detected; save it again to add "
            f"one",
            UncheckedFileWarning,
            stacklevel=4,
        )
    elif version in READABLE_VERSIONS:
        raise FileFormatError(
            f"{where}: '{name}' is damaged: it is a format version {version} file, which "
            f"always carries a checksum, but its {CHECKSUM_KEY!r} entry is missing; nothing "
            f"was loaded from it"
        )


def check_format(metadata: Mapping[str, str], name: str, where: str, expected: str) -> None:
    """The file's format marker and version, or a FileFormatError saying what it is instead."""
    fmt = metadata.get("format")
    if fmt != expected:
        if fmt is None:
            what = "has no glassnet format marker (it may come from another library)"
            hint = (
                "; to use its tensors as weights, build the model and call load_weights"
                if expected == FORMAT
                else ""
            )
        elif fmt == CHECKPOINT_FORMAT:
            what = "is a glassnet training checkpoint"
            hint = "; read it with glassnet.io.load_checkpoint or resume fit from it"
        elif fmt == FORMAT:
            what = "is a glassnet model file, not a checkpoint"
            hint = "; read it with load_model or load_weights"
        else:
            what = f"has format {fmt[:40]!r}"
            hint = f"; expected {expected!r}"
        raise FileFormatError(f"{where}: '{name}' {what}{hint}")
    version = metadata.get("format_version")
    if version not in READABLE_VERSIONS:
        if version is not None and version.isdigit() and int(version) > int(FORMAT_VERSION):
            raise FileFormatError(
                f"{where}: '{name}' uses format version {version}, newer than the version "
                f"{FORMAT_VERSION} this glassnet reads; upgrade glassnet to load it"
            )
        raise FileFormatError(
            f"{where}: '{name}' has format_version {str(version)[:20]!r}; "
            f"expected one of {', '.join(READABLE_VERSIONS)}"
        )


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def _safetensors_numpy(where: str) -> Any:
    try:
        import safetensors.numpy as stn
    except ImportError:  # pragma: no cover - safetensors is a dependency
        raise InvalidArgumentError(
            f"{where}: glassnet's model and checkpoint files need the 'safetensors' package, "
            f"which is not installed; install it with: pip install safetensors"
        ) from None
    return stn


def prepare_array(value: np.ndarray, what: str, where: str) -> np.ndarray:
    """A contiguous little-endian copy-or-view of ``value`` that safetensors can store."""
    dt = value.dtype.newbyteorder("=") if value.dtype.byteorder in "<>" else value.dtype
    if dt not in _NUMPY_TO_CODE:
        raise InvalidArgumentError(
            f"{where}: {what} is an array of dtype {value.dtype}, which the file format cannot "
            f"hold; expected bool, (u)int8-64, float16/32/64 or complex64"
        )
    # safetensors reads raw memory from the data pointer: it must be C-contiguous, native.
    # (Not np.ascontiguousarray: it turns 0-d arrays into shape (1,).)
    return np.asarray(value, dtype=dt, order="C")


def write_container(
    path: Any, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str], where: str
) -> Path:
    """Serialise ``tensors`` and ``metadata`` with safetensors and write them atomically.

    A crash at any moment leaves the previous file or the new one, never a mixture.
    """
    p = as_path(path, where)
    _check_writable_target(p, os.fspath(path), where)
    stn = _safetensors_numpy(where)
    arrays = {
        name: prepare_array(np.asarray(arr), f"tensor {name!r}", where)
        for name, arr in tensors.items()
    }
    sealed = dict(metadata)
    sealed[CHECKSUM_KEY] = placeholder_checksum()
    try:
        data = stn.save(arrays, metadata=sealed)
    except Exception as exc:  # safetensors' own errors: report them as ours
        raise InvalidArgumentError(
            f"{where}: could not serialise the tensors for '{p}': {exc}"
        ) from None
    header_len = int.from_bytes(data[:8], "little")
    if header_len > MAX_HEADER_BYTES:
        raise InvalidArgumentError(
            f"{where}: the non-array data for '{p}' takes {header_len / 1e6:.0f} MB of JSON, "
            f"more than the {MAX_HEADER_BYTES // 2**20} MB a file may hold; store large lists "
            f"as NumPy arrays"
        )
    data = seal(data)
    remove_stale_temps(p)
    atomic_write_bytes(p, data, where=where)  # errors name p and say the old file is kept
    return p


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------
def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_header(data: bytes, name: str) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Check the raw bytes of a safetensors file; return (tensor entries, metadata).

    Raises FileFormatError (naming ``name``) for anything safetensors itself would reject and
    anything that could make a loader allocate or read beyond the file.
    """
    size = len(data)

    def bad(reason: str) -> FileFormatError:
        return FileFormatError(
            f"'{name}' is damaged or not a safetensors file (truncated, corrupted, or of "
            f"another format): {reason}"
        )

    if size < 8:
        raise bad(f"it has {size} bytes, fewer than the 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if n > MAX_HEADER_BYTES:
        raise bad(f"its header claims {n} bytes, more than the {MAX_HEADER_BYTES} allowed")
    if 8 + n > size:
        raise bad(
            f"its header claims {n} bytes but the file has only {size - 8} after the "
            f"length field (truncated?)"
        )
    raw = data[8 : 8 + n]
    if not raw.startswith(b"{"):
        raise bad("its header does not start with '{' (it may be a pickle or another format)")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad(f"its header is not valid JSON ({type(exc).__name__}: {str(exc)[:80]})") from None
    if not isinstance(header, dict):
        raise bad(f"its header is a JSON {type(header).__name__}, expected an object")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise bad("its __metadata__ is not a map of strings to strings")

    data_len = size - 8 - n
    spans: list[tuple[int, int, str]] = []
    for tname, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"tensor {tname!r} is not described by exactly dtype, shape and data_offsets")
        code = entry["dtype"]
        if not isinstance(code, str) or code not in DTYPES:
            raise bad(
                f"tensor {tname!r} has dtype {str(code)[:20]!r}, which glassnet cannot "
                f"read (supported: {', '.join(DTYPES)})"
            )
        shape = entry["shape"]
        if (
            not isinstance(shape, list)
            or len(shape) > _MAX_NDIM
            or not all(_is_int(d) and 0 <= d < 2**62 for d in shape)
        ):
            raise bad(f"tensor {tname!r} has an invalid shape {str(shape)[:40]}")
        offsets = entry["data_offsets"]
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_int(o) for o in offsets)
        ):
            raise bad(f"tensor {tname!r} has invalid data_offsets {str(offsets)[:40]}")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise bad(
                f"tensor {tname!r} claims bytes {begin} to {end} of a data region of "
                f"{data_len} bytes"
            )
        nbytes = math.prod(shape) * DTYPES[code].itemsize
        if end - begin != nbytes:
            raise bad(
                f"tensor {tname!r} of shape {tuple(shape)} and dtype {code} needs "
                f"{nbytes} bytes but its offsets span {end - begin}"
            )
        spans.append((begin, end, tname))
    spans.sort()
    position = 0
    for begin, end, tname in spans:
        if begin != position:
            raise bad(
                f"tensor {tname!r} starts at byte {begin} of the data region, expected "
                f"{position} (tensors must be stored back to back)"
            )
        position = end
    if position != data_len:
        raise bad(
            f"its tensors cover {position} of the {data_len} data bytes (trailing "
            f"garbage or a truncated file)"
        )
    return header, metadata


def read_container(path: Any, where: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read and check a safetensors file: (tensors as fresh writable arrays, metadata)."""
    p = as_path(path, where)
    check_name_lengths(p, where)
    try:
        info = os.stat(p)
    except FileNotFoundError:
        raise MissingFileError(f"{where}: no file at '{p}'") from None
    except OSError as exc:
        raise access_error(exc, p, where, "read") from None
    if stat.S_ISDIR(info.st_mode):
        raise FileAccessError(f"{where}: '{p}' is a directory; expected a .safetensors file")
    if not stat.S_ISREG(info.st_mode):
        raise FileFormatError(
            f"{where}: '{p}' is not a regular file (a device or a pipe?); "
            f"expected a .safetensors file"
        )
    try:
        with open(p, "rb") as handle:
            head = handle.read(8)
            if len(head) == 8 and int.from_bytes(head, "little") > MAX_HEADER_BYTES:
                data = head  # do not read a file whose header is already known to be hostile
            else:
                data = head + handle.read()
    except OSError as exc:
        raise access_error(exc, p, where, "read") from None
    try:
        header, metadata = validate_header(data, str(p))
    except FileFormatError as exc:
        raise FileFormatError(f"{where}: {exc}") from None
    # Before anything in the header is interpreted beyond its structure.
    if not verify_checksum(data, metadata, str(p), where):
        _unchecked(metadata, str(p), where)
    stn = _safetensors_numpy(where)
    try:
        loaded = stn.load(data)
    except Exception as exc:  # the header was checked; this is a last line of defence
        raise FileFormatError(
            f"{where}: '{p}' could not be decoded as safetensors: {str(exc)[:100]}"
        ) from None
    if set(loaded) != set(header):
        raise FileFormatError(f"{where}: '{p}' decoded to other tensors than its header lists")
    tensors: dict[str, np.ndarray] = {}
    for tname in header:  # header order: as written
        arr = loaded[tname]
        expected = DTYPES[header[tname]["dtype"]]
        if arr.dtype != expected or list(arr.shape) != header[tname]["shape"]:
            raise FileFormatError(
                f"{where}: '{p}' decoded tensor {tname!r} with another dtype "
                f"or shape than its header gives"
            )
        tensors[tname] = np.array(arr, copy=True)
    return tensors, metadata


# ---------------------------------------------------------------------------------------------
# Nested state <-> (tensors, JSON)
# ---------------------------------------------------------------------------------------------
def _describe_path(root: str, path: tuple[Any, ...]) -> str:
    return root + "".join(f"[{k!r}]" for k in path)


def _tensor_key(path: tuple[Any, ...], used: set[str]) -> str:
    base = "/".join(str(k) for k in path) or "_"
    key, n = base, 0
    while key in used or key == "__metadata__":
        n += 1
        key = f"{base}~{n}"
    used.add(key)
    return key


def _plain_key(k: Any) -> bool:
    if isinstance(k, tuple):
        return all(_plain_key(item) for item in k)
    return k is None or (isinstance(k, (bool, int, float, str)) and not isinstance(k, np.generic))


_ALLOWED = (
    "dicts, lists, tuples, NumPy arrays and scalars, Python numbers, strings, booleans and None"
)


def encode_tree(
    value: Any,
    tensors: dict[str, np.ndarray],
    *,
    root: str,
    where: str,
    prefix: tuple[Any, ...] = (),
) -> Any:
    """Split nested state into JSON-friendly data plus ``tensors`` (filled in place).

    Arrays (and NumPy scalars, as 0-d arrays) go to ``tensors`` under their key path joined by
    "/" (``optimizer/m/0``), referenced from the JSON as ``{"__glassnet__": "array", "key":
    ...}``. Tuples, dicts with non-string keys and non-finite floats are tagged likewise so
    ``decode_tree`` restores them exactly. Python ints of any size stay exact.
    """
    used = set(tensors)
    active: set[int] = set()

    def enc(v: Any, path: tuple[Any, ...]) -> Any:
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, np.ndarray) or isinstance(v, np.generic):
            if isinstance(v, np.generic) and v.dtype.kind in "USVO":
                raise InvalidArgumentError(
                    f"{where}: {_describe_path(root, path)} is a NumPy {v.dtype} scalar; "
                    f"expected {_ALLOWED}"
                )
            arr = prepare_array(np.asarray(v), _describe_path(root, path), where)
            key = _tensor_key(path, used)
            tensors[key] = arr
            return {_TAG: "array" if isinstance(v, np.ndarray) else "scalar", "key": key}
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            if math.isfinite(v):
                return v
            return {
                _TAG: "float",
                "value": "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"),
            }
        if isinstance(v, (dict, list, tuple)):
            if id(v) in active:
                raise InvalidArgumentError(
                    f"{where}: {_describe_path(root, path)} contains itself; expected a tree "
                    f"without cycles"
                )
            active.add(id(v))
            try:
                if isinstance(v, list):
                    return [enc(item, path + (i,)) for i, item in enumerate(v)]
                if isinstance(v, tuple):
                    return {
                        _TAG: "tuple",
                        "items": [enc(item, path + (i,)) for i, item in enumerate(v)],
                    }
                if all(isinstance(k, str) for k in v) and _TAG not in v:
                    return {k: enc(item, path + (k,)) for k, item in v.items()}
                items = []
                for k, item in v.items():
                    if not _plain_key(k):
                        raise InvalidArgumentError(
                            f"{where}: {_describe_path(root, path)} has a key {k!r} of type "
                            f"{type(k).__name__}; keys must be strings, numbers, booleans, "
                            f"None or tuples of those"
                        )
                    items.append([enc(k, path + ("key",)), enc(item, path + (k,))])
                return {_TAG: "dict", "items": items}
            finally:
                active.discard(id(v))
        kind = type(v).__name__
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        raise InvalidArgumentError(
            f"{where}: {_describe_path(root, path)} is {article} {kind}; expected {_ALLOWED}"
        )

    return enc(value, prefix)


def dumps(value: Any, what: str, where: str) -> str:
    """Strict JSON (no NaN) for a metadata entry, with an InvalidArgumentError if impossible."""
    try:
        return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidArgumentError(
            f"{where}: {what} cannot be written as JSON ({exc}); expected {_ALLOWED}"
        ) from None


def loads(text: str, what: str, name: str, where: str) -> Any:
    """Parse a metadata entry, or a FileFormatError naming the file."""
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates)
    except (ValueError, RecursionError) as exc:
        raise FileFormatError(
            f"{where}: '{name}' has an unreadable {what} ({type(exc).__name__}: {str(exc)[:80]})"
        ) from None


def decode_tree(
    value: Any, tensors: Mapping[str, np.ndarray], used: set[str], *, name: str, where: str
) -> Any:
    """Inverse of ``encode_tree``; every referenced key is added to ``used``.

    Anything that ``encode_tree`` cannot have written is a FileFormatError naming the file.
    """

    def bad(reason: str) -> FileFormatError:
        return FileFormatError(f"{where}: '{name}' holds an invalid state: {reason}")

    def dec(v: Any) -> Any:
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [dec(item) for item in v]
        if not isinstance(v, dict):
            raise bad(f"unexpected JSON value of type {type(v).__name__}")
        if _TAG not in v:
            return {k: dec(item) for k, item in v.items()}
        tag = v[_TAG]
        if tag in ("array", "scalar") and set(v) == {_TAG, "key"}:
            key = v["key"]
            if not isinstance(key, str) or key not in tensors:
                raise bad(f"it refers to a tensor {str(key)[:60]!r} that the file does not have")
            if key in used:
                raise bad(f"tensor {key!r} is referred to twice")
            used.add(key)
            arr = tensors[key]
            if tag == "scalar":
                if arr.ndim != 0:
                    raise bad(f"tensor {key!r} should be a scalar, it has shape {arr.shape}")
                return arr[()]
            return arr
        if tag == "float" and set(v) == {_TAG, "value"} and v["value"] in ("nan", "inf", "-inf"):
            return float(v["value"])
        if tag == "tuple" and set(v) == {_TAG, "items"} and isinstance(v["items"], list):
            return tuple(dec(item) for item in v["items"])
        if tag == "dict" and set(v) == {_TAG, "items"} and isinstance(v["items"], list):
            out: dict[Any, Any] = {}
            for pair in v["items"]:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise bad("a tagged dict item is not a [key, value] pair")
                key = dec(pair[0])
                try:
                    out[key] = dec(pair[1])
                except TypeError:
                    raise bad(f"a dict key of type {type(key).__name__} is not hashable") from None
            return out
        raise bad(f"unknown tagged object {str(v)[:60]}")

    try:
        return dec(value)
    except RecursionError:
        raise bad("it is nested too deeply") from None
