"""The fast training step: a loop over the layers' own kernels, without an autograd graph.

For a Sequential whose every layer is computed by its kernels (``nn/layers/base.py``), the
graph built each step is always the same, so building it only to walk it back is overhead.
``FusedStep`` calls the same kernels directly, as the seeds write backpropagation:

    forward   a^l = layer_l.forward_kernel(a^{l−1})          (z^l = a^{l−1}(W^l)ᵀ + b^l, σ …)
    BP1       δ^L from the loss's ``output_error``           (the fused a^L − y where paired)
    BP2–BP4   g = layer_l.backward_kernel(g), last layer first: ∂C/∂b, ∂C/∂W into each
              parameter's ``.grad`` (views into the optimiser's flat buffer), ∂C/∂a^{l−1} on

with contexts that keep each layer's buffers from step to step, no gradient for the input batch
and nothing computed below the lowest trainable layer. What differs from the graph is only
*how* the same math runs: the execution context passes compiled elementwise ops (numba, when
available; bit-identical to NumPy's) and, for a large first layer, a product split over two
cores (``split.py``). A model the kernels cannot honour exactly — a layer or model that
overrides ``forward``, a model that overrides ``train_step``, a loss without an array form —
goes through the graph instead: ``fast_path_problem`` names why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..functional.array_ops import NUMPY_OPS
from ..nn.layers import Context, Layer, forcing_inference
from ..optim import accelerated
from . import kernels, parallel
from .head import OutputHead
from .split import HALVED_OPS, SPLIT_MIN, FirstLayerSplit, RowSplit, Scaling
from .step import StepResult

__all__ = [
    "FusedStep",
    "fast_path_problem",
    "forward_arrays",
    "inference_rows",
    "execution_ops",
    "structure_key",
    "kernel_chain",
]


def kernel_chain(model: Any) -> list[Layer] | None:
    """The layers a model runs one after the other: a Sequential's, or a functional model's
    whose graph is a plain chain (``Functional.chain_layers``); None for any other model."""
    from .model import Sequential

    if isinstance(model, Sequential):
        return model.layers
    chain = getattr(model, "chain_layers", None)
    return chain() if callable(chain) else None  # type: ignore[no-any-return]


def fast_path_problem(model: Any) -> str | None:
    """Why fit cannot run this model through the fast step exactly, or None when it can."""
    from .model import Model

    cls = type(model)
    layers = kernel_chain(model)
    if layers is None:
        return f"{cls.__name__} is not a Sequential or a chain of layers"
    if cls.train_step is not Model.train_step:
        return f"{cls.__name__} overrides train_step"
    if not layers:
        return "the model has no layers"
    problem = inference_problem(model)
    if problem is not None:
        return problem
    params = model.parameters()
    if len({p.data.dtype for p in params}) > 1:
        return "the parameters have more than one dtype"
    # every parameter a layer holds, trained or not (BatchNormalization's moving statistics)
    if len({id(p) for p in params}) != sum(len(layer.parameters()) for layer in layers):
        return "a parameter is shared between layers"
    return None


def inference_problem(model: Any) -> str | None:
    """Why predict/evaluate cannot run the layers' kernels on arrays, or None."""
    from .functional import Functional
    from .model import Sequential

    layers = kernel_chain(model)
    if layers is None:
        return f"{type(model).__name__} is not a Sequential or a chain of layers"
    base = Sequential if isinstance(model, Sequential) else Functional
    for method in ("forward", "forward_logits", "__call__"):
        if getattr(type(model), method) is not getattr(base, method):
            return f"{type(model).__name__} overrides {method}"
    for layer in layers:
        problem = layer.fast_step_problem()
        if problem is not None:
            return problem
    return None


def structure_key(model: Any) -> tuple[Any, ...]:
    """What a cached step depends on: the layers, their parameters, dtypes and trainability."""
    return tuple(
        (id(layer), *((id(p), p.data.dtype, p.requires_grad) for p in layer.kernel_parameters()))
        for layer in kernel_chain(model) or []
    )


def execution_ops() -> Any:
    """The elementwise ops the fast paths use: compiled when numba is enabled, else NumPy."""
    return kernels.COMPILED_OPS if accelerated.enabled() else NUMPY_OPS


# Below this many rows a compiled op's dispatch costs more than NumPy's loop over the row
# (they compute the same bits: kernels.py checks it), so a small batch takes NumPy's ops.
SMALL_BATCH = 8


