"""Differentiable ops on tensors: ``import glassnet.functional as F``.

Every op computes its value with NumPy and records, next to it, how to send a gradient back
(its vector-Jacobian product). Importing this package also gives ``Tensor`` its operators and
methods (``a + b``, ``a @ b``, ``x.sum()``, ``x[idx]``, ...).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.tensor import Tensor, is_grad_enabled
from ..errors import GraphError
from ._core import lift_pair, unbroadcast
from .activations import (
    KERNELS,
    Kernel,
    elu,
    gelu,
    get_kernel,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
)
from .arithmetic import add, cast, div, linear, matmul, mul, neg, pow, sub
from .elementwise import (
    abs,
    clip,
    cos,
    exp,
    log,
    log1p,
    maximum,
    minimum,
    sin,
    sqrt,
    square,
    where,
)
from .nn import (
    dropout,
    one_hot,
    sigmoid_binary_cross_entropy,
    softmax_cross_entropy,
    sparse_softmax_cross_entropy,
)
from .reductions import cumsum, logsumexp, max, mean, min, prod, sum, var
from .shape import (
    broadcast_to,
    concat,
    flatten,
    getitem,
    permute,
    reshape,
    squeeze,
    stack,
    take,
    transpose,
    unsqueeze,
)

__all__ = [
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "pow",
    "matmul",
    "linear",
    "cast",
    "exp",
    "log",
    "sqrt",
    "abs",
    "clip",
    "maximum",
    "minimum",
    "where",
    "log1p",
    "square",
    "sin",
    "cos",
    "cumsum",
    "prod",
    "take",
    "tanh",
    "sigmoid",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "softplus",
    "softmax",
    "log_softmax",
    "logsumexp",
    "sum",
    "mean",
    "max",
    "min",
    "var",
    "reshape",
    "flatten",
    "transpose",
    "permute",
    "broadcast_to",
    "squeeze",
    "unsqueeze",
    "concat",
    "stack",
    "getitem",
    "one_hot",
    "dropout",
    "sparse_softmax_cross_entropy",
    "softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "unbroadcast",
    "Kernel",
    "KERNELS",
    "get_kernel",
]


# ---------------------------------------------------------------------------------------------
# Tensor methods and operators
# ---------------------------------------------------------------------------------------------
def _compare(np_op: Any) -> Any:
    def method(self: Tensor, other: Any) -> Tensor:
        _, _, a, b = lift_pair(self, other, np_op.__name__)
        return Tensor(np_op(a, b))  # comparisons are not differentiable

    return method


def _inplace(np_op: Any, name: str) -> Any:
    def method(self: Tensor, other: Any) -> Tensor:
        # As in PyTorch: w -= lr * w.grad updates w itself (inside no_grad for parameters).
        if self.requires_grad and is_grad_enabled():
            raise GraphError(
                f"{name}: in-place change of a tensor that requires grad would corrupt its "
                f"gradient; do it inside 'with glassnet.no_grad():'"
            )
        value = other.data if isinstance(other, Tensor) else np.asarray(other)
        np_op(self.data, value.astype(self.data.dtype, copy=False), out=self.data, casting="unsafe")
        return self

    return method


def _install() -> None:
    operators: dict[str, Any] = {
        "__add__": lambda self, o: add(self, o),
        "__radd__": lambda self, o: add(o, self),
        "__sub__": lambda self, o: sub(self, o),
        "__rsub__": lambda self, o: sub(o, self),
        "__mul__": lambda self, o: mul(self, o),
        "__rmul__": lambda self, o: mul(o, self),
        "__truediv__": lambda self, o: div(self, o),
        "__rtruediv__": lambda self, o: div(o, self),
        "__pow__": lambda self, p: pow(self, p),
        "__rpow__": lambda self, base: exp(mul(self, float(np.log(base)))),
        "__matmul__": lambda self, o: matmul(self, o),
        "__rmatmul__": lambda self, o: matmul(o, self),
        "__neg__": lambda self: neg(self),
        "__abs__": lambda self: abs(self),
        "__getitem__": lambda self, idx: getitem(self, idx),
        "__lt__": _compare(np.less),
        "__le__": _compare(np.less_equal),
        "__gt__": _compare(np.greater),
        "__ge__": _compare(np.greater_equal),
        "__eq__": _compare(np.equal),
        "__ne__": _compare(np.not_equal),
        "__iadd__": _inplace(np.add, "+="),
        "__isub__": _inplace(np.subtract, "-="),
        "__imul__": _inplace(np.multiply, "*="),
        "__itruediv__": _inplace(np.divide, "/="),
    }
    for name, fn in operators.items():
        setattr(Tensor, name, fn)

    methods: dict[str, Any] = {
        "add": add,
        "sub": sub,
        "mul": mul,
        "div": div,
        "pow": pow,
        "matmul": matmul,
        "exp": exp,
        "log": log,
        "sqrt": sqrt,
        "abs": abs,
        "clip": clip,
        "tanh": tanh,
        "sigmoid": sigmoid,
        "relu": relu,
        "leaky_relu": leaky_relu,
        "elu": elu,
        "gelu": gelu,
        "softplus": softplus,
        "softmax": softmax,
        "log_softmax": log_softmax,
        "logsumexp": logsumexp,
        "sum": sum,
        "mean": mean,
        "max": max,
        "min": min,
        "var": var,
        "reshape": reshape,
        "flatten": flatten,
        "transpose": transpose,
        "permute": permute,
        "broadcast_to": broadcast_to,
        "squeeze": squeeze,
        "unsqueeze": unsqueeze,
        "astype": cast,  # a copy with another dtype; differentiable between float dtypes
    }
    methods["T"] = property(lambda self: transpose(self))
    for name, fn in methods.items():
        setattr(Tensor, name, fn)


_install()
