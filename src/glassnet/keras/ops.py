"""``keras.ops``: a NumPy-like namespace of differentiable ops, as Keras 3 names them.

Inside a layer's ``call`` the inputs are glassnet Tensors; every op here is a thin name over
``glassnet.functional`` (where each op's forward sits beside its vector-Jacobian product), so
what a custom layer computes with them trains through the autograd graph. Ops that have no
gradient (comparisons, argmax, rounding, array creation) return tensors that do not require
one, as in Keras. Arguments follow Keras 3's signatures (``ops.clip(x, x_min, x_max)``,
``ops.transpose(x, axes)``, ``ops.concatenate(xs, axis=0)``, …).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import functional as F
from ..autograd.tensor import Tensor, as_array
from ..errors import InvalidArgumentError
from ..functional._core import lift, lift_pair

__all__ = [
    # conversion and inspection
    "convert_to_tensor",
    "convert_to_numpy",
    "cast",
    "shape",
    "dtype",
    "is_tensor",
    "stop_gradient",
    # creation
    "zeros",
    "ones",
    "full",
    "zeros_like",
    "ones_like",
    "full_like",
    "eye",
    "identity",
    "arange",
    "linspace",
    # arithmetic
    "add",
    "subtract",
    "multiply",
    "divide",
    "true_divide",
    "negative",
    "power",
    "matmul",
    "dot",
    "square",
    "sqrt",
    "exp",
    "log",
    "log1p",
    "abs",
    "absolute",
    "sin",
    "cos",
    "tanh",
    "clip",
    "maximum",
    "minimum",
    "where",
    "sign",
    "floor",
    "ceil",
    "round",
    # reductions
    "sum",
    "mean",
    "max",
    "min",
    "prod",
    "var",
    "std",
    "cumsum",
    "logsumexp",
    "argmax",
    "argmin",
    "all",
    "any",
    "count_nonzero",
    # shapes
    "reshape",
    "transpose",
    "concatenate",
    "stack",
    "expand_dims",
    "squeeze",
    "broadcast_to",
    "take",
    # comparisons
    "equal",
    "not_equal",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "logical_and",
    "logical_or",
    "logical_not",
    # neural-network ops
    "relu",
    "relu6",
    "sigmoid",
    "softmax",
    "log_softmax",
    "softplus",
    "silu",
    "swish",
    "elu",
    "gelu",
    "leaky_relu",
    "one_hot",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "moments",
]


def _data(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _constant(value: np.ndarray) -> Tensor:
    """A tensor without gradient that keeps ``value``'s dtype (float64 stays float64)."""
    arr = np.asarray(value)
    return Tensor(arr, dtype=arr.dtype) if arr.dtype.kind == "f" else Tensor(arr)


# -- conversion and inspection ------------------------------------------------------------------
def convert_to_tensor(x: Any, dtype: Any = None) -> Tensor:
    """x as a Tensor (a Tensor passes through unless another dtype is asked)."""
    if isinstance(x, Tensor):
        return x if dtype is None else F.cast(x, dtype)
    if dtype is not None:
        return Tensor(as_array(x, dtype, "convert_to_tensor"), dtype=dtype)
    arr = np.asarray(x)
    if arr.dtype == np.float64 and not isinstance(x, np.ndarray):
        arr = arr.astype(np.float32)  # Python floats become float32, Keras's floatx
    return _constant(arr)


def convert_to_numpy(x: Any) -> np.ndarray:
    """x as a NumPy array (a copy of a tensor's values)."""
    return np.array(_data(x))


def cast(x: Any, dtype: Any) -> Tensor:
    """x converted to ``dtype``; differentiable between float dtypes."""
    return F.cast(x, dtype)


def shape(x: Any) -> tuple[int, ...]:
    """The shape as a tuple of ints."""
    return tuple(_data(x).shape)


def dtype(x: Any) -> str:
    """The dtype's name ("float32", "int64", …)."""
    return str(_data(x).dtype)


def is_tensor(x: Any) -> bool:
    """True for a glassnet Tensor."""
    return isinstance(x, Tensor)


def stop_gradient(x: Any) -> Tensor:
    """The same values with no gradient flowing back."""
    return _constant(_data(x))


# -- creation -----------------------------------------------------------------------------------
def zeros(shape: Any, dtype: Any = "float32") -> Tensor:
    """A tensor of zeros."""
    return _constant(np.zeros(shape, dtype=dtype))


