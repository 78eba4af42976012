"""The optional numba Adam kernel gives bit-identical results to the NumPy reference path."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.nn import Parameter
from glassnet.optim import accelerated

pytest.importorskip("numba")

if not accelerated.enabled():  # the suite run with GLASSNET_NO_NUMBA=1
    pytest.skip("GLASSNET_NO_NUMBA=1: the compiled kernel is switched off", allow_module_level=True)


def _train(dtype, name, fast, steps=150):
    rng = np.random.default_rng(0)
    shapes = [(128, 78), (128,), (10, 128), (10,)]
    params = [Parameter(rng.normal(size=s).astype(dtype)) for s in shapes]
    schedule = gn.schedules.CosineDecay(3e-3, decay_steps=100, warmup_steps=5, warmup_target=5e-3)
    opt = gn.optimizers.get(name)
    opt.learning_rate = schedule
    opt.bind(params)
    accelerated.enable(fast)
    try:
        for _ in range(steps):
            for p in params:
                g = rng.normal(size=p.shape).astype(dtype) * 1e-2
                g[..., ::7] = 0.0  # some weights never see a gradient (blank pixels)
                p.grad[...] = g
            opt.step()
    finally:
        accelerated.enable(True)
    return [p.numpy().copy() for p in params], opt.state_dict()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_numba_adam_equals_numpy_adam_bit_for_bit(dtype, name):
    fast_w, fast_state = _train(dtype, name, True)
    slow_w, slow_state = _train(dtype, name, False)
    assert accelerated.enabled()
    assert accelerated.compiled()  # 11,402 weights: above COMPILE_MIN, so the kernel ran
    for a, b in zip(fast_w, slow_w):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)
    for key, value in slow_state.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(fast_state[key], value)


def test_disabled_kernel_falls_back_to_numpy():
    accelerated.enable(False)
    try:
        assert not accelerated.enabled()
        w = np.ones(4, np.float32)
        assert not accelerated.adam_step(
            w, w.copy(), w.copy(), w.copy(), 0.9, 0.999, 1.0, 1.0, None
        )
    finally:
        accelerated.enable(True)


def test_small_buffers_do_not_compile_but_use_the_kernel_once_it_exists(monkeypatch):
    monkeypatch.setattr(accelerated, "_kernel", None)  # as in a fresh process
    w = np.ones(accelerated.COMPILE_MIN - 1, np.float32)
    args = (w, w.copy(), w.copy(), w.copy(), 0.9, 0.999, 1.0, 1.0, None)
    assert not accelerated.adam_step(*args)  # NumPy's turn: nothing compiled for it
    assert not accelerated.compiled()
    big = np.ones(accelerated.COMPILE_MIN, np.float32)
    assert accelerated.adam_step(big, big.copy(), big.copy(), big.copy(), 0.9, 0.999, 1, 1, None)
    assert accelerated.compiled()
    assert accelerated.adam_step(*args)  # compiled now: small buffers use it too


def test_the_disk_cache_is_read_and_written_under_a_lock():
    # numba's cache index is read, extended and rewritten without a lock; glassnet takes an
    # inter-process lock around each load and save. Shown here: with the kernel in the cache
    # and the lock held by this process, a fresh process that needs the kernel waits for it.
    fcntl = pytest.importorskip("fcntl")
    import os
    import subprocess
    import sys
    import time

    w = np.ones(accelerated.COMPILE_MIN, np.float32)
    assert accelerated.adam_step(w, w.copy(), w.copy(), w.copy(), 0.9, 0.999, 1, 1, None)
    lock = os.path.join(accelerated._compile()._cache._cache_path, "glassnet-numba-cache.lock")
    assert os.path.exists(lock)  # the first load/save made it
    code = (
        "import numpy as np; from glassnet.optim import accelerated; import numba; "
        "print('ready', flush=True); w = np.ones(accelerated.COMPILE_MIN, np.float32); "
        "assert accelerated.adam_step(w, w.copy(), w.copy(), w.copy(), .9, .999, 1, 1, None); "
        "print('done', flush=True)"
    )
    env = {k: v for k, v in os.environ.items() if k != "GLASSNET_NO_NUMBA"}
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        child = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(2.0)  # loading the cached kernel takes well under this, unlocked
        assert child.poll() is None, "the kernel was loaded while another process held the lock"
    finally:
        os.close(fd)
    out, _ = child.communicate(timeout=120)
    assert child.returncode == 0 and out.split() == [b"done"]
