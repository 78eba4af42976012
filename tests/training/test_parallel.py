"""The first layer split over two cores: the same bits with or without the helper thread (the
same BLAS calls, run by one thread or the other), within float32 tolerance of the NumPy path
(np.matmul on the same halves: another BLAS entry point) and of the unsplit graph path.

Where this machine cannot have the engine (no numba, ``GLASSNET_NO_NUMBA=1``, no cblas_sgemm of
NumPy's own) the tests that need it skip and say why; where it may use one CPU only, they check
that the caller ran every task itself."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from _tolerance import assert_close, rtol
from glassnet._fpenv import flush_denormals, supported
from glassnet._threads import helper_allowed
from glassnet.layers import Dense, Dropout, Flatten, Rescaling
from glassnet.optim import accelerated
from glassnet.training import parallel

MODES = ["helper", "no helper", "numpy"]
SIDE = 20  # 20×20 pixels: the first layer sums K = 400 products


@pytest.fixture
def engine():
    """The engine, or a skip saying why this machine has none. A build failure on a machine
    that could have one is a test failure, not a skip."""
    if not accelerated.enabled():
        pytest.skip(
            "numba is not installed"
            if not accelerated.available()
            else "GLASSNET_NO_NUMBA=1: the compiled engine is switched off"
        )
    built = parallel.get_engine()
    if built is None:
        why = parallel.status()["reasons"]
        if parallel.status()["blas_sgemm"] is None:
            pytest.skip(f"no helper on this machine: {'; '.join(why)}")
        pytest.fail(f"numba and the BLAS symbol are here, but the engine did not build: {why}")
    return built


@pytest.fixture
def numba_state():
    """Restore the compiled kernels' on/off switch as it was (GLASSNET_NO_NUMBA=1 included)."""
    before = accelerated._enabled
    yield
    accelerated.enable(before)


def _fit(mode, build, x, y, batch_size, optimizer="adam", epochs=2):
    before = accelerated._enabled
    accelerated.enable(mode != "numpy" and before)
    gn.set_num_threads(1 if mode == "no helper" else None)
    try:
        gn.seed(0)
        model = build()
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, telemetry=3)
    finally:
        gn.set_num_threads(None)
        accelerated.enable(before)
    weights = [p.numpy().copy() for p in model.parameters()]
    return weights, history.history, history.telemetry.inputs, model


def _assert_runs_close(got, ref, reduction, what):
    """Two short training runs whose matrix products may round differently: the same losses
    and weights to float32 tolerance for sums of ``reduction`` terms. Over these few steps the
    rounding differences stay far below it (measured: weights within 2e-5 of their scale when
    every float32 product is rounded once from float64 instead, against 1.9e-4 for K = 400)."""
    (weights, history), (ref_w, ref_h) = got, ref
    assert history.keys() == ref_h.keys(), what
    tol = rtol(np.float32, reduction)
    for key, values in ref_h.items():
        assert history[key] == pytest.approx(values, rel=tol, abs=tol), f"{what}: {key}"
    for a, b in zip(weights, ref_w):
        assert_close(a, b, reduction=reduction, err_msg=what)


def _pixels(n=260, side=20):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n, side, side), dtype=np.uint8), rng.integers(0, 10, n)


def _seed_like(flatten_first=False, offset=0.0, side=20):
    if flatten_first:
        prefix = [Flatten(input_shape=(side, side)), Rescaling(1 / 255, offset=offset)]
    else:
        prefix = [Rescaling(1 / 255, offset=offset, input_shape=(side, side)), Flatten()]
    return gn.Sequential(
        [*prefix, Dense(64, activation="relu"), Dropout(0.2), Dense(10, activation="softmax")]
    )


