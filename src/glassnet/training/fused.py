"""The fused training step for Sequential models: the four equations, straight on NumPy.

For a Sequential made of Dense, activation, Dropout, Flatten, Rescaling and Input layers,
building an autograd graph every step only to walk it back is pure overhead: the graph is the
same every time. ``FusedStep`` replays that fixed graph directly, written as the seeds write
backpropagation (for a batch of rows, with δ^l of shape (N, units)):

    forward   z^l = a^{l−1} (W^l)ᵀ + b^l,   a^l = σ(z^l)
    BP1       δ^L = ∇_a C ⊙ σ'(z^L)           (fused: δ^L = (a^L − y)/N for softmax/sigmoid + CE)
    BP2       δ^l = (δ^{l+1} W^{l+1}) ⊙ σ'(z^l)
    BP3       ∂C/∂b^l = Σ_n δ^l
    BP4       ∂C/∂W^l = (δ^l)ᵀ a^{l−1}

It uses the same kernels as the autograd ops (σ and its vector-Jacobian product, the dropout
mask — drawn in the same order from the same generator — and the softmax cross-entropy parts),
writes intermediates into buffers allocated once per batch size, skips the gradient with
respect to the input batch, and writes the parameter gradients straight into each
``.grad`` (views into the optimiser's flat buffer). A large first Dense layer is split by input
features over two cores (``_FirstLayerSplit``). The test suite checks that it produces the same
losses, gradients and weights as the autograd path (to rounding: the split adds in another
order) and the same bits with or without the helper thread and numba.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..functional.activations import Kernel, get_kernel, stable_sigmoid
from ..functional.nn import dropout_bits, softmax_cross_entropy_parts
from ..nn.layers import Activation, Dense, Dropout, Flatten, Input, Layer, Rescaling
from ..nn.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    SparseCategoricalCrossentropy,
)
from ..optim import accelerated
from . import kernels, parallel
from .step import StepResult

__all__ = ["FusedStep", "fusable", "forward_inference"]

_SUPPORTED = (Dense, Activation, Dropout, Flatten, Input, Rescaling)

# Kinds of saved forward records, for the backward pass.
_DENSE, _ACT, _DROP, _FLAT, _SCALE = range(5)


def fusable(model: Any) -> bool:
    """True when the model is a plain Sequential of layers FusedStep knows, all built."""
    from .model import Sequential

    if not isinstance(model, Sequential) or type(model).forward is not Sequential.forward:
        return False
    layers = model.layers
    if not layers or not all(
        type(layer) in _SUPPORTED or isinstance(layer, Activation) for layer in layers
    ):
        return False
    # Softmax is only handled as the output activation (its Jacobian is not elementwise).
    for layer in layers[:-1]:
        kernel = _kernel_of(layer)
        if kernel is not None and not kernel.elementwise:
            return False
    dtypes = {p.data.dtype for p in model.parameters()}
    return len(dtypes) <= 1 and all(layer.built for layer in layers if isinstance(layer, Dense))


def _kernel_of(layer: Layer) -> Kernel | None:
    if isinstance(layer, Dense):
        return layer.activation.kernel
    if isinstance(layer, Activation):
        return layer.kernel
    return None


class _Buffers:
    """Arrays for one batch size, allocated once and reused every step."""

    def __init__(self, n: int) -> None:
        self.arrays: dict[tuple[int, str], np.ndarray] = {}

    def get(self, key: tuple[int, str], shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        arr = self.arrays.get(key)
        if arr is None or arr.shape != shape or arr.dtype != dtype:
            arr = np.empty(shape, dtype=dtype)
            self.arrays[key] = arr
        return arr


# The first Dense layer is split by input features when its product is at least this large (a
# batch of 10 times 784×128): below it the hand-off costs more than the second core saves.
SPLIT_MIN = 1_000_000


class _FirstLayerSplit:
    """The first Dense layer computed in two halves of its input features.

    z = x[:, :h] W[:, :h]ᵀ + x[:, h:] W[:, h:]ᵀ, ∂C/∂W[:, :h] = δᵀ x[:, :h] and ∂C/∂W[:, h:] =
    δᵀ x[:, h:]. The caller computes the first half of each, a helper thread the second
    (training/parallel.py) — each with its half of the pixels (scaled where they are used, when a
    Rescaling of uint8 pixels comes first), of W, and of Adam's moments in its own cache. The
    split depends only on the shapes, so the numbers are the same with or without the helper or
    numba; they differ from one unsplit product only in the order of additions (z is the sum of
    two partial products).

    The task rows are built once per set of arrays (the buffers live as long as the batch size
    does); each step only writes in the address of the new batch and Adam's constants.
    """

    def __init__(self, n: int, d: int, units: int, scaling: Rescaling | None) -> None:
        self.h = h = d // 2
        self.scaling = scaling
        f32 = np.float32
        self.x_left = np.empty((n, h), f32) if scaling is not None else None
        self.x_right = np.empty((n, d - h), f32) if scaling is not None else None
        self.z_right = np.empty((n, units), f32)
        width, consts = parallel.TASK_WIDTH, parallel.CONST_WIDTH
        # Rows per phase and side: "fwd", "bwd", "adam" × (caller, helper).
        self.rows = {
            phase: (np.zeros((2, width), np.int64), np.zeros((2, width), np.int64))
            for phase in ("fwd", "bwd", "adam")
        }
        self.consts = {
            phase: (np.zeros((2, consts), np.float32), np.zeros((2, consts), np.float32))
            for phase in ("fwd", "bwd", "adam")
        }
        self.built: dict[str, tuple[Any, ...]] = {}  # phase → the arrays its rows describe
        # How many rows each side runs per phase (caller, helper).
        fwd = 2 if scaling is not None else 1
        self.counts = {"fwd": (fwd, fwd), "bwd": (1, 1), "adam": (2, 1)}
        self.adam_bounds = (-1, -1)

    def _pair(self, engine: Any, phase: str) -> None:
        (mine, theirs), (cm, ct) = self.rows[phase], self.consts[phase]
        mine_count, their_count = self.counts[phase]
        engine.run_pair((mine, cm, mine_count), (theirs, ct, their_count))

    def _same(self, phase: str, arrays: tuple[Any, ...]) -> bool:
        built = self.built.get(phase)
        return built is not None and all(a is b for a, b in zip(built, arrays))

    def forward(self, xb: np.ndarray, W: np.ndarray, z: np.ndarray) -> tuple[Any, Any]:
        """z = x Wᵀ (no bias); returns the two halves of the layer's input, for the backward."""
        h, n = self.h, len(xb)
        x = xb.reshape(n, -1)
        Wt = W.T  # (d, units), C-ordered: W is stored column-major
        engine = parallel.get_engine()
        scaling = self.scaling
        if scaling is not None:
            assert self.x_left is not None and self.x_right is not None
            left, right = self.x_left, self.x_right
        else:
            left, right = x[:, :h], x[:, h:]
        if engine is not None and x.flags.c_contiguous:
            (mine, theirs), (cm, ct) = self.rows["fwd"], self.consts["fwd"]
            if not self._same("fwd", (W, z)):
                ok = True
                if scaling is not None:
                    sc, off = scaling.scale, scaling.offset
                    ok = parallel.scale_task(mine[0], cm[0], x[:, :h], left, sc, off)
                    ok = ok and parallel.scale_task(theirs[0], ct[0], x[:, h:], right, sc, off)
                k = 1 if scaling is not None else 0
                ok = ok and parallel.gemm_task(mine[k], left, Wt[:h], z)
                ok = ok and parallel.gemm_task(theirs[k], right, Wt[h:], self.z_right)
                self.built["fwd"] = (W, z) if ok else (None,)
            if self.built["fwd"][0] is W:
                address = x.ctypes.data
                if scaling is not None:  # the new batch's pixels: the only address that moves
                    mine[0, 3], theirs[0, 3] = address, address + h
                else:
                    mine[0, 5], theirs[0, 5] = address, address + 4 * h
                self._pair(engine, "fwd")
                z += self.z_right
                return left, right
        if scaling is not None:
            for src, dst in ((x[:, :h], left), (x[:, h:], right)):
                np.multiply(src, np.float32(scaling.scale), out=dst, dtype=np.float32)
                if scaling.offset:
                    dst += np.float32(scaling.offset)
        np.matmul(left, Wt[:h], out=z)
        np.matmul(right, Wt[h:], out=self.z_right)
        z += self.z_right
        return left, right

    def backward(self, halves: tuple[Any, Any], g: np.ndarray, grad_W: np.ndarray) -> None:
        """∂C/∂W = gᵀ x, one half of the input features each."""
        h = self.h
        left, right = halves
        grad_t = grad_W.T  # (d, units), C-ordered
        engine = parallel.get_engine()
        if engine is not None:
            mine, theirs = self.rows["bwd"]
            key = (g, grad_W) if self.scaling is None else (g, grad_W, left)
            if not self._same("bwd", key):
                ok = parallel.gemm_task(mine[0], left.T, g, grad_t[:h])
                ok = ok and parallel.gemm_task(theirs[0], right.T, g, grad_t[h:])
                self.built["bwd"] = key if ok else (None,)
            if self.built["bwd"][0] is g:
                if self.scaling is None:  # the batch moved: point at this one's halves
                    mine[0, 5], theirs[0, 5] = left.ctypes.data, right.ctypes.data
                self._pair(engine, "bwd")
                return
        np.matmul(left.T, g, out=grad_t[:h])
        np.matmul(right.T, g, out=grad_t[h:])

    def adam_runner(self, lo: int, hi: int) -> Any:
        """Adam over a flat buffer with w[lo:hi] (the second half of W) on the helper thread."""

        def run(w: Any, g: Any, m: Any, v: Any, constants: tuple[Any, ...]) -> None:
            engine = parallel.get_engine()
            (mine, theirs), (cm, ct) = self.rows["adam"], self.consts["adam"]
            if engine is not None:
                key = (w, g, m, v)
                if not self._same("adam", key) or self.adam_bounds != (lo, hi):
                    ok = parallel.adam_task(
                        theirs[0], ct[0], w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], constants
                    )
                    for k, (a, b) in enumerate([(0, lo), (hi, len(w))]):
                        ok = ok and parallel.adam_task(
                            mine[k], cm[k], w[a:b], g[a:b], m[a:b], v[a:b], constants
                        )
                    self.built["adam"] = key if ok else (None,)
                    self.adam_bounds = (lo, hi)
                if self.built["adam"][0] is w:
                    cm[:2, :7] = constants
                    ct[0, :7] = constants
                    self._pair(engine, "adam")
                    return
            kernel = accelerated._compile()
            for a, b in [(0, lo), (lo, hi), (hi, len(w))]:
                kernel(w[a:b], g[a:b], m[a:b], v[a:b], *constants)

        return run


