"""The first layer split over two cores: the same numbers with or without the helper or numba,
and close to the unsplit graph path."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet._fpenv import flush_denormals, supported
from glassnet.layers import Dense, Dropout, Flatten, Rescaling
from glassnet.optim import accelerated
from glassnet.training import fused, parallel

pytest.importorskip("numba")

MODES = ["helper", "no helper", "numpy"]


def _engine():
    engine = parallel.get_engine()
    assert engine is not None, "numba is installed: the engine must build"
    return engine


def _fit(mode, build, x, y, batch_size, optimizer="adam", epochs=2):
    accelerated.enable(mode != "numpy")
    gn.set_num_threads(1 if mode == "no helper" else None)
    try:
        gn.seed(0)
        model = build()
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, telemetry=3)
    finally:
        gn.set_num_threads(None)
        accelerated.enable(True)
    weights = [p.numpy().copy() for p in model.parameters()]
    return weights, history.history, history.telemetry.inputs, model


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
def test_split_first_layer_gives_the_same_bits_in_every_mode(case):
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

    engine = _engine()
    pairs_before = engine.pairs
    # batch 100: 100·64·400 = 2.56 M multiply-adds, split; the last batch of 60 too
    results = {}
    for mode in MODES:
        opt = optimizer if optimizer == "adam" else gn.optimizers.SGD(0.05, momentum=0.9)
        results[mode] = _fit(mode, build, x, y, 100, opt)
    model = results["helper"][3]
    assert fused.fusable(model)
    assert model._fused_step._split_for(x[:100]) is not None  # the split really ran
    assert engine.pairs > pairs_before  # and the engine handed work to the helper thread
    ref_w, ref_h, ref_inputs, _ = results["numpy"]
    for mode in ("helper", "no helper"):
        weights, history, inputs, _ = results[mode]
        assert history == ref_h, mode
        assert inputs == ref_inputs, mode  # telemetry sees the whole input, rebuilt from halves
        for a, b in zip(weights, ref_w):
            np.testing.assert_array_equal(a, b, err_msg=mode)


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
            assert model._fused_step._split_for(x) is not None
        results.append((history.history["loss"][0], [p.numpy().copy() for p in model.parameters()]))
    (loss_split, w_split), (loss_graph, w_graph) = results
    assert loss_split == pytest.approx(loss_graph, rel=1e-6)
    for a, b in zip(w_split, w_graph):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


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
def test_engine_pairs_compute_what_numpy_computes(take_back):
    engine = _engine()
    rng = np.random.default_rng(1)
    for _ in range(50):
        tasks, const, outputs, expected, _inputs = _random_tasks(rng, engine)
        engine.run_pair(
            (tasks["mine"], const["mine"], 1), (tasks["theirs"], const["theirs"], 2), take_back
        )
        for name, out in outputs.items():
            np.testing.assert_array_equal(out, expected[name])


def test_engine_adam_task_equals_the_kernel_on_the_whole_buffer():
    engine = _engine()
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
def test_helper_uses_the_callers_flush_to_zero_mode():
    # float32(1)·1e-39 is subnormal: flushed to 0 under FTZ/DAZ, kept without. The helper's half
    # must come out like the caller's in both modes.
    engine = _engine()
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


def test_an_engine_that_cannot_be_built_means_the_numpy_path(monkeypatch):
    x, y = _pixels(n=200)
    reference = _fit("numpy", _seed_like, x, y, 100)[0]

    def broken():
        raise RuntimeError("a compiler that does not cooperate")

    monkeypatch.setattr(parallel, "_engine", None)
    monkeypatch.setattr(parallel, "_build", broken)
    assert parallel.get_engine() is None
    weights = _fit("helper", _seed_like, x, y, 100)[0]
    for a, b in zip(weights, reference):
        np.testing.assert_array_equal(a, b)
