"""Hostile files: pickles in disguise, headers claiming huge sizes, every truncation of a valid
file, random bytes and random corruptions (hypothesis, well over 500 cases). Every load
attempt either succeeds or raises a GlassnetError — no other exception type — and nothing in a
file is ever executed (planted payloads would create a marker file; pickle is never called)."""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import struct
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import safetensors.numpy as stn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import glassnet as gn
from glassnet.errors import FileFormatError, GlassnetError
from glassnet.io import load_checkpoint, save_checkpoint
from glassnet.io._container import seal
from glassnet.io.model_files import load_model, load_weights, save_model, save_weights
from glassnet.nn import Dense, Dropout, Input
from glassnet.training.model import Sequential

HYPOTHESIS = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _template() -> Sequential:
    return Sequential(
        [
            Input(shape=(3,)),
            Dense(4, activation="relu", name="hidden"),
            Dropout(0.25),
            Dense(2, activation="softmax", name="out"),
        ]
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def valid_files(workdir: pathlib.Path) -> dict[str, bytes]:
    """Small valid files of each kind: a compiled model with optimizer state, weights, and a
    checkpoint with every kind of leaf."""
    gn.seed(0)
    model = _template()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    y = np.arange(8) % 2
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    save_model(model, workdir / "model.safetensors")
    save_weights(model, workdir / "weights.safetensors")
    save_checkpoint(
        workdir / "run.ckpt",
        {
            "weights": model.state_dict(),
            "optimizer": model.optimizer.state_dict(),
            "rng": gn._rng.get_state(),
            "epoch": 1,
            "step": (2, 3),
            "history": {"loss": [0.5, float("nan")]},
            "order": np.arange(5, dtype=np.int64),
            "mask": np.array([True, False]),
            "pixels": np.arange(4, dtype=np.uint8),
        },
    )
    return {
        name: (workdir / name).read_bytes()
        for name in ("model.safetensors", "weights.safetensors", "run.ckpt")
    }


@pytest.fixture(autouse=True)
def pickle_forbidden(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any use of pickle while loading fails the test (no pickle on the load path)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("pickle was called on the load path")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    yield


@pytest.fixture
def decoder_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the files handed to the safetensors decoder: glassnet's own header checks must
    refuse crafted and truncated files before that."""
    calls: list[int] = []
    real = stn.load

    def spy(data: bytes) -> Any:
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(stn, "load", spy)
    return calls


def attempt_every_loader(path: pathlib.Path) -> list[str]:
    """Run every loader on ``path``: each succeeds or raises a GlassnetError (anything else
    propagates and fails the test). Returns the outcomes, for the tests that care."""
    loaders: list[tuple[str, Callable[[], Any]]] = [
        ("load_model", lambda: load_model(path)),
        ("load_model(compile=False)", lambda: load_model(path, compile=False)),
        ("load_weights", lambda: load_weights(_template(), path)),
        ("load_checkpoint", lambda: load_checkpoint(path)),
    ]
    outcomes = []
    for name, load in loaders:
        try:
            load()
            outcomes.append(f"{name}: ok")
        except GlassnetError as exc:
            message = str(exc)
            assert "\n" not in message, f"{name}: multi-line error {message!r}"
            outcomes.append(f"{name}: {type(exc).__name__}")
    return outcomes


# -- pickles and other formats in disguise -----------------------------------------------------
class _OpenPayload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (open, (self.marker, "w"))


class _SystemPayload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.marker}",))


def test_pickle_renamed_safetensors_executes_nothing(workdir: pathlib.Path) -> None:
    markers = [workdir / "opened-marker", workdir / "system-marker"]
    payloads = {
        "open": pickle.dumps({"weights": _OpenPayload(str(markers[0]))}, protocol=2),
        "system": pickle.dumps([_SystemPayload(str(markers[1]))], protocol=4),
        "system-proto0": pickle.dumps(_SystemPayload(str(markers[1])), protocol=0),
    }
    for name, payload in payloads.items():
        path = workdir / f"evil-{name}.safetensors"
        path.write_bytes(payload)
        outcomes = attempt_every_loader(path)
        assert all(o.endswith("FileFormatError") for o in outcomes), outcomes
        with pytest.raises(FileFormatError, match=f"evil-{name}.safetensors"):
            load_model(path)
    for marker in markers:
        assert not marker.exists(), f"a payload ran: {marker} was created"


def test_torch_pickle_file_executes_nothing(
    workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    marker = workdir / "torch-marker"
    path = workdir / "torch-evil.safetensors"
    monkeypatch.undo()  # torch.save itself pickles; only loading must not
    torch.save({"w": torch.zeros(2), "x": _SystemPayload(str(marker))}, path)
    monkeypatch.setattr(
        pickle, "loads", lambda *a, **k: (_ for _ in ()).throw(AssertionError("pickle was called"))
    )
    outcomes = attempt_every_loader(path)
    assert all(o.endswith("FileFormatError") for o in outcomes), outcomes
    assert not marker.exists()


def test_other_formats_are_refused(workdir: pathlib.Path) -> None:
    samples = {
        "empty": b"",
        "npy": b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
        "zip": b"PK\x03\x04" + b"\x00" * 100,
        "json": b'{"format": "glassnet"}',
        "text": b"hello world, this is not a model\n" * 4,
        "hdf5": b"\x89HDF\r\n\x1a\n" + b"\x00" * 64,
    }
    for name, data in samples.items():
        path = workdir / f"other-{name}.safetensors"
        path.write_bytes(data)
        outcomes = attempt_every_loader(path)
        assert all(o.endswith("FileFormatError") for o in outcomes), (name, outcomes)


# -- crafted headers ---------------------------------------------------------------------------
def _file(header: Any, body: bytes = b"", length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + body


HUGE = {
    "header length 2^63": _file({}, length=2**63),
    "header length 2^64 - 1": _file({}, length=2**64 - 1),
    "header length just past the end": _file({"a": 1}, length=len(json.dumps({"a": 1})) + 1),
    "header length 100 MB + 1": _file({}, length=100 * 2**20 + 1),
    "tensor of 2^80 bytes": _file(
        {"x": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 2**82]}}
    ),
    "offsets past the end": _file(
        {"x": {"dtype": "F32", "shape": [2], "data_offsets": [10**18, 10**18 + 8]}}, b"\0" * 8
    ),
    "shape disagreeing with offsets": _file(
        {"x": {"dtype": "F64", "shape": [10**9], "data_offsets": [0, 8]}}, b"\0" * 8
    ),
    "negative shape": _file(
        {"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4
    ),
    "float shape": _file(
        {"x": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}, b"\0" * 4
    ),
    "overlapping tensors": _file(
        {
            "x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
            "y": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
        },
        b"\0" * 12,
    ),
    "hole between tensors": _file(
        {
            "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
            "y": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]},
        },
        b"\0" * 12,
    ),
    "trailing bytes": _file(
        {"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 5
    ),
    "unknown dtype": _file(
        {"x": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}, b"\0" * 2
    ),
    "object dtype": _file({"x": {"dtype": "O", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8),
    "65 dimensions": _file(
        {"x": {"dtype": "U8", "shape": [1] * 65, "data_offsets": [0, 1]}}, b"\0"
    ),
    "extra entry key": _file(
        {"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1], "pickle": "x"}}, b"\0"
    ),
    "header is a list": _file(b"[1, 2, 3]"),
    "header not utf-8": _file(b'{"\xff\xfe": 1}'),
    "duplicate tensor names": _file(
        b'{"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, '
        b'"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}',
        b"\0",
    ),
    "deeply nested header": _file(b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    "integer with 10^5 digits": _file(
        b'{"x": {"dtype": "U8", "shape": [' + b"9" * 100_000 + b'], "data_offsets": [0, 1]}}', b"\0"
    ),
    "metadata not strings": _file({"__metadata__": {"format": 1}}),
    "metadata a list": _file({"__metadata__": ["format", "glassnet"]}),
}


@pytest.mark.parametrize("case", sorted(HUGE))
def test_crafted_headers_are_refused_cheaply(
    workdir: pathlib.Path, case: str, decoder_calls: list[int]
) -> None:
    path = workdir / "crafted.safetensors"
    path.write_bytes(HUGE[case])
    tracemalloc.start()
    try:
        outcomes = attempt_every_loader(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert all(o.endswith("FileFormatError") for o in outcomes), outcomes
    assert peak < 20 * 2**20, f"{case}: loading allocated {peak / 2**20:.0f} MB"
    assert decoder_calls == [], f"{case}: reached the safetensors decoder unchecked"


def _metadata_file(valid: bytes, **changes: str) -> bytes:
    tensors = stn.load(valid)
    (n,) = struct.unpack("<Q", valid[:8])
    meta = json.loads(valid[8 : 8 + n])["__metadata__"]
    meta.update(changes)
    return seal(stn.save(tensors, metadata=meta))  # past the checksum, to the checks under test


def test_crafted_metadata_is_refused(workdir: pathlib.Path, valid_files: dict[str, bytes]) -> None:
    model = valid_files["model.safetensors"]
    ckpt = valid_files["run.ckpt"]
    deep = "[" * 100_000 + "]" * 100_000
    cases = {
        "deep architecture": _metadata_file(model, architecture=deep),
        "architecture not json": _metadata_file(model, architecture="{'a': 1}"),
        "architecture a list": _metadata_file(model, architecture="[]"),
        "eval-looking class": _metadata_file(
            model,
            architecture=json.dumps(
                {"class_name": "__import__('os').system('touch x')", "config": {}}
            ),
        ),
        "layer with a callable config": _metadata_file(
            model,
            architecture=json.dumps(
                {
                    "class_name": "Sequential",
                    "config": {
                        "layers": [
                            {
                                "class_name": "Dense",
                                "config": {"units": 2, "activation": "os.system"},
                            }
                        ]
                    },
                }
            ),
        ),
        "training config garbage": _metadata_file(model, training_config='{"loss": 3}'),
        "unknown optimizer": _metadata_file(
            model,
            training_config=json.dumps(
                {
                    "loss": {"name": "mse"},
                    "metrics": [],
                    "optimizer": {"class_name": "Evil", "config": {}},
                }
            ),
        ),
        "optimizer state refers to a missing tensor": _metadata_file(
            model, optimizer_state='{"a": {"__glassnet__": "array", "key": "nope"}}'
        ),
        "unknown tag": _metadata_file(ckpt, state='{"a": {"__glassnet__": "pickle"}}'),
        "unhashable dict key": _metadata_file(
            ckpt, state='{"a": {"__glassnet__": "dict", "items": [[[1], 2]]}}'
        ),
        "deep state": _metadata_file(ckpt, state=deep),
        "format from the future": _metadata_file(model, format_version="999"),
        "content unknown": _metadata_file(model, content="evil"),
    }
    for name, data in cases.items():
        path = workdir / "meta.safetensors"
        path.write_bytes(data)
        outcomes = attempt_every_loader(path)
        assert "load_checkpoint: FileFormatError" in outcomes, (name, outcomes)
        if name not in ("unknown tag", "unhashable dict key", "deep state"):
            assert "load_model: FileFormatError" in outcomes, (name, outcomes)
    assert not (pathlib.Path.cwd() / "x").exists()


# -- truncations -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["model.safetensors", "run.ckpt"])
def test_every_truncation_is_refused(
    workdir: pathlib.Path, valid_files: dict[str, bytes], kind: str, decoder_calls: list[int]
) -> None:
    data = valid_files[kind]
    path = workdir / f"truncated-{kind}"
    step = max(1, len(data) // 1500)  # every prefix of these small files (a sample if larger)
    for length in [*range(0, len(data), step), len(data) - 1]:
        path.write_bytes(data[:length])
        outcomes = attempt_every_loader(path)
        assert all(not o.endswith(": ok") for o in outcomes), (length, outcomes)
    assert decoder_calls == [], "a truncated file reached the safetensors decoder unchecked"
    path.write_bytes(data)
    outcomes = attempt_every_loader(path)
    assert sum(o.endswith(": ok") for o in outcomes) >= 1


# -- hypothesis: random bytes, corruptions, random headers ---------------------------------------
@HYPOTHESIS
@given(data=st.binary(max_size=4096))
def test_random_bytes(workdir: pathlib.Path, data: bytes) -> None:
    path = workdir / "random.safetensors"
    path.write_bytes(data)
    outcomes = attempt_every_loader(path)
    assert all(o.endswith("FileFormatError") for o in outcomes)


@HYPOTHESIS
@given(
    kind=st.sampled_from(["model.safetensors", "weights.safetensors", "run.ckpt"]),
    edits=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8
    ),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_random_corruptions_of_valid_files(
    workdir: pathlib.Path,
    valid_files: dict[str, bytes],
    kind: str,
    edits: list[tuple[float, int]],
    cut: float | None,
) -> None:
    data = bytearray(valid_files[kind])
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    path = workdir / "corrupt.safetensors"
    path.write_bytes(bytes(data))
    attempt_every_loader(path)


_names = st.text(st.characters(codec="utf-8"), max_size=12)
_dtypes = st.sampled_from(
    ["F32", "F64", "F16", "I64", "U8", "BOOL", "C64", "BF16", "F8_E4M3", "f32", "", "I128"]
)
_ints = st.one_of(st.integers(-3, 40), st.integers(-(2**70), 2**70))
_entry = st.one_of(
    st.fixed_dictionaries(
        {
            "dtype": _dtypes,
            "shape": st.lists(_ints, max_size=4),
            "data_offsets": st.lists(_ints, min_size=0, max_size=3),
        }
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | _names,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_names, inner, max_size=3),
        max_leaves=6,
    ),
)
_meta_values = st.one_of(
    _names,
    st.sampled_from(["glassnet", "glassnet-checkpoint", "1", "model", "weights"]),
    st.just('{"class_name": "Sequential", "config": {"layers": []}}'),
    st.just('{"a": {"__glassnet__": "array", "key": "t"}}'),
)
_metadata = st.dictionaries(
    st.sampled_from(
        [
            "format",
            "format_version",
            "content",
            "architecture",
            "training_config",
            "optimizer_state",
            "state",
        ]
    )
    | _names,
    _meta_values,
    max_size=7,
)


@HYPOTHESIS
@given(
    entries=st.dictionaries(_names, _entry, max_size=4),
    metadata=_metadata,
    body=st.binary(max_size=64),
    lie=st.one_of(st.none(), st.integers(0, 2**64 - 1)),
)
def test_random_headers(
    workdir: pathlib.Path,
    entries: dict[str, Any],
    metadata: dict[str, str],
    body: bytes,
    lie: int | None,
) -> None:
    header = dict(entries)
    if metadata:
        header["__metadata__"] = metadata
    data = _file(json.dumps(header).encode(), body, length=lie)
    path = workdir / "header.safetensors"
    path.write_bytes(data)
    attempt_every_loader(path)


def test_nothing_was_executed_anywhere(workdir: pathlib.Path) -> None:
    # Every marker any payload above could have created, and the cwd.
    for name in ("opened-marker", "system-marker", "torch-marker"):
        assert not (workdir / name).exists()
    assert not pathlib.Path("x").exists()
