"""glassnet._rng.using: a per-thread generator, which the scikit-learn estimators fit under."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import glassnet
from glassnet import _rng
from glassnet.errors import InvalidArgumentError


def test_using_draws_from_the_given_generator_and_restores():
    glassnet.seed(7)
    expected_global = np.random.default_rng(7).random(2)
    with _rng.using(np.random.default_rng(1)) as gen:
        assert _rng.generator() is gen
        inner = _rng.generator().random(2)
        with _rng.using(np.random.default_rng(2)):
            np.testing.assert_array_equal(_rng.generator().random(1),
                                          np.random.default_rng(2).random(1))  # fmt: skip
        assert _rng.generator() is gen
    np.testing.assert_array_equal(inner, np.random.default_rng(1).random(2))
    np.testing.assert_array_equal(_rng.generator().random(2), expected_global)


def test_state_inside_using_is_the_local_generators():
    glassnet.seed(3)
    with _rng.using(np.random.default_rng(11)):
        state = _rng.get_state()
        first = _rng.generator().random(3)
        _rng.set_state(state)
        np.testing.assert_array_equal(_rng.generator().random(3), first)
    np.testing.assert_array_equal(_rng.generator().random(1), np.random.default_rng(3).random(1))


def test_other_threads_keep_the_global_generator():
    glassnet.seed(5)
    seen = {}
    with _rng.using(np.random.default_rng(0)):
        thread = threading.Thread(target=lambda: seen.update(g=_rng.generator()))
        thread.start()
        thread.join()
        assert seen["g"] is not _rng.generator()


def test_using_refuses_a_non_generator():
    with pytest.raises(InvalidArgumentError, match="numpy.random.Generator, received int"):
        with _rng.using(3):  # type: ignore[arg-type]
            pass
