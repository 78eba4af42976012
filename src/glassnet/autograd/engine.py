"""Reverse-mode differentiation: walk the graph from the output back to the leaves.

The walk is the chain rule on a computational graph (seed 003): each node receives the
upstream gradient ∂C/∂out, its op's backward multiplies it by the local derivative and hands
one downstream gradient to each input ("downstream = upstream × local"). A node used by several
ops receives the sum of what they send back, which is why nodes are visited in reverse
topological order: a node is processed only after every consumer has contributed.

The topological sort is iterative, so a chain of 100,000 ops does not touch Python's recursion
limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..errors import AnomalyError, GraphError, ShapeError
from .tensor import Tensor, _freed_backward, _state, as_array

__all__ = ["backward", "topological_order", "seed_gradient"]


def _differentiable_parents(node: Tensor) -> Iterable[Tensor]:
    return (parent for parent in node._parents if parent.requires_grad)


def topological_order(
    root: Tensor, parents: Callable[[Tensor], Iterable[Tensor]] | None = None
) -> list[Tensor]:
    """Every tensor that ``root`` depends on, inputs before outputs; iterative, so a chain of
    any length is fine. ``parents(t)`` says which tensors t depends on (default: the recorded
    parents that require grad, the ones backward visits; explain's graph passes every one)."""
    parents_of = parents or _differentiable_parents
    order: list[Tensor] = []
    visited: set[int] = set()
    # (tensor, expanded): a tensor is appended after all its parents have been appended.
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in parents_of(node):
            if id(parent) not in visited:
                stack.append((parent, False))
    return order


def seed_gradient(root: Tensor, grad: Any, where: str) -> np.ndarray:
    """∂C/∂root to start backpropagation from: ``grad`` checked against root's shape, or ones."""
    if grad is None:
        return np.ones_like(root.data)
    seed = as_array(grad, root.data.dtype, where)
    if seed.shape != root.data.shape:
        raise ShapeError(
            f"{where}: grad has shape {seed.shape} but the tensor has shape "
            f"{root.data.shape}; they must match"
        )
    return seed


def backward(root: Tensor, grad: Any = None, retain_graph: bool = False) -> None:
    """Accumulate ∂root/∂leaf · grad into ``leaf.grad`` for every leaf that requires grad."""
    if not root.requires_grad:
        raise GraphError(
            "backward: this tensor does not require grad; make an input with "
            "requires_grad=True (or a Parameter) before computing it"
        )
    if grad is None and root.data.size != 1:
        raise GraphError(
            f"backward: the implicit gradient 1 exists only for a one-element tensor, "
            f"received shape {root.data.shape}; pass grad= of that shape"
        )
    seed = seed_gradient(root, grad, "backward")
    order = topological_order(root)
    grads: dict[int, np.ndarray] = {id(root): seed}
    anomaly = _state.anomaly
    for node in reversed(order):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        fn = node._backward
        if fn is None:  # a leaf
            _accumulate(node, g)
            continue
        if node._retain:
            _accumulate(node, g)
        parent_grads = fn(g)
        if anomaly:
            _check_backward(node, g, parent_grads)
        for parent, pg in zip(node._parents, parent_grads):
            if pg is None or not parent.requires_grad:
                continue
            key = id(parent)
            if key in grads:
                grads[key] = grads[key] + pg
            else:
                grads[key] = pg
        if not retain_graph:
            node._backward = _freed_backward
            node._parents = ()


def _accumulate(t: Tensor, g: np.ndarray) -> None:
    """Add g into t.grad in place, so views into a flat gradient buffer stay valid."""
    if t.grad is None:
        # Copy: backward functions may hand the same array to several inputs.
        t.grad = np.array(g, dtype=t.data.dtype, copy=True)
    else:
        t.grad += g


def _check_backward(node: Tensor, g: np.ndarray, parent_grads: Any) -> None:
    if not np.isfinite(g).all():
        return
    for i, pg in enumerate(parent_grads):
        if pg is not None and not np.isfinite(pg).all():
            raise AnomalyError(
                f"detect_anomaly: the backward of '{node._op}' turned a finite upstream "
                f"gradient of shape {g.shape} into NaN or inf for its input {i}"
            )
