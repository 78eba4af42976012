"""``forward(model, x)``: the forward pass alone, z^l = W^l a^{l−1} + b^l and a^l = σ(z^l)
with the numbers — no target, no loss, no backward pass (seed 003 §9.3.2's three-layer
forward example; seed 000's equation (2)).

Computed in float64 from the equations, like ``backprop``, and checked against the model's own
``predict``: ``max_discrepancy`` is the largest relative difference of the output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from .trace import _forward, _plan, _prepare_input

__all__ = ["forward", "ForwardTrace", "LayerForward"]


@dataclass(eq=False)
class LayerForward:
    """Layer l (1-based) of a forward trace: a^{l−1}, W, b, z, a (per-sample arrays have one
    row per sample for a batch)."""

    index: int
    name: str
    activation: str
    a_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray
    z: np.ndarray
    a: np.ndarray
    use_bias: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def units(self) -> int:
        return int(self.W.shape[0])

    @property
    def in_features(self) -> int:
        return int(self.W.shape[1])


class ForwardTrace:
    """The result of ``forward``: ``layers`` (``layer(l)``), ``output`` (a^L) and the check
    against ``model.predict``; rendered by ``to_text``, ``to_markdown``, ``to_html``,
    ``to_dict`` in any notation preset."""

    def __init__(
        self,
        layers: list[LayerForward],
        x: np.ndarray,
        single: bool,
        notes: list[str],
        model_name: str,
    ) -> None:
        self.layers = layers
        self.x = x
        self.single = single
        self.notes = notes
        self.model_name = model_name
        self.title: str | None = None
        self.notation: str | None = None
        self.max_discrepancy = 0.0

    @property
    def L(self) -> int:  # noqa: N802 - the seeds' L
        """Number of layers with weights."""
        return len(self.layers)

    @property
    def output(self) -> np.ndarray:
        """a^L: (K,) for one sample, (n, K) for a batch."""
        return self.layers[-1].a

    def layer(self, l: int) -> LayerForward:
        """Layer l, counted from 1 (layer 0 is the input)."""
        if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not 1 <= l <= self.L:
            raise InvalidArgumentError(
                f"forward.layer: l must be an integer from 1 to {self.L}, received l={l!r}"
            )
        return self.layers[int(l) - 1]

    def describe(self) -> str:
        """``2 → 2 (sigmoid) → 2 (sigmoid)``."""
        parts = [str(self.layers[0].in_features)]
        return " → ".join(parts + [f"{lt.units} ({lt.activation})" for lt in self.layers])

    def _render(
        self, kind: str, precision: int, max_rows: int, max_cols: int, notation: Any
    ) -> Any:
        from .render import render_forward

        return render_forward(self, kind, precision, max_rows, max_cols, notation)

    def to_text(
        self, precision: int = 6, max_rows: int = 8, max_cols: int = 8, notation: Any = None
    ) -> str:
        """The forward pass for a terminal."""
        return str(self._render("text", precision, max_rows, max_cols, notation))

    def to_markdown(
        self, precision: int = 6, max_rows: int = 8, max_cols: int = 8, notation: Any = None
    ) -> str:
        """Markdown with LaTeX."""
        return str(self._render("markdown", precision, max_rows, max_cols, notation))

    def to_html(
        self, precision: int = 6, max_rows: int = 8, max_cols: int = 8, notation: Any = None
    ) -> str:
        """A self-contained HTML page (MathML)."""
        return str(self._render("html", precision, max_rows, max_cols, notation))

    def to_dict(self, notation: Any = None) -> dict[str, Any]:
        """Every array as nested lists, with the steps' equations."""
        result: dict[str, Any] = self._render("dict", 12, 8, 8, notation)
        return result

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"ForwardTrace({self.describe()}, samples={len(np.atleast_2d(self.output))})"

    def _repr_html_(self) -> str:
        return self.to_html()


def forward(model: Any, x: Any) -> ForwardTrace:
    """Trace the forward pass of one sample (or a small batch) through a Sequential of Dense
    layers — no target needed. ``x``: one sample (its per-sample shape) or a batch (n, …)."""
    plan = _plan(model, "forward")
    raw, a0, single, notes = _prepare_input(model, plan, x)
    weights = []
    for spec in plan.specs:
        assert spec.dense.W is not None
        W = np.array(spec.dense.W.data, dtype=np.float64)
        b = (
            np.array(spec.dense.b.data, dtype=np.float64)
            if spec.dense.b is not None
            else np.zeros(W.shape[0])
        )
        weights.append((W, b))
    steps = _forward(plan.specs, a0, weights)
    layers = []
    for i, (spec, (W, b), (a_prev, z, a, _, _)) in enumerate(zip(plan.specs, weights, steps)):
        pick = (lambda arr: arr[0]) if single else (lambda arr: arr)
        layers.append(
            LayerForward(
                index=i + 1,
                name=spec.dense.name,
                activation=spec.act.kernel.name,
                a_prev=pick(a_prev),
                W=W,
                b=b,
                z=pick(z),
                a=pick(a),
                use_bias=spec.dense.b is not None,
                notes=list(spec.notes),
            )
        )
    trace = ForwardTrace(
        layers, raw[0] if single else raw, single, list(plan.notes) + notes, str(model.name)
    )
    predicted = np.asarray(model.predict(raw, batch_size=max(len(raw), 1)), dtype=np.float64)
    ours = np.atleast_2d(trace.output)
    scale = max(float(np.max(np.abs(ours))), 1e-12)
    trace.max_discrepancy = float(np.max(np.abs(ours - predicted.reshape(ours.shape)))) / scale
    return trace
