"""``Tensor``: a NumPy array that remembers the op that made it, so gradients can flow back.

A tensor made by an op holds ``_parents`` (its inputs) and ``_backward``, the op's
vector-Jacobian product: given ∂C/∂out it returns ∂C/∂input for each parent. ``backward()``
(in ``engine``) walks those links in reverse topological order. Tensors are deliberately light
(``__slots__``, no per-op bookkeeping beyond the math) because a training step builds a few
dozen of them.

The operators (``+ - * / ** @``, indexing, ``.sum()`` ...) are attached by
``glassnet.functional`` when it is imported, so this module never imports the ops above it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..errors import DTypeError, GraphError, InvalidArgumentError, describe

__all__ = [
    "Tensor",
    "tensor",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "detect_anomaly",
    "is_anomaly_enabled",
    "as_array",
]

# A backward function maps ∂C/∂out to one gradient (or None) per parent.
BackwardFn = Callable[[np.ndarray], Sequence["np.ndarray | None"]]


class _GradState(threading.local):
    """Grad mode and anomaly mode are per thread, as in PyTorch."""

    enabled: bool = True
    anomaly: bool = False


_state = _GradState()

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
DEFAULT_FLOAT = np.dtype(np.float32)


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return _state.enabled


def is_anomaly_enabled() -> bool:
    """True inside ``detect_anomaly()``."""
    return _state.anomaly


F = TypeVar("F", bound=Callable[..., Any])


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it afterwards."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._saved: list[bool] = []

    def __enter__(self) -> None:
        self._saved.append(_state.enabled)
        _state.enabled = self._enabled

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self._saved.pop()

    def __call__(self, fn: F) -> F:
        enabled = self._enabled

        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _GradMode(enabled):  # a fresh context per call: safe for recursion/threads
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):  # noqa: N801 - named as in PyTorch
    """Ops inside record no graph: ``with glassnet.no_grad(): ...`` or ``@glassnet.no_grad()``."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(_GradMode):  # noqa: N801 - named as in PyTorch
    """Re-enable graph recording inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Inside this block, the first op whose forward or backward makes NaN/inf raises AnomalyError.

    The check costs a pass over every op's output, so it is off by default.
    """
    saved = _state.anomaly
    _state.anomaly = True
    try:
        yield
    finally:
        _state.anomaly = saved


def _freed_backward(grad: np.ndarray) -> Sequence[np.ndarray | None]:
    raise GraphError(
        "backward: this part of the graph was already freed by an earlier backward(); "
        "call the first backward(retain_graph=True) to backpropagate through it twice"
    )