def ones(shape: Any, dtype: Any = "float32") -> Tensor:
    """A tensor of ones."""
    return _constant(np.ones(shape, dtype=dtype))


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    """A tensor filled with ``fill_value``."""
    return _constant(np.full(shape, _data(fill_value), dtype=dtype or "float32"))


def zeros_like(x: Any, dtype: Any = None) -> Tensor:
    """Zeros of x's shape (and dtype)."""
    return _constant(np.zeros_like(_data(x), dtype=dtype))


def ones_like(x: Any, dtype: Any = None) -> Tensor:
    """Ones of x's shape (and dtype)."""
    return _constant(np.ones_like(_data(x), dtype=dtype))


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    """``fill_value`` in x's shape (and dtype)."""
    return _constant(np.full_like(_data(x), _data(fill_value), dtype=dtype))


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = "float32") -> Tensor:  # noqa: N803
    """The identity matrix (ones on the k-th diagonal)."""
    return _constant(np.eye(N, M, k, dtype=dtype))


def identity(n: int, dtype: Any = "float32") -> Tensor:
    """The n × n identity matrix."""
    return eye(n, dtype=dtype)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> Tensor:
    """Evenly spaced values in [start, stop)."""
    values = np.arange(start, stop, step, dtype=dtype) if stop is not None else np.arange(start)
    if dtype is None and values.dtype == np.float64:
        values = values.astype(np.float32)
    return _constant(values)


def linspace(
    start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None
) -> Tensor:
    """``num`` evenly spaced values from start to stop."""
    return _constant(np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype or "float32"))


# -- arithmetic ---------------------------------------------------------------------------------
def add(x1: Any, x2: Any) -> Tensor:
    """x1 + x2 (broadcasting)."""
    return F.add(x1, x2)


def subtract(x1: Any, x2: Any) -> Tensor:
    """x1 − x2 (broadcasting)."""
    return F.sub(x1, x2)


def multiply(x1: Any, x2: Any) -> Tensor:
    """x1 ⊙ x2 (broadcasting)."""
    return F.mul(x1, x2)


def divide(x1: Any, x2: Any) -> Tensor:
    """x1 / x2 (broadcasting)."""
    return F.div(x1, x2)


true_divide = divide


def negative(x: Any) -> Tensor:
    """−x."""
    return F.neg(x)


def power(x1: Any, x2: Any) -> Tensor:
    """x1 ** x2: a plain-number exponent uses ``pow`` (∂/∂x1 = p·x1^(p−1)); a tensor exponent
    is exp(x2 · ln x1), differentiable in both (x1 > 0)."""
    exponent = _data(x2)
    if not isinstance(x2, Tensor) and exponent.ndim == 0:
        return F.pow(x1, float(exponent))
    return F.exp(F.mul(x2, F.log(x1)))


def matmul(x1: Any, x2: Any) -> Tensor:
    """Matrix product (batched over leading axes, as NumPy's matmul)."""
    return F.matmul(x1, x2)


def dot(x1: Any, x2: Any) -> Tensor:
    """NumPy's dot for vectors and matrices (a scalar operand multiplies)."""
    if _data(x1).ndim == 0 or _data(x2).ndim == 0:
        return F.mul(x1, x2)
    return F.matmul(x1, x2)


def square(x: Any) -> Tensor:
    """x²."""
    return F.square(x)


def sqrt(x: Any) -> Tensor:
    """√x."""
    return F.sqrt(x)


def exp(x: Any) -> Tensor:
    """eˣ."""
    return F.exp(x)


def log(x: Any) -> Tensor:
    """ln x."""
    return F.log(x)


def log1p(x: Any) -> Tensor:
    """ln(1 + x)."""
    return F.log1p(x)


def abs(x: Any) -> Tensor:  # noqa: A001 - Keras's name
    """|x|."""
    return F.abs(x)


absolute = abs


def sin(x: Any) -> Tensor:
    """sin x."""
    return F.sin(x)


def cos(x: Any) -> Tensor:
    """cos x."""
    return F.cos(x)


def tanh(x: Any) -> Tensor:
    """tanh x."""
    return F.tanh(x)


def clip(x: Any, x_min: Any, x_max: Any) -> Tensor:
    """x limited to [x_min, x_max]; the gradient passes inside the interval."""
    return F.clip(x, x_min, x_max)


