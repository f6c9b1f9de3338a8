"""BinaryLatentFeatures: monotone objective, planted recovery, invariances, bad input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from leanml.bmp.corrective import Gram, prox_gradient, smooth_part
from leanml.bmp.estimators import BinaryLatentFeatures
from leanml.bmp.synthetic import planted_codes, planted_identifiable
from leanml.core import InputError, ParameterError


def hamming_up_to_complement(Z: np.ndarray, Z0: np.ndarray) -> np.ndarray:
    """For each planted column, the smallest Hamming rate to a learned column or its
    complement."""
    out = []
    for k in range(Z0.shape[1]):
        rates = [
            min(np.mean(Z[:, j] != Z0[:, k]), np.mean(Z[:, j] == Z0[:, k]))
            for j in range(Z.shape[1])
        ]
        out.append(min(rates) if rates else 1.0)
    return np.array(out)


@pytest.fixture(scope="module")
def planted():
    return planted_codes(300, (12, 12), 5, 0.3, 0.05, True, seed=1)


def test_objective_never_increases(planted) -> None:
    X, _, _ = planted
    for lam in (1e-3, 0.05):
        m = BinaryLatentFeatures(n_atoms=12, lam=lam, random_state=0).fit(X)
        path = np.array(m.objective_path_)
        assert len(path) >= 2
        assert np.all(np.diff(path) <= 1e-12 * np.abs(path[:-1]))


def test_objective_never_increases_on_dense_random_data() -> None:
    X = np.random.default_rng(0).standard_normal((80, 15))
    m = BinaryLatentFeatures(n_atoms=10, lam=1e-4, random_state=0).fit(X)
    assert np.all(np.diff(m.objective_path_) <= 0)


def test_single_planted_atom_recovered_up_to_complement() -> None:
    rng = np.random.default_rng(3)
    N = 120
    z0 = np.zeros(N, bool)
    z0[rng.choice(N, 40, replace=False)] = True
    w = rng.standard_normal(30)
    X = np.outer(z0, w) + 1e-3 * rng.standard_normal((N, 30))
    m = BinaryLatentFeatures(n_atoms=1, random_state=0).fit(X)
    z = m.codes_[:, 0]
    assert np.array_equal(z, z0) or np.array_equal(z, ~z0)
    np.testing.assert_allclose(m.reconstruct(), np.outer(z0, w), atol=5e-3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_recovery_on_identifiable_instance(seed: int) -> None:
    # calibrated: lam = 0.05 and a budget of 4 x K0 atoms; union atoms are pruned by the
    # fully-corrective step, and every planted code is found exactly
    X, Z0, W0 = planted_identifiable(seed)
    m = BinaryLatentFeatures(n_atoms=16, lam=0.05, random_state=0).fit(X)
    assert hamming_up_to_complement(m.codes_, Z0).max() == 0.0
    truth = (Z0 @ W0.reshape(4, -1)).reshape(X.shape)
    assert np.sqrt(np.mean((m.reconstruct() - truth) ** 2)) <= 0.05


def test_rmse_to_planted_signal_within_twice_the_noise(planted) -> None:
    X, Z0, W0 = planted
    m = BinaryLatentFeatures(n_atoms=10, random_state=0).fit(X)
    truth = (Z0 @ W0.reshape(5, -1)).reshape(X.shape)
    assert np.sqrt(np.mean((m.reconstruct() - truth) ** 2)) <= 2 * 0.05


def test_rmse_path_mostly_decreasing(planted) -> None:
    X, _, _ = planted
    m = BinaryLatentFeatures(n_atoms=8, random_state=0).fit(X)
    assert m.rmse_path_[-1] < 0.5 * m.rmse_path_[0]


def test_order2_tensor_reproduces_matrix_model(planted) -> None:
    X, _, _ = planted
    a = BinaryLatentFeatures(n_atoms=6, random_state=2).fit(X)
    b = BinaryLatentFeatures(n_atoms=6, random_state=2).fit(X.reshape(len(X), -1))
    np.testing.assert_array_equal(a.codes_, b.codes_)
    np.testing.assert_allclose(a.features_.reshape(a.n_atoms_, -1), b.features_)
    assert a.features_.shape == (a.n_atoms_, 12, 12)


def test_same_seed_identical(planted) -> None:
    X, _, _ = planted
    a = BinaryLatentFeatures(n_atoms=5, random_state=7).fit(X)
    b = BinaryLatentFeatures(n_atoms=5, random_state=7).fit(X)
    np.testing.assert_array_equal(a.codes_, b.codes_)
    np.testing.assert_array_equal(a.features_, b.features_)


def test_codes_invariant_to_affine_rescaling(planted) -> None:
    X, _, _ = planted
    a = BinaryLatentFeatures(n_atoms=5, random_state=1).fit(X)
    b = BinaryLatentFeatures(n_atoms=5, random_state=1).fit(1e6 * X + 3e7)
    np.testing.assert_array_equal(a.codes_, b.codes_)
    np.testing.assert_allclose(b.features_, 1e6 * a.features_, rtol=1e-6, atol=1e-3)


def test_integer_input_is_cast_before_arithmetic() -> None:
    rng = np.random.default_rng(0)
    Z = rng.random((60, 3)) < 0.3
    X = (1000 + Z @ rng.integers(200, 900, (3, 20))).astype(np.uint16)
    a = BinaryLatentFeatures(n_atoms=3, random_state=0).fit(X)
    b = BinaryLatentFeatures(n_atoms=3, random_state=0).fit(X.astype(float))
    np.testing.assert_array_equal(a.codes_, b.codes_)
    assert a.features_.dtype == np.float64
    np.testing.assert_allclose(a.reconstruct(), b.reconstruct())
    # uint16 arithmetic would have wrapped around: the fit explains most of the signal
    Xf = X.astype(float)
    assert np.linalg.norm(a.reconstruct() - Xf) < 0.3 * np.linalg.norm(Xf - Xf.mean(axis=0))


def test_transform_is_the_exact_best_code() -> None:
    X, _, _ = planted_codes(40, (6,), 3, 0.4, 0.1, False, seed=5)
    m = BinaryLatentFeatures(n_atoms=4, random_state=0).fit(X)
    Z = m.transform(X)
    W = m.features_.reshape(m.n_atoms_, -1)
    codes = np.array(list(itertools.product((0, 1), repeat=m.n_atoms_)), dtype=float)
    for i in range(len(X)):
        errs = np.sum((X[i] - m.intercept_ - codes @ W) ** 2, axis=1)
        got = np.sum((X[i] - m.intercept_ - Z[i] @ W) ** 2)
        assert got == pytest.approx(errs.min(), rel=1e-10, abs=1e-12)
    # encoding the training rows is never worse than the fitted codes
    assert -m.score(X) <= np.sqrt(np.mean((m.reconstruct() - X) ** 2)) + 1e-12


def test_transform_local_search_path_is_one_flip_optimal(monkeypatch) -> None:
    from leanml.bmp import estimators

    monkeypatch.setattr(estimators, "EXACT_ENCODE_MAX", 2)
    X, _, _ = planted_codes(50, (10,), 4, 0.4, 0.1, False, seed=6)
    m = BinaryLatentFeatures(n_atoms=5, random_state=0).fit(X)
    Z = m.transform(X).astype(float)
    W = m.features_.reshape(m.n_atoms_, -1)
    for i in range(len(X)):
        base = np.sum((X[i] - m.intercept_ - Z[i] @ W) ** 2)
        for k in range(m.n_atoms_):
            z = Z[i].copy()
            z[k] = 1 - z[k]
            assert np.sum((X[i] - m.intercept_ - z @ W) ** 2) >= base - 1e-9


def test_storage_bytes_and_budget(planted) -> None:
    X, _, _ = planted
    m = BinaryLatentFeatures(n_atoms=6, random_state=0).fit(X)
    K = m.n_atoms_
    assert m.storage_bytes() == (300 * K + 7) // 8 + 4 * K * 144 + 4 * 144
    budget = (300 * 3 + 7) // 8 + 4 * 3 * 144 + 4 * 144
    b = BinaryLatentFeatures(n_atoms=6, max_bytes=budget, random_state=0).fit(X)
    assert b.n_atoms_ <= 3 and b.storage_bytes() <= budget
    assert b.stop_reason_ == "max_bytes"


def test_low_rank_features(planted) -> None:
    X, _, _ = planted
    m = BinaryLatentFeatures(n_atoms=4, feature_rank=2, random_state=0).fit(X)
    for W in m.features_:
        assert np.linalg.matrix_rank(W, tol=1e-8 * np.abs(W).max()) <= 2
    assert m.storage_bytes() == (300 * 4 + 7) // 8 + 4 * 4 * 2 * 24 + 4 * 144
    full = BinaryLatentFeatures(n_atoms=4, random_state=0).fit(X)
    # the block-coordinate CP fit is never better than the unconstrained least squares
    assert -full.score(X) <= -m.score(X) + 1e-12


def test_constant_tensor_gives_intercept_only_model() -> None:
    X = np.full((10, 3, 2), 7.0)
    with pytest.warns(UserWarning, match="constant"):
        m = BinaryLatentFeatures(random_state=0).fit(X)
    assert m.n_atoms_ == 0 and m.stop_reason_ == "constant"
    np.testing.assert_allclose(m.predict(X), X)
    assert m.transform(X).shape == (10, 0)


def test_stops_on_duplicate_or_score() -> None:
    X, _, _ = planted_identifiable(0)
    m = BinaryLatentFeatures(n_atoms=40, lam=0.05, random_state=0).fit(X)
    assert m.stop_reason_ in {"duplicate", "score", "tol"}
    assert m.n_atoms_ < 40


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), "NaN or inf"),
        (np.ones((3, 3)) * 1j, "complex"),
        (np.ones(5), "at least 2"),
        (np.ones((0, 4)), "empty"),
        (np.array([["a", "b"]]), "numeric"),
    ],
)
def test_bad_inputs(X, match) -> None:
    with pytest.raises(InputError, match=match):
        BinaryLatentFeatures().fit(X)


@pytest.mark.parametrize(
    "params",
    [
        {"lam": 0.0},
        {"lam": -1.0},
        {"tau": 0.0},
        {"tau": float("nan")},
        {"n_atoms": 0},
        {"n_atoms": 2.5},
        {"max_bytes": 0},
        {"feature_rank": 0},
        {"tol": -1},
        {"rank": 0},
    ],
)
def test_bad_parameters(params) -> None:
    with pytest.raises(ParameterError):
        BinaryLatentFeatures(**params).fit(np.random.default_rng(0).standard_normal((5, 3)))


def test_wrong_shape_at_transform(planted) -> None:
    X, _, _ = planted
    m = BinaryLatentFeatures(n_atoms=2, random_state=0).fit(X)
    with pytest.raises(InputError, match="fitted on"):
        m.transform(X.reshape(300, -1))
    with pytest.raises(InputError, match="shape"):
        m.inverse_transform(np.zeros((3, 5)))
    with pytest.raises(InputError, match="not fitted"):
        BinaryLatentFeatures().transform(X)


def test_get_set_params_and_clone() -> None:
    from sklearn.base import clone

    m = BinaryLatentFeatures(n_atoms=3, lam=0.2, random_state=4)
    c = clone(m)
    assert c.get_params() == m.get_params()
    c.set_params(n_atoms=5)
    assert c.n_atoms == 5 and m.n_atoms == 3
    with pytest.raises(ParameterError):
        c.set_params(nope=1)


def test_n_atoms_clipped_to_rows() -> None:
    X = np.random.default_rng(0).standard_normal((4, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = BinaryLatentFeatures(n_atoms=50, random_state=0).fit(X)
    assert m.n_atoms_ <= 4


# -- the fully-corrective step ---------------------------------------------------------


def _gram(seed: int = 0):
    rng = np.random.default_rng(seed)
    N, D, K = 50, 7, 4
    Z = (rng.random((N, K)) < 0.4).astype(float)
    Zb = Z - Z.mean(axis=0)
    X = rng.standard_normal((N, D))
    X -= X.mean(axis=0)
    return Gram(Zb.T @ Zb, Zb.T @ X, float(np.sum(X * X)), N), Zb, X


def test_smooth_part_matches_direct_ridge_and_finite_differences() -> None:
    gram, Zb, X = _gram()
    tau = 0.3
    c = np.array([0.5, 0.0, 2.0, 1.0])
    f, g, W = smooth_part(gram, c, tau)
    Zc = Zb * np.sqrt(c)
    W_ref = np.linalg.solve(Zc.T @ Zc + len(X) * tau * np.eye(4), Zc.T @ X)
    np.testing.assert_allclose(W, W_ref, atol=1e-12)
    f_ref = np.sum((X - Zc @ W_ref) ** 2) / (2 * len(X)) + tau / 2 * np.sum(W_ref**2)
    assert f == pytest.approx(f_ref, rel=1e-12)
    eps = 1e-6
    for j in (0, 2, 3):  # at c_j > 0 central differences; at c_j = 0 a one-sided one
        e = np.zeros(4)
        e[j] = eps
        fd = (smooth_part(gram, c + e, tau)[0] - smooth_part(gram, c - e, tau)[0]) / (2 * eps)
        assert g[j] == pytest.approx(fd, rel=1e-5)
    e = np.zeros(4)
    e[1] = eps
    fd = (smooth_part(gram, c + e, tau)[0] - f) / eps
    assert g[1] == pytest.approx(fd, rel=1e-3)


def test_prox_gradient_is_monotone_and_reaches_kkt() -> None:
    gram, _, _ = _gram(1)
    tau, lam = 0.5, 0.01
    c = np.zeros(4)
    F0 = smooth_part(gram, c, tau)[0]
    c, F, _, _ = prox_gradient(gram, c, lam, tau, max_iter=5000, tol=1e-14)
    assert F <= F0
    _, g, _ = smooth_part(gram, c, tau)
    # KKT of min f + lam * sum(c), c >= 0
    active = c > 1e-8
    np.testing.assert_allclose(g[active] + lam, 0.0, atol=1e-5)
    assert np.all(g[~active] + lam >= -1e-6)


# -- reading (B): binary codes on several modes, continuous core -------------------------


def test_ridge_core_matches_the_kronecker_normal_equations() -> None:
    from leanml.bmp.multimode import reconstruct, ridge_core

    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 5, 4))
    F = [(rng.random((6, 3)) < 0.5).astype(float), None, (rng.random((4, 2)) < 0.5) * 1.0]
    G = ridge_core(X, F, 0.3)
    K = np.kron(np.kron(F[0], np.eye(5)), F[2])
    g = np.linalg.solve(K.T @ K + 0.3 * np.eye(K.shape[1]), K.T @ X.ravel())
    np.testing.assert_allclose(G.ravel(), g, atol=1e-12)
    np.testing.assert_allclose(reconstruct(G, F).ravel(), K @ g, atol=1e-12)


@pytest.fixture(scope="module")
def boolean_tucker():
    rng = np.random.default_rng(0)
    Z1, Z2 = rng.random((60, 3)) < 0.4, rng.random((50, 2)) < 0.4
    G0 = rng.standard_normal((3, 2, 8))
    truth = np.einsum("ia,jb,abd->ijd", Z1, Z2, G0)
    return truth + 0.05 * rng.standard_normal(truth.shape), truth


def test_boolean_tucker_recovers_the_planted_signal(boolean_tucker) -> None:
    X, truth = boolean_tucker
    m = BinaryLatentFeatures(n_atoms=12, model="tucker", coded_modes=(0, 1), random_state=0)
    m.fit(X)
    assert np.sqrt(np.mean((m.reconstruct() - truth) ** 2)) <= 2 * 0.05
    assert set(m.atom_modes_) == {0, 1}  # both modes got codes
    path = np.array(m.objective_path_)
    assert np.all(np.diff(path) <= 1e-15 * path[:-1])
    K0, K1 = (c.shape[1] for c in m.mode_codes_)
    assert m.core_.shape == (K0 + 1, K1 + 1, 8)
    assert m.storage_bytes() == (60 * K0 + 50 * K1 + 7) // 8 + 4 * m.core_.size
    # mode-0 slices encode through the same API as reading (A)
    assert -m.score(X) <= np.sqrt(np.mean((m.reconstruct() - X) ** 2)) + 1e-12


def test_boolean_tucker_budget_and_bad_modes(boolean_tucker) -> None:
    X, _ = boolean_tucker
    m = BinaryLatentFeatures(
        n_atoms=12, model="tucker", coded_modes=(0, 1), max_bytes=200, random_state=0
    ).fit(X)
    assert m.storage_bytes() <= 200 and m.stop_reason_ == "max_bytes"
    for modes in ((1,), (0, 0), (0, 3), (0, -1)):
        with pytest.raises(ParameterError, match="coded_modes"):
            BinaryLatentFeatures(model="tucker", coded_modes=modes).fit(X)
    with pytest.raises(ParameterError, match="model"):
        BinaryLatentFeatures(model="cp").fit(X)


def test_boolean_tucker_constant_tensor() -> None:
    with pytest.warns(UserWarning, match="constant"):
        m = BinaryLatentFeatures(model="tucker", coded_modes=(0, 1)).fit(np.full((4, 3, 2), 2.0))
    assert m.n_atoms_ == 0
    np.testing.assert_allclose(m.reconstruct(), 2.0)


def test_size_one_modes(planted) -> None:
    X, _, _ = planted
    a = BinaryLatentFeatures(n_atoms=4, random_state=0).fit(X.reshape(300, 1, 144, 1))
    b = BinaryLatentFeatures(n_atoms=4, random_state=0).fit(X.reshape(300, 144))
    np.testing.assert_array_equal(a.codes_, b.codes_)
    assert a.features_.shape == (a.n_atoms_, 1, 144, 1)
    assert a.predict(X[:3].reshape(3, 1, 144, 1)).shape == (3, 1, 144, 1)
