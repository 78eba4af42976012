"""Weight initialisers (Keras names and formulas), drawing from glassnet's seeded generator.

For a Dense weight W of shape (units, in_features): fan_in = in_features, fan_out = units.
The "normal" initialiser is the seeds' ``np.random.randn`` (mean 0, standard deviation 1).
Truncated normals redraw values beyond two standard deviations, and, as in Keras, their
standard deviation is corrected for the truncation.

Memory: ``check_allocation`` estimates an array's size in its own dtype and refuses one larger
than the memory available (an AllocationError, before anything is allocated). The random
initialisers draw float64 numbers — so a float32 layer gets the same values it always got for
a seed — but write them into the float32 array chunk by chunk, so no float64 copy of the whole
weight matrix is ever made.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from .. import _rng
from ..errors import GlassnetError, InvalidArgumentError, UnknownNameError

__all__ = [
    "AllocationError",
    "check_allocation",
    "available_memory",
    "Initializer",
    "Zeros",
    "Ones",
    "Constant",
    "RandomNormal",
    "RandomUniform",
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "LecunNormal",
    "LecunUniform",
    "get",
    "fans",
]


class AllocationError(GlassnetError, MemoryError):
    """An array larger than the memory available, refused before allocating it."""


#: Arrays smaller than this are not checked (every machine glassnet runs on has this much).
_CHECK_FROM_BYTES = 64 * 2**20
#: Random values are drawn in float64 chunks of this many elements and cast into the output.
_CHUNK = 1 << 20


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read().strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None


def available_memory() -> int | None:
    """Bytes of memory this process can still allocate without swapping, or None if unknown.

    Linux: ``MemAvailable`` from /proc/meminfo, lowered to what the cgroup (a container's
    memory limit) still allows. Elsewhere: the free physical pages, if the OS says.
    """
    available: int | None = None
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        available = None
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),  # cgroup v2
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),  # cgroup v1
    ):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2**60:
            room = max(0, limit - usage)
            available = room if available is None else min(available, room)
            break
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, OSError, ValueError):
            return None
    return available


def _bytes(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} bytes" if unit == "bytes" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{n} bytes"  # pragma: no cover


def check_allocation(shape: Any, dtype: Any, where: str, *, copies: int = 1) -> None:
    """Refuse, before allocating it, an array of ``shape`` and ``dtype`` larger than the memory
    available; ``copies``: how many such arrays exist at once while it is made (2 when it is
    copied into another layout). Raises AllocationError (a MemoryError) naming ``where``.

    Example: ``check_allocation((10**6, 10**6), "float32", "dense: Dense(1000000)")`` →
    "dense: Dense(1000000): a float32 array of shape (1000000, 1000000) (10¹² values) needs
    3.64 TiB, more than the 7.5 GiB of memory available".
    """
    dims = tuple(int(d) for d in shape)
    if any(d < 0 for d in dims):
        raise InvalidArgumentError(f"{where}: array shape {dims} has a negative size")
    dt = np.dtype(dtype)
    count = math.prod(dims)
    size = count * dt.itemsize
    need = size * max(1, int(copies))
    if need < _CHECK_FROM_BYTES:
        return
    available = available_memory()
    too_big = need >= np.iinfo(np.intp).max
    if not too_big and (available is None or need <= available):
        return
    during = f" ({copies} copies while it is made: {_bytes(need)})" if copies > 1 else ""
    room = (
        f"more than the {_bytes(available)} of memory available"
        if available is not None
        else "more than this machine can address"
    )
    raise AllocationError(
        f"{where}: a {dt.name} array of shape {dims} ({count:,} values) needs "
        f"{_bytes(size)}{during}, {room}; use fewer units or inputs"
    )


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in) — glassnet's layout — or a bias."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


class Initializer:
    """Base class: ``init(shape, dtype)`` returns a new array.

    The size is checked against the memory available first (``check_allocation``). A
    subclass implements ``sample(shape)`` (float64 values, cast by the call), or
    ``generate(shape, dtype)`` to write the requested dtype directly.
    """

    name = "initializer"

    def __call__(self, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
        dims = tuple(int(s) for s in shape)
        dt = np.dtype(dtype)
        check_allocation(dims, dt, f"{type(self).__name__} initializer")
        return self.generate(dims, dt)

    def generate(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """The values in ``dtype``: by default ``sample`` cast."""
        return np.asarray(self.sample(shape), dtype=dtype)

    def sample(self, shape: tuple[int, ...]) -> np.ndarray:
        """Draw the values (float64); the call casts to the requested dtype."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, for saving a model's architecture."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros (the default for biases)."""

    name = "zeros"

    def sample(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.zeros(shape)

    def generate(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    """All ones."""

    name = "ones"

    def sample(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.ones(shape)

    def generate(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return np.ones(shape, dtype=dtype)


class Constant(Initializer):
    """Every entry equal to ``value`` (seed 004's biases 0.35 and 0.60, say)."""

    name = "constant"

    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def sample(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.full(shape, self.value)

    def generate(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        # One rounding of the same float64 value: the numbers sample() would give, cast.
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class _Streamed(Initializer):
    """Random values drawn as one float64 stream (element after element, in C order).

    In float64 they are returned as drawn. In another dtype they are drawn in chunks of
    ``_CHUNK`` and cast into the output: the same stream, so the same values as casting one
    float64 array, without ever holding that array.
    """

    def draw(self, shape: tuple[int, ...], count: int) -> np.ndarray:
        """The next ``count`` float64 values of the stream for an array of ``shape``."""
        raise NotImplementedError

    def sample(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.draw(shape, math.prod(shape)).reshape(shape)

    def generate(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        if dtype == np.float64:
            return self.sample(shape)
        out = np.empty(shape, dtype=dtype)
        flat = out.reshape(-1)  # a view: out is C-contiguous
        for begin in range(0, flat.size, _CHUNK):
            end = min(begin + _CHUNK, flat.size)
            flat[begin:end] = self.draw(shape, end - begin)
        return out


class RandomNormal(_Streamed):
    """N(mean, stddev²); the defaults (0, 1) are the seeds' ``randn``."""

    name = "normal"

    def __init__(self, mean: float = 0.0, stddev: float = 1.0) -> None:
        if not stddev >= 0:
            raise InvalidArgumentError(f"RandomNormal: stddev must be ≥ 0, received {stddev}")
        self.mean, self.stddev = float(mean), float(stddev)

    def draw(self, shape: tuple[int, ...], count: int) -> np.ndarray:
        return _rng.generator().normal(self.mean, self.stddev, size=count)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev}


class RandomUniform(_Streamed):
    """U(minval, maxval), Keras's default range [−0.05, 0.05]."""

    name = "uniform"

    def __init__(self, minval: float = -0.05, maxval: float = 0.05) -> None:
        if not maxval >= minval:
            raise InvalidArgumentError(
                f"RandomUniform: maxval must be ≥ minval, received minval={minval}, maxval={maxval}"
            )
        self.minval, self.maxval = float(minval), float(maxval)

    def draw(self, shape: tuple[int, ...], count: int) -> np.ndarray:
        return _rng.generator().uniform(self.minval, self.maxval, size=count)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval}


def _truncated_normal(stddev: float, shape: tuple[int, ...]) -> np.ndarray:
    gen = _rng.generator()
    out = gen.normal(0.0, stddev, size=shape)
    bad = np.abs(out) > 2 * stddev
    while bad.any():
        out[bad] = gen.normal(0.0, stddev, size=int(bad.sum()))
        bad = np.abs(out) > 2 * stddev
    return out


def _truncated_normal_into(stddev: float, out: np.ndarray) -> None:
    """``_truncated_normal`` written into ``out`` (any float dtype) chunk by chunk: the same
    draws in the same order — a first pass over every element, then redraws of the values
    beyond 2σ in index order until none is left — so the same values, cast."""
    gen = _rng.generator()
    flat = out.reshape(-1)
    redraw: list[np.ndarray] = []
    for begin in range(0, flat.size, _CHUNK):
        end = min(begin + _CHUNK, flat.size)
        values = gen.normal(0.0, stddev, size=end - begin)
        flat[begin:end] = values
        redraw.append(begin + np.flatnonzero(np.abs(values) > 2 * stddev))
    index = np.concatenate(redraw) if redraw else np.empty(0, dtype=np.intp)
    while index.size:
        values = gen.normal(0.0, stddev, size=index.size)
        flat[index] = values
        index = index[np.abs(values) > 2 * stddev]


class _VarianceScaling(Initializer):
    """Keras's VarianceScaling: variance = scale / fan, drawn uniform or truncated-normal."""

    scale = 1.0
    mode = "fan_in"
    distribution = "uniform"

    def _variance(self, shape: tuple[int, ...]) -> float:
        fan_in, fan_out = fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        return self.scale / max(1.0, fan)

    def sample(self, shape: tuple[int, ...]) -> np.ndarray:
        variance = self._variance(shape)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return _rng.generator().uniform(-limit, limit, size=shape)
        # 0.8796... is the stddev of a unit normal truncated at ±2.
        return _truncated_normal(math.sqrt(variance) / 0.87962566103423978, shape)

    def generate(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        if dtype == np.float64:
            return self.sample(shape)
        variance = self._variance(shape)
        out = np.empty(shape, dtype=dtype)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            flat = out.reshape(-1)
            for begin in range(0, flat.size, _CHUNK):
                end = min(begin + _CHUNK, flat.size)
                flat[begin:end] = _rng.generator().uniform(-limit, limit, size=end - begin)
        else:
            _truncated_normal_into(math.sqrt(variance) / 0.87962566103423978, out)
        return out


class GlorotUniform(_VarianceScaling):
    """U(−l, l) with l = √(6 / (fan_in + fan_out)) (Xavier; Keras's Dense default)."""

    name = "glorot_uniform"
    mode = "fan_avg"


class GlorotNormal(_VarianceScaling):
    """Truncated normal with stddev √(2 / (fan_in + fan_out)) (Xavier normal)."""

    name = "glorot_normal"
    mode = "fan_avg"
    distribution = "normal"


class HeUniform(_VarianceScaling):
    """U(−l, l) with l = √(6 / fan_in) (for ReLU layers)."""

    name = "he_uniform"
    scale = 2.0


class HeNormal(_VarianceScaling):
    """Truncated normal with stddev √(2 / fan_in) (for ReLU layers)."""

    name = "he_normal"
    scale = 2.0
    distribution = "normal"


class LecunNormal(_VarianceScaling):
    """Truncated normal with stddev √(1 / fan_in)."""

    name = "lecun_normal"
    distribution = "normal"


class LecunUniform(_VarianceScaling):
    """U(−l, l) with l = √(3 / fan_in)."""

    name = "lecun_uniform"


_REGISTRY: dict[str, type[Initializer]] = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "normal": RandomNormal,
    "random_normal": RandomNormal,
    "randn": RandomNormal,
    "uniform": RandomUniform,
    "random_uniform": RandomUniform,
    "glorot_uniform": GlorotUniform,
    "xavier_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "xavier_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform,
}


def get(identifier: Any) -> Initializer:
    """An Initializer from a name ("he_normal"), an instance, a class, or a number (constant)."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, (int, float)) and not isinstance(identifier, bool):
        return Constant(identifier)
    if isinstance(identifier, dict) and "name" in identifier:
        config = dict(identifier)
        cls = _REGISTRY.get(str(config.pop("name")))
        if cls is not None:
            return cls(**config)
    if isinstance(identifier, str) and identifier.lower() in _REGISTRY:
        return _REGISTRY[identifier.lower()]()
    raise UnknownNameError(
        f"initializer: unknown initializer {identifier!r}; known: {', '.join(sorted(_REGISTRY))}"
    )
