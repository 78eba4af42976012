"""The ``glassnet`` command: train, explain, check gradients, list data sets, find a rate,
and report what runs on this machine (``info``).

Exit codes: 0 success, 1 failure (one line saying why; ``--debug`` shows the traceback),
2 usage error (one line naming the bad option).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

__all__ = ["main", "build_parser"]

PROG = "glassnet"


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class CommandError(Exception):
    """A failure to report in one line with exit code 1."""


def _int_list(text: str) -> list[int]:
    """Comma-separated positive integers; an empty item (``128,,64``, ``,``) is an error, not
    a layer left out."""
    expected = "expected comma-separated positive integers such as 128,64"
    items = text.split(",")
    empty = [i + 1 for i, item in enumerate(items) if not item.strip()]
    if empty:
        which = "item" if len(empty) == 1 else "items"
        raise argparse.ArgumentTypeError(
            f"{expected}, received {text!r} ({which} {', '.join(map(str, empty))} of "
            f"{len(items)} empty)"
        )
    try:
        values = [int(item) for item in items]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{expected}, received {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"layer sizes must be ≥ 1, received {text!r}")
    return values


def _number(kind: type, accept: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    """An argparse type: parse with ``kind``, keep values ``accept`` admits, else say why."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _number(int, lambda v: v >= 0, "an integer ≥ 0")
_fraction = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
_positive_float = _number(float, lambda v: 0 < v < float("inf"), "a positive number")


