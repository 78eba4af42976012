"""The generated 2-D teaching sets: shapes, determinism, class balance, what noise does."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet
import glassnet.datasets as ds
from glassnet.datasets import generated
from glassnet.errors import InvalidArgumentError

NAMES = ["xor", "moons", "circles", "spirals", "blobs"]


def joined(split):
    (x_train, y_train), (x_test, y_test) = split
    return np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [400, 101, 10])
def test_shapes_dtypes_and_balance(name, n):
    (x_train, y_train), (x_test, y_test) = ds.load(name, n=n)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert x_train.shape == (len(y_train), 2) and x_test.shape == (len(y_test), 2)
    assert len(y_train) + len(y_test) == n
    classes = 3 if name == "blobs" else 2
    counts = np.bincount(np.concatenate([y_train, y_test]), minlength=classes)
    assert len(counts) == classes and counts.max() - counts.min() <= 1
    # Stratified 80/20 on both sides.
    test_counts = np.bincount(y_test, minlength=classes)
    assert np.all(np.abs(test_counts - 0.2 * counts) <= 1)
    assert np.all(test_counts >= 1) and np.all(counts - test_counts >= 1)
    assert abs(len(y_test) - 0.2 * n) <= classes
    assert np.all(np.isfinite(x_train))


@pytest.mark.parametrize("name", NAMES)
def test_default_seed_is_deterministic(name):
    a, b = joined(ds.load(name)), joined(ds.load(name))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    other = joined(ds.load(name, seed=1))
    assert not np.array_equal(a[0], other[0])


@pytest.mark.parametrize("name", NAMES)
def test_seed_none_follows_glassnet_seed(name):
    glassnet.seed(5)
    a = joined(ds.load(name, seed=None))
    b = joined(ds.load(name, seed=None))
    glassnet.seed(5)
    c = joined(ds.load(name, seed=None))
    np.testing.assert_array_equal(a[0], c[0])
    assert not np.array_equal(a[0], b[0])


def test_generator_seed_and_module_functions_match_load():
    np.testing.assert_array_equal(
        joined(generated.moons(n=50, seed=3))[0], joined(ds.load("moons", n=50, seed=3))[0]
    )
    rng = np.random.default_rng(3)
    x, _ = joined(generated.circles(n=50, seed=rng))
    assert x.shape == (50, 2)


def test_noise_free_shapes_are_exact():
    x, y = joined(ds.load("moons", noise=0))
    upper, lower = x[y == 0].astype(np.float64), x[y == 1].astype(np.float64)
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1, atol=1e-6)

    x, y = joined(ds.load("circles", noise=0, factor=0.3))
    r = np.hypot(x[:, 0].astype(np.float64), x[:, 1])
    np.testing.assert_allclose(r[y == 0], 1, atol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-6)

    x, y = joined(ds.load("xor", noise=0))
    assert np.all((x[:, 0] * x[:, 1] < 0) == (y == 1))
    assert np.abs(x).max() <= 1

    x, y = joined(ds.load("blobs", noise=0, centers=[[0, 0], [5, 5]]))
    np.testing.assert_array_equal(x[y == 0], 0)
    np.testing.assert_array_equal(x[y == 1], 5)

    x, y = joined(ds.load("spirals", noise=0, classes=3))
    assert set(np.unique(y)) == {0, 1, 2}
    assert np.hypot(x[:, 0], x[:, 1]).max() <= 1 + 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_noise_spreads_the_points(name):
    clean, _ = joined(ds.load(name, n=1000, noise=0, seed=4))
    low, _ = joined(ds.load(name, n=1000, noise=0.05, seed=4))
    high, _ = joined(ds.load(name, n=1000, noise=0.3, seed=4))
    # The same points and split at every noise level; only the displacement scales.
    np.testing.assert_allclose(high - clean, 6 * (low - clean), atol=1e-5)
    assert abs(np.std(low - clean) - 0.05) < 0.005


def test_xor_is_not_linearly_separable_but_blobs_are():
    def linear_fit_accuracy(name, **kw):
        x, y = joined(ds.load(name, **kw))
        design = np.hstack([x, np.ones((len(x), 1))]).astype(np.float64)
        w, *_ = np.linalg.lstsq(design, 2.0 * y - 1, rcond=None)
        return np.mean((design @ w > 0) == (y == 1))

    assert linear_fit_accuracy("xor") < 0.7
    assert linear_fit_accuracy("blobs", centers=2, noise=0.3) > 0.97


@pytest.mark.parametrize(
    ("name", "options", "needle"),
    [
        ("moons", {"n": 3}, "n must be an integer of at least 4"),
        ("moons", {"n": 10.0}, "n must be an integer"),
        ("moons", {"n": True}, "n must be an integer"),
        ("spirals", {"n": 5, "classes": 3}, "at least 6"),
        ("xor", {"noise": -0.1}, "noise must be a finite number >= 0"),
        ("xor", {"noise": float("nan")}, "noise must be a finite number"),
        ("circles", {"factor": 1.5}, "factor"),
        ("spirals", {"classes": 1}, "classes must be an integer of at least 2"),
        ("spirals", {"turns": 0}, "turns must be"),
        ("blobs", {"centers": 1}, "centers must be an integer of at least 2"),
        ("blobs", {"centers": [[0, 0, 0], [1, 1, 1]]}, "shape (K, 2)"),
        ("blobs", {"centers": "abc"}, "shape (K, 2)"),
        ("moons", {"seed": -1}, "seed must be a non-negative integer"),
        ("moons", {"seed": "x"}, "seed must be"),
    ],
)
def test_bad_options(name, options, needle):
    with pytest.raises(InvalidArgumentError) as info:
        ds.load(name, **options)
    assert needle in str(info.value)
    assert str(info.value).startswith(name + ":")
