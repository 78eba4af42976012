"""IDX files, the format MNIST and Fashion-MNIST ship in: read and write, gzip or raw.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the data in
C order, big-endian::

    magic = 0x00 0x00 <dtype code> <ndim>
    dims  = ndim × uint32 (big-endian)
    data  = prod(dims) × itemsize bytes

dtype codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.

``read_idx`` checks all of it — magic, dtype code, dimensions and that the data is exactly as
long as the dimensions say (not a byte short, not a byte over) — and raises
``FileFormatError`` naming the file otherwise; it never returns a silently short array.
Compression is detected from the content (gzip's ``1f 8b`` signature), not from the name.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import DTypeError, FileFormatError, InvalidArgumentError, describe
from ..io.atomic import atomic_write

__all__ = ["read_idx", "write_idx", "DTYPE_CODES"]

#: IDX dtype code → NumPy dtype (big-endian, as stored in the file).
DTYPE_CODES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_BY_KIND = {(dt.kind, dt.itemsize): code for code, dt in DTYPE_CODES.items()}
_GZIP_SIGNATURE = b"\x1f\x8b"
_CHUNK = 1 << 20

PathOrFile = str | os.PathLike[str] | IO[bytes]


def _name_of(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<file object>"


def _read_exact(handle: IO[bytes], n: int) -> bytes:
    """Up to ``n`` bytes; fewer only at end of stream."""
    parts = []
    remaining = n
    while remaining > 0:
        chunk = handle.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _readinto_full(handle: IO[bytes], buffer: memoryview) -> int:
    """Fill ``buffer`` from ``handle`` as far as the stream allows; the number of bytes read."""
    total = 0
    size = len(buffer)
    while total < size:
        end = min(size, total + 16 * _CHUNK)
        n = handle.readinto(buffer[total:end])  # type: ignore[attr-defined]
        if not n:
            break
        total += n
    return total


@contextmanager
def _open_decoded(source: PathOrFile) -> Iterator[IO[bytes]]:
    """The file's decompressed byte stream, whether it is gzip or raw."""
    if isinstance(source, (str, os.PathLike)):
        raw: IO[bytes] = open(source, "rb")  # noqa: SIM115 - closed below
        owns = True
    elif hasattr(source, "read"):
        raw, owns = source, False
    else:
        raise InvalidArgumentError(
            f"read_idx: expected a path or a binary file object, received {describe(source)}"
        )
    try:
        signature, stream = _peek(raw, 2)
        if signature == _GZIP_SIGNATURE:
            with gzip.GzipFile(fileobj=stream, mode="rb") as unzipped:
                yield unzipped  # type: ignore[misc]
        else:
            yield stream
    finally:
        if owns:
            raw.close()


def _peek(raw: IO[bytes], n: int) -> tuple[bytes, IO[bytes]]:
    """The first ``n`` bytes, and a stream that still starts with them."""
    if isinstance(raw, io.BufferedReader):
        return raw.peek(n)[:n], raw
    try:
        seekable = raw.seekable()
    except (AttributeError, OSError):
        seekable = False
    if seekable:
        position = raw.tell()
        head = raw.read(n)
        raw.seek(position)
        return head, raw
    # A pipe or socket: nothing to rewind, so replay what was read.
    rest = raw.read()
    return rest[:n], io.BytesIO(rest)


def _remaining(stream: IO[bytes]) -> int | None:
    """Bytes left in a raw, seekable file (None for gzip streams and pipes)."""
    if isinstance(stream, gzip.GzipFile):
        return None
    try:
        if not stream.seekable():
            return None
        position = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(position)
    except (AttributeError, OSError):
        return None
    return end - position


