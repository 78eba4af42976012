"""``graph(tensor)``: the computational graph behind a tensor, with values and gradients.

Seed 003 draws backpropagation on a graph: each node holds its value (forward) and the
gradient of the output with respect to it (backward), and along each edge the gradient sent
back is *downstream = upstream × local*. ``graph`` reads that picture off glassnet's own
graph:

* every node shows its op, shape, value (small tensors) and gradient ∂f/∂node, where f is the
  tensor passed in (for a non-scalar f, the gradient of Σ f unless ``grad=`` is given);
* every edge, drawn forward (input → op), shows for scalars the local derivative
  ∂out/∂in and the product "upstream × local = downstream", and for tensors the downstream
  gradient sent along it.

The gradients are computed by calling each node's own backward function on the recorded graph,
in reverse topological order, exactly as ``backward()`` does — but without writing any
``.grad`` and without freeing the graph: after ``graph(f)`` you can still call
``f.backward()``. (A graph already freed by ``backward()`` cannot be drawn; call
``backward(retain_graph=True)`` first, or draw before calling it.)

``to_dot()`` gives Graphviz source; ``to_svg()`` runs Graphviz's ``dot``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..autograd.engine import seed_gradient, topological_order
from ..autograd.tensor import Tensor, _freed_backward
from ..errors import GlassnetError, GraphError, InvalidArgumentError
from ..io.atomic import atomic_write_text
from .notation import fmt_number

__all__ = ["graph", "model_graph", "Graph", "GraphNode", "GraphEdge", "GraphvizNotFoundError"]


#: the largest drawing ``to_dot``/``to_svg`` make, in inches (width, height): a 1280 px slide
SLIDE_INCHES = (13.3, 9.0)


class GraphvizNotFoundError(GlassnetError, RuntimeError):
    """Graphviz's ``dot`` program is needed (for SVG) and is not installed."""


