"""``backprop()``: one sample (or a small batch) traced through BP1–BP4 with real numbers.

The trace is computed **from the four equations** of seeds 000/001, in NumPy and float64,
without the autograd engine:

    forward   z^l = W^l a^{l−1} + b^l,   a^l = σ(z^l)
    BP1       δ^L = ∇_a C ⊙ σ'(z^L)
    BP2       δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)
    BP3       ∂C/∂b^l_j = δ^l_j
    BP4       ∂C/∂w^l_jk = a^{l−1}_k δ^l_j,  i.e.  ∂C/∂W^l = δ^l (a^{l−1})ᵀ

∇_a C comes from the loss's closed-form ``gradient()``, σ and σ' from the activation layer's
``function()`` and ``derivative()``. Two special output layers are stated as such:
softmax with (sparse) categorical cross-entropy and sigmoid with binary cross-entropy, where
BP1 simplifies to δ^L = a^L − y (÷K for binary cross-entropy, which glassnet averages over the
K outputs) — the fused form glassnet trains with. Softmax with any other loss is not
elementwise: there δ^L = J(z^L)ᵀ ∇_a C with the Jacobian J = diag(a) − a aᵀ.

For a batch of n samples every per-sample quantity gets one row per sample and the gradients
are averaged, as the seeds' C = 1/n Σ_x C_x implies.

Then two independent witnesses are asked: the autograd engine (same weights, float64, the
Dense layers' own kernels — the ones every training path runs — as graph nodes, δ read off
``z.grad`` via ``retain_grad``) and
central differences on a sample of the parameters. ``max_discrepancy`` and ``check()`` say
whether they agree.
"""

from __future__ import annotations

import copy
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from ..autograd.tensor import Tensor
from ..errors import (
    GradcheckError,
    InvalidArgumentError,
    NotTraceableError,
    ShapeError,
    describe,
)
from ..functional.activations import stable_log_softmax, stable_sigmoid, stable_softmax
from ..i18n import N_, Message
from ..nn import losses as losses_module
from ..nn.layers import Activation, Dense
from ..nn.module import Parameter
from ..training.fused import kernel_chain
from ..training.model import Sequential

if TYPE_CHECKING:
    from .path import WeightPath

__all__ = ["backprop", "BackpropTrace", "LayerTrace", "SpotCheck", "engine_graph", "engine_forward"]

# How δ^L is obtained; stated in every rendering.
BP1 = "bp1"  # δ^L = ∇_a C ⊙ σ'(z^L)
FUSED_SOFTMAX = "softmax+crossentropy"  # δ^L = a^L − y
FUSED_SIGMOID = "sigmoid+binary_crossentropy"  # δ^L = (a^L − y)/K
JACOBIAN = "jacobian"  # δ^L = J(z^L)ᵀ ∇_a C  (softmax with another loss)


@dataclass(eq=False)
class LayerTrace:
    """Everything about layer l (1-based, as in the seeds) for the traced sample(s).

    Per-sample arrays have shape (units,) for one sample and (n, units) for a batch of n:
    ``a_prev`` (a^{l−1}), ``z``, ``a``, ``grad_a`` (∂C/∂a^l: ∇_a C for the output layer,
    (W^{l+1})ᵀ δ^{l+1} for a hidden one), ``delta`` (δ^l = ∂C/∂z^l for that sample's C_x).
    ``sigma_prime`` is σ'(z^l) of the same shape, or for softmax its Jacobian diag(a) − a aᵀ
    of shape (units, units) per sample (``jacobian`` is then True).
    ``W`` (units, in) and ``b`` (units,) are float64 copies; ``grad_W``, ``grad_b`` are ∂C/∂W
    and ∂C/∂b averaged over the samples; ``W_updated``, ``b_updated`` are W − α ∂C/∂W and
    b − α ∂C/∂b when a learning rate was given.
    """

    index: int
    name: str
    activation: str
    a_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray
    z: np.ndarray
    a: np.ndarray
    sigma_prime: np.ndarray
    grad_a: np.ndarray
    delta: np.ndarray
    grad_W: np.ndarray  # noqa: N815 - the seeds' W
    grad_b: np.ndarray
    W_updated: np.ndarray | None = None  # noqa: N815
    b_updated: np.ndarray | None = None
    use_bias: bool = True
    jacobian: bool = False
    activation_params: dict[str, float] = field(default_factory=dict)
    engine_delta: np.ndarray | None = None
    engine_grad_W: np.ndarray | None = None  # noqa: N815
    engine_grad_b: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def units(self) -> int:
        """Number of neurons in this layer."""
        return int(self.W.shape[0])

    @property
    def in_features(self) -> int:
        """Number of neurons in layer l − 1."""
        return int(self.W.shape[1])

    def rows(self, name: str) -> np.ndarray:
        """A per-sample array with one row per sample, whatever the batch size."""
        arr: np.ndarray = getattr(self, name)
        per_sample_ndim = 2 if (name == "sigma_prime" and self.jacobian) else 1
        return arr[None] if arr.ndim == per_sample_ndim else arr

    def __repr__(self) -> str:
        return (
            f"LayerTrace(l={self.index}, name={self.name!r}, {self.in_features} → "
            f"{self.units}, activation={self.activation!r})"
        )


@dataclass
class SpotCheck:
    """One parameter checked by central differences: (C(p + ε) − C(p − ε)) / 2ε."""

    parameter: str
    layer: int
    index: tuple[int, ...]
    numerical: float
    equations: float

    @property
    def error(self) -> float:
        """|numerical − equations| / max(|numerical|, |equations|, 1e-8)."""
        scale = max(abs(self.numerical), abs(self.equations), 1e-8)
        return abs(self.numerical - self.equations) / scale


