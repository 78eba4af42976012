"""mnist and fashion-mnist from files on disk: search order, the Debian package, clear errors."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

import glassnet.datasets as ds
from glassnet.datasets import full
from glassnet.datasets.idx import write_idx
from glassnet.errors import DatasetNotFoundError, FileFormatError, GlassnetError

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


def write_set(directory, n_train=12, n_test=6, seed=0, compressed=True):
    """Four tiny IDX files in the standard layout; returns the arrays written."""
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8)
    y_train = (np.arange(n_train) % 10).astype(np.uint8)
    y_test = (np.arange(n_test)[::-1] % 10).astype(np.uint8)
    suffix = ".gz" if compressed else ""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in zip(full.FILES, (x_train, y_train, x_test, y_test)):
        write_idx(directory / (name.removesuffix(".gz") + suffix), array)
    return (x_train, y_train), (x_test, y_test)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No data anywhere: an empty home, cache and system directory, downloads off."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GLASSNET_DATA", raising=False)
    monkeypatch.delenv("GLASSNET_MIRROR", raising=False)
    monkeypatch.setenv("GLASSNET_OFFLINE", "1")
    for name, spec in list(full.SPECS.items()):
        system = tuple(str(tmp_path / "system" / name) for _ in spec.system_dirs)
        monkeypatch.setitem(full.SPECS, name, dataclasses.replace(spec, system_dirs=system))
    return tmp_path


def assert_same(loaded, written):
    (x_train, y_train), (x_test, y_test) = loaded
    (wx_train, wy_train), (wx_test, wy_test) = written
    np.testing.assert_array_equal(x_train, wx_train)
    np.testing.assert_array_equal(x_test, wx_test)
    np.testing.assert_array_equal(y_train, wy_train)
    np.testing.assert_array_equal(y_test, wy_test)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64


@pytest.mark.skipif(
    not all((DEBIAN_DIR / f).is_file() for f in full.FILES),
    reason="the Debian package dataset-fashion-mnist is not installed",
)
def test_fashion_mnist_from_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GLASSNET_DATA", raising=False)
    monkeypatch.setenv("GLASSNET_OFFLINE", "1")
    (x_train, y_train), (x_test, y_test) = ds.load("fashion-mnist")
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and x_test.dtype == np.uint8
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert y_train.min() == 0 and y_train.max() == 9 and y_test.max() == 9
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert ds.info("fashion-mnist").location == str(DEBIAN_DIR)
    assert not (tmp_path / "cache").exists()  # found on disk: nothing downloaded or copied


def test_offline_fashion_mnist_error_names_the_package_and_directories(isolated):
    with pytest.raises(DatasetNotFoundError) as info:
        ds.load("fashion-mnist")
    message = str(info.value)
    assert "apt-get install -y dataset-fashion-mnist" in message
    assert str(isolated / "system" / "fashion-mnist") + "/" in message
    assert str(isolated / "cache" / "glassnet" / "fashion-mnist") + "/" in message
    assert "GLASSNET_OFFLINE" in message
    assert "\n" not in message
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, GlassnetError)


def test_offline_mnist_error_names_the_files_and_directories(isolated, monkeypatch):
    monkeypatch.setenv("GLASSNET_DATA", str(isolated / "data"))
    with pytest.raises(DatasetNotFoundError) as info:
        ds.load("mnist")
    message = str(info.value)
    for name in full.FILES:
        assert name in message
    assert str(isolated / "data" / "mnist") + "/" in message
    assert str(isolated / "cache" / "glassnet" / "mnist") + "/" in message
    assert "dataset-fashion-mnist" not in message


def test_download_false_is_offline_without_the_variable(isolated, monkeypatch):
    monkeypatch.delenv("GLASSNET_OFFLINE")
    with pytest.raises(DatasetNotFoundError, match=r"downloads are disabled \(download=False\)"):
        ds.load("mnist", download=False)


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_offline_variable_values(isolated, monkeypatch, value):
    monkeypatch.setenv("GLASSNET_OFFLINE", value)
    assert not full.downloads_enabled()
    assert full.downloads_enabled(True)


def test_partial_directory_is_reported(isolated):
    cache = isolated / "cache" / "glassnet" / "mnist"
    write_set(cache)
    (cache / "t10k-images-idx3-ubyte.gz").unlink()
    (cache / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"has 2 of 4, missing t10k-images"):
        ds.load("mnist")


def test_search_order(isolated, monkeypatch):
    system = write_set(isolated / "system" / "fashion-mnist", n_train=10, seed=1)
    assert_same(ds.load("fashion-mnist"), system)
    cache = write_set(isolated / "cache" / "glassnet" / "fashion-mnist", n_train=11, seed=2)
    assert_same(ds.load("fashion-mnist"), cache)
    monkeypatch.setenv(
        "GLASSNET_DATA", os.pathsep.join([str(isolated / "empty"), str(isolated / "data")])
    )
    data = write_set(isolated / "data" / "fashion-mnist", n_train=12, seed=3)
    assert_same(ds.load("fashion_mnist"), data)
    given = write_set(isolated / "given", n_train=13, seed=4)
    assert_same(ds.load("fashion-mnist", path=isolated / "given"), given)
    assert_same(ds.load("fashion-mnist", path=str(isolated / "given")), given)
    # path= may also be a root holding <name>/.
    assert_same(ds.load("fashion-mnist", path=isolated / "data"), data)
    assert full.search_dirs("fashion-mnist", isolated / "given") == [
        isolated / "given",
        isolated / "given" / "fashion-mnist",
        isolated / "empty" / "fashion-mnist",
        isolated / "data" / "fashion-mnist",
        isolated / "cache" / "glassnet" / "fashion-mnist",
        isolated / "system" / "fashion-mnist",
    ]
    assert ds.info("fashion-mnist").location == str(isolated / "data" / "fashion-mnist")


def test_home_cache_without_xdg(isolated, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    written = write_set(isolated / "home" / ".cache" / "glassnet" / "mnist")
    assert full.cache_dir("mnist") == isolated / "home" / ".cache" / "glassnet" / "mnist"
    assert_same(ds.load("mnist"), written)


def test_uncompressed_files_are_accepted(isolated):
    written = write_set(isolated / "raw", compressed=False)
    assert_same(ds.load("mnist", path=isolated / "raw"), written)


def test_damaged_sets_are_rejected(isolated):
    base = isolated / "bad"
    write_set(base)
    write_idx(base / "train-images-idx3-ubyte.gz", np.zeros((12, 20, 20), np.uint8))
    with pytest.raises(FileFormatError, match=r"expected uint8 images of shape \(N, 28, 28\)"):
        ds.load("mnist", path=base)
    write_set(base)
    write_idx(base / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(FileFormatError, match="expected 6 uint8 labels"):
        ds.load("mnist", path=base)
    write_set(base)
    write_idx(base / "train-labels-idx1-ubyte.gz", np.full(12, 10, np.uint8))
    with pytest.raises(FileFormatError, match=r"the label 10, expected labels 0\.\.9"):
        ds.load("mnist", path=base)
    write_set(base)
    data = (base / "train-images-idx3-ubyte.gz").read_bytes()
    (base / "train-images-idx3-ubyte.gz").write_bytes(data[: len(data) - 100])
    with pytest.raises(FileFormatError, match="train-images-idx3-ubyte.gz"):
        ds.load("mnist", path=base)
