"""Solvers on RB features against scikit-learn / LIBLINEAR on the same matrix, and NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.svm import LinearSVC

from leanml.core import ParameterError
from leanml.rbf_features import RandomBinningFeatures, _reference
from leanml.rbf_features import solvers as S


@pytest.fixture(scope="module")
def problem(banana):
    X, y = banana.X_train[:1200], banana.y_train[:1200].astype(float)
    rb = RandomBinningFeatures(64, sigma=1.0, random_state=0)
    cols = rb.fit_transform_ids(X)
    return S.RBDesign(cols, rb.grid_offsets_), rb.ids_to_csr(cols), y


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def test_products_and_column_index_match_scipy(problem):
    design, Z, _ = problem
    rng = np.random.default_rng(0)
    w, u = rng.normal(size=Z.shape[1]), rng.normal(size=Z.shape[0])
    assert np.allclose(design.dot(w), Z @ w)
    assert np.allclose(design.rdot(u), Z.T @ u)
    ptr, rows = design.csc()
    Zc = Z.tocsc()
    assert np.array_equal(ptr, Zc.indptr)
    for c in range(0, Z.shape[1], 37):
        assert sorted(rows[ptr[c] : ptr[c + 1]]) == sorted(
            Zc.indices[Zc.indptr[c] : Zc.indptr[c + 1]]
        )


@pytest.mark.parametrize("squared", [False, True])
def test_dcd_reaches_liblinear_objective(problem, squared):
    design, Z, y = problem
    C = 1.0
    w = S.solve_svm(design, y, C, squared=squared, tol=1e-8, max_iter=100_000)
    ref = LinearSVC(
        C=C,
        loss="squared_hinge" if squared else "hinge",
        dual=True,
        fit_intercept=False,
        tol=1e-8,
        max_iter=1_000_000,
    ).fit(Z, y)
    ours = S.svm_objective(design, y, w, C, squared)
    theirs = S.svm_objective(design, y, ref.coef_.ravel(), C, squared)
    assert rel(ours, theirs) <= 1e-4, (ours, theirs)


def test_dcd_agrees_with_textbook_numpy_dcd(problem):
    design, Z, y = problem
    sub = slice(0, 300)
    rb_cols = design.cols[sub]
    small = S.RBDesign(rb_cols, design.grid_offsets)
    w = S.solve_svm(small, y[sub], 0.5, tol=1e-10, max_iter=100_000)
    w_ref = _reference.dcd_svm(Z[sub], y[sub], 0.5, squared=False, n_epochs=100)
    f, f_ref = (
        S.svm_objective(small, y[sub], w, 0.5, False),
        S.svm_objective(small, y[sub], w_ref, 0.5, False),
    )
    assert rel(f, f_ref) <= 1e-4


def test_logistic_reaches_liblinear_objective(problem):
    design, Z, y = problem
    w = S.solve_logistic(design, y, C=2.0, tol=1e-10)
    ref = LogisticRegression(
        solver="liblinear", C=2.0, fit_intercept=False, tol=1e-10, max_iter=10_000
    )
    ref.fit(Z, y)
    ours = S.logistic_objective(design, y, w, 2.0)
    theirs = S.logistic_objective(design, y, ref.coef_.ravel(), 2.0)
    assert ours <= theirs * (1 + 1e-4), (ours, theirs)
    assert rel(ours, theirs) <= 1e-4


@pytest.mark.parametrize(
    ("solver", "kw"),
    [(S.solve_ridge_bcd, {"tol": 1e-12, "max_iter": 20_000}), (S.solve_ridge_cg, {})],
)
def test_ridge_reaches_sklearn_and_closed_form(problem, solver, kw):
    design, Z, y = problem
    alpha = 0.5
    w = solver(design, y, alpha, **kw)
    ref = Ridge(
        alpha=alpha, fit_intercept=False, solver="sparse_cg", tol=1e-12, max_iter=10_000
    ).fit(Z, y)
    dense = Z.toarray()
    closed = np.linalg.solve(dense.T @ dense + alpha * np.eye(Z.shape[1]), dense.T @ y)
    ours = S.ridge_objective(design, y, w, alpha)
    assert rel(ours, S.ridge_objective(design, y, ref.coef_, alpha)) <= 1e-4
    assert rel(ours, S.ridge_objective(design, y, closed, alpha)) <= 1e-8
    assert np.allclose(w, closed, atol=1e-6)


@pytest.mark.parametrize("loss", ["squared_hinge", "logistic", "squared"])
def test_l1_equals_the_sequential_numpy_sweep(problem, loss):
    design, Z, y = problem
    C = 2.0
    w = S.solve_l1(design, y, C, loss=loss, max_iter=30, tol=0.0)
    w_seq = _reference.l1_prox_sweep(Z, y, np.zeros(Z.shape[1]), C, loss, n_epochs=30)
    assert np.allclose(w, w_seq, rtol=1e-9, atol=1e-12)
    assert np.count_nonzero(w) < w.size  # the L1 step produces exact zeros
    w, b = S.solve_l1(design, y, C, loss=loss, max_iter=30, tol=0.0, fit_intercept=True)
    w_seq, b_seq = _reference.l1_prox_sweep(Z, y, np.zeros(Z.shape[1]), C, loss, 30, True)
    assert np.allclose(w, w_seq, rtol=1e-9, atol=1e-12) and np.isclose(b, b_seq, rtol=1e-9)
    assert b != 0.0


# Runs in a fresh interpreter with a 2-thread Numba pool, whatever this process was given.
_THREADS_SCRIPT = """
import numba, numpy as np
from leanml.core import load_dataset
from leanml.rbf_features import RandomBinningFeatures
from leanml.rbf_features import solvers as S
d = load_dataset("digits", seed=0)
X, labels = d.X_train[:600] / 16.0, d.y_train[:600]
rb = RandomBinningFeatures(32, sigma=2.0, random_state=0)
design = S.RBDesign(rb.fit_transform_ids(X), rb.grid_offsets_)
Y = np.where(labels[None, :] == np.arange(4)[:, None], 1.0, -1.0)
runs = {
    "l1": lambda: S.solve_l1_targets(design, Y, 1.0, loss="logistic", tol=0.0, max_iter=20),
    "bcd": lambda: S.solve_ridge_bcd_targets(design, Y, 0.5, tol=0.0, max_iter=20),
    "dcd": lambda: S.solve_svm_targets(design, Y, 1.0, tol=1e-6, max_iter=50),
    "dcd-b": lambda: S.solve_svm_targets(design, Y, 1.0, tol=1e-6, max_iter=50, fit_intercept=True),
    "bcd-b": lambda: S.solve_ridge_bcd_targets(
        design, Y, 0.5, tol=0.0, max_iter=20, fit_intercept=True
    ),
    "l1-b": lambda: S.solve_l1_targets(
        design, Y, 1.0, loss="logistic", tol=0.0, max_iter=20, fit_intercept=True
    ),
}
assert numba.config.NUMBA_NUM_THREADS == 2
for name, run in runs.items():
    numba.set_num_threads(1)
    (W1, b1, *_, it1, th1) = run()
    numba.set_num_threads(2)
    (W2, b2, *_, it2, th2) = run()
    assert len(set(th1)) == 1, (name, th1)
    assert len(set(th2)) == 2, (name, th2)  # both threads solved targets
    assert np.array_equal(W1, W2) and np.array_equal(it1, it2), name
    assert np.array_equal(b1, b2), name
    print(name, "ok")
