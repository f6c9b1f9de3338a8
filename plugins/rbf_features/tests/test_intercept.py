"""The unpenalised intercept (``fit_intercept``) of every solver, against independent solvers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.svm import SVC

from leanml.rbf_features import RandomBinningFeatures, RBClassifier, RBRegressor
from leanml.rbf_features import solvers as S


@pytest.fixture(scope="module")
def tiny(banana):
    """200 banana rows (imbalanced on purpose: 2/3 of one class), R = 8: Z is 200 x ~90."""
    X, y = banana.X_train[:400], banana.y_train[:400].astype(float)
    keep = np.concatenate([np.flatnonzero(y > 0)[:134], np.flatnonzero(y < 0)[:66]])
    X, y = X[keep], y[keep]
    rb = RandomBinningFeatures(8, sigma=1.0, random_state=0)
    cols = rb.fit_transform_ids(X)
    weight = 0.5 + np.random.default_rng(0).random(len(y))
    return S.RBDesign(cols, rb.grid_offsets_), rb.ids_to_csr(cols).toarray(), y, weight


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def lbfgs(fun, n: int, bounds=None) -> np.ndarray:
    """L-BFGS-B on ``fun`` returning (value, gradient), from zero, to machine precision."""
    opts = {"maxiter": 100_000, "maxfun": 10**6, "ftol": 1e-16, "gtol": 1e-12}
    x0 = np.zeros(n)
    return scipy.optimize.minimize(
        fun, x0, jac=True, method="L-BFGS-B", bounds=bounds, options=opts
    ).x


def loss_and_slope(loss: str, m: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row loss and its derivative in the margin m, written out independently."""
    if loss == "squared":
        return 0.5 * (m - y) ** 2, m - y
    if loss == "squared_hinge":
        slack = np.maximum(0.0, 1.0 - y * m)
        return slack**2, -2.0 * y * slack
    return np.logaddexp(0.0, -y * m), -y / (1.0 + np.exp(y * m))


def test_hinge_dcd_equals_libsvm_with_its_free_bias(tiny):
    design, Z, y, _ = tiny
    w, b = S.solve_svm(design, y, 0.5, tol=1e-10, max_iter=10**6, fit_intercept=True)
    ref = SVC(kernel="linear", C=0.5, tol=1e-12).fit(Z, y)  # libsvm: SMO, b unpenalised
    ours = S.svm_objective(design, y, w, 0.5, False, b=b)
    theirs = S.svm_objective(design, y, ref.coef_.ravel(), 0.5, False, b=ref.intercept_[0])
    assert rel(ours, theirs) <= 1e-7, (ours, theirs)
    no_bias = S.svm_objective(design, y, S.solve_svm(design, y, 0.5, tol=1e-10), 0.5, False)
    assert ours < no_bias - 1e-3  # the free bias is worth something here


@pytest.mark.parametrize("weighted", [False, True])
def test_squared_hinge_dcd_equals_lbfgs(tiny, weighted):
    design, Z, y, weight = tiny
    s = weight if weighted else None
    w, b = S.solve_svm(
        design, y, 2.0, squared=True, tol=1e-11, max_iter=10**6, sample_weight=s, fit_intercept=True
    )
    D, cs = Z.shape[1], 2.0 * (weight if weighted else np.ones(len(y)))

    def fun(x):
        f, d = loss_and_slope("squared_hinge", Z @ x[:D] + x[D], y)
        return 0.5 * x[:D] @ x[:D] + cs @ f, np.append(x[:D] + Z.T @ (cs * d), cs @ d)

    x = lbfgs(fun, D + 1)
    ref = fun(x)[0]
    assert rel(S.svm_objective(design, y, w, 2.0, True, s, b=b), ref) <= 1e-8
    assert abs(b - x[D]) <= 1e-4


def test_logistic_newton_equals_sklearn_lbfgs(tiny):
    design, Z, y, weight = tiny
    w, b = S.solve_logistic(design, y, 3.0, tol=1e-11, sample_weight=weight, fit_intercept=True)
    ref = LogisticRegression(C=3.0, tol=1e-12, max_iter=100_000).fit(Z, y, sample_weight=weight)
    ours = S.logistic_objective(design, y, w, 3.0, weight, b=b)
    theirs = S.logistic_objective(design, y, ref.coef_.ravel(), 3.0, weight, b=ref.intercept_[0])
    assert ours <= theirs * (1 + 1e-9), (ours, theirs)
    assert abs(b - ref.intercept_[0]) <= 1e-4


@pytest.mark.parametrize("solver", ["bcd", "cg"])
def test_ridge_equals_sklearn_ridge_with_intercept(tiny, solver):
    design, Z, y, weight = tiny
    target = 3.0 * y + 1000.0  # far from zero: a penalised or missing bias would show
    if solver == "bcd":
        w, b = S.solve_ridge_bcd(
            design, target, 0.3, tol=1e-13, max_iter=10**5, sample_weight=weight, fit_intercept=True
        )
    else:
        w, b = S.solve_ridge_cg(
            design, target, 0.3, tol=1e-13, sample_weight=weight, fit_intercept=True
        )
    ref = Ridge(alpha=0.3, solver="svd").fit(Z, target, sample_weight=weight)
    ours = S.ridge_objective(design, target, w, 0.3, weight, b=b)
    theirs = S.ridge_objective(design, target, ref.coef_, 0.3, weight, b=ref.intercept_)
    assert rel(ours, theirs) <= 1e-9, (ours, theirs)
    assert np.allclose(w, ref.coef_, atol=1e-6) and abs(b - ref.intercept_) <= 1e-6


