"""The perceptron of seed 003 §9.1–9.2: an MP neuron with a step (or sign) output, trained by
the perceptron rule, which draws a straight decision boundary w·x + b = 0.

    z = w·x + b        ŷ = g(z) = 1 if z > 0 else 0     (step; sign gives +1 / −1)
    for each misclassified sample:  w += α (y − ŷ) x,   b += α (y − ŷ)

It learns AND and OR, whose classes a line separates. On XOR no line separates the classes,
and the perceptron never stops updating: when the samples are visited in a fixed order its
weights come back to a state they had before, which *proves* no linear boundary exists (had one
existed, the perceptron convergence theorem says it would have found it and stopped). The
two-layer network ``xor_network()`` solves XOR with a hidden layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, ShapeError, describe
from .notation import fmt_number

__all__ = ["Perceptron", "PerceptronResult"]

_OUTPUTS = {"step": (0.0, 1.0), "sign": (-1.0, 1.0)}


@dataclass
class PerceptronResult:
    """What ``Perceptron.fit`` found.

    ``converged``: an epoch passed without a mistake. ``linearly_separable``: True when it
    converged, False when the weights cycled (a proof that no line/hyperplane separates the
    classes), None when ``max_epochs`` ran out without either. ``weights``, ``bias``: the final
    boundary w·x + b = 0 (see ``boundary_equation``). ``errors_per_epoch``: mistakes in each
    epoch. ``message``: one paragraph saying what happened.
    """

    converged: bool
    linearly_separable: bool | None
    epochs: int
    accuracy: float
    weights: np.ndarray
    bias: float
    errors_per_epoch: list[int]
    message: str
    cycle: tuple[int, int] | None = None
    history: list[tuple[np.ndarray, float]] = field(default_factory=list, repr=False)

    @property
    def decision_boundary(self) -> np.ndarray:
        """The coefficients (w_1, …, w_n, b) of the boundary w·x + b = 0."""
        return np.append(self.weights, self.bias)

    def boundary_equation(self, precision: int = 4) -> str:
        """The boundary as an equation, e.g. ``2·x1 + 1·x2 − 2 = 0``."""
        return _equation(self.weights, self.bias, precision)

    def boundary_line(self) -> tuple[float, float] | None:
        """For two inputs: (slope, intercept) of the line x2 = slope·x1 + intercept (None if
        the boundary is vertical or there are not two inputs)."""
        if self.weights.shape != (2,) or self.weights[1] == 0:
            return None
        w1, w2 = self.weights
        return float(-w1 / w2), float(-self.bias / w2)

    def __str__(self) -> str:
        return f"{self.message}\nBoundary: {self.boundary_equation()}"


def _equation(w: np.ndarray, b: float, precision: int) -> str:
    terms = []
    for i, wi in enumerate(w, 1):
        sign = "−" if wi < 0 else "+"
        body = f"{fmt_number(abs(float(wi)), precision)}·x{i}"
        terms.append((sign, body))
    if b != 0 or not terms:
        terms.append(("−" if b < 0 else "+", fmt_number(abs(float(b)), precision)))
    first_sign, first = terms[0]
    text = ("−" if first_sign == "−" else "") + first
    for sign, body in terms[1:]:
        text += f" {sign} {body}"
    return text + " = 0"


class Perceptron:
    """Seed 003's single-layer perceptron: z = w·x + b, ŷ = step(z) (or sign(z)).

    ``learning_rate`` α of the perceptron rule, ``max_epochs`` passes over the data,
    ``output``: "step" (targets 0/1) or "sign" (targets −1/+1). Weights start at zero unless
    ``weights``/``bias`` are given; samples are visited in order unless ``shuffle`` (then
    ``seed`` makes it repeatable — but a cycle no longer proves anything).
    """

    def __init__(
        self,
        learning_rate: float = 1.0,
        max_epochs: int = 100,
        output: str = "step",
        weights: Any = None,
        bias: float = 0.0,
        shuffle: bool = False,
        seed: int | None = None,
    ) -> None:
        if (
            isinstance(learning_rate, bool)
            or not isinstance(learning_rate, (int, float))
            or not math.isfinite(learning_rate)
            or learning_rate <= 0
        ):
            raise InvalidArgumentError(
                f"Perceptron: learning_rate must be a positive number, "
                f"received learning_rate={learning_rate!r}"
            )
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
            raise InvalidArgumentError(
                f"Perceptron: max_epochs must be a positive integer, "
                f"received max_epochs={max_epochs!r}"
            )
        if output not in _OUTPUTS:
            raise InvalidArgumentError(
                f"Perceptron: output must be 'step' or 'sign', received output={output!r}"
            )
        self.learning_rate = float(learning_rate)
        self.max_epochs = max_epochs
        self.output = output
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.weights: np.ndarray | None = (
            None if weights is None else np.asarray(weights, dtype=np.float64).copy()
        )
        self.bias = float(bias)
        self.result: PerceptronResult | None = None

    # -- the neuron -------------------------------------------------------------------------------
    def net_input(self, X: Any) -> np.ndarray:
        """z = X w + b for samples X of shape (n, inputs) (or one sample (inputs,))."""
        if self.weights is None:
            raise InvalidArgumentError("Perceptron: call fit() first (or give weights=)")
        x = np.asarray(X, dtype=np.float64)
        if x.shape[-1:] != self.weights.shape:
            raise ShapeError(
                f"Perceptron: inputs must have {self.weights.size} features, received {describe(x)}"
            )
        return x @ self.weights + self.bias  # type: ignore[no-any-return]

    def activation(self, z: Any) -> np.ndarray:
        """The MP neuron's output: 1 where z > 0, else 0 (step) or −1 (sign)."""
        low, high = _OUTPUTS[self.output]
        return np.where(np.asarray(z) > 0, high, low)

    def predict(self, X: Any) -> np.ndarray:
        """ŷ for samples X."""
        return self.activation(self.net_input(X))

    # -- training ------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> PerceptronResult:
        """Train with the perceptron rule; never raises for data a line cannot separate."""
        x = np.asarray(X, dtype=np.float64)
        t = np.asarray(y, dtype=np.float64).reshape(-1)
        if x.ndim != 2 or len(x) == 0:
            raise ShapeError(
                f"Perceptron.fit: X must have shape (n, inputs) with n ≥ 1, received {describe(x)}"
            )
        if len(t) != len(x):
            raise ShapeError(f"Perceptron.fit: X has {len(x)} samples but y has {len(t)}")
        allowed = _OUTPUTS[self.output]
        if not np.isin(t, allowed).all():
            raise InvalidArgumentError(
                f"Perceptron.fit: with output={self.output!r} the targets must be "
                f"{int(allowed[0])} or {int(allowed[1])}, received values "
                f"{sorted(set(np.unique(t).tolist()) - set(allowed))[:5]}"
            )
        if self.weights is None or self.weights.shape != (x.shape[1],):
            self.weights = np.zeros(x.shape[1])
        w, b = self.weights, self.bias
        alpha = self.learning_rate
        rng = np.random.default_rng(self.seed)
        seen: dict[bytes, int] = {}
        errors_per_epoch: list[int] = []
        history: list[tuple[np.ndarray, float]] = []
        cycle: tuple[int, int] | None = None
        converged = False
        epoch = 0
        for epoch in range(1, self.max_epochs + 1):
            key = np.append(w, b).tobytes()
            if not self.shuffle and cycle is None and key in seen:
                cycle = (seen[key], epoch)
            seen.setdefault(key, epoch)
            order = rng.permutation(len(x)) if self.shuffle else range(len(x))
            errors = 0
            for i in order:
                y_hat = self.activation(x[i] @ w + b)
                if y_hat != t[i]:
                    step = alpha * (t[i] - y_hat)  # the perceptron rule
                    w = w + step * x[i]
                    b = b + step
                    errors += 1
            errors_per_epoch.append(errors)
            history.append((w.copy(), float(b)))
            if errors == 0:
                converged = True
                break
        self.weights, self.bias = w, float(b)
        accuracy = float(np.mean(self.predict(x) == t))
        wrong = int(round((1 - accuracy) * len(x)))
        if converged:
            separable: bool | None = True
            message = (
                f"Converged after {epoch} epoch(s): every sample is classified correctly "
                f"(accuracy 100%), so the boundary {_equation(w, b, 4)} separates the "
                f"classes."
            )
        elif cycle is not None:
            separable = False
            message = (
                f"No linear decision boundary exists: after {epoch} epochs the perceptron still "
                f"misclassifies {wrong} of {len(x)} samples, and its weights at the start of "
                f"epoch {cycle[1]} equal those at the start of epoch {cycle[0]}, so it would "
                f"cycle forever (if a separating line or hyperplane existed, the perceptron "
                f"convergence theorem says it would have stopped). These classes need a hidden "
                f"layer — see glassnet.explain.xor_network()."
            )
        else:
            separable = None
            message = (
                f"Did not converge in {epoch} epochs: no linear decision boundary was found "
                f"({wrong} of {len(x)} samples still misclassified); the classes are probably "
                f"not linearly separable, or need more epochs."
            )
        self.result = PerceptronResult(
            converged=converged,
            linearly_separable=separable,
            epochs=epoch,
            accuracy=accuracy,
            weights=w.copy(),
            bias=float(b),
            errors_per_epoch=errors_per_epoch,
            message=message,
            cycle=cycle,
            history=history,
        )
        return self.result

    def __repr__(self) -> str:
        return (
            f"Perceptron(learning_rate={self.learning_rate:g}, max_epochs={self.max_epochs}, "
            f"output={self.output!r})"
        )
