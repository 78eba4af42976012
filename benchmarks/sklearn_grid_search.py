"""A scikit-learn grid search with glassnet's estimator against scikit-learn's MLPClassifier.

The practitioner's sweep from issue 19: StandardScaler → classifier in a Pipeline,
GridSearchCV over hidden sizes × learning rates, 3-fold, on the digits set (1,797 8×8
images), sequentially and with n_jobs=2. Both classifiers use the same architecture, Adam,
batch 32 and the same number of epochs. It prints wall time, best parameters and best score
for each run, and checks that glassnet's best parameters and scores are the same with
n_jobs=2 as with n_jobs=1.

    python benchmarks/sklearn_grid_search.py --epochs 20
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any


def search(estimator: Any, prefix: str, lr_name: str, n_jobs: int, X: Any, y: Any) -> Any:
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    grid = {f"{prefix}__hidden_layer_sizes": [(32,), (128,)], f"{prefix}__{lr_name}": [1e-3, 1e-2]}
    pipe = Pipeline([("scale", StandardScaler()), (prefix, estimator)])
    return GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs).fit(X, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from glassnet.sklearn import GlassnetClassifier

    X, y = load_digits(return_X_y=True)
    peers = {
        "scikit-learn MLPClassifier": (
            MLPClassifier(max_iter=args.epochs, batch_size=32, random_state=0),
            "learning_rate_init",
        ),
        "glassnet GlassnetClassifier": (
            GlassnetClassifier(epochs=args.epochs, batch_size=32, random_state=0),
            "learning_rate",
        ),
    }
    results = {}
    for name, (estimator, lr_name) in peers.items():
        for n_jobs in (1, 2):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                found = search(estimator, "clf", lr_name, n_jobs, X, y)
            seconds = time.perf_counter() - start
            results[name, n_jobs] = found
            best = {k.split("__")[1]: v for k, v in found.best_params_.items()}
            print(f"{name:28s} n_jobs={n_jobs}: {seconds:6.1f} s  best {best}  "
                  f"score {found.best_score_:.4f}")  # fmt: skip
    one, two = results["glassnet GlassnetClassifier", 1], results["glassnet GlassnetClassifier", 2]
    same = one.best_params_ == two.best_params_ and np.allclose(
        one.cv_results_["mean_test_score"], two.cv_results_["mean_test_score"], atol=1e-12
    )
    print(f"glassnet, n_jobs=2 against n_jobs=1: {'the same' if same else 'DIFFERENT'} best "
          f"parameters and scores")  # fmt: skip


if __name__ == "__main__":
    main()