@dataclass
class GraphNode:
    """One tensor of the graph. ``grad`` is ∂f/∂node (None where no gradient flows)."""

    id: str
    name: str
    op: str
    shape: tuple[int, ...]
    value: np.ndarray
    grad: np.ndarray | None
    requires_grad: bool
    is_root: bool = False

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (inputs, parameters, constants)."""
        return self.op == "leaf"


@dataclass
class GraphEdge:
    """Input ``source`` feeds op node ``target`` as its input number ``slot``.

    ``grad`` is the downstream gradient the op sends back along this edge (upstream × local);
    ``local`` is the local derivative ∂target/∂source when both are scalars.
    """

    source: str
    target: str
    slot: int
    grad: np.ndarray | None
    local: float | None
    upstream: np.ndarray | None


def _fmt_array(arr: np.ndarray, precision: int, max_values: int) -> str:
    a = np.asarray(arr)
    if a.size == 1:
        return fmt_number(float(a.reshape(())), precision)
    if a.size <= max_values:
        flat = ", ".join(fmt_number(float(v), precision) for v in a.reshape(-1))
        return f"[{flat}]" if a.ndim == 1 else f"[{flat}] (shape {tuple(a.shape)})"
    return f"shape {tuple(a.shape)}, mean {fmt_number(float(a.mean()), precision)}"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Graph:
    """The graph behind a tensor: ``nodes`` (inputs first, ``root`` last) and ``edges``."""

    def __init__(
        self,
        nodes: list[GraphNode],
        edges: list[GraphEdge],
        precision: int = 4,
        max_values: int = 6,
    ) -> None:
        self.nodes = nodes
        self.edges = edges
        self.precision = precision
        self.max_values = max_values

    @property
    def root(self) -> GraphNode:
        """The node of the tensor the graph was drawn for."""
        return self.nodes[-1]

    def node(self, name: str) -> GraphNode:
        """The node called ``name``."""
        for nd in self.nodes:
            if nd.name == name:
                return nd
        raise InvalidArgumentError(
            f"graph.node: no node is called {name!r}; names: "
            f"{', '.join(nd.name for nd in self.nodes)}"
        )

    def edges_into(self, name: str) -> list[GraphEdge]:
        """The edges feeding node ``name``, in input order."""
        nid = self.node(name).id
        return sorted((e for e in self.edges if e.target == nid), key=lambda e: e.slot)

    def _by_id(self) -> dict[str, GraphNode]:
        return {nd.id: nd for nd in self.nodes}

    # -- labels ----------------------------------------------------------------------------------
    def _grad_name(self, nd: GraphNode) -> str:
        return f"∂{self.root.name}/∂{nd.name}"

    def node_label(self, nd: GraphNode) -> str:
        """The node's text: name and op, shape, value, gradient."""
        p, m = self.precision, self.max_values
        shape = "scalar" if nd.value.size == 1 else f"shape {tuple(nd.shape)}"
        kind = ("input" if nd.requires_grad else "constant") if nd.is_leaf else nd.op
        second = shape if nd.name == kind else f"{kind} · {shape}"
        lines = [nd.name, second, f"value {_fmt_array(nd.value, p, m)}"]
        if nd.grad is not None:
            lines.append(f"{self._grad_name(nd)} = {_fmt_array(nd.grad, p, m)}")
        return "\n".join(lines)

    def edge_label(self, e: GraphEdge) -> str:
        """The edge's text: local derivative and upstream × local = downstream."""
        p, m = self.precision, self.max_values
        if e.grad is None:
            return (
                "no gradient (constant)"
                if not self._by_id()[e.source].requires_grad
                else ("no gradient")
            )
        by_id = self._by_id()
        if e.local is not None and e.upstream is not None:
            src, dst = by_id[e.source], by_id[e.target]
            local = fmt_number(e.local, p)
            factor = f"({local})" if e.local < 0 else local
            return (
                f"local ∂{dst.name}/∂{src.name} = {local}\n"
                f"{fmt_number(float(e.upstream.reshape(())), p)} × {factor} = "
                f"{_fmt_array(e.grad, p, m)}"
            )
        return f"sends back {_fmt_array(e.grad, p, m)}"

    # -- outputs ---------------------------------------------------------------------------------
    def to_dot(self, title: str | None = None) -> str:
        """Graphviz source: inputs on the left, f on the right; gradients in red."""
        lines = [
            "digraph glassnet {",
            "  rankdir=LR;",
            # At most a slide's width (13.3 in ≈ 1280 px at 96 dpi): dot scales a wider
            # drawing down to fit (a 2-layer network's graph was 2,400-5,000 pt wide).
            f'  size="{SLIDE_INCHES[0]},{SLIDE_INCHES[1]}";',
            '  node [fontname="Helvetica", fontsize=11];',
            '  edge [fontname="Helvetica", fontsize=10, fontcolor="#b3261e"];',
        ]
        if title:
            lines.append(f'  label="{_dot_escape(title)}"; labelloc=t;')
        for nd in self.nodes:
            shape = "ellipse" if nd.is_leaf else "box"
            style = (
                ', style="rounded,bold"'
                if nd.is_root
                else (", style=rounded" if not nd.is_leaf else "")
            )
            lines.append(
                f'  {nd.id} [label="{_dot_escape(self.node_label(nd))}", shape={shape}{style}];'
            )
        for e in self.edges:
            lines.append(f'  {e.source} -> {e.target} [label="{_dot_escape(self.edge_label(e))}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def to_svg(self, path: str | os.PathLike[str] | None = None, title: str | None = None) -> str:
        """SVG drawn by Graphviz's ``dot``; written to ``path`` (atomically) when given."""
        dot = shutil.which("dot")
        if dot is None:
            raise GraphvizNotFoundError(
                "graph.to_svg: Graphviz's 'dot' program is not on PATH; install the Graphviz "
                "binaries (Debian/Ubuntu: apt-get install graphviz; macOS: brew install "
                "graphviz; conda: conda install graphviz — the PyPI package 'graphviz' is only "
                "a wrapper and needs them too), or use to_dot()"
            )
        try:
            done = subprocess.run(
                [dot, "-Tsvg"],
                input=self.to_dot(title),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GraphvizNotFoundError(f"graph.to_svg: running {dot} failed: {exc}") from None
        if done.returncode != 0:
            raise GraphError(
                f"graph.to_svg: dot exited with status {done.returncode}: "
                f"{done.stderr.strip()[:300]}"
            )
        svg = done.stdout
        if path is not None:
            atomic_write_text(path, svg)
        return svg

    def save(self, path: str | os.PathLike[str], title: str | None = None) -> None:
        """Write SVG (``.svg``) or DOT (``.dot``/``.gv``) depending on the file name."""
        suffix = os.fspath(path).lower().rsplit(".", 1)[-1]
        if suffix == "svg":
            self.to_svg(path, title)
        elif suffix in ("dot", "gv"):
            atomic_write_text(path, self.to_dot(title))
        else:
            raise InvalidArgumentError(
                f"graph.save: the file name must end in .svg, .dot or "
                f".gv, received {os.fspath(path)!r}"
            )

    def to_text(self) -> str:
        """Nodes from the inputs to f, each with its value, gradient and incoming edges."""
        by_id = self._by_id()
        lines = []
        for nd in self.nodes:
            label = self.node_label(nd).split("\n")
            lines.append(f"{label[0]}  ({label[1]})" if label[1] != label[0] else label[0])
            lines.append("    " + "; ".join(label[2:]))
            for e in sorted((e for e in self.edges if e.target == nd.id), key=lambda e: e.slot):
                lines.append(
                    f"    ← {by_id[e.source].name}: " + self.edge_label(e).replace("\n", "; ")
                )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"Graph({len(self.nodes)} nodes, {len(self.edges)} edges, root={self.root.name!r})"

    def _repr_svg_(self) -> str | None:
        try:
            return self.to_svg()
        except (GraphvizNotFoundError, GraphError):
            return None


def _ancestry(root: Tensor) -> list[Tensor]:
    """Every tensor root depends on (constants included), inputs before outputs."""
    return topological_order(root, parents=lambda t: reversed(t.parents))


def graph(
    tensor: Tensor,
    grad: Any = None,
    names: Mapping[str, Tensor] | None = None,
    precision: int = 4,
    max_values: int = 6,
) -> Graph:
    """The computational graph behind ``tensor`` with values, gradients and local derivatives.

    ``grad``: ∂C/∂tensor to start from (default ones: the gradient of f itself, or of Σ f).
    ``names``: labels for tensors, e.g. ``{"x": x, "y": y, "z": z, "q": q, "f": f}`` (a
    tensor's ``name`` attribute is used otherwise, then its op). Values and gradients of
    tensors with more than ``max_values`` entries are summarised by shape. The graph is not
    changed: ``tensor.backward()`` still works afterwards.
    """
    if not isinstance(tensor, Tensor):
        raise InvalidArgumentError(
            f"graph: expected a glassnet Tensor, received {type(tensor).__name__}"
        )
    if tensor._backward is _freed_backward:
        raise GraphError(
            "graph: this tensor's graph was freed by backward(); draw it before "
            "calling backward, or call backward(retain_graph=True)"
        )
    if not tensor.requires_grad:
        raise GraphError(
            "graph: this tensor records no graph (nothing it depends on requires "
            "grad); make the inputs with requires_grad=True"
        )
    seed = seed_gradient(tensor, grad, "graph")
    label_of: dict[int, str] = {}
    for name, t in (names or {}).items():
        if isinstance(t, Tensor):
            label_of[id(t)] = str(name)

    order = _ancestry(tensor)
    ids = {id(t): f"n{i}" for i, t in enumerate(order)}
    grads: dict[int, np.ndarray] = {id(tensor): seed}
    edges: list[GraphEdge] = []
    for t in reversed(order):
        if not t.parents:
            continue
        g = grads.get(id(t))
        fn = t._backward
        if fn is _freed_backward:
            raise GraphError(
                "graph: part of this graph was freed by an earlier backward(); "
                "call backward(retain_graph=True) to keep it drawable"
            )
        sent: list[Any] = (
            list(fn(g)) if (g is not None and fn is not None) else [None] * len(t.parents)
        )
        local_parts: list[Any] = [None] * len(t.parents)
        if t.data.size == 1 and fn is not None and all(p.data.size == 1 for p in t.parents):
            local_parts = list(fn(np.ones_like(t.data)))
        for slot, parent in enumerate(t.parents):
            # A constant gets no gradient edge, whatever its op's backward returns for it
            # (add hands the upstream gradient to both inputs, mul skips a constant).
            wanted = parent.requires_grad
            pg = sent[slot] if (wanted and slot < len(sent)) else None
            if pg is not None:
                pg = np.asarray(pg)
                key = id(parent)
                grads[key] = grads[key] + pg if key in grads else pg
            loc = local_parts[slot] if (wanted and slot < len(local_parts)) else None
            edges.append(
                GraphEdge(
                    source=ids[id(parent)],
                    target=ids[id(t)],
                    slot=slot,
                    grad=pg,
                    local=None if loc is None else float(np.asarray(loc).reshape(())),
                    upstream=None if (g is None or loc is None) else np.asarray(g),
                )
            )
    position = {ids[id(t)]: i for i, t in enumerate(order)}
    edges.sort(key=lambda e: (position[e.target], e.slot))
    nodes: list[GraphNode] = []
    used: set[str] = set()
    counters: dict[str, int] = {}
    for t in order:
        name = (
            label_of.get(id(t))
            or t.name
            or (("const" if not t.requires_grad else "input") if t.op == "leaf" else t.op)
        )
        base = name
        while name in used:
            counters[base] = counters.get(base, 1) + 1
            name = f"{base}_{counters[base]}"
        used.add(name)
        g = grads.get(id(t))
        nodes.append(
            GraphNode(
                id=ids[id(t)],
                name=name,
                op=t.op,
                shape=tuple(t.data.shape),
                value=np.array(t.data, copy=True),
                grad=None if g is None else np.array(g),
                requires_grad=t.requires_grad,
                is_root=t is tensor,
            )
        )
    return Graph(nodes, edges, precision, max_values)


def model_graph(
    model: Any, x: Any, y: Any, loss: Any = None, precision: int = 4, max_values: int = 6
) -> Graph:
    """The graph of the cost C for one sample (or batch) through a traceable Sequential model.

    Nodes are named as in the trace: a0 (the input), W1, b1, z1, a1, …, and C. Built on float64
    copies of the weights, so the model itself is not touched.
    """
    from .trace import engine_graph

    cost, names = engine_graph(model, x, y, loss, "model_graph")
    return graph(cost, names=names, precision=precision, max_values=max_values)
