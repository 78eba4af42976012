"""``keras.utils.plot_model``: a model's layer graph as a diagram file.

The graph (one box per layer, an arrow from each layer to the layers that read its output) is
written as Graphviz DOT text. Graphviz's ``dot`` program, when installed, renders it to the
file's format (``.png``, ``.svg``, ``.pdf``, …), as Keras does through pydot. Without it, an
``.svg`` is drawn here (the layers in rows by their depth in the graph) and ``.dot``/``.gv``
files hold the DOT text itself; other formats need Graphviz.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from typing import Any

import numpy as np

from ..autograd.tensor import no_grad
from ..errors import InvalidArgumentError, MissingDependencyError, describe
from ..io.atomic import atomic_write_bytes, atomic_write_text

__all__ = ["plot_model", "model_graph", "to_dot", "to_svg", "model_to_dot"]

_TEXT_FORMATS = ("dot", "gv")


def _shape_text(shape: Any) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _class_name(layer: Any) -> str:
    name = type(layer).__name__
    return "InputLayer" if name == "Input" else name  # Keras's name for it


def _activation_name(layer: Any) -> str | None:
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    return str(getattr(act, "name", None) or getattr(act, "__name__", type(act).__name__))


def _sequential_shapes(model: Any) -> list[tuple[Any, Any]]:
    """(input shape, output shape) of each layer of a Sequential whose input shape is known,
    found by running one sample of zeros through the layers."""
    shape = getattr(model, "input_shape", None)
    if shape is None:
        return [(None, None)] * len(model.layers)
    x: Any = np.zeros((1,) + tuple(shape), dtype=np.float32)
    shapes = []
    with no_grad():
        for layer in model.layers:
            before = (None,) + tuple(np.shape(getattr(x, "data", x))[1:])
            x = layer(x)
            shapes.append((before, (None,) + tuple(np.shape(getattr(x, "data", x))[1:])))
    return shapes


def model_graph(model: Any) -> tuple[list[dict[str, Any]], list[tuple[int, int]]]:
    """The diagram's boxes and arrows: boxes (dicts with the layer's ``name``, ``class``,
    ``activation``, ``trainable``, ``dtype``, ``input_shapes`` and ``output_shapes``) and
    arrows (index of the source box, index of the target box), in the model's order."""
    nodes = getattr(model, "_nodes", None)
    boxes: list[dict[str, Any]] = []
    edges: list[tuple[int, int]] = []
    index: dict[int, int] = {}

    def box(layer: Any, ins: list[Any], outs: list[Any], dtype: Any) -> int:
        if id(layer) not in index:
            index[id(layer)] = len(boxes)
            boxes.append(
                {
                    "name": getattr(layer, "name", type(layer).__name__),
                    "class": "InputLayer"
                    if type(layer).__name__ == "Input"
                    else type(layer).__name__,
                    "activation": _activation_name(layer),
                    "trainable": bool(getattr(layer, "trainable", True)),
                    "dtype": str(dtype) if dtype is not None else None,
                    "input_shapes": ins,
                    "output_shapes": outs,
                }
            )
        return index[id(layer)]

    if nodes is not None:  # a functional model: its recorded calls
        for node in nodes:
            ins = [t.shape for t in node.inputs]
            outs = [t.shape for t in node.outputs]
            dtype = node.outputs[0].dtype if node.outputs else None
            target = box(node.layer, ins or outs, outs, dtype)
            for t in node.inputs:
                if t.node is not None and id(t.node.layer) in index:
                    arrow = (index[id(t.node.layer)], target)
                    if arrow not in edges:
                        edges.append(arrow)
        return boxes, edges
    layers = list(getattr(model, "layers", []))
    if not layers:
        raise InvalidArgumentError(
            f"plot_model: model must be a keras.Model or Sequential with layers, received "
            f"{describe(model)}"
        )
    for i, (layer, (before, after)) in enumerate(zip(layers, _sequential_shapes(model))):
        box(layer, [before] if before else [], [after] if after else [], np.float32)
        if i:
            edges.append((i - 1, i))
    return boxes, edges


def _label_lines(b: dict[str, Any], options: dict[str, bool]) -> list[str]:
    title = f"{b['name']} ({b['class']})" if options["show_layer_names"] else b["class"]
    lines = [title]
    if options["show_layer_activations"] and b["activation"]:
        lines.append(f"activation: {b['activation']}")
    if options["show_dtype"] and b["dtype"]:
        lines.append(f"dtype: {b['dtype']}")
    if options["show_shapes"]:
        ins = ", ".join(_shape_text(s) for s in b["input_shapes"]) or "?"
        outs = ", ".join(_shape_text(s) for s in b["output_shapes"]) or "?"
        lines += [f"input: {ins}", f"output: {outs}"]
    if options["show_trainable"]:
        lines.append("trainable" if b["trainable"] else "frozen")
    return lines


def to_dot(model: Any, rankdir: str = "TB", dpi: int = 200, **options: bool) -> str:
    """The model's graph as Graphviz DOT text (the options as plot_model's)."""
    boxes, edges = model_graph(model)
    name = str(getattr(model, "name", "model")).replace('"', "'")
    out = [
        f'digraph "{name}" {{',
        f"  graph [rankdir={rankdir}, dpi={int(dpi)}];",
        '  node [shape=record, fontname="Helvetica", fontsize=11];',
    ]
    for i, b in enumerate(boxes):
        text = "|".join(
            line.replace("\\", "\\\\")
            .replace('"', '\\"')
            .replace("{", "\\{")
            .replace("}", "\\}")
            .replace("|", "\\|")
            .replace("<", "\\<")
            .replace(">", "\\>")
            for line in _label_lines(b, _options(options))
        )
        out.append(f'  n{i} [label="{{{text}}}"];')
    out += [f"  n{a} -> n{b};" for a, b in edges]
    out.append("}")
    return "\n".join(out) + "\n"


