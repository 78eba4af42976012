"""What the interleaved benchmarks' worker processes share (convnet.py, seed_model.py).

Each framework trains in its own process; the coordinator sends it one command per line on
stdin ("epoch", "finish", "quit") and reads one JSON reply per line from its stdout, so that
the frameworks take turns epoch by epoch on the same cores.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def reply(obj: dict[str, Any]) -> None:
    """One JSON line to the coordinator."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def wait_command() -> str:
    """The coordinator's next command ("quit" when it closed the pipe)."""
    return sys.stdin.readline().strip() or "quit"


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    """The median wall time of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
