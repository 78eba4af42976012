"""Checkpoint files: the nested training state comes back exactly — arrays bit-identical with
their dtypes, big ints exact, the same structure — and what cannot be stored is refused with
a message saying where it sits."""

from __future__ import annotations

import json
import math
import pathlib
import struct
from typing import Any

import numpy as np
import pytest
import safetensors.numpy as stn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import glassnet as gn
from glassnet import _rng
from glassnet.errors import FileFormatError, InvalidArgumentError
from glassnet.io import _container, load_checkpoint, save_checkpoint
from glassnet.io._container import seal
from glassnet.io.model_files import save_model
from glassnet.nn import Dense, Dropout, Input
from glassnet.training.model import Sequential


def assert_identical(a: Any, b: Any, where: str = "state") -> None:
    """Same structure, same types, arrays bit-identical (NaN == NaN), ints exact."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} became {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert a.tobytes() == b.tobytes(), f"{where}: bytes differ"
        assert b.flags.writeable, f"{where}: loaded array is read-only"
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), where
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} became {list(b)}"
        for k in a:
            assert type(k) is type(next(kb for kb in b if kb == k))
            assert_identical(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b), f"{where}: {a!r} became {b!r}"
    else:
        assert a == b, f"{where}: {a!r} became {b!r}"


def _trained_state() -> dict[str, Any]:
    gn.seed(0)
    model = Sequential(
        [
            Input(shape=(4,)),
            Dense(6, activation="relu"),
            Dropout(0.5),
            Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(1).normal(size=(16, 4)).astype(np.float32)
    y = np.arange(16) % 3
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    return {
        "weights": model.state_dict(),
        "optimizer": model.optimizer.state_dict(),
        "rng": _rng.get_state(),
        "epoch": 3,
        "step": 0,
        "history": {k: list(v) for k, v in history.history.items()},
        "callbacks": [
            {"class_name": "EarlyStopping", "best": 0.25, "wait": 1, "best_weights": None},
            {"class_name": "CSVLogger", "rows": 3},
        ],
        "arrays": {"order": np.random.default_rng(2).permutation(16).astype(np.int64)},
    }


def test_training_state_round_trips(tmp_path: pathlib.Path) -> None:
    state = _trained_state()
    save_checkpoint(tmp_path / "run.ckpt", state)
    loaded = load_checkpoint(tmp_path / "run.ckpt")
    assert_identical(dict(state, weights=dict(state["weights"])), loaded)


def test_rng_state_restores_the_random_stream(tmp_path: pathlib.Path) -> None:
    gn.seed(42)
    _rng.generator().random(10)
    save_checkpoint(tmp_path / "rng.ckpt", {"rng": _rng.get_state()})
    expected = _rng.generator().random(5)
    gn.seed(0)
    state = load_checkpoint(tmp_path / "rng.ckpt")
    big = state["rng"]["state"]["state"]
    assert isinstance(big, int) and big > 2**64  # a 128-bit PCG64 state, exact
    _rng.set_state(state["rng"])
    assert np.array_equal(_rng.generator().random(5), expected)


def test_every_dtype_and_shape(tmp_path: pathlib.Path) -> None:
    arrays = {
        "f32": np.linspace(-1, 1, 7, dtype=np.float32),
        "f64": np.array([np.pi, -0.0, np.inf, -np.inf, np.nan, 5e-324]),
        "f16": np.array([1.5, -2.25], dtype=np.float16),
        "i64": np.array([-(2**63), 2**63 - 1], dtype=np.int64),
        "u64": np.array([2**64 - 1], dtype=np.uint64),
        "i32": np.arange(6, dtype=np.int32).reshape(2, 3),
        "u8": np.arange(256, dtype=np.uint8),
        "i8": np.array([-128, 127], dtype=np.int8),
        "u16": np.array([65535], dtype=np.uint16),
        "i16": np.array([-5], dtype=np.int16),
        "u32": np.array([7], dtype=np.uint32),
        "bool": np.array([[True, False], [False, True]]),
        "c64": np.array([1 + 2j], dtype=np.complex64),
        "scalar0d": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float64),
        "transposed": np.arange(12, dtype=np.float32).reshape(3, 4).T,
        "strided": np.arange(20, dtype=np.int64)[::3],
        "big_endian": np.arange(4, dtype=">f8"),
        "high_rank": np.ones((1, 2, 1, 3, 1, 2), dtype=np.float32),
    }
    scalars = {
        "np_f32": np.float32(0.1),
        "np_f64": np.float64(1 / 3),
        "np_i64": np.int64(-7),
        "np_bool": np.bool_(True),
        "np_u8": np.uint8(200),
    }
    save_checkpoint(tmp_path / "d.ckpt", {"arrays": arrays, "scalars": scalars})
    loaded = load_checkpoint(tmp_path / "d.ckpt")
    for name, arr in arrays.items():
        got = loaded["arrays"][name]
        expected = np.asarray(arr, dtype=arr.dtype.newbyteorder("="))
        assert got.dtype == expected.dtype and got.shape == arr.shape, name
        assert np.array_equal(got, expected, equal_nan=True), name
        assert got.tobytes() == np.ascontiguousarray(expected).tobytes(), name
    assert_identical(scalars, loaded["scalars"], "scalars")


def test_python_values_and_structure(tmp_path: pathlib.Path) -> None:
    state = {
        "big": 2**200 + 1,
        "neg": -(3**100),
        "zero": 0,
        "true": True,
        "none": None,
        "floats": [
            0.1,
            -0.0,
            1e-320,
            1.7976931348623157e308,
            float("inf"),
            float("-inf"),
            float("nan"),
        ],
        "text": 'héllo ✓ \u0000 "quoted"',
        "empty": {},
        "empty_list": [],
        "empty_tuple": (),
        "tuple": (1, (2.5, "x"), [None]),
        "int_keys": {0: "a", 1: {"nested": (True,)}},
        "mixed_keys": {"s": 1, 2: 2, 3.5: 3, None: 4, (1, "a"): 5, False: 6},
        "reserved": {"__glassnet__": "array", "key": "weights/x"},
        "__metadata__": np.ones(2, dtype=np.float32),
        "a/b": np.zeros(1, dtype=np.float32),
        "a": {"b": np.ones(1, dtype=np.float32)},
        "shared": [np.arange(3)] * 2,
    }
    save_checkpoint(tmp_path / "p.ckpt", state)
    loaded = load_checkpoint(tmp_path / "p.ckpt")
    assert_identical(state, loaded)
    # Loaded arrays are independent copies.
    loaded["shared"][0][0] = 99
    assert loaded["shared"][1][0] == 0


def test_tensor_names_follow_key_paths(tmp_path: pathlib.Path) -> None:
    save_checkpoint(
        tmp_path / "k.ckpt",
        {
            "weights": {"dense.W": np.ones((2, 3), np.float32)},
            "optimizer": {"m": [np.zeros(2), np.zeros(3)]},
            "arrays": {"order": np.arange(4)},
        },
    )
    names = set(stn.load_file(tmp_path / "k.ckpt"))
    assert names == {"weights/dense.W", "optimizer/m/0", "optimizer/m/1", "arrays/order"}
    raw = (tmp_path / "k.ckpt").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    meta = json.loads(raw[8 : 8 + n])["__metadata__"]
    assert meta["format"] == "glassnet-checkpoint" and meta["format_version"] == "2"
    skeleton = json.loads(meta["state"])
    assert skeleton["weights"]["dense.W"] == {"__glassnet__": "array", "key": "weights/dense.W"}


_leaf_arrays = hnp.arrays(
    dtype=st.sampled_from(
        [np.float32, np.float64, np.int64, np.uint8, np.bool_, np.int32, np.float16]
    ),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=10),
    _leaf_arrays,
    st.sampled_from([np.float32(1.5), np.int64(-3), np.float64(2.0), np.bool_(False)]),
)
_keys = st.one_of(
    st.text(max_size=6),
    st.integers(-5, 5),
    st.none(),
    st.tuples(st.integers(0, 3), st.text(max_size=2)),
)
_trees = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_keys, inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(tree=st.dictionaries(st.text(max_size=6), _trees, max_size=5))
def test_random_states_round_trip(
    tmp_path_factory: pytest.TempPathFactory, tree: dict[str, Any]
) -> None:
    path = tmp_path_factory.getbasetemp() / "hypothesis.ckpt"
    save_checkpoint(path, tree)
    assert_identical(tree, load_checkpoint(path))


# -- refusals ------------------------------------------------------------------------------------
def test_unstorable_values_are_named(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bad.ckpt"
    cases: list[tuple[Any, str]] = [
        (
            {"callbacks": [{"fn": print}]},
            r"state\['callbacks'\]\[0\]\['fn'\] is a "
            r"builtin_function_or_method",
        ),
        ({"x": object()}, r"state\['x'\] is an object"),
        ({"x": {1, 2}}, r"state\['x'\] is a set"),
        ({"x": b"bytes"}, r"state\['x'\] is a bytes"),
        ({"x": np.array(["a"])}, r"dtype <U1"),
        ({"x": np.array([1 + 2j])}, r"dtype complex128"),
        ({"x": np.array([None], dtype=object)}, r"dtype object"),
        ({"x": {np.int64(1): 2}}, r"has a key np\.int64\(1\) of type int64"),
        ({"x": {(1, np.float32(2)): 2}}, r"has a key \(1, np\.float32\(2\.0\)\) of type tuple"),
    ]
    for state, pattern in cases:
        with pytest.raises(InvalidArgumentError, match=pattern):
            save_checkpoint(path, state)
    cyclic: dict[str, Any] = {"a": []}
    cyclic["a"].append(cyclic)
    with pytest.raises(InvalidArgumentError, match="contains itself"):
        save_checkpoint(path, cyclic)
    with pytest.raises(InvalidArgumentError, match="state must be a dict"):
        save_checkpoint(path, [1, 2])  # type: ignore[arg-type]
    assert not path.exists()  # nothing was written


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "run.ckpt"
    save_checkpoint(path, {"epoch": 1})
    before = path.read_bytes()
    with pytest.raises(InvalidArgumentError):
        save_checkpoint(path, {"epoch": 2, "bad": object()})
    assert path.read_bytes() == before
    assert load_checkpoint(path) == {"epoch": 1}


def test_too_much_json_is_refused_at_save(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_container, "MAX_HEADER_BYTES", 10_000)
    with pytest.raises(InvalidArgumentError, match="store large lists as NumPy arrays"):
        save_checkpoint(tmp_path / "big.ckpt", {"history": list(range(5000))})
    assert not (tmp_path / "big.ckpt").exists()


def test_model_files_are_not_checkpoints(tmp_path: pathlib.Path) -> None:
    model = Sequential([Input(shape=(2,)), Dense(1)])
    save_model(model, tmp_path / "m.safetensors")
    with pytest.raises(FileFormatError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "m.safetensors")
    stn.save_file({"x": np.zeros(1)}, tmp_path / "plain.safetensors")
    with pytest.raises(FileFormatError, match="no glassnet format marker"):
        load_checkpoint(tmp_path / "plain.safetensors")


def test_extra_and_missing_tensors_are_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "c.ckpt"
    save_checkpoint(path, {"w": np.zeros(2)})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    meta = json.loads(raw[8 : 8 + n])["__metadata__"]
    # Crafted files, re-sealed so that they get past the checksum to the checks under test.
    path.write_bytes(seal(stn.save({"w": np.zeros(2), "intruder": np.ones(1)}, metadata=meta)))
    with pytest.raises(FileFormatError, match="does not refer to: intruder"):
        load_checkpoint(path)
    path.write_bytes(seal(stn.save({}, metadata=meta)))
    with pytest.raises(FileFormatError, match="refers to a tensor 'w' that the file does not"):
        load_checkpoint(path)
    meta["state"] = '{"w": {"__glassnet__": "scalar", "key": "w"}}'
    path.write_bytes(seal(stn.save({"w": np.zeros(2)}, metadata=meta)))
    with pytest.raises(FileFormatError, match="should be a scalar"):
        load_checkpoint(path)
