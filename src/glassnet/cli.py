"""The ``glassnet`` command: train, explain, check gradients, list data sets, find a rate,
and report what runs on this machine (``info``).

Exit codes: 0 success, 1 failure (one line saying why; ``--debug`` shows the traceback),
2 usage error (one line naming the bad option).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

__all__ = ["main", "build_parser"]

PROG = "glassnet"


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, unless it has none worth showing (None, a
    flag's False) or the text already says it; a list default shows as it is typed (128,64)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or not action.option_strings
        ):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
        return f"{text} (default: {shown})"


class CommandError(Exception):
    """A failure to report in one line with exit code 1."""


class UsageError(CommandError):
    """A bad argument found after parsing (it depends on the data): one line, exit code 2."""


def _filters(text: str) -> list[int]:
    """--conv: comma-separated positive filter counts, one convolutional block each."""
    try:
        return _int_list(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive filter counts such as 32,64, received {text!r}"
        ) from None


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
_at_least_two = _number(int, lambda v: v >= 2, "an integer ≥ 2")
_non_negative_int = _number(int, lambda v: v >= 0, "an integer ≥ 0")
_fraction = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
_positive_float = _number(float, lambda v: 0 < v < float("inf"), "a positive number")


def _weight(text: str) -> tuple[int, int, int] | str:
    """L,J,K (1-based, as in w^L_JK) or a seed-004 name such as w5."""
    from .errors import InvalidArgumentError
    from .explain.cli_support import parse_weight

    try:
        return parse_weight(text)
    except InvalidArgumentError:
        raise argparse.ArgumentTypeError(
            f"expected L,J,K such as 2,1,1 or a weight number such as w5, received {text!r}"
        ) from None


def _dataset_name(text: str) -> str:
    """A data set name ``glassnet.datasets.load`` knows (case and _/- as it accepts them): an
    unknown name is a usage error, found before any work."""
    import difflib

    from .datasets import names

    known = names()
    key = text.strip().lower().replace("_", "-")
    if key not in known:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise argparse.ArgumentTypeError(
            f"unknown data set {text!r}{hint}, expected one of {', '.join(known)}"
        )
    return text


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
    for_help: dict[str, Any] = {"formatter_class": _HelpFormatter}
    sub.required = True

    train = sub.add_parser(
        "train",
        **for_help,
        help="train a network on a data set and save it",
        description="Train Flatten → Dense(128, relu) → Dropout(0.2) → Dense(classes, softmax) "
        "with Adam (seed 002's model) unless told otherwise, print the test loss "
        "and accuracy, and save the model.",
    )
    train.add_argument(
        "--dataset",
        default="mnist-5k",
        type=_dataset_name,
        help="data set name (see 'glassnet datasets')",
    )
    train.add_argument(
        "--layers",
        type=_int_list,
        default=None,
        help="hidden layer sizes, comma-separated; default 128 (none with --conv)",
    )
    train.add_argument(
        "--conv",
        type=_filters,
        default=None,
        metavar="FILTERS",
        help="train a convnet: one block of Conv2D(filters, 3×3, relu) → MaxPooling2D(2) per "
        "comma-separated filter count before the Dense layers (32,64 is Keras's MNIST "
        "convnet; dropout then defaults to 0.5 and the batch size to 128)",
    )
    train.add_argument(
        "--activation", choices=ACTIVATIONS, default="relu", help="hidden activation"
    )
    train.add_argument(
        "--dropout",
        type=_fraction,
        default=None,
        help="dropout rate after each hidden layer (with --conv: after Flatten); "
        "default 0.2 (0.5 with --conv)",
    )
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="optimiser")
    train.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=None,
        help="learning rate (default: the optimiser's own, as in Keras)",
    )
    train.add_argument(
        "--epochs", type=_positive_int, default=5, help="passes over the training data"
    )
    train.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        help="samples per step (default 32; 128 with --conv)",
    )
    train.add_argument(
        "--validation-split",
        type=_fraction,
        default=0.0,
        help="fraction of the training data held out for validation",
    )
    train.add_argument(
        "--seed", type=_non_negative_int, default=0, help="random seed (weights, shuffling)"
    )
    train.add_argument(
        "--output",
        default="glassnet-model.safetensors",
        help="where to save the model",
    )
    train.add_argument(
        "--report",
        default=None,
        metavar="FILE.html",
        help="also write a self-contained HTML training report",
    )
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.add_argument(
        "--lang",
        choices=["en", "zh"],
        default="en",
        help="language of the progress, the doctor's advice and the report; default en",
    )
    train.add_argument(
        "--data-path", default=None, help="directory holding the data set's files (full sets)"
    )
    train.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="data-parallel training on N local processes under mpirun (--batch-size stays "
        "the global batch); needs Open MPI and glassnet[mpi]; default 1",
    )

    datasets = sub.add_parser(
        "datasets",
        **for_help,
        help="list the data sets and where they are",
        description="List every data set: size, licence, and whether "
        "and where it is found on this machine.",
    )
    datasets.add_argument("--json", action="store_true", help="print JSON")

    grad = sub.add_parser(
        "gradcheck",
        **for_help,
        help="check a small model's gradients numerically",
        description="Build a small network, compute every parameter's gradient by "
        "backpropagation and by central differences (float64), and print the "
        "per-parameter report.",
    )
    grad.add_argument(
        "--layers",
        type=_int_list,
        default=[4, 3],
        help="layer sizes after the input, comma-separated",
    )
    grad.add_argument("--inputs", type=_positive_int, default=3, help="input size")
    grad.add_argument(
        "--activation", choices=ACTIVATIONS, default="tanh", help="activation of every layer"
    )
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
        help="loss (a cross-entropy sets the last layer's activation to softmax or sigmoid)",
    )
    grad.add_argument("--batch", type=_positive_int, default=2, help="samples")
    grad.add_argument(
        "--seed", type=_non_negative_int, default=0, help="random seed (weights, data)"
    )

    explain = sub.add_parser(
        "explain",
        **for_help,
        help="print backpropagation through the four equations, with numbers",
        description="With no options, seed 004's worked 2-2-2 example. With --model, explain "
        "a saved model on one sample of a data set.",
    )
    explain.add_argument(
        "--example",
        choices=["seed004", "conv", "conv-bn", "conv-up"],
        default=None,
        help="a ready-made network: seed004 (the default without --model), conv (a 6×6 image, "
        "two 3×3 filters, 2×2 max pooling, a Dense output), conv-bn (with batch normalisation) "
        "or conv-up (with a 3×3 transposed convolution of stride 2 after the pooling)",
    )
    explain.add_argument("--model", default=None, help="a model saved by glassnet")
    explain.add_argument("--dataset", default=None, type=_dataset_name, help="data set for --model")
    explain.add_argument("--index", type=_non_negative_int, default=0, help="test sample index")
    explain.add_argument(
        "--format",
        choices=["text", "markdown", "json", "html"],
        default="text",
        help="output format",
    )
    explain.add_argument(
        "--weight",
        type=_weight,
        default=None,
        metavar="L,J,K|wN",
        help="one weight's story: ∂C/∂w^L_JK along every path (L,J,K 1-based, or wN: the "
        "weights numbered layer by layer, row by row, as seed 004's w1…w8)",
    )
    explain.add_argument(
        "--graph",
        default=None,
        metavar="OUT.svg",
        help="also draw the computational graph (.svg or .dot)",
    )
    explain.add_argument(
        "--notation",
        choices=["glassnet", "seed000", "seed001", "seed003", "seed004"],
        default="glassnet",
        help="whose symbols: glassnet (default; the input is layer 0), seed000/seed001 (the "
        "input is layer 1), seed004 (i/h/o, net/out, w1…w8), seed003 (W1, b1, h1)",
    )
    explain.add_argument(
        "--lang",
        choices=["en", "zh"],
        default="en",
        help="language of the trace and the weight's story; default en",
    )
    explain.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=None,
        help="show the update w − α ∂C/∂w with this rate α",
    )
    explain.add_argument("--output", default=None, help="write to a file instead of stdout")

    lr = sub.add_parser(
        "lr-find",
        **for_help,
        help="learning-rate range test (Smith 2015)",
        description="Train briefly with a learning rate rising exponentially from --start to "
        "--end, and suggest a rate from the steepest fall of the loss. The "
        "model's weights are left as they were.",
    )
    lr.add_argument(
        "--dataset",
        default="mnist-5k",
        type=_dataset_name,
        help="data set name (see 'glassnet datasets')",
    )
    lr.add_argument(
        "--layers", type=_int_list, default=[128], help="hidden layer sizes, comma-separated"
    )
    lr.add_argument("--activation", choices=ACTIVATIONS, default="relu", help="hidden activation")
    lr.add_argument(
        "--dropout", type=_fraction, default=0.2, help="dropout rate after each hidden layer"
    )
    lr.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="optimiser")
    lr.add_argument("--batch-size", type=_positive_int, default=32, help="samples per step")
    lr.add_argument(
        "--start", type=_positive_float, default=1e-7, help="learning rate of the first step"
    )
    lr.add_argument(
        "--end", type=_positive_float, default=10.0, help="learning rate of the last step"
    )
    lr.add_argument(
        "--steps",
        type=_at_least_two,
        default=100,
        help="training steps (fewer if the loss diverges first)",
    )
    lr.add_argument(
        "--seed", type=_non_negative_int, default=0, help="random seed (weights, shuffling)"
    )
    lr.add_argument("--plot", default=None, metavar="OUT.png", help="save the curve")

    _add_sweep_parser(sub)

    info = sub.add_parser(
        "info",
        **for_help,
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
    _add_export_parser(sub)
    _add_playground_parser(sub)
    return parser


def _add_sweep_parser(sub: Any) -> None:
    sweep = sub.add_parser(
        "sweep",
        formatter_class=_HelpFormatter,
        help="sweep glassnet train's options on Ray Tune and save the best",
        description="Run 'glassnet train' over a grid and/or random samples of its options on "
        "Ray Tune (local, or a cluster with --address), optionally stopping poor trials early "
        "(ASHA); print a table of the trials and save the best configuration as JSON. Options "
        "after -- go to every trial's train command, e.g. glassnet sweep --grid "
        "learning-rate=0.01,0.001 --asha -- --epochs 3. Needs glassnet[ray].",
    )
    sweep.add_argument(
        "--grid",
        action="append",
        default=None,
        metavar="NAME=V1,V2",
        help="a grid axis over a train option, e.g. batch-size=32,128 (layers: 128/64 for "
        "128,64); repeat for more axes",
    )
    sweep.add_argument(
        "--sample",
        action="append",
        default=None,
        metavar="NAME=KIND:LOW:HIGH",
        help="a random axis: loguniform, uniform or randint (HIGH excluded), or choice:A,B,C; "
        "e.g. learning-rate=loguniform:1e-4:1e-1",
    )
    sweep.add_argument(
        "--trials", type=_positive_int, default=1, help="random samples (grid repeats)"
    )
    sweep.add_argument("--asha", action="store_true", help="stop poor trials early (ASHA)")
    sweep.add_argument("--metric", default="val_accuracy", help="the score trials are ranked by")
    sweep.add_argument(
        "--mode", choices=["max", "min"], default=None, help="default: min for a loss, else max"
    )
    sweep.add_argument("--address", default=None, help="a Ray cluster, e.g. auto or ray://host")
    sweep.add_argument(
        "--cpus", type=_positive_int, default=None, help="CPUs of the local Ray; default all"
    )
    sweep.add_argument("--seed", type=_non_negative_int, default=None, help="sampling seed")
    sweep.add_argument(
        "--storage", default=None, help="where Ray Tune keeps the trials; default ~/ray_results"
    )
    sweep.add_argument(
        "--output",
        default="glassnet-sweep-best.json",
        help="the best configuration as JSON",
    )
    sweep.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then train's options")


def _add_export_parser(sub: Any) -> None:
    export = sub.add_parser(
        "export",
        formatter_class=_HelpFormatter,
        help="write a saved model as an ONNX file for deployment",
        description="Read a model saved by glassnet (model.save or 'glassnet train') and write "
        "it as ONNX (standard operators, checked by onnx.checker; needs the 'onnx' extra). "
        "Errors exit with code 2 and one line.",
    )
    export.add_argument("model", metavar="MODEL.safetensors", help="the saved model")
    export.add_argument(
        "-o", "--output", required=True, metavar="OUT.onnx", help="the ONNX file to write"
    )


def _add_playground_parser(sub: Any) -> None:
    play = sub.add_parser(
        "playground",
        formatter_class=_HelpFormatter,
        help="train a network live in the browser (needs glassnet[playground])",
        description="Start the playground's local web server and open it in the browser: "
        "train a network on 2-D data live, and click any weight to see its backpropagation "
        "with the last step's numbers. Needs the optional extra: pip install "
        "'glassnet[playground]'.",
    )
    play.add_argument("--host", default="127.0.0.1", help="address to bind")
    play.add_argument("--port", type=_port, default=8765, help="port")
    play.add_argument("--no-browser", action="store_true", help="do not open a browser")


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


def build_convnet(
    x_train: Any, num_classes: int, filters: Sequence[int], hidden: Sequence[int], dropout: float
) -> Any:
    """Keras's MNIST convnet: Rescaling → (Conv2D(f, 3×3, relu) → MaxPooling2D(2))* →
    Flatten → Dropout → (Dense(relu) → Dropout)* → Dense(num_classes, softmax); x_train holds
    images (N, rows, cols) or (N, rows, cols, channels)."""
    import numpy as np

    from .layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D, Rescaling
    from .training import Sequential

    if x_train.ndim not in (3, 4) or x_train.dtype.kind not in "iuf":
        raise UsageError(
            f"argument --conv: the data set's samples must be images (rows, cols) or (rows, "
            f"cols, channels), received samples of shape {x_train.shape[1:]}"
        )
    shape = x_train.shape[1:] if x_train.ndim == 4 else (*x_train.shape[1:], 1)
    side = min(shape[:2])
    for _ in filters:
        side = (side - 2) // 2
        if side < 1:
            raise UsageError(
                f"argument --conv: {len(filters)} blocks shrink {shape[0]}×{shape[1]} images "
                f"to nothing (each 3×3 convolution and 2×2 pooling roughly halves them), "
                f"received {','.join(map(str, filters))}"
            )
    peak = 1.0  # pixels: scale by the largest value (255, or 16 for digits)
    if x_train.dtype.kind in "iu":
        peak = float(np.abs(x_train).max()) or 1.0
    layers: list[Any] = [Rescaling(1.0 / peak, input_shape=shape)]
    for f in filters:
        layers += [Conv2D(f, (3, 3), activation="relu"), MaxPooling2D((2, 2))]
    layers.append(Flatten())
    if dropout > 0:
        layers.append(Dropout(dropout))
    for units in hidden:
        layers.append(Dense(units, activation="relu"))
        if dropout > 0:
            layers.append(Dropout(dropout))
    layers.append(Dense(num_classes, activation="softmax"))
    return Sequential(layers)


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
    from . import i18n

    with i18n.using(getattr(args, "lang", "en")):
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    from . import _rng
    from .i18n import current, t
    from .io import model_files
    from .training import distributed

    _check_outputs(args, "--output", "--report")
    if args.workers > 1 and not distributed.launched():
        # Start the workers, each running this same command (training/distributed.py).
        argv = ["-m", "glassnet", *getattr(args, "argv", [])]
        distributed.run_workers(args.workers, argv)
        return 0
    # Under an MPI launcher (--workers, or mpirun/srun around glassnet train): data-parallel.
    parallel = distributed.launched()
    main_rank = not parallel or distributed.is_main()
    _rng.seed(args.seed)
    (x_train, y_train), (x_test, y_test), classes = _load_classification(
        args.dataset, args.data_path
    )
    conv, hidden, dropout, batch_size = _train_defaults(args)
    if conv:
        model = build_convnet(x_train, classes, args.conv, hidden, dropout)
        if x_train.ndim == 3:  # one channel
            x_train, x_test = x_train[..., None], x_test[..., None]
    else:
        model = build_classifier(x_train, classes, hidden, args.activation, dropout)
    model.compile(
        optimizer=_make_optimizer(args.optimizer, args.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    verbose = 0 if args.quiet else 1
    if verbose and main_rank:
        print(
            t(
                "glassnet train: {dataset}: {train} training and {test} test samples, "
                "{classes} classes; {params} parameters"
            ).format(
                dataset=args.dataset,
                train=len(x_train),
                test=len(x_test),
                classes=classes,
                params=f"{model.count_params():,}",
            )
        )
    started = time.perf_counter()
    with _quiet_numerics() as caught:
        history = model.fit(
            x_train,
            y_train,
            epochs=args.epochs,
            batch_size=batch_size,
            validation_split=args.validation_split,
            verbose=verbose,
            distributed=parallel,
        )
        seconds = time.perf_counter() - started
        if not main_rank:  # rank 0 reports and saves; every rank holds the same weights
            return 0
        loss, accuracy = model.evaluate(x_test, y_test, batch_size=256)
    ran = _epochs_run(history, args.epochs, seconds)
    print(
        t("test loss: {loss} - test accuracy: {accuracy} ({ran})").format(
            loss=f"{loss:.4f}", accuracy=f"{accuracy:.4f}", ran=ran
        )
    )
    notes = [history.stopped_reason] if history.stopped_reason else []
    for message in caught:
        # fit's own warning repeats stopped_reason; evaluate's says why the test loss is nan
        if not any(message.startswith(n[:40]) or n[:40] in message for n in notes):
            notes.append(message)
    for note in notes:
        print(t("note: {note}").format(note=note))
    model_files.save_model(model, args.output)
    print(t("saved the model to {path}").format(path=args.output))
    if args.report:
        from . import datasets
        from .diagnostics import report

        names = datasets.info(args.dataset).class_names
        with _quiet_numerics():  # a diverged model's warnings were reported above
            report(
                history,
                model,
                args.report,
                x=x_test,
                y=y_test,
                class_names=names or None,
                lang=current(),
            )
        print(t("wrote the training report to {path}").format(path=args.report))
    return 0


SWEEP_ALIASES = {"lr": "learning-rate"}
# Options a trial must not take from the sweep: where the model goes, what is printed.
NOT_SWEPT = {"output", "report", "quiet", "workers", "help"}


def _train_options() -> dict[str, argparse.Action]:
    """glassnet train's options by name without dashes (learning-rate, batch-size, ...)."""
    train = next(
        a
        for a in build_parser()._subparsers._group_actions  # type: ignore[union-attr]
        if isinstance(a, argparse._SubParsersAction)
    ).choices["train"]
    return {
        o[2:]: action
        for action in train._actions
        for o in action.option_strings
        if o.startswith("--") and o[2:] not in NOT_SWEPT
    }


