"""Engine semantics: the graph walk, gradient accumulation, grad modes and the Tensor surface."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import glassnet as gn
import glassnet.functional as F
from glassnet.errors import DTypeError, GlassnetError, GraphError, ShapeError


# --- the walk -------------------------------------------------------------------------------
def test_100k_op_chain_backpropagates_iteratively() -> None:
    n, c = 100_000, 1.0001
    assert n > sys.getrecursionlimit()  # a recursive walk would fail here
    x = gn.tensor(1.5, dtype="float64", requires_grad=True)
    y = x
    for _ in range(n):
        y = y * c
    y.backward()
    expected = math.exp(n * math.log(c))  # ∂(x·cⁿ)/∂x = cⁿ ≈ 22015
    assert x.grad == pytest.approx(expected, rel=1e-9)
    assert y.item() == pytest.approx(1.5 * expected, rel=1e-9)


def test_long_chain_of_mixed_ops() -> None:
    x = gn.tensor([0.5, -0.25], dtype="float64", requires_grad=True)
    y = x
    for _ in range(5_000):
        y = (y + 0.0) - 0.0
        y = F.reshape(y, (2,))
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.numpy())


def test_node_used_twice_gets_the_sum_of_both_gradients() -> None:
    x = gn.tensor(3.0, dtype="float64", requires_grad=True)
    (x + x).backward()
    assert x.grad == 2.0  # micrograd's classic bug gave 1
    x.zero_grad()
    (x * x).backward()
    assert x.grad == 6.0
    x.zero_grad()
    # An intermediate used three times: out = h·h + h with h = 3x.
    h = x * 3.0
    out = h * h + h
    out.backward()
    hv = 3.0 * 3.0
    assert x.grad == pytest.approx((2 * hv + 1) * 3.0)


def test_each_node_is_visited_once() -> None:
    calls: list[str] = []

    def counted(t: gn.Tensor, name: str) -> gn.Tensor:
        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            calls.append(name)
            return (g,)

        return gn.Tensor._make(t.data.copy(), (t,), backward, name)

    x = gn.tensor([1.0, 2.0], requires_grad=True)
    shared = counted(x, "shared")
    a, b = counted(shared, "a"), counted(shared, "b")
    (a + b + shared).sum().backward()
    assert sorted(calls) == ["a", "b", "shared"]
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_gradient_reaches_only_what_requires_grad() -> None:
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    c = gn.tensor([3.0, 4.0])
    (x * c).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])
    assert c.grad is None and not c.requires_grad


# --- freeing and retaining -----------------------------------------------------------------
def test_backward_twice_through_a_freed_graph_is_a_clear_error() -> None:
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(GraphError, match=r"freed.*retain_graph=True") as info:
        y.backward()
    assert isinstance(info.value, RuntimeError)
    # the same through a shared, already freed intermediate
    h = x * 2.0
    h.sum().backward()
    with pytest.raises(GraphError, match="freed"):
        (h * 3.0).sum().backward()


def test_retain_graph_allows_a_second_backward_and_grads_accumulate() -> None:
    x = gn.tensor([1.0, -2.0], dtype="float64", requires_grad=True)
    y = (x * x * x).sum()
    y.backward(retain_graph=True)
    once = x.grad.copy()
    np.testing.assert_allclose(once, 3 * x.numpy() ** 2)
    y.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad, 2 * once)
    y.backward()  # this one frees
    np.testing.assert_allclose(x.grad, 3 * once)
    with pytest.raises(GraphError):
        y.backward()


def test_graph_is_freed_after_backward() -> None:
    x = gn.tensor([1.0], requires_grad=True)
    y = x * 2.0
    z = y.sum()
    assert y.parents[0] is x and len(z.parents) == 1
    z.backward()
    assert y.parents == () and z.parents == ()
    w = x * 2.0
    w.sum().backward(retain_graph=True)
    assert w.parents[0] is x


def test_leaf_grad_accumulates_until_zeroed() -> None:
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    for k in range(1, 4):
        (x * 5.0).sum().backward()
        np.testing.assert_array_equal(x.grad, [5.0 * k, 5.0 * k])
    buffer = x.grad
    (x * 1.0).sum().backward()
    assert x.grad is buffer  # accumulated in place (views into a flat buffer stay valid)
    x.zero_grad()
    assert x.grad is None
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    x.grad = None
    (x * 7.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [7.0, 7.0])


def test_backward_on_a_leaf() -> None:
    x = gn.tensor(2.0, requires_grad=True)
    x.backward()
    assert x.grad == 1.0


def test_retain_grad_keeps_an_intermediate_gradient() -> None:
    x = gn.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    W = gn.tensor([[1.0, -1.0], [0.5, 2.0]], dtype="float64", requires_grad=True)
    z = F.linear(x[None], W)
    z.retain_grad()
    a = F.sigmoid(z)
    loss = (a * a).sum()
    loss.backward()
    s = 1 / (1 + np.exp(-z.numpy()))
    np.testing.assert_allclose(z.grad, 2 * s * s * (1 - s))  # δ = ∂C/∂z
    assert a.grad is None and loss.grad is None  # not retained: dropped after use
    assert x.grad is not None and W.grad is not None
    with pytest.raises(GraphError, match="retain_grad"):
        gn.tensor([1.0]).retain_grad()


# --- grad modes ------------------------------------------------------------------------------
def test_no_grad_context_manager() -> None:
    x = gn.tensor([1.0], requires_grad=True)
    assert gn.is_grad_enabled()
    with gn.no_grad():
        assert not gn.is_grad_enabled()
        y = x * 2.0 + 1.0
        assert not y.requires_grad and y.is_leaf and y.parents == ()
        with gn.enable_grad():
            assert gn.is_grad_enabled()
            z = x * 2.0
            assert z.requires_grad
        assert not gn.is_grad_enabled()
    assert gn.is_grad_enabled()
    z.sum().backward()
    assert x.grad == 2.0


def test_no_grad_decorator_and_restoring_after_an_exception() -> None:
    x = gn.tensor([1.0], requires_grad=True)

    @gn.no_grad()
    def step(t: gn.Tensor) -> gn.Tensor:
        assert not gn.is_grad_enabled()
        return F.exp(t)

    @gn.no_grad()
    def boom() -> None:
        raise KeyError("inside")

    out = step(x)
    assert not out.requires_grad
    assert step.__name__ == "step"
    assert gn.is_grad_enabled()
    with pytest.raises(KeyError):
        boom()
    assert gn.is_grad_enabled()
    with pytest.raises(KeyError), gn.no_grad():
        raise KeyError("inside")
    assert gn.is_grad_enabled()


# --- backward arguments ------------------------------------------------------------------------
def test_backward_needs_a_grad_for_non_scalars() -> None:
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    with pytest.raises(GraphError, match=r"one-element.*\(2,\)"):
        y.backward()
    with pytest.raises(ShapeError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))
    y.backward(np.array([1.0, -2.0]))
    np.testing.assert_array_equal(x.grad, [3.0, -6.0])
    w = gn.tensor([[2.0]], requires_grad=True)
    (w * 4.0).backward()  # one element, any number of axes
    assert w.grad.shape == (1, 1) and w.grad[0, 0] == 4.0


def test_backward_of_something_that_needs_no_grad() -> None:
    with pytest.raises(GraphError, match="does not require grad"):
        gn.tensor(1.0).backward()


def test_requires_grad_only_for_floats() -> None:
    with pytest.raises(DTypeError, match="int64") as info:
        gn.tensor([1, 2], requires_grad=True)
    assert isinstance(info.value, TypeError) and isinstance(info.value, GlassnetError)
    with pytest.raises(DTypeError):
        gn.tensor([True]).requires_grad_()
    assert gn.tensor([1.0]).requires_grad_().requires_grad


# --- the Tensor surface -------------------------------------------------------------------
def test_dtype_rules_on_creation() -> None:
    assert gn.tensor([1.0, 2.0]).dtype == np.float32
    assert gn.tensor(1.5).dtype == np.float32
    assert gn.tensor(np.zeros(3)).dtype == np.float32  # float64 arrays too: float32 default
    assert gn.tensor(np.zeros(3), dtype="float64").dtype == np.float64
    assert gn.tensor([1.0], dtype=np.float64).dtype == np.float64
    assert gn.tensor([1, 2]).dtype == np.int64
    pixels = np.array([1, 2], dtype=np.uint8)  # NumPy integer arrays keep their dtype, as in
    assert gn.tensor(pixels).dtype == np.uint8  # PyTorch: images stay one byte per pixel
    assert gn.tensor(pixels).numpy() is pixels
    assert gn.tensor([True, False]).dtype == np.bool_
    with pytest.raises(DTypeError):
        gn.tensor([1.0], dtype="float16")
    with pytest.raises(DTypeError):
        gn.tensor(["a"])


def test_attributes_and_conversions() -> None:
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = gn.tensor(data, requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.dtype == np.float32 and x.size == 6
    assert x.numpy() is x.data
    assert x.T.shape == (3, 2)
    np.testing.assert_array_equal(x.T.numpy(), data.T)
    assert x[1, 2].item() == 5.0 and isinstance(x[1, 2].item(), float)
    assert gn.tensor(3).item() == 3 and isinstance(gn.tensor(3).item(), int)
    assert float(x.sum()) == 15.0
    assert len(x) == 2
    assert x.is_leaf and not (x * 2).is_leaf
    assert (x * 2).op == "mul"
    assert "requires_grad=True" in repr(x)
    with pytest.raises(GlassnetError):
        x.item()
    with pytest.raises(GlassnetError, match="ambiguous"):
        bool(x)


def test_detach() -> None:
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.is_leaf
    y = (x * d).sum()  # d is a constant here
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    shared = x.detach()
    assert shared.numpy() is x.numpy()


def test_operators() -> None:
    a_np, b_np = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.5, -1.0], [2.0, 1.5]])
    a = gn.tensor(a_np, dtype="float64", requires_grad=True)
    b = gn.tensor(b_np, dtype="float64", requires_grad=True)
    pairs = [
        (a + b, a_np + b_np),
        (a - b, a_np - b_np),
        (a * b, a_np * b_np),
        (a / b, a_np / b_np),
        (a**2, a_np**2),
        (a @ b, a_np @ b_np),
        (-a, -a_np),
        (2 + a, 2 + a_np),
        (2 - a, 2 - a_np),
        (2 * a, 2 * a_np),
        (2 / a, 2 / a_np),
        (2**a, 2**a_np),
        (b_np @ a, b_np @ a_np),
        (a[0], a_np[0]),
        (a[:, 1], a_np[:, 1]),
        (a[[1, 1, 0]], a_np[[1, 1, 0]]),
        (abs(b), np.abs(b_np)),
    ]
    for got, want in pairs:
        assert isinstance(got, gn.Tensor) and got.requires_grad
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    for got, want in [
        (a < b, a_np < b_np),
        (a <= b, a_np <= b_np),
        (a > b, a_np > b_np),
        (a >= b, a_np >= b_np),
        (a == a, np.ones((2, 2), bool)),
        (a != b, a_np != b_np),
        (a > 2.5, a_np > 2.5),
    ]:
        assert got.dtype == np.bool_ and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), want)


def test_methods_exist_and_match_functions() -> None:
    x = gn.tensor([[0.5, -1.0, 2.0]], dtype="float64")
    for name in [
        "exp",
        "tanh",
        "sigmoid",
        "relu",
        "softplus",
        "abs",
        "sum",
        "mean",
        "max",
        "min",
        "var",
        "logsumexp",
        "softmax",
        "log_softmax",
        "flatten",
        "squeeze",
    ]:
        np.testing.assert_allclose(getattr(x, name)().numpy(), getattr(F, name)(x).numpy())
    assert x.reshape(3, 1).shape == (3, 1)
    assert x.transpose().shape == (3, 1)
    assert x.unsqueeze(0).shape == (1, 1, 3)
    assert x.broadcast_to((2, 1, 3)).shape == (2, 1, 3)
    assert x.astype("float32").dtype == np.float32


# --- in-place updates -------------------------------------------------------------------------
def test_in_place_update_inside_no_grad_keeps_the_object() -> None:
    w = gn.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    obj, buf = id(w), w.data
    lr = 0.1
    with gn.no_grad():
        w -= lr * w.grad
    assert id(w) == obj and w.data is buf and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.numpy(), [1.0 - 0.2, 2.0 - 0.4], rtol=1e-6)
    assert w.dtype == np.float32  # lr * grad (float64 arithmetic) did not upcast w
    with gn.no_grad():
        w += gn.tensor([1.0, 1.0])
        w *= 2.0
        w /= 4.0
    np.testing.assert_allclose(w.numpy(), [0.9, 1.3], rtol=1e-6)


def test_in_place_update_outside_no_grad_is_an_error() -> None:
    w = gn.tensor([1.0, 2.0], requires_grad=True)
    before = w.numpy().copy()
    with pytest.raises(GraphError, match="no_grad"):
        w -= 0.1
    np.testing.assert_array_equal(w.numpy(), before)
    c = gn.tensor([1.0, 2.0])  # no grad needed: fine anywhere
    c -= 1.0
    np.testing.assert_array_equal(c.numpy(), [0.0, 1.0])