def _weight(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected L,J,K such as 2,1,1, received {text!r}")
    return values  # type: ignore[return-value]


ACTIVATIONS = ["relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "softplus", "linear"]
OPTIMIZERS = ["adam", "adamw", "sgd", "rmsprop", "adagrad"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(
        prog=PROG, description="glassnet: neural networks on NumPy that show their work."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on failure")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    train = sub.add_parser(
        "train",
        help="train a network on a data set and save it",
        description="Train Flatten → Dense(128, relu) → Dropout(0.2) → Dense(classes, softmax) "
        "with Adam (seed 002's model) unless told otherwise, print the test loss "
        "and accuracy, and save the model.",
    )
    train.add_argument(
        "--dataset",
        default="mnist-5k",
        help="data set name (see 'glassnet datasets'); default mnist-5k",
    )
    train.add_argument(
        "--layers",
        type=_int_list,
        default=[128],
        help="hidden layer sizes, comma-separated; default 128",
    )
    train.add_argument(
        "--activation", choices=ACTIVATIONS, default="relu", help="hidden activation; default relu"
    )
    train.add_argument(
        "--dropout",
        type=_fraction,
        default=0.2,
        help="dropout rate after each hidden layer; default 0.2",
    )
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="default adam")
    train.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=None,
        help="default: the optimizer's (Keras) default",
    )
    train.add_argument("--epochs", type=_non_negative_int, default=5, help="default 5")
    train.add_argument("--batch-size", type=_positive_int, default=32, help="default 32")
    train.add_argument(
        "--validation-split",
        type=_fraction,
        default=0.0,
        help="fraction of the training data held out for validation",
    )
    train.add_argument("--seed", type=_non_negative_int, default=0, help="default 0")
    train.add_argument(
        "--output",
        default="glassnet-model.safetensors",
        help="where to save the model; default glassnet-model.safetensors",
    )
    train.add_argument(
        "--report",
        default=None,
        metavar="FILE.html",
        help="also write a self-contained HTML training report",
    )
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.add_argument(
        "--data-path", default=None, help="directory holding the data set's files (full sets)"
    )

    datasets = sub.add_parser(
        "datasets",
        help="list the data sets and where they are",
        description="List every data set: size, licence, and whether "
        "and where it is found on this machine.",
    )
    datasets.add_argument("--json", action="store_true", help="print JSON")

    grad = sub.add_parser(
        "gradcheck",
        help="check a small model's gradients numerically",
        description="Build a small network, compute every parameter's gradient by "
        "backpropagation and by central differences (float64), and print the "
        "per-parameter report.",
    )
    grad.add_argument(
        "--layers",
        type=_int_list,
        default=[4, 3],
        help="layer sizes after the input, comma-separated; default 4,3",
    )
    grad.add_argument("--inputs", type=_positive_int, default=3, help="input size; default 3")
    grad.add_argument("--activation", choices=ACTIVATIONS, default="tanh")
    grad.add_argument(
        "--loss",
        default="mse",
        choices=[
            "quadratic",
            "mse",
            "mae",
            "binary_crossentropy",
            "categorical_crossentropy",
            "sparse_categorical_crossentropy",
        ],
    )
    grad.add_argument("--batch", type=_positive_int, default=2, help="samples; default 2")
    grad.add_argument("--seed", type=_non_negative_int, default=0)

    explain = sub.add_parser(
        "explain",
        help="print backpropagation through the four equations, with numbers",
        description="With no options, seed 004's worked 2-2-2 example. With --model, explain "
        "a saved model on one sample of a data set.",
    )
    explain.add_argument("--model", default=None, help="a model saved by glassnet")
    explain.add_argument("--dataset", default=None, help="data set for --model")
    explain.add_argument(
        "--index", type=_non_negative_int, default=0, help="test sample index; default 0"
    )
    explain.add_argument("--format", choices=["text", "markdown", "json", "html"], default="text")
    explain.add_argument(
        "--weight",
        type=_weight,
        default=None,
        metavar="L,J,K",
        help="one weight's story: ∂C/∂w^L_JK along every path",
    )
    explain.add_argument(
        "--graph",
        default=None,
        metavar="OUT.svg",
        help="also draw the computational graph (.svg or .dot)",
    )
    explain.add_argument("--learning-rate", type=_positive_float, default=None)
    explain.add_argument("--output", default=None, help="write to a file instead of stdout")

    lr = sub.add_parser(
        "lr-find",
        help="learning-rate range test (Smith 2015)",
        description="Train briefly with a learning rate rising exponentially from --start to "
        "--end, and suggest a rate from the steepest fall of the loss. The "
        "model's weights are left as they were.",
    )
    lr.add_argument("--dataset", default="mnist-5k")
    lr.add_argument("--layers", type=_int_list, default=[128])
    lr.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    lr.add_argument("--dropout", type=_fraction, default=0.2)
    lr.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    lr.add_argument("--batch-size", type=_positive_int, default=32)
    lr.add_argument("--start", type=_positive_float, default=1e-7)
    lr.add_argument("--end", type=_positive_float, default=10.0)
    lr.add_argument("--steps", type=_positive_int, default=100)
    lr.add_argument("--seed", type=_non_negative_int, default=0)
    lr.add_argument("--plot", default=None, metavar="OUT.png", help="save the curve")

    info = sub.add_parser(
        "info",
        help="versions, BLAS, compiled kernels and the helper thread on this machine",
        description="Print the versions, NumPy's BLAS library and its threads, whether the "
        "numba kernels are available, enabled and compiled, and whether the training step's "
        "helper thread can run here (and why not). By default it compiles the kernels (or "
        "loads them from the disk cache) and hands a few products to the helper thread, to "
        "show that the fast path works.",
    )
    info.add_argument(
        "--no-compile", action="store_true", help="only report; compile and run nothing"
    )
    info.add_argument("--json", action="store_true", help="print JSON")

    play = sub.add_parser(
        "playground",
        help="train a network live in the browser (needs glassnet[playground])",
        description="Start the playground's local web server and open it in the browser: "
        "train a network on 2-D data live, and click any weight to see its backpropagation "
        "with the last step's numbers. Needs the optional extra: pip install "
        "'glassnet[playground]'.",
    )
    play.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    play.add_argument("--port", type=_port, default=8765, help="port (default 8765)")
    play.add_argument("--no-browser", action="store_true", help="do not open a browser")
    return parser


def _port(text: str) -> int:
    """argparse type for --port: an integer from 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected an integer from 1 to 65535, received {text!r}")
    return value


def _version() -> str:
    from ._version import __version__

    return __version__


# ---------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------
def _check_layer_sizes(fan_in: int, sizes: Sequence[int], dtype: str, option: str) -> None:
    """Each Dense weight matrix (units × inputs) against the memory available, before any is
    allocated: an AllocationError naming ``option`` and the layer's size in ``dtype``."""
    from .nn.initializers import check_allocation

    for i, units in enumerate(sizes):
        # W is made, then copied column-major: two copies exist for a moment.
        check_allocation(
            (units, fan_in),
            dtype,
            f"{option}: layer {i + 1} ({units:,} units on {fan_in:,} inputs)",
            copies=2,
        )
        fan_in = units


def _check_outputs(args: argparse.Namespace, *options: str) -> None:
    """Each file option given can be written — checked before the work, not after it."""
    from .io import check_target

    for option in options:
        value = getattr(args, option.lstrip("-").replace("-", "_"), None)
        if value is not None:
            check_target(value, option)


def build_classifier(
    x_train: Any, num_classes: int, hidden: Sequence[int], activation: str, dropout: float
) -> Any:
    """Rescaling → Flatten → (Dense → Dropout)* → Dense(num_classes, softmax)."""
    import numpy as np

    _check_layer_sizes(
        int(np.prod(x_train.shape[1:])), [*hidden, num_classes], "float32", "--layers"
    )

    from .layers import Dense, Dropout, Flatten, Normalization, Rescaling
    from .training import Sequential

    layers: list[Any]
    if x_train.dtype.kind in "iu":  # pixels: scale by the largest value (255, or 16 for digits)
        peak = float(np.abs(x_train).max()) or 1.0
        layers = [Rescaling(1.0 / peak, input_shape=x_train.shape[1:])]
    else:  # features: standardise each one with the training set's mean and variance
        layers = [Normalization(input_shape=x_train.shape[1:]).adapt(x_train)]
    if x_train.ndim > 2:
        layers.append(Flatten())
    for units in hidden:
        layers.append(Dense(units, activation=activation))
        if dropout > 0:
            layers.append(Dropout(dropout))
    layers.append(Dense(num_classes, activation="softmax"))
    return Sequential(layers)


def _load_classification(name: str, path: str | None) -> Any:
    import numpy as np

    from . import datasets

    (x_train, y_train), (x_test, y_test) = datasets.load(name, path=path)
    if y_train.dtype.kind not in "iu":
        raise CommandError(
            f"data set {name!r} has non-integer labels; 'glassnet train' trains classifiers"
        )
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    return (x_train, y_train), (x_test, y_test), max(num_classes, int(np.unique(y_train).size))


def _make_optimizer(name: str, learning_rate: float | None) -> Any:
    from .optim import optimizers

    optimizer = optimizers.get(name)
    if learning_rate is not None:
        optimizer.learning_rate = learning_rate
    return optimizer


def cmd_train(args: argparse.Namespace) -> int:
    from . import _rng
    from .io import model_files

    _check_outputs(args, "--output", "--report")
    _rng.seed(args.seed)
    (x_train, y_train), (x_test, y_test), classes = _load_classification(
        args.dataset, args.data_path
    )
    model = build_classifier(x_train, classes, args.layers, args.activation, args.dropout)
    model.compile(
        optimizer=_make_optimizer(args.optimizer, args.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    verbose = 0 if args.quiet else 1
    if verbose:
        print(
            f"glassnet train: {args.dataset}: {len(x_train)} training and {len(x_test)} test "
            f"samples, {classes} classes; {model.count_params():,} parameters"
        )
    started = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=args.validation_split,
        verbose=verbose,
    )
    seconds = time.perf_counter() - started
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=256)
    print(
        f"test loss: {loss:.4f} - test accuracy: {accuracy:.4f} "
        f"({args.epochs} epochs in {seconds:.1f}s)"
    )
    if history.stopped_reason:
        print(f"note: {history.stopped_reason}")
    model_files.save_model(model, args.output)
    print(f"saved the model to {args.output}")
    if args.report:
        from .diagnostics import report

        report(history, model, args.report, x=x_test, y=y_test)
        print(f"wrote the training report to {args.report}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from . import datasets

    infos = datasets.list_datasets()
    if args.json:
        print(json.dumps([i.as_dict() for i in infos], indent=2))
        return 0
    rows = []
    for i in infos:
        size = (
            f"{i.train_shape[0]:,} + {i.test_shape[0]:,}" if i.train_shape and i.test_shape else "?"
        )
        shape = "×".join(str(s) for s in i.train_shape[1:]) or "-"
        where = i.location if i.found else f"not found ({i.how_to_get})"
        rows.append((i.name, i.kind, size, shape, i.licence, where))
    headers = ("name", "kind", "train + test", "sample", "licence", "on this machine")
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(headers[:-1])]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths + [0])).rstrip())
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths + [0])).rstrip())
    return 0


