"""The fused step's compiled kernels give bit-identical results to the NumPy reference ops;
predict and evaluate agree with the graph's forward.

Bit for bit where the same operations run on the same arrays (a compiled elementwise loop and
its NumPy twin; predict and forward on the same batch); within float32/float64 tolerance where
the matrix products differ (predict in batches of 8 against one forward over all rows: other
shapes, so BLAS may pick another kernel and round differently)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from _tolerance import assert_close
from glassnet.functional.activations import KERNELS
from glassnet.functional.array_ops import NUMPY_OPS
from glassnet.functional.nn import (
    dropout_bits,
    dropout_mask,
    softmax_cross_entropy_parts,
)
from glassnet.layers import Dense, Dropout, Flatten, Rescaling
from glassnet.optim import accelerated
from glassnet.training import kernels, parallel
from glassnet.training.kernels import COMPILED_OPS

DTYPES = [np.float32, np.float64]


@pytest.fixture
def compiled():
    """The compiled kernels, built now; a skip where numba is missing or switched off."""
    if not accelerated.available():
        pytest.skip("numba is not installed: only the NumPy path exists here")
    if not accelerated.enabled():
        pytest.skip("GLASSNET_NO_NUMBA=1: the compiled kernels are switched off")
    assert kernels._kernels() is not None, "numba is installed, the kernels must compile"
    yield
    accelerated.enable(True)


def both(fn):
    """fn(ops) with the compiled ops, then with the NumPy reference: the two results."""
    return fn(COMPILED_OPS), fn(NUMPY_OPS)


def special(rng, shape, dtype):
    """Random values with NaN, ±inf, ±0 and subnormals mixed in."""
    x = rng.normal(size=shape).astype(dtype)
    flat = x.reshape(-1)
    values = [np.nan, np.inf, -np.inf, 0.0, -0.0, np.finfo(dtype).tiny / 4, -1e-30]
    for i, v in enumerate(values):
        if i < flat.size:
            flat[(i * 7919) % flat.size] = v
    return x


def assert_same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    # view as integers: NaN payloads and the sign of zero count too
    np.testing.assert_array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("src", [np.uint8, np.int16, np.int64])
@pytest.mark.parametrize("shape", [(0,), (5,), (3, 7), (64, 28, 28)])
def test_scale_into(compiled, dtype, src, shape):
    x = np.random.default_rng(1).integers(0, 120, size=shape).astype(src)
    ref = np.multiply(x, np.dtype(dtype).type(1 / 255), dtype=dtype)
    fast, slow = both(lambda ops: ops.scale_into(x, 1 / 255, np.empty(shape, dtype)))
    assert_same_bits(fast, ref)
    assert_same_bits(slow, ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (256, 128)])
def test_bias_relu(compiled, dtype, shape):
    rng = np.random.default_rng(2)
    z0 = special(rng, shape, dtype)
    b = special(rng, shape[1:], dtype)
    expected_z = z0 + b
    expected = np.maximum(expected_z, 0)

    def run(ops):
        z = z0.copy()
        out = ops.bias_relu(z, b, np.empty_like(z))
        return z, out

    for z, out in both(run):
        assert_same_bits(z, expected_z)
        assert_same_bits(out, expected)


def test_bias_relu_turns_negative_zero_into_positive_zero_as_numpy_does(compiled):
    z = np.full((2, 3), -0.0, np.float32)
    out = COMPILED_OPS.bias_relu(z, np.zeros(3, np.float32) * -1, np.empty_like(z))
    assert_same_bits(out, np.maximum(np.full((2, 3), -0.0, np.float32), 0))
    assert not np.signbit(out).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rate", [0.2, 0.5, 0.9])
@pytest.mark.parametrize("shape", [(7,), (32, 128), (3, 4, 5)])
def test_apply_dropout_equals_the_autograd_mask(compiled, dtype, rate, shape):
    x = special(np.random.default_rng(3), shape, dtype)
    gn.seed(11)
    mask = dropout_mask(shape, rate, dtype)
    expected = x * mask

    def run(ops):
        gn.seed(11)  # the same bits as dropout_mask drew
        return ops.apply_dropout(x, dropout_bits(shape), rate, np.empty_like(x))

    for out in both(run):
        assert_same_bits(out, expected)


def test_apply_dropout_in_place(compiled):
    g = np.random.default_rng(4).normal(size=(16, 8)).astype(np.float32)
    bits = np.random.default_rng(5).integers(0, 2**32, size=g.shape, dtype=np.uint32)
    expected = NUMPY_OPS.apply_dropout(g, bits, 0.3, np.empty_like(g))
    out = COMPILED_OPS.apply_dropout(g, bits, 0.3, g)
    assert out is g
    assert_same_bits(g, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (4, 9), (256, 128)])
def test_relu_vjp_equals_the_relu_kernel(compiled, dtype, shape):
    rng = np.random.default_rng(6)
    z, g = special(rng, shape, dtype), special(rng, shape, dtype)
    expected = KERNELS["relu"].vjp(z, np.maximum(z, 0), g)
    for out in both(lambda ops: ops.relu_vjp(z, g, np.empty_like(g))):
        assert_same_bits(out, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape", [(1, 5), (2, 3), (7, 128), (31, 10), (256, 10), (256, 128), (1000, 33)]
)
def test_column_sums_equal_numpy_sum_over_axis_0(compiled, dtype, shape):
    rng = np.random.default_rng(7)
    # magnitudes from 1e-3 to 1e3, so a different order of additions changes the bits
    g = (rng.normal(size=shape) * 10.0 ** rng.uniform(-3, 3, size=shape)).astype(dtype)
    if shape[0] >= 256:
        pairwise = np.sum(np.ascontiguousarray(g.T), axis=1)  # the other order NumPy uses
        assert not np.array_equal(pairwise, np.sum(g, axis=0))
    expected = np.sum(g, axis=0)
    for out in both(lambda ops: ops.column_sums(g, np.empty(shape[1], dtype))):
        assert_same_bits(out, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,k", [(1, 2), (5, 3), (32, 10), (256, 10), (64, 100)])
def test_sparse_softmax_cross_entropy_equals_the_shared_parts(compiled, dtype, n, k):
    rng = np.random.default_rng(8)
    z = (rng.normal(size=(n, k)) * 30).astype(dtype)
    z[0, 0] = 1000.0  # a saturated row
    labels = rng.integers(0, k, size=n).astype(np.intp)
    per_ref, a_ref = softmax_cross_entropy_parts(z, labels=labels)
    delta_ref = a_ref.copy()
    delta_ref[np.arange(n), labels] -= 1.0
    delta_ref *= 1.0 / n

    def run(ops):
        delta = np.empty_like(z)
        per, a = ops.sparse_softmax_cross_entropy(z, labels, delta, 1.0 / n)
        return per, a, delta

    for per, a, delta in both(run):
        assert_same_bits(per, per_ref)
        assert_same_bits(a, a_ref)
        assert_same_bits(delta, delta_ref)


def test_sparse_softmax_cross_entropy_propagates_nan(compiled):
    z = np.array([[1.0, np.nan, 2.0], [0.5, 0.25, 0.125]], np.float32)
    labels = np.array([0, 2], np.intp)
    per, a = COMPILED_OPS.sparse_softmax_cross_entropy(z, labels, np.empty_like(z), 0.5)
    per_ref, a_ref = softmax_cross_entropy_parts(z, labels=labels)
    assert np.isnan(per[0]) and np.isnan(a[0]).all()
    assert_same_bits(per, per_ref)
    assert_same_bits(a, a_ref)


def _seed_model_run(batch_size, telemetry):
    x = np.random.default_rng(9).integers(0, 256, size=(600, 28, 28), dtype=np.uint8)
    y = np.random.default_rng(10).integers(0, 10, size=600)
    gn.seed(0)
    model = gn.Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28)),
            Flatten(),
            Dense(64, activation="relu"),
            Dropout(0.2),
            Dense(32, activation="relu"),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=batch_size, verbose=0, telemetry=telemetry)
    return [p.numpy().copy() for p in model.parameters()], history.history


@pytest.mark.parametrize("batch_size,telemetry", [(32, True), (100, False)])
def test_fit_with_kernels_equals_fit_without_bit_for_bit(
    compiled, monkeypatch, batch_size, telemetry
):
    # Only the elementwise kernels and Adam may differ between the two runs: without the engine
    # both multiply the first layer's halves with the same np.matmul calls. (The engine calls
    # cblas_sgemm directly, another BLAS entry point: test_parallel compares it with tolerance.)
    monkeypatch.setattr(parallel, "get_engine", lambda: None)
    fast_w, fast_h = _seed_model_run(batch_size, telemetry)
    accelerated.enable(False)  # the fast step's execution context then takes the NumPy ops
    try:
        slow_w, slow_h = _seed_model_run(batch_size, telemetry)
    finally:
        accelerated.enable(True)
    assert fast_h == slow_h
    for a, b in zip(fast_w, slow_w):
        assert_same_bits(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mean_equals_ndarray_mean_bit_for_bit(dtype):
    rng = np.random.default_rng(12)
    for n in [1, 2, 3, 7, 32, 100, 256, 1000, 4097]:
        for _ in range(20):
            x = (rng.normal(size=n) * 10.0 ** rng.uniform(-3, 3, size=n)).astype(dtype)
            assert COMPILED_OPS.mean(x) == float(x.mean())


def test_sparse_accuracy_update_counts_like_summed_scores():
    from glassnet.training.metrics import SparseCategoricalAccuracy

    rng = np.random.default_rng(13)
    fast, reference = SparseCategoricalAccuracy(), SparseCategoricalAccuracy()
    for n in [1, 5, 32, 256]:
        y_pred = rng.random((n, 10))
        y_true = rng.integers(0, 10, size=n)
        y_true[: n // 2] = y_pred[: n // 2].argmax(axis=1)  # some hits for sure
        fast.update(y_true, y_pred)
        s = reference.scores(y_true, y_pred)
        reference.total += float(s.sum())
        reference.count += int(s.size)
        assert (fast.total, fast.count) == (reference.total, reference.count)
    assert fast.result() == reference.result() > 0.5
    column = SparseCategoricalAccuracy()
    column.update(np.array([[1], [2]]), np.eye(3)[[1, 0]])  # (N, 1) labels
    assert column.result() == 0.5


ACTIVATIONS = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "softplus"]


def _graph_forward(model, x):
    model.eval()
    with gn.no_grad():
        out = model(x)
    model.train()
    return out.numpy()


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("output", ["softmax", "sigmoid", "linear"])
def test_predict_of_a_sequential_equals_its_forward(fast, activation, output):
    rng = np.random.default_rng(14)
    x = rng.integers(0, 256, size=(53, 6, 5), dtype=np.uint8)
    gn.seed(1)
    model = gn.Sequential(
        [
            Rescaling(1 / 127.5, offset=-1.0, input_shape=(6, 5)),
            Flatten(),
            Dense(16, activation=activation),
            Dropout(0.5),
            gn.layers.Activation("tanh"),
            Dense(7, activation=output),
        ]
    )
    before = accelerated._enabled
    accelerated.enable(fast and before)
    try:
        whole = model.predict(x, batch_size=len(x))
        in_eights = model.predict(x, batch_size=8)
    finally:
        accelerated.enable(before)
    forward = _graph_forward(model, x)
    # One batch of 53: the same operations on the same arrays as forward, the same bits.
    assert_same_bits(whole, forward)
    # Batches of 8: other shapes for BLAS, so sums of 30 products may round another way.
    assert_close(in_eights, forward, reduction=30)


@pytest.mark.parametrize("dtype", DTYPES)
def test_predict_fast_path_float_inputs_3d_dense_and_activation_layers(dtype):
    rng = np.random.default_rng(15)
    x = rng.normal(size=(37, 4, 3))  # float64 data for a float32 model: cast as forward does
    gn.seed(2)
    model = gn.Sequential(
        [
            Rescaling(0.5, input_shape=(4, 3)),
            Dense(5, activation="relu"),  # on (N, 4, 3): broadcast over the middle axis
            gn.layers.LeakyReLU(0.2),
            Flatten(),
            Dense(6),
            gn.layers.ELU(0.7),
            gn.layers.Softmax(),
        ]
    )
    if dtype == np.float64:
        model.to(np.float64)
    whole = model.predict(x, batch_size=len(x))
    predicted = model.predict(x, batch_size=10)
    assert predicted.dtype == whole.dtype == dtype
    forward = _graph_forward(model, x)
    assert_same_bits(whole, forward)
    assert_close(predicted, forward, reduction=15)  # batches of 10: Flatten → Dense sums 15


@pytest.mark.parametrize(
    "head,loss,targets",
    [
        ([Dense(5, activation="softmax")], "sparse_categorical_crossentropy", "sparse"),
        ([Dense(5), gn.layers.Softmax()], "sparse_categorical_crossentropy", "sparse"),
        ([Dense(5, activation="softmax")], "categorical_crossentropy", "onehot"),
        ([Dense(1, activation="sigmoid")], "binary_crossentropy", "binary"),
        ([Dense(3)], "mse", "real"),
    ],
)
def test_evaluate_of_a_sequential_equals_the_graph_path(monkeypatch, head, loss, targets):
    from glassnet.training import model as model_module

    rng = np.random.default_rng(16)
    x = rng.integers(0, 256, size=(45, 4, 4), dtype=np.uint8)
    y = {
        "sparse": rng.integers(0, 5, size=45),
        "onehot": np.eye(5)[rng.integers(0, 5, size=45)],
        "binary": rng.integers(0, 2, size=(45, 1)).astype(float),
        "real": rng.normal(size=(45, 3)),
    }[targets]
    gn.seed(3)
    model = gn.Sequential(
        [Rescaling(1 / 255, input_shape=(4, 4)), Flatten(), Dense(8, activation="relu"), *head]
    )
    metrics = ["mae"] if targets == "real" else ["accuracy"]
    model.compile(optimizer="adam", loss=loss, metrics=metrics)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert model.fit_path()[0] == "fast"
    fast = model.evaluate(x, y, batch_size=7, return_dict=True)
    # The graph: each layer's kernels as one autograd node, the same operations in the same order
    monkeypatch.setattr(model_module.Model, "_inference_layers", lambda self: None)
    graph = model.evaluate(x, y, batch_size=7, return_dict=True)
    assert fast == graph


def _python(code):
    """Run ``code`` in a fresh interpreter (numba not imported yet) and return its stdout."""
    env = dict(os.environ)
    env.pop("GLASSNET_NO_NUMBA", None)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_tiny_model_and_explain_never_import_numba():
    # Compiling is lazy: seed 004's 2-2-2 network trained with Adam, a teaching-sized model
    # and the explain trace stay on the NumPy path and never even import numba.
    out = _python(
        """
