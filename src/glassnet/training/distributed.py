"""Data-parallel ``fit`` over MPI: ``model.fit(..., distributed=True)`` under ``mpirun``/``srun``.

Every process (rank) runs the same script on the same data, as with Horovod or PyTorch DDP::

    mpirun -n 4 python train.py          # or srun -n 4 python train.py under Slurm

and at each step takes its shard of the global mini-batch (``batch_size`` stays the global
batch, whatever the number of ranks): rank r of p takes the rows ⌊rB/p⌋ … ⌊(r+1)B/p⌋ − 1 of
the B samples, computes the mean gradient of its n_r samples on whichever path fit takes (the
fast step or the graph), and, between the gradients and the optimiser's update
(``Optimizer.gradient_hook``), the gradients are scaled by n_r/B and summed across ranks with
one ``Allreduce`` over each flat gradient buffer (``optim/flat.py``: one buffer per dtype). So
every rank applies the gradient of the global batch's mean loss,

    ∂C/∂w = 1/B Σ_x ∂C_x/∂w = Σ_r (n_r/B) · (1/n_r Σ_{x in shard r} ∂C_x/∂w),

to identical weights (rank 0's initial weights and random state are broadcast first), and the
run equals the single-process fit up to the order of additions. Shuffling draws from the one
generator, identical on every rank; dropout masks come from a stream per rank and step derived
from it (``PCG64.jumped``), after which every rank moves the shared generator on by the same
amount — reproducible for a given seed and number of ranks.

The loss and outputs of the shards are gathered after each step, so the History, metrics,
callbacks and early stopping see the global batch on every rank and decide alike. Rank 0 alone
writes checkpoints (atomically) and draws the progress bar; a checkpoint does not depend on the
number of ranks, so a run resumes with any number of them.

Faults: a rank that dies is noticed by the launcher (mpirun stops the job and names the rank);
as a second guard, a rank that waits longer than ``timeout()`` seconds in one collective
operation (``GLASSNET_MPI_TIMEOUT``, default 300) prints which rank it is and what it waited
for, and exits, which makes the launcher stop the others — the job never hangs.

mpi4py is imported only here, and only when asked for (``pip install glassnet[mpi]``).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import _rng
from ..errors import GlassnetError, InvalidArgumentError
from .step import StepResult

__all__ = [
    "MissingDependencyError",
    "Group",
    "launched",
    "rank",
    "size",
    "is_main",
    "join",
    "shard",
    "timeout",
    "WorkerError",
    "run_workers",
]

TIMEOUT_ENV = "GLASSNET_MPI_TIMEOUT"
DEFAULT_TIMEOUT = 300.0
# Environment variables that MPI launchers (Open MPI, MPICH/Hydra, PMIx, Slurm) set in every
# process they start: their presence says "running under a launcher" without initialising MPI.
_LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


class MissingDependencyError(GlassnetError, ImportError):
    """An optional dependency (here mpi4py) that a feature needs is not installed."""


def _mpi(where: str) -> Any:
    """mpi4py's MPI module (importing it initialises MPI), or a clear error."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise MissingDependencyError(
            f"{where}: data-parallel training needs mpi4py and an MPI library, which are not "
            f"available ({exc}); install them with pip install glassnet[mpi] and Open MPI "
            f"(apt-get install openmpi-bin libopenmpi-dev)"
        ) from None
    return MPI


def launched() -> bool:
    """Whether this process was started by an MPI launcher (mpirun, mpiexec, srun)."""
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def rank() -> int:
    """This process's rank in MPI.COMM_WORLD (0 when not started by a launcher)."""
    return int(_mpi("rank").COMM_WORLD.Get_rank()) if launched() else 0


def size() -> int:
    """The number of processes in MPI.COMM_WORLD (1 when not started by a launcher)."""
    return int(_mpi("size").COMM_WORLD.Get_size()) if launched() else 1


def is_main() -> bool:
    """True on rank 0, the process that prints and writes files."""
    return rank() == 0