@pytest.mark.parametrize("loss", ["squared_hinge", "logistic", "squared"])
def test_l1_prox_cd_equals_lbfgs_on_split_weights(tiny, loss):
    """||w||_1 via w = u - v, u, v >= 0 (a smooth bound-constrained problem), b free."""
    design, Z, y, weight = tiny
    C = 2.0
    w, b = S.solve_l1(
        design, y, C, loss=loss, tol=1e-12, max_iter=10**5, sample_weight=weight, fit_intercept=True
    )
    D, cs = Z.shape[1], C * weight

    def split(x):
        f, d = loss_and_slope(loss, Z @ (x[:D] - x[D : 2 * D]) + x[-1], y)
        g = Z.T @ (cs * d)
        return x[: 2 * D].sum() + cs @ f, np.concatenate([1 + g, 1 - g, [cs @ d]])

    x = lbfgs(split, 2 * D + 1, bounds=[(0, None)] * (2 * D) + [(None, None)])
    ours, theirs = S.l1_objective(design, y, w, C, loss, weight, b=b), split(x)[0]
    assert ours <= theirs * (1 + 1e-7), (ours, theirs)
    assert rel(ours, theirs) <= 1e-6
    assert abs(b - x[-1]) <= 1e-3


def _limit(loss: str, y: np.ndarray) -> float:
    """argmin_b sum_i loss(y_i b): the intercept when C -> 0 forces w -> 0."""
    p = np.mean(y > 0)
    return {
        "logistic": np.log(p / (1 - p)),
        "squared_hinge": 2 * p - 1,  # root of -2 n+ (1 - b) + 2 n- (1 + b)
        "hinge": 1.0,  # n+ (1 - b) + n- (1 + b) on [-1, 1], n+ > n-
    }[loss]


@pytest.mark.parametrize(
    ("loss", "penalty"),
    [("hinge", "l2"), ("squared_hinge", "l2"), ("logistic", "l2"), ("logistic", "l1")],
)
def test_bias_is_not_shrunk_as_C_falls(tiny, banana, loss, penalty):
    """C -> 0 drives w to 0; a penalised bias would follow, an unpenalised one goes to the
    loss's own minimiser for the class balance (2/3 positive here)."""
    y = tiny[2]
    X = banana.X_train[:400]
    keep = np.concatenate([np.flatnonzero(banana.y_train[:400] > 0)[:134],
                           np.flatnonzero(banana.y_train[:400] < 0)[:66]])  # fmt: skip
    kw = {"loss": loss, "penalty": penalty, "sigma": 1.0, "random_state": 0, "tol": 1e-10}
    for C in (1e-5, 1e-3):
        model = RBClassifier(8, C=C, fit_intercept=True, max_iter=10**5, **kw).fit(X[keep], y)
        assert abs(model.intercept_[0] - _limit(loss, y)) <= 0.02 + 20 * C, (C, model.intercept_)
        assert np.abs(model.coef_).max() <= 100 * C
    off = RBClassifier(8, C=1e-5, fit_intercept=False, max_iter=10**5, **kw).fit(X[keep], y)
    assert off.intercept_[0] == 0.0 and np.abs(off.decision_function(X[keep])).max() < 0.01


@pytest.mark.parametrize("solver", ["cg", "bcd", "pcd"])
def test_shifted_target_fits_as_well_as_the_centred_one(rng, solver):
    X = rng.uniform(-2, 2, size=(500, 2))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2
    kw = {"sigma": 1.0, "alpha": 0.1 if solver != "pcd" else 0.01, "solver": solver}
    kw |= {"penalty": "l1" if solver == "pcd" else "l2", "max_iter": 3000, "random_state": 0}
    centred = RBRegressor(64, **kw).fit(X, y - y.mean())
    shifted = RBRegressor(64, **kw).fit(X, y - y.mean() + 1000.0)
    assert np.allclose(shifted.predict(X) - 1000.0, centred.predict(X), atol=1e-3)
    assert np.allclose(shifted.coef_, centred.coef_, atol=1e-3)
    if solver == "pcd":  # an L1 penalty grows linearly: the grids absorb the shift cheaply
        return
    no_bias = RBRegressor(64, fit_intercept=False, **kw).fit(X, y - y.mean() + 1000.0)
    err_b = np.mean((shifted.predict(X) - 1000.0 - (y - y.mean())) ** 2)
    err_nob = np.mean((no_bias.predict(X) - 1000.0 - (y - y.mean())) ** 2)
    assert err_nob > 10 * err_b, (err_b, err_nob)


def test_estimator_margins_add_the_intercept_and_warm_start_keeps_it(banana):
    X, y = banana.X_train[:600], banana.y_train[:600]
    kw = {"sigma": 1.0, "tol": 1e-8, "warm_start": True, "random_state": 0}
    model = RBClassifier(32, fit_intercept=True, **kw).fit(X, y)
    assert model.intercept_.shape == (1,)
    design = S.RBDesign(model.binning_.transform_ids(X), model.binning_.grid_offsets_)
    assert np.allclose(model.decision_function(X), design.dot(model.coef_[:, 0]) + model.intercept_)
    first, b = model.n_iter_, model.intercept_.copy()
    model.fit(X, y)  # restarts at its own dual and bias: a few epochs
    assert model.n_iter_ < first / 4 and abs(model.intercept_[0] - b[0]) < 1e-6
    Y2 = np.stack([y, np.where(X[:, 0] > 0, 1.0, -1.0) * 7 + 100], axis=1)
    reg = RBRegressor(16, sigma=1.0, random_state=0).fit(X, Y2)
    assert reg.intercept_.shape == (2,) and abs(reg.intercept_[1] - 100) < 5
