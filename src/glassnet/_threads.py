"""How many threads BLAS may use while glassnet trains, evaluates and predicts.

A network's matrix products are small (a batch of 32 times a 784×128 weight): splitting them
across threads gains little on an idle machine and loses badly on a busy one — OpenBLAS's
worker threads spin while they wait, and with another process on the second core a step was
measured 25–100× slower with 2 threads than with 1. So by default glassnet runs its own work
with one BLAS thread, restoring the previous setting afterwards, and uses a second core its own
way: the training step gives half of its first layer to a helper thread that never makes the
caller wait for it (glassnet.training.parallel), and predict runs batches on several threads.
``set_num_threads(n)`` chooses otherwise: n BLAS threads and no helper.

The limit holds in whatever thread glassnet is called from. NumPy's bundled OpenBLAS (pthreads)
has one thread count for the whole process, and threadpoolctl (3.8) lets only one Python thread
change it — the first that set a limit, for as long as it lives unless the limit is used as a
context manager; a limit asked for from any other thread is silently dropped. A fit in a worker
thread then ran with every core's BLAS threads: other bits than the same seeded fit in the main
thread, and several times slower. So threadpoolctl only finds the libraries here; a process-wide
count is set by calling the library itself, under a lock, when the first glassnet call in any
thread begins, and put back when the last one ends (a library whose count is per thread,
OpenBLAS built with OpenMP, is set in each calling thread). Predict's pool threads run each task
with the submitting thread's BLAS limit and flush-to-zero mode, and a forked child starts with a
new pool (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from . import _fpenv
from .errors import InvalidArgumentError

__all__ = [
    "set_num_threads",
    "get_num_threads",
    "helper_allowed",
    "blas_threads",
    "inside_blas_threads",
    "inference_workers",
    "executor",
]

_num_threads: int | None = None


def set_num_threads(n: int | None) -> None:
    """BLAS threads for fit/evaluate/predict: a positive int, or None for glassnet's default.

    The default is one BLAS thread plus the training step's helper thread; ``set_num_threads(1)``
    uses one thread only, ``n > 1`` lets BLAS use n threads.
    """
    global _num_threads
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise InvalidArgumentError(
            f"set_num_threads: n must be a positive integer or None, received n={n!r}"
        )
    _num_threads = n


def get_num_threads() -> int:
    """The number of BLAS threads glassnet's own work runs with."""
    return 1 if _num_threads is None else _num_threads


def helper_allowed() -> bool:
    """True when the training step may give half of its first layer to a helper thread.

    That is glassnet's default (no set_num_threads call, or set_num_threads(None)) on a machine
    where this process may use two or more CPUs; see glassnet.training.parallel.
    """
    return _num_threads is None and inference_workers() > 1


class _Library:
    """One BLAS library: how to read and set its thread count, and whether that is per thread."""

    def __init__(self, get: Any, set_: Any, per_thread: bool) -> None:
        self.get, self.set, self.per_thread = get, set_, per_thread


def _openblas_symbol(dynlib: Any, name: str) -> Any:
    # NumPy's wheels rename the symbols (scipy_openblas_set_num_threads64_); try every form.
    for prefix in ("", "scipy_"):
        for suffix in ("", "64_", "_64"):
            fn = getattr(dynlib, f"{prefix}{name}{suffix}", None)
            if fn is not None:
                return fn
    return None


def _library(lib: Any) -> _Library | None:
    if lib.internal_api == "openblas" and getattr(lib, "threading_layer", "") != "openmp":
        # Called directly: threadpoolctl's own setter obeys only its "controlling thread".
        get = _openblas_symbol(lib.dynlib, "openblas_get_num_threads")
        set_ = _openblas_symbol(lib.dynlib, "openblas_set_num_threads")
        if get is None or set_ is None:
            return None
        get.restype, set_.restype, set_.argtypes = ctypes.c_int, None, [ctypes.c_int]
        return _Library(get, set_, per_thread=False)
    # OpenBLAS over OpenMP (omp_set_num_threads) counts per thread; MKL, BLIS and the others
    # count per process and threadpoolctl sets them from any thread.
    return _Library(lib.get_num_threads, lib.set_num_threads, lib.internal_api == "openblas")


_libraries: list[_Library] | None = None


