"""How many threads BLAS may use while glassnet trains, evaluates and predicts.

A network's matrix products are small (a batch of 32 times a 784×128 weight): splitting them
across threads gains little on an idle machine and loses badly on a busy one — OpenBLAS's
worker threads spin while they wait, and with another process on the second core a step was
measured 25–100× slower with 2 threads than with 1. So by default glassnet runs its own work
with one BLAS thread, restoring the previous setting afterwards, and uses a second core its own
way: the training step gives half of its first layer to a helper thread that never makes the
caller wait for it (glassnet.training.parallel), and predict runs batches on several threads.
``set_num_threads(n)`` chooses otherwise: n BLAS threads and no helper. The limit is applied
through threadpoolctl when it is installed (it is a dependency).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from .errors import InvalidArgumentError

__all__ = [
    "set_num_threads",
    "get_num_threads",
    "helper_allowed",
    "blas_threads",
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


_controller: Any = None


def _blas_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries, found once (scanning costs ~1 ms)."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # without threadpoolctl BLAS keeps its own setting
            _controller = False
        else:
            _controller = ThreadpoolController().select(user_api="blas")
    return _controller


@contextlib.contextmanager
def blas_threads() -> Iterator[None]:
    """Limit BLAS to ``get_num_threads()`` threads inside the block."""
    controller = _blas_controller()
    if not controller:
        yield
        return
    limiter: Any = controller.limit(limits=get_num_threads())
    try:
        yield
    finally:
        limiter.restore_original_limits()


_executor: Any = None


def executor() -> Any:
    """A persistent pool of ``inference_workers()`` threads (for data-parallel predict)."""
    global _executor
    if _executor is None:
        from concurrent.futures import ThreadPoolExecutor

        _executor = ThreadPoolExecutor(
            max_workers=inference_workers(), thread_name_prefix="glassnet-predict"
        )
    return _executor


def inference_workers() -> int:
    """Threads ``predict`` spreads its batches over: one per available CPU (at most 8)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))
