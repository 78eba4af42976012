"""Every op family checks its inputs and says, in one sentence, which op, what it saw and what
it expected. All errors are GlassnetErrors and also the matching built-in exception."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.functional as F
from glassnet.errors import (
    DTypeError,
    GlassnetError,
    GraphError,
    InvalidArgumentError,
    ShapeError,
)

BUILTIN = {
    ShapeError: ValueError,
    DTypeError: TypeError,
    InvalidArgumentError: ValueError,
    GraphError: RuntimeError,
}


def t(*shape: int) -> gn.Tensor:
    return gn.tensor(np.ones(shape))


X = t(2, 3)
LOGITS = t(2, 3)

CASES: list[tuple[str, Callable[[], Any], type, list[str]]] = [
    # arithmetic
    (
        "matmul-inner",
        lambda: F.matmul(t(32, 784), t(128, 10)),
        ShapeError,
        ["matmul", "(32, 784)", "(128, 10)", "784 and 128 differ"],
    ),
    ("matmul-operator", lambda: t(3) @ t(4, 2), ShapeError, ["matmul", "3 and 4 differ"]),
    (
        "matmul-batch",
        lambda: F.matmul(t(2, 2, 3), t(3, 3, 2)),
        ShapeError,
        ["matmul", "(2, 2, 3)", "(3, 3, 2)", "batch"],
    ),
    ("matmul-0d", lambda: F.matmul(X, gn.tensor(2.0)), ShapeError, ["matmul", "()"]),
    ("add-broadcast", lambda: F.add(t(2, 3), t(4)), ShapeError, ["add", "(2, 3)", "(4,)"]),
    ("add-operator", lambda: t(2, 3) + t(2, 1, 4), ShapeError, ["add", "(2, 3)", "(2, 1, 4)"]),
    ("sub-broadcast", lambda: t(3) - t(2), ShapeError, ["sub", "(3,)", "(2,)"]),
    ("mul-broadcast", lambda: t(5, 3) * t(5), ShapeError, ["mul", "(5, 3)", "(5,)"]),
    ("div-broadcast", lambda: t(5, 3) / t(2, 3), ShapeError, ["div", "(5, 3)", "(2, 3)"]),
    ("add-non-numeric", lambda: X + "a", DTypeError, ["add"]),
    ("add-None", lambda: X + None, DTypeError, ["add"]),
    (
        "pow-tensor-exponent",
        lambda: F.pow(X, gn.tensor([1.0, 2.0])),
        DTypeError,
        ["pow", "exponent", "(2,)"],
    ),
    ("pow-string", lambda: X ** "2", DTypeError, ["pow", "'2'"]),
    (
        "linear-features",
        lambda: F.linear(t(2, 3), t(4, 2)),
        ShapeError,
        ["linear", "(2, 3)", "(4, 2)", "3 features", "expects 2"],
    ),
    ("linear-W-ndim", lambda: F.linear(X, t(3)), ShapeError, ["linear", "W", "(3,)"]),
    (
        "linear-bias",
        lambda: F.linear(X, t(4, 3), t(3)),
        ShapeError,
        ["linear", "b", "(4,)", "(3,)"],
    ),
    ("linear-int-W", lambda: F.linear(X, gn.tensor([[1, 2, 3]])), DTypeError, ["linear", "int64"]),
    ("cast-float16", lambda: F.cast(X, "float16"), DTypeError, ["cast", "float16"]),
    # elementwise
    (
        "maximum-broadcast",
        lambda: F.maximum(t(2, 3), t(4)),
        ShapeError,
        ["maximum", "(2, 3)", "(4,)"],
    ),
    ("minimum-broadcast", lambda: F.minimum(t(2, 3), t(4)), ShapeError, ["minimum"]),
    (
        "where-broadcast",
        lambda: F.where(np.ones(4, bool), X, 0.0),
        ShapeError,
        ["where", "(4,)", "(2, 3)"],
    ),
    (
        "clip-order",
        lambda: F.clip(X, 1.0, 0.0),
        InvalidArgumentError,
        ["clip", "min=1.0", "max=0.0"],
    ),
    ("clip-none", lambda: F.clip(X), InvalidArgumentError, ["clip", "min=", "max="]),
    ("clip-type", lambda: F.clip(X, "a"), DTypeError, ["clip", "min", "'a'"]),
    ("exp-strings", lambda: F.exp(["a"]), DTypeError, ["exp"]),
    # activations
    (
        "leaky_relu-slope",
        lambda: F.leaky_relu(X, "a"),
        DTypeError,
        ["leaky_relu", "negative_slope"],
    ),
    (
        "softmax-axis",
        lambda: F.softmax(X, axis=2),
        ShapeError,
        ["softmax", "axis 2", "2 dimension"],
    ),
    ("softmax-axis-tuple", lambda: F.softmax(X, axis=(0, 1)), ShapeError, ["softmax", "(0, 1)"]),
    ("log_softmax-axis", lambda: F.log_softmax(X, axis=-3), ShapeError, ["log_softmax", "axis -3"]),
    ("get_kernel-unknown", lambda: F.get_kernel("swishy"), ValueError, ["swishy", "relu"]),
    # reductions
    ("sum-axis", lambda: F.sum(X, axis=2), ShapeError, ["sum", "axis 2", "2 dimension"]),
    ("sum-axis-float", lambda: F.sum(X, axis=1.0), ShapeError, ["sum", "axis", "1.0"]),
    ("sum-axis-repeated", lambda: F.sum(X, axis=(0, 0)), ShapeError, ["sum", "repeats"]),
    ("mean-axis", lambda: X.mean(axis=-3), ShapeError, ["mean", "axis -3"]),
    ("mean-empty", lambda: F.mean(t(0, 3), axis=0), ShapeError, ["mean", "(0, 3)"]),
    ("max-axis", lambda: F.max(X, axis=5), ShapeError, ["max", "axis 5"]),
    ("max-empty", lambda: F.max(t(0, 3)), ShapeError, ["max", "empty", "(0, 3)"]),
    ("min-axis", lambda: F.min(X, axis=(0, 3)), ShapeError, ["min", "axis 3"]),
    ("var-ddof", lambda: F.var(t(1), ddof=1), ShapeError, ["var", "ddof=1"]),
    ("var-negative-ddof", lambda: F.var(X, ddof=-1), InvalidArgumentError, ["var", "ddof", "-1"]),
    ("logsumexp-axis", lambda: F.logsumexp(X, axis=4), ShapeError, ["logsumexp", "axis 4"]),
    # shape ops
    (
        "reshape-size",
        lambda: F.reshape(X, (4,)),
        ShapeError,
        ["reshape", "(2, 3)", "6 elements", "(4,)"],
    ),
    ("reshape-method", lambda: X.reshape(5, -1), ShapeError, ["reshape", "(5, -1)"]),
    (
        "transpose-perm",
        lambda: F.transpose(X, (0, 0)),
        ShapeError,
        ["transpose", "(0, 0)", "(2, 3)"],
    ),
    (
        "transpose-out-of-range",
        lambda: F.transpose(X, (0, 5)),
        ShapeError,
        ["transpose", "(0, 5)", "(2, 3)"],
    ),
    ("permute-length", lambda: X.permute(1, 0, 2), ShapeError, ["transpose", "(1, 0, 2)"]),
    (
        "broadcast_to",
        lambda: F.broadcast_to(X, (3,)),
        ShapeError,
        ["broadcast_to", "(2, 3)", "(3,)"],
    ),
    ("squeeze-size", lambda: F.squeeze(X, 0), ShapeError, ["squeeze", "axis 0", "size 2"]),
    ("unsqueeze-axis", lambda: F.unsqueeze(X, 5), ShapeError, ["unsqueeze", "axis 5"]),
    ("flatten-axis", lambda: F.flatten(X, 5), ShapeError, ["flatten", "axis 5"]),
    (
        "concat-sizes",
        lambda: F.concat([X, t(2, 2)], axis=0),
        ShapeError,
        ["concat", "(2, 3)", "(2, 2)", "axis 0"],
    ),
    ("concat-empty", lambda: F.concat([]), InvalidArgumentError, ["concat", "non-empty"]),
    ("concat-tensor", lambda: F.concat(X), InvalidArgumentError, ["concat", "Tensor"]),
    (
        "stack-shapes",
        lambda: F.stack([X, t(2, 2)]),
        ShapeError,
        ["stack", "(2, 3)", "(2, 2)", "same shape"],
    ),
    ("stack-axis", lambda: F.stack([X, X], axis=4), ShapeError, ["stack", "axis 4"]),
    ("getitem-range", lambda: X[5], ShapeError, ["getitem", "5", "(2, 3)"]),
    ("getitem-too-many", lambda: X[0, 0, 0], ShapeError, ["getitem", "(2, 3)"]),
    ("getitem-array-range", lambda: X[np.array([0, 7])], ShapeError, ["getitem", "(2, 3)"]),
    # network ops
    (
        "sparse-ce-label-range",
        lambda: F.sparse_softmax_cross_entropy(LOGITS, [0, 3]),
        InvalidArgumentError,
        ["sparse_softmax_cross_entropy", "[0, 3)", "label 3"],
    ),
    (
        "sparse-ce-negative-label",
        lambda: F.sparse_softmax_cross_entropy(LOGITS, [-1, 0]),
        InvalidArgumentError,
        ["sparse_softmax_cross_entropy", "label -1"],
    ),
    (
        "sparse-ce-float-labels",
        lambda: F.sparse_softmax_cross_entropy(LOGITS, [0.5, 1]),
        DTypeError,
        ["sparse_softmax_cross_entropy", "whole numbers", "0.5"],
    ),
    (
        "sparse-ce-label-shape",
        lambda: F.sparse_softmax_cross_entropy(LOGITS, [0, 1, 2]),
        ShapeError,
        ["sparse_softmax_cross_entropy", "(2,)", "(3,)"],
    ),
    (
        "sparse-ce-logits-shape",
        lambda: F.sparse_softmax_cross_entropy(t(3), [0]),
        ShapeError,
        ["sparse_softmax_cross_entropy", "(batch, classes)", "(3,)"],
    ),
    (
        "sparse-ce-reduction",
        lambda: F.sparse_softmax_cross_entropy(LOGITS, [0, 1], "avg"),
        InvalidArgumentError,
        ["sparse_softmax_cross_entropy", "mean, sum, none", "'avg'"],
    ),
    (
        "softmax-ce-targets",
        lambda: F.softmax_cross_entropy(LOGITS, np.ones((2, 2))),
        ShapeError,
        ["softmax_cross_entropy", "(2, 3)", "(2, 2)"],
    ),
    (
        "bce-targets",
        lambda: F.sigmoid_binary_cross_entropy(LOGITS, np.ones(3)),
        ShapeError,
        ["sigmoid_binary_cross_entropy", "(2, 3)", "(3,)"],
    ),
    (
        "bce-int-logits",
        lambda: F.sigmoid_binary_cross_entropy(gn.tensor([1, 0]), [1, 0]),
        DTypeError,
        ["sigmoid_binary_cross_entropy", "int64"],
    ),
    (
        "one_hot-range",
        lambda: F.one_hot([0, 3], 3),
        InvalidArgumentError,
        ["one_hot", "[0, 3)", "label 3"],
    ),
    (
        "one_hot-classes",
        lambda: F.one_hot([0], 0),
        InvalidArgumentError,
        ["one_hot", "num_classes", "0"],
    ),
    ("dropout-rate", lambda: F.dropout(X, 1.0), InvalidArgumentError, ["dropout", "rate", "1.0"]),
    ("dropout-int", lambda: F.dropout(gn.tensor([1, 2]), 0.5), DTypeError, ["dropout", "int64"]),
    # tensors and the graph
    ("tensor-ragged", lambda: gn.tensor([[1, 2], [3]]), DTypeError, ["tensor"]),
    (
        "tensor-dtype",
        lambda: gn.tensor([1.0], dtype="complex64"),
        DTypeError,
        ["tensor", "complex64"],
    ),
    (
        "requires-grad-int",
        lambda: gn.tensor([1], requires_grad=True),
        DTypeError,
        ["requires_grad", "int64"],
    ),
    ("item", lambda: X.item(), InvalidArgumentError, ["item", "(2, 3)"]),
    (
        "backward-non-scalar",
        lambda: (gn.tensor([1.0, 2.0], requires_grad=True) * 2).backward(),
        GraphError,
        ["backward", "(2,)"],
    ),
    (
        "backward-grad-shape",
        lambda: (gn.tensor([1.0, 2.0], requires_grad=True) * 2).backward(np.ones((2, 1))),
        ShapeError,
        ["backward", "(2, 1)", "(2,)"],
    ),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("id_, call, error, fragments", CASES, ids=IDS)
def test_error(id_: str, call: Callable[[], Any], error: type, fragments: list[str]) -> None:
    with pytest.raises(error) as info:
        call()
    exc = info.value
    assert isinstance(exc, GlassnetError)
    assert isinstance(exc, BUILTIN.get(error, error))
    message = str(exc)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert "\n" not in message  # one sentence
    assert message.split(":")[0].strip(), message  # starts by naming the op or argument


def test_matmul_message_in_full() -> None:
    with pytest.raises(ShapeError) as info:
        t(32, 784) @ t(128, 10)
    assert str(info.value) == (
        "matmul: cannot multiply (32, 784) by (128, 10): inner sizes 784 and 128 differ"
    )


def test_errors_are_raised_before_any_graph_is_built() -> None:
    """A failing op leaves its inputs untouched and records nothing."""
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ShapeError):
        x + t(3)
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_iterating_a_tensor_yields_rows() -> None:
    """Iteration must stop cleanly (Python's fallback would hit getitem's ShapeError)."""
    rows = list(gn.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert len(rows) == 2 and rows[1].shape == (2,)
    np.testing.assert_array_equal(rows[1].numpy(), [3.0, 4.0])
    x = gn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    total = sum(v * v for v in x)
    total.backward()  # type: ignore[union-attr]
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])
