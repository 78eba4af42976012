"""Optimiser state never becomes subnormal, and flushing it does not change the weights."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.nn import Parameter
from glassnet.optim import optimizers as opt_module


def _run(optimizer_name, steps, flush_every):
    rng = np.random.default_rng(0)
    p = Parameter(rng.normal(size=(64,)).astype(np.float32))
    opt = gn.optimizers.get(optimizer_name)
    opt.bind([p])
    old = opt_module.FLUSH_EVERY
    opt_module.FLUSH_EVERY = flush_every
    smallest = np.inf
    try:
        for t in range(steps):
            # Most entries see a gradient only at the first step (a border pixel seen once).
            g = np.zeros(64, np.float32)
            g[:8] = rng.normal(size=8) * 1e-2
            if t == 0:
                g[8:] = 1e-3
            p.grad[...] = g
            opt.step()
            for state in opt.flat.groups[0].state.values():
                nonzero = np.abs(state[state != 0])
                if nonzero.size:
                    smallest = min(smallest, float(nonzero.min()))
    finally:
        opt_module.FLUSH_EVERY = old
    return p.numpy().copy(), smallest


@pytest.mark.parametrize("name", ["adam", "rmsprop", "adagrad", "adamw", "sgd"])
def test_no_subnormal_state_and_same_weights(name):
    tiny = float(np.finfo(np.float32).tiny)
    flushed, smallest = _run(name, 1500, opt_module.FLUSH_EVERY)
    assert smallest >= tiny, f"a subnormal {smallest:g} appeared in the optimiser state"
    unflushed, smallest_unflushed = _run(name, 1500, 10**9)
    if name in ("adam", "adamw"):
        # without the flush, Adam's first moment does decay into the subnormal range
        assert smallest_unflushed < tiny
    np.testing.assert_array_equal(flushed, unflushed)