def forward_arrays(
    layers: Sequence[Layer], x: np.ndarray, logits: bool = False, training: bool = False
) -> np.ndarray:
    """The layers' output for a batch, from their kernels (no tensors): in inference mode, or
    with ``training=True`` in each layer's own mode (``layer.training``), as the graph runs.

    ``logits=True`` stops the last layer before its activation (the loss pairs with it).
    """
    ops = NUMPY_OPS if len(x) < SMALL_BATCH else execution_ops()
    if training:
        return _forward_chain(layers, x, _contexts(layers, ops, logits, training, False))
    with forcing_inference():
        rows = inference_rows(layers)
        if rows is None or len(x) <= rows:
            return _forward_chain(layers, x, _contexts(layers, ops, logits, False, False))
        # No backward follows: the batch runs in slices small enough for each layer's arrays
        # to stay in the cache, each slice through every layer, with the layers' buffers
        # (im2col's copy, z) reused from slice to slice.
        contexts = _contexts(layers, ops, logits, False, True)
        first = _forward_chain(layers, x[:rows], contexts)
        out = np.empty((len(x), *first.shape[1:]), dtype=first.dtype)
        out[:rows] = first
        for start in range(rows, len(x), rows):
            out[start : start + rows] = _forward_chain(layers, x[start : start + rows], contexts)
        return out


def inference_rows(layers: Sequence[Layer]) -> int | None:
    """The most samples inference runs through the layers at once (the smallest any layer
    declares), or None when no layer asks for slices."""
    declared = [layer.inference_rows for layer in layers if layer.inference_rows]
    return min(declared) if declared else None


def _contexts(
    layers: Sequence[Layer], ops: Any, logits: bool, training: bool, reuse: bool
) -> list[Context]:
    contexts = [Context(training and layer.training, ops, reuse_buffers=reuse) for layer in layers]
    if logits and contexts:
        contexts[-1].logits_only = True
    return contexts


def _forward_chain(layers: Sequence[Layer], x: np.ndarray, contexts: list[Context]) -> np.ndarray:
    a = x
    for layer, ctx in zip(layers, contexts):
        a = layer.forward_kernel(a, ctx)
    return a


class _Plan:
    """The contexts for one batch shape: built once, reused every step with that shape."""

    def __init__(self, step: FusedStep, xb: np.ndarray) -> None:
        layers, n = step.layers, len(xb)
        self.contexts = [Context(ops=step.ops, reuse_buffers=True) for _ in layers]
        # A step allocates nothing that outlives it: each layer's outputs live in its buffers.
        self.contexts[-1].logits_only = step.head.paired_kernel is not None
        self.split, self.start = _split_for(layers, xb, step.dtype)
        if self.split is not None:
            self.contexts[self.split_index(layers)].product = self.split
        for layer, ctx in zip(layers, self.contexts):
            if layer.uses_gemm and step.dtype == np.float32:
                ctx.product = RowSplit()  # each large product on two cores
            if step.ops is kernels.COMPILED_OPS:
                ctx.ops = HALVED_OPS  # the window copies on two halves of the batch at once
        trainable = [i for i, layer in enumerate(layers) if _trainable(layer)]
        # Nothing below the lowest trainable layer needs a gradient: the input batch is data.
        self.lowest = trainable[0] if trainable else len(layers)
        for i, ctx in enumerate(self.contexts):
            ctx.need_input_grad = i > self.lowest
        self.n = n

    @staticmethod
    def split_index(layers: list[Layer]) -> int:
        return next(i for i, layer in enumerate(layers) if layer.kernel_parameters())


def _trainable(layer: Layer) -> bool:
    return any(p.requires_grad for p in layer.kernel_parameters())


def _split_for(
    layers: list[Layer], xb: np.ndarray, dtype: np.dtype
) -> tuple[FirstLayerSplit | None, int]:
    """The first layer's two-core split for this batch and the index of the first layer to
    run (past a preprocessing prefix the split absorbs), or (None, 0) where it does not apply:
    a prefix of anything but reshapes and one pointwise affine, not float32, a product below
    SPLIT_MIN multiply-adds, a batch that is not (N, features) once flattened."""
    first = next((i for i, layer in enumerate(layers) if layer.kernel_parameters()), None)
    if first is None or dtype != np.float32 or not layers[first].uses_product:
        return None, 0
    prefix = layers[:first]
    affines = [layer.pointwise_affine() for layer in prefix if not layer.reshape_only]
    if any(a is None for a in affines) or len(affines) > 1:
        return None, 0
    shape: tuple[Any, ...] = tuple(xb.shape[1:])
    for layer in prefix:
        shape = tuple(layer.compute_output_shape(shape))
    W = layers[first].kernel_parameters()[0].data
    n = len(xb)
    if len(shape) != 1 or W.ndim != 2 or shape[0] != W.shape[1]:
        return None, 0
    units, d = W.shape
    if d < 4 or n * units * d < SPLIT_MIN:
        return None, 0
    pixels = xb.dtype == np.uint8 and bool(affines)
    scaling = Scaling(*affines[0]) if pixels else None  # type: ignore[misc]
    return FirstLayerSplit(n, d, units, scaling), (first if pixels else 0)


