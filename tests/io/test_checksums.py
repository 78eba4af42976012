"""Checksums in model files and checkpoints (issue 14, item 5).

Every file glassnet writes carries ``glassnet_checksum`` = ``"crc32:<8 hex digits>"`` in its
metadata, covering every byte of the file (its own value counted as zeros). Loading checks it
before anything in the header is interpreted: damage anywhere — the data, the optimiser-state
keys in the header, the length field — is a FileFormatError saying the file is damaged.
Files from before checksums (format version 1) still load, with an UncheckedFileWarning.
"""

from __future__ import annotations

import json
import pathlib
import struct
import warnings
from typing import Any

import numpy as np
import pytest
import safetensors.numpy as stn

import glassnet as gn
from glassnet import _rng
from glassnet.errors import FileFormatError, InvalidArgumentError
from glassnet.io import (
    UncheckedFileWarning,
    load_checkpoint,
    load_model,
    load_weights,
    save_checkpoint,
    save_model,
    save_weights,
)
from glassnet.io._container import CHECKSUM_KEY, placeholder_checksum, seal
from glassnet.nn import Dense, Input


def _model() -> gn.Sequential:
    gn.seed(0)
    model = gn.Sequential([Input(shape=(3,)), Dense(4, activation="relu"), Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    model.fit(x, x[:, :2], epochs=1, batch_size=4, verbose=0)
    return model


def _header(data: bytes) -> tuple[int, dict[str, Any]]:
    (n,) = struct.unpack("<Q", data[:8])
    return n, json.loads(data[8 : 8 + n])


def _metadata(path: pathlib.Path) -> dict[str, str]:
    return _header(path.read_bytes())[1]["__metadata__"]


@pytest.fixture
def saved(tmp_path: pathlib.Path) -> dict[str, pathlib.Path]:
    model = _model()
    paths = {
        "model": tmp_path / "model.safetensors",
        "weights": tmp_path / "weights.safetensors",
        "checkpoint": tmp_path / "run.ckpt",
    }
    save_model(model, paths["model"])
    save_weights(model, paths["weights"])
    save_checkpoint(
        paths["checkpoint"],
        {"weights": model.state_dict(), "optimizer": model.optimizer.state_dict(), "epoch": 1},
    )
    return paths


def _loaders(kind: str) -> list[Any]:
    model = gn.Sequential([Input(shape=(3,)), Dense(4, activation="relu"), Dense(2)])
    if kind == "checkpoint":
        return [load_checkpoint, lambda p: load_weights(model, p)]
    return (
        [load_model, lambda p: load_weights(model, p)]
        if kind == "model"
        else [lambda p: load_weights(model, p)]
    )


@pytest.mark.parametrize("kind", ["model", "weights", "checkpoint"])
def test_every_file_carries_a_crc32_of_itself(saved: dict[str, pathlib.Path], kind: str) -> None:
    meta = _metadata(saved[kind])
    assert meta["format_version"] == "2"
    algorithm, _, digest = meta[CHECKSUM_KEY].partition(":")
    assert algorithm == "crc32" and len(digest) == 8 and int(digest, 16) >= 0
    # The digest is the CRC-32 of the file with its own value written as zeros: recomputing
    # it from the outside gives the same number.
    import zlib

    data = saved[kind].read_bytes()
    zeroed = data.replace(meta[CHECKSUM_KEY].encode(), placeholder_checksum("crc32").encode())
    assert f"{zlib.crc32(zeroed):08x}" == digest
    assert seal(zeroed) == data


@pytest.mark.parametrize("kind", ["model", "weights", "checkpoint"])
@pytest.mark.parametrize("where", ["length field", "header", "data", "last byte"])
def test_a_changed_byte_anywhere_is_refused_as_damaged(
    saved: dict[str, pathlib.Path], kind: str, where: str
) -> None:
    data = bytearray(saved[kind].read_bytes())
    n, _ = _header(bytes(data))
    index = {"length field": 0, "header": 8 + n // 2, "data": 8 + n + 3, "last byte": -1}[where]
    data[index] ^= 0x01
    saved[kind].write_bytes(data)
    for load in _loaders(kind):
        with pytest.raises(FileFormatError, match="damaged") as info:
            load(saved[kind])
        assert str(saved[kind]) in str(info.value)


def test_renamed_optimizer_keys_in_the_header_are_refused(
    saved: dict[str, pathlib.Path],
) -> None:
    """The issue's example: a flip that renames optimiser-state entries (same length, valid
    JSON, valid safetensors) used to load; now the checksum refuses it."""
    path = saved["model"]
    data = path.read_bytes()
    assert data.count(b"exp_avg_sq") >= 2
    path.write_bytes(data.replace(b"exp_avg_sq", b"exp_avg_sr"))
    with pytest.raises(FileFormatError, match="do not match the crc32 checksum"):
        load_model(path)


def test_a_changed_weight_is_refused_even_when_it_is_a_valid_number(
    saved: dict[str, pathlib.Path],
) -> None:
    path = saved["weights"]
    data = bytearray(path.read_bytes())
    n, header = _header(bytes(data))
    begin = header["dense.W"]["data_offsets"][0]
    data[8 + n + begin + 3] ^= 0x04  # the sign/exponent byte of the first float32 weight
    path.write_bytes(data)
    with pytest.raises(FileFormatError, match="damaged"):
        load_weights(gn.Sequential([Input(shape=(3,)), Dense(4), Dense(2)]), path)


def _rewrite(path: pathlib.Path, version: str | None, checksum: str | None) -> None:
    """The same tensors and metadata with another format_version and checksum entry."""
    data = path.read_bytes()
    tensors = stn.load(data)
    meta = dict(_header(data)[1]["__metadata__"])
    meta.pop(CHECKSUM_KEY)
    if version is not None:
        meta["format_version"] = version
    if checksum is not None:
        meta[CHECKSUM_KEY] = checksum
    raw = stn.save(tensors, metadata=meta)
    path.write_bytes(seal(raw) if checksum is not None else raw)


@pytest.mark.parametrize("kind", ["model", "weights", "checkpoint"])
def test_old_files_without_a_checksum_load_with_a_note(
    saved: dict[str, pathlib.Path], kind: str
) -> None:
    path = saved[kind]
    before = _loaders(kind)[0](path)
    _rewrite(path, version="1", checksum=None)
    results = []
    for load in _loaders(kind):
        with pytest.warns(UncheckedFileWarning, match="older glassnet.*no checksum"):
            results.append(load(path))
    after = results[0]
    if kind == "model":
        for k, v in before.state_dict().items():
            np.testing.assert_array_equal(v, after.state_dict()[k])
    elif kind == "checkpoint":
        for k, v in before["weights"].items():
            np.testing.assert_array_equal(v, after["weights"][k])


def test_a_current_file_without_its_checksum_is_damaged(
    saved: dict[str, pathlib.Path],
) -> None:
    """A version-2 file always has a checksum: a flip in the entry's key cannot turn a file
    into an unchecked one."""
    _rewrite(saved["model"], version=None, checksum=None)
    with pytest.raises(FileFormatError, match="damaged.*checksum.*missing"):
        load_model(saved["model"])


def test_sha256_checksums_are_read_too(saved: dict[str, pathlib.Path]) -> None:
    path = saved["model"]
    _rewrite(path, version=None, checksum=placeholder_checksum("sha256"))
    assert _metadata(path)[CHECKSUM_KEY].startswith("sha256:")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(path)
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x80
    path.write_bytes(data)
    with pytest.raises(FileFormatError, match="sha256 checksum"):
        load_model(path)


@pytest.mark.parametrize(
    "value, message",
    [
        ("md5:0123456789abcdef0123456789abcdef", "unknown|does not know"),
        ("crc32:0123", "not a valid digest"),
        ("crc32:ZZZZZZZZ", "not a valid digest"),
        ("crc32", "not a valid digest"),
        ("", "does not know"),
    ],
)
def test_malformed_checksum_entries_are_damage(
    saved: dict[str, pathlib.Path], value: str, message: str
) -> None:
    path = saved["checkpoint"]
    _rewrite(path, version=None, checksum=None)
    data = path.read_bytes()
    meta = dict(_header(data)[1]["__metadata__"])
    meta[CHECKSUM_KEY] = value
    path.write_bytes(stn.save(stn.load(data), metadata=meta))
    with pytest.raises(FileFormatError, match=message):
        load_checkpoint(path)


def test_files_of_other_tools_load_as_weights_without_a_note(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "plain.safetensors"
    model = gn.Sequential([Input(shape=(3,)), Dense(2)])
    stn.save_file({k: v.copy() for k, v in model.state_dict().items()}, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_weights(model, path)


def test_seal_needs_exactly_one_checksum_entry() -> None:
    raw = stn.save({"a": np.zeros(2)}, metadata={"format": "glassnet"})
    with pytest.raises(InvalidArgumentError, match="one 'glassnet_checksum' entry"):
        seal(raw)


def test_resume_from_a_damaged_checkpoint_changes_nothing(tmp_path: pathlib.Path) -> None:
    x = np.random.default_rng(1).normal(size=(8, 3)).astype(np.float32)
    model = _model()
    path = tmp_path / "run.ckpt"
    model.fit(x, x[:, :2], epochs=1, batch_size=4, verbose=0, checkpoint=path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(data)
    weights = {k: v.copy() for k, v in model.state_dict().items()}
    iterations = model.optimizer.iterations
    rng = _rng.get_state()
    with pytest.raises(FileFormatError, match="damaged"):
        model.fit(x, x[:, :2], epochs=2, batch_size=4, verbose=0, resume=path)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, weights[k])
    assert model.optimizer.iterations == iterations and _rng.get_state() == rng
