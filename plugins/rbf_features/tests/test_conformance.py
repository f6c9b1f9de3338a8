"""Every model this plugin registers passes the core's conformance checks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    check_sample_weight_equivalence_on_sparse_data,
)

from leanml.core.plugins import load_plugins
from leanml.core.testing import check_model
from leanml.rbf_features import RBClassifier, RBRegressor
from leanml.rbf_features.bandwidth import median_l1_sigma

PLUGINS = load_plugins()
MODELS = sorted(m.name for m in PLUGINS.models if m.plugin == "rbf_features")
QUICK = {"peer-rbf-sampler-svc": {"n_components": 64}, "peer-nystroem-svc": {"n_components": 64}}


@pytest.mark.parametrize("name", MODELS)
def test_registered_model_conforms(name):
    spec = PLUGINS.models.get(name)
    params = QUICK.get(name, {"n_grids": 16} if name.startswith("rb-") else {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny data: few points per bin
        check_model(spec, params=params)


# Every solver, converged (dual CD at its default tol = 0.1 stops at a point that depends on
# the row order, so weights and repeats agree to ~1e-4 only there, as LIBLINEAR's do).
_CONVERGED = [
    # dual CD: 1e-10, not 1e-12, where rounding in w can keep the projected-gradient spread
    # above tol until max_iter
    RBClassifier(16, tol=1e-10, max_iter=10**5),
    RBClassifier(16, tol=1e-10, max_iter=10**5, fit_intercept=True),
    RBClassifier(16, loss="squared_hinge", tol=1e-10, max_iter=10**5),
    RBClassifier(16, loss="logistic", tol=1e-12),
    RBClassifier(16, loss="logistic", penalty="l1", tol=1e-13, max_iter=10**6),
    RBRegressor(16, tol=1e-13),
    RBRegressor(16, solver="bcd", tol=1e-13, max_iter=10**6),
    RBRegressor(16, penalty="l1", tol=1e-13, max_iter=10**6),
]


@pytest.mark.parametrize("estimator", _CONVERGED, ids=repr)
@pytest.mark.parametrize(
    "check",
    [check_sample_weight_equivalence_on_dense_data, check_sample_weight_equivalence_on_sparse_data],
)
def test_sklearn_sample_weight_equivalence(estimator, check):
    """scikit-learn's check: integer weights equal repeated rows, weight 0 a removed row
    (including the automatic bandwidth, which weights its pairs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(type(estimator).__name__, estimator)


def test_auto_bandwidth_weights_equal_repeated_rows(rng):
    X = rng.normal(size=(12, 3))
    weight = rng.integers(0, 4, size=12)  # <= 36 repeated rows: both take the exact path
    repeated = np.repeat(X, weight, axis=0)
    assert median_l1_sigma(X, sample_weight=weight) == median_l1_sigma(repeated)  # exact path
    assert median_l1_sigma(X, sample_weight=np.ones(12)) == median_l1_sigma(X)
    big = rng.normal(size=(400, 3))
    w = (np.arange(400) < 200).astype(float)  # the second half has weight 0
    assert median_l1_sigma(big, sample_weight=w) != median_l1_sigma(big)
    ratio = median_l1_sigma(big, sample_weight=w) / median_l1_sigma(big[:200])
    assert 0.9 < ratio < 1.1  # sampled path: the same distribution, not the same draws
