"""batches, DataLoader, train_val_split, one_hot, normalize."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import glassnet
from glassnet.datasets import DataLoader, batches, normalize, one_hot, train_val_split
from glassnet.errors import DTypeError, GlassnetError, InvalidArgumentError, ShapeError


def data(n=10):
    # Sample i is filled with i, so a batch shows which samples it holds.
    x = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None], 4, axis=1).repeat(3, axis=2)
    return x, np.arange(n)


def order_of(batch_list):
    return np.concatenate([yb for _, yb in batch_list])


@pytest.mark.parametrize(
    ("n", "size", "drop_last", "expected"),
    [
        (10, 3, False, [3, 3, 3, 1]),
        (10, 3, True, [3, 3, 3]),
        (10, 5, True, [5, 5]),
        (10, 10, False, [10]),
        (10, 32, False, [10]),
        (1, 1, False, [1]),
    ],
)
def test_batch_sizes(n, size, drop_last, expected):
    x, y = data(n)
    for shuffle in (False, True):
        out = list(batches(x, y, batch_size=size, shuffle=shuffle, seed=0, drop_last=drop_last))
        assert [len(xb) for xb, _ in out] == expected
        for xb, yb in out:
            assert xb.shape[1:] == (4, 3) and xb.dtype == np.uint8
            np.testing.assert_array_equal(xb[:, 0, 0], yb)  # x and y stay aligned
        seen = order_of(out)
        assert len(np.unique(seen)) == len(seen)
        if not drop_last:
            assert sorted(seen) == list(range(n))
        loader = DataLoader(x, y, batch_size=size, drop_last=drop_last, seed=0)
        assert len(loader) == len(expected)
        assert [len(xb) for xb, _ in loader] == expected


def test_without_shuffle_batches_are_in_order_and_views():
    x, y = data(10)
    out = list(batches(x, y, batch_size=4, shuffle=False))
    np.testing.assert_array_equal(order_of(out), np.arange(10))
    assert all(np.shares_memory(xb, x) for xb, _ in out)


def test_x_only():
    x, _ = data(7)
    out = list(batches(x, batch_size=3, seed=1))
    assert all(isinstance(xb, np.ndarray) for xb in out)
    assert sorted(np.concatenate([xb[:, 0, 0] for xb in out]).tolist()) == list(range(7))


def test_shuffle_is_seeded():
    x, y = data(50)
    a = order_of(batches(x, y, batch_size=8, seed=3))
    b = order_of(batches(x, y, batch_size=8, seed=3))
    c = order_of(batches(x, y, batch_size=8, seed=4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, np.arange(50))


def test_seed_none_follows_glassnet_seed():
    x, y = data(50)
    glassnet.seed(11)
    a = order_of(batches(x, y, batch_size=8))
    b = order_of(batches(x, y, batch_size=8))
    glassnet.seed(11)
    c = order_of(batches(x, y, batch_size=8))
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)


def test_dataloader_reshuffles_every_epoch_repeatably():
    x, y = data(40)
    loader = DataLoader(x, y, batch_size=16, seed=7)
    epochs = [order_of(loader) for _ in range(3)]
    assert not np.array_equal(epochs[0], epochs[1])
    for epoch in epochs:
        assert sorted(epoch) == list(range(40))
    again = DataLoader(x, y, batch_size=16, seed=7)
    for epoch in epochs:
        np.testing.assert_array_equal(order_of(again), epoch)


def test_dataloader_with_glassnet_seed():
    x, y = data(40)
    loader = DataLoader(x, y, batch_size=16)  # built before seeding: still follows it
    glassnet.seed(2)
    first = [order_of(loader) for _ in range(2)]
    glassnet.seed(2)
    second = [order_of(loader) for _ in range(2)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])


def test_dataloader_without_shuffle_and_repr():
    x, y = data(5)
    loader = DataLoader(x, y, batch_size=2, shuffle=False)
    np.testing.assert_array_equal(order_of(loader), np.arange(5))
    assert loader.num_samples == 5 and len(loader) == 3
    assert "batch_size=2" in repr(loader)


def test_no_copy_of_the_training_set():
    x = np.zeros((20000, 28, 28), dtype=np.uint8)  # 15.7 MB
    y = np.zeros(20000, dtype=np.int64)
    tracemalloc.start()
    try:
        for xb, yb in DataLoader(x, y, batch_size=64, seed=0):
            assert xb.dtype == np.uint8 and yb.dtype == np.int64
        for xb in batches(x, batch_size=64, seed=0):
            assert xb.dtype == np.uint8
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # the index permutation and a couple of batches, not 15 MB


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        (
            {"batch_size": 0},
            InvalidArgumentError,
            "batch_size must be an integer >= 1, received batch_size=0",
        ),
        ({"batch_size": -3}, InvalidArgumentError, "batch_size=-3"),
        ({"batch_size": 2.5}, InvalidArgumentError, "batch_size=2.5"),
        ({"batch_size": True}, InvalidArgumentError, "batch_size=True"),
        ({"batch_size": 11, "drop_last": True}, InvalidArgumentError, "would give no batch"),
        ({"seed": -1}, InvalidArgumentError, "seed must be"),
        ({"seed": 1.5}, InvalidArgumentError, "seed must be"),
    ],
)
def test_argument_errors_are_raised_at_call_time(kwargs, error, needle):
    x, y = data(10)
    with pytest.raises(error, match=needle):
        batches(x, y, **kwargs)  # no iteration needed
    with pytest.raises(error, match=needle):
        DataLoader(x, y, **kwargs)


def test_data_errors():
    x, y = data(10)
    with pytest.raises(
        ShapeError,
        match=r"same number of samples, received x of shape "
        r"\(10, 4, 3\) and y of shape \(9,\)",
    ):
        batches(x, y[:9])
    with pytest.raises(ShapeError, match="at least one sample"):
        batches(np.zeros((0, 3)))
    with pytest.raises(ShapeError, match="first \\(sample\\) axis"):
        DataLoader(np.float32(3.0))
    with pytest.raises(DTypeError, match="numeric array"):
        batches(np.array([object(), object()]))
    with pytest.raises(GlassnetError):
        DataLoader(x, y[:3])


def test_lists_are_accepted():
    out = list(batches([[1, 2], [3, 4], [5, 6]], [0, 1, 0], batch_size=2, shuffle=False))
    np.testing.assert_array_equal(out[0][0], [[1, 2], [3, 4]])


# ------------------------------------------------------------------ train_val_split


def test_train_val_split_takes_the_last_fraction_as_keras_does():
    x, y = data(10)
    (x_train, y_train), (x_val, y_val) = train_val_split(x, y, 0.2)
    np.testing.assert_array_equal(y_train, np.arange(8))
    np.testing.assert_array_equal(y_val, [8, 9])
    assert np.shares_memory(x_train, x) and np.shares_memory(x_val, x)
    np.testing.assert_array_equal(x_val[:, 0, 0], y_val)


@pytest.mark.parametrize(
    ("n", "fraction", "n_val"), [(10, 0.1, 1), (100, 0.7, 70), (7, 0.5, 3), (4000, 0.1, 400)]
)
def test_train_val_split_sizes(n, fraction, n_val):
    x, y = np.zeros((n, 2)), np.arange(n)
    (_, y_train), (_, y_val) = train_val_split(x, y, fraction)
    assert len(y_val) == n_val and len(y_train) == n - n_val


def test_train_val_split_shuffled():
    x, y = data(50)
    (x_train, y_train), (x_val, y_val) = train_val_split(x, y, 0.2, shuffle=True, seed=1)
    assert len(y_val) == 10 and len(y_train) == 40
    assert sorted(np.concatenate([y_train, y_val]).tolist()) == list(range(50))
    assert not np.array_equal(y_val, np.arange(40, 50))
    np.testing.assert_array_equal(x_val[:, 0, 0], y_val)
    (_, again), _ = train_val_split(x, y, 0.2, shuffle=True, seed=1)
    np.testing.assert_array_equal(again, y_train)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, True, "0.2"])
def test_train_val_split_rejects_bad_fractions(fraction):
    x, y = data(10)
    with pytest.raises(InvalidArgumentError, match="validation_split"):
        train_val_split(x, y, fraction)


def test_train_val_split_needs_both_sides():
    x, y = data(3)
    with pytest.raises(InvalidArgumentError, match="leaves 0 for validation"):
        train_val_split(x, y, 0.2)
    with pytest.raises(InvalidArgumentError, match="y must be given"):
        train_val_split(x, None, 0.2)


# ------------------------------------------------------------------ one_hot / normalize


def test_one_hot():
    out = one_hot(np.array([2, 0, 1]))
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert out.dtype == np.float32
    out = one_hot(np.array([[1], [3]], dtype=np.uint8), num_classes=5, dtype=np.int64)
    assert out.shape == (2, 1, 5) and out.dtype == np.int64
    assert out[1, 0, 3] == 1 and out.sum() == 2
    assert one_hot([1, 0], 2).tolist() == [[0, 1], [1, 0]]
    assert one_hot(np.array([], dtype=np.int64), 3).shape == (0, 3)


@pytest.mark.parametrize(
    ("labels", "kwargs", "error", "needle"),
    [
        (np.array([0.0, 1.0]), {}, DTypeError, "integer array"),
        (
            np.array([0, 3]),
            {"num_classes": 3},
            InvalidArgumentError,
            r"\[0, 3\), received labels "
            r"from 0 to 3",
        ),
        (np.array([-1, 0]), {}, InvalidArgumentError, "from -1"),
        (np.array([0, 1]), {"num_classes": 0}, InvalidArgumentError, "num_classes=0"),
        (np.array([], dtype=np.int64), {}, InvalidArgumentError, "labels is empty"),
    ],
)
def test_one_hot_errors(labels, kwargs, error, needle):
    with pytest.raises(error, match=needle):
        one_hot(labels, **kwargs)


def test_normalize_scales_uint8_per_batch():
    x = np.array([[0, 51, 255]], dtype=np.uint8)
    out = normalize(x)
    assert out.dtype == np.float32 and out.shape == (1, 3)
    np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]], rtol=1e-6)
    assert out.max() == 1.0
    assert normalize(x, dtype=np.float64).dtype == np.float64


def test_normalize_with_mean_and_std():
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    mean, std = x.mean(axis=0), x.std(axis=0)
    out = normalize(x, mean, std)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[-1, -1], [1, 1]])
    pixels = np.array([[0, 0], [0, 255]], dtype=np.uint8)
    scaled = normalize(pixels, mean=normalize(pixels).mean(0), std=normalize(pixels).std(0))
    np.testing.assert_allclose(scaled, [[0, -1], [0, 1]])  # the constant pixel: std 0 → 1
    np.testing.assert_allclose(normalize(np.array([2, 4]), 1.0, 2.0), [0.5, 1.5])


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "needle"),
    [
        ((np.ones(3),), {"mean": 0.0}, InvalidArgumentError, "given together"),
        ((np.ones(3),), {"mean": 0.0, "std": -1.0}, InvalidArgumentError, "std finite and >= 0"),
        ((np.ones(3),), {"mean": np.nan, "std": 1.0}, InvalidArgumentError, "mean must be finite"),
        ((np.ones(3),), {"mean": np.zeros(2), "std": 1.0}, ShapeError, "must broadcast"),
        ((np.ones(3),), {"mean": np.zeros((2, 3)), "std": 1.0}, ShapeError, "must broadcast"),
        ((np.array(["a"]),), {}, DTypeError, "numeric array"),
        ((np.ones(3),), {"dtype": np.int32}, DTypeError, "floating dtype"),
    ],
)
def test_normalize_errors(args, kwargs, error, needle):
    with pytest.raises(error, match=needle):
        normalize(*args, **kwargs)