def model_to_dot(model: Any, rankdir: str = "TB", dpi: int = 200, **options: bool) -> str:
    """Keras's ``model_to_dot``, returning the DOT text (Keras returns a pydot graph)."""
    return to_dot(model, rankdir, dpi, **options)


def _options(options: dict[str, bool]) -> dict[str, bool]:
    known = {
        "show_shapes": False,
        "show_dtype": False,
        "show_layer_names": False,
        "show_layer_activations": False,
        "show_trainable": False,
    }
    return {k: bool(options.get(k, v)) for k, v in known.items()}


def _depths(count: int, edges: list[tuple[int, int]]) -> list[int]:
    """Each box's row: the length of the longest path of arrows that reaches it (the boxes
    come in topological order)."""
    depth = [0] * count
    for a, b in sorted(edges, key=lambda e: e[1]):
        depth[b] = max(depth[b], depth[a] + 1)
    return depth


def to_svg(model: Any, rankdir: str = "TB", **options: bool) -> str:
    """The graph drawn as SVG without Graphviz: rows of boxes by depth, straight arrows."""
    boxes, edges = model_graph(model)
    labels = [_label_lines(b, _options(options)) for b in boxes]
    depth = _depths(len(boxes), edges)
    char_w, line_h, pad, gap = 7.2, 16, 10, 40
    widths = [max(len(s) for s in lines) * char_w + 2 * pad for lines in labels]
    heights = [len(lines) * line_h + pad for lines in labels]
    rows: dict[int, list[int]] = {}
    for i, d in enumerate(depth):
        rows.setdefault(d, []).append(i)
    horizontal = rankdir in ("LR", "RL")
    pos: dict[int, tuple[float, float]] = {}
    along = 10.0
    for d in sorted(rows):
        members = rows[d]
        across = 10.0
        for i in members:
            pos[i] = (across, along) if not horizontal else (along, across)
            across += (widths[i] if not horizontal else heights[i]) + gap / 2
        along += max(heights[i] if not horizontal else widths[i] for i in members) + gap
    width = max(pos[i][0] + widths[i] for i in pos) + 10
    height = max(pos[i][1] + heights[i] for i in pos) + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ]
    for a, b in edges:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        if horizontal:
            x1, y1, x2, y2 = xa + widths[a], ya + heights[a] / 2, xb, yb + heights[b] / 2
        else:
            x1, y1, x2, y2 = xa + widths[a] / 2, ya + heights[a], xb + widths[b] / 2, yb
        out.append(
            f'<line class="edge" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="black" marker-end="url(#arrow)"/>'
        )
    for i, lines in enumerate(labels):
        x, y = pos[i]
        out.append(
            f'<g class="layer"><rect x="{x:.1f}" y="{y:.1f}" width="{widths[i]:.1f}" '
            f'height="{heights[i]:.1f}" rx="4" fill="#f4f4f4" stroke="black"/>'
        )
        for k, line in enumerate(lines):
            weight = ' font-weight="bold"' if k == 0 else ""
            out.append(
                f'<text x="{x + pad:.1f}" y="{y + pad / 2 + (k + 0.8) * line_h:.1f}"{weight}>'
                f"{html.escape(line)}</text>"
            )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def plot_model(
    model: Any,
    to_file: str | os.PathLike[str] = "model.png",
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = False,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    **kwargs: Any,
) -> None:
    """Write the model's layer graph to ``to_file`` (Keras's ``plot_model``); the format is
    the file's extension. Nested models are drawn as one box (``expand_nested`` is
    accepted and not applied)."""
    kwargs.pop("layer_range", None)  # Keras's option to draw part of the model: all is drawn
    if kwargs:
        raise InvalidArgumentError(
            f"plot_model: unknown keyword argument(s) {sorted(kwargs)}; expected Keras's options "
            f"(show_shapes, show_dtype, show_layer_names, rankdir, expand_nested, dpi, "
            f"show_layer_activations, show_trainable)"
        )
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise InvalidArgumentError(
            f"plot_model: rankdir must be 'TB', 'LR', 'BT' or 'RL', received rankdir={rankdir!r}"
        )
    options = {
        "show_shapes": show_shapes,
        "show_dtype": show_dtype,
        "show_layer_names": show_layer_names,
        "show_layer_activations": show_layer_activations,
        "show_trainable": show_trainable,
    }
    path = os.fspath(to_file)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    dot_text = to_dot(model, rankdir, dpi, **options)
    if fmt in _TEXT_FORMATS:
        atomic_write_text(path, dot_text, where="plot_model")
        return
    program = shutil.which("dot")
    if program is None:
        if fmt == "svg":
            atomic_write_text(path, to_svg(model, rankdir, **options), where="plot_model")
            return
        raise MissingDependencyError(
            f"plot_model: writing a .{fmt} file needs Graphviz's `dot` program, which is not "
            f"installed (apt install graphviz); or write .svg or .dot, received to_file={path!r}"
        )
    done = subprocess.run(
        [program, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=60
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidArgumentError(
            f"plot_model: Graphviz cannot write a .{fmt} file ({message[-1] if message else ''}), "
            f"received to_file={path!r}; use .png, .svg, .pdf or .dot"
        )
    atomic_write_bytes(path, done.stdout, where="plot_model")
