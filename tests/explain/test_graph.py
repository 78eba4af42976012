"""Seed 003's computational graphs drawn by explain.graph, read back from the DOT text.

f = (x + y)·z with x = −2, y = 5, z = −4: q = 3, f = −12, ∂f/∂x = ∂f/∂y = z = −4, ∂f/∂z = q = 3,
and on each edge "downstream = upstream × local". The sigmoid neuron f = σ(w0·x0 + w1·x1 + w2)
with w = (2, −3, −3), x = (−1, −2): f ≈ 0.73, ∂f/∂w ≈ (−0.20, −0.39, 0.20), ∂f/∂x ≈ (0.39, −0.59),
both as one sigmoid gate (local derivative σ(1 − σ)) and as seed 003's expanded gates.
"""

from __future__ import annotations

import math
import re
import shutil

import numpy as np
import pytest

import glassnet as gn
import glassnet.functional as F
from glassnet.errors import GraphError
from glassnet.explain import GraphvizNotFoundError, graph, model_graph, seed004_example

NODE = re.compile(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)", shape=(\w+)', re.M)
EDGE = re.compile(r'^\s*(n\d+) -> (n\d+) \[label="((?:[^"\\]|\\.)*)"\]', re.M)


def parse(dot: str) -> tuple[dict[str, dict[str, str]], list[tuple[str, str, str]]]:
    """{name: {"id", "value", "grad", "kind"}} and [(source name, target name, label)]."""
    nodes: dict[str, dict[str, str]] = {}
    by_id: dict[str, str] = {}
    for nid, label, _shape in NODE.findall(dot):
        lines = label.split("\\n")
        name = lines[0]
        info = {"id": nid, "kind": lines[1]}
        for line in lines[2:]:
            if line.startswith("value "):
                info["value"] = line[len("value ") :]
            elif line.startswith("∂"):
                info["grad"] = line.split(" = ", 1)[1]
        nodes[name] = info
        by_id[nid] = name
    edges = [(by_id[a], by_id[b], label.replace("\\n", "\n")) for a, b, label in EDGE.findall(dot)]
    return nodes, edges


def num(text: str) -> float:
    return float(text.replace("−", "-"))


def scalar(v: float, name: str) -> gn.Tensor:
    return gn.Tensor(v, dtype="float64", requires_grad=True, name=name)


def test_f_equals_x_plus_y_times_z() -> None:
    x, y, z = scalar(-2.0, "x"), scalar(5.0, "y"), scalar(-4.0, "z")
    q = x + y
    f = q * z
    g = graph(f, names={"q": q, "f": f})
    nodes, edges = parse(g.to_dot())
    assert {"x", "y", "z", "q", "f"} <= set(nodes)
    expected = {"x": (-2, -4), "y": (5, -4), "z": (-4, 3), "q": (3, -4), "f": (-12, 1)}
    for name, (value, grad) in expected.items():
        assert num(nodes[name]["value"]) == value, name
        assert num(nodes[name]["grad"]) == grad, name
    assert nodes["q"]["kind"].startswith("add") and nodes["f"]["kind"].startswith("mul")
    labels = {(a, b): label for a, b, label in edges}
    assert set(labels) == {("x", "q"), ("y", "q"), ("q", "f"), ("z", "f")}
    # downstream = upstream × local
    assert labels[("x", "q")] == "local ∂q/∂x = 1\n-4 × 1 = -4"
    assert labels[("q", "f")] == "local ∂f/∂q = -4\n1 × (-4) = -4"
    assert labels[("z", "f")] == "local ∂f/∂z = 3\n1 × 3 = 3"
    # the graph is intact and no .grad was written: backward still works
    assert x.grad is None and q.requires_grad
    f.backward()
    assert (x.grad, y.grad, z.grad) == (-4.0, -4.0, 3.0)
    with pytest.raises(GraphError, match="freed"):
        graph(f)