class Tensor:
    """An n-dimensional array with an optional gradient.

    ``data``: the NumPy array (float32 by default, float64 when asked, integers for labels).
    ``grad``: ∂C/∂self as a NumPy array of the same shape, accumulated by every ``backward()``
    until zeroed. Only floating tensors can require grad.
    """

    __slots__ = (
        "data",
        "grad",
        "requires_grad",
        "_parents",
        "_backward",
        "_op",
        "_retain",
        "name",
        "__weakref__",
    )

    # Make NumPy defer to our reflected operators (ndarray + Tensor → Tensor.__radd__).
    __array_priority__ = 1000

    data: np.ndarray
    grad: np.ndarray | None
    requires_grad: bool
    _parents: tuple[Tensor, ...]
    _backward: BackwardFn | None
    _op: str
    _retain: bool
    name: str | None

    def __init__(
        self,
        data: Any,
        dtype: Any = None,
        requires_grad: bool = False,
        name: str | None = None,
    ) -> None:
        self.data = as_array(data, dtype, "tensor")
        self.grad = None
        self.requires_grad = False
        self._parents = ()
        self._backward = None
        self._op = "leaf"
        self._retain = False
        self.name = name
        if requires_grad:
            self.requires_grad_(True)

    if TYPE_CHECKING:  # attached when glassnet.functional is imported (see its _install)

        def __add__(self, other: Any) -> Tensor: ...
        def __radd__(self, other: Any) -> Tensor: ...
        def __sub__(self, other: Any) -> Tensor: ...
        def __rsub__(self, other: Any) -> Tensor: ...
        def __mul__(self, other: Any) -> Tensor: ...
        def __rmul__(self, other: Any) -> Tensor: ...
        def __truediv__(self, other: Any) -> Tensor: ...
        def __rtruediv__(self, other: Any) -> Tensor: ...
        def __pow__(self, exponent: float) -> Tensor: ...
        def __rpow__(self, base: float) -> Tensor: ...
        def __matmul__(self, other: Any) -> Tensor: ...
        def __rmatmul__(self, other: Any) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __abs__(self) -> Tensor: ...
        def __getitem__(self, index: Any) -> Tensor: ...
        def __lt__(self, other: Any) -> Tensor: ...
        def __le__(self, other: Any) -> Tensor: ...
        def __gt__(self, other: Any) -> Tensor: ...
        def __ge__(self, other: Any) -> Tensor: ...
        def __eq__(self, other: Any) -> Tensor: ...  # type: ignore[override]
        def __ne__(self, other: Any) -> Tensor: ...  # type: ignore[override]
        def __iadd__(self, other: Any) -> Tensor: ...
        def __isub__(self, other: Any) -> Tensor: ...
        def __imul__(self, other: Any) -> Tensor: ...
        def __itruediv__(self, other: Any) -> Tensor: ...
        @property
        def T(self) -> Tensor: ...
        def add(self, other: Any) -> Tensor: ...
        def sub(self, other: Any) -> Tensor: ...
        def mul(self, other: Any) -> Tensor: ...
        def div(self, other: Any) -> Tensor: ...
        def pow(self, exponent: float) -> Tensor: ...
        def matmul(self, other: Any) -> Tensor: ...
        def exp(self) -> Tensor: ...
        def log(self) -> Tensor: ...
        def sqrt(self) -> Tensor: ...
        def abs(self) -> Tensor: ...
        def clip(self, min: float | None = None, max: float | None = None) -> Tensor: ...
        def tanh(self) -> Tensor: ...
        def sigmoid(self) -> Tensor: ...
        def relu(self) -> Tensor: ...
        def leaky_relu(self, negative_slope: float = 0.01) -> Tensor: ...
        def elu(self, alpha: float = 1.0) -> Tensor: ...
        def gelu(self) -> Tensor: ...
        def softplus(self) -> Tensor: ...
        def softmax(self, axis: int = -1) -> Tensor: ...
        def log_softmax(self, axis: int = -1) -> Tensor: ...
        def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor: ...
        def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor: ...
        def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor: ...
        def max(self, axis: Any = None, keepdims: bool = False) -> Tensor: ...
        def min(self, axis: Any = None, keepdims: bool = False) -> Tensor: ...
        def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor: ...
        def reshape(self, *shape: Any) -> Tensor: ...
        def flatten(self, start_axis: int = 1) -> Tensor: ...
        def transpose(self, axes: Any = None) -> Tensor: ...
        def permute(self, *dims: int) -> Tensor: ...
        def broadcast_to(self, shape: Any) -> Tensor: ...
        def squeeze(self, axis: Any = None) -> Tensor: ...
        def unsqueeze(self, axis: int) -> Tensor: ...

    # -- construction from ops -------------------------------------------------------------
    @classmethod
    def _leaf(cls, data: np.ndarray) -> Tensor:
        """A constant leaf around an array already in a valid dtype (no conversion, no checks)."""
        out = cls.__new__(cls)
        out.data = data
        out.grad = None
        out.requires_grad = False
        out._parents = ()
        out._backward = None
        out._op = "leaf"
        out._retain = False
        out.name = None
        return out

    @classmethod
    def _make(
        cls,
        data: np.ndarray,
        parents: tuple[Tensor, ...],
        backward: BackwardFn,
        op: str,
    ) -> Tensor:
        """The output of an op: records its parents and backward only when grad is needed."""
        out = cls.__new__(cls)
        out.data = data
        out.grad = None
        out._op = op
        out._retain = False
        out.name = None
        if _state.enabled and any(p.requires_grad for p in parents):
            out.requires_grad = True
            out._parents = parents
            out._backward = backward
        else:
            out.requires_grad = False
            out._parents = ()
            out._backward = None
        if _state.anomaly:
            _check_forward(out, parents)
        return out

    # -- PyTorch-style attributes --------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """The array's dtype (float32, float64, or an integer/bool type)."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """Number of elements."""
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op that records a graph."""
        return self._backward is None and not self._parents

    @property
    def op(self) -> str:
        """Name of the op that produced this tensor ("leaf" for user-made tensors)."""
        return self._op

    @property
    def parents(self) -> tuple[Tensor, ...]:
        """The op's inputs (empty for leaves and after the graph is freed)."""
        return self._parents

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise GraphError("len: a 0-d tensor has no length")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        # Rows along the first axis, as in PyTorch. Without this Python would fall back to
        # calling x[0], x[1], ... until an IndexError, which getitem reports as a ShapeError.
        for i in range(len(self)):
            yield self[i]  # type: ignore[index]

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set requires_grad in place (only floating tensors can require grad)."""
        if requires_grad and self.data.dtype not in _FLOAT_DTYPES:
            raise DTypeError(
                f"requires_grad: only float32/float64 tensors can require grad, "
                f"received dtype {self.data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> Tensor:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (δ = ∂C/∂z, say)."""
        if not self.requires_grad:
            raise GraphError(
                "retain_grad: this tensor does not require grad, so no gradient will reach it"
            )
        self._retain = True
        return self

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Backpropagate: accumulate ∂self/∂leaf into every leaf's ``.grad``.

        ``grad`` is ∂C/∂self; it may be omitted only for a one-element tensor (then 1).
        """
        from .engine import backward

        backward(self, grad, retain_graph=retain_graph)

    def zero_grad(self) -> None:
        """Drop the accumulated gradient (``grad = None``)."""
        self.grad = None

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return Tensor._leaf(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying NumPy array (shared, not copied)."""
        return self.data

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise InvalidArgumentError(
                f"item: only a one-element tensor converts to a Python number, "
                f"received shape {self.data.shape}"
            )
        return self.data.item()  # type: ignore[no-any-return]

    def tolist(self) -> Any:
        """The data as nested Python lists."""
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise InvalidArgumentError(
                f"bool: the truth value of a tensor of shape {self.data.shape} is ambiguous; "
                "use (t > 0).numpy().any() or .all()"
            )
        return bool(self.data)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        extras = []
        if self.data.dtype != DEFAULT_FLOAT:
            extras.append(f"dtype={self.data.dtype}")
        if self.requires_grad:
            extras.append("requires_grad=True" if self.is_leaf else f"op={self._op}")
        tail = (", " + ", ".join(extras)) if extras else ""
        return f"tensor({body}{tail})"

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        # order="K": a copied column-major weight stays column-major.
        out = type(self)._leaf(self.data.copy(order="K"))
        out.grad = None if self.grad is None else self.grad.copy(order="K")
        out.requires_grad = self.requires_grad
        out.name = self.name
        memo[id(self)] = out
        return out