def timeout() -> float:
    """Seconds a rank waits in one collective operation before it gives up (the job stops)."""
    text = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(text) if text else DEFAULT_TIMEOUT
    except ValueError:
        value = math.nan
    if not value > 0:
        raise InvalidArgumentError(
            f"{TIMEOUT_ENV} must be a positive number of seconds, received {text!r}"
        )
    return value


def shard(batch: int, rank: int, size: int) -> tuple[int, int]:
    """Rank ``rank``'s rows [lo, hi) of a global batch of ``batch`` rows over ``size`` ranks:
    contiguous, in rank order, sizes differing by at most one."""
    return rank * batch // size, (rank + 1) * batch // size


class _PeerFailed(Exception):
    """Another rank's loss was not finite this step: no rank updates its weights."""


class _Watchdog:
    """Ends the process when it has waited too long in one collective operation.

    A blocked MPI call cannot be interrupted from Python, so a daemon thread watches the time
    spent inside each one; past the limit it says which rank waited for what and exits, and
    the launcher then stops the other ranks.
    """

    def __init__(self, rank: int, size: int, limit: float) -> None:
        self.rank, self.size, self.limit = rank, size, limit
        self._what: str | None = None
        self._since = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="glassnet-mpi-watchdog")
        self._thread.daemon = True
        self._thread.start()

    @contextlib.contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        self._since = time.monotonic()
        self._what = what
        try:
            yield
        finally:
            self._what = None

    def close(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        period = min(1.0, self.limit / 4)
        while not self._stop.wait(period):
            what = self._what
            if what is not None and time.monotonic() - self._since > self.limit:
                print(
                    f"glassnet: rank {self.rank} of {self.size} waited more than "
                    f"{self.limit:g} s in {what}; another rank is gone or stuck, so this one "
                    f"stops ({TIMEOUT_ENV} sets the limit)",
                    file=sys.stderr,
                    flush=True,
                )
                os._exit(70)


class Group:
    """The ranks of one data-parallel fit: MPI.COMM_WORLD, the step wrapper and the hook."""

    def __init__(self, comm: Any, where: str) -> None:
        self.comm = comm
        self.where = where
        self.rank = int(comm.Get_rank())
        self.size = int(comm.Get_size())
        self.is_main = self.rank == 0
        self._watchdog = _Watchdog(self.rank, self.size, timeout())
        # Wall time inside the collectives, waiting for slower ranks included.
        self.seconds = {"allreduce": 0.0, "exchange": 0.0}
        self.steps = 0
        self.gradient_bytes = 0

    # -- set-up --------------------------------------------------------------------------------
    def agree(self, what: dict[str, Any]) -> None:
        """Every rank must call fit alike: compare ``what`` (sizes, options) with rank 0's."""
        with self._watchdog.waiting("the check that every rank calls fit alike"):
            theirs = self.comm.allgather(what)
        for r, other in enumerate(theirs):
            for key in what:
                if other.get(key) != theirs[0].get(key):
                    raise InvalidArgumentError(
                        f"{self.where}: every rank must call fit(distributed=True) with the same "
                        f"data and options, but {key} is {other.get(key)!r} on rank {r} and "
                        f"{theirs[0].get(key)!r} on rank 0"
                    )

    def broadcast_start(self, model: Any) -> None:
        """Rank 0's weights and random state on every rank (before the first step)."""
        with self._watchdog.waiting("the broadcast of rank 0's initial weights"):
            state = self.comm.bcast(_rng.get_state() if self.is_main else None, root=0)
            flat = model.optimizer.flat
            bound = set()
            if flat is not None:
                for group in flat.groups:
                    self.comm.Bcast(group.data, root=0)
                bound = {id(p) for p in flat.params}
            for p in model.parameters():  # frozen ones, outside the optimiser's buffers
                if id(p) not in bound:
                    buffer = np.ascontiguousarray(p.data)
                    self.comm.Bcast(buffer, root=0)
                    p.data[...] = buffer
        _rng.set_state(state)

    # -- the step ------------------------------------------------------------------------------
    def wrap(self, model: Any, step: Callable[..., StepResult]) -> _ShardStep:
        """``step`` run on this rank's shard, with gradients averaged over the ranks."""
        return _ShardStep(self, model, step)

    def allreduce_gradients(self, flat: Any, weight: float, failed: bool) -> None:
        """Scale this rank's gradients by its share of the batch and sum them over the ranks,
        in place: one Allreduce per flat gradient buffer (one per dtype). A rank whose loss was
        not finite sends NaN in the first element, so that every rank skips the update."""
        from mpi4py import MPI

        started = time.perf_counter()
        self.steps += 1
        self.gradient_bytes = sum(group.grad.nbytes for group in flat.groups)
        for i, group in enumerate(flat.groups):
            grad = group.grad
            if failed or weight == 0.0:
                grad.fill(0.0)
            elif weight != 1.0:
                grad *= grad.dtype.type(weight)
            if failed and i == 0 and grad.size:
                grad[0] = np.nan
            with self._watchdog.waiting("the gradient allreduce"):
                self.comm.Allreduce(MPI.IN_PLACE, grad, op=MPI.SUM)
        self.seconds["allreduce"] += time.perf_counter() - started
        if flat.groups and flat.groups[0].grad.size and np.isnan(flat.groups[0].grad[0]):
            raise _PeerFailed

    def gather(self, item: Any) -> list[Any]:
        started = time.perf_counter()
        with self._watchdog.waiting("the exchange of losses and outputs"):
            parts = list(self.comm.allgather(item))
        self.seconds["exchange"] += time.perf_counter() - started
        return parts

    def summary(self) -> dict[str, Any]:
        """What ``History.distributed`` holds after the fit."""
        return {
            "ranks": self.size,
            "rank": self.rank,
            "steps": self.steps,
            "gradient_bytes": self.gradient_bytes,
            "allreduce_seconds": self.seconds["allreduce"],
            "exchange_seconds": self.seconds["exchange"],
        }

    def abort(self, exc: BaseException) -> None:
        """A fault on this rank during the loop: say so, naming the rank, and stop every rank
        (the others would wait for this one in the next collective operation)."""
        print(
            f"glassnet: rank {self.rank} of {self.size} failed: {type(exc).__name__}: {exc}; "
            f"stopping every rank",
            file=sys.stderr,
            flush=True,
        )
        self.comm.Abort(1)

    def close(self) -> None:
        self._watchdog.close()


class _ShardStep:
    """The step fit calls with the global batch: this rank's shard through ``step``, the
    gradient average in the optimiser's hook, then the global loss and outputs."""

    def __init__(self, group: Group, model: Any, step: Callable[..., StepResult]) -> None:
        self.group = group
        self.step = step
        self.optimizer = model.optimizer
        self._weight = 1.0
        self._reduced = False
        self.optimizer.gradient_hook = self._hook

    def release(self) -> None:
        """Detach from the optimiser (after fit)."""
        if self.optimizer.gradient_hook == self._hook:
            self.optimizer.gradient_hook = None

    def _hook(self, flat: Any) -> None:
        self._reduced = True
        self.group.allreduce_gradients(flat, self._weight, failed=False)

    def __call__(self, xb: np.ndarray, yb: np.ndarray, *record: Any) -> StepResult:
        group = self.group
        n = len(xb)
        lo, hi = shard(n, group.rank, group.size)
        self._weight = (hi - lo) / n
        if hi == lo:  # fewer rows than ranks: a stand-in row whose gradient counts zero times
            lo, hi = 0, 1
        self._reduced = False
        shared = _rng.get_state()
        _rng.set_state(_rank_stream(shared, group.rank))
        drew = _rng.get_state()
        try:
            result = self.step(xb[lo:hi], yb[lo:hi], *record)
        except _PeerFailed:
            result = StepResult(math.nan, None)
        finally:
            used = _rng.get_state()["state"] != drew["state"]
            _rng.set_state(shared)
            if used:  # every rank moves the shared stream on alike
                _rng.generator().bit_generator.random_raw(1)
        if not self._reduced:  # this rank's loss was not finite: the step stopped before
            try:  # the update, and the other ranks wait in the allreduce
                group.allreduce_gradients(self.optimizer.flat, 0.0, failed=True)
            except _PeerFailed:
                pass
        return self._combine(result, self._weight)

    def _combine(self, result: StepResult, weight: float) -> StepResult:
        """The global batch's mean loss and outputs, from every rank's shard."""
        mine = (float(result.loss), weight, result.outputs if weight > 0 else None)
        parts = self.group.gather(mine)
        loss = 0.0
        for value, share, _ in parts:
            if share > 0:
                loss += value * share
        outputs = [out for _, share, out in parts if share > 0]
        if any(out is None for out in outputs):
            return StepResult(loss, None)
        return StepResult(loss, np.concatenate(outputs))


def _rank_stream(state: dict[str, Any], rank: int) -> dict[str, Any]:
    """The generator state this rank draws its dropout masks from in this step: the shared
    state jumped rank + 1 times (2¹²⁷ draws each), so the ranks' streams never overlap."""
    bits = np.random.PCG64()
    bits.state = state  # type: ignore[assignment]
    return dict(bits.jumped(rank + 1).state)


def join(model: Any, what: dict[str, Any], where: str) -> Group | None:
    """The group for a data-parallel fit (None with one process: then it is a plain fit).

    ``what``: the sizes and options every rank must share. Broadcasts rank 0's weights and
    random state.
    """
    MPI = _mpi(where)
    comm = MPI.COMM_WORLD
    if comm.Get_size() == 1:
        return None
    group = Group(comm, where)
    try:
        group.agree(what)
        group.broadcast_start(model)
    except BaseException:
        group.close()
        raise
    return group


# -- launching local workers (glassnet train --workers N) -----------------------------------------
class WorkerError(GlassnetError, RuntimeError):
    """A worker of a local MPI launch failed; the message names its rank."""


# What Open MPI's mpirun prints when a process dies on a signal or exits with an error.
_SIGNALLED = re.compile(r"process rank (\d+) with PID \d+ on node \S+ exited on signal (\d+)")
_EXITED = re.compile(r"Process name: \[\[\d+,\d+\],(\d+)\]\s+Exit code:\s+(\d+)")


def mpirun_command(workers: int, argv: list[str]) -> list[str]:
    """``mpirun -n workers <this python> argv`` for this machine, or an error saying what is
    missing (mpirun, mpi4py)."""
    import importlib.util
    import shutil

    mpirun = shutil.which("mpirun")
    if mpirun is None or importlib.util.find_spec("mpi4py") is None:
        missing = "mpirun (Open MPI)" if mpirun is None else "mpi4py"
        raise MissingDependencyError(
            f"--workers {workers} runs the workers under MPI, but {missing} is not "
            f"installed; install Open MPI (apt-get install openmpi-bin libopenmpi-dev) and "
            f"pip install glassnet[mpi], or use --workers 1"
        )
    root = ["--allow-run-as-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    # --oversubscribe: more workers than cores is allowed (a laptop, a test).
    return [mpirun, *root, "--oversubscribe", "-n", str(workers), sys.executable, *argv]


def run_workers(workers: int, argv: list[str]) -> None:
    """Run ``python argv`` as ``workers`` MPI ranks on this machine and wait; their output
    goes through. A failure raises WorkerError naming the rank that failed first."""
    import subprocess

    command = mpirun_command(workers, argv)
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, errors="replace")
    assert process.stderr is not None
    seen: list[str] = []
    for line in process.stderr:  # passed through as it comes, and kept to find the rank
        sys.stderr.write(line)
        seen.append(line)
    code = process.wait()
    if code != 0:
        raise WorkerError(_failure("".join(seen), workers, code))


def _failure(text: str, workers: int, code: int) -> str:
    """Which rank failed and how, from mpirun's report."""
    import signal

    killed = _SIGNALLED.search(text)
    if killed:
        number = int(killed.group(2))
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return (
            f"worker rank {killed.group(1)} of {workers} was killed by signal {number} "
            f"({name}) and the job was stopped; a run with checkpoints resumes from the last one"
        )
    exited = _EXITED.search(text)
    if exited:
        return (
            f"worker rank {exited.group(1)} of {workers} failed (exit code {exited.group(2)}) "
            f"and the job was stopped; its message is above"
        )
    return f"the {workers} workers failed (mpirun exit code {code}); the message is above"