def cmd_gradcheck(args: argparse.Namespace) -> int:
    import numpy as np

    from . import _rng
    from .explain import gradcheck_model
    from .layers import Dense
    from .nn.losses import get as get_loss
    from .training import Sequential

    _rng.seed(args.seed)
    rng = np.random.default_rng(args.seed)
    loss = get_loss(args.loss)
    sizes = list(args.layers)
    _check_layer_sizes(args.inputs, sizes, "float64", "--layers")
    final = {
        "binary_crossentropy": "sigmoid",
        "categorical_crossentropy": "softmax",
        "sparse_categorical_crossentropy": "softmax",
    }.get(args.loss, args.activation)
    layers = [
        Dense(
            units,
            activation=args.activation if i < len(sizes) - 1 else final,
            input_dim=args.inputs if i == 0 else None,
            dtype="float64",
        )
        for i, units in enumerate(sizes)
    ]
    model = Sequential(layers)
    x = rng.normal(size=(args.batch, args.inputs))
    k = sizes[-1]
    if args.loss == "sparse_categorical_crossentropy":
        y: Any = rng.integers(0, k, size=args.batch)
    elif args.loss == "categorical_crossentropy":
        y = np.eye(k)[rng.integers(0, k, size=args.batch)]
    elif args.loss == "binary_crossentropy":
        y = rng.integers(0, 2, size=(args.batch, k)).astype(float)
    else:
        y = rng.normal(size=(args.batch, k))
    report = gradcheck_model(model, x, y, loss)
    print(report)
    return 0 if report.ok else 1


