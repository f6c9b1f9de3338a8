"""Taxonomy CRF and L1 logistic regression: finite differences, closed forms, liblinear."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from leanml.core import InputError, ParameterError
from leanml.pqn_crf import HierarchicalClassifier, L1LogisticRegression, Taxonomy
from leanml.pqn_crf.datasets import DIGITS_TREE, load_digits_tree
from leanml.pqn_crf.linear import LeafSoftmaxObjective

TREE = {"A": None, "B": None, "a1": "A", "a2": "A", "b1": "B", "b2": "B", "b3": "B"}


def test_path_matrix_and_brute_force_probabilities(rng):
    tax = Taxonomy(TREE)
    assert tax.leaves.tolist() == ["a1", "a2", "b1", "b2", "b3"]
    X = rng.normal(size=(6, 4))
    y = rng.integers(0, 5, size=6)
    obj = LeafSoftmaxObjective(X, y, tax.path)
    w = rng.normal(size=obj.n_params)
    W = dict(zip(tax.nodes, w.reshape(len(tax.nodes), 4), strict=True))
    # brute force: each leaf's score is its own weight plus its parent's
    scores = np.array([[x @ (W[leaf] + W[TREE[leaf]]) for leaf in tax.leaves] for x in X])
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.exp(obj.leaf_log_proba(w)), p, atol=1e-14)
    assert obj(w)[0] == pytest.approx(-np.log(p[np.arange(6), y]).sum(), rel=1e-13)


@pytest.mark.parametrize("c2", [0.0, 0.2])
def test_taxonomy_gradient_matches_central_differences(rng, c2):
    tax = Taxonomy(TREE)
    X = sp.random(20, 6, density=0.5, random_state=1, format="csr")
    obj = LeafSoftmaxObjective(X, rng.integers(0, 5, size=20), tax.path, c2=c2)
    w = rng.normal(size=obj.n_params)
    _, g = obj(w)
    fd = np.empty_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = 1e-6
        fd[i] = (obj(w + e)[0] - obj(w - e)[0]) / 2e-6
    assert np.abs(g - fd).max() <= 1e-6 * max(1.0, np.abs(g).max())


def test_hierarchical_on_digits_tree():
    data = load_digits_tree()
    clf = HierarchicalClassifier(data.metadata["taxonomy"], lam=1.0).fit(data.X_train, data.y_train)
    assert clf.result_.converged
    assert clf.score(data.X_test, data.y_test) > 0.9
    proba = clf.predict_proba(data.X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert sorted(clf.classes_.tolist()) == sorted(d for v in DIGITS_TREE.values() for d in v)
    assert np.count_nonzero(clf.coef_ == 0) > 0


def test_flat_taxonomy_is_multinomial_logistic(rng):
    data = load_digits_tree()
    a = HierarchicalClassifier(None, lam=2.0, tol=1e-8).fit(data.X_train, data.y_train)
    b = L1LogisticRegression(lam=2.0, tol=1e-8).fit(data.X_train, data.y_train)
    assert a.objective_ == pytest.approx(b.objective_, rel=1e-7)


def test_binary_l1_logistic_equals_liblinear():
    from leanml.pqn_crf.peers import liblinear_l1_logistic

    data = load_digits_tree()
    X, y = data.X_train, (data.y_train == 3).astype(int)
    lam = 2.0
    ours = L1LogisticRegression(lam=lam, tol=1e-9).fit(X, y)
    lib = liblinear_l1_logistic(lam, tol=1e-10, max_iter=10000).fit(X, y)
    (binary,) = lib.estimators_  # one-vs-rest fits a single model for two classes
    w_lib = np.concatenate([binary.coef_.ravel(), binary.intercept_])
    obj = ours.objective(X, y)
    f_lib = obj(w_lib)[0] + lam * np.abs(w_lib).sum()
    assert ours.objective_ <= f_lib * (1 + 1e-6)
    assert ours.objective_ >= f_lib * (1 - 1e-6)
    assert np.mean(ours.predict(X) == lib.predict(X)) > 0.995
    np.testing.assert_array_equal(ours.coef_.ravel() == 0, np.abs(w_lib) < 1e-6)


def test_linear_bad_inputs():
    X = np.ones((4, 2))
    with pytest.raises(InputError, match="NaN"):
        L1LogisticRegression().fit(np.full((4, 2), np.nan), [0, 1, 0, 1])
    with pytest.raises(InputError, match="single class"):
        L1LogisticRegression().fit(X, [1, 1, 1, 1])
    with pytest.raises(InputError, match="rows but y"):
        L1LogisticRegression().fit(X, [0, 1])
    with pytest.raises(ParameterError, match="lam"):
        L1LogisticRegression(lam=-1).fit(X, [0, 1, 0, 1])
    with pytest.raises(InputError, match="not a leaf"):
        HierarchicalClassifier(TREE).fit(X, ["a1", "A", "b1", "b2"])
    with pytest.raises(InputError, match="cycle"):
        Taxonomy({"x": "y", "y": "x", "z": "x"})
    with pytest.raises(InputError, match="not a node"):
        Taxonomy({"x": "nowhere"})
    with pytest.raises(InputError, match="not fitted"):
        L1LogisticRegression().predict(X)
    clf = L1LogisticRegression(lam=0.1).fit(X * np.arange(4)[:, None], [0, 1, 0, 1])
    with pytest.raises(InputError, match="columns"):
        clf.predict(np.ones((2, 5)))
