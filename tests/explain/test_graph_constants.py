"""Issue 17: ``graph`` drew a gradient edge into the constant of ``x + 1.0`` but said "no
gradient" for the constant of ``x * 2.0``. Constants now get no gradient edge either way."""

from __future__ import annotations

import pytest

from glassnet import tensor
from glassnet.explain import graph


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_constants_get_no_gradient_edge_whatever_the_op(op: str) -> None:
    x = tensor(3.0, requires_grad=True)
    f = {"add": x + 1.0, "sub": x - 1.0, "mul": x * 2.0, "div": x / 2.0}[op]
    g = graph(f, names={"x": x, "f": f})
    edges = g.edges_into("f")
    kinds = {g._by_id()[e.source].name: e for e in edges}
    const = next(e for name, e in kinds.items() if name != "x")
    assert const.grad is None and const.local is None
    assert g.edge_label(const) == "no gradient (constant)"
    assert kinds["x"].grad is not None  # the input still gets its edge
    expected = {"add": 1.0, "sub": 1.0, "mul": 2.0, "div": 0.5}[op]
    assert kinds["x"].local == pytest.approx(expected)
    assert all(nd.grad is None for nd in g.nodes if not nd.requires_grad)
    assert "constant" in g.to_dot()


def test_the_model_graph_fits_a_slide() -> None:
    """Issue 17: the Graphviz drawing of seed 004's 2-layer network was ~5,000 pt wide."""
    import re
    import shutil

    from glassnet.explain import model_graph, seed004_example

    model, x, y, loss, _ = seed004_example()
    g = model_graph(model, x, y, loss)
    assert 'size="13.3,9.0";' in g.to_dot()
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    match = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', g.to_svg())
    assert match is not None
    assert float(match.group(1)) <= 13.3 * 72 + 1 and float(match.group(2)) <= 9 * 72 + 1
