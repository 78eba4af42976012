"""Every single-bit flip of a small model file is refused or changes nothing (issue 14, item 5).

Before checksums, of 400 random flips of a model file 44 loaded with other weights and 15
header flips loaded (optimiser-state keys renamed, ...). Here *every* bit of a small compiled
model file (architecture, training config, Adam state) is flipped in turn, and of a small
training checkpoint too: each damaged file must be refused with a FileFormatError that says
the file is damaged, or load exactly the weights and optimiser state that were saved — never
different ones. The exhaustive run of larger files is marked slow (pytest -m slow).
"""

from __future__ import annotations

import os
import pathlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import GlassnetError
from glassnet.io import load_checkpoint, load_model, save_checkpoint, save_model
from glassnet.nn import Dense, Input

SLOW = pytest.mark.slow  # out of the default run: pytest -m slow tests/io/test_bitflips.py


def _small_model(hidden: int = 2) -> gn.Sequential:
    gn.seed(0)
    model = gn.Sequential(
        [Input(shape=(2,)), Dense(hidden, activation="tanh", name="h"), Dense(2, name="o")]
    )
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32)
    model.fit(x, x, epochs=1, batch_size=4, verbose=0)
    return model


def _model_arrays(model: Any) -> dict[str, Any]:
    """Weights and optimiser state (arrays, step count, hyper-parameters) of a model."""
    values: dict[str, Any] = {k: np.array(v) for k, v in model.state_dict().items()}
    opt = model.optimizer.state_dict() if getattr(model, "optimizer", None) else {}
    for k, v in opt.items():
        values[f"optimizer/{k}"] = v
    return values


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal keys; arrays equal bit for bit with the same dtype and shape; other values ==."""
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
                return False
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                return False
        elif repr(x) != repr(y):
            return False
    return True


def _flip_every_bit(
    data: bytes,
    path: pathlib.Path,
    load: Callable[[pathlib.Path], dict[str, Any]],
    expected: dict[str, Any],
    positions: range | list[int],
) -> dict[str, int]:
    """Flip each bit of the bytes at ``positions`` in turn; count the outcomes. Anything
    other than 'refused as damaged' or 'loaded identical values' fails the test."""
    outcomes = {"refused": 0, "identical": 0}
    path.write_bytes(data)
    # Each flip rewrites one byte in place (and puts it back after the load): rewriting the
    # whole file each time spent more time opening files than the loader spent refusing them.
    fd = os.open(path, os.O_WRONLY)
    try:
        for i in positions:
            for bit in range(8):
                os.pwrite(fd, bytes([data[i] ^ (1 << bit)]), i)
                try:
                    outcome = _load_flipped(path, load, expected, i, bit)
                finally:
                    os.pwrite(fd, data[i : i + 1], i)
                outcomes[outcome] += 1
    finally:
        os.close(fd)
    return outcomes


def _load_flipped(
    path: pathlib.Path,
    load: Callable[[pathlib.Path], dict[str, Any]],
    expected: dict[str, Any],
    i: int,
    bit: int,
) -> str:
    """'refused' (as damaged, naming the file) or 'identical'; anything else fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a damaged file must not 'load with a note'
            got = load(path)
    except GlassnetError as exc:
        assert "damaged" in str(exc), (i, bit, str(exc))
        assert str(path) in str(exc), (i, bit, str(exc))
        return "refused"
    assert _same(got, expected), f"byte {i} bit {bit}: loaded different values"
    return "identical"


def _load_model_arrays(path: pathlib.Path) -> dict[str, Any]:
    return _model_arrays(load_model(path))


def _load_checkpoint_arrays(path: pathlib.Path) -> dict[str, Any]:
    state = load_checkpoint(path)
    out = {f"weights/{k}": v for k, v in state["weights"].items()}
    out.update({f"optimizer/{k}": v for k, v in state["optimizer"].items()})
    out["epoch"] = state["epoch"]
    out["rng"] = repr(state["rng"])
    return out


def test_every_single_bit_flip_of_a_small_model_file(tmp_path: pathlib.Path) -> None:
    model = _small_model()
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    data = path.read_bytes()
    expected = _model_arrays(model)
    assert _same(_load_model_arrays(path), expected)
    outcomes = _flip_every_bit(
        data, tmp_path / "flipped.safetensors", _load_model_arrays, expected, range(len(data))
    )
    print(f"model file of {len(data)} bytes: {outcomes}")
    assert sum(outcomes.values()) == 8 * len(data)
    assert outcomes["identical"] == 0  # the checksum covers every byte, itself included


def test_single_bit_flips_of_a_training_checkpoint(tmp_path: pathlib.Path) -> None:
    """5,000 flips spread evenly over a fit-style checkpoint (header, JSON state, arrays)."""
    model = _small_model()
    path = tmp_path / "run.ckpt"
    save_checkpoint(
        path,
        {
            "kind": "fit",
            "weights": model.state_dict(),
            "optimizer": model.optimizer.state_dict(),
            "rng": gn._rng.get_state(),
            "epoch": 1,
            "order": np.arange(6),
        },
    )
    data = path.read_bytes()
    expected = _load_checkpoint_arrays(path)
    n_bytes = 5_000 // 8 + 1
    positions = sorted({int(i) for i in np.linspace(0, len(data) - 1, n_bytes)})
    outcomes = _flip_every_bit(
        data, tmp_path / "flipped.ckpt", _load_checkpoint_arrays, expected, positions
    )
    print(f"checkpoint of {len(data)} bytes, {len(positions)} bytes flipped: {outcomes}")
    assert sum(outcomes.values()) >= 5_000
    assert outcomes["identical"] == 0


@SLOW
def test_every_single_bit_flip_of_a_larger_model_file_and_checkpoint(
    tmp_path: pathlib.Path,
) -> None:
    model = _small_model(hidden=16)
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    data = path.read_bytes()
    outcomes = _flip_every_bit(
        data,
        tmp_path / "flipped.safetensors",
        _load_model_arrays,
        _model_arrays(model),
        range(len(data)),
    )
    print(f"model file of {len(data)} bytes: {outcomes}")
    assert outcomes["identical"] == 0 and outcomes["refused"] == 8 * len(data)
    ckpt = tmp_path / "run.ckpt"
    save_checkpoint(
        ckpt,
        {"kind": "fit", "weights": model.state_dict(), "rng": gn._rng.get_state(), "epoch": 1},
    )
    outcomes = _flip_every_bit(
        ckpt.read_bytes(),
        tmp_path / "flipped.ckpt",
        _load_checkpoint_arrays_no_optimizer,
        _load_checkpoint_arrays_no_optimizer(ckpt),
        range(len(ckpt.read_bytes())),
    )
    print(f"checkpoint of {len(ckpt.read_bytes())} bytes: {outcomes}")
    assert outcomes["identical"] == 0


def _load_checkpoint_arrays_no_optimizer(path: pathlib.Path) -> dict[str, Any]:
    state = load_checkpoint(path)
    out: dict[str, Any] = {f"weights/{k}": v for k, v in state["weights"].items()}
    out["epoch"] = state["epoch"]
    out["rng"] = repr(state["rng"])
    return out
