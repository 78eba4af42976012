"""scikit-learn estimators: ``GlassnetClassifier`` and ``GlassnetRegressor``.

They wrap a glassnet ``Sequential`` of Dense layers (the seeds' a^l = σ(W^l a^{l−1} + b^l))
so that it works wherever scikit-learn expects an estimator: ``Pipeline``, ``GridSearchCV``,
``cross_val_score``, ``clone``, joblib's process and thread backends. The constructor only
stores its arguments; ``fit`` checks them, builds the network and trains it with glassnet's
own ``fit``. The fitted network is ``model_``.

Randomness: every fit draws the initial weights, the shuffling order, dropout masks and the
early-stopping split from its own generator, seeded from ``random_state`` and installed for the
calling thread only (``glassnet._rng.using``), so parallel fits in threads or processes give
the same numbers as sequential ones. Needs scikit-learn ≥ 1.6 (``pip install
'glassnet[sklearn]'``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _rng
from .errors import InvalidArgumentError, require

require("sklearn", "glassnet.sklearn", "sklearn")

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402
from sklearn.utils.multiclass import check_classification_targets  # noqa: E402
from sklearn.utils.validation import check_is_fitted, validate_data  # noqa: E402

from .nn.layers import Dense, Dropout  # noqa: E402
from .optim import optimizers  # noqa: E402
from .training import EarlyStopping, Sequential  # noqa: E402

__all__ = ["GlassnetClassifier", "GlassnetRegressor"]

_DTYPES = {"float32": np.float32, "float64": np.float64}


def _check(condition: bool, name: str, value: Any, expected: str, where: str) -> None:
    if not condition:
        raise InvalidArgumentError(f"{where}: {name} must be {expected}, received {name}={value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


class _GlassnetEstimator(BaseEstimator):
    """What the classifier and the regressor share: parameters, network, fitting."""

    _loss = ""
    _output_activation = ""

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        epochs: int = 50,
        batch_size: int = 32,
        dropout: float = 0.0,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        patience: int = 10,
        random_state: Any = None,
        verbose: int = 0,
        dtype: str = "float32",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype

    # -- checks (at fit, never in __init__, as scikit-learn requires) --------------------------
    def _hidden_sizes(self, where: str) -> list[int]:
        sizes = self.hidden_layer_sizes
        if _is_int(sizes):
            sizes = (sizes,)
        ok = isinstance(sizes, (list, tuple)) and all(_is_int(s) and s >= 1 for s in sizes)
        _check(ok, "hidden_layer_sizes", self.hidden_layer_sizes, "a tuple of ints ≥ 1", where)
        return [int(s) for s in sizes]

    def _check_params(self, where: str) -> None:
        _check(self.dtype in _DTYPES, "dtype", self.dtype, "'float32' or 'float64'", where)
        _check(isinstance(self.activation, str), "activation", self.activation, "a name", where)
        _check(isinstance(self.optimizer, str), "optimizer", self.optimizer, "a name", where)
        lr = self.learning_rate
        _check(_is_number(lr) and lr > 0, "learning_rate", lr, "a number > 0", where)
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            _check(_is_int(value) and value >= 1, name, value, "an int ≥ 1", where)
        rate = self.dropout
        _check(_is_number(rate) and 0 <= rate < 1, "dropout", rate, "in [0, 1)", where)
        frac = self.validation_fraction
        _check(_is_number(frac) and 0 < frac < 1, "validation_fraction", frac, "in (0, 1)", where)
        wait = self.patience
        _check(_is_int(wait) and wait >= 0, "patience", wait, "an int ≥ 0", where)
        _check(self.verbose in (0, 1, 2), "verbose", self.verbose, "0, 1 or 2", where)

    # -- the network -----------------------------------------------------------------------------
    def _build(self, n_features: int, n_outputs: int) -> Sequential:
        """Dense(h, activation) [Dropout] for each hidden size, then the output layer."""
        dtype = _DTYPES[self.dtype]
        layers: list[Any] = []
        for units in self._hidden_sizes("fit"):
            layers.append(Dense(units, self.activation, dtype=dtype))
            if self.dropout:
                layers.append(Dropout(float(self.dropout), dtype=dtype))
        layers.append(Dense(n_outputs, self._output_activation, dtype=dtype))
        model = Sequential(layers)
        model.build((n_features,))
        opt = optimizers.get(self.optimizer.lower())
        opt.learning_rate = float(self.learning_rate)
        model.compile(optimizer=opt, loss=self._loss)
        return model

    def _new_generator(self) -> np.random.Generator:
        """This fit's own generator, from ``random_state`` (an int, a RandomState or None)."""
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return np.random.default_rng(int(seed))

    def _validation_split(
        self, X: np.ndarray, y: np.ndarray, gen: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
        stratify = None
        if isinstance(self, ClassifierMixin) and np.bincount(y).min() >= 2:
            stratify = y
        try:
            X_tr, X_val, y_tr, y_val = train_test_split(
                X,
                y,
                test_size=self.validation_fraction,
                random_state=int(gen.integers(np.iinfo(np.int32).max)),
                stratify=stratify,
            )
        except ValueError as exc:
            raise InvalidArgumentError(
                f"fit: early_stopping cannot hold out validation_fraction="
                f"{self.validation_fraction} of {len(X)} samples ({exc})"
            ) from None
        return X_tr, y_tr, (X_val, y_val)

    def _train(self, X: np.ndarray, y: np.ndarray, epochs: int, gen: np.random.Generator) -> None:
        """Build the network if needed and train it, drawing every random number from gen."""
        validation = None
        callbacks = []
        if self.early_stopping and epochs > 1:
            X, y, validation = self._validation_split(X, y, gen)
            callbacks.append(EarlyStopping(patience=self.patience, restore_best_weights=True))
        with _rng.using(gen):
            if not hasattr(self, "model_"):
                self.model_ = self._build(X.shape[1], self._n_outputs)
            history = self.model_.fit(
                X,
                y,
                batch_size=min(int(self.batch_size), len(X)),
                epochs=epochs,
                verbose=self.verbose,
                validation_data=validation,
                callbacks=callbacks,
                telemetry=False,
                doctor=False,
            )
        self.loss_curve_ = getattr(self, "loss_curve_", []) + list(history.history["loss"])
        if validation is not None:
            self.validation_loss_curve_ = list(history.history["val_loss"])
        self.n_iter_ = getattr(self, "n_iter_", 0) + len(history.history["loss"])
        self._generator = gen

    def _forget_fit(self) -> None:
        for attr in ("model_", "loss_curve_", "validation_loss_curve_", "n_iter_", "_generator"):
            self.__dict__.pop(attr, None)

    def _as_model_input(self, X: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(X, dtype=_DTYPES[self.dtype])

    def _outputs(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.model_.predict(self._as_model_input(X), batch_size=1024)

    def _fit_partial(self, X: np.ndarray, y: np.ndarray, first: bool) -> None:
        """partial_fit's one pass over (X, y), continuing the previous call's generator."""
        gen = self._new_generator() if first else self._generator
        self._train(X, y, 1, gen)


class GlassnetClassifier(ClassifierMixin, _GlassnetEstimator):
    """A multilayer perceptron classifier: Dense hidden layers, a softmax output and the
    sparse categorical cross-entropy (labels of any type: ints, strings, pandas).

    ``predict_proba(X)``: (n_samples, n_classes), columns in the order of ``classes_``.
    """

    _loss = "sparse_categorical_crossentropy"
    _output_activation = "softmax"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags

    def _encode(self, y: np.ndarray) -> np.ndarray:
        check_classification_targets(y)
        return np.searchsorted(self.classes_, y)

    def fit(self, X: Any, y: Any) -> GlassnetClassifier:
        """Train a new network on X (n_samples, n_features) and labels y (n_samples,)."""
        self._check_params("fit")
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self._forget_fit()
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise InvalidArgumentError(
                f"GlassnetClassifier.fit: y has only one class ({self.classes_[0]!r}); a "
                f"classifier needs at least two classes"
            )
        self._n_outputs = len(self.classes_)
        self._train(self._as_model_input(X), self._encode(y), int(self.epochs),
                    self._new_generator())  # fmt: skip
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> GlassnetClassifier:
        """One epoch over (X, y); the first call needs ``classes`` (every label there will be)."""
        self._check_params("partial_fit")
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=first, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        if first:
            if classes is None:
                raise InvalidArgumentError(
                    "GlassnetClassifier.partial_fit: the first call needs classes=, the list "
                    "of every label the data will contain, received classes=None"
                )
            self.classes_ = np.unique(np.asarray(classes))
            self._n_outputs = max(len(self.classes_), 2)
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise InvalidArgumentError(
                f"GlassnetClassifier.partial_fit: y has labels {unknown.tolist()[:5]} that are "
                f"not in classes_={self.classes_.tolist()[:10]}"
            )
        self._fit_partial(self._as_model_input(X), self._encode(y), first)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n_samples, n_classes) in float64; each row sums to 1."""
        out = self._outputs(X)
        proba = out[:, : len(self.classes_)].astype(np.float64)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """The most probable label of each sample (n_samples,), from ``classes_``."""
        out = self._outputs(X)
        return self.classes_[np.argmax(out[:, : len(self.classes_)], axis=1)]


class GlassnetRegressor(RegressorMixin, _GlassnetEstimator):
    """A multilayer perceptron regressor: Dense hidden layers, a linear output and the mean
    squared error; y may be (n_samples,) or (n_samples, n_outputs)."""

    _loss = "mse"
    _output_activation = "linear"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray, int]:
        """(X, y as (n_samples, n_outputs), the ndim of y as given) in the network's dtype."""
        X, y = validate_data(
            self, X, y, reset=reset, multi_output=True, y_numeric=True,
            dtype=[np.float64, np.float32],
        )  # fmt: skip
        y = np.asarray(y, dtype=_DTYPES[self.dtype])
        return self._as_model_input(X), y.reshape(len(y), -1), y.ndim

    def fit(self, X: Any, y: Any) -> GlassnetRegressor:
        """Train a new network on X (n_samples, n_features) and y (n_samples[, n_outputs])."""
        self._check_params("fit")
        X_arr, y_arr, y_ndim = self._targets(X, y, reset=True)
        self._forget_fit()
        self._y_ndim = y_ndim
        self._n_outputs = y_arr.shape[1]
        self._train(X_arr, y_arr, int(self.epochs), self._new_generator())
        return self

    def partial_fit(self, X: Any, y: Any) -> GlassnetRegressor:
        """One epoch over (X, y), continuing from the previous call (or a new network)."""
        self._check_params("partial_fit")
        first = not hasattr(self, "model_")
        X_arr, y_arr, y_ndim = self._targets(X, y, reset=first)
        if first:
            self._y_ndim = y_ndim
            self._n_outputs = y_arr.shape[1]
        elif y_arr.shape[1] != self._n_outputs:
            raise InvalidArgumentError(
                f"GlassnetRegressor.partial_fit: y has {y_arr.shape[1]} outputs, but the "
                f"network was built for {self._n_outputs}"
            )
        self._fit_partial(X_arr, y_arr, first)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predictions (n_samples,) for a 1-d y at fit, else (n_samples, n_outputs), in float64
        (scikit-learn's convention) whatever the network's dtype."""
        out = self._outputs(X).astype(np.float64)
        return out.ravel() if self._y_ndim == 1 else out
