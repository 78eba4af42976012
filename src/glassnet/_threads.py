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

import ctypes
import os
import threading
from collections.abc import Callable
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
# The libraries split by how their count is kept: once per process, or per calling thread.
_shared_libs: list[_Library] = []
_own_libs: list[_Library] = []


def _blas_libraries() -> list[_Library]:
    """The loaded BLAS libraries, found once through threadpoolctl (scanning costs ~1 ms)."""
    global _libraries, _shared_libs, _own_libs
    if _libraries is None:
        with _lock:
            if _libraries is None:
                try:
                    from threadpoolctl import ThreadpoolController
                except ImportError:  # without threadpoolctl BLAS keeps its own setting
                    found_libs: list[_Library] = []
                else:
                    found = ThreadpoolController().select(user_api="blas").lib_controllers
                    found_libs = [x for x in map(_library, found) if x is not None]
                _shared_libs = [lib for lib in found_libs if not lib.per_thread]
                _own_libs = [lib for lib in found_libs if lib.per_thread]
                _libraries = found_libs
    return _libraries


class _Shared:
    """The process-wide limit: how many blas_threads() blocks are open in all threads, the
    counts the libraries had before the first of them opened, and the count applied."""

    active = 0
    saved: list[int] | None = None
    applied: int | None = None


class _ThreadState(threading.local):
    depth = 0  # how many blas_threads() blocks this thread is inside (a class default: a
    # missing thread-local attribute costs an exception on every read)


_lock = threading.Lock()  # guards _Shared and the pool's creation; a new one in a forked child
_local = _ThreadState()


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


class blas_threads:  # noqa: N801 - a context manager, used as a function
    """Limit BLAS to ``get_num_threads()`` threads inside the block, from any thread.

    A process-wide count stays limited while any thread is inside such a block and is restored
    when the last one leaves; a per-thread count is set and restored in the calling thread.
    A class rather than a generator: predict on one sample enters it every call, and a
    generator-based context manager cost more than the library calls themselves.
    """

    __slots__ = ("_entered", "_before")

    def __enter__(self) -> None:
        libs = _libraries if _libraries is not None else _blas_libraries()
        self._entered = bool(libs)
        if not libs:
            return
        n = 1 if _num_threads is None else _num_threads
        _open_shared(_shared_libs, n)
        _local.depth += 1
        before = self._before = [lib.get() for lib in _own_libs] if _own_libs else []
        try:
            for lib in _own_libs:
                lib.set(n)
        except BaseException:
            self._restore(before)
            raise

    def _restore(self, before: list[int]) -> None:
        try:
            for lib, count in zip(_own_libs, before):
                lib.set(count)
        finally:
            _local.depth -= 1
            _close_shared(_shared_libs)

    def __exit__(self, *exc: Any) -> None:
        if self._entered:
            self._restore(self._before)


def inside_blas_threads() -> bool:
    """True when the calling thread is inside a blas_threads() block."""
    return _local.depth > 0


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
    mine = _local.depth  # blocks the forking thread itself is inside
    if _Shared.active and not mine:
        # The count was limited for other threads' calls, which do not go on in the child.
        for lib, count in zip(_shared_libs, _Shared.saved or []):
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