def cmd_explain(args: argparse.Namespace) -> int:
    from .explain.cli_support import run_explain

    _check_outputs(args, "--output", "--graph")
    model = None
    if args.model is not None:
        from .io import model_files

        model = model_files.load_model(args.model)
    if args.model is not None and args.dataset is None:
        raise CommandError("--model needs --dataset NAME to pick the sample to explain")
    if args.dataset is not None and args.model is None:
        raise CommandError("--dataset needs --model FILE (the model to explain)")
    text = run_explain(
        model=model,
        dataset=args.dataset,
        index=args.index,
        format=args.format,
        weight=args.weight,
        graph=args.graph,
        learning_rate=args.learning_rate,
    )
    if args.output:
        from .io.atomic import atomic_write_text

        atomic_write_text(args.output, text)
        print(f"wrote {args.format} to {args.output}")
    else:
        print(text)
    return 0


def cmd_lr_find(args: argparse.Namespace) -> int:
    from . import _rng
    from .diagnostics import lr_find

    _check_outputs(args, "--plot")
    _rng.seed(args.seed)
    (x_train, y_train), _, classes = _load_classification(args.dataset, None)
    model = build_classifier(x_train, classes, args.layers, args.activation, args.dropout)
    model.compile(
        optimizer=_make_optimizer(args.optimizer, None), loss="sparse_categorical_crossentropy"
    )
    result = lr_find(
        model,
        x_train,
        y_train,
        start=args.start,
        end=args.end,
        steps=args.steps,
        batch_size=args.batch_size,
    )
    print(result)
    if args.plot:
        result.plot(args.plot)
        print(f"saved the curve to {args.plot}")
    return 0


