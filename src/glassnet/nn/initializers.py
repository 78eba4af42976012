"""Weight initialisers (Keras names and formulas), drawing from glassnet's seeded generator.

For a Dense weight W of shape (units, in_features): fan_in = in_features, fan_out = units.
The "normal" initialiser is the seeds' ``np.random.randn`` (mean 0, standard deviation 1).
Truncated normals redraw values beyond two standard deviations, and, as in Keras, their
standard deviation is corrected for the truncation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _rng
from ..errors import InvalidArgumentError, UnknownNameError

__all__ = [
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


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in) — glassnet's layout — or a bias."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


class Initializer:
    """Base class: ``init(shape, dtype)`` returns a new array."""

    name = "initializer"

    def __call__(self, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
        return np.asarray(self.sample(tuple(int(s) for s in shape)), dtype=dtype)

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


class Ones(Initializer):
    """All ones."""

    name = "ones"

    def sample(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.ones(shape)


class Constant(Initializer):
    """Every entry equal to ``value`` (seed 004's biases 0.35 and 0.60, say)."""

    name = "constant"

    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def sample(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.full(shape, self.value)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class RandomNormal(Initializer):
    """N(mean, stddev²); the defaults (0, 1) are the seeds' ``randn``."""

    name = "normal"

    def __init__(self, mean: float = 0.0, stddev: float = 1.0) -> None:
        if not stddev >= 0:
            raise InvalidArgumentError(f"RandomNormal: stddev must be ≥ 0, received {stddev}")
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape: tuple[int, ...]) -> np.ndarray:
        return _rng.generator().normal(self.mean, self.stddev, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev}


class RandomUniform(Initializer):
    """U(minval, maxval), Keras's default range [−0.05, 0.05]."""

    name = "uniform"

    def __init__(self, minval: float = -0.05, maxval: float = 0.05) -> None:
        if not maxval >= minval:
            raise InvalidArgumentError(
                f"RandomUniform: maxval must be ≥ minval, received minval={minval}, maxval={maxval}"
            )
        self.minval, self.maxval = float(minval), float(maxval)

    def sample(self, shape: tuple[int, ...]) -> np.ndarray:
        return _rng.generator().uniform(self.minval, self.maxval, size=shape)

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


class _VarianceScaling(Initializer):
    """Keras's VarianceScaling: variance = scale / fan, drawn uniform or truncated-normal."""

    scale = 1.0
    mode = "fan_in"
    distribution = "uniform"

    def sample(self, shape: tuple[int, ...]) -> np.ndarray:
        fan_in, fan_out = fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return _rng.generator().uniform(-limit, limit, size=shape)
        # 0.8796... is the stddev of a unit normal truncated at ±2.
        return _truncated_normal(math.sqrt(variance) / 0.87962566103423978, shape)


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
