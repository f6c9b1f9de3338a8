from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from sklearn import metrics as skm

from leanml.core import InputError, metrics


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    return rng.integers(0, 4, 300), rng.integers(0, 4, 300)


def test_classification_metrics_match_sklearn(labels):
    y, p = labels
    assert metrics.accuracy(y, p) == pytest.approx(skm.accuracy_score(y, p))
    assert metrics.macro_f1(y, p) == pytest.approx(skm.f1_score(y, p, average="macro"))


def test_log_loss_matches_sklearn():
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(3), size=200)
    y = rng.integers(0, 3, 200)
    assert metrics.log_loss(y, proba) == pytest.approx(skm.log_loss(y, proba, labels=[0, 1, 2]))


def test_regression_and_correlations():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=100), rng.normal(size=100)
    b[::7] = b[0]  # ties for Spearman
    assert metrics.rmse(a, b) == pytest.approx(np.sqrt(skm.mean_squared_error(a, b)))
    assert metrics.pearson(a, b) == pytest.approx(scipy.stats.pearsonr(a, b)[0])
    assert metrics.spearman(a, b) == pytest.approx(scipy.stats.spearmanr(a, b)[0])


def test_recall_at_k_brute_force():
    ranked = np.array([[3, 1, 2, 0], [0, 1, 2, 3]])
    relevant = [[1, 0], [3]]
    # query 0: top-2 {3,1} holds 1 of {1,0}; query 1: top-2 {0,1} holds none of {3}
    assert metrics.recall_at_k(relevant, ranked, k=2) == pytest.approx(0.25)
    assert metrics.recall_at_k(relevant, ranked, k=4) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: metrics.accuracy([], []),
        lambda: metrics.accuracy([1, 2], [1]),
        lambda: metrics.pearson([1, 1, 1], [1, 2, 3]),
        lambda: metrics.recall_at_k([[1]], np.array([[1]]), k=0),
        lambda: metrics.log_loss([0, 5], np.full((2, 3), 1 / 3)),
    ],
)
def test_bad_input(call):
    with pytest.raises(InputError):
        call()
