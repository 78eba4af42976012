"""``Module`` and ``Parameter``: the PyTorch-style building blocks every layer and model uses.

A Module finds its parameters and sub-modules by looking at its own attributes (in the order
they were assigned), so ``self.W = Parameter(...)`` and ``self.hidden = Dense(...)`` are all it
takes; lists and tuples of modules are searched too.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor, as_array
from ..errors import DTypeError, InvalidArgumentError, ShapeError, describe

__all__ = ["Parameter", "Module", "match_weights", "hold_loss"]

# The modules holding add_loss terms not cleared yet. A model clears its modules' terms at each
# call; most models never add any, so the walk over every module happens only while some
# module holds one (the walk costs more than the rest of a one-sample model(x)).
_HOLDING_LOSSES: weakref.WeakSet[Any] = weakref.WeakSet()


def hold_loss(module: Any, term: Any) -> None:
    """Record ``term`` in ``module``'s add_loss terms (every ``add_loss`` comes here)."""
    module.__dict__.setdefault("_added_losses", []).append(term)
    _HOLDING_LOSSES.add(module)


class Parameter(Tensor):
    """A leaf tensor that a Module trains: always float, always ``requires_grad``."""

    __slots__ = ()

    def __init__(self, data: Any, dtype: Any = None, name: str | None = None) -> None:
        # A float32/float64 array keeps its dtype (as torch.nn.Parameter does); other data
        # follows tensor()'s rule (floats become float32).
        if (
            dtype is None
            and isinstance(data, (np.ndarray, Tensor))
            and np.asarray(data).dtype in (np.float32, np.float64)
        ):
            dtype = np.asarray(data).dtype
        arr = as_array(data, dtype, "Parameter")
        if arr.dtype.kind != "f":
            raise DTypeError(
                f"Parameter: data must be float32 or float64, received dtype {arr.dtype}"
            )
        super().__init__(arr, dtype=arr.dtype, requires_grad=True, name=name)

    def __repr__(self) -> str:
        label = f"{self.name}, " if self.name else ""
        return f"Parameter({label}shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of layers and models.

    Subclasses assign Parameters and sub-Modules as attributes and implement ``forward``;
    calling the module calls ``forward``.
    """

    training: bool = True

    def __init__(self) -> None:
        self.training = True

    # -- to override ---------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- discovery -----------------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules with their attribute names (``layers.0`` for list items)."""
        for name, value in vars(self).items():
            if name.startswith("_") and name != "_layers":
                continue
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def children(self) -> list[Module]:
        """Direct sub-modules."""
        return [m for _, m in self.named_children()]

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every sub-module, depth first, each once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop(0)
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            stack[0:0] = [
                (f"{name}.{child_name}" if name else child_name, child)
                for child_name, child in module.named_children()
            ]

    def modules(self) -> list[Module]:
        """This module and every sub-module."""
        return [m for _, m in self.named_modules()]

    def _own_parameters(self) -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield name, value

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with a dotted name such as ``dense_1.W``, each once."""
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for name, p in module._own_parameters():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self) -> list[Parameter]:
        """Every parameter, in a stable order (the order of ``named_parameters``)."""
        return [p for _, p in self.named_parameters()]

    def count_params(self) -> int:
        """Total number of trainable numbers."""
        return int(sum(p.data.size for p in self.parameters()))

    # -- modes ---------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active) for this module and all sub-modules."""
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Inference mode (dropout off)."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Reset every parameter's gradient to zeros (in place), or to None if asked.

        Zeroing in place keeps gradients inside an optimiser's flat buffer, which is faster.
        """
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.fill(0)

    def to(self, dtype: Any) -> Module:
        """Convert every parameter to ``dtype`` ("float32" or "float64") in place."""
        dt = as_array(0.0, dtype, "Module.to").dtype
        if dt.kind != "f":
            raise DTypeError(f"Module.to: dtype must be float32 or float64, received {dt}")
        for m in self.modules():
            # Layers record their dtype; a Model's dtype is a read-only view of its parameters.
            if hasattr(m, "dtype") and not isinstance(getattr(type(m), "dtype", None), property):
                if np.dtype(m.dtype).kind == "f":  # an integer Input (token ids) stays integer
                    m.dtype = dt
        for p in self.parameters():
            p.data = p.data.astype(dt)
            p.grad = None
        return self

    # -- terms added to the cost (Keras's add_loss) ----------------------------------------------
    def add_loss(self, value: Any) -> None:
        """Add a scalar term to the cost of the current forward pass (Keras's ``add_loss``),
        e.g. an activity penalty computed in ``forward``: fit minimises the compiled loss plus
        every term added during the pass, and evaluate reports that sum. A model clears the
        terms when it is called."""
        term = value if isinstance(value, Tensor) else Tensor(np.asarray(value, dtype=np.float64))
        if term.data.size != 1:
            raise ShapeError(
                f"add_loss: expected a scalar (one number), received shape {term.data.shape}; "
                f"reduce it first, e.g. with .sum() or .mean()"
            )
        hold_loss(self, term)

    @property
    def losses(self) -> list[Tensor]:
        """The terms added with ``add_loss`` by this module and its sub-modules in the last
        forward pass."""
        found: list[Tensor] = []
        for m in self.modules():
            own = getattr(m, "layer_losses", None)  # a layer's own terms and weight penalties
            found.extend(own() if callable(own) else m.__dict__.get("_added_losses", ()))
        return found

    def clear_losses(self) -> None:
        """Forget the terms added by ``add_loss`` (a model does it when it is called)."""
        if not _HOLDING_LOSSES:  # no module anywhere holds one: nothing to walk
            return
        for m in self.modules():
            added = m.__dict__.get("_added_losses")
            if added:
                added.clear()
            _HOLDING_LOSSES.discard(m)

    # -- weights -------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of every parameter's array, keyed by dotted name."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Copy arrays into the parameters, checking names and shapes first.

        With ``strict`` (default) any missing, unexpected or mis-shaped entry is an error that
        names every such tensor; nothing is changed unless everything fits.
        """
        if not isinstance(state, Mapping):
            raise InvalidArgumentError(
                f"load_state_dict: expected a mapping of name → array, received "
                f"{type(state).__name__}"
            )
        params = dict(self.named_parameters())
        arrays, problems = match_weights(params, state, strict=strict)
        if problems:
            raise ShapeError(
                f"load_state_dict: the weights do not fit {type(self).__name__}: "
                + "; ".join(problems)
            )
        for name, arr in arrays.items():
            _assign(params[name], arr, name)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the parameters' arrays in ``parameters()`` order (W is (units, in))."""
        return [p.data.copy() for p in self.parameters()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set every parameter from a list in ``parameters()`` order, shapes checked first."""
        params = list(self.named_parameters())
        if not isinstance(weights, (list, tuple)) or len(weights) != len(params):
            n = len(weights) if isinstance(weights, (list, tuple)) else describe(weights)
            raise ShapeError(
                f"set_weights: expected a list of {len(params)} arrays "
                f"({', '.join(n_ for n_, _ in params)}), received {n}"
            )
        arrays = [np.asarray(w) for w in weights]
        bad = [
            f"{name} (expected {p.data.shape}, received {a.shape})"
            for (name, p), a in zip(params, arrays)
            if a.shape != p.data.shape
        ]
        if bad:
            raise ShapeError("set_weights: wrong shape for " + "; ".join(bad))
        for (name, _), a in zip(params, arrays):
            _check_values(a, name)
        for (name, p), a in zip(params, arrays):
            _assign(p, a, name)

    # -- display -------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """Text shown inside the parentheses of this module's repr."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        lines = [head]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"


def match_weights(
    params: Mapping[str, Parameter],
    arrays: Mapping[str, Any],
    strict: bool = True,
    exact_dtype: bool = False,
    source: str = "received",
    float_only: bool = False,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Check named arrays against parameters before anything is copied.

    Returns the arrays that fit and one phrase per kind of problem, each naming every tensor
    concerned: missing and unexpected names (when ``strict``), wrong shapes, wrong dtypes
    (not numbers; not floats with ``float_only``; not the parameter's own dtype with
    ``exact_dtype``), NaN or inf. ``source`` words the received side ("received", "file").
    """
    missing = [n for n in params if n not in arrays]
    unexpected = [n for n in arrays if n not in params]
    misshaped, mistyped, nonfinite = [], [], []
    matched: dict[str, np.ndarray] = {}
    for n, p in params.items():
        if n not in arrays:
            continue
        arr = np.asarray(arrays[n])
        if arr.shape != p.data.shape:
            misshaped.append(f"{n} (expected {p.data.shape}, {source} {arr.shape})")
        elif arr.dtype.kind not in ("f" if float_only or exact_dtype else "fiub") or (
            exact_dtype and arr.dtype != p.data.dtype
        ):
            mistyped.append(f"{n} (expected {p.data.dtype}, {source} {arr.dtype})")
        elif arr.dtype.kind == "f" and not np.isfinite(arr).all():
            nonfinite.append(n)
        else:
            matched[n] = arr
    problems = []
    if strict and missing:
        problems.append("missing " + ", ".join(missing))
    if strict and unexpected:
        problems.append("unexpected " + ", ".join(unexpected))
    if misshaped:
        problems.append("wrong shape " + "; ".join(misshaped))
    if mistyped:
        problems.append("wrong dtype " + "; ".join(mistyped))
    if nonfinite:
        problems.append("NaN or inf in " + ", ".join(nonfinite))
    return matched, problems


def _check_values(arr: np.ndarray, name: str) -> None:
    if arr.dtype.kind not in "fiub":
        raise DTypeError(f"load weights: {name} must hold numbers, received dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise InvalidArgumentError(f"load weights: {name} contains NaN or inf")


def _assign(p: Parameter, arr: np.ndarray, name: str) -> None:
    # In place: the parameter may be a view into an optimiser's flat buffer.
    p.data[...] = arr
