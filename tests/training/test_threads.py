"""BLAS threads: one inside fit/evaluate/predict by default, restored afterwards."""

from __future__ import annotations

import os

import numpy as np
import pytest

import glassnet as gn
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
