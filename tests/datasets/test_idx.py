"""IDX reader and writer: round trips for every dtype and rank, and every kind of damaged file."""

from __future__ import annotations

import gzip
import io
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glassnet.datasets import idx
from glassnet.datasets.idx import read_idx, write_idx
from glassnet.errors import DTypeError, FileFormatError, GlassnetError, InvalidArgumentError

CODES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.int16,
    0x0C: np.int32,
    0x0D: np.float32,
    0x0E: np.float64,
}
SHAPES = {1: (7,), 2: (3, 5), 3: (4, 3, 2), 4: (2, 3, 2, 3)}


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype) * 1e3
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)


def raw_idx(code, shape, payload):
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


def assert_one_sentence(message, path):
    assert str(path) in message
    assert "\n" not in message
    assert message.count(". ") == 0


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("rank", [1, 2, 3, 4])
@pytest.mark.parametrize("code", sorted(CODES), ids=[f"0x{c:02X}" for c in sorted(CODES)])
def test_round_trip_every_dtype_and_rank(tmp_path, code, rank, compressed):
    array = sample(CODES[code], SHAPES[rank])
    path = tmp_path / ("a.idx.gz" if compressed else "a.idx")
    write_idx(path, array)
    data = path.read_bytes()
    assert (data[:2] == b"\x1f\x8b") == compressed
    header = gzip.decompress(data)[:4] if compressed else data[:4]
    assert header == bytes([0, 0, code, rank])
    back = read_idx(path)
    assert back.dtype == np.dtype(CODES[code]) and back.dtype.isnative
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_layout_is_big_endian_c_order(tmp_path):
    array = np.array([[1, -2, 3], [256, 65536, -1]], dtype=np.int32)
    write_idx(tmp_path / "x.idx", array)
    expected = raw_idx(0x0C, (2, 3), array.astype(">i4").tobytes())
    assert (tmp_path / "x.idx").read_bytes() == expected


def test_reads_files_written_by_hand_and_file_objects(tmp_path):
    payload = bytes(range(12))
    blob = raw_idx(0x08, (3, 4), payload)
    expected = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (tmp_path / "hand.idx").write_bytes(blob)
    np.testing.assert_array_equal(read_idx(tmp_path / "hand.idx"), expected)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "hand.idx")), expected)
    np.testing.assert_array_equal(read_idx(io.BytesIO(blob)), expected)
    np.testing.assert_array_equal(read_idx(io.BytesIO(gzip.compress(blob))), expected)


class _Pipe(io.RawIOBase):
    """A stream that can only be read forward, like a socket."""

    def __init__(self, data):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def seekable(self):
        return False

    def readinto(self, buffer):
        chunk = self._data.read(min(len(buffer), 5))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gz"])
def test_reads_non_seekable_streams(compressed):
    array = sample(np.float64, (3, 4))
    buffer = io.BytesIO()
    blob = raw_idx(0x0E, (3, 4), array.astype(">f8").tobytes())
    buffer.write(gzip.compress(blob) if compressed else blob)
    np.testing.assert_array_equal(read_idx(_Pipe(buffer.getvalue())), array)


def test_name_does_not_decide_compression(tmp_path):
    array = sample(np.int16, (4, 4))
    write_idx(tmp_path / "plain.gz", array, compress=False)
    write_idx(tmp_path / "zipped.idx", array, compress=True)
    np.testing.assert_array_equal(read_idx(tmp_path / "plain.gz"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "zipped.idx"), array)


