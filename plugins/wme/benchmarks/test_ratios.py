"""Side-by-side ratios for the README, each measured in this one process.

Run ``LEANML_BENCH=full pytest benchmarks/test_ratios.py -s -p no:randomly`` to print the
tables (also written as JSON under ``$LEANML_BENCH_OUT``, default pytest's temporary
directory: never into the source tree). Threads are fixed by conftest.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numba
import numpy as np
import pytest

from leanml.core.testing import report
from leanml.wme import KNNWMD, WMEClassifier
from leanml.wme.datasets import glove_6b_50d, load
from leanml.wme.experiments import (
    bootstrap_ci,
    compile_models,
    kernel_ratios,
    knn_pruning,
    norm_diagnostics,
    throughput,
)
from leanml.wme.peers import tfidf_svc


@pytest.mark.parametrize("costs", ["glove", "gaussian"])
def test_kernel_vs_pot(bench_size, fixed_threads, bench_out, costs):
    if bench_size == "smoke":
        rows = kernel_ratios([20, 100], [3, 10], costs=costs, budget=0.002, runs=1)
    else:
        ns, Ds = [10, 50, 100, 200, 500], [1, 2, 3, 6, 10, 21]
        rows = kernel_ratios(ns, Ds, costs=costs, budget=0.05, runs=3)
    for row in rows:
        row["load1"] = float(Path("/proc/loadavg").read_text().split()[0])
    report(f"kernel-vs-pot-{costs}-{bench_size}-threads{fixed_threads}", rows, bench_out)
    assert max(r["abs_diff"] for r in rows) < 1e-9


def _fit_predict(model, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        t0 = time.perf_counter()
        model.fit(data.X_train, data.y_train)
        acc = float(np.mean(model.predict(data.X_test) == data.y_test))
    return acc, time.perf_counter() - t0


def test_wme_vs_knn_wmd_on_election_tweets(bench_size, fixed_threads, bench_out):
    data = load("election-tweets", seed=0)
    emb = glove_6b_50d()
    if bench_size == "smoke":
        data = data.subset(n_train=300, n_test=100, seed=0)
        Rs, pot_queries = (32,), 3
    else:
        Rs, pot_queries = (256, 1024, 2048), 20
    compile_models(
        data, {"wme": lambda: WMEClassifier(emb, n_features=4), "knn": lambda: KNNWMD(emb)}
    )
    rows = []
    knn_acc, knn_s = _fit_predict(KNNWMD(emb, n_neighbors=5), data)
    rows.append({"model": "knn-wmd (leanml kernel)", "accuracy": knn_acc, "seconds": knn_s})
    for R in Rs:
        acc, secs = _fit_predict(
            WMEClassifier(emb, n_features=R, gamma_scale=2.0, C=0.1, random_state=0), data
        )
        rows.append({"model": f"wme R={R} + LinearSVC", "accuracy": acc, "seconds": secs})
    acc, secs = _fit_predict(tfidf_svc(), data)
    rows.append({"model": "tfidf + LinearSVC", "accuracy": acc, "seconds": secs})
    # kNN-WMD through ot.emd2 on a few test documents, extrapolated to the whole test set.
    few = data.subset(n_train=None, n_test=pot_queries, seed=0)
    pot = KNNWMD(emb, n_neighbors=5, solver="pot").fit(few.X_train, few.y_train)
    t0 = time.perf_counter()
    pot.predict(few.X_test)
    per_query = (time.perf_counter() - t0) / pot_queries
    rows.append(
        {
            "model": f"knn-wmd (ot.emd2), extrapolated from {pot_queries} queries",
            "accuracy": float("nan"),
            "seconds": per_query * data.n_test,
        }
    )
    for row in rows:
        row["time_vs_knn_leanml"] = row["seconds"] / knn_s
    report(f"tweets-{bench_size}-threads{fixed_threads}", rows, bench_out)


def test_feature_throughput(bench_size, fixed_threads, bench_out):
    data = load("election-tweets", seed=0)
    n, R = (200, 16) if bench_size == "smoke" else (data.n_train, 256)
    try:
        rows = throughput(list(data.X_train[:n]), glove_6b_50d(), R, [1, 2])
    finally:
        numba.set_num_threads(min(fixed_threads, numba.config.NUMBA_NUM_THREADS))
    report(f"throughput-{bench_size}", rows, bench_out)
    assert rows[0]["doc_R_per_s"] > 0


@pytest.mark.parametrize("name", ["reuters-r8", "20newsgroups", "election-tweets"])
def test_norm_diagnostics(bench_size, fixed_threads, bench_out, name):
    """Deliver 2's measurement: features vs word norms, per random-word distribution."""
    n_train, n_test, R = (200, 100, 32) if bench_size == "smoke" else (1500, 1000, 256)
    data = load(name, seed=0).subset(n_train=n_train, n_test=n_test, seed=0)
    kinds = ("box_unit", "vocab_sample", "gaussian")
    rows = norm_diagnostics(data, glove_6b_50d(), kinds, R=R)
    report(f"norms-{name}-{bench_size}-threads{fixed_threads}", rows, bench_out)
    assert all(-1 <= r["corr_norm"] <= 1 and 0 < r["pc1_share"] <= 1 for r in rows)


