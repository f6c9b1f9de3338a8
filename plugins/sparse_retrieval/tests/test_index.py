"""SparseIndex against brute force, the NumPy reference, FLOPs counts and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from leanml.core import DataError, InputError, ParameterError
from leanml.sparse_retrieval import SparseIndex, expected_flops, flops_ratio, to_csr
from leanml.sparse_retrieval._reference import brute_force_topk, search_reference


def build(D, **kw):
    index = SparseIndex(D.shape[1], **kw)
    index.add(D)
    return index


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_exact_topk_identical_to_brute_force_with_ties(rng, signed, n_threads, sparse_rows):
    # dyadic values: every sum is exact in float32, so ties are real ties
    D = sparse_rows(rng, 400, 32, 6, signed=signed)
    D = sp.vstack([D, D[:50]]).tocsr()  # duplicated rows: guaranteed ties, broken by id
    Q = sparse_rows(rng, 37, 32, 6, signed=signed)
    index = build(D, n_threads=n_threads)
    for k in (1, 7, 60):
        s, i = index.search(Q, k)
        bs, bi = brute_force_topk(Q, D, k)
        np.testing.assert_array_equal(i, bi)
        np.testing.assert_array_equal(s, bs)


def test_kernel_equals_numpy_reference_on_continuous_values(rng):
    D = sp.random(700, 48, density=0.08, random_state=1, format="csr", dtype=np.float32)
    Q = sp.random(25, 48, density=0.1, random_state=2, format="csr", dtype=np.float32)
    index = build(D)
    s, i, touched = index.search(Q, 10, return_touched=True)
    rs, ri, rt = search_reference(Q, D, 10)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_array_equal(s, rs)
    np.testing.assert_array_equal(touched, rt)
    bs, bi = brute_force_topk(Q, D, 10)  # float64, other summation order
    np.testing.assert_allclose(s, bs, atol=1e-5)
    np.testing.assert_array_equal(i, bi)


def test_touched_postings_are_sum_of_posting_lengths_and_match_expected_flops(rng, sparse_rows):
    D = sparse_rows(rng, 300, 20, 5)
    Q = sparse_rows(rng, 40, 20, 5)
    index = build(D)
    _, _, touched = index.search(Q, 3, return_touched=True)
    lengths = np.diff(D.tocsc().indptr)
    by_hand = [lengths[Q.indices[Q.indptr[q] : Q.indptr[q + 1]]].sum() for q in range(40)]
    np.testing.assert_array_equal(touched, by_hand)
    np.testing.assert_array_equal(index.posting_lengths, lengths)
    # E[postings per query] / N = Σ_j q_j p_j exactly (integer counts)
    assert touched.sum() / (300 * 40) == pytest.approx(expected_flops(D, Q), rel=1e-12)


def test_uniform_supports_give_s2_over_d_and_balanced_design_gives_ratio_one(rng):
    n, d, s = 20_000, 256, 16
    cols = np.array([rng.choice(d, s, replace=False) for _ in range(n)])
    X = sp.csr_matrix((np.ones(n * s), cols.ravel(), np.arange(0, n * s + 1, s)), shape=(n, d))
    assert expected_flops(X) == pytest.approx(s * s / d, rel=0.02)
    # block-circulant support: row i uses columns (i + 0..s-1) mod d, every p_j = s/d
    circ = (np.arange(d)[:, None] + np.arange(s)[None, :]) % d
    C = sp.csr_matrix((np.ones(d * s), circ.ravel(), np.arange(0, d * s + 1, s)), shape=(d, d))
    assert flops_ratio(C) == pytest.approx(1.0, abs=1e-12)
    skew = sp.csr_matrix(np.eye(d)[np.zeros(d, dtype=int)])  # every row in column 0
    assert flops_ratio(skew) == pytest.approx(d)


def test_threshold_keeps_only_scores_above_and_pads(rng, sparse_rows):
    D = sparse_rows(rng, 200, 16, 4)
    Q = sparse_rows(rng, 20, 16, 4)
    index = build(D, threshold=0.5)
    s, i = index.search(Q, 15)
    _bs, bi = brute_force_topk(Q, D, 15, threshold=0.5)
    np.testing.assert_array_equal(i, bi)
    assert np.all(s[i >= 0] > 0.5)
    assert np.all(np.isneginf(s[i < 0]))
    assert (i < 0).any()  # some queries have fewer than k rows above 0.5
    # a negative threshold keeps zero-overlap rows (score 0) and is documented
    _s_neg, i_neg = index.search(Q, 15, threshold=-0.1)
    np.testing.assert_array_equal(i_neg, brute_force_topk(Q, D, 15)[1])


def test_empty_query_documented_behaviour(rng, sparse_rows):
    D = sparse_rows(rng, 50, 8, 3)
    index = build(D)
    empty = sp.csr_matrix((2, 8), dtype=np.float32)
    s, i = index.search(empty, 4)
    np.testing.assert_array_equal(i, [[0, 1, 2, 3]] * 2)
    assert np.all(s == 0)
    _s0, i0 = index.search(empty, 4, threshold=0.0)
    assert np.all(i0 == -1)


def test_add_in_chunks_equals_one_add_and_all_zero_rows(rng, sparse_rows):
    D = sparse_rows(rng, 120, 10, 3)
    D = sp.vstack([D, sp.csr_matrix((5, 10), dtype=np.float32)]).tocsr()  # all-zero rows
    Q = sparse_rows(rng, 9, 10, 3)
    one = build(D)
    parts = SparseIndex(10)
    for a in range(0, 125, 40):
        parts.add(D[a : a + 40])
    assert parts.ntotal == 125
    for k in (3, 125):
        np.testing.assert_array_equal(one.search(Q, k)[1], parts.search(Q, k)[1])


def test_unsorted_and_duplicate_csr_indices_are_summed(rng):
    data = np.array([0.5, 0.25, 0.25], np.float32)
    # row 0 stores column 2 twice and out of order
    D = sp.csr_matrix((data, np.array([2, 0, 2]), np.array([0, 3, 3])), shape=(2, 3))
    D.has_sorted_indices = False
    index = build(D)
    q = sp.csr_matrix(np.array([[0.0, 0.0, 1.0]], np.float32))
    s, i = index.search(q, 2)
    assert i.tolist() == [[0, 1]] and s[0, 0] == pytest.approx(0.75)


def test_save_load_round_trip(tmp_path, rng, sparse_rows):
    D = sparse_rows(rng, 90, 12, 4)
    Q = sparse_rows(rng, 11, 12, 4)
    dense = rng.normal(size=(90, 5)).astype(np.float32)
    index = SparseIndex(12, threshold=0.25)
    index.add(D, dense=dense)
    path = index.save(tmp_path / "idx")
    assert path.suffix == ".npz"
    back = SparseIndex.load(path)
    assert (back.dim, back.ntotal, back.threshold) == (12, 90, 0.25)
    for a, b in zip(index.search(Q, 5), back.search(Q, 5), strict=True):
        np.testing.assert_array_equal(a, b)
    dq = rng.normal(size=(11, 5)).astype(np.float32)
    np.testing.assert_array_equal(
        index.search(Q, 5, rerank=20, dense_queries=dq)[1],
        back.search(Q, 5, rerank=20, dense_queries=dq)[1],
    )
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError):
        SparseIndex.load(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataError, match="not a SparseIndex"):
        SparseIndex.load(tmp_path / "other.npz")


def test_rerank_with_full_depth_equals_dense_brute_force(rng, sparse_rows):
    D = sparse_rows(rng, 80, 10, 3)
    Q = sparse_rows(rng, 7, 10, 3)
    dense = rng.normal(size=(80, 6)).astype(np.float32)
    dq = rng.normal(size=(7, 6)).astype(np.float32)
    index = SparseIndex(10)
    index.add(D, dense=dense)
    s, i = index.search(Q, 5, rerank=80, dense_queries=dq)
    bs, bi = brute_force_topk(dq, dense, 5)
    np.testing.assert_array_equal(i, bi)
    np.testing.assert_allclose(s, bs, rtol=1e-5)
    # shallow re-rank: only the sparse top-k' are re-scored
    _, cand = index.search(Q, 10)
    _, i10 = index.search(Q, 3, rerank=10, dense_queries=dq)
    for q in range(7):
        assert set(i10[q]) <= set(cand[q])
    with pytest.raises(ParameterError):
        index.search(Q, 5, rerank=3, dense_queries=dq)
    with pytest.raises(ParameterError):
        index.search(Q, 5, rerank=10)
    with pytest.raises(InputError):
        index.search(Q, 5, rerank=10, dense_queries=dq[:, :2])


def test_bad_inputs(rng, sparse_rows):
    D = sparse_rows(rng, 30, 6, 3)
    index = SparseIndex(6)
    with pytest.raises(InputError, match="empty"):
        index.search(D[:2], 1)
    index.add(D)
    with pytest.raises(InputError, match="dense"):
        index.add(D.toarray())
    with pytest.raises(InputError, match="dense"):
        index.search(D[:2].toarray(), 1)
    with pytest.raises(InputError, match="columns"):
        index.search(sp.csr_matrix((1, 7), dtype=np.float32), 1)
    with pytest.raises(InputError, match="columns"):
        index.add(sp.csr_matrix((1, 5), dtype=np.float32))
    nan = D[:1].copy()
    nan.data[0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        index.search(nan, 1)
    with pytest.raises(InputError, match="NaN"):
        index.add(nan)
    for k in (0, -1, 31, 2.5, True):
        with pytest.raises(ParameterError):
            index.search(D[:2], k)
    with pytest.raises(ParameterError):
        SparseIndex(0)
    with pytest.raises(ParameterError):
        SparseIndex(6, threshold=float("nan"))
    with pytest.raises(InputError, match="numbers"):
        index.add(sp.csr_matrix(np.array([[1j, 0, 0, 0, 0, 0]])))
    # float64 and int input are converted to float32
    index.add(sp.csr_matrix(np.eye(6, dtype=np.float64)))
    index.add(sp.csr_matrix(np.eye(6, dtype=np.int64)))
    assert index.ntotal == 42


def test_to_csr_drops_tiny_values_and_rejects_nan():
    X = np.array([[1e-9, 0.5, -2e-8], [0.0, 0.0, 0.0]], dtype=np.float64)
    csr = to_csr(X)
    assert csr.dtype == np.float32 and csr.nnz == 2
    with pytest.raises(InputError):
        to_csr(np.array([[np.inf, 1.0]]))
    with pytest.raises(InputError):
        to_csr(np.zeros(3))


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("density", ["sparse", "dense"])
def test_thresholded_search_both_selection_paths(rng, sparse_rows, signed, density):
    # t >= 0 lists the touched rows (sparse: a query reaches < N/4 rows) or falls back to
    # the full pass (dense: the list overflows); signed dyadic values make scores cancel
    # to exactly 0, so a row can be listed twice
    nnz = 2 if density == "sparse" else 12
    D = sparse_rows(rng, 2000, 64 if density == "sparse" else 16, nnz, levels=2, signed=signed)
    Q = sparse_rows(rng, 40, D.shape[1], nnz, levels=2, signed=signed)
    index = build(D)
    reached = np.diff((abs(Q) @ abs(D).T).tocsr().indptr)
    assert (reached < 500).all() if density == "sparse" else (reached > 500).any()
    for t in (0.0, 0.25):
        s, i = index.search(Q, 12, threshold=t)
        bs, bi = brute_force_topk(Q, D, 12, threshold=t)
        np.testing.assert_array_equal(i, bi)
        np.testing.assert_array_equal(s, bs)