@pytest.mark.parametrize(
    "case",
    ["uint8 pixels", "flatten first, offset", "float input", "sgd momentum", "tanh, no bias"],
)
def test_split_first_layer_same_bits_with_or_without_the_helper_close_to_numpy(engine, case):
    x, y = _pixels()
    optimizer = "adam"
    if case == "uint8 pixels":

        def build():
            return _seed_like()
    elif case == "flatten first, offset":

        def build():
            return _seed_like(flatten_first=True, offset=-0.5)
    elif case == "float input":
        x = (x / 255.0).astype(np.float32)

        def build():
            return gn.Sequential(
                [Flatten(input_shape=(20, 20)), Dense(64, activation="relu"), Dense(10, "softmax")]
            )
    elif case == "sgd momentum":
        optimizer = "sgd momentum"

        def build():
            return _seed_like()
    else:

        def build():
            return gn.Sequential(
                [
                    Rescaling(1 / 255, input_shape=(20, 20)),
                    Flatten(),
                    Dense(64, activation="tanh", use_bias=False),
                    Dense(10, activation="softmax"),
                ]
            )

    pairs_before = engine.pairs
    # batch 100: 100·64·400 = 2.56 M multiply-adds, split; the last batch of 60 too
    results = {}
    for mode in MODES:
        opt = optimizer if optimizer == "adam" else gn.optimizers.SGD(0.05, momentum=0.9)
        results[mode] = _fit(mode, build, x, y, 100, opt)
    model = results["helper"][3]
    assert model.fit_path()[0] == "fast"
    assert model._fused_step._plan(x[:100]).split is not None  # the split really ran
    if helper_allowed():
        assert engine.pairs > pairs_before  # and the engine handed work to the helper thread
    else:  # one CPU: the caller ran both halves itself, through the same compiled calls
        assert engine.pairs == pairs_before
    # With or without the helper: the same BLAS calls with the same arguments, the same bits.
    helper_w, helper_h, helper_inputs, _ = results["helper"]
    weights, history, inputs, _ = results["no helper"]
    assert history == helper_h
    assert inputs == helper_inputs
    for a, b in zip(weights, helper_w):
        np.testing.assert_array_equal(a, b)
    # The NumPy path: the same halves through np.matmul, another BLAS entry point.
    ref_w, ref_h, ref_inputs, _ = results["numpy"]
    assert helper_inputs == ref_inputs  # telemetry sees the whole input, rebuilt from halves
    _assert_runs_close((helper_w, helper_h), (ref_w, ref_h), SIDE * SIDE, "helper vs NumPy")


def test_split_step_agrees_with_the_unsplit_graph_step():
    # One step from the same start and the same dropout bits: the split changes only the order
    # of additions in x·Wᵀ, so the fused step and the graph agree to float32 rounding.
    x, y = _pixels(n=100)
    results = []
    for fused_flag in ("auto", False):
        gn.seed(0)
        model = _seed_like()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", fused=fused_flag)
        history = model.fit(x, y, epochs=1, batch_size=100, verbose=0, shuffle=False)
        if fused_flag == "auto":
            assert model._fused_step._plan(x).split is not None
        results.append((history.history, [p.numpy().copy() for p in model.parameters()]))
    (h_split, w_split), (h_graph, w_graph) = results
    _assert_runs_close((w_split, h_split), (w_graph, h_graph), SIDE * SIDE, "split vs graph")