import sys
import numpy as np
import glassnet as gn
from glassnet.explain import backprop
from glassnet.explain.examples import seed004_example
model, x, y, loss, lr = seed004_example()
backprop(model, x[None], y[None], loss=loss, learning_rate=lr).check()
gn.seed(0)
net = gn.Sequential([gn.layers.Dense(2, activation="sigmoid", input_dim=2),
                     gn.layers.Dense(2, activation="sigmoid")])
net.compile(optimizer="adam", loss="mse")
net.fit(np.random.rand(64, 2), np.random.rand(64, 2), epochs=20, batch_size=4, verbose=0)
net.predict(np.random.rand(8, 2))
print("numba" in sys.modules)
"""
    )
    assert out.split() == ["False"]


def test_a_model_with_large_arrays_compiles_the_kernels():
    pytest.importorskip("numba")
    out = _python(
        """
import numpy as np
import glassnet as gn
from glassnet.optim import accelerated
from glassnet.training import kernels
gn.seed(0)
model = gn.Sequential([gn.layers.Dense(128, activation="relu", input_dim=30),
                       gn.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(np.random.rand(64, 30).astype("float32"), np.arange(64) % 10, epochs=1,
          batch_size=32, verbose=0)
print(kernels.compiled(), accelerated.compiled(), accelerated.COMPILE_MIN)
"""
    )
    # 32 × 128 = 4096 activations and 5,258 weights: both reach COMPILE_MIN (4096).
    assert out.split() == ["True", "True", "4096"]
