"""The compiled implementation of the layer kernels' elementwise ops (numba), ``CompiledOps``.

Between its matrix products a training step makes a dozen small passes — scaling the uint8
batch, adding the bias, ReLU, the dropout mask, the softmax cross-entropy, σ' and the bias
gradient. On the seed model at batch 256 they took about 300 µs of a 1.3 ms step, mostly in
NumPy's per-call overhead and temporaries. ``CompiledOps`` runs each as one compiled loop; the
fast step's execution context hands it to the layers' kernels in place of the NumPy reference
(``functional.array_ops.NUMPY_OPS``), which it falls back to wherever a loop does not apply.

Every compiled loop performs exactly the reference's operation — the same single rounding per
element, in the same order, NaN and signed zeros handled as NumPy does — so both give
bit-identical steps; the tests check each op and whole training runs. Exponentials, logarithms
and row sums stay NumPy calls (a compiled exp or a different summation order would not round
the same way). numba is a dependency of glassnet wherever it has wheels; without it, or with it
switched off (``glassnet.optim.accelerated.enable(False)``, ``GLASSNET_NO_NUMBA=1``), the
reference runs.

Compiling is lazy, as for the Adam kernel (``optim/accelerated.py``): numba is imported and the
loops compiled (or loaded from the on-disk cache) only when a call has at least
``accelerated.COMPILE_MIN`` elements; until then, and in a process that never gets there (a
tiny model, ``glassnet explain``), the reference runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..functional.array_ops import NumpyOps, dropout_constants
from ..optim import accelerated

__all__ = ["CompiledOps", "COMPILED_OPS", "compiled", "warm_up"]

_compiled: Any = None  # namespace of compiled kernels; False when numba is missing or fails


def _kernels(size: int | None = None) -> Any:
    """The compiled kernels, or None for the NumPy path: when switched off, without numba, or —
    until compiled — for a call on fewer than ``accelerated.COMPILE_MIN`` elements (``size``;
    None compiles now). Each loop compiles on its first call, or loads from the disk cache."""
    global _compiled
    if not accelerated.enabled():
        return None
    if _compiled is None:
        if size is not None and size < accelerated.COMPILE_MIN:
            return None
        try:
            _compiled = _compile()
        except Exception:  # noqa: BLE001 - any compiler trouble means: use NumPy
            _compiled = False
    return _compiled or None


def compiled() -> bool:
    """True once this process has set up the compiled loops (each then compiles, or loads from
    the disk cache, on its first call with a given dtype)."""
    return bool(_compiled)


# The loops, as plain Python; _compile() compiles each (numba). Each performs exactly NumPy's
# operation for the op of the same name in CompiledOps.
def scale(x: Any, s: Any, out: Any) -> None:
    for i in range(x.shape[0]):
        out[i] = x[i]  # the cast, exact as NumPy's
        out[i] = out[i] * s


def bias_relu(z: Any, b: Any, out: Any) -> None:
    for r in range(z.shape[0]):
        for j in range(z.shape[1]):
            v = z[r, j] + b[j]
            z[r, j] = v
            # np.maximum(v, 0): NaN propagates, and −0 gives +0.
            out[r, j] = v if (v > 0 or v != v) else 0.0


def dropout(x: Any, bits: Any, threshold: Any, keep_scale: Any, zero: Any, out: Any) -> None:
    for i in range(x.shape[0]):
        out[i] = x[i] * (keep_scale if bits[i] >= threshold else zero)


def relu_vjp(z: Any, g: Any, one: Any, zero: Any, out: Any) -> None:
    for i in range(z.shape[0]):
        out[i] = g[i] * (one if z[i] > 0 else zero)


def column_sums(g: Any, out: Any) -> None:
    # np.sum(g, axis=0) on a C-ordered g adds the rows one after another.
    for j in range(g.shape[1]):
        out[j] = g[0, j]
    for r in range(1, g.shape[0]):
        for j in range(g.shape[1]):
            out[j] += g[r, j]


def shift_by_row_max(z: Any, shifted: Any) -> None:
    for r in range(z.shape[0]):
        m = z[r, 0]
        for j in range(1, z.shape[1]):
            v = z[r, j]
            if v > m or v != v:
                m = v
                if m != m:
                    break
        for j in range(z.shape[1]):
            shifted[r, j] = z[r, j] - m


def softmax_finish(e: Any, shifted: Any, total: Any, log_total: Any, labels: Any, per: Any) -> None:
    # per = log S − (z_y − m), and a = e/S in place.
    for r in range(e.shape[0]):
        y = labels[r]
        per[r] = log_total[r] - shifted[r, y]
        for j in range(e.shape[1]):
            e[r, j] = e[r, j] / total[r]


def output_error(a: Any, labels: Any, one: Any, inv_n: Any, delta: Any) -> None:
    for r in range(a.shape[0]):
        for j in range(a.shape[1]):
            delta[r, j] = a[r, j]
        delta[r, labels[r]] -= one
        for j in range(a.shape[1]):
            delta[r, j] *= inv_n


# Sliding windows on channels-last 4-D arrays (N, rows, cols, C); a 1-D layer passes a unit row
# axis. Each sample is finished before the next (its part of the arrays stays in the cache), and
# within a sample the loops that add into an output run the kernel offsets in the reference's
# row-major order, so every element receives its terms in the reference's order. Samples are
# independent: HalvedOps runs two halves of a batch on two threads with the same bits.
def im2col(xp: Any, kh: Any, kw: Any, sh: Any, sw: Any, dh: Any, dw: Any, cols: Any) -> None:
    n_, ho, wo = cols.shape[0], cols.shape[1], cols.shape[2]
    for n in range(n_):
        for i in range(ho):
            for j in range(wo):
                for a in range(kh):
                    for b in range(kw):
                        src = xp[n, i * sh + a * dh, j * sw + b * dw]
                        dst = cols[n, i, j, a, b]
                        for c in range(dst.shape[0]):
                            dst[c] = src[c]


def col2im(dcols: Any, kh: Any, kw: Any, sh: Any, sw: Any, dh: Any, dw: Any, dxp: Any) -> None:
    n_, ho, wo, c_ = dcols.shape[0], dcols.shape[1], dcols.shape[2], dcols.shape[5]
    for n in range(n_):
        dxp[n] = 0
        for a in range(kh):
            for b in range(kw):
                for i in range(ho):
                    for j in range(wo):
                        dst = dxp[n, i * sh + a * dh, j * sw + b * dw]
                        src = dcols[n, i, j, a, b]
                        for c in range(c_):
                            dst[c] += src[c]


def window_max(xp: Any, kh: Any, kw: Any, sh: Any, sw: Any, out: Any, argmax: Any) -> None:
    n_, ho, wo, c_ = out.shape
    for n in range(n_):
        for i in range(ho):
            for j in range(wo):
                y, x = i * sh, j * sw
                for c in range(c_):
                    # The first offset's value, replaced only by a strictly larger one (as
                    # np.greater: a tie keeps the first offset, a NaN there stays).
                    best, t = xp[n, y, x, c], 0
                    for a in range(kh):
                        for b in range(kw):
                            v = xp[n, y + a, x + b, c]
                            if v > best:
                                best, t = v, a * kw + b
                    out[n, i, j, c] = best
                    if argmax is not None:  # inference keeps none
                        argmax[n, i, j, c] = t


def window_max_2x2(xp: Any, sh: Any, sw: Any, out: Any, argmax: Any) -> None:
    """window_max for a 2×2 window (MaxPooling2D(2), the usual case): the general loop's
    comparisons in its order, written out, so that the loop over channels has no loop inside
    and is vectorised (3–4× faster on the Keras convnet's first pooling). argmax may be None
    (inference: numba compiles that case without the stores)."""
    n_, ho, wo, c_ = out.shape
    for n in range(n_):
        for i in range(ho):
            for j in range(wo):
                y, x = i * sh, j * sw
                o = out[n, i, j]
                r0, r1 = xp[n, y, x], xp[n, y, x + 1]
                r2, r3 = xp[n, y + 1, x], xp[n, y + 1, x + 1]
                for c in range(c_):
                    best, t = r0[c], np.uint8(0)
                    v = r1[c]
                    if v > best:  # strictly, as np.greater: a tie or a NaN keeps the first
                        best, t = v, np.uint8(1)
                    v = r2[c]
                    if v > best:
                        best, t = v, np.uint8(2)
                    v = r3[c]
                    if v > best:
                        best, t = v, np.uint8(3)
                    o[c] = best
                    if argmax is not None:
                        argmax[n, i, j, c] = t


def window_max_grad(
    g: Any, argmax: Any, kh: Any, kw: Any, sh: Any, sw: Any, zero: Any, dxp: Any
) -> None:
    n_, ho, wo, c_ = g.shape
    if sh >= kh and sw >= kw:  # windows do not overlap: each input gets at most one term
        # Each covered input is written once, 0 + g (as the reference adds g to a zero: −0
        # becomes +0) or 0; a sample is zeroed first only if some inputs lie in no window.
        tiled = sh == kh and sw == kw and ho * sh == dxp.shape[1] and wo * sw == dxp.shape[2]
        for n in range(n_):
            if not tiled:
                dxp[n] = zero
            for i in range(ho):
                for a in range(kh):
                    for j in range(wo):
                        src, chosen = g[n, i, j], argmax[n, i, j]
                        for b in range(kw):
                            t = a * kw + b
                            dst = dxp[n, i * sh + a, j * sw + b]
                            for c in range(c_):
                                dst[c] = (zero + src[c]) if chosen[c] == t else zero
        return
    for n in range(n_):
        dxp[n] = zero
        for a in range(kh):  # the reference's order: offset by offset
            for b in range(kw):
                t = a * kw + b
                for i in range(ho):
                    for j in range(wo):
                        for c in range(c_):
                            if argmax[n, i, j, c] == t:
                                dxp[n, i * sh + a, j * sw + b, c] += g[n, i, j, c]


_LOOPS = (
    im2col,
    col2im,
    window_max,
    window_max_2x2,
    window_max_grad,
    scale,
    bias_relu,
    dropout,
    relu_vjp,
    column_sums,
    shift_by_row_max,
    softmax_finish,
    output_error,
)


def _compile() -> Any:
    import numba

    jit = numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")

    class Compiled:
        pass

    ns = Compiled()
    for fn in _LOOPS:
        setattr(ns, fn.__name__, accelerated._cache_safely(jit(fn)))
    return ns


def _flat(x: np.ndarray) -> np.ndarray | None:
    """A 1-D view of a C-contiguous array (None if it is not contiguous)."""
    return x.reshape(-1) if x.flags.c_contiguous else None


class CompiledOps(NumpyOps):
    """The ops of ``functional.array_ops`` as one compiled loop each, where the arrays allow it
    (contiguous, the right shapes) and numba is enabled; otherwise the NumPy reference runs.
    Either way the same bits: the loops perform NumPy's operations in NumPy's order."""

    name = "compiled"

    def scale_into(self, x: np.ndarray, scale: Any, out: np.ndarray) -> np.ndarray:
        k = _kernels(x.size)
        xf, of = _flat(x), _flat(out)
        if k is None or xf is None or of is None or x.dtype.kind not in "iu":
            return super().scale_into(x, scale, out)
        k.scale(xf, out.dtype.type(scale), of)
        return out

    def bias_relu(self, z: np.ndarray, b: np.ndarray | None, out: np.ndarray) -> np.ndarray:
        k = _kernels(z.size)
        if (
            k is None
            or b is None
            or z.ndim != 2
            or b.shape != z.shape[1:]
            or not (z.flags.c_contiguous and out.flags.c_contiguous)
            or not z.dtype == b.dtype == out.dtype
        ):
            return super().bias_relu(z, b, out)
        k.bias_relu(z, b, out)
        return out

    def apply_dropout(
        self, x: np.ndarray, bits: np.ndarray, rate: float, out: np.ndarray
    ) -> np.ndarray:
        k = _kernels(x.size)
        xf, bf, of = _flat(x), _flat(bits), _flat(out)
        if k is None or xf is None or bf is None or of is None:
            return super().apply_dropout(x, bits, rate, out)
        keep_scale, threshold, zero = dropout_constants(rate, x.dtype)
        k.dropout(xf, bf, threshold, keep_scale, zero, of)
        return out

    def relu_vjp(self, z: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
        k = _kernels(g.size)
        zf, gf, of = _flat(z), _flat(g), _flat(out)
        if k is None or zf is None or gf is None or of is None or not g.size:
            return super().relu_vjp(z, g, out)
        t = g.dtype.type
        k.relu_vjp(zf, gf, t(1), t(0), of)
        return out

    def column_sums(self, g: np.ndarray, out: np.ndarray) -> np.ndarray:
        k = _kernels(g.size)
        if k is None or g.ndim != 2 or g.shape[0] == 0 or not g.flags.c_contiguous:
            return super().column_sums(g, out)
        k.column_sums(g, out)
        return out

    def sparse_softmax_cross_entropy(
        self, z: np.ndarray, labels: np.ndarray, delta: np.ndarray, scale: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        k = _kernels(z.size)
        n = len(z)
        if k is None or z.ndim != 2 or not z.flags.c_contiguous or n == 0:
            return super().sparse_softmax_cross_entropy(z, labels, delta, scale)
        # Exponentials, logarithms and row sums stay NumPy calls (they round as NumPy does).
        shifted = np.empty_like(z)
        k.shift_by_row_max(z, shifted)
        e = np.exp(shifted)
        total = np.add.reduce(e, axis=-1)
        log_total = np.log(total)
        per = np.empty(n, dtype=z.dtype)
        k.softmax_finish(e, shifted, total, log_total, labels, per)
        k.output_error(e, labels, z.dtype.type(1), z.dtype.type(scale), delta)
        return per, e

    # -- sliding windows: compiled for C-contiguous float arrays, one or two spatial axes ------
    def im2col(
        self, xp: np.ndarray, kernel: Any, strides: Any, dilation: Any, cols: np.ndarray
    ) -> np.ndarray:
        k = _kernels(cols.size)
        # With a few channels NumPy's strided copies are faster (long runs along the rows).
        if k is None or xp.shape[-1] < 4 or not _windowed(xp, cols, kernel):
            return super().im2col(xp, kernel, strides, dilation, cols)
        x4, c6 = _rows(xp, len(kernel)), _rows(cols, len(kernel), kernel_axes=True)
        k.im2col(x4, *_pair(kernel), *_pair(strides), *_pair(dilation), c6)
        return cols

    def col2im(
        self, dcols: np.ndarray, kernel: Any, strides: Any, dilation: Any, dxp: np.ndarray
    ) -> np.ndarray:
        k = _kernels(dcols.size)
        if k is None or not _windowed(dxp, dcols, kernel):
            return super().col2im(dcols, kernel, strides, dilation, dxp)
        d6, x4 = _rows(dcols, len(kernel), kernel_axes=True), _rows(dxp, len(kernel))
        k.col2im(d6, *_pair(kernel), *_pair(strides), *_pair(dilation), x4)
        return dxp

    def window_max(
        self, xp: np.ndarray, kernel: Any, strides: Any, out: np.ndarray, argmax: Any
    ) -> np.ndarray:
        k = _kernels(out.size)
        kept = () if argmax is None else (argmax,)  # inference keeps no argmax
        if k is None or not _windowed(xp, out, kernel, *kept):
            return super().window_max(xp, kernel, strides, out, argmax)
        if argmax is not None and argmax.dtype != np.uint8:
            return super().window_max(xp, kernel, strides, out, argmax)
        if tuple(kernel) == (2, 2):
            k.window_max_2x2(xp, *_pair(strides), out, argmax)
            return out
        nd = len(kernel)
        argmax = None if argmax is None else _rows(argmax, nd)
        k.window_max(_rows(xp, nd), *_pair(kernel), *_pair(strides), _rows(out, nd), argmax)
        return out

    def window_max_grad(
        self, g: np.ndarray, argmax: np.ndarray, kernel: Any, strides: Any, dxp: np.ndarray
    ) -> np.ndarray:
        k = _kernels(g.size)
        if k is None or not _windowed(dxp, g, kernel, argmax):
            return super().window_max_grad(g, argmax, kernel, strides, dxp)
        nd = len(kernel)
        k.window_max_grad(
            _rows(g, nd),
            _rows(argmax, nd),
            *_pair(kernel),
            *_pair(strides),
            g.dtype.type(0),
            _rows(dxp, nd),
        )
        return dxp


def _windowed(x: np.ndarray, y: np.ndarray, kernel: Any, *more: np.ndarray) -> bool:
    """Whether the compiled window loops take these arrays: one or two spatial axes, the same
    float dtype, every array C-contiguous."""
    arrays = (x, y, *more)
    return (
        len(kernel) in (1, 2)
        and x.dtype == y.dtype
        and x.dtype in (np.float32, np.float64)
        and all(a.flags.c_contiguous for a in arrays)
    )


def _rows(a: np.ndarray, nd: int, kernel_axes: bool = False) -> np.ndarray:
    """A 1-D layer's arrays with a unit row axis (and kernel row axis), so one 2-D loop serves
    both ranks."""
    if nd == 2:
        return a
    if kernel_axes:  # (N, out, k, C) → (N, 1, out, 1, k, C)
        return a.reshape(a.shape[0], 1, a.shape[1], 1, a.shape[2], a.shape[3])
    return a.reshape(a.shape[0], 1, *a.shape[1:])


def _pair(values: Any) -> tuple[int, int]:
    """Per-axis numbers of a 1-D or 2-D window as (rows, cols)."""
    return (1, int(values[0])) if len(values) == 1 else (int(values[0]), int(values[1]))


COMPILED_OPS = CompiledOps()


def warm_up() -> bool:
    """Compile every loop now (or load it from the disk cache) and run each once on float32;
    False when the compiled loops are not available here."""
    if _kernels() is None:  # no size: compile now
        return False
    ops, x = COMPILED_OPS, np.ones((2, 3), np.float32)
    ops.scale_into(np.ones((2, 3), np.uint8), 0.5, np.empty_like(x))
    ops.bias_relu(x.copy(), np.ones(3, np.float32), np.empty_like(x))
    ops.apply_dropout(x, np.zeros((2, 3), np.uint32), 0.5, np.empty_like(x))
    ops.relu_vjp(x, x, np.empty_like(x))
    ops.column_sums(x, np.empty(3, np.float32))
    ops.sparse_softmax_cross_entropy(x, np.zeros(2, np.intp), np.empty_like(x), 0.5)
    return True