def _random_tasks(rng, engine):
    """A pair of task lists over random arrays, and what NumPy says they compute."""
    width, consts = parallel.TASK_WIDTH, parallel.CONST_WIDTH
    tasks = {s: np.zeros((3, width), np.int64) for s in ("mine", "theirs")}
    const = {s: np.zeros((3, consts), np.float32) for s in ("mine", "theirs")}
    a = rng.normal(size=(33, 40)).astype(np.float32)
    b = rng.normal(size=(40, 17)).astype(np.float32)
    c_mine, c_theirs = np.empty((33, 17), np.float32), np.empty((40, 17), np.float32)
    pixels = rng.integers(0, 256, size=(9, 30), dtype=np.uint8)
    scaled = np.empty((9, 30), np.float32)
    g = rng.normal(size=(33, 17)).astype(np.float32)
    assert parallel.gemm_task(tasks["mine"][0], a, b, c_mine)
    assert parallel.gemm_task(tasks["theirs"][0], a.T, g, c_theirs)  # a transposed operand
    assert parallel.scale_task(tasks["theirs"][1], const["theirs"][1], pixels, scaled, 0.1, 2.0)
    expected = {
        "mine": np.matmul(a, b),
        "theirs": np.matmul(a.T, g),
        "scaled": np.multiply(pixels, np.float32(0.1), dtype=np.float32) + np.float32(2.0),
    }
    outputs = {"mine": c_mine, "theirs": c_theirs, "scaled": scaled}
    keep_alive = (a, b, g, pixels)  # the tasks hold raw addresses: the arrays must outlive them
    return tasks, const, outputs, expected, keep_alive


@pytest.mark.parametrize("take_back", [True, False])
def test_engine_pairs_compute_what_numpy_computes(engine, take_back):
    rng = np.random.default_rng(1)
    reductions = {"mine": 40, "theirs": 33}  # the K of a (33, 40)·(40, 17) and a (40, 33)·(33, 17)
    for _ in range(50):
        tasks, const, outputs, expected, _inputs = _random_tasks(rng, engine)
        mine, theirs = (tasks["mine"], const["mine"], 1), (tasks["theirs"], const["theirs"], 2)
        engine.run_pair(mine, theirs, take_back)
        paired = {name: out.copy() for name, out in outputs.items()}
        # The same tasks on the calling thread: the same calls, so the same bits.
        engine.run_local(*mine)
        engine.run_local(*theirs)
        for name, out in outputs.items():
            np.testing.assert_array_equal(paired[name], out, err_msg=name)
        # np.multiply is the scaling's twin, bit for bit; np.matmul is another BLAS call.
        np.testing.assert_array_equal(paired["scaled"], expected["scaled"])
        for name, k in reductions.items():
            assert_close(paired[name], expected[name], reduction=k, err_msg=name)


def test_engine_adam_task_equals_the_kernel_on_the_whole_buffer(engine):
    rng = np.random.default_rng(2)
    w, g, m, v = (rng.normal(size=1000).astype(np.float32) for _ in range(4))
    v = np.abs(v)
    constants = tuple(np.float32(c) for c in (0.9, 0.1, 0.999, 0.001, 3.0, 1e-4, 1.0))
    expected = [arr.copy() for arr in (w, g, m, v)]
    accelerated._compile()(*expected, *constants)
    width, consts = parallel.TASK_WIDTH, parallel.CONST_WIDTH
    mine, theirs = np.zeros((3, width), np.int64), np.zeros((3, width), np.int64)
    cm, ct = np.zeros((3, consts), np.float32), np.zeros((3, consts), np.float32)
    assert parallel.adam_task(mine[0], cm[0], w[:300], g[:300], m[:300], v[:300], constants)
    assert parallel.adam_task(mine[1], cm[1], w[700:], g[700:], m[700:], v[700:], constants)
    assert parallel.adam_task(
        theirs[0], ct[0], w[300:700], g[300:700], m[300:700], v[300:700], constants
    )
    engine.run_pair((mine, cm, 2), (theirs, ct, 1), take_back=False)
    for got, want in zip((w, g, m, v), expected):
        np.testing.assert_array_equal(got, want)


