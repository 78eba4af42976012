"""GlassnetClassifier / GlassnetRegressor inside scikit-learn's tools, against scikit-learn."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="glassnet.sklearn needs scikit-learn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_methods_subset_invariance  # noqa: E402

import glassnet  # noqa: E402
from glassnet import _rng  # noqa: E402
from glassnet.sklearn import GlassnetClassifier, GlassnetRegressor  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data, data.target


def _grid_search(X, y, n_jobs, backend=None):
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("net", GlassnetClassifier(epochs=6, batch_size=64, random_state=0)),
        ]
    )
    grid = {"net__hidden_layer_sizes": [(8,), (32,)], "net__learning_rate": [3e-4, 3e-3]}
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs)
    if backend is None:
        return search.fit(X, y)
    from joblib import parallel_backend

    with parallel_backend(backend, n_jobs=n_jobs):
        return search.fit(X, y)


def test_grid_search_parallel_matches_sequential(digits):
    X, y = digits
    sequential = _grid_search(X, y, n_jobs=1)
    processes = _grid_search(X, y, n_jobs=2)  # joblib's default backend: loky processes
    threads = _grid_search(X, y, n_jobs=2, backend="threading")
    scores = sequential.cv_results_["mean_test_score"]
    assert scores.max() - scores.min() > 0.05, "the grid must matter for this test to mean much"
    for parallel in (processes, threads):
        assert parallel.best_params_ == sequential.best_params_
        for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
            np.testing.assert_allclose(parallel.cv_results_[key], sequential.cv_results_[key],
                                       atol=1e-12)  # fmt: skip
    assert sequential.best_score_ > 0.85


def test_cross_val_score_and_clone(digits):
    X, y = digits
    net = GlassnetClassifier(hidden_layer_sizes=(32,), learning_rate=3e-3, epochs=5,
                             random_state=1)  # fmt: skip
    scores = cross_val_score(Pipeline([("s", StandardScaler()), ("n", net)]), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85
    copy = clone(net)
    assert copy.get_params() == net.get_params() and not hasattr(copy, "model_")


def test_same_random_state_same_network_in_threads(digits):
    X, y = digits
    X = X[:600] / 16.0
    y = y[:600]

    def fit(seed):
        return GlassnetClassifier(hidden_layer_sizes=(16,), epochs=3, dropout=0.2,
                                  random_state=seed).fit(X, y)  # fmt: skip

    sequential = [fit(seed).predict_proba(X) for seed in range(4)]
    results: dict[int, np.ndarray] = {}

    def worker(seed):
        results[seed] = fit(seed).predict_proba(X)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in range(4):
        np.testing.assert_array_equal(results[seed], sequential[seed])
    assert not np.allclose(sequential[0], sequential[1])  # the seed matters


def test_fit_leaves_the_global_generator_alone(digits):
    X, y = digits
    glassnet.seed(123)
    expected = _rng.generator().random(3)
    glassnet.seed(123)
    GlassnetClassifier(hidden_layer_sizes=(8,), epochs=1, random_state=5).fit(X[:200], y[:200])
    np.testing.assert_array_equal(_rng.generator().random(3), expected)


def test_pandas_and_string_labels():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["height", "weight", "age"])
    y = pd.Series(np.where(X["height"] + 0.5 * X["weight"] > 0, "tall", "short"))
    clf = GlassnetClassifier(hidden_layer_sizes=(16,), learning_rate=0.01, epochs=30,
                             random_state=0).fit(X, y)  # fmt: skip
    assert list(clf.feature_names_in_) == ["height", "weight", "age"]
    assert clf.n_features_in_ == 3
    assert list(clf.classes_) == ["short", "tall"]
    assert set(clf.predict(X)) == {"short", "tall"}
    assert clf.score(X, y) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(X.rename(columns={"age": "years"}))


def test_multi_output_regression():
    X, y = make_regression(n_samples=400, n_features=5, n_targets=3, noise=0.1, random_state=0)
    y = y / y.std(axis=0)
    reg = GlassnetRegressor(hidden_layer_sizes=(32,), learning_rate=0.01, epochs=60,
                            random_state=0).fit(X, y)  # fmt: skip
    pred = reg.predict(X)
    assert pred.shape == (400, 3) and pred.dtype == np.float64
    assert reg.score(X, y) > 0.95
    single = GlassnetRegressor(hidden_layer_sizes=(8,), epochs=2, random_state=0)
    assert single.fit(X, y[:, 0]).predict(X).shape == (400,)


def test_partial_fit_continues_and_checks(digits):
    X, y = digits
    X = X / 16.0
    clf = GlassnetClassifier(hidden_layer_sizes=(32,), learning_rate=3e-3, random_state=0)
    with pytest.raises(ValueError, match="classes="):
        clf.partial_fit(X[:100], y[:100])
    clf.partial_fit(X[:900], y[:900], classes=np.arange(10))
    first = clf.score(X[900:], y[900:])
    for _ in range(4):
        clf.partial_fit(X[:900], y[:900])
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 5
    assert clf.score(X[900:], y[900:]) > first
    with pytest.raises(ValueError, match=r"labels \[11\]"):
        clf.partial_fit(X[:2], np.array([1, 11]))
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:10, :5], y[:10])


def test_early_stopping_keeps_the_best_epoch(digits):
    X, y = digits
    clf = GlassnetClassifier(hidden_layer_sizes=(32,), learning_rate=0.05, epochs=40,
                             early_stopping=True, patience=2, random_state=0)  # fmt: skip
    clf.fit(X / 16.0, y)
    val = clf.validation_loss_curve_
    assert len(val) == clf.n_iter_ < 40
    assert np.argmin(val) == len(val) - 1 - 2  # stopped `patience` epochs after the best


@pytest.mark.parametrize(
    "param, value",
    [("epochs", 0), ("hidden_layer_sizes", (4, -1)), ("learning_rate", -1.0), ("dtype", "int8"),
     ("batch_size", 0), ("dropout", 1.0), ("validation_fraction", 0.0), ("verbose", 3)],
)  # fmt: skip
def test_bad_parameters_are_named_at_fit(param, value):
    est = GlassnetClassifier(**{param: value})  # storing never fails (scikit-learn's rule)
    with pytest.raises(ValueError, match=rf"{param} must be .*received {param}="):
        est.fit(np.zeros((4, 2)), [0, 1, 0, 1])


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="only one class"):
        GlassnetClassifier().fit(np.zeros((4, 2)), [3, 3, 3, 3])


def test_subset_invariance_in_float64():
    """The check marked as an expected failure for float32 networks passes in float64."""
    est = GlassnetRegressor(hidden_layer_sizes=(16,), learning_rate=0.02, epochs=20,
                            random_state=0, dtype="float64")  # fmt: skip
    check_methods_subset_invariance("GlassnetRegressor", est)


def test_float64_network_is_float64():
    X, y = make_regression(n_samples=50, n_features=3, random_state=0)
    reg = GlassnetRegressor(hidden_layer_sizes=(4,), epochs=1, dtype="float64").fit(X, y)
    assert reg.model_.dtype == np.float64


def test_missing_sklearn_gives_one_sentence():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "try:\n    import glassnet.sklearn\n"
        "except ImportError as e:\n    print(type(e).__name__, '|', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("MissingDependencyError |")
    assert "pip install 'glassnet[sklearn]'" in out.stdout
    assert out.stdout.count(". ") == 0  # one sentence
