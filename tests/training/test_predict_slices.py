"""predict's array path on convnets: the layers run in inference mode (no max-pooling positions
kept, chunks allowed), in slices of the size the layers declare (``inference_rows``), and one
large batch is shared out over the worker threads — with the graph forward's numbers."""

from __future__ import annotations

import numpy as np

import glassnet as gn
from _tolerance import assert_close
from glassnet import layers as L
from glassnet.nn.layers import inference_mode
from glassnet.training import model as model_module


class Recorder(L.Layer):
    """The identity, noting each call's batch size and whether it ran in inference mode."""

    def __init__(self, rows: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.inference_rows = rows  # type: ignore[misc]
        self.calls: list[tuple[int, bool]] = []

    def forward_kernel(self, x, ctx):
        self.calls.append((len(x), inference_mode()))
        return x

    def backward_kernel(self, ctx, g):
        return g


def _convnet(recorder: Recorder, dtype: str = "float64") -> gn.Sequential:
    gn.seed(0)
    return gn.Sequential(
        [
            L.Input(shape=(9, 9, 2)),
            L.Conv2D(4, 3, activation="relu", dtype=dtype),
            recorder,
            L.MaxPooling2D(2, dtype=dtype),
            L.Flatten(),
            L.Dense(3, activation="softmax", dtype=dtype),
        ]
    )


def test_predict_runs_the_layers_in_inference_mode():
    recorder = Recorder()
    model = _convnet(recorder)
    x = np.random.default_rng(0).normal(size=(20, 9, 9, 2))
    model.predict(x, batch_size=8)  # several batches, on the worker threads
    model.predict(x[:5])  # one batch, on this thread
    assert recorder.calls and all(inference for _, inference in recorder.calls), recorder.calls
    assert model.training, "predict must not switch the model to eval mode"


def test_predict_runs_the_declared_slices_and_equals_the_graph_forward():
    recorder = Recorder(rows=6)
    model = _convnet(recorder)
    x = np.random.default_rng(1).normal(size=(40, 9, 9, 2))
    model.eval()
    expected = model(gn.tensor(x, dtype="float64")).numpy()  # the graph: one node per layer
    model.train()
    recorder.calls.clear()
    got = model.predict(x, batch_size=1000)
    assert_close(got, expected, reduction=18, err_msg="sliced predict against the graph")
    sizes = [n for n, _ in recorder.calls if n > 1]  # (the one-sample shape check aside)
    assert max(sizes) <= 6 and sum(sizes) == 40, sizes


def test_one_large_batch_is_shared_over_the_workers(monkeypatch):
    """A batch larger than twice the slice is cut into one share per worker, so that predict
    of one big batch (batch_size ≥ len(x)) uses every core."""
    monkeypatch.setattr(model_module, "inference_workers", lambda: 2)
    spread: list[list[int]] = []
    original = model_module.Model._spread

    def recording(run, starts):
        spread.append(list(starts))
        return original(run, starts)

    monkeypatch.setattr(model_module.Model, "_spread", staticmethod(recording))
    model = _convnet(Recorder(rows=4), dtype="float32")
    x = np.random.default_rng(2).normal(size=(30, 9, 9, 2)).astype("float32")
    got = model.predict(x, batch_size=1000)
    # 30 samples over two workers: shares of 15, rounded up to whole slices of 4 → 16
    assert spread == [[0, 16]], spread
    with gn.no_grad():
        model.eval()
        expected = model(x).numpy()
    assert_close(got, expected, reduction=18)


def test_a_dense_model_keeps_its_batches():
    """Layers that declare no slices (Dense) keep predict's batches as they were."""
    model = gn.Sequential([L.Input(shape=(5,)), Recorder(), L.Dense(2)])
    x = np.random.default_rng(3).normal(size=(50, 5)).astype("float32")
    model.predict(x, batch_size=1000)
    recorder = model.layers[0]
    assert [n for n, _ in recorder.calls] == [50], recorder.calls
