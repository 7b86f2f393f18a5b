"""scikit-learn estimators backed by a neuralab multilayer perceptron.

    from sklearn.model_selection import GridSearchCV
    from neuralab.sklearn import NeuralNetClassifier

    search = GridSearchCV(NeuralNetClassifier(epochs=50),
                          {"hidden_layer_sizes": [(32,), (64, 32)], "learning_rate": [1e-3, 1e-2]},
                          n_jobs=2)
    search.fit(X, y)

They follow the estimator API (``fit``/``predict``/``predict_proba``/``score``,
``get_params``/``set_params``, ``clone``, pickling) and pass scikit-learn's
``check_estimator`` suite; the checks that do not run are listed in ``_SKIPPED_CHECKS`` with
the reason. Training stops early, like ``MLPClassifier``, when the
training loss has not improved by ``tol`` for ``n_iter_no_change`` epochs.

Compared with ``MLPClassifier``: ``epochs`` plays ``max_iter``, ``alpha`` is a Keras-style L2
factor on the kernels (``alpha * sum(w**2)``), any neuralab optimizer name works, and the
fitted network is available as ``model_`` (a :class:`neuralab.Sequential`).
"""

from __future__ import annotations

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("neuralab.sklearn needs scikit-learn: pip install 'neuralab[sklearn]'") from error

from . import callbacks, initializers, optimizers, regularizers
from .layers import Dense, Input
from .models import Sequential

#: Checks of scikit-learn's suite that do not run, and why (all others pass; see
#: tests/test_sklearn.py, which runs ``parametrize_with_checks`` on both estimators).
_SKIPPED_CHECKS = {
    "check_array_api_input": "scikit-learn runs it only with SCIPY_ARRAY_API=1 and "
                             "array-api-strict installed; neuralab computes with NumPy and "
                             "converts other array types on input",
    "check_pipeline_consistency": "skipped by scikit-learn itself when random_state=None "
                                  "(the estimator is then non-deterministic by design); it "
                                  "runs and passes with a fixed random_state",
}


class _BaseNeuralNet(BaseEstimator):
    """Shared parameters and the training loop of the two estimators."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", optimizer="adam",
                 learning_rate=0.001, batch_size="auto", epochs=200, alpha=0.0001, tol=1e-4,
                 n_iter_no_change=10, shuffle=True, random_state=None, verbose=0,
                 dtype="float64"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.alpha = alpha
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype

    def _check_params(self):
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, (int, np.integer)) else tuple(sizes)
        if any(not isinstance(s, (int, np.integer)) or s <= 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}")
        if not isinstance(self.epochs, (int, np.integer)) or self.epochs <= 0:
            raise ValueError(f"epochs must be a positive integer, got {self.epochs!r}")
        if self.batch_size != "auto" and (not isinstance(self.batch_size, (int, np.integer))
                                          or self.batch_size <= 0):
            raise ValueError(f"batch_size must be 'auto' or a positive integer, got {self.batch_size!r}")
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha!r}")
        return sizes

    def _build(self, n_features: int, n_outputs: int, output_activation: str, seed: int):
        sizes = self._check_params()
        rng = np.random.default_rng(seed)
        reg = regularizers.l2(self.alpha) if self.alpha else None
        layers = [Input(shape=(n_features,), dtype=self.dtype)]
        for units in sizes:
            layers.append(Dense(units, activation=self.activation, dtype=self.dtype,
                                kernel_initializer=initializers.GlorotUniform(seed=int(rng.integers(2**31))),
                                kernel_regularizer=reg))
        layers.append(Dense(n_outputs, activation=output_activation, dtype=self.dtype,
                            kernel_initializer=initializers.GlorotUniform(seed=int(rng.integers(2**31))),
                            kernel_regularizer=reg))
        model = Sequential(layers)
        model.rng = np.random.default_rng(int(rng.integers(2**31)))
        opt = optimizers.get(self.optimizer)
        opt = type(opt)(**{**opt.get_config(), "learning_rate": self.learning_rate})
        return model, opt

    def _train(self, X, y_model, n_outputs, output_activation, loss):
        seed = int(check_random_state(self.random_state).randint(2**31))
        model, opt = self._build(X.shape[1], n_outputs, output_activation, seed)
        model.compile(optimizer=opt, loss=loss)
        batch = min(200, len(X)) if self.batch_size == "auto" else min(self.batch_size, len(X))
        stop = callbacks.EarlyStopping(monitor="loss", min_delta=self.tol,
                                       patience=self.n_iter_no_change)
        history = model.fit(X, y_model, epochs=int(self.epochs), batch_size=batch,
                            shuffle=self.shuffle, callbacks=[stop], verbose=self.verbose)
        if history.diverged is not None:
            raise FloatingPointError(history.diverged["message"])
        self.model_ = model
        self.loss_curve_ = list(history.history["loss"])
        self.n_iter_ = len(self.loss_curve_)
        self.loss_ = self.loss_curve_[-1]
        return self

    def _forward(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.model_.predict(X.astype(self.dtype, copy=False), batch_size=1024)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


class NeuralNetClassifier(ClassifierMixin, _BaseNeuralNet):
    """A multilayer perceptron classifier (softmax output, cross-entropy loss).

    Attributes after ``fit``: ``classes_``, ``n_features_in_``, ``loss_curve_`` (training loss
    per epoch), ``n_iter_``, ``model_``.
    """

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=False)
        check_classification_targets(y)
        self._encoder = LabelEncoder().fit(y)
        self.classes_ = self._encoder.classes_
        codes = self._encoder.transform(y)
        n_classes = len(self.classes_)
        return self._train(X.astype(self.dtype, copy=False), codes, max(n_classes, 2),
                           "softmax", "sparse_categorical_crossentropy")

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes) in the order of ``classes_``."""
        proba = self._forward(X)
        if len(self.classes_) == 1:  # a single class seen in fit
            return np.ones((len(proba), 1))
        return proba

    def predict(self, X):
        check_is_fitted(self, "model_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class NeuralNetRegressor(RegressorMixin, _BaseNeuralNet):
    """A multilayer perceptron regressor (linear output, squared-error loss).

    ``y`` may be (n_samples,) or (n_samples, n_targets); ``predict`` returns the same rank.
    """

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=True,
                             multi_output=True)
        self._y_1d = y.ndim == 1
        targets = y.reshape(len(y), -1).astype(self.dtype)
        return self._train(X.astype(self.dtype, copy=False), targets, targets.shape[1],
                           "linear", "mean_squared_error")

    def predict(self, X):
        out = self._forward(X)
        return out[:, 0] if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