class BackpropTrace:
    """The result of ``backprop``: per-layer arrays, the cost, and the engine's verdict.

    ``layers[l − 1]`` (or ``layer(l)``) is layer l's ``LayerTrace``. ``cost`` is C (the mean of
    ``per_sample_cost``). ``max_discrepancy`` is the largest relative difference between the
    equations and the autograd engine over every δ^l, ∂C/∂W^l, ∂C/∂b^l and C, each measured
    against the largest entry of its array (or, for an array that is zero up to rounding,
    against 1e-6 × the largest gradient in the trace); ``discrepancies`` has one entry per
    array, ``spot_checks`` the central differences; ``check()`` raises when they disagree.
    Render with ``to_text()``, ``to_markdown()``, ``to_json()``, ``to_html()``; follow one
    weight with ``path(l, j, k)``.
    """

    def __init__(
        self,
        *,
        layers: list[LayerTrace],
        loss: losses_module.Loss,
        cost: float,
        per_sample_cost: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        y_matrix: np.ndarray,
        labels: np.ndarray | None,
        single: bool,
        learning_rate: float | None,
        delta_rule: str,
        notes: list[str],
        model_name: str,
        title: str | None = None,
    ) -> None:
        self.layers = layers
        self.loss = loss
        self.cost = float(cost)
        self.per_sample_cost = per_sample_cost
        self.x = x
        self.y = y
        self.y_matrix = y_matrix
        self.labels = labels
        self.single = single
        self.learning_rate = learning_rate
        self.delta_rule = delta_rule
        self.notes = notes
        self.model_name = model_name
        self.title = title
        #: labels used by ``path`` and the renderers' weight stories: "seeds" or "net/out"
        self.path_style = "seeds"
        #: the renderers' default notation preset (glassnet.explain.presets): None is
        #: glassnet's own, "seed000", "seed001", "seed003" or "seed004" the seeds'
        self.notation: str | None = None
        #: the renderers' default language: None or "en" (English), "zh" (Chinese)
        self.lang: str | None = None
        self.engine_cost: float | None = None
        self.discrepancies: dict[str, float] = {}
        self.spot_checks: list[SpotCheck] = []
        self._pairs: list[tuple[str, np.ndarray, np.ndarray]] = []

    # -- access ---------------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        """Number of samples traced (1 for a single sample)."""
        return int(self.per_sample_cost.shape[0])

    @property
    def L(self) -> int:  # noqa: N802 - the seeds' L
        """Number of layers with weights (the output layer is layer L)."""
        return len(self.layers)

    @property
    def loss_name(self) -> str:
        """The loss's registered name ("quadratic", "sparse_categorical_crossentropy", ...)."""
        return str(self.loss.name)

    def layer(self, l: int) -> LayerTrace:
        """Layer l, counted from 1 as in the seeds (layer 0 is the input)."""
        if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not 1 <= l <= self.L:
            raise InvalidArgumentError(
                f"trace.layer: l must be an integer from 1 to {self.L} (layers are counted "
                f"from 1 as in the seeds), received l={l!r}"
            )
        return self.layers[int(l) - 1]

    def describe(self) -> str:
        """The architecture in one line: ``2 → 2 (sigmoid) → 2 (sigmoid)``."""
        parts = [str(self.layers[0].in_features)]
        parts += [f"{lt.units} ({lt.activation})" for lt in self.layers]
        return " → ".join(parts)

    # -- weights by seed-004-style number ----------------------------------------------------------
    def weight_number(self, l: int, j: int, k: int) -> int:
        """The weight's number when all weights are counted row by row, layer by layer.

        Seed 004 numbers its weights this way: w1..w4 are W^1 = [[w1, w2], [w3, w4]], w5..w8
        are W^2. ``l``, ``j``, ``k`` are 1-based (w^l_jk).
        """
        self._check_weight(l, j, k, "trace.weight_number")
        offset = sum(lt.W.size for lt in self.layers[: l - 1])
        return offset + (j - 1) * self.layers[l - 1].in_features + k

    def weight_from_number(self, number: int) -> tuple[int, int, int]:
        """(l, j, k), 1-based, of the weight numbered ``number`` (see ``weight_number``)."""
        total = sum(lt.W.size for lt in self.layers)
        if (
            isinstance(number, bool)
            or not isinstance(number, (int, np.integer))
            or not 1 <= number <= total
        ):
            raise InvalidArgumentError(
                f"trace.weight_from_number: number must be an integer "
                f"from 1 to {total}, received {number!r}"
            )
        rest = int(number) - 1
        for lt in self.layers:
            if rest < lt.W.size:
                return lt.index, rest // lt.in_features + 1, rest % lt.in_features + 1
            rest -= lt.W.size
        raise AssertionError("unreachable")

    def _check_weight(self, l: Any, j: Any, k: Any, where: str) -> None:
        for name, value in (("l", l), ("j", j), ("k", k)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise InvalidArgumentError(
                    f"{where}: {name} must be an integer, received {name}={value!r}"
                )
        if not 1 <= l <= self.L:
            raise InvalidArgumentError(
                f"{where}: layer l must be from 1 to {self.L} (1-based, "
                f"as in w^l_jk), received l={l}"
            )
        lt = self.layers[l - 1]
        if not 1 <= j <= lt.units or not 1 <= k <= lt.in_features:
            raise InvalidArgumentError(
                f"{where}: w^{l}_jk needs j from 1 to {lt.units} and k from 1 to "
                f"{lt.in_features} (1-based, as in the seeds), received j={j}, k={k}"
            )

    # -- one weight's story ------------------------------------------------------------------------
    def path(
        self,
        l: int | str,
        j: int | None = None,
        k: int | None = None,
        *,
        style: str | None = None,
        max_paths: int = 16,
        notation: Any = None,
    ) -> WeightPath:
        """∂C/∂w^l_jk as a sum over paths of products of local derivatives, with values.

        ``l``, ``j``, ``k`` are 1-based as written in w^l_jk (``path(2, 1, 1)`` is seed 004's
        w5 = W^2[0, 0]); ``path("w5")`` names a weight by its seed-004 number. The total equals
        ``layer(l).grad_W[j − 1, k − 1]``. ``style="net/out"`` labels with seed 004's names
        (E, net_h1, out_o1, w5); the default is ``trace.path_style`` ("seeds"). More than
        ``max_paths`` paths are grouped by the neurons of layer l + 1, whose δ^{l+1} already
        sums everything beyond. ``notation``: the preset its symbols are written in (default
        ``trace.notation``; seed004's implies ``style="net/out"``), as the renderers' is.
        """
        from . import presets
        from .path import weight_path

        if isinstance(l, str):
            text = l.strip().lower()
            if not (text.startswith("w") and text[1:].isdigit()):
                raise InvalidArgumentError(
                    f"trace.path: a weight name must look like 'w5', received {l!r}"
                )
            l, j, k = self.weight_from_number(int(text[1:]))
        if j is None or k is None:
            raise InvalidArgumentError(
                "trace.path: give the weight as path(l, j, k) "
                "(1-based, as in w^l_jk) or as path('w5')"
            )
        self._check_weight(l, j, k, "trace.path")
        chosen = notation if notation is not None else self.notation
        preset = presets.get(chosen) if chosen is not None else None
        if style is None and preset is not None and preset.style == "seed004":
            style = "net/out"  # seed 004 names its weights w1…w8, as the renderers do
        return weight_path(
            self,
            int(l),
            int(j),
            int(k),
            style=style or self.path_style,
            max_paths=max_paths,
            preset=preset,
        )

    # -- the verdict -------------------------------------------------------------------------------
    @property
    def max_discrepancy(self) -> float:
        """Largest relative difference between the equations and the autograd engine."""
        return max(self.discrepancies.values(), default=0.0)

    @property
    def numerical_discrepancy(self) -> float:
        """Largest relative difference between the equations and central differences."""
        return max((s.error for s in self.spot_checks), default=0.0)

    def check(
        self,
        rtol: float = 1e-7,
        atol: float = 1e-12,
        numerical_rtol: float = 1e-5,
        numerical_atol: float = 1e-8,
    ) -> BackpropTrace:
        """Raise GradcheckError unless the equations agree with the engine and the spot checks.

        Engine: every element must satisfy |eq − engine| ≤ atol + rtol·max(|eq|, |engine|).
        Central differences (coarser by nature): |eq − num| ≤ numerical_atol·max(1, |C|) +
        numerical_rtol·max(|eq|, |num|). Returns the trace, so ``backprop(...).check()``
        chains.
        """
        for name, value in (
            ("rtol", rtol),
            ("atol", atol),
            ("numerical_rtol", numerical_rtol),
            ("numerical_atol", numerical_atol),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise InvalidArgumentError(
                    f"trace.check: {name} must be a number ≥ 0, received {name}={value!r}"
                )
        for label, eq, eng in self._pairs:
            diff = np.abs(eq - eng)
            bound = atol + rtol * np.maximum(np.abs(eq), np.abs(eng))
            bad = ~(diff <= bound)
            if bad.any():
                i = int(np.argmax(np.where(bad, diff, -1.0)))
                idx = np.unravel_index(i, diff.shape) if diff.shape else ()
                where = f"[{', '.join(str(int(v)) for v in idx)}]" if idx else ""
                raise GradcheckError(
                    f"backprop check: {label}{where} is {float(eq.flat[i]):.12g} from the "
                    f"equations but {float(eng.flat[i]):.12g} from the autograd engine "
                    f"(difference {float(diff.flat[i]):.3g} > {float(bound.flat[i]):.3g}); the "
                    f"equations and the engine disagree"
                )
        for s in self.spot_checks:
            if not _spot_ok(s.numerical, s.equations, self.cost, numerical_rtol, numerical_atol):
                where = ", ".join(str(i + 1) for i in s.index)
                raise GradcheckError(
                    f"backprop check: ∂C/∂{s.parameter} at ({where}) is {s.equations:.12g} "
                    f"from the equations but {s.numerical:.12g} by central differences "
                    f"(relative difference {s.error:.3g}); a derivative (σ' or ∇_a C) is wrong"
                )
        return self

    @property
    def ok(self) -> bool:
        """True when ``check()`` passes with its default tolerances."""
        try:
            self.check()
        except GradcheckError:
            return False
        return True

    # -- renderers -------------------------------------------------------------------------------
    def to_text(
        self,
        precision: int = 6,
        max_rows: int = 8,
        max_cols: int = 8,
        color: bool | None = False,
        weights: Sequence[Any] = (),
        notation: str | None = None,
        lang: str | None = None,
    ) -> str:
        """The trace for a terminal. ``color=None`` colours when stdout is a terminal.

        ``weights``: (l, j, k) triples or names like "w5" whose stories are appended.
        ``notation``: "glassnet" (default: the input is layer 0), "seed000"/"seed001" (the
        input is layer 1, as those seeds count), "seed004" (i, h, o, net, out, w1…w8) or
        "seed003" (W1, b1, h1); see glassnet.explain.presets. ``lang``: "en" (default) or
        "zh" (Chinese headings, step titles and sentences). Every renderer takes both.
        """
        from .render import render_text

        return render_text(self, precision, max_rows, max_cols, color, weights, notation, lang)

    def to_markdown(
        self,
        precision: int = 6,
        max_rows: int = 8,
        max_cols: int = 8,
        weights: Sequence[Any] = (),
        notation: str | None = None,
        lang: str | None = None,
    ) -> str:
        """Markdown with LaTeX ($…$, $$…$$) for GitHub and Jupyter (``notation``: see
        ``to_text``)."""
        from .render import render_markdown

        return render_markdown(self, precision, max_rows, max_cols, weights, notation, lang)

    def to_json(
        self,
        precision: int | None = None,
        indent: int | None = 1,
        weights: Sequence[Any] = (),
        notation: str | None = None,
        lang: str | None = None,
    ) -> str:
        """Every array as nested lists, plus the equations (LaTeX and text) and the verdict.

        ``precision`` rounds numbers to that many significant digits (None: full float64);
        ``notation`` (see ``to_text``) names the symbols, listed under "notation".
        """
        from .render import render_json

        return render_json(self, precision, indent, weights, notation, lang)

    def to_dict(
        self,
        precision: int | None = None,
        weights: Sequence[Any] = (),
        notation: str | None = None,
        lang: str | None = None,
    ) -> dict[str, Any]:
        """The JSON content as a dict."""
        from .render import trace_dict

        return trace_dict(self, precision, weights, notation, lang)

    def to_html(
        self,
        precision: int = 6,
        max_rows: int = 8,
        max_cols: int = 8,
        weights: Sequence[Any] = (),
        full_page: bool = True,
        notation: str | None = None,
        lang: str | None = None,
    ) -> str:
        """One self-contained HTML page (MathML, inline CSS; no script, no network)."""
        from .render import render_html

        return render_html(self, precision, max_rows, max_cols, weights, full_page, notation, lang)

    def print(self, file: IO[str] | None = None, **options: Any) -> None:
        """Print the text rendering, in colour when ``file`` is a terminal."""
        from .render import wants_color

        stream = file if file is not None else sys.stdout
        options.setdefault("color", wants_color(stream))
        print(self.to_text(**options), file=stream)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return (
            f"BackpropTrace({self.describe()}, loss={self.loss_name!r}, "
            f"samples={self.batch_size}, cost={self.cost:.6g}, "
            f"max_discrepancy={self.max_discrepancy:.2g})"
        )

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        return self.to_html(full_page=False)


# =============================================================================================
# Building the trace
# =============================================================================================
@dataclass
class _Spec:
    dense: Dense
    act: Activation
    notes: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    pre: list[Any]
    specs: list[_Spec]
    notes: list[str]


def _plan(model: Any, where: str = "backprop") -> _Plan:
    """Check the model is a traceable Sequential and pair each Dense with its activation
    (``where``: the function named in the errors)."""
    chain = kernel_chain(model)
    if chain is None:
        raise NotTraceableError(
            f"{where}: a {type(model).__name__} is not traceable yet; the trace follows a "
            f"Sequential model of Dense layers (with Flatten, Dropout and Activation layers), "
            f"or a functional model that is such a chain"
        )
    pre: list[Any] = []
    specs: list[_Spec] = []
    notes: list[str] = []
    merged = False
    layer: Any
    for layer in chain:
        # Each layer declares how the trace treats it (Layer.explain_role); nothing here tests
        # for a layer's class. A "dense" layer has W, b, units and activation; an "activation"
        # layer a kernel; a "scale" layer scale and offset.
        role = getattr(layer, "explain_role", None)
        if role == "dense":
            specs.append(_Spec(layer, layer.activation))
            merged = False
        elif role == "activation":
            if not specs:
                raise NotTraceableError(
                    f"{where}: layer {layer.name!r} (Activation) comes before any Dense layer "
                    f"and is not traceable yet; put the activation inside the Dense layer"
                )
            if merged or specs[-1].act.kernel.name != "linear":
                raise NotTraceableError(
                    f"{where}: layer {layer.name!r} applies a second activation after "
                    f"{specs[-1].dense.name!r}'s {specs[-1].act.kernel.name}; stacked "
                    f"activations are not traceable yet"
                )
            specs[-1].act = layer
            specs[-1].notes.append(
                Message(
                    N_("σ comes from the separate layer {layer} ({kernel}) after {dense}."),
                    layer=repr(layer.name),
                    kernel=layer.kernel.name,
                    dense=repr(specs[-1].dense.name),
                )
            )
            merged = True
        elif role == "identity":
            note = Message(
                N_(
                    "{layer}: {module} is the identity at inference; the trace and its engine "
                    "check run the model in inference mode."
                ),
                layer=repr(layer.name),
                module=repr(layer),
            )
            (specs[-1].notes if specs else notes).append(note)
        elif role == "flatten":
            if specs:
                specs[-1].notes.append(
                    Message(
                        N_("{layer}: Flatten leaves rows of features unchanged."),
                        layer=repr(layer.name),
                    )
                )
            else:
                pre.append(layer)
        elif role in ("scale", "normalize"):
            if specs:
                raise NotTraceableError(
                    f"{where}: layer {layer.name!r} ({type(layer).__name__}) between Dense "
                    f"layers is not traceable yet; only one applied to the inputs is"
                )
            pre.append(layer)
        else:
            raise _not_traceable(layer, where)
    if not specs:
        raise NotTraceableError(
            f"{where}: the model has no Dense layer, so there are no weights to trace"
        )
    return _Plan(pre, specs, notes)


def _not_traceable(layer: Any, where: str) -> NotTraceableError:
    from .conv import CONV_ROLES  # conv.py builds on this module

    head = f"{where}: layer {getattr(layer, 'name', '?')!r} ({type(layer).__name__})"
    if where != "backprop" and getattr(layer, "explain_role", None) in CONV_ROLES:
        # backprop sends convolutional networks to explain/conv.py; the others follow Dense
        return NotTraceableError(
            f"{head} belongs to a convolutional network, and {where} follows chains of Dense "
            f"layers only; backprop(model, x, y) traces a convolutional network's forward and "
            f"backward passes"
        )
    return NotTraceableError(
        f"{head} is not traceable yet; the trace follows Dense layers with Flatten, Dropout, "
        f"Rescaling and Normalization (of the inputs) and Activation layers, and Conv1D, "
        f"Conv2D, Conv2DTranspose, pooling, ZeroPadding2D, UpSampling2D and BatchNormalization "
        f"layers"
    )


def resolve_loss(model: Any, loss: Any, where: str = "backprop") -> losses_module.Loss:
    """The loss to trace: the argument (name, class or instance), else the compiled one."""
    if loss is None:
        compiled = getattr(model, "loss", None)
        if isinstance(compiled, losses_module.Loss):
            return compiled
        raise InvalidArgumentError(
            f"{where}: no loss given and the model is not compiled; pass loss='quadratic' "
            f"(or another loss) or compile the model first"
        )
    return losses_module.get(loss)


def _check_learning_rate(learning_rate: Any) -> float | None:
    if learning_rate is None:
        return None
    if (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, (int, float, np.floating))
        or not math.isfinite(float(learning_rate))
        or float(learning_rate) <= 0
    ):
        raise InvalidArgumentError(
            f"backprop: learning_rate must be a positive number, "
            f"received learning_rate={learning_rate!r}"
        )
    return float(learning_rate)


def _ensure_built(model: Sequential, x: np.ndarray) -> None:
    if all(layer.built for layer in kernel_chain(model) or []):
        return
    shape = model.input_shape
    if shape is None:
        shape = x.shape if x.ndim == 1 else x.shape[1:]
    model.build(tuple(int(s) for s in shape))


def _prepare_input(
    model: Sequential, plan: _Plan, x: Any
) -> tuple[np.ndarray, np.ndarray, bool, list[str]]:
    """(raw x as float64 rows, a^0 rows, single?, notes). Raw rows keep the per-sample shape."""
    arr = np.asarray(x.data if isinstance(x, Tensor) else x)
    if arr.dtype.kind not in "fiub":
        raise InvalidArgumentError(f"backprop: x must hold numbers, received {describe(arr)}")
    if arr.ndim == 0:
        raise ShapeError(
            "backprop: x must be one sample of shape (features,) or a batch of "
            "shape (n, features), received a scalar"
        )
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InvalidArgumentError("backprop: x contains NaN or inf")
    _ensure_built(model, arr)
    first = plan.specs[0].dense
    assert first.W is not None
    n_in = int(first.W.shape[1])
    per = model.input_shape
    if per is not None and tuple(arr.shape) == tuple(per):
        rows = arr[None]
    elif per is not None and tuple(arr.shape[1:]) == tuple(per):
        rows = arr
    elif arr.ndim == 1:
        rows = arr[None]
    elif plan.pre and int(np.prod(arr.shape)) == n_in and int(np.prod(arr.shape[1:])) != n_in:
        rows = arr[None]
    else:
        rows = arr
    if rows.shape[0] == 0:
        raise InvalidArgumentError("backprop: x is empty; expected at least one sample")
    notes: list[str] = []
    a0 = rows
    for layer in plan.pre:
        if layer.explain_role == "flatten":
            shape = a0.shape[1:]
            a0 = a0.reshape(a0.shape[0], -1)
            if len(shape) > 1:
                notes.append(
                    Message(
                        N_(
                            "{layer}: Flatten turns each sample of shape {shape} into a^0 "
                            "with {n} entries."
                        ),
                        layer=repr(layer.name),
                        shape=str(tuple(shape)),
                        n=a0.shape[1],
                    )
                )
        elif layer.explain_role == "scale":
            a0 = a0 * layer.scale + layer.offset
            notes.append(
                Message(
                    N_("{layer}: a^0 = x · {scale}{offset} (Rescaling)."),
                    layer=repr(layer.name),
                    scale=f"{layer.scale:g}",
                    offset=f" + {layer.offset:g}" if layer.offset else "",
                )
            )
        elif layer.explain_role == "normalize":
            # The layer's own constants: a fixed affine map, nothing in it is trained.
            inv, mean = (np.asarray(v, dtype=np.float64) for v in layer.scale_and_shift())
            a0 = (a0 - mean) * inv
            notes.append(
                Message(
                    N_(
                        "{layer}: a^0 = (x − μ) ⊘ s per feature (Normalization with the fixed "
                        "statistics μ = {mean}, s = {std}): an affine map of the inputs with "
                        "nothing to learn, applied before layer 1."
                    ),
                    layer=repr(layer.name),
                    mean=_short(mean),
                    std=_short(1.0 / inv),
                )
            )
    if a0.ndim != 2 or a0.shape[1] != n_in:
        expected = f"({n_in},)" if per is None else f"{tuple(per)}"
        raise ShapeError(
            f"backprop: x of shape {arr.shape} does not fit the model, whose samples have "
            f"shape {expected}; pass one sample of that shape or a batch (n, ...)"
        )
    return rows, a0, rows.shape[0] == 1, notes


def _short(values: np.ndarray, limit: int = 4) -> str:
    """A few numbers for a note: [0.5, 0.25] or [0.5, 0.25, …] (784 values)."""
    flat = np.asarray(values).reshape(-1)
    shown = ", ".join(f"{v:.4g}" for v in flat[:limit])
    return f"[{shown}]" if flat.size <= limit else f"[{shown}, …] ({flat.size} values)"


def _prepare_targets(
    loss: losses_module.Loss, y: Any, n: int, k: int
) -> tuple[Any, np.ndarray, np.ndarray | None]:
    """(targets as the loss takes them, target matrix (n, K), labels or None)."""
    arr = np.asarray(y.data if isinstance(y, Tensor) else y)
    if arr.dtype.kind not in "fiub":
        raise InvalidArgumentError(f"backprop: y must hold numbers, received {describe(arr)}")
    if isinstance(loss, losses_module.SparseCategoricalCrossentropy):
        if arr.size != n:
            raise ShapeError(
                f"backprop: {loss.name} needs one integer label per sample "
                f"({n}), received y of shape {arr.shape}"
            )
        labels = arr.reshape(n)
        loss.check(labels, np.empty((n, k)))
        labels = labels.astype(np.int64)
        matrix = np.zeros((n, k))
        matrix[np.arange(n), labels] = 1.0
        return labels, matrix, labels
    if arr.size != n * k:
        raise ShapeError(
            f"backprop: y must have {k} target value(s) per sample to match the "
            f"output layer ({n} sample(s)), received y of shape {arr.shape}"
        )
    matrix = arr.astype(np.float64).reshape(n, k)
    if not np.isfinite(matrix).all():
        raise InvalidArgumentError("backprop: y contains NaN or inf")
    loss.check(matrix, np.empty((n, k)))
    return matrix, matrix, None


def _softmax_jacobian(a: np.ndarray) -> np.ndarray:
    """J_ij = ∂a_i/∂z_j = a_i (δ_ij − a_j), one (K, K) matrix per row of a."""
    k = a.shape[-1]
    return a[:, :, None] * np.eye(k)[None] - a[:, :, None] * a[:, None, :]


def _sigma(act: Activation, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """a = σ(z) and σ'(z) (or the softmax Jacobian), from the activation's own functions."""
    a = np.asarray(act.function(z), dtype=np.float64)
    if act.kernel.elementwise:
        return a, np.asarray(act.derivative(z), dtype=np.float64), False
    return a, _softmax_jacobian(a), True


def _logit_loss_parts(
    loss: losses_module.Loss, a: np.ndarray, ymat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(C_x per sample, ∇_a C_x) for a cross-entropy that takes the outputs as logits."""
    k = a.shape[1]
    if isinstance(loss, losses_module.BinaryCrossentropy):
        per = (np.maximum(a, 0) - a * ymat + np.log1p(np.exp(-np.abs(a)))).mean(axis=1)
        return per, (stable_sigmoid(a) - ymat) / k
    if isinstance(
        loss, (losses_module.CategoricalCrossentropy, losses_module.SparseCategoricalCrossentropy)
    ):
        per = -(ymat * stable_log_softmax(a, -1)).sum(axis=1)
        return per, stable_softmax(a, -1) * ymat.sum(axis=1, keepdims=True) - ymat
    raise InvalidArgumentError(f"backprop: from_logits=True is not meaningful for {loss.name}")


def _fused(loss: losses_module.Loss, act: Activation) -> bool:
    return (
        not loss.from_logits
        and loss.fused_activation is not None
        and act.kernel.name == loss.fused_activation
    )


def _forward(
    specs: list[_Spec], a0: np.ndarray, weights: list[tuple[np.ndarray, np.ndarray]]
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]]:
    """Per layer (a_prev, z, a, σ', jacobian?) from z^l = W^l a^{l−1} + b^l, a^l = σ(z^l)."""
    out = []
    a_prev = a0
    for spec, (W, b) in zip(specs, weights):
        z = a_prev @ W.T + b
        a, sp, jac = _sigma(spec.act, z)
        out.append((a_prev, z, a, sp, jac))
        a_prev = a
    return out


def _cost(
    loss: losses_module.Loss,
    y_loss: Any,
    ymat: np.ndarray,
    aL: np.ndarray,
    zL: np.ndarray,
    fused: bool,
) -> np.ndarray:
    """C_x per sample. A cross-entropy fused with its softmax/sigmoid is computed stably from
    z^L, as training computes it; otherwise from the loss's own formula on a^L."""
    if loss.from_logits:
        return _logit_loss_parts(loss, aL, ymat)[0]
    if fused:
        return _logit_loss_parts(loss, zL, ymat)[0]
    return np.asarray(loss.per_sample(y_loss, aL), dtype=np.float64).reshape(len(aL))


_CLIPPING = (
    losses_module.BinaryCrossentropy,
    losses_module.CategoricalCrossentropy,
    losses_module.SparseCategoricalCrossentropy,
)


def backprop(
    model: Any, x: Any, y: Any, loss: Any = None, learning_rate: float | None = None
) -> BackpropTrace:
    """Trace one sample (or a small batch) through the forward pass and BP1–BP4.

    ``model``: a Sequential of Dense layers (any activation; Flatten, Dropout — the identity,
    as at inference — and Activation layers allowed), or one with Conv2D, MaxPooling2D,
    AveragePooling2D and BatchNormalization layers (traced by ``glassnet.explain.conv``);
    anything else raises NotTraceableError naming the layer. ``x``: one sample (its
    per-sample shape, e.g. (in,) or (1, in)) or a batch (n, in). ``y``: its targets — (K,) /
    (n, K), or integer labels for sparse_categorical_crossentropy. ``loss``: a name, class or
    Loss; default: the model's compiled loss. ``learning_rate``: if given, the trace also
    shows W := W − α ∂C/∂W.

    Everything is computed in float64 from the equations (see the module docstring), then
    compared with the autograd engine and with central differences on some parameters.
    """
    chain = kernel_chain(model)
    if chain is not None:
        from .conv import is_conv_chain

        if is_conv_chain(chain):  # convolution, pooling, batch normalisation: explain/conv.py
            from .conv import conv_backprop

            return conv_backprop(model, x, y, loss, learning_rate)
    plan = _plan(model)
    loss_obj = resolve_loss(model, loss)
    alpha = _check_learning_rate(learning_rate)
    raw, a0, single, input_notes = _prepare_input(model, plan, x)
    n = a0.shape[0]
    last = plan.specs[-1]
    assert last.dense.W is not None
    k_out = int(last.dense.W.shape[0])
    y_loss, ymat, labels = _prepare_targets(loss_obj, y, n, k_out)
    if loss_obj.from_logits and not isinstance(
        loss_obj,
        (
            losses_module.BinaryCrossentropy,
            losses_module.CategoricalCrossentropy,
            losses_module.SparseCategoricalCrossentropy,
        ),
    ):
        raise InvalidArgumentError(
            f"backprop: from_logits=True is not meaningful for {loss_obj.name}"
        )

    weights: list[tuple[np.ndarray, np.ndarray]] = []
    for spec in plan.specs:
        assert spec.dense.W is not None
        W = np.array(spec.dense.W.data, dtype=np.float64)
        b = (
            np.array(spec.dense.b.data, dtype=np.float64)
            if spec.dense.b is not None
            else np.zeros(W.shape[0])
        )
        weights.append((W, b))

    # ---- forward pass and cost ---------------------------------------------------------------
    fwd = _forward(plan.specs, a0, weights)
    _, zL, aL, spL, jacL = fwd[-1]
    fused = _fused(loss_obj, last.act)
    per_sample = _cost(loss_obj, y_loss, ymat, aL, zL, fused)
    cost = float(per_sample.mean())
    extra_notes: list[str] = []
    if fused:
        extra_notes.append(
            Message(
                N_(
                    "The cost is computed from z^{L} with the stable fused {activation} + "
                    "{loss} formula, as in training."
                ),
                L=len(plan.specs),
                activation=last.act.kernel.name,
                loss=loss_obj.name,
            )
        )

    # ---- BP1 ---------------------------------------------------------------------------------
    if loss_obj.from_logits:
        grad_aL = _logit_loss_parts(loss_obj, aL, ymat)[1]
    else:
        grad_aL = np.asarray(loss_obj.gradient(y_loss, aL), dtype=np.float64).reshape(aL.shape)
        if isinstance(loss_obj, _CLIPPING):
            # The cost clips a to [ε, 1 − ε] before the log; outside, C does not change with a.
            clipped = (aL < losses_module.EPSILON) | (aL > 1.0 - losses_module.EPSILON)
            if clipped.any() and not fused:
                grad_aL = np.where(clipped, 0.0, grad_aL)
                extra_notes.append(
                    f"{int(clipped.sum())} output(s) lie outside [ε, 1 − ε] (ε = "
                    f"{losses_module.EPSILON:g}), where {loss_obj.name} clips a^L before the "
                    f"log, so ∂C/∂a is 0 there."
                )
    if fused and last.act.kernel.name == "softmax":
        delta_rule = FUSED_SOFTMAX
        # softmax(z)·Σ_k y_k − y: a^L − y whenever the targets of a sample sum to 1.
        deltaL = aL * ymat.sum(axis=1, keepdims=True) - ymat
    elif fused:
        delta_rule = FUSED_SIGMOID
        deltaL = (aL - ymat) / k_out
    elif jacL:
        delta_rule = JACOBIAN
        deltaL = np.einsum("nij,ni->nj", spL, grad_aL)
    else:
        delta_rule = BP1
        deltaL = grad_aL * spL

    # ---- BP2, backwards ----------------------------------------------------------------------
    deltas: list[np.ndarray] = [np.empty(0)] * len(plan.specs)
    grads_a: list[np.ndarray] = [np.empty(0)] * len(plan.specs)
    deltas[-1], grads_a[-1] = deltaL, grad_aL
    for i in range(len(plan.specs) - 2, -1, -1):
        W_next = weights[i + 1][0]
        back = deltas[i + 1] @ W_next  # one row per sample: (W^{l+1})ᵀ δ^{l+1}
        _, _, _, sp, jac = fwd[i]
        grads_a[i] = back
        deltas[i] = np.einsum("nij,ni->nj", sp, back) if jac else back * sp

    # ---- BP3, BP4, update --------------------------------------------------------------------
    def per(arr: np.ndarray) -> np.ndarray:
        return arr[0] if single else arr

    layers: list[LayerTrace] = []
    for i, spec in enumerate(plan.specs):
        W, b = weights[i]
        a_prev, z, a, sp, jac = fwd[i]
        delta = deltas[i]
        grad_W = delta.T @ a_prev / n  # BP4 averaged: 1/n Σ_x δ_x (a_x)ᵀ
        grad_b = delta.mean(axis=0)  # BP3 averaged: 1/n Σ_x δ_x
        lt = LayerTrace(
            index=i + 1,
            name=spec.dense.name,
            activation=spec.act.kernel.name,
            a_prev=per(a_prev),
            W=W,
            b=b,
            z=per(z),
            a=per(a),
            sigma_prime=per(sp),
            grad_a=per(grads_a[i]),
            delta=per(delta),
            grad_W=grad_W,
            grad_b=grad_b,
            use_bias=spec.dense.b is not None,
            jacobian=jac,
            activation_params=dict(spec.act.kernel.params),
            notes=list(spec.notes),
        )
        if alpha is not None:
            lt.W_updated = W - alpha * grad_W
            lt.b_updated = b - alpha * grad_b if lt.use_bias else b.copy()
        layers.append(lt)

    notes = list(plan.notes) + input_notes + extra_notes
    dtypes = {str(spec.dense.W.data.dtype) for spec in plan.specs if spec.dense.W is not None}
    if dtypes != {"float64"}:
        notes.append(
            Message(
                N_(
                    "The model's weights are {dtypes}; the trace and its checks use float64 "
                    "copies of them."
                ),
                dtypes=", ".join(sorted(dtypes)),
            )
        )
    trace = BackpropTrace(
        layers=layers,
        loss=loss_obj,
        cost=cost,
        per_sample_cost=per_sample,
        x=raw[0] if single else raw,
        y=(ymat[0] if labels is None else labels)
        if single
        else (ymat if labels is None else labels),
        y_matrix=per(ymat),
        labels=labels,
        single=single,
        learning_rate=alpha,
        delta_rule=delta_rule,
        notes=notes,
        model_name=str(getattr(model, "name", "model")),
    )
    _engine_check(trace, plan, a0, y_loss, ymat, weights, fused)
    _spot_check(trace, plan, a0, y_loss, ymat, weights)
    return trace


# =============================================================================================
# The witnesses
# =============================================================================================
def _relative(eq: np.ndarray, eng: np.ndarray, floor: float = 0.0) -> float:
    """max |eq − engine| over the array, relative to the array's largest entry (or to
    ``floor`` when that is larger: an array that is zero up to rounding is judged against the
    trace's largest gradient, not against its own noise)."""
    diff = float(np.max(np.abs(eq - eng))) if eq.size else 0.0
    if not math.isfinite(diff):
        return math.inf
    scale = max(
        float(np.max(np.abs(eq))) if eq.size else 0.0,
        float(np.max(np.abs(eng))) if eng.size else 0.0,
        floor,
    )
    if diff == 0.0:
        return 0.0
    return diff / scale if scale > 0 else math.inf


def engine_forward(
    specs: Sequence[Any],
    a0: np.ndarray,
    params: list[tuple[Tensor, Tensor | None]],
    loss: losses_module.Loss,
    y_loss: Any,
    fused: bool,
    names: dict[str, Tensor] | None = None,
) -> tuple[Tensor, list[Tensor]]:
    """The autograd path training takes: (cost tensor, the z^l tensors with retained grads).

    ``names``, when given, receives the tensors under the trace's names: a0, W1, b1, z1, a1, …,
    C (an activation that returns its input adds no a^l).
    """
    named = names if names is not None else {}
    a: Tensor = Tensor(a0, dtype="float64")
    named["a0"] = a
    zs: list[Tensor] = []
    for l, (spec, (W_t, b_t)) in enumerate(zip(specs, params), 1):
        named[f"W{l}"] = W_t
        if b_t is not None:
            named[f"b{l}"] = b_t
        # The training engine's own Dense kernels (one graph node), on float64 leaves.
        twin = copy.copy(spec.dense)
        twin.W, twin.b, twin.dtype = W_t, b_t, np.dtype(np.float64)
        z = twin.forward_logits(a)
        z.retain_grad()
        zs.append(z)
        named[f"z{l}"] = z
        if l == len(specs) and fused:
            break
        a = spec.act.forward(z)
        if a is not z:
            named[f"a{l}"] = a
    cost = loss.from_logits_tensor(y_loss, zs[-1]) if fused else loss(y_loss, a)
    named["C"] = cost
    return cost, zs


def _float64_params(
    specs: Sequence[Any], weights: Sequence[tuple[np.ndarray, np.ndarray | None]]
) -> list[tuple[Tensor, Tensor | None]]:
    """Leaf parameters (float64 copies) for each layer's W and b."""
    return [
        (
            Parameter(np.array(W, dtype=np.float64)),
            None if spec.dense.b is None or b is None else Parameter(np.array(b, dtype=np.float64)),
        )
        for spec, (W, b) in zip(specs, weights)
    ]


def engine_graph(
    model: Any, x: Any, y: Any, loss: Any = None, where: str = "engine_graph"
) -> tuple[Tensor, dict[str, Tensor]]:
    """The autograd graph of the cost C for (x, y) through a traceable Sequential, on float64
    copies of the weights (the model is not touched), and its tensors by the trace's names."""
    plan = _plan(model, where)
    loss_obj = resolve_loss(model, loss, where)
    _, a0, _, _ = _prepare_input(model, plan, x)
    y_loss, _, _ = _prepare_targets(loss_obj, y, a0.shape[0], plan.specs[-1].dense.units)
    weights = [
        (spec.dense.W.data, None if spec.dense.b is None else spec.dense.b.data)  # type: ignore[union-attr]
        for spec in plan.specs
    ]
    names: dict[str, Tensor] = {}
    fused = _fused(loss_obj, plan.specs[-1].act)
    params = _float64_params(plan.specs, weights)
    cost, _ = engine_forward(plan.specs, a0, params, loss_obj, y_loss, fused, names)
    return cost, names


def _engine_check(
    trace: BackpropTrace,
    plan: _Plan,
    a0: np.ndarray,
    y_loss: Any,
    ymat: np.ndarray,
    weights: list[tuple[np.ndarray, np.ndarray]],
    fused: bool,
) -> None:
    params = _float64_params(plan.specs, weights)
    cost, zs = engine_forward(plan.specs, a0, params, trace.loss, y_loss, fused)
    cost.backward()
    n = a0.shape[0]
    trace.engine_cost = float(cost.data)
    pairs: list[tuple[str, np.ndarray, np.ndarray]] = [
        ("C", np.asarray(trace.cost), np.asarray(trace.engine_cost))
    ]
    for lt, (W_t, b_t), z in zip(trace.layers, params, zs):
        l = lt.index
        gz = z.grad if z.grad is not None else np.zeros_like(z.data)
        lt.engine_delta = (gz * n)[0] if trace.single else gz * n  # z.grad is ∂C/∂z = δ_x / n
        lt.engine_grad_W = W_t.grad if W_t.grad is not None else np.zeros_like(W_t.data)
        pairs.append((f"δ^{l}", lt.delta, lt.engine_delta))
        pairs.append((f"∂C/∂W^{l}", lt.grad_W, lt.engine_grad_W))
        if b_t is not None:
            lt.engine_grad_b = b_t.grad if b_t.grad is not None else np.zeros_like(b_t.data)
            pairs.append((f"∂C/∂b^{l}", lt.grad_b, lt.engine_grad_b))
    trace._pairs = pairs
    ref = max(
        [float(np.max(np.abs(lt.grad_a))) for lt in trace.layers[-1:]]
        + [float(np.max(np.abs(eq))) for label, eq, _ in pairs[1:]],
        default=0.0,
    )
    trace.discrepancies = {
        label: _relative(eq, eng, 0.0 if label == "C" else 1e-6 * ref) for label, eq, eng in pairs
    }


def _spot_indices(
    shape: tuple[int, ...], grad: np.ndarray, count: int, rng: np.random.Generator
) -> list[tuple[int, ...]]:
    size = int(np.prod(shape))
    if size <= count:
        return [tuple(int(v) for v in np.unravel_index(i, shape)) for i in range(size)]
    chosen = {int(np.argmax(np.abs(grad)))}
    while len(chosen) < count:
        chosen.add(int(rng.integers(size)))
    return [tuple(int(v) for v in np.unravel_index(i, shape)) for i in sorted(chosen)]


NUMERICAL_RTOL = 1e-5
NUMERICAL_ATOL = 1e-8


def _spot_ok(numerical: float, analytic: float, cost: float, rtol: float, atol: float) -> bool:
    """Central differences carry rounding error ~1e-16·|C|/ε: atol scales with |C| above 1."""
    bound = atol * max(1.0, abs(cost)) + rtol * max(abs(numerical), abs(analytic))
    return abs(numerical - analytic) <= bound


def _spot_check(
    trace: BackpropTrace,
    plan: _Plan,
    a0: np.ndarray,
    y_loss: Any,
    ymat: np.ndarray,
    weights: list[tuple[np.ndarray, np.ndarray]],
    per_layer: int = 6,
    eps: float = 1e-6,
) -> None:
    """Central differences of C on up to ``per_layer`` weights and biases of each layer."""
    rng = np.random.default_rng(0)

    fused = _fused(trace.loss, plan.specs[-1].act)

    def cost_with(ws: list[tuple[np.ndarray, np.ndarray]]) -> float:
        fwd = _forward(plan.specs, a0, ws)
        return float(_cost(trace.loss, y_loss, ymat, fwd[-1][2], fwd[-1][1], fused).mean())

    checks: list[SpotCheck] = []
    for i, lt in enumerate(trace.layers):
        W, b = weights[i]
        targets = [("W", idx) for idx in _spot_indices(W.shape, lt.grad_W, per_layer - 2, rng)]
        if lt.use_bias:
            targets += [("b", idx) for idx in _spot_indices(b.shape, lt.grad_b, 2, rng)]
        for which, idx in targets:
            arr = W if which == "W" else b
            analytic = float(lt.grad_W[idx] if which == "W" else lt.grad_b[idx])
            original = arr[idx]
            best: float | None = None
            # A second and third step size only when the first disagrees: near a kink or
            # where C is strongly curved one ε can mislead, a wrong derivative fools none.
            for step in (eps, eps / 10, eps * 10):
                values = []
                for sign in (1.0, -1.0):
                    arr[idx] = original + sign * step
                    values.append(cost_with(weights))
                arr[idx] = original
                numerical = (values[0] - values[1]) / (2 * step)
                if best is None or abs(numerical - analytic) < abs(best - analytic):
                    best = numerical
                if _spot_ok(best, analytic, trace.cost, NUMERICAL_RTOL, NUMERICAL_ATOL):
                    break
            assert best is not None
            checks.append(SpotCheck(f"{which}^{lt.index}", lt.index, idx, best, analytic))
    trace.spot_checks = checks
