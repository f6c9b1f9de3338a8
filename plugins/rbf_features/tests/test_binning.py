"""The RB feature map: kernel law, exactness properties, determinism, layouts, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from leanml.core import InputError, ParameterError
from leanml.rbf_features import (
    RandomBinningFeatures,
    _reference,
    kernel_matrix,
    sample_widths,
)
from leanml.rbf_features.experiments import convergence, slope


@pytest.mark.parametrize("kernel", ["laplacian", "reciprocal", "triangle"])
def test_same_bin_probability_is_the_kernel(kernel):
    """Monte Carlo over 2e6 random 1-D grids, binned exactly as the kernels bin."""
    rng = np.random.default_rng(1)
    sigma, n = 1.7, 2_000_000
    delta = sample_widths(kernel, sigma, n, rng)
    a, b = 1.0 / delta, rng.random(n)  # b = u/delta with u ~ U[0, delta)
    for t in (0.1, 0.5, 1.0, 2.0):
        same = np.floor(0.0 * a - b) == np.floor(t * sigma * a - b)
        exact = kernel_matrix(np.zeros((1, 1)), np.full((1, 1), t * sigma), sigma, kernel)[0, 0]
        assert abs(same.mean() - exact) < 3e-3, (t, same.mean(), exact)


def test_laplacian_kernel_matrix_matches_its_definition(rng):
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    K = kernel_matrix(X, Y, 2.0)
    brute = np.exp(-np.abs(X[:, None] - Y[None]).sum(-1) / 2.0)
    assert np.allclose(K, brute)


def test_frobenius_error_falls_like_one_over_sqrt_R(digits_X):
    grids = [64, 256, 1024]
    runs = [convergence(digits_X, 8.0, grids, seed=s) for s in (0, 1, 2)]
    for rows in runs:
        for row in rows:
            assert row["rel_error"] <= 2.5 / np.sqrt(row["R"]), row
    mean_rows = [
        {"R": R, "rel_error": np.mean([rows[k]["rel_error"] for rows in runs])}
        for k, R in enumerate(grids)
    ]
    assert -0.6 <= slope(mean_rows) <= -0.4


@pytest.mark.parametrize("R", [64, 100, 256, 1024])
def test_diagonal_is_one_and_rows_have_R_entries(digits_X, R):
    rb = RandomBinningFeatures(R, sigma=8.0, random_state=0)
    Z = rb.fit_transform(digits_X)
    assert np.array_equal(np.diff(Z.indptr), np.full(500, R))
    diag = (Z @ Z.T).diagonal()
    if R in (64, 256, 1024):  # 1/sqrt(R) is a power of two: R * (1/sqrt(R))^2 is exactly 1
        assert np.all(diag == 1.0)
    else:  # otherwise only up to the rounding of 1/sqrt(R)
        assert np.abs(diag - 1.0).max() <= 1e-14
    assert Z.shape[1] == rb.n_columns_ == rb.n_bins_per_grid_.sum()
    assert rb.kappa_ == pytest.approx(Z.shape[1] / R)


def test_single_grid_gram_is_block_diagonal_zero_one(digits_X):
    rb = RandomBinningFeatures(1, sigma=8.0, random_state=3)
    G = (rb.fit_transform(digits_X) @ rb.transform(digits_X).T).toarray()
    assert set(np.unique(G)) <= {0.0, 1.0}
    cols = rb.transform_ids(digits_X)[:, 0]
    assert np.array_equal(G, (cols[:, None] == cols[None, :]).astype(float))


def test_kernel_ids_equal_numpy_reference(digits_X):
    rb = RandomBinningFeatures(32, sigma=4.0, random_state=7).fit(digits_X)
    local_ref, kappa_ref = _reference.fit_bins(digits_X, rb._a, rb._b, rb._P)
    assert np.array_equal(rb._train_local, local_ref)
    assert np.array_equal(rb.n_bins_per_grid_, kappa_ref)


def test_determinism_and_fit_transform(digits_X):
    Z1 = RandomBinningFeatures(64, sigma=8.0, random_state=5).fit_transform(digits_X)
    rb = RandomBinningFeatures(64, sigma=8.0, random_state=5).fit(digits_X)
    Z2 = rb.transform(digits_X)
    assert (Z1 != Z2).nnz == 0 and np.array_equal(Z1.indices, Z2.indices)
    Z3 = RandomBinningFeatures(64, sigma=8.0, random_state=6).fit_transform(digits_X)
    assert Z1.shape != Z3.shape or not np.array_equal(Z1.indices, Z3.indices)


def test_float32_and_float64_give_the_same_bins(digits_X):
    X32 = (digits_X * 1.37).astype(np.float32)
    a = RandomBinningFeatures(64, sigma=3.0, random_state=0).fit_transform(X32)
    b = RandomBinningFeatures(64, sigma=3.0, random_state=0).fit_transform(X32.astype(np.float64))
    assert (a != b).nnz == 0


def test_csr_and_dense_inputs_give_identical_features(rng):
    X = sp.random(300, 40, density=0.1, format="csr", random_state=2)
    X.data = X.data * 4 - 1  # negative and positive non-zeros
    X.data[::7] = 0.0  # explicit zeros must behave as implicit ones
    dense = X.toarray()
    rb_s = RandomBinningFeatures(50, sigma=2.0, random_state=1).fit(X)
    rb_d = RandomBinningFeatures(50, sigma=2.0, random_state=1).fit(dense)
    assert np.array_equal(rb_s.transform_ids(X), rb_d.transform_ids(dense))
    assert (rb_s.transform(X[:20]) != rb_d.transform(dense[:20])).nnz == 0


def test_unseen_bins_get_no_column(digits_X):
    rb = RandomBinningFeatures(64, sigma=4.0, random_state=0).fit(digits_X[:100])
    far = digits_X[100:150] + 50.0
    Z = rb.transform(far)
    assert Z.nnz < 50 * 64
    assert Z.indices.max(initial=-1) < rb.n_columns_
    assert np.all(rb.transform_ids(far) >= -1)


def test_large_index_space_uses_int64_when_needed():
    rb = RandomBinningFeatures(4, sigma=1.0, random_state=0).fit(np.zeros((3, 2)))
    rb.n_columns_ = 2**31 + 5  # only the index dtype decision is exercised here
    Z = rb.ids_to_csr(np.zeros((3, 4), dtype=np.int64))
    assert Z.indices.dtype == np.int64


def test_numba_keys_match_numpy_for_dense_and_sparse(rng):
    X = rng.normal(size=(20, 6))
    X[X < 0.3] = 0.0
    rb = RandomBinningFeatures(8, sigma=1.0, random_state=0).fit(X)
    ref = _reference.grid_keys(X, rb._a, rb._b, rb._P).T
    assert np.array_equal(rb._keys(X), ref)
    assert np.array_equal(rb._keys(sp.csr_matrix(X)), ref)


@pytest.mark.parametrize(
    ("params", "X", "error", "match"),
    [
        ({}, np.array([[0.0, np.nan]]), InputError, "NaN or infinity"),
        ({}, np.array([[0.0, np.inf]]), InputError, "NaN or infinity"),
        ({"sigma": 0.0}, np.zeros((2, 2)), ParameterError, "sigma must be"),
        ({"sigma": -1.0}, np.zeros((2, 2)), ParameterError, "sigma must be"),
        ({"sigma": float("nan")}, np.zeros((2, 2)), ParameterError, "sigma must be"),
        ({"n_grids": 0}, np.zeros((2, 2)), ParameterError, "n_grids must be"),
        ({"kernel": "gaussian"}, np.zeros((2, 2)), ParameterError, "unknown kernel"),
        ({"sigma": 1e-6}, np.array([[1e12, 0.0]]), InputError, "beyond 2\\^52"),
        ({}, sp.csc_matrix(np.eye(3)), InputError, "must be CSR"),
        ({}, np.zeros(3), InputError, "must be 2-D"),
        ({}, np.zeros((0, 3)), InputError, "no rows"),
        ({}, np.array([["a", "b"]]), InputError, "numeric"),
    ],
)
def test_bad_input(params, X, error, match):
    with pytest.raises(error, match=match):
        RandomBinningFeatures(**params).fit(X)


def test_mismatched_features_at_transform(digits_X):
    rb = RandomBinningFeatures(8, sigma=8.0).fit(digits_X)
    with pytest.raises(InputError, match="has 10 features, but the binning was fitted with 64"):
        rb.transform(digits_X[:, :10])


def test_collapsed_kernel_warns(digits_X):
    with pytest.warns(UserWarning, match="collapsed"):
        RandomBinningFeatures(8, sigma=0.01, random_state=0).fit(digits_X)
