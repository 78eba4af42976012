"""predict of the 10,000 Fashion-MNIST test images with Keras's convnet: glassnet trees side by
side (before/after a change), and JAX jit, interleaved round by round.

The model is benchmarks/convnet.py's (Conv2D 32 3×3 relu → MaxPooling 2 → Conv2D 64 3×3 relu →
MaxPooling 2 → Flatten → Dropout → Dense 10 softmax) with its seeded initial weights (predict's
time does not depend on training). Each tree and each peer runs in its own worker process; the
parent asks each in turn for one timed predict per round, so the machine's noise falls on all
of them alike, and prints the median and the range of the rounds, and the median CPU time
(all threads of the worker: less disturbed than wall time by other processes on a busy machine).

    python benchmarks/convnet_predict.py                              # this tree
    python benchmarks/convnet_predict.py --tree /work/main/src --peers jax --rounds 9
    python benchmarks/convnet_predict.py --batch-size 32              # predict's default

This is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")


def _test_images() -> Any:
    import numpy as np

    import glassnet as gn

    (_, _), (xt, _) = gn.datasets.load("fashion-mnist")
    return xt.astype(np.float32)[..., None] / np.float32(255.0)


def worker_glassnet(batch_size: int) -> None:
    sys.path.insert(0, HERE)
    from convnet import glassnet_model

    xt = _test_images()
    model = glassnet_model(0)
    model.predict(xt[:2000], batch_size=batch_size)  # compile the kernels, start the pool
    _serve(lambda: model.predict(xt, batch_size=batch_size))


def worker_jax(batch_size: int) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    xt = _test_images()
    rng = np.random.default_rng(0)
    params = {
        "w1": jnp.asarray(rng.normal(0, 0.1, (3, 3, 1, 32)), jnp.float32),
        "w2": jnp.asarray(rng.normal(0, 0.1, (3, 3, 32, 64)), jnp.float32),
        "w3": jnp.asarray(rng.normal(0, 0.1, (1600, 10)), jnp.float32),
    }
    dims = ("NHWC", "HWIO", "NHWC")

    def pool(a: Any) -> Any:
        return jax.lax.reduce_window(a, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    @jax.jit
    def forward(p: Any, xb: Any) -> Any:
        a = jax.lax.conv_general_dilated(xb, p["w1"], (1, 1), "VALID", dimension_numbers=dims)
        a = pool(jax.nn.relu(a))
        a = jax.lax.conv_general_dilated(a, p["w2"], (1, 1), "VALID", dimension_numbers=dims)
        a = pool(jax.nn.relu(a))
        return jax.nn.softmax(a.reshape(len(a), -1) @ p["w3"])

    def predict() -> Any:
        parts = [forward(params, xt[i : i + batch_size]) for i in range(0, len(xt), batch_size)]
        return np.concatenate([np.asarray(p) for p in parts])

    predict()
    _serve(predict)


def _serve(predict: Any) -> None:
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        started, cpu = time.perf_counter(), time.process_time()
        predict()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(json.dumps({"seconds": wall, "cpu": cpu}), flush=True)


def _start(name: str, tree: str, batch_size: int) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=tree)
    cmd = [sys.executable, __file__, "--worker", name, "--batch-size", str(batch_size)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    json.loads(proc.stdout.readline())  # ready
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", action="append", default=[], help="another src/ to compare")
    parser.add_argument("--peers", default="", help="comma-separated: jax")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        {"glassnet": worker_glassnet, "jax": worker_jax}[args.worker](args.batch_size)
        return
    runs = {f"glassnet {SRC}": _start("glassnet", SRC, args.batch_size)}
    for tree in args.tree:
        runs[f"glassnet {os.path.abspath(tree)}"] = _start("glassnet", tree, args.batch_size)
    for peer in filter(None, args.peers.split(",")):
        runs[peer] = _start(peer, SRC, args.batch_size)
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, proc in runs.items():
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
            reply = json.loads(proc.stdout.readline())
            times[name].append(reply["seconds"])
            cpu[name].append(reply["cpu"])
    for proc in runs.values():
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
    print(f"predict of 10,000 images, batch_size={args.batch_size}, {args.rounds} rounds")
    first = statistics.median(next(iter(times.values())))
    for name, ts in times.items():
        med = statistics.median(ts)
        print(
            f"  {name:<50} median {med:6.3f} s  (min {min(ts):.3f}, max {max(ts):.3f})"
            f"  {med / first:5.2f}× the first; CPU time median {statistics.median(cpu[name]):.3f} s"
        )


if __name__ == "__main__":
    main()
