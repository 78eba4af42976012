"""FlatParameters: parameters and gradients as views into one buffer per dtype, kept in sync."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import DTypeError, InvalidArgumentError, ShapeError
from glassnet.nn import Module, Parameter
from glassnet.optim.flat import FlatParameters
from glassnet.optimizers import SGD, Adam

SHAPES = [(4, 3), (4,), (2, 4), (2,)]


def param(arr: np.ndarray) -> Parameter:
    """A Parameter holding exactly ``arr`` (its dtype kept)."""
    p = Parameter(arr)
    p.data = np.array(arr, copy=True)
    return p


def make_params(dtype: str = "float32", seed: int = 0) -> list[Parameter]:
    rng = np.random.default_rng(seed)
    return [param(rng.standard_normal(s).astype(dtype)) for s in SHAPES]


def test_views_share_memory_with_one_buffer_and_keep_values() -> None:
    params = make_params()
    before = [p.data.copy() for p in params]
    flat = FlatParameters(params)
    (group,) = flat.groups
    assert group.dtype == np.float32 and group.size == sum(int(np.prod(s)) for s in SHAPES)
    assert group.data.ndim == 1 and group.data.flags.c_contiguous
    for p, b, shape in zip(params, before, SHAPES):
        assert p.data.shape == shape and p.grad is not None and p.grad.shape == shape
        assert np.shares_memory(p.data, group.data)
        assert np.shares_memory(p.grad, group.grad)
        np.testing.assert_array_equal(p.data, b)
        np.testing.assert_array_equal(p.grad, 0.0)
    # The layout is the parameters in order, raveled.
    np.testing.assert_array_equal(group.data, np.concatenate([b.ravel() for b in before]))
    # Writing through the buffer is visible in the parameter and vice versa.
    group.data[0] = 42.0
    assert params[0].data[0, 0] == 42.0
    params[3].grad[1] = 7.0
    assert group.grad[-1] == 7.0


def test_existing_gradients_are_copied_in() -> None:
    params = make_params()
    params[1].grad = np.arange(4, dtype=np.float32)
    FlatParameters(params)
    np.testing.assert_array_equal(params[1].grad, [0, 1, 2, 3])
    np.testing.assert_array_equal(params[0].grad, np.zeros((4, 3)))


def test_sync_without_changes_is_identity_only() -> None:
    params = make_params()
    flat = FlatParameters(params)
    views = [(p.data, p.grad) for p in params]
    assert flat.sync() is False
    assert all(p.data is d and p.grad is g for p, (d, g) in zip(params, views))


def test_sync_copies_a_rebound_data_array_and_rebinds() -> None:
    params = make_params()
    flat = FlatParameters(params)
    view = params[0].data
    new = np.full((4, 3), 5.0, dtype=np.float32)
    params[0].data = new  # e.g. p.data = p.data - lr * p.grad
    assert flat.sync() is False  # same dtype and shape: no rebuild
    assert params[0].data is view
    np.testing.assert_array_equal(flat.groups[0].data[:12], 5.0)
    new[...] = 0.0  # the user's array is not aliased
    assert params[0].data[0, 0] == 5.0


def test_sync_handles_grad_none_and_foreign_arrays() -> None:
    params = make_params()
    flat = FlatParameters(params)
    gview = params[0].grad
    gview[...] = 3.0
    params[0].grad = None  # set_to_none / Tensor.zero_grad
    params[1].grad = np.ones(4, dtype=np.float64)  # foreign array, other dtype
    flat.sync()
    assert params[0].grad is gview
    np.testing.assert_array_equal(gview, 0.0)
    assert params[1].grad is flat.grad_view(1) and params[1].grad.dtype == np.float32
    np.testing.assert_array_equal(params[1].grad, 1.0)


def test_sync_rejects_a_gradient_of_the_wrong_shape() -> None:
    params = make_params()
    flat = FlatParameters(params, where="SGD")
    params[0].grad = np.zeros((3, 4), dtype=np.float32)
    with pytest.raises(ShapeError, match=r"SGD: the gradient of parameter 0 .*\(3, 4\).*\(4, 3\)"):
        flat.sync()


def test_dtype_change_rebuilds_and_carries_state_over() -> None:
    params = make_params()
    flat = FlatParameters(params)
    flat.set_states({"m": 0.0, "acc": 0.5})
    flat.state_view("m", 2)[...] = 9.0
    v0 = flat.version
    params[2].data = params[2].data.astype(np.float64)
    assert flat.sync() is True
    assert flat.version == v0 + 1
    dtypes = sorted(str(g.dtype) for g in flat.groups)
    assert dtypes == ["float32", "float64"]
    assert params[2].data.dtype == np.float64 and params[2].grad.dtype == np.float64
    np.testing.assert_array_equal(flat.state_view("m", 2), 9.0)
    assert flat.state_view("m", 2).dtype == np.float64
    np.testing.assert_array_equal(flat.state_view("acc", 0), 0.5)
    for i, p in enumerate(params):
        assert p.data is flat.data_view(i) and p.grad is flat.grad_view(i)


def test_shape_change_resets_only_that_parameters_state() -> None:
    params = make_params()
    flat = FlatParameters(params)
    flat.set_states({"m": 0.25})
    for i in range(4):
        flat.state_view("m", i)[...] = i + 1.0
    params[1].data = np.zeros(6, dtype=np.float32)  # re-initialised with another size
    assert flat.sync() is True
    assert params[1].data.shape == (6,) and params[1].grad.shape == (6,)
    np.testing.assert_array_equal(flat.state_view("m", 1), 0.25)
    for i in (0, 2, 3):
        np.testing.assert_array_equal(flat.state_view("m", i), i + 1.0)


class Tiny(Module):
    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(1)
        self.W = Parameter(rng.standard_normal((3, 2)))
        self.b = Parameter(np.zeros(3))

    def forward(self, x: gn.Tensor) -> gn.Tensor:
        return x @ self.W.T + self.b


def test_module_to_float64_under_an_optimizer_keeps_training_in_float64() -> None:
    model = Tiny()
    opt = Adam(model.parameters(), learning_rate=0.1)
    x = gn.tensor(np.ones((5, 2)))
    model(x).sum().backward()
    opt.step()
    m_before = opt.state_dict()["state.0.exp_avg"]
    model.to("float64")
    x64 = gn.tensor(np.ones((5, 2)), dtype="float64")
    opt.zero_grad()
    model(x64).sum().backward()
    opt.step()
    assert all(p.data.dtype == np.float64 for p in model.parameters())
    assert all(g.dtype == np.float64 for g in opt.flat.groups[0].state.values())
    assert opt.state_dict()["state.0.exp_avg"].dtype == np.float64
    # m carried over: after a second identical gradient m = 0.9·m1 + 0.1·g.
    np.testing.assert_allclose(
        opt.state_dict()["state.0.exp_avg"], 0.9 * m_before + 0.1 * 5.0, rtol=1e-6
    )


def test_backward_accumulates_in_place_into_the_buffer() -> None:
    model = Tiny()
    opt = SGD(model.parameters(), learning_rate=0.1)
    grad_views = [p.grad for p in model.parameters()]
    x = gn.tensor(np.ones((5, 2)))
    model(x).sum().backward()
    model(x).sum().backward()  # accumulates: the views stay the parameters' grads
    assert all(p.grad is g for p, g in zip(model.parameters(), grad_views))
    np.testing.assert_array_equal(model.b.grad, 10.0)
    np.testing.assert_array_equal(opt.flat.groups[0].grad[-3:], 10.0)
    opt.zero_grad()
    np.testing.assert_array_equal(opt.flat.groups[0].grad, 0.0)
    model.zero_grad()  # Module.zero_grad zeroes in place: still the views
    assert all(p.grad is g for p, g in zip(model.parameters(), grad_views))


def test_seed_style_update_through_the_view_lands_in_the_buffer() -> None:
    model = Tiny()
    opt = SGD(model.parameters(), learning_rate=0.1)
    w0 = model.W.data.copy()
    model(gn.tensor(np.ones((5, 2)))).sum().backward()
    with gn.no_grad():
        model.W -= 0.1 * gn.Tensor(model.W.grad)  # seed 003: w -= lr * grad, in place
    np.testing.assert_allclose(opt.flat.data_view(0), w0 - 0.5, rtol=1e-6)


def test_mixed_dtypes_get_one_group_each() -> None:
    p32 = param(np.ones(3, dtype=np.float32))
    p64 = param(np.ones(2, dtype=np.float64))
    q32 = param(np.ones((2, 2), dtype=np.float32))
    flat = FlatParameters([p32, p64, q32])
    assert [str(g.dtype) for g in flat.groups] == ["float32", "float64"]
    assert flat.groups[0].indices == [0, 2] and flat.groups[0].size == 7
    assert p64.data.dtype == np.float64


def test_zero_grad_is_one_fill() -> None:
    params = make_params()
    flat = FlatParameters(params)
    flat.groups[0].grad[...] = 1.0
    params[2].grad = None
    flat.zero_grad()
    assert all(np.all(p.grad == 0) for p in params)
    assert params[2].grad is flat.grad_view(2)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ([], InvalidArgumentError, "at least one parameter"),
        ([np.zeros(3)], InvalidArgumentError, r"received ndarray of shape \(3,\)"),
        (5, InvalidArgumentError, "iterable of tensors"),
        ([{"params": []}], InvalidArgumentError, "parameter groups"),
        ([gn.tensor(np.arange(3))], DTypeError, "float32 or float64"),
    ],
)
def test_bad_parameter_lists_fail_with_one_sentence(
    params: object, error: type, match: str
) -> None:
    with pytest.raises(error, match=match) as info:
        FlatParameters(params)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_duplicate_and_non_leaf_parameters_are_refused() -> None:
    p = make_params()[0]
    with pytest.raises(InvalidArgumentError, match="appears twice"):
        FlatParameters([p, p])
    with pytest.raises(InvalidArgumentError, match="leaf"):
        FlatParameters([p * 2.0])
    with pytest.raises(InvalidArgumentError, match="single"):
        FlatParameters(p)  # type: ignore[arg-type]


def test_a_generator_and_a_module_work_as_params() -> None:
    model = Tiny()
    flat = FlatParameters(p for p in model.parameters())
    assert len(flat) == 2
    assert len(FlatParameters(Tiny())) == 2


def test_adam_step_does_not_allocate_per_step() -> None:
    rng = np.random.default_rng(0)
    shapes = [(128, 784), (128,), (10, 128), (10,)]
    params = [param(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    opt = Adam(params, learning_rate=1e-3)
    for p in params:
        p.grad[...] = rng.standard_normal(p.shape).astype(np.float32)
    opt.step()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(5):
            opt.step()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # One temporary the size of the buffer would be 407 kB; only small Python objects allowed.
    assert peak < 20_000, peak
