"""Optimisers: SGD (with momentum, Nesterov, weight decay), Adagrad, RMSprop, Adam, AdamW.

Two ways to make one, both supported by every class:

* Keras style, for ``compile``: ``Adam(learning_rate=1e-3)`` (or ``Adam(1e-3)``, or the string
  ``"adam"``); ``compile``/``fit`` later call ``opt.bind(model.parameters())``.
* PyTorch style, for the low-level loop: ``SGD(model.parameters(), learning_rate=0.1)``
  (``lr=`` works too), then ``opt.zero_grad(); loss.backward(); opt.step()``.

The defaults are Keras's; the update formulas are PyTorch's (so that each optimiser matches
``torch.optim`` step by step); each class docstring says where Keras's formula differs.
Hyper-parameters other than ``learning_rate`` are keyword-only, because Keras and PyTorch put
them in different positions.

Performance: the parameters, their gradients and the optimiser's state live in one flat buffer
per dtype (``FlatParameters``), so a step is a fixed handful of in-place ufunc calls over all
101,770 numbers of the seed model at once, with preallocated scratch arrays and every
scalar a Python float (a NumPy float64 scalar would turn float32 arithmetic into float64 under
NumPy 2's promotion rules). A gradient that was never produced (``p.grad is None``) counts as
zero: PyTorch would skip that parameter, glassnet still decays its moments or velocity (and
applies weight decay) as it would for a zero gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from ..autograd.tensor import Tensor, enable_grad
from ..errors import InvalidArgumentError, ShapeError, UnknownNameError, describe
from . import accelerated
from .flat import FlatGroup, FlatParameters, collect_parameters
from .schedules import Schedule, check_bool, check_int, check_real
from .schedules import deserialize as deserialize_schedule
from .schedules import serialize as serialize_schedule

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "get",
    "serialize",
    "deserialize",
    "OPTIMIZERS",
]

LearningRate = float | Schedule

# Keys Keras writes into optimizer configs that mean "feature off" here; accepted and ignored
# by from_config when they hold their neutral value (None / False / 0).
_KERAS_NEUTRAL = frozenset(
    {
        "clipnorm",
        "clipvalue",
        "global_clipnorm",
        "use_ema",
        "loss_scale_factor",
        "gradient_accumulation_steps",
        "weight_decay",
    }
)
_KERAS_IGNORED = frozenset(
    {"name", "is_legacy_optimizer", "jit_compile", "ema_momentum", "ema_overwrite_frequency"}
)


def _hyper(name: str, doc: str) -> Any:
    def fget(self: Optimizer) -> Any:
        return self._hyper[name]

    return property(fget, doc=doc)


#: Every FLUSH_EVERY steps, optimiser state below FLUSH_FACTOR × the dtype's smallest normal
#: number is set to 0. Moments of weights whose gradient is rarely non-zero (border pixels)
#: decay geometrically — m by β1 = 0.9 per step — into float32's subnormal range, where every
#: elementwise pass over the buffer runs about ten times slower (measured: Adam's step goes
#: from ~150 µs to ~2 ms on the seed model). Flushing is what the CPU's flush-to-zero mode does
#: in JAX/XLA, made deterministic: within 100 steps a value above 1e8·tiny cannot decay below
#: tiny (0.9¹⁰⁰ ≈ 2.7e-5), so no subnormal ever appears, and the values zeroed (< 1.2e-30 in
#: float32) change an update by at most lr·1.2e-30/ε ≈ 1e-23 — far below a float32 ulp.
FLUSH_EVERY = 100
FLUSH_FACTOR = 1e8


def flush_subnormals(flat: FlatParameters) -> None:
    """Zero the optimiser-state entries small enough to become subnormal (see FLUSH_EVERY)."""
    for group in flat.groups:
        tiny = float(np.finfo(group.dtype).tiny) * FLUSH_FACTOR
        work = group.scratch[0] if group.scratch else np.empty_like(group.data)
        for state in group.state.values():
            np.abs(state, out=work)
            np.copyto(state, 0.0, where=work < tiny)


class Optimizer:
    """Base class: owns the parameters' flat buffers, the step count and the learning rate.

    Subclasses declare ``HYPER`` (hyper-parameter names after ``learning_rate``, config order),
    and implement ``_check_hyper`` (validation), ``_state_fills`` (state buffers and their
    initial values), ``_n_scratch`` and ``_update(group, lr, t)`` (one step over one flat
    dtype group, t = 1 for the first step).
    """

    default_learning_rate: ClassVar[float] = 0.001
    HYPER: ClassVar[tuple[str, ...]] = ()
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        params: Any = None,
        learning_rate: LearningRate | None = None,
        lr: LearningRate | None = None,
        **hyper: Any,
    ) -> None:
        name = type(self).__name__
        # Keras allows the learning rate as the first positional argument: Adam(1e-3).
        if _is_learning_rate_like(params):
            if learning_rate is not None or lr is not None:
                raise InvalidArgumentError(
                    f"{name}: the first argument is params (an iterable of parameters) or the "
                    f"learning rate, received {params!r} as well as a learning_rate= keyword"
                )
            learning_rate, params = params, None
        if lr is not None:
            if learning_rate is not None:
                raise InvalidArgumentError(
                    f"{name}: lr is an alias of learning_rate, received both "
                    f"learning_rate={learning_rate!r} and lr={lr!r}"
                )
            learning_rate = lr
        if learning_rate is None:
            learning_rate = self.default_learning_rate
        self._hyper: dict[str, Any] = self._check_hyper(**hyper)
        self._lr: LearningRate = self._check_learning_rate(learning_rate)
        self._iterations = 0
        self._last_lr: float | None = None
        self._flat: FlatParameters | None = None
        self._pending: dict[str, Any] | None = None
        self._partition: Any = None  # set by step(partition=...) for that step only
        # Called with the flat buffers between the gradients and the update, on every path
        # (graph and fast step): data-parallel training averages the gradients across
        # processes here (training/distributed.py).
        self.gradient_hook: Callable[[FlatParameters], None] | None = None
        if params is not None:
            self.bind(params)

    # -- to implement --------------------------------------------------------------------------
    def _check_hyper(self, **hyper: Any) -> dict[str, Any]:
        if hyper:
            raise InvalidArgumentError(
                f"{type(self).__name__}: unexpected arguments {sorted(hyper)}"
            )
        return {}

    def _state_fills(self) -> dict[str, float]:
        return {}

    def _n_scratch(self) -> int:
        return 1

    def _update(self, group: FlatGroup, lr: float, t: int) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update()")

    # -- binding -------------------------------------------------------------------------------
    def bind(self, params: Any) -> Optimizer:
        """Attach the parameters to optimise (``compile``/``fit`` call this). Returns self.

        ``params``: a Module or an iterable (list, generator) of Parameters. Their data and
        gradients are moved into flat buffers (``p.data``/``p.grad`` become views). Binding the
        same parameters again is a no-op; an optimiser bound to other parameters refuses.
        """
        name = type(self).__name__
        plist = collect_parameters(params, f"{name}.bind")
        if self._flat is not None:
            current = self._flat.params
            if len(current) == len(plist) and all(a is b for a, b in zip(current, plist)):
                return self
            raise InvalidArgumentError(
                f"{name}.bind: this optimiser is already bound to {len(current)} other "
                f"parameters, received {len(plist)} parameters; use a new optimiser per model"
            )
        flat = FlatParameters(plist, where=name)
        flat.set_states(self._state_fills())
        flat.set_scratch(self._n_scratch())
        self._flat = flat
        if self._pending is not None:
            pending, self._pending = self._pending, None
            try:
                self._load_arrays(pending)
            except Exception:
                self._flat = None
                self._pending = pending
                raise
        return self

    def rebind(self, params: Any) -> Optimizer:
        """Attach another set of parameters of the same model (fit after a layer was frozen or
        unfrozen). A parameter in both sets keeps its state (moments, velocity); a new one
        starts as at the first step; the step count is kept. Returns self."""
        old = self._flat
        if old is None:
            return self.bind(params)
        plist = collect_parameters(params, f"{type(self).__name__}.rebind")
        if len(plist) == len(old.params) and all(a is b for a, b in zip(plist, old.params)):
            return self
        kept = {
            id(p): {s: np.array(old.state_view(s, i)) for s in old.state_names}
            for i, p in enumerate(old.params)
        }
        self._flat = None
        self.bind(plist)
        flat = self._bound("rebind")
        for i, p in enumerate(plist):
            for s, arr in kept.get(id(p), {}).items():
                flat.state_view(s, i)[...] = arr
        return self

    @property
    def params(self) -> tuple[Tensor, ...]:
        """The bound parameters (empty before ``bind``)."""
        return () if self._flat is None else self._flat.params

    @property
    def flat(self) -> FlatParameters | None:
        """The flat buffers (None before ``bind``), for code that fuses work with the step."""
        return self._flat

    def _bound(self, what: str) -> FlatParameters:
        if self._flat is None:
            name = type(self).__name__
            raise InvalidArgumentError(
                f"{name}.{what}: the optimiser has no parameters yet; pass them as "
                f"{name}(model.parameters(), ...) or call bind(model.parameters()) first"
            )
        return self._flat

    # -- the loop ------------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None, *, partition: Any = None) -> Any:
        """Update every parameter once from its gradient; returns ``closure()`` if given.

        The learning rate used is ``learning_rate`` (a float) or ``learning_rate(t)`` for a
        schedule, with t = ``iterations`` before the step. ``partition`` (the fast training
        step's): (a flat buffer, a runner) that updates that buffer in parts on two threads,
        where the optimiser's compiled pass allows it; the numbers are the same.
        """
        self._partition = partition
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        flat = self._flat
        if flat is None:
            flat = self._bound("step")
        flat.sync()
        if self.gradient_hook is not None:
            self.gradient_hook(flat)
        t = self._iterations
        lr = self._lr
        if type(lr) is not float:
            lr = self._scheduled(t)
        for group in flat.groups:
            self._update(group, lr, t + 1)
        self._iterations = t + 1
        self._last_lr = lr
        if self._iterations % FLUSH_EVERY == 0:
            flush_subnormals(flat)
        return loss

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Every bound parameter's gradient to zero (one ``fill`` per dtype).

        ``set_to_none=True`` sets ``p.grad = None`` instead, as PyTorch does by default; that is
        slower here (the next backward allocates fresh arrays that ``step`` copies back).
        """
        flat = self._bound("zero_grad")
        if set_to_none:
            for p in flat.params:
                p.grad = None
        else:
            flat.zero_grad()

    # -- learning rate -------------------------------------------------------------------------
    def _check_learning_rate(self, value: Any) -> LearningRate:
        if isinstance(value, Schedule):
            return value
        return check_real(
            type(self).__name__,
            "learning_rate",
            value,
            low=0.0,
            expected="a finite number ≥ 0 or a Schedule",
        )

    def _scheduled(self, t: int) -> float:
        schedule = self._lr
        value = schedule(t)  # type: ignore[operator]
        if type(value) is float and value >= 0.0 and value != math.inf:
            return value
        return check_real(
            type(self).__name__,
            f"learning_rate (the {type(schedule).__name__} schedule at step {t})",
            value,
            low=0.0,
        )

    @property
    def learning_rate(self) -> LearningRate:
        """α: a float, or a Schedule called with the step count before each step. Settable."""
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value: LearningRate) -> None:
        self._lr = self._check_learning_rate(value)

    @property
    def lr(self) -> LearningRate:
        """PyTorch's name for ``learning_rate``."""
        return self._lr

    @lr.setter
    def lr(self, value: LearningRate) -> None:
        self._lr = self._check_learning_rate(value)

    @property
    def current_learning_rate(self) -> float:
        """The rate the next ``step()`` will use: ``learning_rate(iterations)`` for a schedule."""
        lr = self._lr
        return lr if type(lr) is float else self._scheduled(self._iterations)  # type: ignore[return-value]

    @property
    def last_learning_rate(self) -> float | None:
        """The rate the latest ``step()`` used (None before the first step)."""
        return self._last_lr

    @property
    def iterations(self) -> int:
        """Number of steps taken."""
        return self._iterations

    # -- config --------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, JSON-friendly (a schedule as {"class_name", "config"})."""
        lr = self._lr
        config: dict[str, Any] = {
            "learning_rate": serialize_schedule(lr) if isinstance(lr, Schedule) else lr
        }
        config.update(self._hyper)
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Optimizer:
        """An unbound optimiser from ``get_config()``'s output (Keras configs accepted)."""
        if not isinstance(config, Mapping):
            raise InvalidArgumentError(
                f"{cls.__name__}.from_config: config must be a dict of constructor arguments, "
                f"received {describe(config)}"
            )
        kwargs: dict[str, Any] = {}
        unexpected = []
        for key, value in config.items():
            if key == "learning_rate":
                kwargs[key] = deserialize_schedule(value) if isinstance(value, Mapping) else value
            elif key in cls.HYPER:
                kwargs[key] = value
            elif key in _KERAS_IGNORED or (key in _KERAS_NEUTRAL and not value):
                continue
            else:
                unexpected.append(key)
        if unexpected:
            raise InvalidArgumentError(
                f"{cls.__name__}.from_config: unexpected config keys {sorted(unexpected)}; "
                f"expected learning_rate and {', '.join(cls.HYPER) or 'nothing else'}"
            )
        return cls(**kwargs)

    def __repr__(self) -> str:
        lr = self._lr
        args = [f"learning_rate={lr!r}"]
        args += [f"{k}={v!r}" for k, v in self._hyper.items()]
        return f"{type(self).__name__}({', '.join(args)})"

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly: plain arrays plus JSON-friendly values.

        Keys: ``class_name``, ``config`` (``get_config()``), ``iterations``,
        ``last_learning_rate``, ``num_params``, and ``state.{i}.{name}`` → a copy of parameter
        i's state array (e.g. ``state.0.exp_avg``), shaped like the parameter.
        """
        out: dict[str, Any] = {
            "class_name": type(self).__name__,
            "config": self.get_config(),
            "iterations": self._iterations,
            "last_learning_rate": self._last_lr,
        }
        flat = self._flat
        if flat is None:
            if self._pending is not None:  # loaded before bind: hand the same state back
                out.update(
                    {
                        k: np.array(v, copy=True)
                        for k, v in self._pending.items()
                        if k.startswith("state.")
                    }
                )
                out["num_params"] = self._pending["num_params"]
            else:
                out["num_params"] = 0
            return out
        flat.sync()
        out["num_params"] = len(flat.params)
        for i in range(len(flat.params)):
            for name in flat.state_names:
                out[f"state.{i}.{name}"] = flat.state_view(name, i).copy()
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what ``state_dict()`` returned: hyper-parameters, step count and state.

        As in PyTorch the saved hyper-parameters (including a learning rate changed during
        training) replace the current ones. Everything is checked before anything changes.
        On an optimiser not yet bound, the arrays are kept and applied by ``bind``.
        """
        name = type(self).__name__
        where = f"{name}.load_state_dict"
        if not isinstance(state, Mapping):
            raise InvalidArgumentError(
                f"{where}: expected the dict made by state_dict(), received {describe(state)}"
            )
        missing = [
            k for k in ("class_name", "config", "iterations", "num_params") if k not in state
        ]
        if missing:
            raise InvalidArgumentError(
                f"{where}: the state is missing {', '.join(missing)}; expected the dict made "
                "by state_dict()"
            )
        if state["class_name"] != name:
            raise InvalidArgumentError(
                f"{where}: the state was saved by {state['class_name']!r}, expected {name!r}"
            )
        template = type(self).from_config(state["config"])
        iterations = check_int(where, "iterations", state["iterations"], low=0)
        last = state.get("last_learning_rate")
        last_lr = None if last is None else check_real(where, "last_learning_rate", last, low=0.0)
        num_params = check_int(where, "num_params", state["num_params"], low=0)
        arrays = {k: v for k, v in state.items() if isinstance(k, str) and k.startswith("state.")}
        pending = {"num_params": num_params, **arrays}
        if self._flat is not None:
            self._check_arrays(pending, template)
        # Commit.
        self._hyper = template._hyper
        self._lr = template._lr
        self._iterations = iterations
        self._last_lr = last_lr
        if self._flat is None:
            self._pending = pending
            return
        self._load_arrays(pending)

    def _check_arrays(self, pending: Mapping[str, Any], template: Optimizer) -> None:
        where = f"{type(self).__name__}.load_state_dict"
        flat = self._bound("load_state_dict")
        flat.sync()
        n = len(flat.params)
        if pending["num_params"] != n:
            raise ShapeError(
                f"{where}: the state is for {pending['num_params']} parameters but this "
                f"optimiser has {n}"
            )
        names = list(template._state_fills())
        expected = {f"state.{i}.{s}" for i in range(n) for s in names}
        missing = sorted(expected - set(pending) - {"num_params"})
        unexpected = sorted(set(pending) - expected - {"num_params"})
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(
                    "missing " + ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
                )
            if unexpected:
                parts.append(
                    "unexpected "
                    + ", ".join(unexpected[:6])
                    + (" ..." if len(unexpected) > 6 else "")
                )
            raise InvalidArgumentError(f"{where}: the state arrays do not fit: " + "; ".join(parts))
        for key in sorted(expected):
            arr = np.asarray(pending[key])
            i = int(key.split(".")[1])
            shape = flat.params[i].data.shape
            if arr.shape != shape:
                raise ShapeError(
                    f"{where}: {key} has shape {arr.shape} but parameter {i} has shape {shape}"
                )
            if arr.dtype.kind != "f":
                raise InvalidArgumentError(
                    f"{where}: {key} must hold floats, received dtype {arr.dtype}"
                )

    def _load_arrays(self, pending: Mapping[str, Any]) -> None:
        self._check_arrays(pending, self)
        flat = self._bound("load_state_dict")
        fills = self._state_fills()
        flat.set_states(fills)
        flat.set_scratch(self._n_scratch())
        for i in range(len(flat.params)):
            for s in fills:
                # Cast to the parameter's dtype, as PyTorch does with floating state.
                flat.state_view(s, i)[...] = np.asarray(pending[f"state.{i}.{s}"])


