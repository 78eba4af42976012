"""Learning-rate schedules: a callable from the step count to the learning rate α.

An optimiser given a schedule as ``learning_rate`` uses ``schedule(t)`` for its step number t,
where t counts the steps already taken (0 for the first step), as Keras does. The same values
come out of the matching PyTorch scheduler stepped once per optimiser step::

    Constant(α)                              ≙ a constant lr
    StepDecay(α0, step_size, gamma)          ≙ torch.optim.lr_scheduler.StepLR
    ExponentialDecay(α0, 1, gamma)           ≙ torch.optim.lr_scheduler.ExponentialLR
    CosineDecay(α0, T, alpha)                ≙ CosineAnnealingLR(T_max=T, eta_min=alpha·α0)
    CyclicalLearningRate(lo, hi, s, mode)    ≙ CyclicLR(lo, hi, step_size_up=s, mode=mode)

Values are computed in Python floats (float64) from a closed form, so they do not drift with
the step count (Keras computes them in float32; PyTorch's schedulers mostly multiply the
previous rate by a factor).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from ..errors import InvalidArgumentError, UnknownNameError, describe

__all__ = [
    "Schedule",
    "LearningRateSchedule",
    "Constant",
    "StepDecay",
    "ExponentialDecay",
    "CosineDecay",
    "CyclicalLearningRate",
    "get",
    "serialize",
    "deserialize",
]


# -- argument checks shared with the optimisers ------------------------------------------------
def check_real(
    where: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    expected: str | None = None,
) -> float:
    """``value`` as a Python float, checked to be a finite real number in the given range.

    Raises InvalidArgumentError with one sentence naming ``where``, the argument and the
    received value otherwise. Python floats (not NumPy scalars) keep float32 arrays float32
    under NumPy's promotion rules.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok and hasattr(value, "dtype") and getattr(value, "shape", None) == ():
        ok = getattr(value.dtype, "kind", "") in "iuf"  # a NumPy scalar or 0-d array
    x = float(value) if ok else math.nan
    if ok and math.isfinite(x):
        ok = not (
            (low is not None and (x < low or (low_open and x == low)))
            or (high is not None and (x > high or (high_open and x == high)))
        )
    else:
        ok = False
    if not ok:
        if expected is None:
            expected = _range_text(low, high, low_open, high_open)
        raise InvalidArgumentError(
            f"{where}: {name} must be {expected}, received {name}={_show(value)}"
        )
    return x