# Environment variables that change which kernels run, or how many threads.
_INFO_ENV = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "GLASSNET_NO_NUMBA",
    "NUMBA_CACHE_DIR",
)


def _info(compile_now: bool) -> dict[str, Any]:
    """What ``glassnet info`` reports, as a dict (see cmd_info)."""
    import os
    import platform
    from importlib import metadata

    import numpy as np

    from . import _fpenv, _threads
    from .optim import accelerated
    from .training import kernels, parallel

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    from threadpoolctl import threadpool_info

    blas = [
        {
            key: lib.get(key)
            for key in ("internal_api", "version", "architecture", "num_threads", "filepath")
        }
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]
    report: dict[str, Any] = {
        "versions": {
            "glassnet": _version(),
            "python": platform.python_version(),
            **{name: version(name) for name in ("numpy", "numba", "threadpoolctl", "tqdm")},
        },
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu": cpu,
        "blas": blas,
        "environment": {key: os.environ[key] for key in _INFO_ENV if key in os.environ},
        "blas_threads_in_fit": _threads.get_num_threads(),
        "flush_to_zero": _fpenv.supported(),
    }
    numba_state: dict[str, Any] = {
        "installed": accelerated.available(),
        "enabled": accelerated.enabled(),
        "compile_min": accelerated.COMPILE_MIN,
    }
    if compile_now and accelerated.enabled():
        start = time.perf_counter()
        kernels.warm_up()
        big = np.ones(accelerated.COMPILE_MIN, np.float32)
        accelerated.adam_step(big, big.copy(), big.copy(), big.copy(), 0.9, 0.999, 1, 1, None)
        numba_state["compile_seconds"] = round(time.perf_counter() - start, 3)
    numba_state["kernels_compiled"] = kernels.compiled()
    numba_state["adam_compiled"] = accelerated.compiled()
    report["numba"] = numba_state
    if compile_now:
        start = time.perf_counter()
        engine = parallel.get_engine()
        build = time.perf_counter() - start
    else:
        engine = None
    helper = parallel.status()
    if engine is not None:
        helper["engine_build_seconds"] = round(build, 3)
        helper.update(_helper_check(engine))
    report["helper"] = helper
    return report


def _helper_check(engine: Any) -> dict[str, Any]:
    """Hand a few float32 products to the helper thread; compare them with np.matmul."""
    import numpy as np

    from ._threads import helper_allowed
    from .training import parallel

    rng = np.random.default_rng(0)
    a = rng.normal(size=(64, 784)).astype(np.float32)
    b = rng.normal(size=(784, 128)).astype(np.float32)
    mine, theirs = np.empty((64, 128), np.float32), np.empty((64, 128), np.float32)
    rows = np.zeros((2, parallel.TASK_WIDTH), np.int64)
    consts = np.zeros((2, parallel.CONST_WIDTH), np.float32)
    assert parallel.gemm_task(rows[0], a, b, mine) and parallel.gemm_task(rows[1], a, b, theirs)
    before = engine.pairs - engine.taken_back
    for _ in range(5):  # the helper's side is waited for, never taken back
        engine.run_pair((rows[:1], consts[:1], 1), (rows[1:], consts[1:], 1), take_back=False)
    reference = np.matmul(a, b)
    ulp = np.spacing(np.abs(reference).max())
    return {
        "helper_ran": engine.pairs - engine.taken_back - before if helper_allowed() else 0,
        "of_pairs": 5,
        "same_bits_either_thread": bool(np.array_equal(mine, theirs)),
        "max_diff_from_np_matmul_ulps": float(np.abs(theirs - reference).max() / ulp),
    }


