"""A second core for the training step: a helper thread that runs half of the first layer.

The fused step splits the first Dense layer by input features (see fused.py): one half
of the pixels, of the product x·Wᵀ and of ∂C/∂W is computed by the caller, the other half by a
helper thread. Each core then keeps its own half of the batch and of the weights in its own
cache; only the (N, units) partial products cross between the cores. Earlier designs that split
a product whose operands the caller had just written gained nothing: moving the operands to the
other core cost what the second core saved (docs/performance.md).

How the hand-off works, and why it is safe:

- The work is a short list of *tasks* — a single-precision matrix product through NumPy's own
  BLAS (``cblas_sgemm``), or scaling a block of uint8 pixels to float32 — described by numbers
  (sizes, strides, addresses) in a small array. The caller and the helper run tasks through the
  same compiled function, so who runs a task never changes a bit of its result; the split
  itself depends only on the shapes. The NumPy path (without numba) computes the same halves
  with ``np.matmul`` and ``np.multiply``: the same pixels bit for bit, the same products to
  within a few float32 ulps (``np.matmul`` may reach another kernel of the same BLAS).
- The helper waits for work by polling with ``sched_yield`` (it gives the core to anything else
  that wants it) and sleeps after about 10 ms without work: waking a sleeping thread took
  40–200 µs on the machines measured, as long as the work itself.
- After its own half the caller takes the helper's half back if the helper has not started it
  (an atomic compare-and-swap decides), so a busy or missing second core costs a hand-off, never
  a wait for a thread that is not running. The helper adopts the caller's flush-to-zero mode.
- No Python runs on the helper while it works (the loop is compiled and holds no GIL).

The helper is used in glassnet's default thread setting on machines with two or more CPUs;
``set_num_threads(1)`` or one CPU mean the caller runs every task itself, with the same numbers.
Without numba, with ``GLASSNET_NO_NUMBA=1``, or where NumPy's BLAS exports no
``cblas_sgemm`` with 64-bit integers that the compiled code could call (NumPy built on MKL or
Accelerate, or a BLAS that NumPy does not ship), there is no engine: the NumPy path computes
the same halves with ``np.matmul`` — the same split, so the same sums, but another BLAS entry
point, which on some CPUs rounds a few products differently (within the tolerances of
docs/reproducibility.md). ``status()`` says which case this machine is in (``glassnet info``).
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any

import numpy as np

from .. import _fpenv
from .._threads import helper_allowed
from ..optim import accelerated

__all__ = [
    "move_source",
    "set_adam_constants",
    "Engine",
    "get_engine",
    "gemm_task",
    "scale_task",
    "adam_task",
    "TASK_WIDTH",
    "CONST_WIDTH",
    "SGEMM_SYMBOLS",
    "status",
]

TASK_WIDTH = 12
CONST_WIDTH = 8
_GEMM, _SCALE, _ADAM = 1, 2, 3
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_IDLE, _POSTED, _TAKEN, _DONE, _CANCELLED = 0, 1, 2, 3, 4
_IDLE_POLLS = 20_000  # sched_yield calls without work before the helper sleeps (~10 ms)
_MAX_TASKS = 4
# NumPy's OpenBLAS (in numpy.libs) exports its CBLAS with 64-bit integers under one of these
# names. A test replaces them with a name no library has, to force the machine without one.
SGEMM_SYMBOLS: tuple[str, ...] = ("scipy_cblas_sgemm64_", "cblas_sgemm64_")


def gemm_task(row: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> bool:
    """Describe c = a @ b (float32, row-major BLAS) in ``row``; False if not BLAS-shaped.

    The arguments are those np.matmul passes to cblas_sgemm for the same arrays, so the result
    is the same bit for bit.
    """
    size = 4
    if not (a.dtype == b.dtype == c.dtype == np.float32) or a.ndim != 2 or b.ndim != 2:
        return False
    m, k = a.shape
    n = b.shape[1]
    if c.shape != (m, n) or c.strides[1] != size or c.strides[0] != n * size or min(m, n, k) < 2:
        return False
    row[0] = _GEMM
    for slot, x, cols in ((1, a, k), (2, b, n)):
        if x.strides[1] == size and x.strides[0] % size == 0 and x.strides[0] // size >= cols:
            row[slot], lead = _NO_TRANS, x.strides[0] // size
        elif (
            x.strides[0] == size and x.strides[1] % size == 0 and x.strides[1] // size >= x.shape[0]
        ):
            row[slot], lead = _TRANS, x.strides[1] // size
        else:
            return False
        row[5 if slot == 1 else 7] = x.ctypes.data
        row[6 if slot == 1 else 8] = lead
    row[3], row[4], row[9] = m, n, k
    row[10], row[11] = c.ctypes.data, n
    return True


def scale_task(
    row: np.ndarray, const: np.ndarray, src: np.ndarray, dst: np.ndarray, scale: Any, offset: Any
) -> bool:
    """Describe dst = float32(src)·scale (+ offset) for a 2-D uint8 block; False if unsupported."""
    if src.dtype != np.uint8 or dst.dtype != np.float32 or src.shape != dst.shape or not src.size:
        return False
    if src.ndim != 2 or src.strides[1] != 1 or dst.strides[1] != 4 or dst.strides[0] % 4:
        return False
    row[0] = _SCALE
    row[1], row[2] = src.shape
    row[3], row[4] = src.ctypes.data, src.strides[0]
    row[5], row[6] = dst.ctypes.data, dst.strides[0] // 4
    row[7] = 1 if offset else 0
    const[0], const[1] = np.float32(scale), np.float32(offset or 0.0)
    return True


def adam_task(
    row: np.ndarray,
    const: np.ndarray,
    w: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    constants: tuple[Any, ...],
) -> bool:
    """Describe one Adam pass (optim.accelerated's kernel) over four float32 1-D buffers."""
    arrays = (w, g, m, v)
    if any(x.dtype != np.float32 or x.ndim != 1 or x.strides != (4,) for x in arrays):
        return False
    row[0] = _ADAM
    row[1:5] = [x.ctypes.data for x in arrays]
    row[5] = w.shape[0]
    set_adam_constants(const, constants)
    return True


def move_source(row: np.ndarray, address: int) -> None:
    """Point a described task at a new first operand of the same layout: the ``a`` of a GEMM
    task, the pixels of a scaling task (the one address that changes from batch to batch)."""
    row[5 if row[0] == _GEMM else 3] = address


def set_adam_constants(const: np.ndarray, constants: tuple[Any, ...]) -> None:
    """The step's constants (β's, the bias corrections, the decay) for a described Adam task."""
    const[:7] = constants


class _Unavailable(Exception):
    """The engine cannot exist on this machine; the message says why."""


def _find_sgemm() -> tuple[Any, str]:
    """(NumPy's own cblas_sgemm with 64-bit integers, "symbol in library"), or (None, why not)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None, "threadpoolctl is not installed, so NumPy's BLAS cannot be located"
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    others = []
    for info in threadpool_info():
        path = info.get("filepath") or ""
        if info.get("user_api") != "blas":
            continue
        if numpy_dir not in path or "numpy" not in path:
            others.append(os.path.basename(path) or "?")
            continue
        lib = ctypes.CDLL(path)
        for name in SGEMM_SYMBOLS:
            if hasattr(lib, name):
                fn = getattr(lib, name)
                i, n, f = ctypes.c_int, ctypes.c_int64, ctypes.c_float
                fn.argtypes = [i, i, i, n, n, n, f, n, n, n, n, f, n, n]
                fn.restype = None
                return fn, f"{name} in {path}"
        return None, (
            f"NumPy's BLAS ({os.path.basename(path)}) exports none of {', '.join(SGEMM_SYMBOLS)}"
        )
    if others:
        return None, (
            f"NumPy's BLAS is not one NumPy ships ({', '.join(others)}); the helper calls only "
            "the cblas_sgemm of the OpenBLAS in NumPy's wheels"
        )
    return None, "no BLAS library of NumPy's was found loaded"


def _sgemm() -> Any:
    """NumPy's own cblas_sgemm (64-bit integer interface), or None."""
    return _find_sgemm()[0]


def _build() -> Any:
    """The task runner and the hand-off (``_engine_code``, compiled once and then loaded from
    numba's disk cache), bound to this process's BLAS product and sched_yield; raises
    _Unavailable (saying why) when numba or the BLAS symbol is missing."""
    sgemm, where = _find_sgemm()
    if sgemm is None:
        raise _Unavailable(where)
    try:
        from . import _engine_code as code
    except ImportError as exc:
        raise _Unavailable(f"numba cannot be imported ({exc})") from None
    if code.ADAM is False:
        raise _Unavailable("the compiled Adam kernel is unavailable")
    libc = ctypes.CDLL(None)
    addresses = [ctypes.cast(f, ctypes.c_void_p).value for f in (sgemm, libc.sched_yield)]
    fns = np.array(addresses, dtype=np.int64)

    def run(tasks: Any, consts: Any, count: int) -> None:
        code.run(tasks, consts, count, fns)

    def serve(ctl: Any, tasks: Any, consts: Any, flushing: int, idle_polls: int) -> int:
        return int(code.serve(ctl, tasks, consts, flushing, idle_polls, fns))

    def settle(ctl: Any, take_back: bool) -> int:
        return int(code.settle(ctl, take_back, fns))

    return run, serve, code.post, settle


class Engine:
    """Runs a pair of task lists: the caller's at once, the helper's on the helper if it can."""

    def __init__(self, run: Any, serve: Any, post: Any, settle: Any) -> None:
        self._run, self._serve, self._post, self._settle = run, serve, post, settle
        self.ctl = np.zeros(3, np.int64)
        self.helper_tasks = np.zeros((_MAX_TASKS, TASK_WIDTH), np.int64)
        self.helper_consts = np.zeros((_MAX_TASKS, CONST_WIDTH), np.float32)
        self._in_use = threading.Lock()  # one caller at a time; others run their tasks alone
        self._wake = threading.Semaphore(0)
        self._sleeping = True
        self._thread: threading.Thread | None = None
        self.pairs = 0  # pairs posted to the helper, and how many of them the caller took back
        self.taken_back = 0

    def run_local(self, tasks: np.ndarray, consts: np.ndarray, count: int) -> None:
        """Run tasks on the calling thread."""
        self._run(tasks, consts, count)

    def run_pair(
        self,
        mine: tuple[np.ndarray, np.ndarray, int],
        theirs: tuple[np.ndarray, np.ndarray, int],
        take_back: bool = True,
    ) -> None:
        """Run both task lists: ``theirs`` on the helper when it is allowed, free and running.

        ``take_back=False`` (for tests) waits for the helper instead of taking its half back.
        """
        if not helper_allowed() or not self._in_use.acquire(blocking=False):
            self._run(*mine)
            self._run(*theirs)
            return
        try:
            tasks, consts, count = theirs
            self.helper_tasks[:count] = tasks[:count]
            self.helper_consts[:count] = consts[:count]
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._helper, name="glassnet-helper", daemon=True
                )
                self._thread.start()
            self.ctl[0] = _IDLE
            self._post(self.ctl, count, int(_fpenv.thread_flushing()))
            if self._sleeping:
                self._wake.release()
            self._run(*mine)
            self.pairs += 1
            if self._settle(self.ctl, take_back):  # the helper had not started: take it back
                self.taken_back += 1
                self._run(self.helper_tasks, self.helper_consts, count)
        finally:
            self._in_use.release()

    def _helper(self) -> None:
        flushing = 0
        while True:
            self._sleeping = True
            # Work posted after the last poll but before the flag was set finds no sleeper to
            # wake (the caller saw _sleeping False): look once more before sleeping, or a caller
            # that waits for this half (take_back=False) would wait for ever.
            if self.ctl[0] != _POSTED:
                self._wake.acquire()
            self._sleeping = False
            while True:
                _fpenv.set_thread_flush(bool(flushing))
                polls = _IDLE_POLLS
                if self._serve(self.ctl, self.helper_tasks, self.helper_consts, flushing, polls):
                    flushing = int(self.ctl[2])  # the caller's flush mode changed
                    continue
                break  # idle: sleep until the next post