def maximum(x1: Any, x2: Any) -> Tensor:
    """Elementwise max."""
    return F.maximum(x1, x2)


def minimum(x1: Any, x2: Any) -> Tensor:
    """Elementwise min."""
    return F.minimum(x1, x2)


def where(condition: Any, x1: Any = None, x2: Any = None) -> Tensor:
    """``x1 if condition else x2``, elementwise; the gradient follows the branch taken."""
    if x1 is None or x2 is None:
        raise InvalidArgumentError(
            "where: give both x1 and x2 (the one-argument form returns indices, which glassnet "
            "does not offer); received only the condition"
        )
    return F.where(condition, x1, x2)


def _no_grad(np_fn: Any) -> Any:
    def op(x: Any) -> Tensor:
        return _constant(np_fn(_data(x)))

    op.__name__ = np_fn.__name__
    op.__doc__ = (
        f"NumPy's {np_fn.__name__}, elementwise (no gradient: it is flat almost everywhere)."
    )
    return op


sign = _no_grad(np.sign)
floor = _no_grad(np.floor)
ceil = _no_grad(np.ceil)
round = _no_grad(np.round)  # noqa: A001 - Keras's name


# -- reductions ---------------------------------------------------------------------------------
def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Σ over ``axis``."""
    return F.sum(x, axis=axis, keepdims=keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Average over ``axis``."""
    return F.mean(x, axis=axis, keepdims=keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Largest value over ``axis``."""
    return F.max(x, axis=axis, keepdims=keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Smallest value over ``axis``."""
    return F.min(x, axis=axis, keepdims=keepdims)


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Π over ``axis``."""
    return F.prod(x, axis=axis, keepdims=keepdims)


def var(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Variance over ``axis`` (divided by n, as Keras)."""
    return F.var(x, axis=axis, keepdims=keepdims)


def std(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Standard deviation √var over ``axis``."""
    return F.sqrt(F.var(x, axis=axis, keepdims=keepdims))


def cumsum(x: Any, axis: int | None = None) -> Tensor:
    """Running sums along ``axis`` (over the flattened x when None)."""
    if axis is None:
        return F.cumsum(F.reshape(x, (-1,)), 0)
    return F.cumsum(x, axis)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log Σ eˣ over ``axis``, computed stably."""
    return F.logsumexp(x, axis=axis, keepdims=keepdims)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest value along ``axis`` (no gradient)."""
    return _constant(np.argmax(_data(x), axis=axis, keepdims=keepdims))


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the smallest value along ``axis`` (no gradient)."""
    return _constant(np.argmin(_data(x), axis=axis, keepdims=keepdims))


def all(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """True where every value along ``axis`` is true."""
    return _constant(np.all(_data(x), axis=axis, keepdims=keepdims))


def any(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """True where some value along ``axis`` is true."""
    return _constant(np.any(_data(x), axis=axis, keepdims=keepdims))


def count_nonzero(x: Any, axis: Any = None) -> Tensor:
    """How many values along ``axis`` are not zero."""
    return _constant(np.count_nonzero(_data(x), axis=axis))


# -- shapes -------------------------------------------------------------------------------------
def reshape(x: Any, newshape: Any) -> Tensor:
    """The same values in a new shape (one size may be −1)."""
    return F.reshape(x, tuple(newshape) if isinstance(newshape, (list, tuple)) else (newshape,))


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Permute the axes (reverse them by default)."""
    return F.transpose(x, axes)


def concatenate(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return F.concat(list(xs), axis=axis)


def stack(x: Sequence[Any], axis: int = 0) -> Tensor:
    """Join same-shape tensors along a new axis."""
    return F.stack(list(x), axis=axis)


def expand_dims(x: Any, axis: int) -> Tensor:
    """Insert an axis of size 1 at ``axis``."""
    return F.unsqueeze(x, axis)


def squeeze(x: Any, axis: Any = None) -> Tensor:
    """Drop axes of size 1."""
    return F.squeeze(x, axis)


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """x repeated to ``shape`` by broadcasting."""
    return F.broadcast_to(x, shape)


def take(x: Any, indices: Any, axis: int | None = None) -> Tensor:
    """Entries at integer ``indices`` along ``axis`` (x flattened when None)."""
    return F.take(x, indices, axis=axis)


# -- comparisons (no gradient) ------------------------------------------------------------------
def _compare(np_fn: Any) -> Any:
    def op(x1: Any, x2: Any) -> Tensor:
        _, _, a, b = lift_pair(x1, x2, np_fn.__name__)
        return Tensor(np_fn(a, b))

    op.__name__ = np_fn.__name__
    op.__doc__ = f"Elementwise {np_fn.__name__} (a boolean tensor, no gradient)."
    return op


equal = _compare(np.equal)
not_equal = _compare(np.not_equal)
greater = _compare(np.greater)
greater_equal = _compare(np.greater_equal)
less = _compare(np.less)
less_equal = _compare(np.less_equal)
logical_and = _compare(np.logical_and)
logical_or = _compare(np.logical_or)


def logical_not(x: Any) -> Tensor:
    """Elementwise not (a boolean tensor)."""
    return Tensor(np.logical_not(_data(x)))


# -- neural-network ops ---------------------------------------------------------------------------
def relu(x: Any) -> Tensor:
    """max(0, x)."""
    return F.relu(x)


def relu6(x: Any) -> Tensor:
    """min(max(0, x), 6)."""
    return F.clip(x, 0.0, 6.0)


def sigmoid(x: Any) -> Tensor:
    """σ(x) = 1 / (1 + e⁻ˣ)."""
    return F.sigmoid(x)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """e^x / Σ e^x along ``axis``."""
    return F.softmax(x, axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x − log Σ eˣ along ``axis``."""
    return F.log_softmax(x, axis=axis)


def softplus(x: Any) -> Tensor:
    """ln(1 + eˣ)."""
    return F.softplus(x)


def silu(x: Any) -> Tensor:
    """x · σ(x) (also called swish)."""
    t = lift(x, "silu")
    return F.mul(t, F.sigmoid(t))


swish = silu


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x for x > 0, else α(eˣ − 1)."""
    return F.elu(x, alpha)


def gelu(x: Any, approximate: bool = True) -> Tensor:
    """Gaussian error linear unit (glassnet's kernel: the tanh approximation)."""
    return F.gelu(x)


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Tensor:
    """x for x > 0, else negative_slope · x (Keras's default slope 0.2)."""
    return F.leaky_relu(x, negative_slope)


def one_hot(x: Any, num_classes: int, axis: int = -1, dtype: Any = "float32") -> Tensor:
    """Integer labels → one-hot rows (no gradient)."""
    out = F.one_hot(x, num_classes, dtype=dtype)
    if axis not in (-1, out.ndim - 1):
        out = _constant(np.moveaxis(out.data, -1, axis))
    return out


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> Tensor:
    """Elementwise −[y ln p + (1 − y) ln(1 − p)] (p clipped to [ε, 1 − ε])."""
    if from_logits:  # max(z, 0) − z·y + ln(1 + e^(−|z|)): finite for any z
        z = lift(output, "binary_crossentropy")
        y = _data(target)
        return F.add(F.sub(F.relu(z), F.mul(z, y)), F.log1p(F.exp(F.neg(F.abs(z)))))
    eps = 1e-7
    p = F.clip(output, eps, 1 - eps)
    y = _data(target)
    return F.neg(F.add(F.mul(y, F.log(p)), F.mul(1.0 - y, F.log(F.sub(1.0, p)))))


def categorical_crossentropy(
    target: Any, output: Any, from_logits: bool = False, axis: int = -1
) -> Tensor:
    """Per sample −Σ_k y_k ln p_k."""
    y = _data(target)
    if from_logits:
        return F.neg(F.sum(F.mul(y, F.log_softmax(output, axis=axis)), axis=axis))
    eps = 1e-7
    p = F.div(output, F.sum(output, axis=axis, keepdims=True))
    return F.neg(F.sum(F.mul(y, F.log(F.clip(p, eps, 1 - eps))), axis=axis))


def sparse_categorical_crossentropy(
    target: Any, output: Any, from_logits: bool = False, axis: int = -1
) -> Tensor:
    """Per sample −ln p_y for integer labels y."""
    labels = _data(target).astype(np.intp).reshape(-1)
    classes = _data(output).shape[axis]
    return categorical_crossentropy(
        one_hot(labels, classes, dtype=_data(output).dtype), output, from_logits, axis
    )


def moments(x: Any, axes: Any, keepdims: bool = False) -> tuple[Tensor, Tensor]:
    """(mean, variance) over ``axes``."""
    return F.mean(x, axis=axes, keepdims=keepdims), F.var(x, axis=axes, keepdims=keepdims)
