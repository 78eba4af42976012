"""The fused step's elementwise work, each op in NumPy and (optionally) as one compiled loop.

Between its matrix products a training step makes a dozen small passes — scaling the uint8
batch, adding the bias, ReLU, the dropout mask, the softmax cross-entropy, σ' and the bias
gradient. On the seed model at batch 256 they took about 300 µs of a 1.3 ms step, mostly in
NumPy's per-call overhead and temporaries. With numba installed (a dependency of glassnet
wherever numba has wheels) each function below runs as one compiled loop instead.

Every compiled loop performs exactly the NumPy path's operation — the same single rounding per
element, in the same order, NaN and signed zeros handled as NumPy does — so both paths give
bit-identical steps; the tests check each kernel and whole training runs. Exponentials,
logarithms and row sums stay NumPy calls in both paths (a compiled exp or a different summation
order would not round the same way). The NumPy path is the reference and is used when numba is
absent or switched off (``glassnet.optim.accelerated.enable(False)``, ``GLASSNET_NO_NUMBA=1``).

Compiling is lazy, as for the Adam kernel (``optim/accelerated.py``): numba is imported and the
loops compiled (or loaded from the on-disk cache) only when a call has at least
``accelerated.COMPILE_MIN`` elements; until then, and in a process that never gets there (a
tiny model, ``glassnet explain``), the NumPy path runs.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..functional.nn import dropout_threshold, softmax_cross_entropy_parts
from ..optim import accelerated

__all__ = [
    "scale_into",
    "bias_relu",
    "apply_dropout",
    "relu_vjp",
    "column_sums",
    "sparse_softmax_cross_entropy",
    "mean",
    "compiled",
]

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


def _compile() -> Any:
    import numba

    jit = numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")

    @jit  # type: ignore[misc]
    def scale(x: Any, s: Any, out: Any) -> None:
        for i in range(x.shape[0]):
            out[i] = x[i]  # the cast, exact as NumPy's
            out[i] = out[i] * s

    @jit  # type: ignore[misc]
    def bias_relu(z: Any, b: Any, out: Any) -> None:
        for r in range(z.shape[0]):
            for j in range(z.shape[1]):
                v = z[r, j] + b[j]
                z[r, j] = v
                # np.maximum(v, 0): NaN propagates, and −0 gives +0.
                out[r, j] = v if (v > 0 or v != v) else 0.0

    @jit  # type: ignore[misc]
    def dropout(x: Any, bits: Any, threshold: Any, keep_scale: Any, zero: Any, out: Any) -> None:
        for i in range(x.shape[0]):
            out[i] = x[i] * (keep_scale if bits[i] >= threshold else zero)

    @jit  # type: ignore[misc]
    def relu_vjp(z: Any, g: Any, one: Any, zero: Any, out: Any) -> None:
        for i in range(z.shape[0]):
            out[i] = g[i] * (one if z[i] > 0 else zero)

    @jit  # type: ignore[misc]
    def column_sums(g: Any, out: Any) -> None:
        # np.sum(g, axis=0) on a C-ordered g adds the rows one after another.
        for j in range(g.shape[1]):
            out[j] = g[0, j]
        for r in range(1, g.shape[0]):
            for j in range(g.shape[1]):
                out[j] += g[r, j]

    @jit  # type: ignore[misc]
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

    @jit  # type: ignore[misc]
    def softmax_finish(
        e: Any, shifted: Any, total: Any, log_total: Any, labels: Any, per: Any
    ) -> None:
        # per = log S − (z_y − m), and a = e/S in place.
        for r in range(e.shape[0]):
            y = labels[r]
            per[r] = log_total[r] - shifted[r, y]
            for j in range(e.shape[1]):
                e[r, j] = e[r, j] / total[r]

    @jit  # type: ignore[misc]
    def output_error(a: Any, labels: Any, one: Any, inv_n: Any, delta: Any) -> None:
        for r in range(a.shape[0]):
            for j in range(a.shape[1]):
                delta[r, j] = a[r, j]
            delta[r, labels[r]] -= one
            for j in range(a.shape[1]):
                delta[r, j] *= inv_n

    class Compiled:
        pass

    ns = Compiled()
    for fn in (
        scale,
        bias_relu,
        dropout,
        relu_vjp,
        column_sums,
        shift_by_row_max,
        softmax_finish,
        output_error,
    ):
        setattr(ns, fn.py_func.__name__, fn)
    return ns


def _flat(x: np.ndarray) -> np.ndarray | None:
    """A 1-D view of a C-contiguous array (None if it is not contiguous)."""
    return x.reshape(-1) if x.flags.c_contiguous else None


def scale_into(x: np.ndarray, scale: Any, out: np.ndarray) -> np.ndarray:
    """out = x · scale in out's dtype (x cast first): Rescaling's one pass over the batch."""
    k = _kernels(x.size)
    xf, of = _flat(x), _flat(out)
    if k is not None and xf is not None and of is not None and x.dtype.kind in "iu":
        k.scale(xf, out.dtype.type(scale), of)
    else:
        np.multiply(x, out.dtype.type(scale), out=out, dtype=out.dtype)
    return out


def bias_relu(z: np.ndarray, b: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    """z += b (in place), then out = max(z, 0): a Dense layer's bias and ReLU."""
    k = _kernels(z.size)
    if (
        k is not None
        and b is not None
        and z.ndim == 2
        and b.shape == z.shape[1:]
        and z.flags.c_contiguous
        and out.flags.c_contiguous
        and z.dtype == b.dtype == out.dtype
    ):
        k.bias_relu(z, b, out)
        return out
    if b is not None:
        z += b
    return np.maximum(z, 0, out=out)


