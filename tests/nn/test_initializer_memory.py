"""Huge layers are refused before allocating, with their size in the layer's dtype; float32
weights are drawn without a float64 copy of the whole matrix, and are the same numbers as
before for every seed (issue 14, item 7)."""

from __future__ import annotations

import math
import tracemalloc
from typing import Any

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import GlassnetError
from glassnet.nn import Dense, initializers
from glassnet.nn.initializers import AllocationError, check_allocation

NAMES = [
    "zeros",
    "ones",
    "normal",
    "uniform",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_normal",
    "lecun_uniform",
]


def _reference(name: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """What the initialiser gave before: float64 values from the seeded stream, cast once."""
    gn.seed(seed)
    return np.asarray(initializers.get(name).sample(shape), dtype=np.float32)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(3,), (7, 5), (64, 33), (2, 3, 4), ()])
@pytest.mark.parametrize("chunk", [1 << 20, 7])
def test_float32_values_are_unchanged_for_every_seed(
    monkeypatch: pytest.MonkeyPatch, name: str, shape: tuple[int, ...], chunk: int
) -> None:
    monkeypatch.setattr(initializers, "_CHUNK", chunk)  # chunk boundaries inside the array
    for seed in (0, 1, 12345):
        expected = _reference(name, shape, seed)
        gn.seed(seed)
        got = initializers.get(name)(shape, np.float32)
        assert got.dtype == np.float32 and got.shape == shape
        assert got.tobytes() == expected.tobytes(), (name, shape, seed)
        # ... and the stream is left where it was left before.
        after = gn._rng.generator().random()
        _reference(name, shape, seed)
        assert gn._rng.generator().random() == after


@pytest.mark.parametrize("name", NAMES)
def test_float64_values_are_the_raw_stream(name: str) -> None:
    gn.seed(3)
    expected = np.asarray(initializers.get(name).sample((9, 4)), dtype=np.float64)
    gn.seed(3)
    got = initializers.get(name)((9, 4), np.float64)
    assert got.dtype == np.float64 and got.tobytes() == expected.tobytes()


def test_the_seeds_randn_is_still_numpys_normal() -> None:
    gn.seed(7)
    got = initializers.get("normal")((4, 3), np.float32)
    expected = np.random.default_rng(7).normal(0.0, 1.0, size=(4, 3)).astype(np.float32)
    assert got.tobytes() == expected.tobytes()


def test_a_float32_layer_never_holds_a_float64_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """2M weights: the float32 array is 8 MB; before, a 16 MB float64 array came first."""
    shape = (2000, 1000)
    init = initializers.get("glorot_uniform")
    tracemalloc.start()
    try:
        out = init(shape, np.float32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.nbytes == 8_000_000
    assert peak < out.nbytes + 2 * 8 * initializers._CHUNK + 2**20, peak


def test_check_allocation_names_the_size_in_the_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(initializers, "available_memory", lambda: 8 * 2**30)
    with pytest.raises(AllocationError) as info:
        check_allocation((10**6, 10**6), "float32", "dense: Dense(1000000)")
    message = str(info.value)
    assert message.startswith("dense: Dense(1000000): a float32 array of shape (1000000, 1000000)")
    assert "3.64 TiB" in message and "8 GiB of memory available" in message
    assert isinstance(info.value, MemoryError) and isinstance(info.value, GlassnetError)
    with pytest.raises(AllocationError, match="7.28 TiB"):
        check_allocation((10**6, 10**6), np.float64, "x")
    monkeypatch.setattr(initializers, "available_memory", lambda: 6 * 2**30)
    with pytest.raises(AllocationError, match=r"2 copies while it is made: 7.45 GiB"):
        check_allocation((1000, 10**6), np.float32, "x", copies=2)
    check_allocation((1000, 10**6), np.float32, "x")  # 3.73 GiB fits in 6


def test_small_arrays_are_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail() -> Any:
        raise AssertionError("available_memory was consulted for a small array")

    monkeypatch.setattr(initializers, "available_memory", fail)
    check_allocation((1000, 1000), "float64", "x")


def test_sizes_beyond_any_address_space(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(initializers, "available_memory", lambda: None)
    with pytest.raises(AllocationError, match="more than this machine can address"):
        check_allocation((2**40, 2**40), "float32", "x")
    check_allocation((10**5, 10**5), "float32", "x")  # unknown memory: only the impossible


def test_available_memory_is_a_plausible_number() -> None:
    value = initializers.available_memory()
    assert value is None or 0 <= value < 2**60


def test_a_huge_dense_layer_is_refused_before_allocating() -> None:
    """The issue's Dense(10**6, input_dim=10**6): an AllocationError naming the size in
    float32, not NumPy's MemoryError about 7.28 TiB of float64."""
    tracemalloc.start()
    try:
        with pytest.raises(AllocationError, match=r"float32 array of shape \(1000000, 1000000\)"):
            Dense(10**6, input_dim=10**6)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    assert math.prod((10**6, 10**6)) * 4 == 4 * 10**12