class FusedStep:
    """A callable ``step(xb, yb, record=None) -> StepResult`` equivalent to Model.train_step."""

    def __init__(self, model: Any, loss: Loss, optimizer: Any) -> None:
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.layers: list[Layer] = [layer for layer in model.layers if not isinstance(layer, Input)]
        self.dtype = model.dtype
        kernel = _kernel_of(self.layers[-1])
        # δ^L = (a^L − y)/N when the output activation pairs with the cross-entropy.
        self.fused_output = (
            kernel is not None and not loss.from_logits and loss.fused_activation == kernel.name
        )
        self.sparse = isinstance(loss, SparseCategoricalCrossentropy)
        self.categorical = isinstance(loss, CategoricalCrossentropy)
        self.binary = isinstance(loss, BinaryCrossentropy)
        dense = [i for i, layer in enumerate(self.layers) if isinstance(layer, Dense)]
        self._first_dense = dense[0] if dense else -1
        self._by_size: dict[int, _Buffers] = {}
        self._fits_rank: dict[int, bool] = {}
        self._splits: dict[tuple[int, bool], _FirstLayerSplit | None] = {}
        self._adam_plan: tuple[Any, ...] | None = None

    def _dense_inputs_are_2d(self, rank: int) -> bool:
        """Whether every Dense layer gets (N, features) from a batch of this rank; the step is
        written for that case (a Dense on (N, T, features) goes through the graph)."""
        for layer in self.layers:
            if isinstance(layer, Flatten):
                rank = 2
            elif isinstance(layer, Dense) and rank != 2:
                return False
        return True

    def _split_for(self, xb: np.ndarray) -> _FirstLayerSplit | None:
        """The first Dense layer's two-core split for this batch, or None where it does not
        apply: layers before it other than Flatten and one Rescaling, not float32, a product
        below SPLIT_MIN multiply-adds."""
        n, pixels = len(xb), xb.dtype == np.uint8
        key = (n, bool(pixels))
        if key in self._splits:
            return self._splits[key]
        split = None
        fd = self._first_dense
        prefix = self.layers[:fd] if fd >= 0 else []
        scalings = [layer for layer in prefix if isinstance(layer, Rescaling)]
        if (
            fd >= 0
            and all(isinstance(layer, (Flatten, Rescaling)) for layer in prefix)
            and len(scalings) <= 1
            and self.dtype == np.float32
        ):
            dense = self.layers[fd]
            assert isinstance(dense, Dense) and dense.W is not None
            units, d = dense.W.data.shape
            if d >= 4 and n * units * d >= SPLIT_MIN:
                scaling = scalings[0] if scalings and pixels else None
                split = _FirstLayerSplit(n, d, units, scaling)
        self._splits[key] = split
        return split

    def _optimizer_step(self, split: _FirstLayerSplit | None) -> None:
        """optimizer.step(), with the second half of the first W updated on the helper thread
        (Adam with numba; it is elementwise, so the numbers do not change)."""
        if split is None or parallel.get_engine() is None:
            self.optimizer.step()
            return
        dense = self.layers[self._first_dense]
        assert isinstance(dense, Dense) and dense.W is not None
        W = dense.W.data
        flat = getattr(self.optimizer, "_flat", None)
        plan = self._adam_plan
        if plan is None or plan[0] is not W or plan[1] is not flat:
            plan = self._adam_plan = (W, flat, *self._adam_partition(W, flat, split))
        buffer, runner = plan[2], plan[3]
        if buffer is None:
            self.optimizer.step()
            return
        accelerated.partition = (buffer, runner)
        try:
            self.optimizer.step()
        finally:
            accelerated.partition = None

    @staticmethod
    def _adam_partition(W: np.ndarray, flat: Any, split: _FirstLayerSplit) -> tuple[Any, Any]:
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

    def __call__(self, xb: np.ndarray, yb: np.ndarray, record: Any = None) -> Any:
        """One step; with ``record`` (a Telemetry), also log every Dense layer's statistics."""
        fits = self._fits_rank.get(xb.ndim)
        if fits is None:
            fits = self._fits_rank[xb.ndim] = self._dense_inputs_are_2d(xb.ndim)
        if not fits:
            return self.model.train_step(xb, yb, record)
        n = len(xb)
        buffers = self._by_size.get(n)
        if buffers is None:
            buffers = self._by_size[n] = _Buffers(n)
        dt = self.dtype
        layers = self.layers
        last = len(layers) - 1
        # Integer inputs (uint8 pixels) stay integers until a layer needs floats; Rescaling
        # converts and scales in one pass, exactly as astype(dtype) followed by x·scale.
        a = xb
        saved: list[tuple[Any, ...]] = []
        logits = None
        split = self._split_for(xb)
        # With uint8 pixels the split scales each half of them on the core that uses it.
        defer_prefix = split is not None and split.scaling is not None
        for i, layer in enumerate(layers):
            if defer_prefix and i < self._first_dense:
                saved.append((_FLAT, a.shape) if isinstance(layer, Flatten) else (_SCALE, layer))
                continue
            if isinstance(layer, Dense):
                if a.dtype != dt and not defer_prefix:
                    a = a.astype(dt)
                assert layer.W is not None  # fusable() admits only built layers
                W = layer.W.data
                z = buffers.get((i, "z"), (n, W.shape[0]), dt)
                if split is not None and i == self._first_dense:
                    a = split.forward(a, W, z)  # type: ignore[assignment] # (left, right) halves
                else:
                    np.matmul(a, W.T, out=z)
                kernel = layer.activation.kernel
                b = None if layer.b is None else layer.b.data
                if kernel.name == "relu" and not (i == last and self.fused_output):
                    # z += b and max(z, 0) in one pass
                    out = kernels.bias_relu(z, b, buffers.get((i, "a"), z.shape, dt))
                    saved.append((_DENSE, layer, a, z, out))
                    a = out
                    continue
                if b is not None:
                    z += b
                if i == last and self.fused_output:
                    saved.append((_DENSE, layer, a, z, None))
                    logits = z
                    continue
                out = self._activate(kernel, z, buffers, i)
                saved.append((_DENSE, layer, a, z, out))
                a = out
            elif isinstance(layer, Activation):
                if a.dtype != dt:
                    a = a.astype(dt)
                if i == last and self.fused_output:
                    saved.append((_ACT, layer, a, None))
                    logits = a
                    continue
                out = self._activate(layer.kernel, a, buffers, i)
                saved.append((_ACT, layer, a, out))
                a = out
            elif isinstance(layer, Dropout):
                if a.dtype != dt:
                    a = a.astype(dt)
                if layer.training and layer.rate > 0:
                    # The same bits, drawn in the same order, as functional.dropout's mask.
                    bits = dropout_bits(a.shape)
                    out = buffers.get((i, "a"), a.shape, dt)
                    a = kernels.apply_dropout(a, bits, layer.rate, out=out)
                    saved.append((_DROP, bits, layer.rate))
                else:
                    saved.append((_DROP, None, 0.0))
            elif isinstance(layer, Flatten):
                saved.append((_FLAT, a.shape))
                a = a.reshape(n, -1)
            elif isinstance(layer, Rescaling):
                out = kernels.scale_into(a, layer.scale, buffers.get((i, "x"), a.shape, dt))
                if layer.offset:
                    out += dt.type(layer.offset)
                saved.append((_SCALE, layer))
                a = out

        # BP1: the output error δ^L (already divided by N: C is the batch mean).
        if logits is not None:
            loss_value, delta, outputs = self._fused_output_error(logits, yb, n, buffers)
        else:
            outputs = a
            loss_value = float(self.loss.per_sample(yb, a).mean())
            delta = (self.loss.gradient(yb, a) / n).astype(dt, copy=False)
        if not np.isfinite(loss_value):
            return StepResult(loss_value, outputs)

        # BP2–BP4, last layer first. g is ∂C/∂(output of the layer being undone).
        g = delta
        for index in range(len(saved) - 1, -1, -1):
            entry = saved[index]
            kind = entry[0]
            if kind == _DENSE:
                _, layer, a_prev, z, out = entry
                if out is not None:  # not the fused output layer: δ = g ⊙ σ'(z)
                    if layer.activation.kernel.name == "relu":
                        g = kernels.relu_vjp(z, g, out=g)  # g is always an array this step owns
                    else:
                        g = layer.activation.kernel.vjp(z, out, g)
                W = layer.W
                if isinstance(a_prev, tuple):  # the split first layer
                    assert split is not None
                    split.backward(a_prev, g, _grad_array(W))
                    a_prev = np.concatenate(a_prev, axis=1) if record is not None else None
                else:
                    np.matmul(g.T, a_prev, out=_grad_array(W))
                if layer.b is not None:
                    kernels.column_sums(g, _grad_array(layer.b))  # BP3
                if record is not None:
                    # g is ∂C/∂z for the batch mean; the seeds' per-sample δ is n times it.
                    record.record_layer(
                        layer.name,
                        layer.activation.kernel,
                        z,
                        outputs if out is None else out,
                        g,
                        W.data,
                        W.grad,
                        self.optimizer.current_learning_rate,
                        delta_scale=n,  # g is ∂C/∂z of the batch mean: δ per sample is n·g
                    )
                    if index == self._first_dense:
                        record.record_inputs(a_prev)
                if index <= self._first_dense:
                    break  # nothing below needs a gradient: the input batch is data
                upstream = buffers.get((index, "g"), (n, W.data.shape[1]), dt)
                g = np.matmul(g, W.data, out=upstream)
            elif kind == _ACT:
                _, layer, z, out = entry
                if out is not None:
                    g = layer.kernel.vjp(z, out, g)
            elif kind == _DROP:
                if entry[1] is not None:
                    g = kernels.apply_dropout(g, entry[1], entry[2], out=g)  # g ⊙ mask
            elif kind == _FLAT:
                g = g.reshape(entry[1])
            elif kind == _SCALE:
                g = g * entry[1].scale
        self._optimizer_step(split)
        if record is not None:
            record.finish_sample(
                {
                    layer.name: layer.W.data
                    for layer in layers
                    if isinstance(layer, Dense) and layer.W is not None
                }
            )
        return StepResult(loss_value, outputs)

    @staticmethod
    def _activate(kernel: Kernel, z: np.ndarray, buffers: _Buffers, i: int) -> np.ndarray:
        if kernel.name == "relu":
            return np.maximum(z, 0, out=buffers.get((i, "a"), z.shape, z.dtype))
        if kernel.name == "linear":
            return z
        return kernel.value(z)

    def _fused_output_error(
        self, z: np.ndarray, yb: np.ndarray, n: int, buffers: _Buffers
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Cost and δ^L = (a^L − y)/N from the logits, as the fused ops compute them."""
        if self.binary:
            y = yb.astype(z.dtype, copy=False).reshape(z.shape)
            per = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
            width = z.shape[-1] if z.ndim > 1 else 1
            loss_value = float(per.mean(axis=-1).mean() if z.ndim > 1 else per.mean())
            a = stable_sigmoid(z)
            delta = (a - y) * (1.0 / (n * width))
            return loss_value, delta.astype(z.dtype, copy=False), a
        if self.sparse:
            labels = (yb.reshape(len(yb), -1)[:, 0] if yb.ndim > 1 else yb).astype(
                np.intp, copy=False
            )
            delta = buffers.get((-1, "delta"), z.shape, z.dtype)
            per, a = kernels.sparse_softmax_cross_entropy(z, labels, delta)
            return kernels.mean(per), delta, a
        else:
            y = yb.astype(z.dtype, copy=False)
            per, a = softmax_cross_entropy_parts(z, targets=y)
            delta = a * y.sum(axis=-1, keepdims=True) - y
        delta *= 1.0 / n
        return float(per.mean()), delta, a


def forward_inference(
    layers: list[Layer], xb: np.ndarray, dtype: np.dtype, logits: bool = False
) -> np.ndarray:
    """A fusable Sequential's output for one batch in inference mode, without tensors.

    The same operations as the layers' forward methods under no_grad — Rescaling's one-pass
    conversion, x Wᵀ + b, each activation kernel's σ(z), dropout as the identity — so the same
    numbers (the tests compare them bit for bit), at a fraction of the per-batch overhead.
    ``logits=True`` stops before the output activation, as Sequential.forward_logits does.
    """
    a = xb
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        if isinstance(layer, Dense):
            assert layer.W is not None  # fusable() admits only built layers
            if a.dtype != dtype:
                a = a.astype(dtype)
            z = a @ layer.W.data.T
            kernel = layer.activation.kernel
            b = None if layer.b is None else layer.b.data
            if logits and i == last:
                kernel = get_kernel("linear")
            if kernel.name == "relu" and z.ndim == 2:
                a = kernels.bias_relu(z, b, z)  # z + b, then max(·, 0), in place
                continue
            if b is not None:
                z += b
            a = z if kernel.name == "linear" else kernel.value(z)
        elif isinstance(layer, Activation):
            if logits and i == last:
                break
            if a.dtype != dtype:
                a = a.astype(dtype)
            a = a if layer.kernel.name == "linear" else layer.kernel.value(a)
        elif isinstance(layer, Flatten):
            a = a.reshape(len(a), -1)
        elif isinstance(layer, Rescaling):
            if a.dtype.kind in "iub":
                a = kernels.scale_into(a, layer.scale, np.empty(a.shape, dtype))
            else:
                a = np.multiply(a if a.dtype == dtype else a.astype(dtype), dtype.type(layer.scale))
            if layer.offset:
                a += dtype.type(layer.offset)
        # Input: nothing to do; Dropout: the identity at inference time
    return a


def _grad_array(p: Any) -> np.ndarray:
    """The parameter's gradient array, created if missing (then bound into the optimiser)."""
    if p.grad is None or p.grad.shape != p.data.shape:
        p.grad = np.zeros_like(p.data)
    return p.grad  # type: ignore[no-any-return]
