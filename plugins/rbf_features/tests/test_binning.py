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
from leanml.rbf_features.bandwidth import AUTO_FACTOR, median_l1_sigma
from leanml.rbf_features.binning import _validate_X
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
    rb = RandomBinningFeatures(32, sigma=4.0, random_state=7)
    cols = rb.fit_transform_ids(digits_X)
    local_ref, kappa_ref = _reference.fit_bins(digits_X, *rb.grid_parameters)
    assert np.array_equal(cols, (local_ref + rb.grid_offsets_[:-1, None]).T)
    assert np.array_equal(rb.n_bins_per_grid_, kappa_ref)
    assert cols.dtype == np.int32  # n R < 2^31: the compact layout
    assert not hasattr(rb, "_train_local")  # nothing of the training rows is kept


def test_determinism_and_fit_transform(digits_X):
    Z1 = RandomBinningFeatures(64, sigma=8.0, random_state=5).fit_transform(digits_X)
    rb = RandomBinningFeatures(64, sigma=8.0, random_state=5).fit(digits_X)
    Z2 = rb.transform(digits_X)
    assert (Z1 != Z2).nnz == 0 and np.array_equal(Z1.indices, Z2.indices)
    Z3 = RandomBinningFeatures(64, sigma=8.0, random_state=6).fit_transform(digits_X)
    assert Z1.shape != Z3.shape or not np.array_equal(Z1.indices, Z3.indices)


@pytest.mark.filterwarnings("ignore:kappa")  # narrow bins on purpose: many edges to cross
def test_float32_input_is_binned_in_float64_arithmetic(rng):
    """float32 data are other numbers than the float64 data they were rounded from; each is
    binned exactly (in float64) as the NumPy reference bins its values, never in float32."""
    X64 = rng.uniform(0.0, 1e6, size=(300, 4))  # large values: float32 rounding is ~0.03
    X32 = X64.astype(np.float32)
    assert np.any(X32.astype(np.float64) != X64)  # really different inputs
    rb = RandomBinningFeatures(64, sigma=1.0, random_state=0).fit(X64)
    a, b, P = rb.grid_parameters
    assert np.array_equal(
        rb._keys(_validate_X(X32)).T, _reference.grid_keys(X32.astype(float), a, b, P)
    )
    # float32 arithmetic would move points across bin edges: the comparison above can fail
    codes32 = np.floor(X32[:, None, :] * a.astype(np.float32) - b.astype(np.float32))
    codes64 = np.floor(X32.astype(float)[:, None, :] * a - b)
    assert np.any(codes32 != codes64)
    # the same values as float32 or float64 give the same features
    Z32 = RandomBinningFeatures(64, sigma=1.0, random_state=0).fit_transform(X32)
    Z64 = RandomBinningFeatures(64, sigma=1.0, random_state=0).fit_transform(X32.astype(float))
    assert (Z32 != Z64).nnz == 0
    # and rounding to float32 does move some points to other bins than the float64 originals
    assert np.any(rb.transform_ids(X32) != rb.transform_ids(X64))


def test_csr_and_dense_inputs_give_identical_features(rng):
    X = sp.random(300, 40, density=0.1, format="csr", random_state=2)
    X.data = X.data * 4 - 1  # negative and positive non-zeros
    X.data[::7] = 0.0  # explicit zeros must behave as implicit ones
    dense = X.toarray()
    rb_s = RandomBinningFeatures(50, sigma=2.0, random_state=1).fit(X)
    rb_d = RandomBinningFeatures(50, sigma=2.0, random_state=1).fit(dense)
    assert np.array_equal(rb_s.transform_ids(X), rb_d.transform_ids(dense))
    assert (rb_s.transform(X[:20]) != rb_d.transform(dense[:20])).nnz == 0


