"""Seeded 2-D teaching sets: the pictures perceptrons and decision boundaries are drawn on.

Every set returns ``(x_train, y_train), (x_test, y_test)`` like ``load``: ``x`` float32 of
shape ``(N, 2)``, ``y`` int64 of shape ``(N,)`` with labels ``0..K-1``. The ``n`` samples are
split evenly between the classes (the first ``n mod K`` classes get one more) and then
80 / 20 into train and test, stratified, so both sides are balanced too.

``noise`` is always the standard deviation of Gaussian noise added to each coordinate (for
``blobs`` it is the spread of each cluster). ``seed`` makes a set repeatable: the default
``seed=0`` gives the same points on every call and machine; ``seed=None`` draws from
glassnet's generator, so ``glassnet.seed(n)`` makes it repeatable instead. For a given seed
only ``noise`` changes between ``noise=0`` and ``noise=0.3``: the same underlying points,
moved by the same standard-normal draws scaled by ``noise``, in the same split.

- ``xor``: points in the four quadrants of [-1, 1]², label 1 where x₀·x₁ < 0 — no single line
  separates it, which is why a perceptron fails on it.
- ``moons``: two interleaving half circles.
- ``circles``: a circle of radius ``factor`` inside one of radius 1.
- ``spirals``: ``classes`` arms winding ``turns`` times around the origin.
- ``blobs``: Gaussian clusters around ``centers`` (a count, placed evenly on a circle of
  radius 2, or an array of shape ``(K, 2)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _rng
from ..errors import InvalidArgumentError, describe
from ._split import stratified_split

__all__ = ["xor", "moons", "circles", "spirals", "blobs", "GENERATORS", "TEST_FRACTION"]

#: The fraction of every generated set that goes to the test side.
TEST_FRACTION = 0.2

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
Seed = int | np.random.Generator | None


def _generator(name: str, seed: Seed) -> np.random.Generator:
    if seed is None:
        return _rng.generator()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidArgumentError(
            f"{name}: seed must be a non-negative integer, a numpy Generator or None, "
            f"received seed={seed!r}"
        )
    return np.random.default_rng(int(seed))


def _check_n(name: str, n: Any, classes: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2 * classes:
        raise InvalidArgumentError(
            f"{name}: n must be an integer of at least {2 * classes} (two samples per class), "
            f"received n={n!r}"
        )
    return int(n)


def _check_nonneg(name: str, arg: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(value)
        or value < 0
    ):
        raise InvalidArgumentError(
            f"{name}: {arg} must be a finite number >= 0, received {arg}={value!r}"
        )
    return float(value)


def _check_classes(name: str, arg: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise InvalidArgumentError(
            f"{name}: {arg} must be an integer of at least 2, received {arg}={value!r}"
        )
    return int(value)


def _per_class(n: int, classes: int) -> list[int]:
    return [n // classes + (1 if k < n % classes else 0) for k in range(classes)]


def _finish(x: np.ndarray, y: np.ndarray, noise: float, rng: np.random.Generator) -> Split:
    # Always drawn, so one seed gives the same points and split at every noise level.
    x = x + noise * rng.standard_normal(size=x.shape)
    train, test = stratified_split(y, TEST_FRACTION, rng)
    x32 = x.astype(np.float32)
    y64 = y.astype(np.int64)
    return (x32[train], y64[train]), (x32[test], y64[test])


def xor(n: int = 400, noise: float = 0.1, seed: Seed = 0) -> Split:
    """Four quadrants of [-1, 1]²: label 0 where x₀·x₁ > 0, label 1 where x₀·x₁ < 0.

    Returns ``(x_train, y_train), (x_test, y_test)``; x float32 ``(N, 2)``, y int64 ``(N,)``.
    """
    n = _check_n("xor", n, 2)
    noise = _check_nonneg("xor", "noise", noise)
    rng = _generator("xor", seed)
    xs, ys = [], []
    for label, count in enumerate(_per_class(n, 2)):
        magnitude = rng.uniform(0.0, 1.0, size=(count, 2))
        first = rng.choice([-1.0, 1.0], size=count)
        # Class 0 has equal signs (quadrants I and III), class 1 opposite ones (II and IV).
        second = first if label == 0 else -first
        xs.append(magnitude * np.stack([first, second], axis=1))
        ys.append(np.full(count, label))
    return _finish(np.concatenate(xs), np.concatenate(ys), noise, rng)


def moons(n: int = 400, noise: float = 0.1, seed: Seed = 0) -> Split:
    """Two interleaving half circles of radius 1: (cos t, sin t) and (1 − cos t, ½ − sin t).

    Returns ``(x_train, y_train), (x_test, y_test)``; x float32 ``(N, 2)``, y int64 ``(N,)``.
    """
    n = _check_n("moons", n, 2)
    noise = _check_nonneg("moons", "noise", noise)
    rng = _generator("moons", seed)
    upper, lower = _per_class(n, 2)
    t0 = rng.uniform(0.0, math.pi, size=upper)
    t1 = rng.uniform(0.0, math.pi, size=lower)
    x = np.concatenate(
        [
            np.stack([np.cos(t0), np.sin(t0)], axis=1),
            np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(upper), np.ones(lower)])
    return _finish(x, y, noise, rng)


def circles(n: int = 400, noise: float = 0.05, seed: Seed = 0, factor: float = 0.5) -> Split:
    """A circle of radius ``factor`` (label 1) inside a circle of radius 1 (label 0).

    Returns ``(x_train, y_train), (x_test, y_test)``; x float32 ``(N, 2)``, y int64 ``(N,)``.
    """
    n = _check_n("circles", n, 2)
    noise = _check_nonneg("circles", "noise", noise)
    if (
        isinstance(factor, bool)
        or not isinstance(factor, (int, float, np.integer, np.floating))
        or not 0 < factor < 1
    ):
        raise InvalidArgumentError(
            f"circles: factor (inner radius / outer radius) must be between 0 and 1, "
            f"received factor={factor!r}"
        )
    rng = _generator("circles", seed)
    xs, ys = [], []
    for label, (count, radius) in enumerate(zip(_per_class(n, 2), (1.0, float(factor)))):
        t = rng.uniform(0.0, 2 * math.pi, size=count)
        xs.append(radius * np.stack([np.cos(t), np.sin(t)], axis=1))
        ys.append(np.full(count, label))
    return _finish(np.concatenate(xs), np.concatenate(ys), noise, rng)


def spirals(
    n: int = 400, noise: float = 0.05, seed: Seed = 0, classes: int = 2, turns: float = 1.0
) -> Split:
    """``classes`` spiral arms, arm k at angle 2πk/classes + 2π·turns·r for radius r in [0, 1].

    Returns ``(x_train, y_train), (x_test, y_test)``; x float32 ``(N, 2)``, y int64 ``(N,)``.
    """
    classes = _check_classes("spirals", "classes", classes)
    n = _check_n("spirals", n, classes)
    noise = _check_nonneg("spirals", "noise", noise)
    if (
        isinstance(turns, bool)
        or not isinstance(turns, (int, float, np.integer, np.floating))
        or not math.isfinite(turns)
        or turns <= 0
    ):
        raise InvalidArgumentError(
            f"spirals: turns must be a finite number > 0, received turns={turns!r}"
        )
    rng = _generator("spirals", seed)
    xs, ys = [], []
    for label, count in enumerate(_per_class(n, classes)):
        r = rng.uniform(0.05, 1.0, size=count)
        theta = 2 * math.pi * label / classes + 2 * math.pi * float(turns) * r
        xs.append(r[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1))
        ys.append(np.full(count, label))
    return _finish(np.concatenate(xs), np.concatenate(ys), noise, rng)


def blobs(
    n: int = 400,
    noise: float = 0.5,
    seed: Seed = 0,
    centers: int | np.ndarray | list[list[float]] = 3,
) -> Split:
    """Gaussian clusters of spread ``noise``, one class per center.

    ``centers`` is a count K ≥ 2 (placed evenly on a circle of radius 2) or an array of
    shape ``(K, 2)``. Returns ``(x_train, y_train), (x_test, y_test)``; x float32 ``(N, 2)``,
    y int64 ``(N,)`` with labels ``0..K-1``.
    """
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        k = _check_classes("blobs", "centers", centers)
        angles = 2 * math.pi * np.arange(k) / k
        points = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    else:
        try:
            points = np.asarray(centers, dtype=np.float64)
        except (TypeError, ValueError):
            points = np.empty((0, 0))
        if (
            points.ndim != 2
            or points.shape[0] < 2
            or points.shape[1] != 2
            or not np.all(np.isfinite(points))
        ):
            raise InvalidArgumentError(
                f"blobs: centers must be an integer >= 2 or finite coordinates of shape "
                f"(K, 2) with K >= 2, received centers={describe(centers)}"
            )
    k = points.shape[0]
    n = _check_n("blobs", n, k)
    noise = _check_nonneg("blobs", "noise", noise)
    rng = _generator("blobs", seed)
    counts = _per_class(n, k)
    x = np.concatenate([np.repeat(points[j : j + 1], c, axis=0) for j, c in enumerate(counts)])
    y = np.concatenate([np.full(c, j) for j, c in enumerate(counts)])
    return _finish(x, y, noise, rng)


#: name → generator function; each takes n, noise, seed plus the options in its signature.
GENERATORS: dict[str, Callable[..., Split]] = {
    "xor": xor,
    "moons": moons,
    "circles": circles,
    "spirals": spirals,
    "blobs": blobs,
}