@pytest.mark.skipif(not supported(), reason="flush-to-zero is only set on x86-64 Linux (glibc)")
def test_helper_uses_the_callers_flush_to_zero_mode(engine):
    # float32(1)·1e-39 is subnormal: flushed to 0 under FTZ/DAZ, kept without. The helper's half
    # must come out like the caller's in both modes.
    width, consts = parallel.TASK_WIDTH, parallel.CONST_WIDTH
    pixels = np.ones((4, 8), np.uint8)
    for flush in (True, False, True):
        out_mine, out_theirs = np.empty((4, 8), np.float32), np.empty((4, 8), np.float32)
        mine, theirs = np.zeros((3, width), np.int64), np.zeros((3, width), np.int64)
        cm, ct = np.zeros((3, consts), np.float32), np.zeros((3, consts), np.float32)
        assert parallel.scale_task(mine[0], cm[0], pixels, out_mine, 1e-39, 0.0)
        assert parallel.scale_task(theirs[0], ct[0], pixels, out_theirs, 1e-39, 0.0)
        if flush:
            with flush_denormals():
                engine.run_pair((mine, cm, 1), (theirs, ct, 1), take_back=False)
            assert not out_mine.any()
        else:
            engine.run_pair((mine, cm, 1), (theirs, ct, 1), take_back=False)
            assert out_mine.all()
        np.testing.assert_array_equal(out_theirs, out_mine)


def test_tasks_refuse_what_they_cannot_describe():
    row, const = np.zeros(parallel.TASK_WIDTH, np.int64), np.zeros(parallel.CONST_WIDTH, np.float32)
    f64 = np.zeros((4, 4))
    f32 = np.zeros((4, 4), np.float32)
    assert not parallel.gemm_task(row, f64, f64, f64)  # float64: NumPy's path
    assert not parallel.gemm_task(row, f32[:, ::2], f32[:2], np.zeros((4, 4), np.float32))
    assert not parallel.scale_task(row, const, np.zeros((4, 4), np.int16), f32, 1.0, 0.0)
    assert not parallel.adam_task(row, const, f32, f32, f32, f32, (1,) * 7)  # 2-D buffers


def test_an_engine_that_cannot_be_built_means_the_numpy_path(monkeypatch, numba_state):
    if not accelerated.enabled():
        pytest.skip("the compiled kernels are off here: every mode is the NumPy path already")
    x, y = _pixels(n=200)
    reference = _fit("numpy", _seed_like, x, y, 100)[0]

    def broken():
        raise RuntimeError("a compiler that does not cooperate")

    monkeypatch.setattr(parallel, "_engine", None)
    monkeypatch.setattr(parallel, "_build", broken)
    assert parallel.get_engine() is None
    assert "a compiler that does not cooperate" in parallel.status()["engine"]
    # Without the engine both runs make the same np.matmul calls: the compiled elementwise
    # kernels and Adam are the NumPy ops' twins, so the bits are the same.
    weights = _fit("helper", _seed_like, x, y, 100)[0]
    for a, b in zip(weights, reference):
        np.testing.assert_array_equal(a, b)


def test_without_the_blas_symbol_the_helper_is_off_and_the_numbers_stay_close(engine, monkeypatch):
    # NumPy built on MKL or Accelerate exports no scipy_cblas_sgemm64_: forced here by looking
    # for a name no library has. The helper is then off, the fused step multiplies its halves
    # with np.matmul, and the result stays within tolerance of the helper's.
    x, y = _pixels(n=200)
    with_helper = _fit("helper", _seed_like, x, y, 100)
    monkeypatch.setattr(parallel, "SGEMM_SYMBOLS", ("glassnet_test_no_such_sgemm",))
    monkeypatch.setattr(parallel, "_engine", None)
    assert parallel.get_engine() is None
    state = parallel.status()
    assert not state["possible"] and state["blas_sgemm"] is None
    assert any("glassnet_test_no_such_sgemm" in reason for reason in state["reasons"])
    pairs_before = engine.pairs
    without = _fit("helper", _seed_like, x, y, 100)
    assert engine.pairs == pairs_before  # nothing reached the helper
    assert without[3]._fused_step._plan(x[:100]).split is not None  # still split, on one thread
    _assert_runs_close(without[:2], with_helper[:2], SIDE * SIDE, "no symbol vs helper")
    numpy_path = _fit("numpy", _seed_like, x, y, 100)
    for a, b in zip(without[0], numpy_path[0]):  # the same np.matmul calls as the NumPy path
        np.testing.assert_array_equal(a, b)