def test_gzip_output_is_deterministic(tmp_path):
    array = sample(np.uint8, (10, 28, 28))
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_empty_dimension_round_trip(tmp_path):
    array = np.zeros((0, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "empty.idx.gz", array)
    back = read_idx(tmp_path / "empty.idx.gz")
    assert back.shape == (0, 28, 28) and back.dtype == np.uint8


def test_non_contiguous_and_little_endian_inputs(tmp_path):
    base = sample(np.float32, (6, 8))
    write_idx(tmp_path / "t.idx", base.T)
    np.testing.assert_array_equal(read_idx(tmp_path / "t.idx"), base.T)
    swapped = base.astype("<f4")
    write_idx(tmp_path / "le.idx", swapped)
    np.testing.assert_array_equal(read_idx(tmp_path / "le.idx"), base)


@settings(max_examples=25, deadline=None)
@given(
    code=st.sampled_from(sorted(CODES)),
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
    compressed=st.booleans(),
)
def test_round_trip_property(tmp_path_factory, code, shape, compressed):
    path = tmp_path_factory.mktemp("idx") / "p.idx"
    array = sample(CODES[code], tuple(shape), seed=len(shape))
    write_idx(path, array, compress=compressed)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


# ----------------------------------------------------------------------- damaged files

GOOD = raw_idx(0x08, (2, 3, 4), bytes(range(24)))


@pytest.mark.parametrize(
    ("name", "blob", "needle"),
    [
        ("empty", b"", "too short for the 4-byte IDX magic number"),
        ("short", b"\x00\x00", "too short for the 4-byte IDX magic number"),
        ("magic", b"\x08\x03\x00\x00" + GOOD[4:], "expected an IDX magic number"),
        ("text", b"hello world, not idx", "expected an IDX magic number"),
        ("dtype", bytes([0, 0, 0x0A, 3]) + GOOD[4:], "dtype code 0x0A"),
        ("ndim0", bytes([0, 0, 0x08, 0]), "declares 0 dimensions"),
        ("header", GOOD[:10], "truncated inside its header"),
        ("truncated", GOOD[:-1], "is truncated"),
        ("nodata", GOOD[:16], "is truncated"),
        ("oversized", GOOD + b"\x00", "1 bytes after the data"),
        ("oversized-many", GOOD + b"\x00" * 100, "100 bytes after the data"),
    ],
)
@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gz"])
def test_damaged_files_are_rejected(tmp_path, name, blob, needle, compressed):
    path = tmp_path / f"{name}.idx{'.gz' if compressed else ''}"
    path.write_bytes(gzip.compress(blob) if compressed else blob)
    with pytest.raises(FileFormatError) as info:
        read_idx(path)
    message = str(info.value)
    assert needle in message
    assert_one_sentence(message, path)
    assert isinstance(info.value, GlassnetError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("shape", [(2**31, 2**31, 2**31), (2**20, 2**20, 2**12)])
def test_huge_declared_shape_is_rejected_without_reading(tmp_path, shape, compressed):
    blob = raw_idx(0x0E, shape, b"\x00" * 64)
    path = tmp_path / "huge.idx"
    path.write_bytes(gzip.compress(blob) if compressed else blob)
    with pytest.raises(FileFormatError, match="huge.idx"):
        read_idx(path)


@pytest.mark.parametrize("damage", ["cut", "flip", "trailing-garbage", "header"])
def test_corrupt_gzip_is_rejected(tmp_path, damage):
    compressed = bytearray(gzip.compress(raw_idx(0x08, (50, 28, 28), bytes(50 * 784))))
    if damage == "cut":
        compressed = compressed[: len(compressed) // 2]
    elif damage == "flip":
        for i in range(20, 40):
            compressed[i] ^= 0xFF
    elif damage == "trailing-garbage":
        compressed += b"garbage!"
    else:
        compressed[3] = 0xFF  # reserved flag bits set
    path = tmp_path / f"{damage}.idx.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(FileFormatError) as info:
        read_idx(path)
    assert_one_sentence(str(info.value), path)


def test_crc_mismatch_is_rejected(tmp_path):
    compressed = bytearray(gzip.compress(GOOD))
    compressed[-8] ^= 0x01  # the CRC-32 in the trailer
    path = tmp_path / "crc.idx.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(FileFormatError, match="crc.idx.gz"):
        read_idx(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.idx")


def test_read_rejects_non_files():
    with pytest.raises(InvalidArgumentError, match="path or a binary file object"):
        read_idx(42)  # type: ignore[arg-type]


# ----------------------------------------------------------------------- writer checks


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.float16, np.bool_, np.complex64])
def test_writer_rejects_dtypes_idx_cannot_store(tmp_path, dtype):
    with pytest.raises(DTypeError, match="IDX cannot store dtype"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=dtype))


def test_writer_rejects_bad_arrays_and_leaves_existing_file(tmp_path):
    path = tmp_path / "keep.idx"
    write_idx(path, np.arange(5, dtype=np.uint8))
    before = path.read_bytes()
    with pytest.raises(InvalidArgumentError, match="1 to 255 dimensions"):
        write_idx(path, np.array(3, dtype=np.uint8))
    with pytest.raises(InvalidArgumentError, match="NumPy array"):
        write_idx(path, [1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="compresslevel"):
        write_idx(path, np.arange(3, dtype=np.uint8), compresslevel=11)
    with pytest.raises(DTypeError):
        write_idx(path, np.arange(3, dtype=np.int64))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.idx"]


def test_dtype_table_matches_the_format():
    assert {c: dt.str for c, dt in idx.DTYPE_CODES.items()} == {
        0x08: "|u1",
        0x09: "|i1",
        0x0B: ">i2",
        0x0C: ">i4",
        0x0D: ">f4",
        0x0E: ">f8",
    }