def check_int(where: str, name: str, value: Any, *, low: int = 0) -> int:
    """``value`` as a Python int ≥ ``low`` (bools and non-integral floats rejected)."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok and hasattr(value, "dtype") and getattr(value, "shape", None) == ():
        ok = getattr(value.dtype, "kind", "") in "iu"
    if not ok or int(value) < low:
        raise InvalidArgumentError(
            f"{where}: {name} must be an integer ≥ {low}, received {name}={_show(value)}"
        )
    return int(value)


def check_bool(where: str, name: str, value: Any) -> bool:
    """``value`` checked to be True or False."""
    if not isinstance(value, bool) and not (
        hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "b"
    ):
        raise InvalidArgumentError(
            f"{where}: {name} must be True or False, received {name}={_show(value)}"
        )
    return bool(value)


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"a finite number {'>' if low_open else '≥'} {low:g}"
    if high is not None:
        return f"a finite number {'<' if high_open else '≤'} {high:g}"
    return "a finite number"


def _show(value: Any) -> str:
    if isinstance(value, (int, float, bool, str)) or value is None:
        return repr(value)
    return describe(value)


# -- schedules -----------------------------------------------------------------------------------
class Schedule:
    """Base class: ``schedule(step) → learning rate`` (a Python float).

    ``step`` is the number of optimiser steps already taken (0, 1, 2, ...). Subclasses implement
    ``__call__`` and ``get_config`` (the constructor's arguments, JSON-friendly), so
    ``type(s).from_config(s.get_config())`` rebuilds an equal schedule.
    """

    aliases: ClassVar[tuple[str, ...]] = ()

    def __call__(self, step: int | float) -> float:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step)")

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-friendly."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_config()")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Schedule:
        """Rebuild a schedule from ``get_config()``'s output."""
        if not isinstance(config, Mapping):
            raise InvalidArgumentError(
                f"{cls.__name__}.from_config: config must be a dict of constructor arguments, "
                f"received {describe(config)}"
            )
        # Keras configs carry the schedule's display name; glassnet schedules have none.
        kwargs = {k: v for k, v in config.items() if k != "name"}
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise InvalidArgumentError(
                f"{cls.__name__}.from_config: the config does not fit the constructor ({exc})"
            ) from None

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(sorted(self.get_config().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


#: Keras's name for the base class.
LearningRateSchedule = Schedule


def _check_step(where: str, step: Any) -> float:
    # Called once per optimiser step: keep the common case (a non-negative int) cheap.
    if type(step) is int and step >= 0:
        return step
    return check_real(where, "step", step, low=0.0)


class Constant(Schedule):
    """α(t) = learning_rate for every step."""

    aliases = ("constant",)

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = check_real("Constant", "learning_rate", learning_rate, low=0.0)

    def __call__(self, step: int | float) -> float:
        _check_step("Constant", step)
        return self.learning_rate

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate}


class StepDecay(Schedule):
    """α(t) = α0 · gammaᶠˡᵒᵒʳ⁽ᵗ ᐟ ˢᵗᵉᵖ⁻ˢⁱᶻᵉ⁾: multiply by ``gamma`` every ``step_size`` steps.

    Same values as ``torch.optim.lr_scheduler.StepLR(opt, step_size, gamma)`` stepped per batch.
    """

    aliases = ("step_decay", "step")

    def __init__(self, initial_learning_rate: float, step_size: int, gamma: float = 0.1) -> None:
        self.initial_learning_rate = check_real(
            "StepDecay", "initial_learning_rate", initial_learning_rate, low=0.0
        )
        self.step_size = check_int("StepDecay", "step_size", step_size, low=1)
        self.gamma = check_real("StepDecay", "gamma", gamma, low=0.0, low_open=True)

    def __call__(self, step: int | float) -> float:
        t = _check_step("StepDecay", step)
        return self.initial_learning_rate * self.gamma ** (t // self.step_size)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "step_size": self.step_size,
            "gamma": self.gamma,
        }


class ExponentialDecay(Schedule):
    """α(t) = α0 · decay_rate^(t / decay_steps) (Keras's formula).

    With ``staircase=True`` the exponent is ``floor(t / decay_steps)``. With ``decay_steps=1``
    this is ``torch.optim.lr_scheduler.ExponentialLR(opt, gamma=decay_rate)`` stepped per batch.
    """

    aliases = ("exponential_decay", "exponential")

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int | float,
        decay_rate: float,
        staircase: bool = False,
    ) -> None:
        where = "ExponentialDecay"
        self.initial_learning_rate = check_real(
            where, "initial_learning_rate", initial_learning_rate, low=0.0
        )
        steps = check_real(where, "decay_steps", decay_steps, low=0.0, low_open=True)
        self.decay_steps: int | float = int(steps) if steps.is_integer() else steps
        self.decay_rate = check_real(where, "decay_rate", decay_rate, low=0.0, low_open=True)
        self.staircase = check_bool(where, "staircase", staircase)

    def __call__(self, step: int | float) -> float:
        p = _check_step("ExponentialDecay", step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate**p

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


class CosineDecay(Schedule):
    """Cosine decay with optional linear warm-up (Keras 3 semantics).

    Without warm-up (``warmup_target=None``)::

        α(t) = α0 · ((1 − alpha) · ½(1 + cos(π · min(t, T) / T)) + alpha),   T = decay_steps

    which is ``CosineAnnealingLR(T_max=T, eta_min=alpha·α0)`` for t ≤ T; after T the rate stays
    at alpha·α0 (PyTorch's scheduler would climb back up). With ``warmup_target`` the rate first
    rises linearly from α0 to ``warmup_target`` over ``warmup_steps`` steps, then decays from
    ``warmup_target`` to alpha·warmup_target over ``decay_steps`` more steps.
    """

    aliases = ("cosine_decay", "cosine")

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        where = "CosineDecay"
        self.initial_learning_rate = check_real(
            where, "initial_learning_rate", initial_learning_rate, low=0.0
        )
        self.decay_steps = check_int(where, "decay_steps", decay_steps, low=1)
        self.alpha = check_real(where, "alpha", alpha, low=0.0, high=1.0)
        self.warmup_steps = check_int(where, "warmup_steps", warmup_steps, low=0)
        self.warmup_target = (
            None
            if warmup_target is None
            else check_real(where, "warmup_target", warmup_target, low=0.0)
        )
        if self.warmup_target is None and self.warmup_steps > 0:
            raise InvalidArgumentError(
                f"CosineDecay: warmup_steps={self.warmup_steps} needs warmup_target (the rate "
                "reached at the end of the warm-up), received warmup_target=None"
            )

    def __call__(self, step: int | float) -> float:
        t = _check_step("CosineDecay", step)
        if self.warmup_target is None:
            return self._decay(min(t, self.decay_steps), self.initial_learning_rate)
        w = self.warmup_steps
        t = min(t, self.decay_steps + w)
        if t < w:
            lr0 = self.initial_learning_rate
            return (self.warmup_target - lr0) * (t / w) + lr0
        return self._decay(t - w, self.warmup_target)

    def _decay(self, t: float, decay_from: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * (t / self.decay_steps)))
        return decay_from * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CyclicalLearningRate(Schedule):
    """Smith's cyclical learning rate (arXiv 1506.01186, cited in seed 002).

    The rate moves linearly from ``base_learning_rate`` up to ``max_learning_rate`` over
    ``step_size`` steps, back down over ``step_size`` more, and repeats::

        cycle = floor(1 + t / (2·step_size))
        x     = |t / step_size − 2·cycle + 1|
        α(t)  = base + (max − base) · max(0, 1 − x) · scale

    with scale = 1 ("triangular"), 1/2^(cycle−1) ("triangular2": the amplitude halves every
    cycle) or gammaᵗ ("exp_range"). Same values as ``torch.optim.lr_scheduler.CyclicLR(opt,
    base_lr, max_lr, step_size_up=step_size, mode=mode, gamma=gamma)``.
    """

    aliases = ("cyclical_learning_rate", "cyclical", "cyclic", "clr")
    MODES: ClassVar[tuple[str, ...]] = ("triangular", "triangular2", "exp_range")

    def __init__(
        self,
        base_learning_rate: float,
        max_learning_rate: float,
        step_size: int,
        mode: str = "triangular",
        gamma: float = 1.0,
    ) -> None:
        where = "CyclicalLearningRate"
        self.base_learning_rate = check_real(
            where, "base_learning_rate", base_learning_rate, low=0.0
        )
        self.max_learning_rate = check_real(where, "max_learning_rate", max_learning_rate, low=0.0)
        if self.max_learning_rate < self.base_learning_rate:
            raise InvalidArgumentError(
                f"{where}: max_learning_rate must be ≥ base_learning_rate "
                f"({self.base_learning_rate!r}), received max_learning_rate="
                f"{self.max_learning_rate!r}"
            )
        self.step_size = check_int(where, "step_size", step_size, low=1)
        if mode not in self.MODES:
            raise InvalidArgumentError(
                f"{where}: mode must be one of {', '.join(repr(m) for m in self.MODES)}, "
                f"received mode={_show(mode)}"
            )
        self.mode = mode
        self.gamma = check_real(where, "gamma", gamma, low=0.0, high=1.0, low_open=True)

    def __call__(self, step: int | float) -> float:
        t = _check_step("CyclicalLearningRate", step)
        # PyTorch's arrangement of Smith's formula (same numbers, fewer surprises at the ends).
        total = 2.0 * self.step_size
        cycle = math.floor(1.0 + t / total)
        x = 1.0 + t / total - cycle
        scale = x / 0.5 if x <= 0.5 else (x - 1.0) / (0.5 - 1.0)
        height = (self.max_learning_rate - self.base_learning_rate) * scale
        if self.mode == "triangular":
            factor = 1.0
        elif self.mode == "triangular2":
            factor = 1.0 / (2.0 ** (cycle - 1))
        else:
            factor = self.gamma**t
        return self.base_learning_rate + height * factor

    def get_config(self) -> dict[str, Any]:
        return {
            "base_learning_rate": self.base_learning_rate,
            "max_learning_rate": self.max_learning_rate,
            "step_size": self.step_size,
            "mode": self.mode,
            "gamma": self.gamma,
        }


SCHEDULES: dict[str, type[Schedule]] = {
    cls.__name__: cls
    for cls in (Constant, StepDecay, ExponentialDecay, CosineDecay, CyclicalLearningRate)
}


def _lookup(name: str) -> type[Schedule]:
    key = name.lower().replace("-", "_")
    for cls in SCHEDULES.values():
        if key == cls.__name__.lower() or key in cls.aliases:
            return cls
    known = ", ".join(repr(c.aliases[0]) for c in SCHEDULES.values())
    raise UnknownNameError(
        f"schedules.get: unknown schedule {name!r}; known schedules are {known} "
        "(or their class names)"
    )


def serialize(schedule: Schedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}``, JSON-friendly, for ``get``/``deserialize``."""
    if not isinstance(schedule, Schedule):
        raise InvalidArgumentError(
            f"schedules.serialize: expected a Schedule, received {describe(schedule)}"
        )
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: Mapping[str, Any]) -> Schedule:
    """The schedule described by ``serialize``'s output."""
    if not isinstance(config, Mapping) or "class_name" not in config:
        raise InvalidArgumentError(
            "schedules.deserialize: expected a dict with 'class_name' and 'config', "
            f"received {describe(config)}"
        )
    name = config["class_name"]
    if not isinstance(name, str):
        raise InvalidArgumentError(
            f"schedules.deserialize: class_name must be a string, received {_show(name)}"
        )
    return _lookup(name).from_config(config.get("config", {}))


def get(identifier: Any, **kwargs: Any) -> Schedule:
    """A schedule from a Schedule (returned as is), a config dict, or a name plus arguments.

    ``get("cosine", initial_learning_rate=0.1, decay_steps=1000)``,
    ``get({"class_name": "StepDecay", "config": {...}})``. Names are case-insensitive class
    names or the short names 'constant', 'step_decay', 'exponential_decay', 'cosine_decay',
    'cyclical'.
    """
    if isinstance(identifier, Schedule):
        if kwargs:
            raise InvalidArgumentError(
                "schedules.get: keyword arguments are only used with a schedule name, received "
                f"a {type(identifier).__name__} and {sorted(kwargs)}"
            )
        return identifier
    if isinstance(identifier, Mapping):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _lookup(identifier)
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise InvalidArgumentError(
                f"schedules.get: wrong arguments for {cls.__name__} ({exc})"
            ) from None
    raise InvalidArgumentError(
        "schedules.get: expected a Schedule, a schedule name or a config dict, received "
        f"{_show(identifier)}"
    )
