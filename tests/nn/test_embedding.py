"""Embedding: its kernels pass gradcheck and match torch.nn.functional.embedding; it trains
the same through the fast step and the graph; saves and loads; refuses bad indices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense, Embedding, Flatten

IDX = np.array([[1, 4, 4], [0, 2, 1]])  # index 4 twice and 1 twice: the gradient sums


class _TableAsInput(Embedding):
    """The layer's own kernels, with the table taken from ``self.embeddings`` whatever tensor
    it is, so that gradcheck can perturb it."""

    def kernel_parameters(self) -> list[Any]:
        return [self.embeddings]


def test_embedding_kernels_pass_gradcheck() -> None:
    layer = _TableAsInput(5, 3, dtype="float64")
    table = np.random.default_rng(0).normal(size=(5, 3))

    def run(table_tensor: Any) -> Any:
        layer.embeddings = table_tensor
        return layer(IDX)

    report = gn.gradcheck(run, [table])
    assert report.ok, str(report)


def test_embedding_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    gn.seed(1)
    layer = Embedding(6, 4, dtype="float64")
    out = layer(IDX)
    upstream = np.random.default_rng(2).normal(size=out.shape)
    out.backward(upstream)
    table = torch.tensor(layer.embeddings.data, requires_grad=True)
    ref = torch.nn.functional.embedding(torch.tensor(IDX), table)
    ref.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())
    np.testing.assert_allclose(layer.embeddings.grad, table.grad.numpy(), rtol=1e-12)


def _model(fused: Any) -> Any:
    gn.seed(3)
    model = gn.Sequential(
        [Embedding(20, 4, input_shape=(5,), dtype="float64"), Flatten(), Dense(2, dtype="float64")]
    )
    model.compile("adam", "mse", fused=fused)
    return model


def test_fast_step_and_graph_agree() -> None:
    rng = np.random.default_rng(4)
    x = rng.integers(0, 20, size=(64, 5))
    y = rng.normal(size=(64, 2))
    runs = []
    for fused in ("auto", False):
        model = _model(fused)
        history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        runs.append((model.fit_path()[0], history.history["loss"], model.get_weights()))
    (p1, l1, w1), (p2, l2, w2) = runs
    assert (p1, p2) == ("fast", "graph")
    np.testing.assert_allclose(l1, l2, rtol=1e-12)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    # rows of indices never seen keep their initial values
    unseen = sorted(set(range(20)) - set(x.ravel().tolist()))
    fresh = _model("auto").get_weights()[0]
    np.testing.assert_array_equal(w1[0][unseen], fresh[unseen])


def test_save_and_load(tmp_path: Path) -> None:
    model = _model("auto")
    x = np.random.default_rng(5).integers(0, 20, size=(8, 5))
    model.fit(x, np.zeros((8, 2)), epochs=1, verbose=0)
    model.save(tmp_path / "emb.gn")
    loaded = gn.load_model(tmp_path / "emb.gn")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_keras_arguments_and_defaults() -> None:
    layer = Embedding(10, 3, embeddings_initializer="uniform", mask_zero=True)
    table = layer.embeddings.numpy()
    assert table.shape == (10, 3) and table.dtype == np.float32
    assert np.abs(table).max() <= 0.05  # Keras's uniform: U(−0.05, 0.05)
    assert layer.compute_output_shape((7,)) == (7, 3)
    assert layer.get_config()["mask_zero"] is True
    # float inputs holding whole numbers are accepted as indices
    np.testing.assert_array_equal(layer(np.array([[2.0, 3.0]])).numpy(), table[[[2, 3]]])


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([[10]]), r"indices must lie in \[0, 10\)"),
        (np.array([[-1]]), r"indices must lie in \[0, 10\)"),
        (np.array([[1.5]]), "integer indices"),
    ],
)
def test_bad_indices_are_named(bad: np.ndarray, match: str) -> None:
    with pytest.raises(gn.GlassnetError, match=match):
        Embedding(10, 3)(bad)


@pytest.mark.parametrize("arg", ["input_dim", "output_dim"])
def test_bad_sizes_are_named(arg: str) -> None:
    kwargs = {"input_dim": 4, "output_dim": 2, arg: 0}
    with pytest.raises(gn.errors.InvalidArgumentError, match=arg):
        Embedding(**kwargs)
