"""Data-parallel training on this machine: 1 rank against 2, the allreduce's cost, a forecast.

In one run (it starts its own workers; needs mpi4py and Open MPI's mpirun):

1. the cost of one gradient allreduce (float32, MPI.SUM, in place) on loopback between 2 ranks,
   for the seed model 784-128-10 and the wide model 784-4096-4096-10, and of a 4-byte one
   (the latency term);
2. throughput of the wide model (Adam, float32, global batch ``--batch``) with 1 process and
   with 2 ranks (``fit(distributed=True)`` under ``mpirun -n 2``), and the share of the
   2-rank step spent in the allreduce and in the loss exchange (``History.distributed``);
3. the compute time per sample of both models on one process, and from these an estimate of
   the speed-up on 2–64 machines over 10/25/100 Gb/s links with the ring allreduce's cost
   2(p−1)/p · bytes / bandwidth + 2(p−1) · latency, and the global batch below which
   communication takes longer than computation (docs/scaling.md explains the model).

    python benchmarks/distributed.py --batch 256 --steps 6

Timings depend on what else the machine runs; report them with that caveat.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SEED = (784, 128, 10)
WIDE = (784, 4096, 4096, 10)
LINKS_GBIT = (10, 25, 100)
MACHINES = (2, 4, 8, 16, 32, 64)
# Per-hop latency of a data-centre TCP link (the loopback figure measured here is far lower).
NETWORK_LATENCY = 20e-6


def parameters(widths: tuple[int, ...]) -> int:
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


def build(widths: tuple[int, ...]):
    import glassnet

    glassnet.seed(0)
    layers = [glassnet.layers.Dense(widths[1], activation="relu", input_shape=(widths[0],))]
    layers += [glassnet.layers.Dense(w, activation="relu") for w in widths[2:-1]]
    layers.append(glassnet.layers.Dense(widths[-1], activation="softmax"))
    net = glassnet.Sequential(layers)
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return net


def data(samples: int, features: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((samples, features), dtype=np.float32), rng.integers(0, 10, samples)


def seconds_per_step(widths: tuple[int, ...], batch: int, steps: int, distributed: bool) -> dict:
    """Fit ``steps`` (+2 warm-up) steps of ``batch``; the time per step and the comm summary."""
    net = build(widths)
    x, y = data(batch * (steps + 2), widths[0])
    net.fit(
        x[: 2 * batch],
        y[: 2 * batch],
        batch_size=batch,
        verbose=0,
        telemetry=False,
        doctor=False,
        shuffle=False,
        distributed=distributed,
    )  # warm-up: compile, buffers
    started = time.perf_counter()
    history = net.fit(
        x[2 * batch :],
        y[2 * batch :],
        batch_size=batch,
        verbose=0,
        telemetry=False,
        doctor=False,
        shuffle=False,
        distributed=distributed,
    )
    return {"step": (time.perf_counter() - started) / steps, "comm": history.distributed}


def allreduce_seconds(comm, count: int, repeats: int) -> float:
    from mpi4py import MPI

    buffer = np.ones(count, dtype=np.float32)
    comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)  # warm-up
    comm.Barrier()
    started = time.perf_counter()
    for _ in range(repeats):
        comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
    return (time.perf_counter() - started) / repeats


def worker(args: argparse.Namespace) -> None:
    """One rank of the 2-rank part: allreduce costs, then the wide model's data-parallel fit."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    costs = {
        "latency": allreduce_seconds(comm, 1, 200),
        "seed": allreduce_seconds(comm, parameters(SEED), 50),
        "wide": allreduce_seconds(comm, parameters(WIDE), 5),
    }
    fit = seconds_per_step(WIDE, args.batch, args.steps, distributed=True)
    if comm.Get_rank() == 0:
        print(json.dumps({"allreduce": costs, "fit": fit}))


def launch_two(args: argparse.Namespace) -> dict:
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        sys.exit("benchmarks/distributed.py: mpirun is not on PATH (apt-get install openmpi-bin)")
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    command = [
        mpirun,
        *root,
        "--oversubscribe",
        "-n",
        "2",
        sys.executable,
        __file__,
        "--worker",
        "--batch",
        str(args.batch),
        "--steps",
        str(args.steps),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"the 2-rank run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ring_seconds(nbytes: float, machines: int, gbit: float, latency: float) -> float:
    """The ring allreduce: 2(p−1) steps, each moving bytes/p over the link and paying the
    latency once."""
    p = machines
    return 2 * (p - 1) / p * nbytes / (gbit * 1e9 / 8) + 2 * (p - 1) * latency


def forecast(name: str, nbytes: int, per_sample: float, batch: int) -> list[str]:
    lines = [
        f"{name}: {nbytes / 1e6:.1f} MB of gradients, {per_sample * 1e6:.1f} µs of compute "
        f"per sample; global batch {batch}"
    ]
    header = "  machines " + "".join(f"| {g:>3} Gb/s: speed-up, B*  " for g in LINKS_GBIT)
    lines.append(header)
    for p in MACHINES:
        cells = []
        for gbit in LINKS_GBIT:
            comm = ring_seconds(nbytes, p, gbit, NETWORK_LATENCY)
            compute = batch * per_sample / p
            speedup = batch * per_sample / (compute + comm)
            crossover = p * comm / per_sample  # the batch at which compute = communication
            cells.append(f"| {speedup:14.1f}x, {crossover:8.0f} ")
        lines.append(f"  {p:>8} " + "".join(cells))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=256, help="global batch; default 256")
    parser.add_argument("--steps", type=int, default=6, help="timed steps; default 6")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    if args.worker:
        worker(args)
        return
    one_wide = seconds_per_step(WIDE, args.batch, args.steps, distributed=False)["step"]
    one_seed = seconds_per_step(SEED, args.batch, max(args.steps, 20), distributed=False)["step"]
    two = launch_two(args)
    step2, comm = two["fit"]["step"], two["fit"]["comm"]
    allreduce = two["allreduce"]
    steps = comm["steps"]
    share_allreduce = comm["allreduce_seconds"] / steps / step2
    share_exchange = comm["exchange_seconds"] / steps / step2
    print(
        f"allreduce on loopback, 2 ranks: 4 bytes {allreduce['latency'] * 1e6:.0f} µs; "
        f"seed model {parameters(SEED) * 4 / 1e6:.2f} MB {allreduce['seed'] * 1e3:.2f} ms; "
        f"wide model {parameters(WIDE) * 4 / 1e6:.1f} MB {allreduce['wide'] * 1e3:.1f} ms"
    )
    print(
        f"wide model, global batch {args.batch}: 1 process {args.batch / one_wide:.0f} "
        f"samples/s ({one_wide * 1e3:.0f} ms/step); 2 ranks {args.batch / step2:.0f} samples/s "
        f"({step2 * 1e3:.0f} ms/step), speed-up {one_wide / step2:.2f}x; of the 2-rank step, "
        f"{share_allreduce:.0%} in the gradient allreduce (waiting for the other rank "
        f"included), {share_exchange:.1%} in the loss exchange"
    )
    print(f"seed model, batch {args.batch}: 1 process {one_seed * 1e3:.2f} ms/step")
    print()
    for name, widths, step in (("seed 784-128-10", SEED, one_seed), ("wide", WIDE, one_wide)):
        per_sample = step / args.batch
        for line in forecast(name, parameters(widths) * 4, per_sample, args.batch):
            print(line)
        print()
    print(json.dumps({"one": {"wide": one_wide, "seed": one_seed}, "two": two}))


if __name__ == "__main__":
    main()
