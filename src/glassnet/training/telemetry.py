"""Per-layer telemetry recorded during fit: what BP1–BP4 look like while a network trains.

Every ``every`` steps (and at the first step of each epoch) the training step hands each Dense
layer's z^l, a^l, δ^l, W^l and ∂C/∂W^l to ``Telemetry.record_layer``, which keeps a handful of
numbers per layer:

=====================  =====================================================================
mean_abs_delta         mean |δ^l| — how much error reaches the layer (BP2)
grad_norm              ‖∂C/∂W^l‖ (BP4)
weight_norm            ‖W^l‖
update_ratio           ‖ΔW^l‖ / ‖W^l‖, the actual change made by the optimiser this step
grad_update_ratio      ‖α ∂C/∂W^l‖ / ‖W^l‖ with the current learning rate α
saturated_fraction     units with σ'(z) below 5 % of its maximum (sigmoid, tanh, softplus…)
dead_fraction          ReLU units whose z ≤ 0 for every sample of the batch
activation_mean/std    of a^l over the batch
=====================  =====================================================================

plus the loss and learning rate of every step, and statistics of the inputs reaching the first
Dense layer (for the "inputs not scaled" diagnosis). It is all kept on ``history.telemetry`` and
exports to CSV and JSON.

A convolution's tap names the axis of W that indexes its filters (``filter_axis``); its z, a
and δ come as (positions, filters) rows, so the statistics above read per filter (``units`` is
the number of filters, ``dead_fraction`` the share of filters with z ≤ 0 at every position of
every sample), and ``filters`` keeps, per sample, one value per filter of:

=====================  =====================================================================
zero_fraction          outputs with z ≤ 0 (ReLU: a = 0) over the batch and positions; 1 is
                       a dead filter
saturated_fraction     outputs with σ'(z) below 5 % of its maximum (sigmoid, tanh, softplus)
grad_norm              ‖∂C/∂W‖ of the filter's weights
mean_abs_delta         mean |δ| over the batch and positions
=====================  =====================================================================
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Any

import numpy as np

from ..functional.activations import Kernel

__all__ = ["Telemetry", "LAYER_STATS", "FILTER_STATS"]

LAYER_STATS = (
    "mean_abs_delta",
    "grad_norm",
    "weight_norm",
    "update_ratio",
    "grad_update_ratio",
    "saturated_fraction",
    "dead_fraction",
    "activation_mean",
    "activation_std",
)

FILTER_STATS = ("zero_fraction", "saturated_fraction", "grad_norm", "mean_abs_delta")

# Activations that saturate (σ' → 0 for large |z|) and the largest value their σ' takes.
_SATURATING_MAX_PRIME = {"sigmoid": 0.25, "tanh": 1.0, "softplus": 1.0, "softmax": 0.25}
SATURATION_THRESHOLD = 0.05
# Per filter, saturation is judged for these (a softmax's σ' couples the filters).
_FILTER_SATURATING = ("sigmoid", "tanh", "softplus")


def _mean_std(a: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation from Σa and Σa² (one pass each, no temporaries)."""
    if a.size == 0:
        return math.nan, math.nan
    flat = a.ravel(order="K")
    if flat.dtype.kind != "f":
        # Integer inputs (uint8 pixels reach the first Dense as they are on the graph path):
        # np.dot would square and add them in uint8 and wrap around.
        flat = flat.astype(np.float64)
    n = flat.size
    # Sums in the array's own precision (pairwise, so float32 is good to ~1e-6 relative);
    # asking for a float64 sum of float32 data made NumPy cast through a buffer, 2× slower.
    mean = float(np.add.reduce(flat)) / n
    square = float(np.dot(flat, flat)) / n
    return mean, math.sqrt(max(square - mean * mean, 0.0))


def _norm(a: np.ndarray) -> float:
    # ravel in memory order: a view for column-major weights too (reshape(-1) would copy).
    flat = a.ravel(order="K")
    return float(math.sqrt(float(np.dot(flat, flat))))


def _unit_shares(
    kernel: Kernel | None, z: np.ndarray | None, a: np.ndarray | None
) -> tuple[float, float]:
    """A Dense layer's saturated share (of all outputs) and dead share (of its units)."""
    saturated = dead = math.nan
    name = kernel.name if kernel is not None else "linear"
    if z is not None and a is not None:
        if name in _SATURATING_MAX_PRIME:
            prime = kernel.prime(z, a) if kernel is not None else np.ones_like(z)
            saturated = float((prime < SATURATION_THRESHOLD * _SATURATING_MAX_PRIME[name]).mean())
        if name == "relu":
            dead = float((z <= 0).all(axis=0).mean())
    return saturated, dead


