"""predict and model(x) keep what does not change between calls (the decision that the layers
run on arrays, the layers, the dtype's parameter) and must notice every change to the model.

Each case changes the model between two predicts and checks the outputs against a forward pass
written here in NumPy, or against the autograd graph (the same kernels in the same order: the
same bits), so a stale cache cannot go unnoticed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glassnet as gn
import glassnet.training.model as model_module
from _tolerance import assert_close
from glassnet.layers import Dense, Dropout, Flatten, Rescaling


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _by_hand(model, x):
    """The seed-shaped model's outputs in NumPy, from its current weights (float64 here)."""
    h = np.asarray(x, dtype=np.float64).reshape(len(x), -1) / 255.0
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    for layer in dense:
        z = h @ layer.W.data.astype(np.float64).T + layer.b.data.astype(np.float64)
        kind = layer.activation.kernel.name
        h = {"relu": lambda v: np.maximum(v, 0), "softmax": _softmax, "linear": lambda v: v}[kind](
            z
        )
    return h


def _matches_hand(out, model, x):
    """out against the NumPy forward, to the tolerance of out's dtype (sums of ≤ 36 terms)."""
    assert_close(out, _by_hand(model, x).astype(out.dtype), reduction=36, ulps=16)


def _model(seed=0, hidden=16):
    gn.seed(seed)
    return gn.Sequential(
        [
            Rescaling(1 / 255, input_shape=(6, 6)),
            Flatten(),
            Dense(hidden, activation="relu"),
            Dropout(0.3),
            Dense(5, activation="softmax"),
        ]
    )


@pytest.fixture
def images():
    return np.random.default_rng(7).integers(0, 256, size=(45, 6, 6), dtype=np.uint8)


def _graph_predict(model, x, monkeypatch):
    """predict forced through the model's own forward (the autograd graph, a dry run first)."""
    with monkeypatch.context() as patch:
        patch.setattr(model_module.Model, "_inference_layers", lambda self: None)
        return model.predict(x, batch_size=7)


@pytest.mark.parametrize("rows", [1, 7, 45])
def test_predict_is_the_graphs_numbers_and_the_hand_computed_ones(images, rows, monkeypatch):
    model = _model()
    x = images[:rows]
    first, again = model.predict(x, batch_size=7), model.predict(x, batch_size=7)
    np.testing.assert_array_equal(first, again)  # the cached second call
    # The graph runs the same kernels in the same order: the same bits.
    np.testing.assert_array_equal(first, _graph_predict(model, x, monkeypatch))
    _matches_hand(first, model, x)
    assert first.dtype == np.float32 and first.shape == (rows, 5)


def test_one_sample_predict_returns_a_new_array_even_through_identity_layers():
    model = gn.Sequential([Flatten(input_shape=(2, 3)), Dropout(0.5)])
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    out = model.predict(x)
    out[...] = -1
    assert x.min() == 0  # the caller's input is not the output's memory


def test_layers_added_and_popped_between_predicts(images):
    model = _model()
    x = images[:3]
    before = model.predict(x)
    model.add(Dense(2, activation="softmax"))
    grown = model.predict(x)
    assert grown.shape == (3, 2)
    _matches_hand(grown, model, x)
    model.pop()
    np.testing.assert_array_equal(model.predict(x), before)


def test_new_weights_of_the_same_and_of_other_shapes(images):
    model = _model()
    x = images[:1]
    model.predict(x)
    other = _model(seed=3)
    model.set_weights(other.get_weights())
    np.testing.assert_array_equal(model.predict(x), other.predict(x))
    state = other.state_dict()
    model.load_state_dict(state)
    np.testing.assert_array_equal(model.predict(x), other.predict(x))
    # A model rebuilt with another width and the same layers list replaced wholesale.
    wide = _model(seed=4, hidden=32)
    model._layers[:] = wide.layers  # the list object kept, its content changed
    _matches_hand(model.predict(x), wide, x)