def test_knn_pruning_on_20newsgroups(bench_size, fixed_threads, bench_out):
    """Deliver 3: the share of exact WMDs the WCD and RWMD bounds avoid (seeded queries
    against the whole 11,293-document training split; smoke: 300 training documents)."""
    data = load("20newsgroups", seed=0)
    if bench_size == "smoke":
        data = data.subset(n_train=300, n_test=50, seed=0)
    rows = knn_pruning(data, glove_6b_50d(), n_queries=5 if bench_size == "smoke" else 40)
    report(f"knn-pruning-20ng-{bench_size}-threads{fixed_threads}", rows, bench_out)
    assert all(r["same_neighbours"] for r in rows)


def test_small_r_on_r8(bench_size, fixed_threads, bench_out):
    """A partial small-R run: WME R in {256, 512} vs kNN-WMD (k = 5, RWMD-pruned) on 300
    seeded R8 test documents, whole training split, fit + predict seconds, 95% bootstrap
    intervals. (The issue's full acceptance run is ``tests/test_acceptance.py``.)"""
    data, emb = load("reuters-r8", seed=0), glove_6b_50d()
    Rs, n_test = (256, 512), 300
    if bench_size == "smoke":
        data, Rs, n_test = data.subset(n_train=300, n_test=100, seed=0), (16,), 30
    pick = np.sort(np.random.default_rng(0).choice(data.n_test, size=n_test, replace=False))
    X, y = [data.X_test[i] for i in pick], np.asarray(data.y_test)[pick]
    compile_models(
        data, {"wme": lambda: WMEClassifier(emb, n_features=4), "knn": lambda: KNNWMD(emb)}
    )
    models = {
        f"wme R={R}": lambda R=R: WMEClassifier(emb, n_features=R, random_state=0) for R in Rs
    }
    models["knn-wmd k=5"] = lambda: KNNWMD(emb, n_neighbors=5)
    rows = []
    for name, make in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            t0 = time.perf_counter()
            correct = make().fit(data.X_train, data.y_train).predict(X) == y
            secs = time.perf_counter() - t0
        lo, hi = bootstrap_ci(correct)
        rows.append({"model": name, "accuracy": float(correct.mean()), "ci_low": lo,
                     "ci_high": hi, "seconds": secs})  # fmt: skip
    for row in rows:
        row["time_vs_knn"] = row["seconds"] / rows[-1]["seconds"]
    report(f"small-r-r8-{bench_size}-threads{fixed_threads}", rows, bench_out)
