"""Single-sample predict latency and 10,000-image batch predict: glassnet against PyTorch and
onnxruntime, the same MLP with the same weights, interleaved in one run.

The model everywhere is seed 002's: Rescaling(1/255) → Flatten(28×28) → Dense(128, relu) →
Dropout(0.2) → Dense(10, softmax), float32, uint8 images in. Contenders, one sample per call:

* glassnet ``model.predict(x1)`` (a NumPy array out) and ``model(x1)`` under ``no_grad``;
* PyTorch "predict" — ``model(torch.from_numpy(x1).float() / 255).numpy()`` under no_grad in
  eval mode — and ``model(t1)`` on a ready tensor under no_grad;
* onnxruntime ``session.run`` on the same network written by hand with ``onnx.helper`` (when
  onnx and onnxruntime are installed), one intra-op thread.

Each contender runs ``--calls`` calls split into ``--rounds`` interleaved rounds (glassnet,
torch, ort, glassnet, …), so machine noise hits all alike; the table gives the median and the
interquartile range of the per-call times, and glassnet/PyTorch ratios. Then the 10,000 test
images (random ones without the data set) in batches of 1,000, and glassnet's default batch of
32, medians of ``--batch-repeats``. PyTorch runs with one intra-op thread, as glassnet's BLAS
does inside predict.

    python benchmarks/predict_latency.py
    PYTHONPATH=/path/to/other/checkout/src python benchmarks/predict_latency.py   # compare

A benchmark, not a test: it asserts nothing except that the contenders agree on the outputs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def glassnet_model(seed: int) -> Any:
    import glassnet as gn
    from glassnet.layers import Dense, Dropout, Flatten, Rescaling

    gn.seed(seed)
    return gn.Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28)),
            Flatten(),
            Dense(128, activation="relu"),
            Dropout(0.2),
            Dense(10, activation="softmax"),
        ]
    )


def weights(model: Any) -> list[np.ndarray]:
    """W1 (128, 784), b1, W2 (10, 128), b2: glassnet's W[j, k] is PyTorch's layout already."""
    return [np.ascontiguousarray(w, dtype=np.float32) for w in model.get_weights()]


def torch_model(w: list[np.ndarray]) -> Any:
    import torch

    torch.set_num_threads(1)
    model = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, 128),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(128, 10),
        torch.nn.Softmax(dim=1),
    )
    with torch.no_grad():
        model[1].weight.copy_(torch.from_numpy(w[0]))
        model[1].bias.copy_(torch.from_numpy(w[1]))
        model[4].weight.copy_(torch.from_numpy(w[2]))
        model[4].bias.copy_(torch.from_numpy(w[3]))
    return model.eval()


def onnx_session(w: list[np.ndarray]) -> Any:
    """The same network as an ONNX graph written by hand, in an onnxruntime session."""
    try:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    inits = [
        numpy_helper.from_array(np.array(1 / 255, dtype=np.float32), "scale"),
        numpy_helper.from_array(w[0], "W1"),
        numpy_helper.from_array(w[1], "b1"),
        numpy_helper.from_array(w[2], "W2"),
        numpy_helper.from_array(w[3], "b2"),
    ]
    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["xf", "scale"], ["xs"]),
        helper.make_node("Flatten", ["xs"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["z1"], transB=1),
        helper.make_node("Relu", ["z1"], ["a1"]),
        helper.make_node("Gemm", ["a1", "W2", "b2"], ["z2"], transB=1),
        helper.make_node("Softmax", ["z2"], ["y"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "seed_mlp",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, ["N", 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(proto)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def interleaved(
    contenders: dict[str, Callable[[], Any]],
    calls: int,
    rounds: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Per-call seconds of each contender, ``calls`` each, in ``rounds`` alternating rounds."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    per_round = max(1, calls // rounds)
    for _ in range(rounds):
        for name, fn in contenders.items():
            out = times[name]
            for _ in range(per_round):
                t = clock()
                fn()
                out.append(clock() - t)
    return times


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, median, q3 = statistics.quantiles(values, n=4)
    return q1, median, q3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per contender")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--batch-repeats", type=int, default=7, help="10k predicts timed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    import glassnet as gn

    model = glassnet_model(args.seed)
    model.eval()  # for model(x), as torch's; predict runs in inference mode either way
    w = weights(model)
    tmodel = torch_model(w)
    session = onnx_session(w)
    try:
        x_all = gn.datasets.load("fashion_mnist")[1][0][:10_000]
    except Exception:  # noqa: BLE001 - any data problem: random images serve as well
        x_all = np.random.default_rng(1).integers(0, 256, (10_000, 28, 28), dtype=np.uint8)
    x1 = np.ascontiguousarray(x_all[:1])
    t1 = torch.from_numpy(x1).float() / 255

    def torch_predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return tmodel(torch.from_numpy(x).float() / 255).numpy()  # type: ignore[no-any-return]

    def torch_call() -> Any:
        with torch.no_grad():
            return tmodel(t1)

    def glassnet_call() -> Any:
        with gn.no_grad():
            return model(x1)

    reference = torch_predict(x1)
    np.testing.assert_allclose(model.predict(x1), reference, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(glassnet_call().data, reference, rtol=1e-4, atol=1e-6)
    contenders: dict[str, Callable[[], Any]] = {
        "glassnet predict(x1)": lambda: model.predict(x1),
        "torch predict (from NumPy, .numpy())": lambda: torch_predict(x1),
        "glassnet model(x1), no_grad": glassnet_call,
        "torch model(t1), no_grad": torch_call,
    }
    if session is not None:
        np.testing.assert_allclose(session.run(None, {"x": x1})[0], reference, rtol=1e-4, atol=1e-6)
        contenders["onnxruntime session.run(x1)"] = lambda: session.run(None, {"x": x1})
    for fn in contenders.values():  # warm up
        for _ in range(50):
            fn()
    times = interleaved(contenders, args.calls, args.rounds)

    print(f"glassnet {gn.__version__} from {gn.__file__}; torch {torch.__version__}")
    print(f"one sample, {args.calls} calls each in {args.rounds} interleaved rounds (µs)")
    print(f"{'contender':40s} {'median':>8} {'q1':>8} {'q3':>8}")
    medians = {}
    for name, values in times.items():
        q1, med, q3 = quartiles(values)
        medians[name] = med
        print(f"{name:40s} {med * 1e6:8.1f} {q1 * 1e6:8.1f} {q3 * 1e6:8.1f}")
    gp, tp = medians["glassnet predict(x1)"], medians["torch predict (from NumPy, .numpy())"]
    gc, tc = medians["glassnet model(x1), no_grad"], medians["torch model(t1), no_grad"]
    print(f"ratio glassnet/torch: predict {gp / tp:.2f}, model(x) {gc / tc:.2f}")

    batch = {
        "glassnet predict(10k, batch_size=1000)": lambda: model.predict(x_all, batch_size=1000),
        "glassnet predict(10k) (batch_size=32)": lambda: model.predict(x_all),
        "torch 10k in batches of 1000": lambda: np.concatenate(
            [torch_predict(x_all[i : i + 1000]) for i in range(0, len(x_all), 1000)]
        ),
    }
    if session is not None:
        batch["onnxruntime 10k in batches of 1000"] = lambda: np.concatenate(
            [session.run(None, {"x": x_all[i : i + 1000]})[0] for i in range(0, len(x_all), 1000)]
        )
    np.testing.assert_allclose(
        batch["glassnet predict(10k, batch_size=1000)"](),
        batch["torch 10k in batches of 1000"](),
        rtol=1e-4,
        atol=1e-6,
    )
    btimes = interleaved(batch, args.batch_repeats, args.batch_repeats)
    bcpu = interleaved(batch, args.batch_repeats, args.batch_repeats, clock=time.process_time)
    print(f"\n10,000 images, median of {args.batch_repeats} (ms; CPU: all threads' CPU time,")
    print("steadier than wall time on a shared machine)")
    print(f"{'contender':40s} {'wall':>8} {'CPU':>8}")
    for name, values in btimes.items():
        cpu = statistics.median(bcpu[name])
        print(f"{name:40s} {statistics.median(values) * 1e3:8.2f} {cpu * 1e3:8.2f}")
    g = statistics.median(btimes["glassnet predict(10k, batch_size=1000)"])
    t = statistics.median(btimes["torch 10k in batches of 1000"])
    print(f"ratio glassnet/torch (batches of 1000): {g / t:.2f}")


if __name__ == "__main__":
    main()
