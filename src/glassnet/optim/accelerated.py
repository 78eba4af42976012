"""Compiled kernels for the optimiser's hot loop (numba: a dependency where it has wheels).

Adam's update is about a dozen passes of NumPy ufuncs over every parameter — on the seed model,
101,770 floats twelve times per step, the largest cost of a small-batch step after the matrix
products. With numba installed (``pip install glassnet`` brings it wherever numba publishes
wheels; the ``fast`` extra names it too), the same arithmetic runs as one compiled loop: each
weight is read once and written once. The kernel performs the NumPy path's operations in the
same order and the same precision (float32 constants for float32 buffers, no fused
multiply-add, no fast-math), so both paths give bit-identical weights — the tests check it —
and the NumPy path remains the reference, used whenever numba is absent or disabled
(``enable(False)``, or the environment variable ``GLASSNET_NO_NUMBA=1``).

Compiling costs time once per process (numba's import, about 0.4 s, and loading the machine
code from the on-disk cache; the first run after an install compiles it, 1–3 s). So nothing is
compiled, and numba is not even imported, until a call has at least ``COMPILE_MIN`` elements to
work on: a process that never trains (``glassnet explain``), or trains only a tiny model (seed
004's 2-2-2 network, a teaching example), runs the NumPy path and never pays for compiling.
Once compiled, the kernel serves every call, small or large; the numbers are the same either way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["available", "enabled", "enable", "compiled", "adam_step", "COMPILE_MIN"]

_enabled = os.environ.get("GLASSNET_NO_NUMBA", "") in ("", "0")
_kernel: Any = None  # the compiled kernel, False when numba is missing or failed to compile
# Elements one call must handle before the kernels are compiled (here and in training/kernels.py):
# an array of 32×128. Below it a process keeps the NumPy path until something larger comes.
COMPILE_MIN = 4096


def _compile() -> Any:
    """The compiled kernel (compiling it now if needed), or False without numba."""
    global _kernel
    if _kernel is not None:
        return _kernel
    try:
        import numba
    except ImportError:
        _kernel = False
        return _kernel

    def adam(
        w: Any,
        g: Any,
        m: Any,
        v: Any,
        b1: Any,
        omb1: Any,
        b2: Any,
        omb2: Any,
        k1: Any,
        k2: Any,
        decay: Any,
    ) -> None:
        for i in range(w.shape[0]):
            gi = g[i]
            mi = m[i] * b1 + gi * omb1  # m ← β1·m + (1 − β1)·g
            vi = v[i] * b2 + (gi * omb2) * gi  # v ← β2·v + ((1 − β2)·g)·g
            m[i] = mi
            v[i] = vi
            # AdamW's decay w(1 − α·wd) first (decay is exactly 1 for Adam), then
            # w ← w − m / (√v·k1 + k2).
            w[i] = w[i] * decay - mi / (np.sqrt(vi) * k1 + k2)

    try:
        # error_model="numpy": no zero-division checks, so the loop vectorises (4× faster).
        jit = numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
        _kernel = _cache_safely(jit(adam))
    except Exception:  # noqa: BLE001 - any compiler trouble means: use NumPy
        _kernel = False
    return _kernel


def _cache_safely(dispatcher: Any) -> Any:
    """``dispatcher`` (a numba function with ``cache=True``), its disk cache made safe for
    several processes compiling at once.

    numba keeps one index per function naming each compiled signature's numbered file; a save
    reads the index, takes the next free number and rewrites the index, without a lock. Two
    processes compiling different dtypes of one function at the same time (``pytest -n 2`` on
    a fresh install, two training jobs) can take the same number, and the index then names
    the other process's machine code for a signature — seen as "can't unbox array" errors and
    a crashed test worker. Loading and saving under an exclusive lock on a file in the cache
    directory makes each save one whole read-extend-write. Without fcntl (Windows) nothing
    changes.
    """
    cache: Any = getattr(dispatcher, "_cache", None)
    path = getattr(cache, "_cache_path", None)
    if fcntl is None or path is None or not hasattr(cache, "save_overload"):
        return dispatcher
    lock_path = os.path.join(path, "glassnet-numba-cache.lock")

    def locked(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError:  # a cache directory we cannot write: numba will not save either
                return method(*args, **kwargs)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                return method(*args, **kwargs)
            finally:
                os.close(fd)  # closing the file releases the lock

        return call

    cache.load_overload = locked(cache.load_overload)
    cache.save_overload = locked(cache.save_overload)
    return dispatcher


_available: bool | None = None


def available() -> bool:
    """True when numba is installed (the kernels compile on first use)."""
    global _available
    if _available is None:  # looked up once: the fused step asks every step
        try:
            import importlib.util

            _available = importlib.util.find_spec("numba") is not None
        except (ImportError, ValueError):
            _available = False
    return _available


def enabled() -> bool:
    """True when the compiled kernels are used (numba installed and not disabled)."""
    return _enabled and available()


def enable(flag: bool = True) -> None:
    """Use (True) or bypass (False) the compiled kernels; the NumPy path is always correct."""
    global _enabled
    _enabled = bool(flag)


def compiled() -> bool:
    """True once this process has set up the Adam kernel (numba imported; the machine code for
    a dtype is compiled, or loaded from the disk cache, on the first call with that dtype)."""
    return bool(_kernel)


def _kernel_for(size: int) -> Any:
    """The compiled kernel for a call on ``size`` elements, or None for the NumPy path: when
    switched off, without numba, or — until compiled — for calls below COMPILE_MIN elements."""
    if not _enabled:
        return None
    if _kernel is None:
        if size < COMPILE_MIN or not available():
            return None
        _compile()
    return _kernel or None


def adam_step(
    w: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    b1: float,
    b2: float,
    k1: float,
    k2: float,
    decay: float | None,
    partition: Any = None,
) -> bool:
    """One fused Adam(W) update over flat buffers; False if it cannot run (then use NumPy).

    ``partition``: (a buffer, a runner) from the fast training step, which runs the update of
    that buffer in parts on two threads (Adam is elementwise: the same numbers).
    """
    global _kernel
    kernel: Callable[..., None] | None = _kernel_for(w.size)
    if kernel is None:
        return False
    t = w.dtype.type  # constants in the buffer's precision, as NumPy's weak scalars are
    constants = (
        t(b1),
        t(1.0 - b1),
        t(b2),
        t(1.0 - b2),
        t(k1),
        t(k2),  # type: ignore[operator]
        t(decay if decay is not None else 1.0),
    )
    split = partition
    if split is not None and split[0] is w:
        # The fused step lends a helper thread the part of the buffer it keeps in its cache
        # (training/parallel.py); Adam is elementwise, so the split changes no number.
        split[1](w, g, m, v, constants)
        return True
    try:
        kernel(w, g, m, v, *constants)
    except Exception:  # noqa: BLE001 - a compiler failure on a first call: nothing was written
        _kernel = False
        return False
    return True