def read_idx(source: PathOrFile) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a native-endian NumPy array.

    ``source`` is a path or a binary file object. Returns an array of the file's shape
    ``(d0, d1, ...)`` and dtype (uint8, int8, int16, int32, float32 or float64). Raises
    ``FileFormatError`` for a wrong magic number, an unknown dtype code, a truncated or
    oversized file, or corrupt gzip data, and ``FileNotFoundError`` for a missing file.
    """
    name = _name_of(source)
    try:
        with _open_decoded(source) as stream:
            return _read_stream(stream, name)
    except FileFormatError:
        raise
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise FileFormatError(
            f"read_idx: {name} is not a valid gzip file or its compressed data is corrupt "
            f"({exc or type(exc).__name__}), expected an intact gzip stream or a raw IDX file"
        ) from exc


def _read_stream(stream: IO[bytes], name: str) -> np.ndarray:
    head = _read_exact(stream, 4)
    if len(head) < 4:
        raise FileFormatError(
            f"read_idx: {name} is {len(head)} bytes long, too short for the 4-byte IDX magic number"
        )
    if head[0] != 0 or head[1] != 0:
        raise FileFormatError(
            f"read_idx: {name} starts with the bytes {head.hex(' ')}, expected an IDX magic "
            "number 00 00 <dtype code> <ndim>"
        )
    code, ndim = head[2], head[3]
    if code not in DTYPE_CODES:
        known = ", ".join(f"0x{c:02X}" for c in DTYPE_CODES)
        raise FileFormatError(
            f"read_idx: {name} has the dtype code 0x{code:02X}, expected one of {known}"
        )
    if ndim == 0:
        raise FileFormatError(f"read_idx: {name} declares 0 dimensions, expected at least 1")
    dims_bytes = _read_exact(stream, 4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise FileFormatError(
            f"read_idx: {name} is truncated inside its header, which declares {ndim} "
            f"dimensions ({4 * ndim} bytes) but has only {len(dims_bytes)} bytes of them"
        )
    shape = struct.unpack(f">{ndim}I", dims_bytes)
    stored = DTYPE_CODES[code]
    count = 1
    for d in shape:
        count *= d
    expected = count * stored.itemsize
    available = _remaining(stream)
    if available is not None and available != expected:
        # A raw file's size is known up front: reject it before allocating anything.
        if available < expected:
            raise FileFormatError(
                f"read_idx: {name} is truncated, its header declares the shape {shape} "
                f"({expected} bytes of data) but only {available} bytes follow"
            )
        raise FileFormatError(
            f"read_idx: {name} has {available - expected} bytes after the data its header "
            f"declares (shape {shape}, {expected} bytes), expected the file to end there"
        )
    try:
        data = np.empty(count, dtype=stored)
    except (MemoryError, ValueError) as exc:
        raise FileFormatError(
            f"read_idx: {name} declares the shape {shape} ({expected} bytes of data), "
            "more than can be allocated, expected a plausible IDX header"
        ) from exc
    got = _readinto_full(stream, data.view(np.uint8).data) if expected else 0
    if got < expected:
        raise FileFormatError(
            f"read_idx: {name} is truncated, its header declares the shape {shape} "
            f"({expected} bytes of data) but only {got} bytes follow"
        )
    extra = stream.read(1)
    if extra:
        rest = 1 + len(stream.read())
        raise FileFormatError(
            f"read_idx: {name} has {rest} bytes after the data its header declares "
            f"(shape {shape}, {expected} bytes), expected the file to end there"
        )
    native = stored.newbyteorder("=")
    if stored.itemsize > 1 and native.byteorder != stored.byteorder:
        data.byteswap(inplace=True)
    return data.view(native).reshape(shape)


def write_idx(
    path: str | os.PathLike[str],
    array: np.ndarray,
    *,
    compress: bool | None = None,
    compresslevel: int = 6,
) -> None:
    """Write ``array`` as an IDX file, atomically; gzip-compressed when ``compress`` is true.

    ``compress=None`` compresses when ``path`` ends in ``.gz``. ``array`` must have 1 to 255
    dimensions, each below 2**32, and a dtype IDX can store: uint8, int8, int16, int32,
    float32 or float64 (convert others first, e.g. ``labels.astype(np.uint8)``). The gzip
    stream carries no name or time stamp, so the same array always gives the same bytes.
    """
    if not isinstance(array, np.ndarray):
        raise InvalidArgumentError(f"write_idx: expected a NumPy array, received {describe(array)}")
    key = (array.dtype.kind, array.dtype.itemsize)
    if key not in _CODE_BY_KIND or array.dtype.kind == "b":
        raise DTypeError(
            f"write_idx: IDX cannot store dtype {array.dtype}, expected uint8, int8, int16, "
            f"int32, float32 or float64 (convert with astype first)"
        )
    if not 1 <= array.ndim <= 255:
        raise InvalidArgumentError(
            f"write_idx: expected an array with 1 to 255 dimensions, received one of "
            f"shape {array.shape}"
        )
    if any(d >= 2**32 for d in array.shape):
        raise InvalidArgumentError(
            f"write_idx: every dimension must be below 2**32, received the shape {array.shape}"
        )
    if not isinstance(compresslevel, int) or not 0 <= compresslevel <= 9:
        raise InvalidArgumentError(
            f"write_idx: compresslevel must be an integer from 0 to 9, "
            f"received compresslevel={compresslevel!r}"
        )
    code = _CODE_BY_KIND[key]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = np.ascontiguousarray(array, dtype=DTYPE_CODES[code])
    if compress is None:
        compress = Path(path).name.endswith(".gz")
    with atomic_write(path, "wb") as handle:
        if compress:
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=handle, mtime=0, compresslevel=compresslevel
            ) as zipped:
                zipped.write(header)
                zipped.write(data.reshape(-1).view(np.uint8).data)
        else:
            handle.write(header)
            handle.write(data.reshape(-1).view(np.uint8).data)