class FusedStep:
    """A callable ``step(xb, yb, record=None) -> StepResult`` computing what
    ``Model.train_step`` computes, with the layers' kernels and no graph."""

    def __init__(self, model: Any, loss: Any, optimizer: Any) -> None:
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.layers: list[Layer] = list(kernel_chain(model) or [])
        self.dtype = model.dtype
        self.head = OutputHead(loss, self.layers[-1])
        self.ops = execution_ops()
        self.key = structure_key(model)
        # The parameters each layer's kernels use, fixed for this step's life (``key``): read
        # once here, not walked out of every layer at every step.
        self.params = [layer.kernel_parameters() for layer in self.layers]
        self._plans: dict[tuple[int, str, int], _Plan] = {}
        self._adam_plan: tuple[Any, ...] | None = None

    def _plan(self, xb: np.ndarray) -> _Plan:
        key = (len(xb), xb.dtype.str, xb.ndim)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _Plan(self, xb)
        return plan

    def __call__(self, xb: np.ndarray, yb: np.ndarray, record: Any = None) -> StepResult:
        """One step; with ``record`` (a Telemetry), also log each layer's telemetry tap."""
        plan = self._plan(xb)
        layers, contexts = self.layers, plan.contexts
        a = xb if plan.start == 0 else xb.reshape(len(xb), -1)
        for i in range(plan.start, len(layers)):
            ctx = contexts[i]
            ctx.training = layers[i].training
            a = layers[i].forward_kernel(a, ctx)
        g: Any  # ∂C/∂(output of the layer being undone); an array above the lowest trainable
        loss_value, g, outputs = self.head.error(yb, a, self.ops)
        if not np.isfinite(loss_value):
            return StepResult(loss_value, outputs)
        for i in range(len(layers) - 1, plan.lowest - 1, -1):
            ctx = contexts[i]
            ctx.grads = [_grad_array(p) if p.requires_grad else None for p in self.params[i]]
            g = layers[i].backward_kernel(ctx, g)
        if record is not None:
            record_taps(record, zip(layers, contexts), plan.n, self.optimizer)
        self._optimizer_step(plan.split)
        if record is not None:
            record.finish_sample(tap_weights(layers))
        return StepResult(loss_value, outputs)

    def _optimizer_step(self, split: FirstLayerSplit | None) -> None:
        """optimizer.step(), with the second half of the first W updated on the helper thread
        (Adam with numba; it is elementwise, so the numbers do not change)."""
        if split is None or parallel.get_engine() is None:
            self.optimizer.step()
            return
        W = self.params[_Plan.split_index(self.layers)][0].data
        flat = getattr(self.optimizer, "_flat", None)
        plan = self._adam_plan
        if plan is None or plan[0] is not W or plan[1] is not flat:
            plan = self._adam_plan = (W, flat, *_adam_partition(W, flat, split))
        buffer, runner = plan[2], plan[3]
        if buffer is None:
            self.optimizer.step()
            return
        self.optimizer.step(partition=(buffer, runner))


def _adam_partition(W: np.ndarray, flat: Any, split: FirstLayerSplit) -> tuple[Any, Any]:
    """The flat buffer holding W and a runner giving W[:, h:]'s part of it to the helper;
    (None, None) when W is not a column-major view into one of the optimiser's buffers."""
    if flat is None or not W.flags.f_contiguous or W.flags.c_contiguous:
        return None, None
    address = W.__array_interface__["data"][0]
    for group in flat.groups:
        start = group.data.__array_interface__["data"][0]
        if start <= address < start + group.data.nbytes:
            units, d = W.shape
            offset = (address - start) // group.data.itemsize
            lo, hi = offset + units * split.h, offset + units * d
            return group.data, split.adam_runner(lo, hi)
    return None, None


def record_taps(
    record: Any, pairs: Any, n: int, optimizer: Any, names: dict[int, str] | None = None
) -> None:
    """Hand each layer's telemetry tap to the recorder (before the optimiser step).

    The kernels' δ is ∂C/∂z of the batch mean; the seeds' per-sample δ is n times it.
    ``names``: id(layer) → the name telemetry declared (a nested model's layers are
    ``encoder.dense``); a layer called twice in the pass (shared) is recorded once.
    """
    first = True
    lr = optimizer.current_learning_rate
    seen: set[int] = set()
    for layer, ctx in pairs:
        if id(layer) in seen:
            continue
        tap = layer.telemetry_tap(ctx)
        if tap is None:
            continue
        seen.add(id(layer))
        inputs = tap.pop("inputs", None)
        name = names.get(id(layer), layer.name) if names else layer.name
        record.record_layer(name, **tap, learning_rate=lr, delta_scale=n)
        if first and inputs is not None:
            record.record_inputs(inputs)
        first = False


def tap_weights(layers: list[Layer], names: dict[int, str] | None = None) -> dict[str, np.ndarray]:
    """The weights telemetry compares before and after a step, by layer name."""
    return {
        (names.get(id(layer), layer.name) if names else layer.name): params[0].data
        for layer in layers
        if (params := layer.kernel_parameters())
        and type(layer).telemetry_tap is not Layer.telemetry_tap
    }


def _grad_array(p: Any) -> np.ndarray:
    """The parameter's gradient array, created if missing (then bound into the optimiser)."""
    if p.grad is None or p.grad.shape != p.data.shape:
        p.grad = np.zeros_like(p.data)
    return p.grad  # type: ignore[no-any-return]