def _train_argv(base: Sequence[str], config: dict[str, Any]) -> list[str]:
    argv = ["train", *base]
    for name, value in config.items():
        argv += [f"--{name}", str(value).replace("/", ",")]
    return argv


def _parse_train(argv: list[str]) -> argparse.Namespace:
    """The train command's options for one trial; a bad value is a CommandError, not an exit."""
    import contextlib
    import io

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return build_parser().parse_args(argv)
    except SystemExit:
        message = err.getvalue().strip().splitlines()[-1]
        message = message.replace(f"{PROG} train: error: ", "").split(" (see '")[0]
        raise CommandError(f"the train options {' '.join(argv[1:])}: {message}") from None


def _train_defaults(args: argparse.Namespace) -> tuple[bool, list[int], float, int]:
    """glassnet train's model options with their defaults, which depend on --conv: whether it
    is a convnet, the hidden Dense sizes, the dropout rate and the batch size."""
    conv = args.conv is not None
    hidden = args.layers if args.layers is not None else ([] if conv else [128])
    dropout = args.dropout if args.dropout is not None else (0.5 if conv else 0.2)
    batch_size = args.batch_size or (128 if conv else 32)
    return conv, hidden, dropout, batch_size


def _sweep_trial(config: dict[str, Any], base: list[str]) -> None:
    """One trial: glassnet train with ``config``'s options, reporting each epoch to Ray Tune."""
    from . import _rng
    from .sweep import Report

    args = _parse_train(_train_argv(base, config))
    _rng.seed(args.seed)
    (x_train, y_train), _, classes = _load_classification(args.dataset, args.data_path)
    conv, hidden, dropout, batch_size = _train_defaults(args)
    if conv:
        model = build_convnet(x_train, classes, args.conv, hidden, dropout)
        if x_train.ndim == 3:  # one channel
            x_train = x_train[..., None]
    else:
        model = build_classifier(x_train, classes, hidden, args.activation, dropout)
    model.compile(
        optimizer=_make_optimizer(args.optimizer, args.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        x_train,
        y_train,
        epochs=args.epochs,
        batch_size=batch_size,
        validation_split=args.validation_split,
        verbose=0,
        doctor=False,
        callbacks=[Report()],
    )


def _swept(texts: Sequence[str], option: str, known: dict[str, Any]) -> list[str]:
    """NAME=... axes with NAME a train option (``lr`` standing for learning-rate)."""
    axes = []
    for text in texts:
        name, sep, rest = text.partition("=")
        name = SWEEP_ALIASES.get(name.strip(), name.strip())
        if name not in known:
            raise CommandError(
                f"{option}: {name!r} is not an option of glassnet train, received {text!r}; "
                f"expected one of {', '.join(sorted(known))}"
            )
        axes.append(f"{name}{sep}{rest}")
    return axes


def cmd_sweep(args: argparse.Namespace) -> int:
    from . import sweep

    _check_outputs(args, "--output")
    base = [a for a in args.train_args if a != "--"]
    options = _train_options()
    grid = _swept(args.grid or [], "--grid", options)
    sample = _swept(args.sample or [], "--sample", options)
    space = sweep.parse_space(grid, sample)
    given = {a.partition("=")[0] for a in base} | {f"--{name}" for name in space}
    if args.metric.startswith("val_") and "--validation-split" not in given:
        base += ["--validation-split", "0.2"]  # a sweep is judged on held-out data
    # The fixed options and every grid value, checked before Ray starts.
    epochs = [_parse_train(_train_argv(base, {})).epochs]
    for text in grid:
        name, _, values = text.partition("=")
        for value in values.split(","):
            trial = _parse_train(_train_argv(base, {name: value.strip()}))
            epochs.append(trial.epochs)
    mode = args.mode or ("min" if "loss" in args.metric else "max")

    def glassnet_train(config: dict[str, Any]) -> None:
        _sweep_trial(config, base)

    result = sweep.run(
        glassnet_train,
        space,
        trials=args.trials,
        metric=args.metric,
        mode=mode,
        asha=args.asha,
        max_epochs=max(epochs) if args.asha else None,
        address=args.address,
        num_cpus=args.cpus,
        storage_path=args.storage,
        seed=args.seed,
    )
    print(result.table())
    best = result.best
    result.save_best(args.output)
    failed = f"; {len(result.failed)} failed" if result.failed else ""
    print(f"{len(result.trials)} trials{failed}; the best configuration is in {args.output}")
    if best is None:
        raise CommandError(f"no trial reported {args.metric}; see the table above")
    command = " ".join([PROG, *_train_argv(base, best.config)])
    print(f"best {args.metric} {float(best.metrics[args.metric]):.4f}: {command}")
    return 0


@contextlib.contextmanager
def _quiet_numerics() -> Iterator[list[str]]:
    """NumPy's floating-point warnings off, glassnet's own warnings collected as messages:
    a diverging run is reported once, in words (the doctor and fit say why), not as a
    stream of 'overflow encountered in matmul' from deep inside the library."""
    import warnings

    import numpy as np

    messages: list[str] = []
    with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        try:
            yield messages
        finally:
            for record in records:
                text = " ".join(str(record.message).split())
                for where in ("fit: ", "evaluate: "):
                    text = text.removeprefix(where)
                if "glassnet" in record.filename and text not in messages:
                    messages.append(text)


def _epochs_run(history: Any, planned: int, seconds: float) -> str:
    """'5 epochs in 3.2s', or for a run that stopped early 'stopped in epoch 2 of 10 after
    0.1s'."""
    from .i18n import current, t

    if history.stopped_epoch is not None:
        return t("stopped in epoch {epoch} of {planned} after {seconds}s").format(
            epoch=history.stopped_epoch + 1, planned=planned, seconds=f"{seconds:.1f}"
        )
    done = len(history.epoch)
    if current() == "en":
        return f"{done} epoch{'s' if done != 1 else ''} in {seconds:.1f}s"
    return t("{n} epochs in {seconds}s").format(n=done, seconds=f"{seconds:.1f}")


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
    if args.example is not None and args.model is not None:
        raise CommandError("--example explains a ready-made network; drop --model or --example")
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
        notation=args.notation,
        lang=args.lang,
        example=args.example,
    )
    if args.output:
        from .io.atomic import atomic_write_text

        atomic_write_text(args.output, text)
        from .i18n import t, using

        with using(args.lang):
            print(t("wrote {format} to {path}").format(format=args.format, path=args.output))
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


def cmd_export(args: argparse.Namespace) -> int:
    """Saved model → ONNX file; any error is one line with exit code 2."""
    from .errors import GlassnetError

    try:
        from .io import model_files
        from .io.onnx_export import export_onnx

        model: Any = model_files.load_model(args.model, compile=False)
        path = export_onnx(model, args.output)
    except (GlassnetError, OSError) as exc:
        if args.debug:
            raise
        message = " ".join(str(exc).split())
        print(f"{PROG} export: error: {message}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({len(model.layers)} layers, {model.dtype}, input {model.input_shape})")
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
    "sweep": cmd_sweep,
    "export": cmd_export,
    "playground": cmd_playground,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # train --workers relaunches it
    if args.command == "lr-find" and args.end <= args.start:
        parser.exit(
            2,
            f"{PROG} lr-find: error: --end must be larger than --start, received --start "
            f"{args.start:g} and --end {args.end:g} (see '{PROG} lr-find --help')\n",
        )
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
    except UsageError as exc:
        print(
            f"{PROG} {args.command}: error: {exc} (see '{PROG} {args.command} --help')",
            file=sys.stderr,
        )
        return 2
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
