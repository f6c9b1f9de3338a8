"""The issue's acceptance runs on the paper's splits (``pytest -m slow -s --timeout=0``).

Not in CI: they need GloVe (80 MB) and hours of CPU for kNN-WMD. Thresholds are the
issue's, unrelaxed:

- large R: WME with R <= 4096 at least as accurate as kNN-WMD (k by leave-one-out on the
  training split, RWMD-pruned, on a seeded subsample of >= 1,000 test documents), with
  bootstrap confidence intervals printed;
- small R: WME with R <= 512 within 1 point of kNN-WMD at >= 10x less total time.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

from leanml.wme.datasets import glove_6b_50d, load
from leanml.wme.estimators import KNNWMD, WMEClassifier
from leanml.wme.experiments import bootstrap_ci, choose_k_loo, lee_similarity

pytestmark = pytest.mark.slow

N_KNN_TEST = 1000


def _timed(model, X_train, y_train, X_test):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        t0 = time.perf_counter()
        pred = model.fit(X_train, y_train).predict(X_test)
    return pred, time.perf_counter() - t0


@pytest.fixture(scope="module", params=["reuters-r8", "20newsgroups"])
def runs(request):
    """kNN-WMD and WME at R in {256, 512, 1024, 4096} on the same test subsample."""
    data, emb = load(request.param), glove_6b_50d()
    rng = np.random.default_rng(0)
    test = np.sort(rng.choice(data.n_test, size=min(N_KNN_TEST, data.n_test), replace=False))
    X_test, y_test = [data.X_test[i] for i in test], np.asarray(data.y_test)[test]
    t0 = time.perf_counter()
    k, loo = choose_k_loo(emb, data.X_train, data.y_train, n_queries=1000)
    t_loo = time.perf_counter() - t0
    out = {"knn": _timed(KNNWMD(emb, n_neighbors=k), data.X_train, data.y_train, X_test)}
    for R in (256, 512, 1024, 4096):
        wme = WMEClassifier(emb, n_features=R, random_state=0)
        out[R] = _timed(wme, data.X_train, data.y_train, X_test)
    print(f"\n{request.param}: k={k} (LOO {loo}, {t_loo:.0f} s), {len(test)} test documents")
    acc = {}
    for name, (pred, secs) in out.items():
        correct = pred == y_test
        lo, hi = bootstrap_ci(correct)
        acc[name] = correct.mean()
        print(f"  {name}: accuracy {correct.mean():.4f} (95% CI {lo:.4f}-{hi:.4f}), {secs:.0f} s")
    return acc, {name: secs for name, (_, secs) in out.items()}


def test_large_r_at_least_as_accurate_as_knn_wmd(runs):
    acc, _ = runs
    assert max(acc[R] for R in (1024, 4096)) >= acc["knn"]


def test_small_r_within_one_point_at_ten_times_less_time(runs):
    acc, secs = runs
    assert any(acc[R] >= acc["knn"] - 0.01 and secs[R] * 10 <= secs["knn"] for R in (256, 512))


def test_lee_similarity():
    rows = lee_similarity(load("lee"), glove_6b_50d(), R=1024)
    print(rows)
    assert all(r["pearson"] > 0.1 for r in rows)