def _is_learning_rate_like(value: Any) -> bool:
    if isinstance(value, Schedule):
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    return False


# ------------------------------------------------------------------------------------------------
class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay.

    Keras defaults, PyTorch formulas (``torch.optim.SGD`` with dampening 0). For parameters w
    with gradient g = ∂C/∂w and learning rate α::

        plain:     w ← w − α·g                      (the seeds' gradient-descent step, exactly)
        d = g + weight_decay·w                      (L2 penalty folded into the gradient)
        momentum:  b ← momentum·b + d;  w ← w − α·b  (b starts at 0, so the first b is d)
        nesterov:  b as above;          w ← w − α·(d + momentum·b)

    Keras differences: Keras keeps the velocity in units of the step (v ← momentum·v − α·g,
    w ← w + v), which is the same sequence of weights only while α is constant; and Keras's
    ``weight_decay`` is decoupled (w ← w − α·wd·w) rather than added to the gradient.
    """

    default_learning_rate = 0.01
    HYPER = ("momentum", "nesterov", "weight_decay")
    aliases = ("sgd",)

    momentum = _hyper("momentum", "Momentum factor in [0, 1] (0: none).")
    nesterov = _hyper("nesterov", "Use Nesterov momentum.")
    weight_decay = _hyper("weight_decay", "L2 coefficient added to the gradient (wd·w).")

    def __init__(
        self,
        params: Any = None,
        learning_rate: LearningRate | None = None,
        *,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        lr: LearningRate | None = None,
    ) -> None:
        super().__init__(
            params,
            learning_rate,
            lr,
            momentum=momentum,
            nesterov=nesterov,
            weight_decay=weight_decay,
        )

    def _check_hyper(  # type: ignore[override]
        self,
        *,
        momentum: float,
        nesterov: bool,
        weight_decay: float,
    ) -> dict[str, Any]:
        momentum = check_real("SGD", "momentum", momentum, low=0.0, high=1.0)
        nesterov = check_bool("SGD", "nesterov", nesterov)
        weight_decay = check_real("SGD", "weight_decay", weight_decay, low=0.0)
        if nesterov and momentum == 0.0:
            raise InvalidArgumentError(
                "SGD: nesterov=True needs a momentum > 0, received momentum=0.0"
            )
        return {"momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay}

    def _state_fills(self) -> dict[str, float]:
        return {"momentum_buffer": 0.0} if self._hyper["momentum"] else {}

    def _n_scratch(self) -> int:
        h = self._hyper
        return 2 if h["nesterov"] and h["weight_decay"] else 1

    def _update(self, group: FlatGroup, lr: float, t: int) -> None:
        h = self._hyper
        w, g, s = group.data, group.grad, group.scratch[0]
        mu, wd = h["momentum"], h["weight_decay"]
        d = g
        if wd:
            np.multiply(w, wd, out=s)
            s += g  # d = g + wd·w, kept out of p.grad (which the user may still read)
            d = s
        if mu:
            b = group.state["momentum_buffer"]
            b *= mu
            b += d
            if h["nesterov"]:
                u = group.scratch[1] if d is s else s
                np.multiply(b, mu, out=u)
                u += d
                d = u
            else:
                d = b
        np.multiply(d, lr, out=s)
        w -= s


class Adagrad(Optimizer):
    """Adagrad: per-weight step sizes shrinking with the sum of squared gradients.

    Keras defaults, PyTorch formula (``torch.optim.Adagrad`` with lr_decay = weight_decay = 0)::

        G ← G + g²                 (G starts at initial_accumulator_value)
        w ← w − α · g / (√G + ε)

    Keras difference: Keras puts ε inside the square root, w ← w − α·g / √(G + ε).
    """

    HYPER = ("initial_accumulator_value", "epsilon")
    aliases = ("adagrad",)

    initial_accumulator_value = _hyper(
        "initial_accumulator_value", "Starting value of the sum of squared gradients."
    )
    epsilon = _hyper("epsilon", "ε added to √G.")

    def __init__(
        self,
        params: Any = None,
        learning_rate: LearningRate | None = None,
        *,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        lr: LearningRate | None = None,
        eps: float | None = None,
    ) -> None:
        super().__init__(
            params,
            learning_rate,
            lr,
            initial_accumulator_value=initial_accumulator_value,
            epsilon=_alias("Adagrad", "epsilon", epsilon, 1e-7, "eps", eps),
        )

    def _check_hyper(  # type: ignore[override]
        self,
        *,
        initial_accumulator_value: float,
        epsilon: float,
    ) -> dict[str, Any]:
        return {
            "initial_accumulator_value": check_real(
                "Adagrad", "initial_accumulator_value", initial_accumulator_value, low=0.0
            ),
            "epsilon": check_real("Adagrad", "epsilon", epsilon, low=0.0),
        }

    def _state_fills(self) -> dict[str, float]:
        return {"sum": self._hyper["initial_accumulator_value"]}

    def _update(self, group: FlatGroup, lr: float, t: int) -> None:
        w, g, s = group.data, group.grad, group.scratch[0]
        G = group.state["sum"]
        np.multiply(g, g, out=s)
        G += s
        np.sqrt(G, out=s)
        s += self._hyper["epsilon"]
        np.divide(g, s, out=s)
        s *= lr
        w -= s


class RMSprop(Optimizer):
    """RMSprop: divide the step by a running root-mean-square of recent gradients.

    Keras defaults, PyTorch formula (``torch.optim.RMSprop`` with alpha = rho)::

        v ← ρ·v + (1 − ρ)·g²
        centered:  ḡ ← ρ·ḡ + (1 − ρ)·g;   D = √(v − ḡ²) + ε      else D = √v + ε
        momentum:  b ← momentum·b + g/D;   w ← w − α·b             else w ← w − α·g/D

    Keras differences: ε goes inside the square root (√(v + ε), √(v − ḡ² + ε)), and with
    momentum Keras accumulates α·g/D (the step, not the direction), the same while α is constant.
    PyTorch's defaults differ too (alpha 0.99, eps 1e-8, lr 0.01).
    """

    HYPER = ("rho", "momentum", "epsilon", "centered")
    aliases = ("rmsprop",)

    rho = _hyper("rho", "Decay of the running mean of g² (PyTorch's alpha).")
    momentum = _hyper("momentum", "Momentum factor in [0, 1].")
    epsilon = _hyper("epsilon", "ε added to the root mean square.")
    centered = _hyper("centered", "Subtract the squared running mean of g (variance estimate).")

    def __init__(
        self,
        params: Any = None,
        learning_rate: LearningRate | None = None,
        *,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        lr: LearningRate | None = None,
        eps: float | None = None,
    ) -> None:
        super().__init__(
            params,
            learning_rate,
            lr,
            rho=rho,
            momentum=momentum,
            epsilon=_alias("RMSprop", "epsilon", epsilon, 1e-7, "eps", eps),
            centered=centered,
        )

    def _check_hyper(  # type: ignore[override]
        self,
        *,
        rho: float,
        momentum: float,
        epsilon: float,
        centered: bool,
    ) -> dict[str, Any]:
        return {
            "rho": check_real("RMSprop", "rho", rho, low=0.0, high=1.0, high_open=True),
            "momentum": check_real("RMSprop", "momentum", momentum, low=0.0, high=1.0),
            "epsilon": check_real("RMSprop", "epsilon", epsilon, low=0.0),
            "centered": check_bool("RMSprop", "centered", centered),
        }

    def _state_fills(self) -> dict[str, float]:
        fills = {"square_avg": 0.0}
        if self._hyper["centered"]:
            fills["grad_avg"] = 0.0
        if self._hyper["momentum"]:
            fills["momentum_buffer"] = 0.0
        return fills

    def _update(self, group: FlatGroup, lr: float, t: int) -> None:
        h = self._hyper
        rho, mu = h["rho"], h["momentum"]
        w, g, s = group.data, group.grad, group.scratch[0]
        v = group.state["square_avg"]
        v *= rho
        np.multiply(g, 1.0 - rho, out=s)
        s *= g
        v += s
        if h["centered"]:
            # ḡ ← ρ·ḡ + (1 − ρ)·g (PyTorch's lerp, in the form that does not underflow; see Adam)
            gbar = group.state["grad_avg"]
            gbar *= rho
            np.multiply(g, 1.0 - rho, out=s)
            gbar += s
            np.multiply(gbar, gbar, out=s)
            np.subtract(v, s, out=s)
            np.sqrt(s, out=s)
        else:
            np.sqrt(v, out=s)
        s += h["epsilon"]
        np.divide(g, s, out=s)
        if mu:
            b = group.state["momentum_buffer"]
            b *= mu
            b += s
            np.multiply(b, lr, out=s)
        else:
            s *= lr
        w -= s


class Adam(Optimizer):
    """Adam (Kingma & Ba), optionally AMSGrad.

    Keras defaults, PyTorch formula (``torch.optim.Adam``). At step t = 1, 2, ...::

        m ← β1·m + (1 − β1)·g          v ← β2·v + (1 − β2)·g²      (both start at 0)
        amsgrad: v̂ ← max(v̂, v), used in place of v below
        w ← w − α/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)

    Keras difference: Keras adds ε to √v before the bias correction ("ε-hat"):
    w ← w − α·√(1 − β2ᵗ)/(1 − β1ᵗ) · m / (√v + ε); the two agree when ε is negligible.
    PyTorch's default ε is 1e-8; Keras's (used here) is 1e-7.
    """

    HYPER: ClassVar[tuple[str, ...]] = ("beta_1", "beta_2", "epsilon", "amsgrad")
    aliases = ("adam",)

    beta_1 = _hyper("beta_1", "Decay of the first moment m, in [0, 1).")
    beta_2 = _hyper("beta_2", "Decay of the second moment v, in [0, 1).")
    epsilon = _hyper("epsilon", "ε added to the bias-corrected √v.")
    amsgrad = _hyper("amsgrad", "Use the running maximum of v (AMSGrad).")

    def __init__(
        self,
        params: Any = None,
        learning_rate: LearningRate | None = None,
        *,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        lr: LearningRate | None = None,
        betas: tuple[float, float] | None = None,
        eps: float | None = None,
    ) -> None:
        name = type(self).__name__
        beta_1, beta_2 = _betas(name, beta_1, beta_2, betas)
        super().__init__(
            params,
            learning_rate,
            lr,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=_alias(name, "epsilon", epsilon, 1e-7, "eps", eps),
            amsgrad=amsgrad,
        )

    def _check_hyper(  # type: ignore[override]
        self,
        *,
        beta_1: float,
        beta_2: float,
        epsilon: float,
        amsgrad: bool,
        **more: Any,
    ) -> dict[str, Any]:
        name = type(self).__name__
        out = {
            "beta_1": check_real(name, "beta_1", beta_1, low=0.0, high=1.0, high_open=True),
            "beta_2": check_real(name, "beta_2", beta_2, low=0.0, high=1.0, high_open=True),
            "epsilon": check_real(name, "epsilon", epsilon, low=0.0),
            "amsgrad": check_bool(name, "amsgrad", amsgrad),
        }
        if more:
            raise InvalidArgumentError(f"{name}: unexpected arguments {sorted(more)}")
        return out

    def _state_fills(self) -> dict[str, float]:
        fills = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
        if self._hyper["amsgrad"]:
            fills["max_exp_avg_sq"] = 0.0
        return fills

    def _update(self, group: FlatGroup, lr: float, t: int) -> None:
        self._adam(group, lr, t, 0.0)

    def _adam(self, group: FlatGroup, lr: float, t: int, weight_decay: float) -> None:
        h = self._hyper
        b1, b2, eps = h["beta_1"], h["beta_2"], h["epsilon"]
        w, g, s = group.data, group.grad, group.scratch[0]
        m, v = group.state["exp_avg"], group.state["exp_avg_sq"]
        if not h["amsgrad"]:
            step = lr / (1.0 - b1**t)
            if step > 0.0:
                k1 = 1.0 / (math.sqrt(1.0 - b2**t) * step)
                k2 = eps / step
                decay = 1.0 - lr * weight_decay if weight_decay else None
                # The same arithmetic as below in one compiled pass, when numba is installed.
                if (
                    k1 < math.inf
                    and k2 < math.inf
                    and accelerated.adam_step(w, g, m, v, b1, b2, k1, k2, decay, self._partition)
                ):
                    return
        if weight_decay:
            w *= 1.0 - lr * weight_decay  # AdamW's decoupled decay, before the Adam step
        # m ← β1·m + (1 − β1)·g. PyTorch writes it as the lerp m + (1 − β1)(g − m); the same
        # number up to rounding, but g − m underflows to float32 denormals wherever the
        # gradient holds steady, which slows the pass several times over.
        m *= b1
        np.multiply(g, 1.0 - b1, out=s)
        m += s
        # v ← β2·v + (1 − β2)·g², multiplied in PyTorch's addcmul order ((1 − β2)·g)·g.
        v *= b2
        np.multiply(g, 1.0 - b2, out=s)
        s *= g
        v += s
        # Denormals: for weights whose gradient is always 0 (blank MNIST pixels) m and v decay
        # geometrically into float32's subnormal range (m after ~800 steps), where every pass
        # above and below runs several times slower. Flushing them to zero is deliberate work
        # for the performance issue; the math here stays PyTorch's.
        if h["amsgrad"]:
            vmax = group.state["max_exp_avg_sq"]
            np.maximum(vmax, v, out=vmax)
            v = vmax
        # Bias corrections as Python floats. w ← w − step·m / (√v/√bc2 + ε) is computed as
        # w − m / (√v·k1 + k2) with k1 = 1/(√bc2·step), k2 = ε/step: two passes fewer.
        step = lr / (1.0 - b1**t)
        bc2_sqrt = math.sqrt(1.0 - b2**t)
        np.sqrt(v, out=s)
        if step > 0.0:
            k1 = 1.0 / (bc2_sqrt * step)
            k2 = eps / step
            if k1 < math.inf and k2 < math.inf:
                s *= k1
                s += k2
                np.divide(m, s, out=s)
                w -= s
                return
        elif step == 0.0:
            return
        s /= bc2_sqrt
        s += eps
        np.divide(m, s, out=s)
        s *= step
        w -= s


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter).

    Keras defaults (weight_decay 0.004), PyTorch formula (``torch.optim.AdamW``): before the
    Adam step of ``Adam``, every weight shrinks by w ← w·(1 − α·weight_decay). Keras does the
    same decay (w ← w − w·wd·α); its Adam step differs only in where ε goes (see Adam).
    PyTorch's default weight_decay is 0.01.
    """

    HYPER = ("weight_decay", "beta_1", "beta_2", "epsilon", "amsgrad")
    aliases = ("adamw",)

    weight_decay = _hyper("weight_decay", "Decoupled decay coefficient (w ← w(1 − α·wd)).")

    def __init__(
        self,
        params: Any = None,
        learning_rate: LearningRate | None = None,
        *,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        lr: LearningRate | None = None,
        betas: tuple[float, float] | None = None,
        eps: float | None = None,
    ) -> None:
        beta_1, beta_2 = _betas("AdamW", beta_1, beta_2, betas)
        Optimizer.__init__(
            self,
            params,
            learning_rate,
            lr,
            weight_decay=weight_decay,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=_alias("AdamW", "epsilon", epsilon, 1e-7, "eps", eps),
            amsgrad=amsgrad,
        )

    def _check_hyper(self, *, weight_decay: float, **rest: Any) -> dict[str, Any]:  # type: ignore[override]
        wd = check_real("AdamW", "weight_decay", weight_decay, low=0.0)
        return {"weight_decay": wd, **super()._check_hyper(**rest)}

    def _update(self, group: FlatGroup, lr: float, t: int) -> None:
        self._adam(group, lr, t, self._hyper["weight_decay"])


