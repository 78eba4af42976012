"""The first Dense layer's product on two cores: a product strategy for the Dense kernel.

``FirstLayerSplit`` has the two methods of ``nn.layers.base.Matmul`` — ``forward(x, W, out)``
and ``weight_grad(saved, delta, out)`` — so the fast step hands it to the first Dense layer's
context and the layer's kernel runs unchanged. It computes z = x[:, :h] W[:, :h]ᵀ +
x[:, h:] W[:, h:]ᵀ and ∂C/∂W by halves of the input features, the caller one half and the
helper thread of ``parallel.py`` the other, each with its own half of the pixels (scaled where
they are used when the model starts with a Rescaling of uint8 pixels), of W and of Adam's
moments in its own cache. The split depends only on the shapes, so the numbers are the same with
or without the helper or numba; they differ from one unsplit product only in the order of
additions (z is the sum of two partial products), within float32 rounding.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._threads import executor, helper_allowed
from ..nn.layers.base import Matmul
from ..optim import accelerated
from . import kernels, parallel

__all__ = [
    "FirstLayerSplit",
    "Scaling",
    "SPLIT_MIN",
    "RowSplit",
    "ROW_SPLIT_MIN",
    "HalvedOps",
    "HALVED_OPS",
]


class Scaling(NamedTuple):
    """x·scale + offset, deferred from a preprocessing layer into the split (uint8 pixels)."""

    scale: float
    offset: float


# The first Dense layer is split by input features when its product is at least this large (a
# batch of 10 times 784×128): below it the hand-off costs more than the second core saves.
SPLIT_MIN = 1_000_000


class FirstLayerSplit:
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

    def __init__(self, n: int, d: int, units: int, scaling: Scaling | None) -> None:
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

    def forward(self, x: np.ndarray, W: np.ndarray, out: Any) -> tuple[np.ndarray, Any]:
        """z = x Wᵀ into out (the Dense kernel's product); saves the two halves of the input."""
        return out, self._forward(x, W, out)

    def weight_grad(self, saved: tuple[Any, Any], delta: np.ndarray, out: np.ndarray) -> None:
        """∂C/∂W = δᵀ x, one half of the input features on each core."""
        self._backward(saved, delta, out)

    def inputs(self, saved: tuple[Any, Any]) -> np.ndarray:
        """The layer's whole input (for telemetry): the two halves side by side."""
        return np.concatenate(saved, axis=1)

    def _forward(self, xb: np.ndarray, W: np.ndarray, z: np.ndarray) -> tuple[Any, Any]:
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
                    parallel.move_source(mine[0], address)
                    parallel.move_source(theirs[0], address + h)
                else:
                    parallel.move_source(mine[0], address)
                    parallel.move_source(theirs[0], address + 4 * h)
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

    def _backward(self, halves: tuple[Any, Any], g: np.ndarray, grad_W: np.ndarray) -> None:
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
                    parallel.move_source(mine[0], left.ctypes.data)
                    parallel.move_source(theirs[0], right.ctypes.data)
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
                    for const in (cm[0], cm[1], ct[0]):
                        parallel.set_adam_constants(const, constants)
                    self._pair(engine, "adam")
                    return
            kernel = accelerated._compile()
            for a, b in [(0, lo), (lo, hi), (hi, len(w))]:
                kernel(w[a:b], g[a:b], m[a:b], v[a:b], *constants)

        return run


# A product is split over the two cores when it has at least this many multiply-adds: below
# it the hand-off (tens of microseconds) costs more than the second core saves.
ROW_SPLIT_MIN = 4_000_000


# A convolution's input gradient is computed a few samples at a time, so that each piece of
# δ W_matᵀ (at most this many bytes) is still in the core's cache when col2im reads it back.
CHUNK_BYTES = 1 << 19


class RowSplit(Matmul):
    """A convolution's products on two cores: a product strategy for the ``gemm`` of the
    layer protocol (``nn.layers.base.Matmul``), splitting out = a @ b by rows of ``out``.

    The caller computes out[:h] = a[:h] @ b and the helper thread out[h:] = a[h:] @ b, each one
    BLAS call on one thread (so nothing spins on a busy machine, unlike BLAS's own threads).
    Every element of out is still one dot product computed by one call, so the result does
    not depend on whether the helper ran its half. Without the engine (no numba, float64,
    strides BLAS cannot take) it is np.matmul.

    ``gemm_col2im`` (a convolution's input gradient) runs in chunks of samples instead, each
    chunk's product and col2im one after the other while the product is in cache: half of the
    chunks here, half on a pool thread. The chunks depend only on the shapes, so the result
    does not depend on which thread ran them either.
    """

    def __init__(self) -> None:
        width, consts = parallel.TASK_WIDTH, parallel.CONST_WIDTH
        self.rows = (np.zeros((1, width), np.int64), np.zeros((1, width), np.int64))
        self.consts = (np.zeros((1, consts), np.float32), np.zeros((1, consts), np.float32))

    def gemm(self, a: np.ndarray, b: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        if out is None:
            out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
        m = a.shape[0]
        engine = parallel.get_engine()
        if engine is not None and m >= 4 and m * a.shape[1] * b.shape[1] >= ROW_SPLIT_MIN:
            h = m // 2
            mine, theirs = self.rows
            if parallel.gemm_task(mine[0], a[:h], b, out[:h]) and parallel.gemm_task(
                theirs[0], a[h:], b, out[h:]
            ):
                engine.run_pair((mine, self.consts[0], 1), (theirs, self.consts[1], 1))
                return out
        return np.matmul(a, b, out=out)

    def gemm_col2im(
        self, a: np.ndarray, b: np.ndarray, geo: Any, ctx: Any, names: tuple[str, str]
    ) -> np.ndarray:
        rows_per_sample, depth = int(np.prod(geo.out)), b.shape[1]
        n, channels = a.shape[0] // rows_per_sample, depth // int(np.prod(geo.kernel))
        dt = np.result_type(a, b)
        dxp = ctx.buffer(names[1], (n, *geo.padded, channels), dt)
        if dxp is None or n < 2 or a.shape[0] * a.shape[1] * depth < ROW_SPLIT_MIN:
            return super().gemm_col2im(a, b, geo, ctx, names)
        samples = max(1, CHUNK_BYTES // (rows_per_sample * depth * dt.itemsize))
        chunks = [(s, min(s + samples, n)) for s in range(0, n, samples)]
        shape = (samples * rows_per_sample, depth)
        scratch = [ctx.buffer(f"{names[0]}{k}", shape, dt) for k in (0, 1)]  # one per thread
        ops = getattr(ctx.ops, "unsplit", ctx.ops)  # one chunk is one thread's work

        def run(part: list[tuple[int, int]], out: np.ndarray) -> None:
            for start, stop in part:
                rows = slice(start * rows_per_sample, stop * rows_per_sample)
                cols = np.matmul(a[rows], b, out=out[: rows.stop - rows.start])
                cols = cols.reshape(stop - start, *geo.out, *geo.kernel, channels)
                ops.col2im(cols, geo.kernel, geo.strides, geo.dilation, dxp[start:stop])

        half = (len(chunks) + 1) // 2
        if helper_allowed() and len(chunks) > 1:
            on_both(run, (chunks[:half], scratch[0]), (chunks[half:], scratch[1]))
        else:
            run(chunks, scratch[0])
        return dxp

    @staticmethod
    def inputs(saved: np.ndarray) -> np.ndarray:
        return saved


def on_both(fn: Any, first: Any, second: Any) -> None:
    """fn(*first) here and fn(*second) on the pool thread — or here too, afterwards, if the
    pool thread has not started it by then (so a busy second core costs a hand-off, never a
    wait)."""
    future = executor().submit(fn, *second)
    fn(*first)
    if future.cancel():  # the pool had not started it: do it here
        fn(*second)
    else:
        future.result()


# A sliding-window op is split over the two cores when it touches at least this many values.
HALVES_MIN = 500_000


class HalvedOps(kernels.CompiledOps):
    """The compiled ops, with the sliding-window copies (im2col, col2im, the window maximum and
    its gradient) and the elementwise bias + ReLU and g ⊙ ReLU'(z) run on two halves of the
    batch at once: the caller's half here, the other on a pool thread (the compiled loops
    release the GIL). Each sample's (row's) values are computed by the same loop either way,
    so the bits do not change. If the pool thread has not started its half when the caller
    finishes its own, the caller takes it back and runs it, so a busy second core costs a
    hand-off, never a wait."""

    def _halves(self, fn: Any, size: int, *arrays: Any) -> bool:
        """Run fn on each half of the batch axis of ``arrays`` (None passes through); False
        when the split does not apply (small, one sample, one CPU, set_num_threads)."""
        n = next(a.shape[0] for a in arrays if isinstance(a, np.ndarray))
        if n < 2 or size < HALVES_MIN or not helper_allowed():
            return False
        h = n // 2
        first = [a[:h] if isinstance(a, np.ndarray) else a for a in arrays]
        second = [a[h:] if isinstance(a, np.ndarray) else a for a in arrays]
        on_both(fn, first, second)
        return True

    @property
    def unsplit(self) -> kernels.CompiledOps:
        """The same ops without the split (for work already divided between the threads)."""
        return kernels.COMPILED_OPS

    def bias_relu(self, z: Any, b: Any, out: Any) -> Any:
        run = super().bias_relu
        if z.shape != out.shape or not self._halves(lambda zh, oh: run(zh, b, oh), z.size, z, out):
            run(z, b, out)
        return out

    def relu_vjp(self, z: Any, g: Any, out: Any) -> Any:
        run = super().relu_vjp
        if not (z.shape == g.shape == out.shape) or not self._halves(run, g.size, z, g, out):
            run(z, g, out)
        return out

    def im2col(self, xp: Any, kernel: Any, strides: Any, dilation: Any, cols: Any) -> Any:
        run = super().im2col
        if not self._halves(lambda x, c: run(x, kernel, strides, dilation, c), cols.size, xp, cols):
            run(xp, kernel, strides, dilation, cols)
        return cols

    def col2im(self, dcols: Any, kernel: Any, strides: Any, dilation: Any, dxp: Any) -> Any:
        run = super().col2im
        if not self._halves(
            lambda d, x: run(d, kernel, strides, dilation, x), dcols.size, dcols, dxp
        ):
            run(dcols, kernel, strides, dilation, dxp)
        return dxp

    def window_max(self, xp: Any, kernel: Any, strides: Any, out: Any, argmax: Any) -> Any:
        run = super().window_max
        if not self._halves(
            lambda x, o, m: run(x, kernel, strides, o, m), xp.size, xp, out, argmax
        ):
            run(xp, kernel, strides, out, argmax)
        return out

    def window_max_grad(self, g: Any, argmax: Any, kernel: Any, strides: Any, dxp: Any) -> Any:
        run = super().window_max_grad
        if not self._halves(
            lambda a, m, d: run(a, m, kernel, strides, d), dxp.size, g, argmax, dxp
        ):
            run(g, argmax, kernel, strides, dxp)
        return dxp


HALVED_OPS = HalvedOps()