def test_status_says_what_this_machine_allows():
    state = parallel.status()
    assert set(state) >= {"possible", "reasons", "blas_sgemm", "cpus", "engine"}
    assert state["possible"] == (not state["reasons"])
    if state["cpus"] < 2:
        assert not state["possible"] and "one CPU" in " ".join(state["reasons"])
    if not accelerated.enabled():
        assert not state["possible"]


_HAND_OFF_STRESS = """
import numpy as np
from glassnet.optim import accelerated
from glassnet.training import parallel

parallel._IDLE_POLLS = 1  # the helper goes idle right after each task: the race's edge, often
engine = parallel.get_engine()
rng = np.random.default_rng(0)
w, g, m, v = (np.abs(rng.normal(size=64)).astype(np.float32) for _ in range(4))
constants = tuple(np.float32(c) for c in (0.9, 0.1, 0.999, 0.001, 3.0, 1e-4, 1.0))
width, consts = parallel.TASK_WIDTH, parallel.CONST_WIDTH
mine, theirs = np.zeros((1, width), np.int64), np.zeros((1, width), np.int64)
cm, ct = np.zeros((1, consts), np.float32), np.zeros((1, consts), np.float32)
assert parallel.adam_task(mine[0], cm[0], w[:32], g[:32], m[:32], v[:32], constants)
assert parallel.adam_task(theirs[0], ct[0], w[32:], g[32:], m[32:], v[32:], constants)
for _ in range(3000):
    engine.run_pair((mine, cm, 1), (theirs, ct, 1), take_back=False)
print("done", engine.pairs)
"""


def test_a_post_racing_the_helper_going_to_sleep_is_still_served(engine):
    # Regression: work posted between the helper's last idle poll and its "sleeping" flag found
    # no one to wake it, and a caller waiting for that half (take_back=False) hung for ever.
    if not helper_allowed():  # the subprocess inherits this process's CPUs
        pytest.skip("no helper thread here (one CPU): no hand-off to race")
    result = subprocess.run(
        [sys.executable, "-c", _HAND_OFF_STRESS], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("done 3000")


_ENGINE_FROM_CACHE = """
import numpy as np
from glassnet.training import parallel
engine = parallel.get_engine()
assert engine is not None, parallel.status()["reasons"]
from glassnet.training import _engine_code as code
x = np.ones((4, 6), np.float32)
z, z2 = np.empty((4, 5), np.float32), np.empty((4, 5), np.float32)
w = np.ones((6, 5), np.float32)
mine = np.zeros((1, parallel.TASK_WIDTH), np.int64)
theirs = np.zeros((1, parallel.TASK_WIDTH), np.int64)
c = np.zeros((1, parallel.CONST_WIDTH), np.float32)
assert parallel.gemm_task(mine[0], x, w, z) and parallel.gemm_task(theirs[0], x, w, z2)
engine.run_pair((mine, c, 1), (theirs, c, 1), take_back=False)
assert np.array_equal(z, x @ w) and np.array_equal(z2, x @ w)
print(sum(len(f.stats.cache_misses) for f in (code.run, code.serve, code.post, code.settle)))
"""


def test_the_helper_engine_is_loaded_from_the_disk_cache_by_the_next_process(engine, tmp_path):
    # The engine used to be compiled in every process (2.2–2.4 s): its code called BLAS and
    # sched_yield through this process's addresses. They are passed in at run time now.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", _ENGINE_FROM_CACHE], env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    for result in runs:
        assert result.returncode == 0, result.stderr
    assert int(runs[0].stdout) > 0, "the first process compiles"
    assert int(runs[1].stdout) == 0, "the second loads everything from the cache"