def cmd_info(args: argparse.Namespace) -> int:
    """Print what _info found: one line per part, or the dict as JSON."""
    report = _info(compile_now=not args.no_compile)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    v = report["versions"]
    print(f"glassnet {v['glassnet']} on Python {v['python']}, {report['platform']}")
    print(f"cpu: {report['cpu']}; this process may use {report['helper']['cpus']} CPU(s)")
    names = ("numpy", "numba", "threadpoolctl")
    print("packages: " + ", ".join(f"{k} {v[k] or 'not installed'}" for k in names))
    for key, value in report["environment"].items():
        print(f"environment: {key}={value}")
    for lib in report["blas"] or [{}]:
        if not lib:
            print("BLAS: none found loaded")
            continue
        print(
            f"BLAS: {lib['internal_api']} {lib['version']} ({lib['architecture']} kernels), "
            f"{lib['num_threads']} threads of its own; {lib['filepath']}"
        )
    print(f"BLAS threads inside fit/evaluate/predict: {report['blas_threads_in_fit']}")
    print(f"flush-to-zero during fit: {'yes' if report['flush_to_zero'] else 'not supported here'}")
    nb = report["numba"]
    if not nb["installed"]:
        state = "not installed: the NumPy path runs (same numbers, slower)"
    elif not nb["enabled"]:
        state = "installed, switched off (GLASSNET_NO_NUMBA=1): the NumPy path runs"
    elif nb["kernels_compiled"] or nb["adam_compiled"]:
        done = [name for name in ("kernels", "adam") if nb[f"{name}_compiled"]]
        state = f"installed and enabled; compiled in this process: {' and '.join(done)}"
        if "compile_seconds" in nb:
            state += f" in {nb['compile_seconds']} s (from the disk cache after the first run)"
    else:
        state = (
            "installed and enabled; not compiled in this process (a process compiles them "
            f"once a call has {nb['compile_min']} elements)"
        )
    print(f"numba kernels (elementwise ops, Adam): {state}")
    h = report["helper"]
    if h["possible"]:
        line = f"helper thread: possible ({h['blas_sgemm']})"
    else:
        line = "helper thread: off here: " + "; ".join(h["reasons"])
    print(line)
    if "helper_ran" in h:
        print(
            f"  engine built in {h['engine_build_seconds']} s; the helper thread ran "
            f"{h['helper_ran']} of {h['of_pairs']} hand-offs; same bits on either thread: "
            f"{'yes' if h['same_bits_either_thread'] else 'NO'}; largest difference from "
            f"np.matmul: {h['max_diff_from_np_matmul_ulps']:g} ulp"
        )
    return 0


def cmd_playground(args: argparse.Namespace) -> int:
    """Serve the playground until Ctrl+C (Starlette and uvicorn are imported only here)."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
        import websockets  # noqa: F401
    except ImportError as exc:
        raise CommandError(
            f"the playground needs the optional extra, {exc.name} is missing: "
            "pip install 'glassnet[playground]'"
        ) from None
    from .playground import serve

    serve(host=args.host, port=args.port, open_browser=not args.no_browser)
    return 0


COMMANDS = {
    "train": cmd_train,
    "datasets": cmd_datasets,
    "gradcheck": cmd_gradcheck,
    "explain": cmd_explain,
    "lr-find": cmd_lr_find,
    "info": cmd_info,
    "playground": cmd_playground,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from .errors import GlassnetError

    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (glassnet explain | head): stop quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (GlassnetError, CommandError, OSError) as exc:
        if args.debug:
            raise
        message = " ".join(str(exc).split())
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug, or something nobody checked: still one line
        if args.debug:
            raise
        message = " ".join(str(exc).split()) or "(no message)"
        if len(message) > 300:
            message = message[:297] + "..."
        print(
            f"{PROG} {args.command}: error: {type(exc).__name__}: {message} (unexpected; "
            f"run '{PROG} --debug {args.command} ...' for the traceback and please report it)",
            file=sys.stderr,
        )
        return 1


def _entry() -> None:
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    _entry()