class Telemetry:
    """Recorded statistics of one fit; see the module docstring for the quantities."""

    def __init__(self, every: int = 20) -> None:
        self.every = max(int(every), 1)
        self.step_loss: list[float] = []
        self.step_learning_rate: list[float] = []
        self.step_epoch: list[int] = []
        self.sample_steps: list[int] = []
        self.sample_epochs: list[int] = []
        self.layers: dict[str, dict[str, list[float]]] = {}
        self.layer_info: dict[str, dict[str, Any]] = {}
        # convolution name → statistic → one array (a value per filter) per sample
        self.filters: dict[str, dict[str, list[np.ndarray]]] = {}
        self.inputs: dict[str, list[float]] = {"mean": [], "std": [], "max_abs": []}
        self.epoch_metrics: dict[str, list[float]] = {}
        self._pending: dict[str, tuple[np.ndarray, float]] = {}

    # -- recording (called by the training step) ----------------------------------------------
    def declare_layers(self, names: list[str]) -> None:
        """Fix the order of the layers (forward order; records arrive last layer first)."""
        for name in names:
            self.layers.setdefault(name, {k: [] for k in LAYER_STATS})

    def wants(self, step: int, first_of_epoch: bool) -> bool:
        """Whether this global step is a sampled one."""
        return first_of_epoch or step % self.every == 0

    def begin_sample(self, step: int, epoch: int) -> None:
        self.sample_steps.append(step)
        self.sample_epochs.append(epoch)

    def record_inputs(self, x: np.ndarray) -> None:
        """Statistics of the inputs reaching the first Dense layer."""
        mean, std = _mean_std(x)
        self.inputs["mean"].append(mean)
        self.inputs["std"].append(std)
        # max |x| as max(max x, −min x): two reductions and no temporary array
        self.inputs["max_abs"].append(max(float(x.max()), -float(x.min())) if x.size else 0.0)

    def record_layer(
        self,
        name: str,
        kernel: Kernel | None,
        z: np.ndarray | None,
        a: np.ndarray | None,
        delta: np.ndarray | None,
        W: np.ndarray,
        grad_W: np.ndarray | None,
        learning_rate: float,
        delta_scale: float = 1.0,
        filter_axis: int | None = None,
    ) -> None:
        """Statistics of one layer at the current sample, before the optimiser step.

        ``delta`` times ``delta_scale`` is the per-sample δ (the steps pass ∂C/∂z of the batch
        mean and N, which saves a copy). ``filter_axis``: for a convolution, the axis of W
        that indexes its filters (z, a, δ are then (positions, filters) rows).
        """
        stats = self.layers.get(name)
        if stats is None:
            stats = self.layers[name] = {k: [] for k in LAYER_STATS}
        if name not in self.layer_info:
            units = int(W.shape[filter_axis or 0])
            self.layer_info[name] = {
                "activation": kernel.name if kernel else "linear",
                "units": units,
                "inputs": W.size // units if W.ndim > 1 else 1,
            }
            if filter_axis is not None:
                self.layer_info[name]["filters"] = units
        w_norm = _norm(W)
        g_norm = _norm(grad_W) if grad_W is not None else math.nan
        if filter_axis is not None:
            mean_delta, saturated, dead = self._record_filters(
                name, kernel, z, a, delta, delta_scale, W, grad_W, filter_axis
            )
        else:
            mean_delta = math.nan if delta is None else float(np.abs(delta).mean()) * delta_scale
            saturated, dead = _unit_shares(kernel, z, a)
        stats["mean_abs_delta"].append(mean_delta)
        stats["grad_norm"].append(g_norm)
        stats["weight_norm"].append(w_norm)
        stats["grad_update_ratio"].append(learning_rate * g_norm / w_norm if w_norm else math.nan)
        stats["saturated_fraction"].append(saturated)
        stats["dead_fraction"].append(dead)
        mean, std = _mean_std(a) if a is not None else (math.nan, math.nan)
        stats["activation_mean"].append(mean)
        stats["activation_std"].append(std)
        stats["update_ratio"].append(math.nan)  # filled by finish_sample after the step
        # Same layout as W, so W_after − W_before is one pass.
        self._pending[name] = (W.copy(order="K"), w_norm)

    def _record_filters(
        self,
        name: str,
        kernel: Kernel | None,
        z: np.ndarray | None,
        a: np.ndarray | None,
        delta: np.ndarray | None,
        delta_scale: float,
        W: np.ndarray,
        grad_W: np.ndarray | None,
        filter_axis: int,
    ) -> tuple[float, float, float]:
        """One value per filter of each of FILTER_STATS (NaN where it does not apply); returns
        the layer's mean |δ|, saturated share and dead share, read off the filters' (each
        filter has as many outputs, so the layer's mean is the mean of theirs)."""
        filters = int(W.shape[filter_axis])
        missing = np.full(filters, math.nan)
        per = self.filters.setdefault(name, {k: [] for k in FILTER_STATS})
        zero = sat = missing
        saturated = dead = math.nan
        name_k = kernel.name if kernel is not None else "linear"
        if z is not None and a is not None and z.size:
            rows = z.size // filters
            if name_k in _SATURATING_MAX_PRIME:
                prime = kernel.prime(z, a) if kernel is not None else np.ones_like(z)
                limit = SATURATION_THRESHOLD * _SATURATING_MAX_PRIME[name_k]
                counts = np.count_nonzero((prime < limit).reshape(rows, filters), axis=0)
                saturated = float(counts.sum()) / z.size
                if name_k in _FILTER_SATURATING:
                    sat = counts / rows
            if name_k == "relu":
                counts = np.count_nonzero((z <= 0).reshape(rows, filters), axis=0)
                zero = counts / rows
                dead = float(np.mean(counts == rows))
        per["zero_fraction"].append(zero)
        per["saturated_fraction"].append(sat)
        if grad_W is not None:
            g = np.moveaxis(grad_W, filter_axis, -1).reshape(-1, filters).astype(np.float64)
            per["grad_norm"].append(np.sqrt(np.einsum("ij,ij->j", g, g)))
        else:
            per["grad_norm"].append(missing)
        mean_delta = math.nan
        if delta is not None and delta.size:
            rows_d = np.abs(delta).reshape(-1, filters)
            # Column sums in δ's own dtype (a float64 accumulator over float32 rows made NumPy
            # cast through a buffer, 8x slower; a statistic needs no more than float32's digits).
            sums = np.einsum("ij->j", rows_d)
            per_filter = sums.astype(np.float64) / len(rows_d) * delta_scale
            per["mean_abs_delta"].append(per_filter)
            mean_delta = float(per_filter.mean())
        else:
            per["mean_abs_delta"].append(missing)
        return mean_delta, saturated, dead

    def finish_sample(self, weights: dict[str, np.ndarray]) -> None:
        """After the optimiser step: the actual update ratio ‖W_after − W_before‖ / ‖W_before‖."""
        for name, (before, w_norm) in self._pending.items():
            after = weights.get(name)
            if after is None:
                continue
            change = np.subtract(after, before, out=before)
            self.layers[name]["update_ratio"][-1] = _norm(change) / w_norm if w_norm else math.nan
        self._pending.clear()

    def drop_incomplete_sample(self) -> None:
        """Forget a sample whose step ended early (a NaN loss), keeping the series aligned."""
        self._pending.clear()
        n = min([len(self.sample_steps)] + [len(s["grad_norm"]) for s in self.layers.values()])
        del self.sample_steps[n:], self.sample_epochs[n:]
        for stats in self.layers.values():
            for values in stats.values():
                del values[n:]
        for per in self.filters.values():
            for arrays in per.values():
                del arrays[n:]

    def record_step(self, loss: float, learning_rate: float, epoch: int) -> None:
        self.step_loss.append(float(loss))
        self.step_learning_rate.append(float(learning_rate))
        self.step_epoch.append(int(epoch))

    # -- reading and export ---------------------------------------------------------------------
    def layer_series(self, name: str, stat: str) -> np.ndarray:
        """One statistic of one layer over the sampled steps."""
        return np.asarray(self.layers[name][stat], dtype=float)

    def as_dict(self) -> dict[str, Any]:
        """Everything as JSON-friendly lists (NaN as None)."""

        def clean(values: list[float]) -> list[float | None]:
            return [None if (isinstance(v, float) and not math.isfinite(v)) else v for v in values]

        return {
            "every": self.every,
            "steps": {
                "loss": clean(self.step_loss),
                "learning_rate": clean(self.step_learning_rate),
                "epoch": self.step_epoch,
            },
            "samples": {"step": self.sample_steps, "epoch": self.sample_epochs},
            "layers": {
                name: {
                    "info": self.layer_info.get(name, {}),
                    **{k: clean(v) for k, v in stats.items()},
                }
                for name, stats in self.layers.items()
            },
            "inputs": {k: clean(v) for k, v in self.inputs.items()},
            "filters": {
                name: {k: [clean([float(x) for x in arr]) for arr in v] for k, v in per.items()}
                for name, per in self.filters.items()
            },
            "epoch_metrics": {k: clean(v) for k, v in self.epoch_metrics.items()},
        }

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """JSON text (also written atomically to ``path`` when given)."""
        text = json.dumps(self.as_dict(), indent=1)
        if path is not None:
            from ..io.atomic import atomic_write_text

            atomic_write_text(path, text)
        return text

    def to_csv(self, path: str | os.PathLike[str] | None = None) -> str:
        """One row per sampled step and layer: step, epoch, layer, then every statistic."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["step", "epoch", "layer", *LAYER_STATS])
        for i, (step, epoch) in enumerate(zip(self.sample_steps, self.sample_epochs)):
            for name, stats in self.layers.items():
                if i < len(stats["grad_norm"]):
                    writer.writerow([step, epoch, name, *(stats[k][i] for k in LAYER_STATS)])
        text = buffer.getvalue()
        if path is not None:
            from ..io.atomic import atomic_write_text

            atomic_write_text(path, text)
        return text

    def __repr__(self) -> str:
        return (
            f"Telemetry({len(self.step_loss)} steps, {len(self.sample_steps)} samples of "
            f"{len(self.layers)} layers, every {self.every} steps)"
        )
