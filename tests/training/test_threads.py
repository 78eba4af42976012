"""BLAS threads: one inside fit/evaluate/predict by default, in any thread, restored afterwards;
predict's pool threads compute as their caller does."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

import glassnet as gn
from glassnet import _fpenv, _threads
from glassnet.callbacks import LambdaCallback

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads():
    # NumPy's own BLAS: other tests may have loaded more (PyTorch's), in any order.
    numpy_dir = os.path.dirname(np.__file__)
    infos = [
        i
        for i in threadpoolctl.threadpool_info()
        if i["user_api"] == "blas"
        and os.path.dirname(numpy_dir) in i.get("filepath", "")
        and "numpy" in i.get("filepath", "")
    ]
    if not infos:
        pytest.skip("no BLAS library visible to threadpoolctl")
    return infos[0]["num_threads"]


@pytest.mark.parametrize("setting,expected", [(None, 1), (2, 2)])
def test_fit_runs_with_the_configured_blas_threads(setting, expected):
    before = _blas_threads()
    seen = []
    gn.set_num_threads(setting)
    try:
        gn.seed(0)
        model = gn.Sequential([gn.layers.Dense(2, input_dim=3, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        spy = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(_blas_threads()))
        model.fit(np.zeros((8, 3)), np.zeros(8, int), epochs=1, verbose=0, callbacks=[spy])
    finally:
        gn.set_num_threads(None)
    assert seen == [expected]
    assert _blas_threads() == before
    assert gn.get_num_threads() == 1


def test_set_num_threads_validates():
    with pytest.raises(gn.errors.InvalidArgumentError, match="received n=0"):
        gn.set_num_threads(0)


def test_parallel_predict_equals_sequential_predict(monkeypatch):
    from glassnet.training import model as model_module

    gn.seed(0)
    model = gn.Sequential(
        [
            gn.layers.Dense(16, activation="relu", input_dim=5),
            gn.layers.Dropout(0.5),
            gn.layers.Dense(3, activation="softmax"),
        ]
    )
    x = np.random.default_rng(0).normal(size=(1003, 5)).astype(np.float32)
    monkeypatch.setattr(model_module, "inference_workers", lambda: 1)
    one = model.predict(x, batch_size=64)
    monkeypatch.setattr(model_module, "inference_workers", lambda: 4)
    four = model.predict(x, batch_size=64)
    np.testing.assert_array_equal(one, four)
    assert model.training  # predict restored the mode it found


# -- the limit in any thread (issue 14, item 2) ---------------------------------------------------


def _numpy_blas():
    """threadpoolctl's controller for NumPy's own BLAS, or skip."""
    numpy_dir = os.path.dirname(np.__file__)
    for lib in threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers:
        if os.path.dirname(numpy_dir) in lib.filepath and "numpy" in lib.filepath:
            return lib
    pytest.skip("no BLAS library visible to threadpoolctl")


def _in_thread(fn):
    out = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the worker thread did not finish"
    if "error" in out:
        raise out["error"]
    return out["value"]


def _several_blas_threads():
    count = _numpy_blas().get_num_threads()
    if count is None or count < 2:
        pytest.skip("BLAS runs one thread here anyway")
    return count


def test_the_limit_takes_in_a_worker_thread_after_the_main_thread_used_it():
    # threadpoolctl lets only its "controlling thread" (the first to set a limit) change
    # OpenBLAS's process-wide count: glassnet's limit from a worker thread used to be dropped.
    before = _several_blas_threads()
    with _threads.blas_threads():
        assert _numpy_blas().get_num_threads() == 1
    assert _in_thread(_seen_inside_blas_threads) == 1
    assert _numpy_blas().get_num_threads() == before


def _seen_inside_blas_threads():
    with _threads.blas_threads():
        return _numpy_blas().get_num_threads()


def test_the_limit_holds_until_the_last_thread_leaves():
    before = _several_blas_threads()
    entered, leave_a, a_left, leave_b = (threading.Event() for _ in range(4))
    seen = {}

    def a():
        with _threads.blas_threads():
            entered.set()
            leave_a.wait(30)
        a_left.set()

    def b():
        entered.wait(30)
        with _threads.blas_threads():
            leave_a.set()
            a_left.wait(30)
            seen["after a left"] = _numpy_blas().get_num_threads()
            leave_b.wait(30)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    a_left.wait(30)
    leave_b.set()
    for t in threads:
        t.join(30)
    assert seen == {"after a left": 1}
    assert _numpy_blas().get_num_threads() == before


def _seeded_fit(x, y, epochs=1, **kwargs):
    gn.seed(0)
    model = gn.Sequential(
        [
            gn.layers.Dense(128, activation="relu", input_dim=x.shape[1]),
            gn.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    seen = []
    spy = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(_blas_threads()))
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=[spy], **kwargs)
    return model.get_weights(), seen


@pytest.fixture(scope="module")
def wide_data():
    # 784 inputs and 128 units: OpenBLAS gives a product of this size other bits on 2 threads.
    rng = np.random.default_rng(0)
    return rng.normal(size=(1024, 784)).astype(np.float32), rng.integers(0, 10, 1024)


def test_a_seeded_fit_in_a_worker_thread_equals_the_main_threads_bit_for_bit(wide_data):
    x, y = wide_data
    main_weights, main_seen = _seeded_fit(x, y)  # the main thread uses the limit first
    worker_weights, worker_seen = _in_thread(lambda: _seeded_fit(x, y))
    assert main_seen == worker_seen == [1]
    for a, b in zip(main_weights, worker_weights):
        np.testing.assert_array_equal(a, b)


def test_resume_in_a_worker_thread_equals_the_uninterrupted_run(wide_data, tmp_path):
    x, y = wide_data[0][:512], wide_data[1][:512]
    full, _ = _seeded_fit(x, y, epochs=2)
    ckpt = tmp_path / "run.ckpt"
    _in_thread(lambda: _seeded_fit(x, y, epochs=1, checkpoint=ckpt, checkpoint_every=5))
    resumed, seen = _in_thread(lambda: _seeded_fit(x, y, epochs=2, resume=ckpt))
    assert seen == [1]
    for a, b in zip(full, resumed):
        np.testing.assert_array_equal(a, b)


# -- predict's pool threads (issue 13) ------------------------------------------------------------


@pytest.fixture
def fresh_pool(monkeypatch):
    """A new predict pool for the test (its threads started inside the test), shut down after."""
    monkeypatch.setattr(_threads, "_executor", None)
    yield
    if _threads._executor is not None:
        _threads._executor.shutdown(wait=True)


@pytest.mark.skipif(not _fpenv.supported(), reason="flush-to-zero is managed on x86-64 glibc only")
@pytest.mark.parametrize("started_flushing", [True, False], ids=["pool-started-ftz", "without"])
def test_predict_pool_threads_use_the_callers_flush_to_zero_mode(
    monkeypatch, fresh_pool, started_flushing
):
    from glassnet.training import model as model_module

    # x = 1e-39 (subnormal in float32): with denormals-are-zero z = x Wᵀ is 0, without it
    # 5e-39; a pool thread keeps the mode of the thread that started it unless told otherwise.
    model = gn.Sequential([gn.layers.Dense(3, input_dim=5, use_bias=False)])
    model.set_weights([np.ones((3, 5), np.float32)])
    x = np.full((256, 5), 1e-39, np.float32)
    try:
        gn.set_flush_denormal(started_flushing)
        monkeypatch.setattr(model_module, "inference_workers", lambda: 4)
        model.predict(x, batch_size=16)  # starts the pool's threads in this mode
        for flag in (True, False):
            gn.set_flush_denormal(flag)
            monkeypatch.setattr(model_module, "inference_workers", lambda: 1)
            one = model.predict(x, batch_size=16)
            monkeypatch.setattr(model_module, "inference_workers", lambda: 4)
            four = model.predict(x, batch_size=16)
            assert (one == 0).all() == flag
            np.testing.assert_array_equal(one, four)
    finally:
        gn.set_flush_denormal(True)


def test_pool_tasks_adopt_the_submitters_mode_and_limit(fresh_pool):
    before = _numpy_blas().get_num_threads()

    def report():
        return _fpenv.thread_mode(), _numpy_blas().get_num_threads()

    with _threads.blas_threads(), _fpenv.flush_denormals():
        inside = report()
        assert _threads.executor().submit(report).result(30) == inside
    outside = report()
    assert _threads.executor().submit(report).result(30) == outside
    assert outside[1] == before


# -- one model, many threads (issue 14) -----------------------------------------------------------


def _served_model():
    gn.seed(0)
    model = gn.Sequential(
        [
            gn.layers.Dense(64, activation="relu", input_dim=20),
            gn.layers.Dropout(0.2),
            gn.layers.Dense(5, activation="softmax"),
        ]
    )
    requests = [
        np.random.default_rng(i).normal(size=(40 + 17 * i, 20)).astype(np.float32) for i in range(8)
    ]
    return model, requests


def _hammer(model, requests, threads=8, calls=50):
    """Each of ``threads`` threads predicts ``calls`` times; returns the mismatching calls."""
    expected = [model.predict(r, batch_size=16) for r in requests]
    bad = []
    start = threading.Barrier(threads)

    def client(k):
        start.wait(30)
        for i in range(calls):
            j = (k + i) % len(requests)
            got = model.predict(requests[j], batch_size=16)
            if not np.array_equal(got, expected[j]):
                bad.append((k, i))

    workers = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(300)
    assert not any(t.is_alive() for t in workers), "predict hung"
    return bad


def test_8_threads_x_50_predicts_on_one_model_equal_single_threaded_results():
    # The same batches through the same ops in the same order: the same bits.
    model, requests = _served_model()
    model.eval()  # so that predict's own mode switching cannot change a value
    assert _hammer(model, requests) == []


def test_8_threads_x_50_predicts_leave_the_models_mode_unchanged():
    # Fixed in model.py by the layer-protocol change (inference is a per-thread flag): before
    # it, predict switched the shared model to eval and back, so threads saw each other's mode
    # and a Dropout layer could draw from the global generator in a concurrent predict.
    model, requests = _served_model()
    assert model.training
    modes = []
    stop = threading.Event()

    def watch():
        while not stop.wait(0.0005):
            modes.append(model.training)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        bad = _hammer(model, requests)
    finally:
        stop.set()
        watcher.join()
    assert bad == []
    assert model.training
    assert all(modes), "another thread saw the model in eval mode while predict ran"


@pytest.mark.skipif(not _fpenv.supported(), reason="flush-to-zero is managed on x86-64 glibc only")
def test_threads_that_start_together_all_get_flush_to_zero(monkeypatch):
    # The first call loads libm and tests the flags; threads arriving meanwhile used to be told
    # "unsupported" and ran their whole call without flush-to-zero.
    monkeypatch.setattr(_fpenv, "_libm", None)
    start = threading.Barrier(8)
    flushed = []

    def call():
        start.wait(30)
        with _fpenv.flush_denormals():
            flushed.append(float(np.float32(1e-30) * np.float32(1e-10)) == 0.0)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert flushed == [True] * 8


def _flushes() -> bool:
    # 1e-30 · 1e-10 = 1e-40 is subnormal in float32: 0 under flush-to-zero, kept without it.
    return float(np.float32(1e-30) * np.float32(1e-10)) == 0.0


@pytest.mark.skipif(not _fpenv.supported(), reason="flush-to-zero is managed on x86-64 glibc only")
def test_a_first_load_from_a_thread_already_flushing_keeps_flush_to_zero_for_all(monkeypatch):
    # The loader's self-test compared a subnormal product against the calling thread's own mode,
    # and its answer holds for every thread: made from a thread that was already flushing (a
    # fit's nested evaluate, the training step's helper, a pool thread started inside a
    # flushing call) it said "unsupported", and every later call in the process ran without
    # flush-to-zero — the test above then saw all 8 threads unflushed when such a thread made
    # the load in its window. The outer block's exit also crashed on the changed module state.
    assert not _flushes(), "the test's own thread must start without flush-to-zero"
    seen = {}

    def already_flushing():
        with _fpenv.flush_denormals():
            monkeypatch.setattr(_fpenv, "_libm", None)  # the next entry loads libm again
            with _fpenv.flush_denormals():
                seen["inner"] = _flushes()
        seen["after"] = _flushes()

    thread = threading.Thread(target=already_flushing)
    thread.start()
    thread.join(30)
    assert seen == {"inner": True, "after": False}
    assert _fpenv.supported()

    fresh = []
    others = [threading.Thread(target=lambda: fresh.append(_in_block())) for _ in range(4)]
    for t in others:
        t.start()
    for t in others:
        t.join(30)
    assert fresh == [(True, False)] * 4


def _in_block() -> tuple[bool, bool]:
    with _fpenv.flush_denormals():
        inside = _flushes()
    return inside, _flushes()


@pytest.mark.skipif(not _fpenv.supported(), reason="flush-to-zero is managed on x86-64 glibc only")
def test_loading_libm_needs_no_subprocess(monkeypatch):
    # ctypes.util.find_library spawns ldconfig/gcc: a spawn failing under load made the loader
    # answer "unsupported" for the whole process (the same all-unflushed symptom as above).
    import subprocess

    def no_spawn(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(subprocess, "Popen", no_spawn)
    monkeypatch.setattr(_fpenv, "_libm", None)
    assert _fpenv.supported()
