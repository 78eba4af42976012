"""Weight layouts: in the keras namespace get_weights/set_weights speak Keras's (in, units)
kernels, glassnet's own namespace keeps W (units, in); a Keras 3 ``.weights.h5`` file (written
here with h5py in the layout of keras/src/saving/saving_lib.py) loads into the matching
glassnet model, which then predicts what NumPy computes by hand from the same arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import glassnet as gn
import glassnet.keras as keras
from glassnet.keras import ops

h5py = pytest.importorskip("h5py")


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _write_keras_file(path: Path, groups: dict[str, list[np.ndarray]]) -> None:
    """A .weights.h5 as Keras 3 writes it: a root "vars" group, then one "<path>/vars" group
    per saveable with its variables named "0", "1", … in creation order."""
    with h5py.File(path, "w") as f:
        f.create_group("vars")
        for group, arrays in groups.items():
            g = f.create_group(group).create_group("vars")
            for i, arr in enumerate(arrays):
                g[str(i)] = arr
        f.create_group("optimizer").create_group("vars")  # Keras saves the optimizer too


def test_keras_dense_speaks_keras_layout_glassnet_dense_its_own() -> None:
    gn.seed(0)
    k = keras.layers.Dense(3, input_dim=2)
    g = gn.layers.Dense(3, input_dim=2)
    assert [w.shape for w in k.get_weights()] == [(2, 3), (3,)]  # Keras: kernel (in, units)
    assert [w.shape for w in g.get_weights()] == [(3, 2), (3,)]  # glassnet: W (units, in)
    np.testing.assert_array_equal(k.get_weights()[0], k.W.data.T)
    # Keras arrays go in where Keras would put them
    kernel = np.arange(6, dtype=np.float32).reshape(2, 3)
    k.set_weights([kernel, np.zeros(3, np.float32)])
    np.testing.assert_array_equal(k.W.data, kernel.T)
    np.testing.assert_array_equal(k(np.array([[1.0, 0.0]], np.float32)).numpy(), kernel[:1])
    with pytest.raises(gn.errors.ShapeError, match=r"expects an array of shape \(2, 3\)"):
        k.set_weights([kernel.T, np.zeros(3, np.float32)])


def test_a_square_kernel_is_never_transposed_silently() -> None:
    """(in, units) in the keras namespace and (units, in) in glassnet's, even when both are
    (4, 4): the same array means the same product in each namespace's own convention."""
    kernel = np.random.default_rng(1).normal(size=(4, 4)).astype(np.float32)
    x = np.random.default_rng(2).normal(size=(5, 4)).astype(np.float32)
    k = keras.layers.Dense(4, input_dim=4, use_bias=False)
    g = gn.layers.Dense(4, input_dim=4, use_bias=False)
    k.set_weights([kernel])
    g.set_weights([kernel])
    np.testing.assert_allclose(k(x).numpy(), x @ kernel, rtol=1e-6)  # Keras: x · kernel
    np.testing.assert_allclose(g(x).numpy(), x @ kernel.T, rtol=1e-6)  # seeds: z = a Wᵀ
    np.testing.assert_array_equal(k.get_weights()[0], kernel)
    np.testing.assert_array_equal(g.get_weights()[0], kernel)


def test_model_weights_round_trip_between_namespaces() -> None:
    gn.seed(3)
    km = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(5), keras.layers.Dense(2)])
    gm = gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(5), gn.layers.Dense(2)])
    keras_arrays = km.get_weights()
    assert [w.shape for w in keras_arrays] == [(3, 5), (5,), (5, 2), (2,)]
    # moving them to glassnet's layout is a transpose of each kernel, and nothing else
    gm.set_weights([w.T if w.ndim == 2 else w for w in keras_arrays])
    x = np.random.default_rng(4).normal(size=(6, 3)).astype(np.float32)
    np.testing.assert_array_equal(gm.predict(x), km.predict(x))


