"""load(), info() and list_datasets(): the embedded sets, names, options, descriptions."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import glassnet.datasets as ds
from glassnet.datasets import _embedded, full, generated
from glassnet.errors import InvalidArgumentError, UnknownNameError

# Content digests printed by tools/build_embedded_data.py: the split must never change.
DIGESTS = {
    "mnist-5k": "cc73c6793872b73349b9d99b138b9712f773d4a1fedcd6c8be24412d1b7ccd0b",
    "digits": "60504d25f24d876fa2d3f06041598dd1f98d116c0a56e7dcb007c7f73f5ec47f",
    "iris": "04dfb95c7e5369fa41a9426b937a6729ddff3f95579dc1ca76d52d6f2a00ac92",
}


def content_digest(name):
    # The same digest as the build script: the stored arrays, labels in their stored uint8.
    digest = hashlib.sha256()
    (x_train, y_train), (x_test, y_test) = ds.load(name)
    arrays = {
        "x_train": x_train,
        "y_train": y_train.astype(np.uint8),
        "x_test": x_test,
        "y_test": y_test.astype(np.uint8),
    }
    for key, a in arrays.items():
        a = np.ascontiguousarray(a)
        digest.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def test_mnist_5k():
    (x_train, y_train), (x_test, y_test) = ds.load("mnist-5k")
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert x_train.dtype == np.uint8 and x_test.dtype == np.uint8
    assert y_train.shape == (4000,) and y_test.shape == (1000,)
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert np.bincount(y_train).tolist() == [400] * 10
    assert np.bincount(y_test).tolist() == [100] * 10
    assert x_train.max() == 255 and x_train.min() == 0
    # Real digits: a typical MNIST image has around 19% ink.
    assert 0.1 < (x_train > 0).mean() < 0.3


def test_digits():
    (x_train, y_train), (x_test, y_test) = ds.load("digits")
    assert x_train.shape == (1438, 8, 8) and x_test.shape == (359, 8, 8)
    assert x_train.dtype == np.uint8 and int(x_train.max()) == 16
    assert y_train.dtype == np.int64 and set(np.unique(y_test)) == set(range(10))
    total = np.bincount(y_train) + np.bincount(y_test)
    assert total.sum() == 1797
    assert np.all(np.bincount(y_test) == np.round(0.2 * total))


def test_iris():
    (x_train, y_train), (x_test, y_test) = ds.load("iris")
    assert x_train.shape == (120, 4) and x_test.shape == (30, 4)
    assert x_train.dtype == np.float32
    assert np.bincount(y_train).tolist() == [40, 40, 40]
    assert np.bincount(y_test).tolist() == [10, 10, 10]
    # Fisher's first flower, wherever it landed.
    first = np.array([5.1, 3.5, 1.4, 0.2], dtype=np.float32)
    both = np.concatenate([x_train, x_test])
    assert np.any(np.all(both == first, axis=1))


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_embedded_sets_never_change(name):
    assert content_digest(name) == DIGESTS[name]


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_two_loads_are_identical_and_independent(name):
    (a_train, ay_train), (a_test, ay_test) = ds.load(name)
    a_train[...] = 0
    ay_test[...] = -1
    (b_train, by_train), (b_test, by_test) = ds.load(name)
    (c_train, cy_train), (c_test, cy_test) = ds.load(name)
    assert b_train.any()
    for b, c in [(b_train, c_train), (by_train, cy_train), (b_test, c_test), (by_test, cy_test)]:
        np.testing.assert_array_equal(b, c)


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_embedded_split_is_a_partition_in_shuffled_order(name):
    with _embedded.resource(name).open("rb") as handle, np.load(handle) as stored:
        train, test = stored["index_train"], stored["index_test"]
        y_train = stored["y_train"]
    assert len(np.intersect1d(train, test)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(train) + len(test)))
    # The sources are sorted by class; the shipped order is not, so the last 10% that
    # Keras-style validation_split takes holds every class.
    assert len(np.unique(y_train[-len(y_train) // 10 :])) == len(np.unique(y_train))


def test_names_and_normalisation():
    assert ds.names() == [
        "mnist-5k",
        "digits",
        "iris",
        "xor",
        "moons",
        "circles",
        "spirals",
        "blobs",
        "mnist",
        "fashion-mnist",
    ]
    assert set(ds.names()) == (
        set(_embedded.EMBEDDED) | set(generated.GENERATORS) | set(full.SPECS)
    )
    (a, _), _ = ds.load("MNIST_5K")
    (b, _), _ = ds.load(" mnist-5k ")
    np.testing.assert_array_equal(a, b)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownNameError) as info:
        ds.load("cifar10")
    message = str(info.value)
    for name in ds.names():
        assert name in message
    assert "'cifar10'" in message and "\n" not in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(UnknownNameError, match="did you mean 'moons'"):
        ds.load("moon")
    with pytest.raises(UnknownNameError):
        ds.info("nope")
    with pytest.raises(InvalidArgumentError, match="name must be a string"):
        ds.load(3)  # type: ignore[arg-type]


def test_options_are_checked():
    with pytest.raises(InvalidArgumentError, match=r"unknown option seed, expected options: none"):
        ds.load("iris", seed=3)
    with pytest.raises(InvalidArgumentError, match=r"unknown option samples.*n, noise, seed"):
        ds.load("moons", samples=10)
    with pytest.raises(
        InvalidArgumentError,
        match="unknown option n, expected options: download, mirrors, timeout, verbose",
    ):
        ds.load("mnist", n=3)
    with pytest.raises(InvalidArgumentError, match="path= applies only to the full sets"):
        ds.load("mnist-5k", path="/tmp")


def test_info_and_list_datasets(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GLASSNET_DATA", raising=False)
    infos = ds.list_datasets()
    assert [i.name for i in infos] == ds.names()
    by_name = {i.name: i for i in infos}
    mnist5k = by_name["mnist-5k"]
    assert mnist5k.kind == "embedded" and mnist5k.found
    assert mnist5k.train_shape == (4000, 28, 28) and mnist5k.test_shape == (1000, 28, 28)
    assert "CC BY-SA 3.0" in mnist5k.licence and "LeCun" in mnist5k.attribution
    assert 500_000 < mnist5k.size_bytes < 1_500_000
    assert mnist5k.location.endswith("mnist-5k.npz")
    assert by_name["digits"].licence == "CC BY 4.0"
    assert "Alpaydin" in by_name["digits"].attribution
    assert by_name["iris"].class_names == ("setosa", "versicolor", "virginica")
    blobs = by_name["blobs"]
    (x_train, _), (x_test, _) = ds.load("blobs")
    assert blobs.train_shape == x_train.shape and blobs.test_shape == x_test.shape
    assert blobs.num_classes == 3 and blobs.options["centers"] == 3
    mnist = by_name["mnist"]
    assert mnist.kind == "full" and not mnist.found and mnist.location == "not found"
    assert "train-images-idx3-ubyte.gz" in mnist.how_to_get
    assert str(tmp_path / "cache" / "glassnet" / "mnist") in mnist.how_to_get
    fashion = by_name["fashion-mnist"]
    assert fashion.licence == "MIT" and "1708.07747" in fashion.attribution
    assert "apt-get install -y dataset-fashion-mnist" in fashion.how_to_get
    assert fashion.size_bytes == 26_421_880 + 29_515 + 4_422_102 + 5_148
    for item in infos:
        json.dumps(item.as_dict())
        assert item.description and item.licence and item.how_to_get


SHARED = Path("/work/shared/data")
BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "build_embedded_data.py"


@pytest.mark.skipif(
    not (SHARED / "mnist_5k.csv.gz").is_file() or not BUILD_SCRIPT.is_file(),
    reason="the source CSV files or the build script are not here",
)
def test_build_script_reproduces_the_shipped_files():
    spec = importlib.util.spec_from_file_location("build_embedded_data", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build(SHARED)
    for name, arrays in built.items():
        assert module.content_digest(arrays) == DIGESTS[name]
        # Array by array (the zip's bytes also match here, but depend on the zlib build).
        with _embedded.resource(name).open("rb") as handle, np.load(handle) as shipped:
            assert sorted(shipped.files) == sorted(arrays)
            for key, value in arrays.items():
                assert shipped[key].dtype == value.dtype
                np.testing.assert_array_equal(shipped[key], value)


def test_public_api_is_documented():
    for name in ds.__all__:
        obj = getattr(ds, name)
        assert obj.__doc__, name
