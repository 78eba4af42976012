"""What ``glassnet explain`` runs: ``run_explain(...)`` returns the rendered trace as a string.

The command-line wiring lives in ``glassnet.cli``; this module only turns its options into a
trace::

    glassnet explain                                  → run_explain()
    glassnet explain --format markdown                → run_explain(format="markdown")
    glassnet explain --weight 1,1,1                   → run_explain(weight="1,1,1")
    glassnet explain --graph out.svg                  → run_explain(graph="out.svg")
    glassnet explain --example conv                   → run_explain(example="conv")
    glassnet explain --model m.gn --dataset mnist-5k --index 7
                                                      → run_explain(model="m.gn",
                                                          dataset="mnist-5k", index=7)

With no model it explains seed 004's worked example (9 significant digits, seed 004's names
E, net, out and w1..w8 in the weight stories); ``example="conv"`` (or "conv-bn", "conv-up")
explains the small convolutional network of ``glassnet.explain.conv_example``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, ShapeError
from ..i18n import N_
from ..nn import losses as losses_module
from . import i18n, presets
from .examples import conv_example, seed004_example
from .trace import BackpropTrace, backprop

__all__ = ["run_explain", "parse_weight", "FORMATS", "EXAMPLES"]

FORMATS = ("text", "markdown", "json", "html")
#: the ready-made networks ``--example`` names
EXAMPLES = ("seed004", "conv", "conv-bn", "conv-up")
#: the convolutional examples (conv_example's variants) and their titles
CONV_TITLES = {
    "conv": N_(
        "A small convolutional network: a 6×6 image, two 3×3 filters, 2×2 max pooling, a "
        "Dense output"
    ),
    "conv-bn": N_(
        "A small convolutional network: a 6×6 image, two 3×3 filters, batch normalisation, "
        "2×2 max pooling, a Dense output"
    ),
    "conv-up": N_(
        "A small convolutional network: a 6×6 image, two 3×3 filters, 2×2 max pooling, a 3×3 "
        "transposed convolution with stride 2, a Dense output"
    ),
}
CONV_EXAMPLES = tuple(CONV_TITLES)


def parse_weight(spec: Any) -> tuple[int, int, int] | str:
    """``"L,J,K"`` (1-based, as in w^L_JK), a 3-tuple, or a seed-004 name such as ``"w5"``."""
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text.startswith("w") and text[1:].isdigit():
            return text
        parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
        if len(parts) == 3 and all(p.lstrip("-").isdigit() for p in parts):
            l, j, k = (int(p) for p in parts)
            return l, j, k
    elif (
        isinstance(spec, (tuple, list))
        and len(spec) == 3
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in spec)
    ):
        return int(spec[0]), int(spec[1]), int(spec[2])
    raise InvalidArgumentError(
        f"explain: --weight must be L,J,K (three 1-based integers, as in w^L_JK, e.g. 2,1,1) "
        f"or a seed-004 name like w5, received {spec!r}"
    )


def _load_model(model: Any, loader: Callable[[Any], Any] | None) -> Any:
    if not isinstance(model, (str, os.PathLike)):
        return model
    if loader is None:
        from ..io.model_files import load_model

        loader = load_model
    return loader(model)


def _sample(dataset: Any, index: Any, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise InvalidArgumentError(f"explain: --index must be an integer, received {index!r}")
    if isinstance(dataset, str):
        from .. import datasets

        if split not in ("train", "test"):
            raise InvalidArgumentError(
                f"explain: split must be 'train' or 'test', received {split!r}"
            )
        (x_train, y_train), (x_test, y_test) = datasets.load(dataset)
        x, y = (x_test, y_test) if split == "test" else (x_train, y_train)
        where = f"{dataset} ({split} set)"
    elif isinstance(dataset, (tuple, list)) and len(dataset) == 2:
        x, y = np.asarray(dataset[0]), np.asarray(dataset[1])
        where = "the given data"
    else:
        raise InvalidArgumentError(
            f"explain: dataset must be a data set name or a pair "
            f"(x, y), received {type(dataset).__name__}"
        )
    if len(x) != len(y):
        raise ShapeError(f"explain: the data set has {len(x)} inputs but {len(y)} targets")
    if not -len(x) <= index < len(x):
        raise InvalidArgumentError(
            f"explain: --index must be from 0 to {len(x) - 1} for {where}, received {index}"
        )
    return x[index], y[index], f"{where}, sample {int(index)}"


def _guess_loss(model: Any, y: np.ndarray) -> tuple[Any, str | None]:
    if isinstance(getattr(model, "loss", None), losses_module.Loss):
        return None, None
    if y.dtype.kind in "iu" or (y.ndim == 0 and float(y) == int(y)):
        last = getattr(model, "layers", [None])[-1]
        units = getattr(last, "units", 2)
        name = "sparse_categorical_crossentropy" if units > 1 else "binary_crossentropy"
    else:
        name = "quadratic"
    return name, (f"The model was not compiled and no loss was given; the trace uses {name}.")


def run_explain(
    model: Any = None,
    dataset: Any = None,
    index: int = 0,
    format: str = "text",
    weight: Any = None,
    graph: str | os.PathLike[str] | None = None,
    *,
    loader: Callable[[Any], Any] | None = None,
    split: str = "test",
    loss: Any = None,
    learning_rate: float | None = None,
    precision: int | None = None,
    color: bool = False,
    max_rows: int = 8,
    max_cols: int = 8,
    notation: str | None = None,
    lang: str | None = None,
    example: str | None = None,
) -> str:
    """Explain one sample's backpropagation; returns the rendering in ``format``.

    ``model``: None (seed 004's example), a loaded model, or a file path (loaded with
    ``loader`` or ``glassnet.load_model``). ``dataset``: a data set name (sample ``index`` of
    its ``split``) or a pair (x, y); required with a model. ``format``: text, markdown, json or
    html. ``weight``: "L,J,K" (1-based) or "w5" — append that weight's story. ``graph``: a path
    ending in .svg (needs Graphviz) or .dot/.gv — write the computational graph of the cost
    there. ``precision``: significant digits (default 9 for seed 004, else 6).
    ``notation``: the symbols' preset — "glassnet" (default), "seed000", "seed001",
    "seed003" or "seed004" (glassnet.explain.presets); ``lang``: "en" or "zh".
    ``example``: "seed004" (the default without a model), "conv" or "conv-bn" (a 6×6 image
    through two 3×3 filters, 2×2 max pooling and a Dense output; "conv-bn" with batch
    normalisation after the convolution, "conv-up" with a transposed convolution after the
    pooling).
    """
    preset = presets.get(notation)
    language = i18n.check_lang(lang)
    if format not in FORMATS:
        raise InvalidArgumentError(
            f"explain: --format must be one of {', '.join(FORMATS)}, received {format!r}"
        )
    weights = [parse_weight(weight)] if weight is not None else []
    if graph is not None:
        suffix = os.fspath(graph).lower().rsplit(".", 1)[-1]
        if suffix not in ("svg", "dot", "gv"):
            raise InvalidArgumentError(
                f"explain: --graph must name a .svg, .dot or .gv file, "
                f"received {os.fspath(graph)!r}"
            )
    notes: list[str] = []
    x: Any
    y: Any
    if example is not None and example not in EXAMPLES:
        raise InvalidArgumentError(
            f"explain: --example must be one of {', '.join(EXAMPLES)}, received {example!r}"
        )
    if example is not None and (model is not None or dataset is not None):
        raise InvalidArgumentError(
            "explain: --example explains a ready-made network; it cannot be combined with "
            "--model or --dataset"
        )
    if example in CONV_EXAMPLES and graph is not None:
        raise InvalidArgumentError(
            f"explain: --graph draws the graph of a Dense chain; the {example} example's trace "
            f"shows every convolution step instead (drop --graph)"
        )
    if example in CONV_EXAMPLES:
        net, x, y, conv_loss = conv_example(
            batchnorm=example == "conv-bn", transposed=example == "conv-up"
        )
        trace = backprop(
            net, x, y, loss=conv_loss if loss is None else loss, learning_rate=learning_rate
        )
        with i18n.using(language):
            trace.title = i18n.t(CONV_TITLES[example])
        digits = 6 if precision is None else precision
        graph_model: Any = net
    elif model is None:
        if dataset is not None:
            raise InvalidArgumentError(
                "explain: --dataset needs --model (without a model, "
                "explain runs seed 004's worked example)"
            )
        net, x, y, loss_obj, alpha = seed004_example()
        lr = alpha if learning_rate is None else learning_rate
        trace = backprop(net, x, y, loss=loss_obj if loss is None else loss, learning_rate=lr)
        with i18n.using(language):
            trace.title = i18n.t(
                "Seed 004's worked example: a 2-2-2 sigmoid network, "
                "E = Σ ½(target − out)², learning rate 0.5"
            )
        trace.path_style = "net/out"
        digits = 9 if precision is None else precision
        graph_model = net
    else:
        net = _load_model(model, loader)
        if dataset is None:
            raise InvalidArgumentError(
                "explain: --model needs --dataset and --index to pick the sample to explain"
            )
        x, y, where = _sample(dataset, index, split)
        guessed, note = (None, None) if loss is not None else _guess_loss(net, np.asarray(y))
        if note:
            notes.append(note)
        trace = backprop(
            net, x, y, loss=loss if loss is not None else guessed, learning_rate=learning_rate
        )
        with i18n.using(language):
            trace.title = i18n.t("Backpropagation, traced: {model} on {where}").format(
                model=getattr(net, "name", "model"), where=where
            )
        trace.notes.extend(notes)
        digits = 6 if precision is None else precision
        graph_model = net

    graph_note = None
    if graph is not None:
        from .graph import model_graph

        model_graph(graph_model, x, y, trace.loss, precision=min(digits, 6)).save(
            graph, title=trace.title
        )
        with i18n.using(language):
            graph_note = i18n.t("Computational graph of C written to {path}.").format(
                path=os.fspath(graph)
            )
    trace.notation = preset.name
    trace.lang = language
    return _render(trace, format, digits, color, max_rows, max_cols, weights, graph_note)


def _render(
    trace: BackpropTrace,
    format: str,
    digits: int,
    color: bool,
    max_rows: int,
    max_cols: int,
    weights: list[Any],
    graph_note: str | None,
) -> str:
    if format == "text":
        out = trace.to_text(digits, max_rows, max_cols, color, weights)
        return out + (f"\n{graph_note}\n" if graph_note else "")
    if format == "markdown":
        out = trace.to_markdown(digits, max_rows, max_cols, weights)
        return out + (f"\n{graph_note}\n" if graph_note else "")
    if format == "json":
        import json

        data = trace.to_dict(None, weights)
        if graph_note:
            data["graph_note"] = graph_note
        return json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    return trace.to_html(digits, max_rows, max_cols, weights)