@functools.lru_cache(maxsize=64)
def _dropout_constants(rate: float, dtype: np.dtype) -> tuple[Any, np.uint32, Any]:
    """(1/(1 − rate), the bit threshold, 0) in the array's dtype: computed once per layer."""
    return dtype.type(1.0 / (1.0 - rate)), dropout_threshold(rate), dtype.type(0)


def apply_dropout(
    x: np.ndarray, bits: np.ndarray, rate: float, out: np.ndarray | None = None
) -> np.ndarray:
    """x · mask, mask = 1/(1 − rate) where bits ≥ threshold, else 0 — as ``x * dropout_mask``."""
    keep_scale, threshold, zero = _dropout_constants(rate, x.dtype)
    k = _kernels(x.size)
    if out is None:
        out = np.empty_like(x)
    xf, bf, of = _flat(x), _flat(bits), _flat(out)
    if k is not None and xf is not None and bf is not None and of is not None:
        k.dropout(xf, bf, threshold, keep_scale, zero, of)
        return out
    mask = np.multiply(bits >= threshold, keep_scale, dtype=x.dtype)
    return np.multiply(x, mask, out=out)


def relu_vjp(z: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """g ⊙ σ'(z) for ReLU (σ'(0) = 0), as the relu kernel's vjp computes it."""
    k = _kernels(g.size)
    zf, gf, of = _flat(z), _flat(g), _flat(out)
    if k is not None and zf is not None and gf is not None and of is not None and g.size:
        t = g.dtype.type
        k.relu_vjp(zf, gf, t(1), t(0), of)
        return out
    return np.multiply(g, z > 0, out=out)


def column_sums(g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = Σ_n g[n] (BP3: ∂C/∂b summed over the batch)."""
    k = _kernels(g.size)
    if k is not None and g.ndim == 2 and g.shape[0] > 0 and g.flags.c_contiguous:
        k.column_sums(g, out)
        return out
    return np.sum(g, axis=0, out=out)


def sparse_softmax_cross_entropy(
    z: np.ndarray, labels: np.ndarray, delta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample cost, softmax a, and δ^L = (a − onehot(y))/N written into delta.

    The same operations as functional.nn.softmax_cross_entropy_parts followed by the fused
    step's δ; returns (per_sample, a).
    """
    k = _kernels(z.size)
    n = len(z)
    inv_n = z.dtype.type(1.0 / n)
    if k is None or z.ndim != 2 or not z.flags.c_contiguous or n == 0:
        per, a = softmax_cross_entropy_parts(z, labels=labels)
        np.copyto(delta, a)
        delta[np.arange(n), labels] -= 1.0
        delta *= inv_n
        return per, a
    shifted = np.empty_like(z)
    k.shift_by_row_max(z, shifted)
    e = np.exp(shifted)
    total = np.add.reduce(e, axis=-1)
    log_total = np.log(total)
    per = np.empty(n, dtype=z.dtype)
    k.softmax_finish(e, shifted, total, log_total, labels, per)
    k.output_error(e, labels, z.dtype.type(1), inv_n, delta)
    return per, e


def mean(x: np.ndarray) -> float:
    """``float(x.mean())`` for a 1-D float array, without ndarray.mean's wrapper (5 µs a step).

    The same numbers: ndarray.mean adds with ``np.add.reduce`` and divides the sum by the count
    in float64 before rounding back to x's dtype, and a float32 quotient rounded once or via
    float64 is the same (float64 carries more than twice float32's precision).
    """
    return float(x.dtype.type(np.add.reduce(x) / x.size))