def test_keras_weights_file_loads_and_predicts_by_hand(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    k1, b1 = rng.normal(size=(4, 8)).astype(np.float32), rng.normal(size=8).astype(np.float32)
    k2, b2 = rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    path = tmp_path / "model.weights.h5"
    _write_keras_file(path, {"layers/dense": [k1, b1], "layers/dense_1": [k2, b2]})

    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dropout(0.5),  # no variables: Keras writes an empty group, or none
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.load_weights(path)
    x = rng.normal(size=(10, 4)).astype(np.float32)
    expected = _softmax(_relu(x @ k1 + b1) @ k2 + b2)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-7)
    # glassnet's own Sequential of glassnet Dense layers reads the same file the same way
    own = gn.Sequential(
        [gn.layers.Dense(8, activation="relu", input_dim=4), gn.layers.Dense(3, "softmax")]
    )
    keras.saving.load_keras_weights(own, path)
    np.testing.assert_allclose(own.predict(x), expected, rtol=1e-5, atol=1e-7)


def test_keras_file_of_a_subclassed_model_with_embedding(tmp_path: Path) -> None:
    """Layers held as attributes are addressed by the attribute's name, in sorted order."""

    class TextModel(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.embed = keras.layers.Embedding(12, 4)
            self.head = keras.layers.Dense(2)

        def call(self, inputs: Any) -> Any:
            return self.head(ops.mean(self.embed(inputs), axis=1))

    rng = np.random.default_rng(6)
    table = rng.normal(size=(12, 4)).astype(np.float32)
    kernel, bias = rng.normal(size=(4, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32)
    path = tmp_path / "text.weights.h5"
    _write_keras_file(path, {"embed": [table], "head": [kernel, bias]})
    model = TextModel()
    tokens = rng.integers(0, 12, size=(5, 7))
    model(tokens)  # build
    model.load_weights(path)
    np.testing.assert_allclose(
        model.predict(tokens), table[tokens].mean(axis=1) @ kernel + bias, rtol=1e-5, atol=1e-6
    )


def test_a_file_that_does_not_fit_changes_nothing(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    path = tmp_path / "bad.weights.h5"
    _write_keras_file(
        path,
        {
            "layers/dense": [rng.normal(size=(4, 8)), rng.normal(size=8)],
            "layers/dense_1": [rng.normal(size=(8, 5)), rng.normal(size=5)],  # 5, not 3
        },
    )
    model = keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(8), keras.layers.Dense(3)]
    )
    before = model.get_weights()
    with pytest.raises(gn.errors.ShapeError, match=r"layers/dense_1/vars/0 has shape \(8, 5\)"):
        model.load_weights(path)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    missing = tmp_path / "missing.weights.h5"
    _write_keras_file(missing, {"layers/dense": [rng.normal(size=(4, 8)), rng.normal(size=8)]})
    with pytest.raises(gn.errors.FileFormatError, match="no group 'layers/dense_1/vars'"):
        model.load_weights(missing)


def test_layer_weights_show_keras_shapes_and_share_values() -> None:
    """layer.weights in the keras namespace: [kernel (in, units), bias], the kernel a view of
    W (what is written through it lands in W) and differentiable."""
    layer = keras.layers.Dense(3)
    assert layer.weights == []  # not built yet, as in Keras
    layer(ops.ones((1, 4)))
    kernel, bias = layer.weights
    assert tuple(kernel.shape) == (4, 3) and tuple(bias.shape) == (3,)
    np.testing.assert_array_equal(kernel.numpy(), layer.W.data.T)
    model = keras.Sequential([keras.Input(shape=(4,)), layer])
    assert [tuple(w.shape) for w in model.weights] == [(4, 3), (3,)]
    assert len(model.trainable_weights) == 2
    layer.trainable = False
    assert len(model.non_trainable_weights) == 2 and model.trainable_weights == []