def as_array(data: Any, dtype: Any, where: str) -> np.ndarray:
    """Convert user data to an array: floats become float32 unless ``dtype`` says otherwise."""
    if isinstance(data, Tensor):
        if dtype is None:
            return data.data
        data = data.data
    if dtype is not None:
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise DTypeError(
                f"{where}: dtype must be a NumPy dtype or its name, received {dtype!r}"
            ) from None
        if dt.kind not in "fiub":
            raise DTypeError(
                f"{where}: dtype must be float32, float64, an integer or bool type, received {dt}"
            )
        if dt.kind == "f" and dt not in _FLOAT_DTYPES:
            raise DTypeError(f"{where}: floating tensors are float32 or float64, received {dt}")
        try:
            return np.asarray(data, dtype=dt)
        except (TypeError, ValueError) as exc:
            raise DTypeError(f"{where}: cannot convert {describe(data)} to {dt}: {exc}") from None
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as exc:
        raise DTypeError(f"{where}: cannot make an array from {describe(data)}: {exc}") from None
    kind = arr.dtype.kind
    if kind == "f":
        return arr.astype(DEFAULT_FLOAT, copy=False)
    if kind in "iu":
        # NumPy integer arrays keep their dtype (uint8 images stay 1 byte per pixel); Python
        # ints and lists become int64, the dtype of labels and indices.
        if isinstance(data, np.ndarray):
            return arr
        return arr if arr.dtype == np.int64 else arr.astype(np.int64)
    if kind == "b":
        return arr
    raise DTypeError(
        f"{where}: expected numbers (float, int or bool), received an array of dtype {arr.dtype}"
    )


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Make a leaf tensor. Floats become float32 unless ``dtype="float64"``; ints int64."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def _check_forward(out: Tensor, parents: tuple[Tensor, ...]) -> None:
    from ..errors import AnomalyError

    if out.data.dtype.kind != "f" or np.isfinite(out.data).all():
        return
    if all(p.data.dtype.kind != "f" or np.isfinite(p.data).all() for p in parents):
        shapes = ", ".join(str(p.data.shape) for p in parents)
        raise AnomalyError(
            f"detect_anomaly: the forward of '{out._op}' on inputs of shape {shapes} "
            f"produced NaN or inf from finite inputs"
        )
