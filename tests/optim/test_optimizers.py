"""Optimisers without PyTorch: hand-derived steps, dtypes, checkpoints, configs, errors."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.optimizers as optimizers
import glassnet.schedules as schedules
from glassnet.errors import InvalidArgumentError, ShapeError, UnknownNameError
from glassnet.nn import Module, Parameter
from glassnet.optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

SHAPES = [(4, 3), (4,), (2, 4), (2,)]


def param(arr: np.ndarray) -> Parameter:
    """A Parameter holding exactly ``arr`` (its dtype kept)."""
    p = Parameter(arr)
    p.data = np.array(arr, copy=True)
    return p


def make_params(dtype: str = "float64", seed: int = 0) -> list[Parameter]:
    rng = np.random.default_rng(seed)
    return [param(rng.standard_normal(s).astype(dtype)) for s in SHAPES]


def grad_sequence(n: int, dtype: str = "float64", seed: int = 1) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(n)]


def set_grads(params: list[Parameter], grads: list[np.ndarray]) -> None:
    for p, g in zip(params, grads):
        p.grad = g.copy()


# -- hand-derived steps ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_plain_sgd_is_exactly_the_seeds_update(dtype: str) -> None:
    params = make_params(dtype)
    opt = SGD(params, learning_rate=0.1)
    expected = [p.data.copy() for p in params]
    for grads in grad_sequence(5, dtype):
        set_grads(params, grads)
        opt.step()
        expected = [w - 0.1 * g for w, g in zip(expected, grads)]  # w := w − α ∂C/∂w
        for p, e in zip(params, expected):
            assert p.data.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(p.data, e)  # bit for bit


def test_plain_sgd_from_backward_matches_hand_gradient() -> None:
    # C = ½‖a @ Wᵀ + b − y‖²: ∂C/∂W = δᵀ a, ∂C/∂b = Σ δ with δ = z − y (BP3, BP4).
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 3))
    y = rng.standard_normal((5, 2))
    W = param(rng.standard_normal((2, 3)))
    b = param(np.zeros(2))
    opt = SGD([W, b], learning_rate=0.05)
    W0, b0 = W.data.copy(), b.data.copy()
    z = gn.tensor(a, dtype="float64") @ W.T + b
    diff = z - gn.tensor(y, dtype="float64")
    (0.5 * (diff * diff).sum()).backward()
    opt.step()
    delta = a @ W0.T + b0 - y
    np.testing.assert_allclose(W.data, W0 - 0.05 * delta.T @ a, rtol=1e-12)
    np.testing.assert_allclose(b.data, b0 - 0.05 * delta.sum(0), rtol=1e-12)


def test_adam_first_step_moves_each_weight_by_about_lr_times_sign() -> None:
    params = make_params()
    before = [p.data.copy() for p in params]
    (grads,) = grad_sequence(1)
    set_grads(params, grads)
    Adam(params, learning_rate=0.01).step()
    for p, w, g in zip(params, before, grads):
        # m̂ = g, v̂ = g²: Δ = −α·g / (|g| + ε)
        np.testing.assert_allclose(p.data - w, -0.01 * g / (np.abs(g) + 1e-7), rtol=1e-10)
        np.testing.assert_allclose(p.data - w, -0.01 * np.sign(g), rtol=1e-3)


def test_sgd_momentum_and_nesterov_by_hand() -> None:
    g = np.array([1.0, -2.0])
    for nesterov in (False, True):
        p = param(np.zeros(2))
        opt = SGD([p], learning_rate=0.1, momentum=0.5, nesterov=nesterov)
        velocities = [1.0, 1.5, 1.75]  # b = 0.5·b + g, in units of g
        w = np.zeros(2)
        for v in velocities:
            p.grad = g.copy()
            opt.step()
            step = (1.0 + 0.5 * v) if nesterov else v
            w = w - 0.1 * step * g
            np.testing.assert_allclose(p.data, w, rtol=1e-14)


def test_sgd_weight_decay_adds_wd_times_w_to_the_gradient() -> None:
    p = param(np.array([2.0, -4.0]))
    p.grad = np.array([0.5, 0.5])
    SGD([p], learning_rate=0.1, weight_decay=0.01).step()
    np.testing.assert_allclose(p.data, [2.0 - 0.1 * (0.5 + 0.02), -4.0 - 0.1 * (0.5 - 0.04)])
    np.testing.assert_array_equal(p.grad, [0.5, 0.5])  # the gradient itself is left alone


def test_adagrad_rmsprop_first_steps_by_hand() -> None:
    g = np.array([0.3, -1.2, 2.0])
    p = param(np.zeros(3))
    p.grad = g.copy()
    Adagrad([p], learning_rate=0.1, initial_accumulator_value=0.5, epsilon=1e-3).step()
    np.testing.assert_allclose(p.data, -0.1 * g / (np.sqrt(0.5 + g * g) + 1e-3), rtol=1e-13)
    p = param(np.zeros(3))
    p.grad = g.copy()
    RMSprop([p], learning_rate=0.01, rho=0.8, epsilon=1e-3).step()
    np.testing.assert_allclose(p.data, -0.01 * g / (np.sqrt(0.2 * g * g) + 1e-3), rtol=1e-13)
    p = param(np.zeros(3))
    p.grad = g.copy()
    RMSprop([p], learning_rate=0.01, rho=0.8, epsilon=1e-3, centered=True).step()
    var = 0.2 * g * g - (0.2 * g) ** 2
    np.testing.assert_allclose(p.data, -0.01 * g / (np.sqrt(var) + 1e-3), rtol=1e-13)


def test_adamw_decays_before_the_adam_step() -> None:
    p = param(np.array([1.0, -3.0]))
    p.grad = np.zeros(2)
    AdamW([p], learning_rate=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(p.data, [0.95, -2.85], rtol=1e-15)  # zero gradient: decay only
    q = param(np.array([1.0, -3.0]))
    q.grad = np.array([1.0, 1.0])
    AdamW([q], learning_rate=0.1, weight_decay=0.5, epsilon=0.0).step()
    np.testing.assert_allclose(q.data, [0.95 - 0.1, -2.85 - 0.1], rtol=1e-14)


@pytest.mark.parametrize("cls", [Adam, AdamW])
def test_adam_with_zero_or_vanishing_learning_rate_leaves_weights_finite(cls: type) -> None:
    p = param(np.array([1.0, -2.0]))
    opt = cls([p], learning_rate=0.0)
    p.grad = np.array([0.5, 0.0])
    opt.step()
    np.testing.assert_array_equal(p.data, [1.0, -2.0])
    np.testing.assert_allclose(opt.state_dict()["state.0.exp_avg"], [0.05, 0.0])  # still moved
    opt.learning_rate = 1e-310  # α/(1 − β1ᵗ) so small that its reciprocal overflows
    opt.step()
    assert np.all(np.isfinite(p.data))
    np.testing.assert_allclose(p.data, [1.0, -2.0])
    # A warm-up schedule starting at 0 behaves the same way.
    q = param(np.array([1.0]))
    q.grad = np.array([1.0])
    warm = cls([q], learning_rate=schedules.CosineDecay(0.0, 10, warmup_target=0.1, warmup_steps=2))
    warm.step()
    assert q.data[0] == 1.0 * (1.0 - 0.0)
    warm.step()
    assert q.data[0] < 1.0


def test_missing_gradient_counts_as_zero() -> None:
    a, b = make_params(), make_params()
    oa, ob = Adam(a, learning_rate=0.1, amsgrad=True), Adam(b, learning_rate=0.1, amsgrad=True)
    (g1, g2) = grad_sequence(2)
    set_grads(a, g1)
    set_grads(b, g1)
    oa.step()
    ob.step()
    set_grads(a, g2)
    set_grads(b, g2)
    a[1].grad = None
    b[1].grad = np.zeros(4)
    oa.step()
    ob.step()
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.data, q.data)
    assert not np.array_equal(a[1].data, make_params()[1].data)  # the moments still moved it


# -- dtypes ----------------------------------------------------------------------------------------
def every_optimizer() -> list[Callable[[Any], Optimizer]]:
    return [
        lambda p: SGD(p, learning_rate=0.1),
        lambda p: SGD(p, learning_rate=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
        lambda p: Adagrad(p),
        lambda p: RMSprop(p, momentum=0.5, centered=True),
        lambda p: Adam(p, amsgrad=True),
        lambda p: AdamW(p),
        lambda p: Adam(p, learning_rate=np.float64(1e-3), beta_1=np.float64(0.9)),
        lambda p: SGD(p, learning_rate=schedules.CosineDecay(np.float64(0.1), 10)),
    ]


@pytest.mark.parametrize("make", every_optimizer())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_parameters_and_state_keep_their_dtype(
    make: Callable[[Any], Optimizer], dtype: str
) -> None:
    params = make_params(dtype)
    opt = make(params)
    for grads in grad_sequence(3, "float64"):  # even float64 gradients do not upcast
        set_grads(params, grads)
        opt.step()
    for p in params:
        assert p.data.dtype == np.dtype(dtype) and p.grad.dtype == np.dtype(dtype)
    for group in opt.flat.groups:
        assert group.data.dtype == np.dtype(dtype)
        assert all(s.dtype == np.dtype(dtype) for s in group.state.values())
    assert type(opt.last_learning_rate) is float


def test_mixed_float32_and_float64_parameters_each_keep_their_dtype() -> None:
    p32 = param(np.ones(3, dtype=np.float32))
    p64 = param(np.ones(3, dtype=np.float64))
    opt = Adam([p32, p64], learning_rate=0.1)
    p32.grad[...] = 1.0
    p64.grad[...] = 1.0
    opt.step()
    assert p32.data.dtype == np.float32 and p64.data.dtype == np.float64
    expected = 1.0 - 0.1 / (1.0 + 1e-7)  # first Adam step: α·g / (|g| + ε)
    np.testing.assert_allclose(p32.data, expected, rtol=1e-6)
    np.testing.assert_allclose(p64.data, expected, rtol=1e-14)


class CustomSchedule(schedules.Schedule):
    def __call__(self, step: int | float) -> float:
        return np.float64(0.5) / (1 + step)  # type: ignore[return-value]

    def get_config(self) -> dict[str, Any]:
        return {}


def test_a_schedule_returning_numpy_float64_does_not_upcast() -> None:
    params = make_params("float32")
    opt = SGD(params, learning_rate=CustomSchedule())
    set_grads(params, [np.ones(s, dtype=np.float32) for s in SHAPES])
    opt.step()
    opt.step()
    assert all(p.data.dtype == np.float32 for p in params)
    assert opt.last_learning_rate == 0.25 and type(opt.last_learning_rate) is float


# -- learning rate and schedules -----------------------------------------------------------------
def test_schedule_is_applied_per_step_with_t_steps_already_taken() -> None:
    sched = schedules.StepDecay(1.0, step_size=2, gamma=0.5)
    p = param(np.zeros(1))
    opt = SGD([p], learning_rate=sched)
    assert opt.current_learning_rate == 1.0 and opt.last_learning_rate is None
    used = []
    w = 0.0
    for _ in range(6):
        p.grad = np.ones(1)
        lr_next = opt.current_learning_rate
        opt.step()
        used.append(opt.last_learning_rate)
        assert used[-1] == lr_next
        w -= used[-1]
        np.testing.assert_allclose(p.data, [w])
    assert used == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert opt.iterations == 6 and opt.current_learning_rate == 0.125


def test_learning_rate_is_settable_and_validated() -> None:
    p = param(np.zeros(1))
    opt = SGD([p], lr=0.5)
    assert opt.learning_rate == 0.5 and opt.lr == 0.5
    opt.learning_rate = 0.25
    p.grad = np.ones(1)
    opt.step()
    np.testing.assert_array_equal(p.data, [-0.25])
    opt.lr = np.float32(0.125)
    assert type(opt.learning_rate) is float
    with pytest.raises(InvalidArgumentError, match=r"SGD: learning_rate must be .*=-1.0$"):
        opt.learning_rate = -1.0
    bad = SGD([param(np.zeros(1))], learning_rate=CustomSchedule())
    bad._lr = schedules.Constant(0.1)
    bad._lr.learning_rate = float("nan")  # a broken schedule is caught at the step
    with pytest.raises(InvalidArgumentError, match="Constant schedule at step 0"):
        bad.step()


def test_closure_is_called_and_its_loss_returned() -> None:
    p = param(np.array([3.0]))
    opt = SGD([p], learning_rate=0.1)

    def closure() -> float:
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return float(loss.item())

    assert opt.step(closure) == 9.0
    np.testing.assert_allclose(p.data, [3.0 - 0.1 * 6.0])


def test_zero_grad_and_set_to_none() -> None:
    params = make_params()
    opt = SGD(params)
    set_grads(params, grad_sequence(1)[0])
    opt.zero_grad()
    assert all(np.all(p.grad == 0) for p in params)
    opt.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in params)
    opt.step()  # missing gradients are zeros: nothing moves
    assert all(p.grad is not None for p in params)


# -- construction ----------------------------------------------------------------------------------
class Tiny(Module):
    def __init__(self) -> None:
        super().__init__()
        self.W = Parameter(np.ones((2, 2)))
        self.b = Parameter(np.zeros(2))


def test_keras_and_pytorch_styles_of_construction() -> None:
    model = Tiny()
    keras_style = Adam(learning_rate=1e-3)
    assert keras_style.params == () and keras_style.flat is None
    keras_style.bind(model.parameters())
    assert keras_style.params == tuple(model.parameters())
    keras_style.bind(model.parameters())  # same parameters: no-op
    with pytest.raises(InvalidArgumentError, match="already bound"):
        keras_style.bind(Tiny().parameters())
    assert Adam(2e-3).learning_rate == 2e-3  # positional learning rate, as in Keras
    assert SGD(p for p in Tiny().parameters()).params  # a generator
    assert len(RMSprop(Tiny()).params) == 2  # a module
    assert SGD().learning_rate == 0.01 and Adam().learning_rate == 0.001
    assert Adam().epsilon == 1e-7 and RMSprop().rho == 0.9
    assert Adagrad().initial_accumulator_value == 0.1 and AdamW().weight_decay == 0.004
    assert Adam(betas=(0.8, 0.9), eps=1e-8).get_config()["beta_1"] == 0.8


def test_step_before_bind_fails_with_advice() -> None:
    with pytest.raises(InvalidArgumentError, match=r"Adam.step: .*bind\(model.parameters\(\)\)"):
        Adam().step()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: SGD(learning_rate=-0.1),
            r"SGD: learning_rate must be .*received learning_rate=-0.1",
        ),
        (lambda: SGD(learning_rate=float("nan")), "learning_rate must be"),
        (lambda: SGD(learning_rate="fast"), "received learning_rate='fast'"),
        (
            lambda: SGD(momentum=-0.5),
            r"momentum must be a number in \[0, 1\], received momentum=-0.5",
        ),
        (lambda: SGD(momentum=1.5), "momentum=1.5"),
        (lambda: SGD(nesterov=True), "nesterov=True needs a momentum > 0"),
        (lambda: SGD(nesterov="yes", momentum=0.9), "nesterov must be True or False"),
        (lambda: SGD(weight_decay=-1e-4), "weight_decay"),
        (lambda: SGD(learning_rate=0.1, lr=0.2), "lr is an alias of learning_rate"),
        (
            lambda: Adam(beta_1=1.0),
            r"Adam: beta_1 must be a number in \[0, 1\), received beta_1=1.0",
        ),
        (lambda: Adam(beta_2=-0.1), "beta_2"),
        (lambda: Adam(epsilon=-1e-8), "epsilon"),
        (lambda: Adam(betas=(0.9,)), "betas must be a pair"),
        (lambda: Adam(beta_1=0.8, betas=(0.9, 0.99)), "betas is an alias"),
        (lambda: Adam(epsilon=1e-6, eps=1e-8), "eps is an alias of epsilon"),
        (lambda: Adam(amsgrad=1), "amsgrad must be True or False"),
        (lambda: AdamW(weight_decay=-0.1), "AdamW: weight_decay"),
        (lambda: AdamW(beta_1=2.0), "AdamW: beta_1"),
        (lambda: Adagrad(initial_accumulator_value=-1.0), "initial_accumulator_value"),
        (lambda: RMSprop(rho=1.0), r"rho must be a number in \[0, 1\)"),
        (lambda: RMSprop(momentum=-0.1), "RMSprop: momentum"),
        (lambda: RMSprop(centered=None), "centered must be True or False"),
        (lambda: Adam(0.1, learning_rate=0.2), "first argument is params"),
    ],
)
def test_bad_hyper_parameters_fail_with_one_sentence(make: Callable[[], Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match) as info:
        make()
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, gn.GlassnetError)


def test_hyper_parameters_are_read_only_properties() -> None:
    opt = SGD(momentum=0.9)
    assert opt.momentum == 0.9 and opt.nesterov is False
    with pytest.raises(AttributeError):
        opt.momentum = 0.5  # type: ignore[misc]


# -- get / config ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("sgd", SGD),
        ("SGD", SGD),
        ("Adam", Adam),
        ("ADAMW", AdamW),
        ("rmsprop", RMSprop),
        ("RMSprop", RMSprop),
        ("adagrad", Adagrad),
        ("adam_w", AdamW),
    ],
)
def test_get_by_name_with_keras_defaults(name: str, cls: type) -> None:
    opt = optimizers.get(name)
    assert type(opt) is cls
    assert opt.get_config() == cls().get_config()


def test_get_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(
        UnknownNameError,
        match=r"unknown optimizer 'adamax'; known optimizers "
        r"are 'adagrad', 'adam', 'adamw', 'rmsprop', 'sgd'",
    ):
        optimizers.get("adamax")
    with pytest.raises(InvalidArgumentError, match="expected an optimizer name"):
        optimizers.get(3)


def test_get_passes_instances_through_and_builds_from_configs() -> None:
    opt = Adam(learning_rate=0.5)
    assert optimizers.get(opt) is opt
    cfg = optimizers.serialize(
        AdamW(learning_rate=schedules.CosineDecay(0.1, 100), weight_decay=0.01, amsgrad=True)
    )
    text = json.dumps(cfg)  # JSON-friendly
    again = optimizers.get(json.loads(text))
    assert type(again) is AdamW and again.get_config() == cfg["config"]
    assert again.learning_rate == schedules.CosineDecay(0.1, 100)
    # A Keras 3 config, with its extra keys at their neutral values.
    keras_cfg = {
        "class_name": "Adam",
        "config": {
            "name": "adam",
            "learning_rate": 0.001,
            "weight_decay": None,
            "clipnorm": None,
            "global_clipnorm": None,
            "clipvalue": None,
            "use_ema": False,
            "ema_momentum": 0.99,
            "ema_overwrite_frequency": None,
            "loss_scale_factor": None,
            "gradient_accumulation_steps": None,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-07,
            "amsgrad": False,
        },
    }
    assert optimizers.get(keras_cfg).get_config() == Adam().get_config()
    with pytest.raises(InvalidArgumentError, match=r"unexpected config keys \['clipnorm'\]"):
        optimizers.get({"class_name": "Adam", "config": {"clipnorm": 1.0}})
    with pytest.raises(UnknownNameError):
        optimizers.get({"class_name": "Nadam", "config": {}})


# -- checkpoints -----------------------------------------------------------------------------------
def checkpoint_cases() -> list[Callable[[Any], Optimizer]]:
    return [
        lambda p: SGD(p, learning_rate=0.1),
        lambda p: SGD(p, learning_rate=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda p: Adagrad(p, learning_rate=0.1),
        lambda p: RMSprop(p, momentum=0.9, centered=True),
        lambda p: Adam(p, learning_rate=0.01),
        lambda p: Adam(p, learning_rate=0.01, amsgrad=True),
        lambda p: AdamW(p, learning_rate=schedules.CyclicalLearningRate(1e-3, 1e-2, 3)),
    ]


def save_and_load(state: dict[str, Any]) -> dict[str, Any]:
    """Through a file: arrays to .npz, the rest to JSON (what a checkpoint writer does)."""
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    rest = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    buf.seek(0)
    with np.load(buf) as npz:
        loaded = {k: npz[k] for k in npz.files}
    return {**json.loads(json.dumps(rest)), **loaded}


@pytest.mark.parametrize("make", checkpoint_cases())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_state_dict_round_trip_resumes_bit_for_bit(
    make: Callable[[Any], Optimizer], dtype: str
) -> None:
    grads = grad_sequence(10, dtype)
    straight = make_params(dtype)
    opt = make(straight)
    for g in grads:
        set_grads(straight, g)
        opt.step()

    first = make_params(dtype)
    opt1 = make(first)
    for g in grads[:5]:
        set_grads(first, g)
        opt1.step()
    state = save_and_load(opt1.state_dict())
    resumed = [param(p.data.copy()) for p in first]
    opt2 = type(opt1)(resumed, learning_rate=0.777)  # hyper-parameters come from the state
    opt2.load_state_dict(state)
    assert opt2.iterations == 5 and opt2.get_config() == opt1.get_config()
    for g in grads[5:]:
        set_grads(resumed, g)
        opt2.step()
    for p, q in zip(straight, resumed):
        np.testing.assert_array_equal(p.data, q.data)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1.keys() == s2.keys()
    for key, value in s1.items():
        if isinstance(value, np.ndarray):
            assert value.dtype == s2[key].dtype
            np.testing.assert_array_equal(value, s2[key])
        else:
            assert value == s2[key]


def test_state_dict_content() -> None:
    params = make_params()
    opt = Adam(params, learning_rate=0.01, amsgrad=True)
    set_grads(params, grad_sequence(1)[0])
    opt.step()
    state = opt.state_dict()
    assert state["class_name"] == "Adam" and state["iterations"] == 1
    assert state["num_params"] == 4 and state["last_learning_rate"] == 0.01
    assert state["config"] == {
        "learning_rate": 0.01,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "amsgrad": True,
    }
    assert sorted(k for k in state if k.startswith("state.0.")) == [
        "state.0.exp_avg",
        "state.0.exp_avg_sq",
        "state.0.max_exp_avg_sq",
    ]
    assert state["state.0.exp_avg"].shape == (4, 3)
    state["state.0.exp_avg"][...] = 123.0  # a copy, not a view
    assert not np.any(opt.state_dict()["state.0.exp_avg"] == 123.0)


def test_load_before_bind_is_applied_at_bind() -> None:
    grads = grad_sequence(4)
    a = make_params()
    oa = Adam(a, learning_rate=0.01)
    for g in grads:
        set_grads(a, g)
        oa.step()
    b = make_params()
    ob = Adam(b, learning_rate=0.01)
    for g in grads[:2]:
        set_grads(b, g)
        ob.step()
    keras_style = Adam()
    keras_style.load_state_dict(ob.state_dict())
    assert keras_style.state_dict()["state.1.exp_avg"].shape == (4,)
    keras_style.bind(b)
    for g in grads[2:]:
        set_grads(b, g)
        keras_style.step()
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.data, q.data)


def test_load_state_dict_mismatches_fail_clearly_and_change_nothing() -> None:
    params = make_params()
    opt = Adam(params, learning_rate=0.01)
    set_grads(params, grad_sequence(1)[0])
    opt.step()
    good = opt.state_dict()
    target = Adam(make_params(), learning_rate=0.5)
    before = target.state_dict()

    with pytest.raises(InvalidArgumentError, match="saved by 'Adam', expected 'SGD'"):
        SGD(make_params()).load_state_dict(good)
    with pytest.raises(ShapeError, match="state is for 4 parameters but this optimiser has 2"):
        Adam(make_params()[:2]).load_state_dict(good)
    bad = dict(good)
    bad["state.2.exp_avg"] = np.zeros((3, 3))
    with pytest.raises(
        ShapeError,
        match=r"state.2.exp_avg has shape \(3, 3\) but parameter 2 "
        r"has shape \(2, 4\)",
    ):
        target.load_state_dict(bad)
    bad = dict(good)
    del bad["state.3.exp_avg_sq"]
    with pytest.raises(InvalidArgumentError, match="missing state.3.exp_avg_sq"):
        target.load_state_dict(bad)
    bad = dict(good)
    bad["config"] = {**good["config"], "beta_1": 1.5}
    with pytest.raises(InvalidArgumentError, match="beta_1"):
        target.load_state_dict(bad)
    with pytest.raises(InvalidArgumentError, match="missing iterations"):
        target.load_state_dict({k: v for k, v in good.items() if k != "iterations"})
    with pytest.raises(InvalidArgumentError, match="expected the dict made by state_dict"):
        target.load_state_dict([1, 2])  # type: ignore[arg-type]
    after = target.state_dict()
    assert after["config"] == before["config"] and after["iterations"] == 0
    for k, v in before.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(v, after[k])


def test_load_state_dict_switches_state_with_the_config() -> None:
    params = make_params()
    src = SGD(make_params(), learning_rate=0.1, momentum=0.9)
    set_grads(list(src.params), grad_sequence(1)[0])  # type: ignore[arg-type]
    src.step()
    plain = SGD(params, learning_rate=0.1)
    assert "momentum_buffer" not in plain.flat.state_names
    plain.load_state_dict(src.state_dict())
    assert plain.momentum == 0.9 and plain.flat.state_names == ["momentum_buffer"]
    np.testing.assert_array_equal(
        plain.state_dict()["state.0.momentum_buffer"], src.state_dict()["state.0.momentum_buffer"]
    )