def test_sigmoid_neuron_as_one_gate() -> None:
    w = gn.Tensor([2.0, -3.0, -3.0], dtype="float64", requires_grad=True, name="w")
    x = gn.Tensor([-1.0, -2.0], dtype="float64", requires_grad=True, name="x")
    s = w[0] * x[0] + w[1] * x[1] + w[2]
    f = F.sigmoid(s)
    g = graph(f, names={"s": s, "f": f}, precision=2)
    nodes, edges = parse(g.to_dot())
    assert num(nodes["f"]["value"]) == 0.73 and num(nodes["s"]["value"]) == 1
    assert nodes["w"]["grad"] == "[-0.2, -0.39, 0.2]"
    assert nodes["x"]["grad"] == "[0.39, -0.59]"
    assert num(nodes["s"]["grad"]) == 0.2
    (label,) = [lab for a, b, lab in edges if (a, b) == ("s", "f")]
    assert label.startswith("local ∂f/∂s = 0.2")  # σ(1 − σ) = 0.73 · 0.27
    np.testing.assert_allclose(g.node("w").grad, [-0.19661193, -0.39322387, 0.19661193], rtol=1e-7)
    # tensors send arrays back along their edges
    assert any(lab.startswith("sends back [-0.2, 0, 0]") for a, _, lab in edges if a == "w")


def test_sigmoid_neuron_as_seed_003s_expanded_gates() -> None:
    w0, w1, w2 = scalar(2.0, "w0"), scalar(-3.0, "w1"), scalar(-3.0, "w2")
    x0, x1 = scalar(-1.0, "x0"), scalar(-2.0, "x1")
    s = w0 * x0 + w1 * x1 + w2
    neg = s * -1.0
    e = F.exp(neg)
    d = e + 1.0
    f = 1.0 / d
    g = graph(f, names={"s": s, "-s": neg, "exp": e, "1+exp": d, "f": f}, precision=2)
    nodes, _ = parse(g.to_dot())
    expected = {
        "f": (0.73, 1),
        "1+exp": (1.4, -0.53),
        "exp": (0.37, -0.53),
        "-s": (-1, -0.2),
        "s": (1, 0.2),
        "w0": (2, -0.2),
        "x0": (-1, 0.39),
        "w1": (-3, -0.39),
        "x1": (-2, -0.59),
        "w2": (-3, 0.2),
    }
    for name, (value, grad) in expected.items():
        assert num(nodes[name]["value"]) == value, name
        assert num(nodes[name]["grad"]) == grad, name
    assert nodes["const"]["kind"].startswith("scalar") or "constant" in nodes["const"]["kind"]
    assert "grad" not in nodes["const"]  # constants receive no gradient
    sig = 1 / (1 + math.exp(-1.0))
    assert g.node("s").grad == pytest.approx(sig * (1 - sig))


def test_text_svg_and_missing_graphviz(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    x, y = scalar(3.0, "x"), scalar(4.0, "y")
    f = x * y
    g = graph(f, names={"f": f})
    assert "∂f/∂x = 4" in g.to_text() and repr(g).startswith("Graph(3 nodes")
    if shutil.which("dot"):
        svg = g.to_svg(tmp_path / "g.svg")
        assert "<svg" in svg and (tmp_path / "g.svg").read_text() == svg
        assert g._repr_svg_() is not None
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        g.to_svg()
    assert g._repr_svg_() is None
    g.save(tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


def test_errors_and_the_model_graph() -> None:
    with pytest.raises(GraphError, match="requires_grad"):
        graph(gn.tensor([1.0, 2.0]))
    model, x, y, loss, _ = seed004_example()
    g = model_graph(model, x, y, loss)
    names = {nd.name for nd in g.nodes}
    assert {"a0", "W1", "b1", "z1", "a1", "W2", "z2", "a2", "C"} <= names
    # ∂C/∂W2[0, 0] on the graph is seed 004's ∂E/∂w5
    assert g.node("W2").grad[0, 0] == pytest.approx(0.082167041, abs=1e-9)
    assert g.root.name == "C"


def test_a_node_used_twice_gets_both_contributions() -> None:
    x = scalar(3.0, "x")
    f = x * x
    nodes, edges = parse(graph(f, names={"f": f}).to_dot())
    assert num(nodes["x"]["grad"]) == 6  # 3 + 3, one per edge
    assert [label.split("\n")[1] for a, b, label in edges] == ["1 × 3 = 3", "1 × 3 = 3"]
    deep = x
    for _ in range(3000):  # no recursion limit on long chains
        deep = deep * 1.0
    assert len(graph(deep).nodes) == 6001
