"""scikit-learn citizenship: clone, cross_val_score, GridSearchCV, Pipeline; no global state."""

from __future__ import annotations

import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_info

from leanml.pqn_crf import CRF, HierarchicalClassifier, L1LogisticRegression
from leanml.pqn_crf.datasets import digits_taxonomy, hmm_sequences, load_digits_tree


@pytest.fixture(scope="module")
def seqs():
    return hmm_sequences(n_seq=90, n_labels=3, n_attributes=30, seed=4)


@pytest.fixture(scope="module")
def digits():
    data = load_digits_tree()
    return data.X_train[:300], data.y_train[:300]


def _lower(X):
    """A pipeline step on sequences: rename every attribute (a real transform for CRF)."""
    return [[{k.upper(): v for k, v in tok.items()} for tok in seq] for seq in X]


def test_crf_cross_val_grid_search_and_pipeline(seqs):
    X, Y = seqs
    crf = CRF(c1=1.0, max_iter=200)
    assert clone(crf).get_params() == crf.get_params()
    scores = cross_val_score(crf, X, Y, cv=KFold(3))
    assert scores.shape == (3,) and np.all(scores > 0.5)
    grid = GridSearchCV(crf, {"c1": [0.1, 30.0]}, cv=KFold(3)).fit(X, Y)
    assert grid.best_params_["c1"] == 0.1  # c1 = 30 zeroes most weights on this data
    assert grid.best_estimator_.score(X, Y) > 0.8
    pipe = Pipeline([("rename", FunctionTransformer(_lower)), ("crf", crf)]).fit(X, Y)
    assert all(n.isupper() for n in pipe[-1].attributes_.names_ if isinstance(n, str))
    assert pipe.score(X, Y) == pytest.approx(CRF(c1=1.0, max_iter=200).fit(X, Y).score(X, Y))


@pytest.mark.parametrize(
    "make",
    [
        lambda: L1LogisticRegression(lam=1.0),
        lambda: HierarchicalClassifier(taxonomy=digits_taxonomy(), lam=1.0),
    ],
)
def test_linear_models_in_sklearn_tools(digits, make):
    X, y = digits
    est = make()
    scores = cross_val_score(est, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8
    grid = GridSearchCV(est, {"lam": [0.5, 200.0]}, cv=3).fit(X, y)
    assert grid.best_params_["lam"] == 0.5
    pipe = Pipeline([("scale", StandardScaler()), ("model", make())]).fit(X, y)
    assert pipe.score(X, y) > 0.9


def test_fit_restores_thread_settings(seqs):
    X, Y = seqs
    numba.set_num_threads(1)
    blas_before = [(i["internal_api"], i["num_threads"]) for i in threadpool_info()]
    env_before = os.environ.get("OMP_WAIT_POLICY")
    CRF(c1=1.0, n_threads=2, max_iter=50).fit(X, Y)
    assert numba.get_num_threads() == 1
    assert [(i["internal_api"], i["num_threads"]) for i in threadpool_info()] == blas_before
    assert os.environ.get("OMP_WAIT_POLICY") == env_before


def test_import_sets_no_process_environment():
    code = (
        "import os; before = dict(os.environ); import leanml.pqn_crf as p; p.CRF; "
        "import leanml.pqn_crf.crf; print(sorted(set(os.environ.items()) ^ set(before.items())))"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