"""


def test_parallel_targets_use_two_threads_and_equal_one_thread():
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    out = subprocess.run(
        [sys.executable, "-c", _THREADS_SCRIPT], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == [
        w for n in ("l1", "bcd", "dcd", "dcd-b", "bcd-b", "l1-b") for w in (n, "ok")
    ]


@pytest.mark.parametrize("solver", ["l1", "bcd", "dcd"])
def test_targets_equal_separate_single_target_solves(problem, solver):
    design, _, y = problem
    Y = np.stack([y, -y, np.roll(y, 7)])
    if solver == "l1":
        W, *_ = S.solve_l1_targets(design, Y, 1.0, loss="logistic", max_iter=20)
        one = [S.solve_l1(design, t, 1.0, loss="logistic", max_iter=20) for t in Y]
    elif solver == "bcd":
        W, *_ = S.solve_ridge_bcd_targets(design, Y, 0.5, max_iter=20)
        one = [S.solve_ridge_bcd(design, t, 0.5, max_iter=20) for t in Y]
    else:
        W, *_ = S.solve_svm_targets(design, Y, 1.0, tol=1e-3)
        one = [S.solve_svm(design, t, 1.0, tol=1e-3) for t in Y]
    assert np.array_equal(W, np.stack(one, axis=1))


@pytest.mark.parametrize("solver", ["dcd", "squared", "logistic", "l1", "bcd", "cg"])
def test_integer_sample_weights_equal_repeated_rows(problem, solver):
    """Weight 2 on a row is the same problem as the row twice (weight 0: the row absent)."""
    design, _, y = problem
    n = 400
    cols, yy = design.cols[:n], y[:n]
    weight = np.arange(n) % 3  # 0, 1, 2
    rep = np.repeat(np.arange(n), weight)
    weighted, repeated = (
        S.RBDesign(cols, design.grid_offsets),
        S.RBDesign(np.ascontiguousarray(cols[rep]), design.grid_offsets),
    )
    fit = {
        "dcd": lambda d, t, s: S.solve_svm(d, t, 1.0, tol=1e-10, max_iter=10**5, sample_weight=s),
        "squared": lambda d, t, s: S.solve_svm(
            d, t, 1.0, squared=True, tol=1e-10, max_iter=10**5, sample_weight=s
        ),
        "logistic": lambda d, t, s: S.solve_logistic(d, t, 1.0, tol=1e-10, sample_weight=s),
        "l1": lambda d, t, s: S.solve_l1(d, t, 1.0, tol=1e-12, max_iter=5000, sample_weight=s),
        "bcd": lambda d, t, s: S.solve_ridge_bcd(
            d, t, 0.5, tol=1e-12, max_iter=20_000, sample_weight=s
        ),
        "cg": lambda d, t, s: S.solve_ridge_cg(d, t, 0.5, tol=1e-12, sample_weight=s),
    }[solver]
    w_weighted = fit(weighted, yy, weight.astype(float))
    w_repeated = fit(repeated, yy[rep], None)
    assert np.allclose(w_weighted, w_repeated, atol=1e-4), np.abs(w_weighted - w_repeated).max()


def test_l1_squared_hinge_reaches_liblinear(problem):
    design, Z, y = problem
    C = 1.0
    w = S.solve_l1(design, y, C, loss="squared_hinge", tol=1e-10, max_iter=5000)
    ref = LinearSVC(
        C=C,
        penalty="l1",
        loss="squared_hinge",
        dual=False,
        fit_intercept=False,
        tol=1e-10,
        max_iter=100_000,
    ).fit(Z, y)
    ours = S.l1_objective(design, y, w, C, "squared_hinge")
    theirs = S.l1_objective(design, y, ref.coef_.ravel(), C, "squared_hinge")
    assert rel(ours, theirs) <= 1e-4, (ours, theirs)


def test_l1_objective_never_increases(problem):
    design, _, y = problem
    w = np.zeros(design.n_columns)
    prev = S.l1_objective(design, y, w, 1.0, "logistic")
    for _ in range(5):
        w = S.solve_l1(design, y, 1.0, loss="logistic", max_iter=1, tol=0.0, w0=w)
        cur = S.l1_objective(design, y, w, 1.0, "logistic")
        assert cur <= prev + 1e-12
        prev = cur


@pytest.mark.parametrize(
    "call",
    [
        lambda d, y: S.solve_svm(d, y, C=0.0),
        lambda d, y: S.solve_logistic(d, y, C=-1.0),
        lambda d, y: S.solve_ridge_bcd(d, y, alpha=0.0),
        lambda d, y: S.solve_l1(d, y, loss="hinge"),
    ],
)
def test_bad_solver_parameters(problem, call):
    design, _, y = problem
    with pytest.raises(ParameterError):
        call(design, y)