_engine: Any = None  # None: not built yet; False: unavailable here (_why_not says why)
_why_not = ""
_engine_lock = threading.Lock()


def get_engine() -> Engine | None:
    """The engine, built on first use; None without numba, NumPy's BLAS symbol or when off."""
    global _engine, _why_not
    if not accelerated.enabled():
        return None
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                try:
                    parts = _build()
                    if not parts:
                        raise _Unavailable("numba is not installed")
                    _engine, _why_not = _warmed_up(Engine(*parts)), ""
                except _Unavailable as exc:
                    _engine, _why_not = False, str(exc)
                except Exception as exc:  # noqa: BLE001 - any trouble building it means: NumPy
                    _engine, _why_not = False, f"building it failed ({type(exc).__name__}: {exc})"
    return _engine or None


def status() -> dict[str, Any]:
    """Whether the helper thread can run here, and why not: what ``glassnet info`` prints.

    Keys: ``possible`` (bool), ``reasons`` (why not, empty when possible), ``blas_sgemm`` (the
    symbol and library the tasks call, or None), ``cpus`` (CPUs this process may use),
    ``engine`` ("built", "not built yet" or "unavailable: …"), ``helper_running`` (the
    thread exists and is alive), ``pairs`` and ``taken_back`` (hand-offs so far, and how many
    of them the caller took back because the helper had not started).
    """
    sgemm, where = _find_sgemm()
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    reasons = []
    if not accelerated.available():
        reasons.append("numba is not installed")
    elif not accelerated.enabled():
        reasons.append("the compiled kernels are off (GLASSNET_NO_NUMBA=1 or enable(False))")
    if sgemm is None:
        reasons.append(where)
    if not helper_allowed():
        if cpus < 2:
            reasons.append("this process may use only one CPU")
        else:
            reasons.append("set_num_threads(n) gives BLAS the threads instead")
    if _engine is False and _why_not not in reasons:
        reasons.append(_why_not)
    engine = _engine or None
    if engine is not None:
        state = "built"
    elif _engine is False:
        state = f"unavailable: {_why_not}"
    else:
        state = "not built yet"
    thread = engine._thread if engine is not None else None
    return {
        "possible": not reasons,
        "reasons": reasons,
        "blas_sgemm": where if sgemm is not None else None,
        "cpus": cpus,
        "engine": state,
        "helper_running": bool(thread is not None and thread.is_alive()),
        "pairs": engine.pairs if engine is not None else 0,
        "taken_back": engine.taken_back if engine is not None else 0,
    }


def _warmed_up(engine: Engine) -> Engine:
    """Compile every function now (numba compiles on first call), so that a compiler problem
    shows here — and means the NumPy path — rather than in the middle of a training step."""
    ctl = np.zeros(3, np.int64)
    tasks = np.zeros((1, TASK_WIDTH), np.int64)
    consts = np.zeros((1, CONST_WIDTH), np.float32)
    engine.run_local(tasks, consts, 0)
    engine._serve(ctl, tasks, consts, 0, 1)  # nothing posted: one poll, then back
    engine._post(ctl, 0, 0)
    if engine._settle(ctl, True) != 1:  # nobody serves this ctl: the caller takes it back
        raise RuntimeError("the hand-off does not work here")
    return engine


def _forget_engine() -> None:
    # A forked child has no helper thread: it builds its own engine on first use. The lock is
    # new too: a fork while another thread was building the engine copies it held, for ever.
    global _engine, _why_not, _engine_lock
    _engine, _why_not = None, ""
    _engine_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_engine)