def _alias(where: str, name: str, value: Any, default: Any, alias: str, alias_value: Any) -> Any:
    """PyTorch spellings (eps, betas) accepted beside Keras's, but not both at once."""
    if alias_value is None:
        return value
    if value != default:
        raise InvalidArgumentError(
            f"{where}: {alias} is an alias of {name}, received both {name}={value!r} and "
            f"{alias}={alias_value!r}"
        )
    return alias_value


def _betas(where: str, beta_1: Any, beta_2: Any, betas: Any) -> tuple[Any, Any]:
    if betas is None:
        return beta_1, beta_2
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise InvalidArgumentError(
            f"{where}: betas must be a pair (beta_1, beta_2), received betas={betas!r}"
        )
    if (beta_1, beta_2) != (0.9, 0.999):
        raise InvalidArgumentError(
            f"{where}: betas is an alias of beta_1 and beta_2, received both "
            f"beta_1={beta_1!r}, beta_2={beta_2!r} and betas={tuple(betas)!r}"
        )
    return betas[0], betas[1]


# -- lookup by name --------------------------------------------------------------------------------
OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.aliases[0]: cls for cls in (SGD, Adagrad, RMSprop, Adam, AdamW)
}


def _lookup(name: str, where: str) -> type[Optimizer]:
    cls = OPTIMIZERS.get(name.lower().replace("_", "").replace("-", ""))
    if cls is None:
        known = ", ".join(repr(k) for k in sorted(OPTIMIZERS))
        raise UnknownNameError(f"{where}: unknown optimizer {name!r}; known optimizers are {known}")
    return cls


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}``, JSON-friendly (no state; see ``state_dict``)."""
    if not isinstance(optimizer, Optimizer):
        raise InvalidArgumentError(
            f"optimizers.serialize: expected an Optimizer, received {describe(optimizer)}"
        )
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: Mapping[str, Any]) -> Optimizer:
    """An unbound optimiser from ``serialize``'s output (or a Keras optimizer config)."""
    if not isinstance(config, Mapping) or not isinstance(config.get("class_name"), str):
        raise InvalidArgumentError(
            "optimizers.deserialize: expected a dict with a 'class_name' string and a "
            f"'config' dict, received {describe(config)}"
        )
    cls = _lookup(config["class_name"], "optimizers.deserialize")
    return cls.from_config(config.get("config") or {})


def get(identifier: Any) -> Optimizer:
    """An optimiser from a name ('sgd', 'adam', 'adamw', 'rmsprop', 'adagrad'; any case, with
    Keras defaults), an Optimizer instance (returned as is) or a config dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier, "optimizers.get")()
    if isinstance(identifier, Mapping):
        return deserialize(identifier)
    raise InvalidArgumentError(
        "optimizers.get: expected an optimizer name, an Optimizer or a config dict, received "
        f"{describe(identifier)}"
    )


#: What ``get`` accepts (for callers' type hints).
OptimizerLike = str | Optimizer | Mapping[str, Any]
