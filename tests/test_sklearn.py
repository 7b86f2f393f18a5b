"""The scikit-learn estimators: the full check_estimator suite and real sklearn workflows."""

import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from neuralab.sklearn import NeuralNetClassifier, NeuralNetRegressor  # noqa: E402


@parametrize_with_checks([NeuralNetClassifier(random_state=0), NeuralNetRegressor(random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def iris():
    x, y = load_iris(return_X_y=True)
    return x, np.array(["setosa", "versicolor", "virginica"])[y]  # string labels


def test_classifier_fit_predict_proba_score():
    x, y = iris()
    clf = make_pipeline(StandardScaler(), NeuralNetClassifier(hidden_layer_sizes=(16,),
                                                              learning_rate=0.01, random_state=0))
    clf.fit(x, y)
    net = clf[-1]
    assert list(net.classes_) == ["setosa", "versicolor", "virginica"]
    proba = clf.predict_proba(x)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(1), 1)
    assert set(clf.predict(x)) <= set(net.classes_)
    assert clf.score(x, y) > 0.95
    assert net.loss_curve_[-1] < net.loss_curve_[0] and net.n_iter_ == len(net.loss_curve_)
    assert net.model_.count_params() == 4 * 16 + 16 + 16 * 3 + 3


def test_regressor_fits_a_smooth_function():
    x, y = make_regression(n_samples=300, n_features=4, noise=0.1, random_state=0)
    reg = make_pipeline(StandardScaler(), NeuralNetRegressor(hidden_layer_sizes=(32,),
                                                             learning_rate=0.01, epochs=300,
                                                             random_state=0))
    reg.fit(x, y / y.std())
    assert reg.score(x, y / y.std()) > 0.95
    assert reg.predict(x).shape == (300,)
    two = np.column_stack([y, -y]) / y.std()
    assert reg.fit(x, two).predict(x).shape == (300, 2)


def test_grid_search_in_parallel_and_cross_validation():
    x, y = iris()
    search = GridSearchCV(
        make_pipeline(StandardScaler(), NeuralNetClassifier(epochs=100, random_state=0)),
        {"neuralnetclassifier__hidden_layer_sizes": [(4,), (16,)],
         "neuralnetclassifier__learning_rate": [0.001, 0.01]},
        cv=3, n_jobs=2)
    search.fit(x, y)
    assert search.best_score_ > 0.85
    assert search.best_params_["neuralnetclassifier__learning_rate"] == 0.01
    scores = cross_val_score(make_pipeline(StandardScaler(), NeuralNetClassifier(random_state=0)),
                             x, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85


def test_clone_and_pickle_keep_behaviour():
    x, y = iris()
    clf = NeuralNetClassifier(hidden_layer_sizes=(8,), random_state=3).fit(x, y)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and not hasattr(copy, "model_")
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(x), clf.predict_proba(x))
    again = NeuralNetClassifier(hidden_layer_sizes=(8,), random_state=3).fit(x, y)
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))  # deterministic


@pytest.mark.parametrize("params, message", [
    (dict(hidden_layer_sizes=(0,)), "positive integers"),
    (dict(epochs=0), "epochs"),
    (dict(batch_size=-1), "batch_size"),
    (dict(optimizer="adamm"), "Unknown optimizer"),
    (dict(activation="sigmoidd"), "Unknown activation"),
])
def test_bad_parameters_are_reported_at_fit(params, message):
    x, y = iris()
    with pytest.raises(ValueError, match=message):
        NeuralNetClassifier(**params).fit(x, y)
