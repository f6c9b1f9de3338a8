"""Side-by-side ratios for the README, each measured in this one process.

Run ``LEANML_BENCH=full pytest benchmarks/test_ratios.py -s`` to print the tables. Each
timing is the best of a few repeats (``time.perf_counter``) with threads fixed by conftest.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.svm import LinearSVC

from leanml.core import load_dataset
from leanml.core.testing import best_of, report
from leanml.rbf_features import RandomBinningFeatures, RBClassifier, _kernels, _reference
from leanml.rbf_features import solvers as S
from leanml.rbf_features.experiments import minmax
from leanml.rbf_features.peers import ExactLaplacianSVC, nystroem_svc, rbf_sampler_svc

OUT = Path(__file__).parent / ".results"


def test_feature_generation_throughput(bench_size, fixed_threads):
    data = load_dataset("mnist_5k", seed=0)
    n, R = (300, 8) if bench_size == "smoke" else (data.n_train, 128)
    X = data.X_train[:n] / 255.0
    rb = RandomBinningFeatures(R, sigma=40.0, random_state=0).fit(X[:10])
    _kernels.fit_bins(rb._keys(X))  # compile outside the timing
    t_numba, _ = best_of(lambda: _kernels.fit_bins(rb._keys(X)))
    t_numpy, _ = best_of(lambda: _reference.fit_bins(X, rb._a, rb._b, rb._P), repeats=1)
    csr = sp.csr_matrix(X)
    t_sparse, _ = best_of(lambda: RandomBinningFeatures(R, sigma=40.0, random_state=0).fit(csr))
    cells = n * X.shape[1] * R
    rows = [
        {"method": "numba dense", "seconds": t_numba, "Gcells_per_s": cells / t_numba / 1e9},
        {"method": "numpy reference", "seconds": t_numpy, "Gcells_per_s": cells / t_numpy / 1e9},
        {
            "method": "numba CSR (zero-code trick)",
            "seconds": t_sparse,
            "Gcells_per_s": cells / t_sparse / 1e9,
        },
        {
            "method": "ratio numpy/numba dense",
            "seconds": t_numpy / t_numba,
            "Gcells_per_s": float("nan"),
        },
    ]
    report(f"features-{bench_size}-threads{fixed_threads}", rows, OUT)
    if bench_size == "full":
        assert t_numpy / t_numba >= 5.0


def test_dcd_vs_liblinear(bench_size, fixed_threads):
    data = load_dataset("mnist_5k", seed=0)
    R = 16 if bench_size == "smoke" else 512
    if bench_size == "smoke":  # the file is sorted by class: subsample at random
        data = data.subset(n_train=300, seed=0)
    X, y = data.X_train / 255.0, np.where(data.y_train == 3, 1.0, -1.0)
    rb = RandomBinningFeatures(R, sigma=40.0, random_state=0)
    cols = rb.fit_transform_ids(X)
    design, Z = S.RBDesign(cols, rb.grid_offsets_), rb.ids_to_csr(cols)
    rows = []
    for tol in (1e-1, 1e-4):
        S.solve_svm(design, y, 1.0, tol=tol)
        t_own, w = best_of(lambda tol=tol: S.solve_svm(design, y, 1.0, tol=tol))
        svc = LinearSVC(
            C=1.0, loss="hinge", dual=True, fit_intercept=False, tol=tol, max_iter=100_000
        )
        t_lib, m = best_of(lambda svc=svc: svc.fit(Z, y))
        rows.append(
            {
                "tol": tol,
                "own_s": t_own,
                "liblinear_s": t_lib,
                "speedup": t_lib / t_own,
                "own_obj": S.svm_objective(design, y, w, 1.0, False),
                "liblinear_obj": S.svm_objective(design, y, m.coef_.ravel(), 1.0, False),
            }
        )
    report(f"dcd-{bench_size}-threads{fixed_threads}", rows, OUT)
    if bench_size == "full":
        assert all(r["speedup"] >= 1.0 for r in rows)


def _time_to_target(data, sigma, C, grids, sparse_input):
    """Smallest R (and its fit+predict seconds) at which each method reaches A* - 0.5 pt."""

    def run(model, X_tr, X_te):
        t0 = time.perf_counter()
        model.fit(X_tr, data.y_train)
        acc = float(np.mean(model.predict(X_te) == data.y_test))
        return time.perf_counter() - t0, acc

    t_exact, acc_exact = run(ExactLaplacianSVC(sigma=sigma, C=C), data.X_train, data.X_test)
    target = acc_exact - 0.005
    rows = [
        {
            "method": "exact-laplacian-svc",
            "R": data.n_train,
            "accuracy": acc_exact,
            "seconds": t_exact,
            "reached": True,
        }
    ]
    X_tr = sp.csr_matrix(data.X_train) if sparse_input else data.X_train
    X_te = sp.csr_matrix(data.X_test) if sparse_input else data.X_test
    makers = {
        "rb-svm": (lambda R: RBClassifier(R, sigma=sigma, C=C, random_state=0), X_tr, X_te),
        "rbf-sampler-svc": (
            lambda R: rbf_sampler_svc(R, sigma=sigma, C=C, random_state=0),
            data.X_train,
            data.X_test,
        ),
        "nystroem-svc": (
            lambda R: nystroem_svc(R, sigma=sigma, C=C, random_state=0),
            data.X_train,
            data.X_test,
        ),
    }
    run(RBClassifier(16, sigma=sigma, C=C, random_state=0), X_tr, X_te)  # compile first
    for name, (make, tr, te) in makers.items():
        last = None
        for R in grids:
            if name == "nystroem-svc" and R > data.n_train:
                break
            secs, acc = run(make(R), tr, te)
            last = {
                "method": name,
                "R": R,
                "accuracy": acc,
                "seconds": secs,
                "reached": acc >= target,
            }
            if acc >= target:
                break
        rows.append(last)
    return rows, target


def test_time_to_exact_accuracy(bench_size, fixed_threads):
    cases = {"banana": (1.0, 1.0, False)}
    if bench_size == "full":
        cases["mnist_5k"] = (40.0, 10.0, True)
    grids = (16, 32) if bench_size == "smoke" else (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
    for name, (sigma, C, sparse_input) in cases.items():
        data = load_dataset(name, seed=0)
        if name == "mnist_5k":
            data = minmax(data)
        if bench_size == "smoke":
            data = data.subset(n_train=500, n_test=200)
        rows, target = _time_to_target(data, sigma, C, grids, sparse_input)
        exact = rows[0]["seconds"]
        rb = next(r for r in rows if r["method"] == "rb-svm")
        for r in rows:
            r["exact_over_this"] = exact / r["seconds"]
            r["this_over_rb"] = r["seconds"] / rb["seconds"]
        report(
            f"time-to-target-{name}-{bench_size}-threads{fixed_threads} (target {target:.4f})",
            rows,
            OUT,
        )