def test_a_dtype_change_between_predicts(images):
    model = _model()
    x = images[:2]
    assert model.predict(x).dtype == np.float32
    model.to("float64")
    out = model.predict(x)
    assert out.dtype == np.float64
    _matches_hand(out, model, x)
    floats = (images[:2] / 255.0).astype(np.float32)
    with gn.no_grad():
        assert model(floats.reshape(2, 36) * 255.0).data.dtype == np.float64


def test_freezing_a_layer_changes_nothing_in_predict(images):
    model = _model()
    x = images[:4]
    before = model.predict(x)
    model.layers[2].trainable = False
    np.testing.assert_array_equal(model.predict(x), before)


def test_a_layer_with_its_own_forward_added_later_takes_the_graph(images):
    class Doubling(Dense):
        def forward(self, x):
            return super().forward(x) * 2.0

    model = _model()
    x = images[:3]
    plain = model.predict(x)
    assert model._inference_layers() is not None
    model.pop()
    model.add(Doubling(5))
    assert model._inference_layers() is None  # the cache followed the new layer
    out = model.predict(x)
    hidden = np.maximum(
        (x.reshape(3, -1) / 255.0) @ model.layers[2].W.data.T.astype(np.float64)
        + model.layers[2].b.data,
        0,
    )
    last = model.layers[-1]
    expected = 2.0 * (hidden @ last.W.data.T.astype(np.float64) + last.b.data)
    assert_close(out, expected.astype(np.float32), reduction=36, ulps=16)
    assert not np.allclose(out[:, :5].sum(axis=1), plain.sum(axis=1))


def test_wrong_shapes_and_dtypes_are_still_caught_after_the_cache(images):
    model = _model()
    model.predict(images[:1])
    with pytest.raises(gn.errors.ShapeError, match=r"predict: x of shape \(1, 5, 5\)"):
        model.predict(images[:1, :5, :5])
    with pytest.raises(gn.errors.ShapeError, match=r"predict: x of shape \(45, 5, 5\)"):
        model.predict(images[:, :5, :5], batch_size=7)
    with pytest.raises(gn.errors.DTypeError, match="predict: x must hold numbers"):
        model.predict(np.array([["a"] * 36]))
    np.testing.assert_array_equal(model.predict(images[:1]), model.predict(images[:1]))


def test_nan_outputs_still_warn_on_one_sample(images):
    model = _model()
    model.predict(images[:1])
    model.layers[-1].W.data[0, 0] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = model.predict(images[:1])
    assert np.isnan(out).any()
    assert any("predict: the outputs contain NaN" in str(w.message) for w in caught)


def test_model_call_under_no_grad_matches_the_graph_in_both_modes(images):
    model = _model()
    x = images[:5]
    for training in (False, True):
        model.train(training)
        gn.seed(11)
        with gn.no_grad():
            fast = model(x)
        gn.seed(11)
        graph = model(x)  # grad enabled: the graph, one node per layer
        assert graph.requires_grad and not fast.requires_grad
        # Same kernels, same order, same dropout draws from the same seed: the same bits.
        np.testing.assert_array_equal(fast.data, graph.data)
    model.eval()
    _matches_hand(model(x).data, model, x)


def test_a_lazily_built_model_is_built_by_the_first_predict_then_cached(images, monkeypatch):
    gn.seed(2)
    model = gn.Sequential([Flatten(), Dense(8, activation="relu"), Dense(3)])  # no input shape
    assert model._inference_layers() is None  # not built: the graph builds it
    assert "_inference_cache" not in vars(model)
    x = (images[:5] / 255.0).astype(np.float32)
    first = model.predict(x)
    assert model._inference_layers() is not None  # built now: the kernels on arrays
    np.testing.assert_array_equal(model.predict(x), first)
    np.testing.assert_array_equal(_graph_predict(model, x, monkeypatch), first)