def _blas_libraries() -> list[_Library]:
    """The loaded BLAS libraries, found once through threadpoolctl (scanning costs ~1 ms)."""
    global _libraries
    if _libraries is None:
        with _lock:
            if _libraries is None:
                try:
                    from threadpoolctl import ThreadpoolController
                except ImportError:  # without threadpoolctl BLAS keeps its own setting
                    _libraries = []
                else:
                    found = ThreadpoolController().select(user_api="blas").lib_controllers
                    _libraries = [x for x in map(_library, found) if x is not None]
    return _libraries


class _Shared:
    """The process-wide limit: how many blas_threads() blocks are open in all threads, the
    counts the libraries had before the first of them opened, and the count applied."""

    active = 0
    saved: list[int] | None = None
    applied: int | None = None


_lock = threading.Lock()  # guards _Shared and the pool's creation; a new one in a forked child
_local = threading.local()  # per thread: how many blas_threads() blocks it is inside


def _open_shared(libs: list[_Library], n: int) -> None:
    with _lock:
        if _Shared.active == 0:
            _Shared.saved = [lib.get() for lib in libs]
        if _Shared.applied != n:  # the first block, or set_num_threads changed meanwhile
            for lib in libs:
                lib.set(n)
            _Shared.applied = n
        _Shared.active += 1


def _close_shared(libs: list[_Library]) -> None:
    with _lock:
        _Shared.active -= 1
        if _Shared.active == 0:
            for lib, count in zip(libs, _Shared.saved or []):
                lib.set(count)
            _Shared.saved = _Shared.applied = None


@contextlib.contextmanager
def blas_threads() -> Iterator[None]:
    """Limit BLAS to ``get_num_threads()`` threads inside the block, from any thread.

    A process-wide count stays limited while any thread is inside such a block and is restored
    when the last one leaves; a per-thread count is set and restored in the calling thread.
    """
    libs = _blas_libraries()
    if not libs:
        yield
        return
    n = get_num_threads()
    shared = [lib for lib in libs if not lib.per_thread]
    own = [lib for lib in libs if lib.per_thread]
    _open_shared(shared, n)
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        before = [lib.get() for lib in own]
        for lib in own:
            lib.set(n)
        try:
            yield
        finally:
            for lib, count in zip(own, before):
                lib.set(count)
    finally:
        _local.depth -= 1
        _close_shared(shared)


def inside_blas_threads() -> bool:
    """True when the calling thread is inside a blas_threads() block."""
    return getattr(_local, "depth", 0) > 0


def _in_callers_environment(fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn, made to run with the calling thread's BLAS limit and flush-to-zero mode."""
    mode = _fpenv.thread_mode()
    limited = inside_blas_threads()

    def task(*args: Any, **kwargs: Any) -> Any:
        with _fpenv.adopted_mode(mode):
            if not limited:
                return fn(*args, **kwargs)
            with blas_threads():
                return fn(*args, **kwargs)

    return task


class _Pool(ThreadPoolExecutor):
    """A thread pool whose tasks compute as the thread that submitted them would.

    A pool thread keeps the floating-point mode of whichever thread happened to start it, so
    each task adopts its submitter's flush-to-zero mode (and BLAS limit) while it runs.
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return super().submit(_in_callers_environment(fn), *args, **kwargs)


_executor: _Pool | None = None


def executor() -> ThreadPoolExecutor:
    """A persistent pool of ``inference_workers()`` threads (for data-parallel predict).

    Each task runs with the submitting thread's flush-to-zero mode and BLAS limit. A forked
    child gets a new pool on first use (the parent's threads do not exist there).
    """
    global _executor
    pool = _executor
    if pool is None:
        with _lock:
            if _executor is None:
                _executor = _Pool(
                    max_workers=inference_workers(), thread_name_prefix="glassnet-predict"
                )
            pool = _executor
    return pool


def _after_fork_in_child() -> None:
    # Only the forking thread exists in the child: the parent's pool threads are gone (a task
    # given to the inherited pool would wait for ever) and a lock may have been held by a
    # thread that is not here to release it.
    global _executor, _lock
    _executor = None
    _lock = threading.Lock()
    mine = getattr(_local, "depth", 0)  # blocks the forking thread itself is inside
    if _Shared.active and not mine:
        # The count was limited for other threads' calls, which do not go on in the child.
        libs = [lib for lib in (_libraries or []) if not lib.per_thread]
        for lib, count in zip(libs, _Shared.saved or []):
            lib.set(count)
        _Shared.saved = _Shared.applied = None
    _Shared.active = mine


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def inference_workers() -> int:
    """Threads ``predict`` spreads its batches over: one per available CPU (at most 8)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))