def test_unseen_bins_get_no_column_and_seen_bins_their_own(digits_X):
    train, new = digits_X[:100], digits_X[100:160].copy()
    new[::2, :3] += 2.0  # half the rows moved: some of their bins were never seen
    rb = RandomBinningFeatures(64, sigma=4.0, random_state=0).fit(train)
    got = rb.transform_ids(new)
    a, b, P = rb.grid_parameters
    k_train, k_new = _reference.grid_keys(train, a, b, P), _reference.grid_keys(new, a, b, P)
    train_cols = rb.transform_ids(train)
    expected = np.full(got.shape, -1)
    for r in range(64):  # brute force: the column of the training row with the same key
        first = {k: train_cols[i, r] for i, k in reversed(list(enumerate(k_train[r])))}
        expected[:, r] = [first.get(k, -1) for k in k_new[r]]
    assert np.array_equal(got, expected)
    assert 0 < np.mean(expected == -1) < 0.9  # both cases occur
    assert (train_cols >= 0).all()
    Z = rb.transform(new)
    assert np.array_equal(np.diff(Z.indptr), (expected >= 0).sum(axis=1))


def test_large_index_space_uses_int64_when_needed():
    rb = RandomBinningFeatures(4, sigma=1.0, random_state=0).fit(np.zeros((3, 2)))
    rb.n_columns_ = 2**31 + 5  # only the index dtype decision is exercised here
    Z = rb.ids_to_csr(np.zeros((3, 4), dtype=np.int64))
    assert Z.indices.dtype == np.int64


def test_numba_keys_match_numpy_for_dense_and_sparse(rng):
    X = rng.normal(size=(20, 6))
    X[X < 0.3] = 0.0
    rb = RandomBinningFeatures(8, sigma=1.0, random_state=0).fit(X)
    ref = _reference.grid_keys(X, *rb.grid_parameters).T
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
        ({}, np.array([[{"a": 1}, 2.0]], dtype=object), TypeError, "must be a string or"),
        ({}, np.zeros((4, 0)), InputError, "no columns"),
        ({}, np.ones((3, 2)) * (1 + 1j), InputError, "Complex data not supported"),
        ({}, sp.csr_matrix(np.ones((3, 2)) * 1j), InputError, "Complex data not supported"),
        ({"sigma": "scale"}, np.zeros((2, 2)), ParameterError, "'auto' or a number"),
    ],
)
def test_bad_input(params, X, error, match):
    with pytest.raises(error, match=match):
        RandomBinningFeatures(**params).fit(X)


def test_mismatched_features_at_transform(digits_X):
    rb = RandomBinningFeatures(8, sigma=8.0).fit(digits_X)
    with pytest.raises(
        InputError, match="has 10 features, but RandomBinningFeatures is expecting 64"
    ):
        rb.transform(digits_X[:, :10])


def test_collapsed_kernel_warns(digits_X):
    with pytest.warns(UserWarning, match="collapsed"):
        RandomBinningFeatures(8, sigma=0.01, random_state=0).fit(digits_X)


def test_auto_sigma_is_a_quarter_of_the_median_l1_distance(digits_X):
    rb = RandomBinningFeatures(8, random_state=0).fit(digits_X)
    brute = np.abs(digits_X[:, None] - digits_X[None]).sum(-1)[np.triu_indices(500, 1)]
    # 2000 random pairs estimate the median of all 124,750 pairs to within a few per cent
    assert rb.sigma_ == pytest.approx(AUTO_FACTOR * np.median(brute), rel=0.05)
    assert rb.sigma_ == median_l1_sigma(sp.csr_matrix(digits_X))  # same pairs, CSR input
    assert RandomBinningFeatures(8, random_state=1).fit(digits_X).sigma_ == rb.sigma_
    assert RandomBinningFeatures(8).fit(digits_X * 10).sigma_ == pytest.approx(10 * rb.sigma_)
    assert median_l1_sigma(np.ones((5, 3))) == 1.0  # no scale in the data


@pytest.mark.parametrize("seed", [3, None])
def test_pickle_round_trip_gives_the_same_features(digits_X, seed):
    import pickle

    rb = RandomBinningFeatures(32, sigma=4.0, random_state=seed).fit(digits_X[:300])
    blob = pickle.dumps(rb)
    back = pickle.loads(blob)
    assert np.array_equal(back.transform_ids(digits_X), rb.transform_ids(digits_X))
    assert ("_aT" in rb.__getstate__()) == (seed is None)  # a seed redraws the grids
