"""A new layer type written with the public protocol only gets every path for free.

``Scale`` below (a = x ⊙ s, one trainable factor per feature) is defined here, outside the
library, with nothing but ``glassnet.layers.Layer``'s kernels and declarations. Without any
change to glassnet it trains through the fast step exactly as through the graph, passes a
numerical gradient check, saves and loads with its sizes checked before anything is built, shows
up in telemetry and in the doctor's run, and the explain trace says clearly that it cannot
trace it.
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.errors import FileFormatError, NotTraceableError
from glassnet.nn import Parameter


@gn.register(name="tests.nn.Scale")
class Scale(L.Layer):
    """a = x ⊙ s for a batch x of shape (N, features); s has shape (features,).

    backward: ∂C/∂s = Σ_n g ⊙ x, ∂C/∂x = g ⊙ s.
    """

    def __init__(self, name=None, input_shape=None, dtype=None):
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.s = None

    def parameter_shapes(self, input_shape):
        return {"s": (int(input_shape[-1]),)}

    def build(self, input_shape):
        shape = self.parameter_shapes(input_shape)["s"]
        self.s = Parameter(np.linspace(0.5, 1.5, shape[0]).astype(self.dtype), name="s")
        self._apply_trainable()
        self.built = True

    def forward_kernel(self, x, ctx):
        ctx.saved = x
        return x * self.s.data

    def backward_kernel(self, ctx, g):
        if ctx.grads[0] is not None:
            np.sum(g * ctx.saved, axis=0, out=ctx.grads[0])
        return g * self.s.data if ctx.need_input_grad else None

    def telemetry_tap(self, ctx):
        return {
            "kernel": None,
            "z": None,
            "a": None,
            "delta": None,
            "W": self.s.data,
            "grad_W": ctx.grads[0] if ctx.grads else None,
        }


def _model(fused="auto", dtype="float64"):
    gn.seed(0)
    model = gn.Sequential(
        [
            L.Dense(6, activation="tanh", input_dim=4, dtype=dtype),
            Scale(dtype=dtype),
            L.Dense(3, activation="softmax", dtype=dtype),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", fused=fused)
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 4)), rng.integers(0, 3, size=40)


def test_the_new_layer_trains_through_the_fast_step_as_through_the_graph():
    x, y = _data()
    results = []
    for fused in ("auto", False):
        model = _model(fused)
        history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
        results.append((model.fit_path()[0], history.history["loss"], model.get_weights()))
    (fast_path, fast_loss, fast_w), (graph_path, graph_loss, graph_w) = results
    assert (fast_path, graph_path) == ("fast", "graph")
    np.testing.assert_allclose(fast_loss, graph_loss, rtol=1e-10)
    for a, b in zip(fast_w, graph_w):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert not np.allclose(fast_w[2], np.linspace(0.5, 1.5, 6)), "s was trained"


def test_the_new_layers_kernels_pass_a_numerical_gradient_check():
    layer = Scale(dtype="float64")
    x = gn.tensor(np.random.default_rng(1).normal(size=(3, 5)), dtype="float64", requires_grad=True)
    layer.build((5,))
    result = gn.gradcheck(lambda t: gn.functional.sum(layer(t) * layer(t)), (x,))
    assert result.ok, result


def test_the_new_layer_saves_loads_and_its_sizes_are_checked_before_building(tmp_path, monkeypatch):
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "scale.safetensors"
    model.save(path)
    loaded = gn.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))

    built = []
    monkeypatch.setattr(Scale, "parameter_shapes", lambda self, shape: {"s": (7,)})
    monkeypatch.setattr(Scale, "build", lambda self, shape: built.append(shape))
    with pytest.raises(FileFormatError, match=r"scale\.s has shape \(6,\).*needs \(7,\)"):
        gn.load_model(path)
    assert built == [], "nothing is built before the sizes are checked"


def test_the_new_layer_has_telemetry_rows_and_a_doctor_run():
    x, y = _data()
    model = _model(dtype="float32")
    doctor = gn.diagnostics.Doctor(verbose=0)
    history = model.fit(
        x.astype(np.float32), y, epochs=3, batch_size=8, verbose=0, telemetry=1, doctor=doctor
    )
    rows = history.telemetry.layers["scale"]
    assert len(rows["grad_norm"]) == 15 and np.all(np.isfinite(rows["grad_norm"]))
    assert np.all(np.isfinite(rows["update_ratio"]))
    assert history.telemetry.layer_info["scale"] == {
        "activation": "linear",
        "units": 6,
        "inputs": 1,
    }
    assert isinstance(gn.diagnostics.diagnose(history, model), list)
    assert doctor.findings == history.findings


def test_explain_says_the_new_layer_is_not_traceable():
    x, y = _data()
    with pytest.raises(NotTraceableError, match=r"'scale' \(Scale\) is not traceable"):
        gn.explain.backprop(_model(), x[:2], y[:2])
