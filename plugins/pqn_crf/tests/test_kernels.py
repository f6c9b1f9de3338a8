"""Chain kernels against brute force, finite differences and the log-space reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from leanml.pqn_crf import _kernels, _reference
from leanml.pqn_crf.chain import ChainData, ChainObjective, make_chunks


def brute_force(U, T):
    """log Z, node marginals and edge-marginal sums by enumerating all K^n sequences."""
    n, K = U.shape
    paths = np.array(list(itertools.product(range(K), repeat=n)))
    scores = U[np.arange(n), paths].sum(axis=1)
    if n > 1:
        scores += T[paths[:, :-1], paths[:, 1:]].sum(axis=1)
    log_z = np.logaddexp.reduce(scores)
    p = np.exp(scores - log_z)
    node = np.zeros((n, K))
    edge = np.zeros((K, K))
    for path, pr in zip(paths, p, strict=True):
        node[np.arange(n), path] += pr
        for t in range(n - 1):
            edge[path[t], path[t + 1]] += pr
    return log_z, node, edge, paths[np.argmax(scores)], scores


def run_fb(U, T, offsets, y, has_y=True, use_log=False, n_chunks=3):
    out = np.empty_like(U)
    values = np.empty(offsets.size - 1)
    dT, n_log = _kernels.chain_forward_backward(
        U, T, offsets, y, make_chunks(offsets, n_chunks), has_y, out, values, use_log
    )
    return values, out, dT, n_log


@pytest.mark.parametrize("n", [1, 2, 4])
def test_log_z_nll_and_marginals_equal_brute_force(rng, n):
    K = 3
    for _ in range(5):
        U = rng.normal(scale=2.0, size=(n, K))
        T = rng.normal(scale=2.0, size=(K, K))
        y = rng.integers(0, K, size=n).astype(np.int64)
        offsets = np.array([0, n], dtype=np.int64)
        log_z, node, edge, _, scores = brute_force(U, T)
        vals, _, _, _ = run_fb(U, T, offsets, y, has_y=False)
        assert abs(vals[0] - log_z) <= 1e-12 * max(1.0, abs(log_z))
        _, P, dT, _ = run_fb(U, T, offsets, y, has_y=False)
        np.testing.assert_allclose(P, node, atol=1e-13)
        np.testing.assert_allclose(dT, edge, atol=1e-13)
        nll, dU, dTy, _ = run_fb(U, T, offsets, y)
        idx = int(np.ravel_multi_index(tuple(y), (K,) * n))
        assert abs(nll[0] - (log_z - scores[idx])) <= 1e-12 * max(1.0, abs(log_z))
        onehot = np.eye(K)[y]
        np.testing.assert_allclose(dU, node - onehot, atol=1e-13)
        counts = np.zeros((K, K))
        np.add.at(counts, (y[:-1], y[1:]), 1.0)
        np.testing.assert_allclose(dTy, edge - counts, atol=1e-13)


def test_viterbi_equals_brute_force(rng):
    K = 3
    for n in (1, 2, 4):
        for _ in range(5):
            U = rng.normal(size=(n, K))
            T = rng.normal(size=(K, K))
            labels = np.empty(n, dtype=np.int64)
            offsets = np.array([0, n], dtype=np.int64)
            best = _kernels.chain_viterbi(U, T, offsets, make_chunks(offsets, 1), labels)
            _, _, _, path, scores = brute_force(U, T)
            np.testing.assert_array_equal(labels, path)
            assert best[0] == pytest.approx(scores.max(), abs=1e-12)
            ref_path, ref_best = _reference.viterbi(U, T)
            np.testing.assert_array_equal(ref_path, path)
            assert ref_best == pytest.approx(scores.max(), abs=1e-12)


@pytest.mark.parametrize("scale", [1.0, 50.0, 800.0])
def test_scaled_equals_log_space_reference(rng, scale):
    K, n_seq = 5, 40
    lengths = rng.integers(1, 30, size=n_seq)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    n = int(offsets[-1])
    U = rng.normal(scale=3.0, size=(n, K))
    T = rng.uniform(-scale, scale, size=(K, K))
    y = rng.integers(0, K, size=n).astype(np.int64)
    vals, dU, dT, _ = run_fb(U, T, offsets, y)
    ref, dU_ref, dT_ref = _reference.chain_nll_grad(U, T, offsets, y)
    assert abs(vals.sum() - ref) <= 1e-10 * abs(ref)
    np.testing.assert_allclose(dU, dU_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(dT, dT_ref, rtol=0, atol=1e-10 * max(1.0, np.abs(dT_ref).max()))
    vals_log, dU_log, dT_log, n_log = run_fb(U, T, offsets, y, use_log=True)
    assert n_log == n_seq
    assert abs(vals_log.sum() - ref) <= 1e-10 * abs(ref)
    np.testing.assert_allclose(dU_log, dU_ref, atol=1e-10)
    np.testing.assert_allclose(dT_log, dT_ref, atol=1e-10 * max(1.0, np.abs(dT_ref).max()))


def test_underflow_falls_back_to_log_space_exactly():
    # Label 0 is certain at t=0 and every transition out of it is 1,600 below the best
    # transition: exp-space scaling underflows to 0; the sequence must be redone in logs.
    T = np.array([[-800.0, -800.0], [800.0, 800.0]])
    U = np.array([[0.0, -1000.0], [0.0, 0.0], [1.0, 0.0]])
    y = np.array([0, 1, 0], dtype=np.int64)
    offsets = np.array([0, 3], dtype=np.int64)
    vals, dU, dT, n_log = run_fb(U, T, offsets, y, n_chunks=1)
    assert n_log == 1
    ref, dU_ref, dT_ref = _reference.chain_nll_grad(U, T, offsets, y)
    assert abs(vals[0] - ref) <= 1e-10 * abs(ref)
    np.testing.assert_allclose(dU, dU_ref, atol=1e-12)
    np.testing.assert_allclose(dT, dT_ref, atol=1e-12)
    assert np.all(np.isfinite(dU))


def central_difference(fun, w, eps=1e-6):
    g = np.empty_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = eps
        g[i] = (fun(w + e)[0] - fun(w - e)[0]) / (2 * eps)
    return g


@pytest.mark.parametrize("c2", [0.0, 0.3])
def test_chain_gradient_matches_central_differences(rng, c2, make_chain):
    data = make_chain(rng, n_seq=8, K=3, d=4, max_len=5)
    obj = ChainObjective(data, c2=c2)
    w = rng.normal(size=obj.n_params)
    _, g = obj(w)
    fd = central_difference(obj, w)
    assert np.abs(g - fd).max() <= 1e-6 * max(1.0, np.abs(g).max())


def test_partial_gradient_matches_full_on_active_rows(rng, make_chain):
    data = make_chain(rng, n_seq=10, K=3, d=6)
    obj = ChainObjective(data)
    w = rng.normal(size=obj.n_params)
    f, g = obj(w)
    active = np.array([0, 4, 7, obj.n_params - 1])
    fp, gp = obj(w, active=active)
    assert fp == f
    np.testing.assert_allclose(gp[active], g[active], atol=1e-14)
    assert np.isnan(gp[5 * 3])  # attribute 5 has no active coordinate


def test_numba_kernels_equal_numpy_references(rng):
    X = sp.random(50, 20, density=0.2, random_state=0, format="csr")
    W = rng.normal(size=(20, 4))
    W[3] = 0.0
    used = np.any(W != 0, axis=1)
    idx = [a.astype(np.int64) for a in (X.indptr, X.indices)]
    U = np.full((50, 4), np.nan)  # the kernel overwrites a reused buffer completely
    np.testing.assert_allclose(_kernels.csr_matmul(*idx, X.data, W, used, U), X @ W, atol=1e-13)
    D = rng.normal(size=(50, 4))
    Xt = sp.csr_matrix(X.T)
    rows = np.array([1, 3, 19], dtype=np.int64)
    G = _kernels.csr_rows_dot(
        Xt.indptr.astype(np.int64), Xt.indices.astype(np.int64), Xt.data, D, rows
    )
    np.testing.assert_allclose(G, (X.T @ D)[rows], atol=1e-13)
    for parts in (1, 3):
        Gt = _kernels.csr_t_matmul(*idx, X.data, D, 20, parts)
        np.testing.assert_allclose(Gt, X.T @ D, atol=1e-13)


@pytest.mark.parametrize("gather", [0, 2, 100])
def test_pair_kernels_equal_numpy(rng, gather, monkeypatch):
    """The observed-pairs products against dense NumPy, on both gradient branches.

    ``gather`` moves the threshold between summing whole K-rows and gathering single labels
    (0: always rows, 100: always gather); the kernel is run as plain Python so the patched
    module constant takes effect (Numba's prange is range there).
    """
    K, d = 5, 30
    X = sp.random(60, d, density=0.3, random_state=1, format="csr")
    idx = [a.astype(np.int64) for a in (X.indptr, X.indices)]
    Xt = sp.csr_matrix(X.T)
    t_idx = [a.astype(np.int64) for a in (Xt.indptr, Xt.indices)]
    mask = rng.random((d, K)) < 0.4
    mask[3] = True  # an attribute with every label (the K-row branch)
    mask[4] = False  # one with none
    flat = np.flatnonzero(mask.ravel())
    ptr = np.searchsorted(flat // K, np.arange(d + 1)).astype(np.int64)
    label = (flat % K).astype(np.int64)
    wp = rng.normal(size=flat.size)
    wp[::3] = 0.0
    W = np.zeros(d * K)
    W[flat] = wp
    W = W.reshape(d, K)
    U = np.full((60, K), np.nan)
    used = np.diff(ptr) > 0
    _kernels.csr_pairs_matmul(*idx, X.data, ptr, label, wp, used, U)
    np.testing.assert_allclose(U, X @ W, atol=1e-13)
    D = rng.normal(size=(60, K))
    out = np.full(flat.size, np.nan)
    rows = np.arange(d, dtype=np.int64)
    monkeypatch.setattr(_kernels, "_GATHER_PAIRS", gather)
    kernel = _kernels.csr_rows_pairs.py_func
    kernel(*t_idx, Xt.data, D, rows, ptr, label, out, 3)
    np.testing.assert_allclose(out, (X.T @ D).ravel()[flat], atol=1e-13)
    out2 = np.full(flat.size, np.nan)
    _kernels.csr_rows_pairs(*t_idx, Xt.data, D, rows, ptr, label, out2, 7)  # compiled
    np.testing.assert_allclose(out2, out, atol=1e-13)


def test_objective_equals_reference_nll(chain, rng):
    obj = ChainObjective(chain)
    w = rng.normal(size=obj.n_params)
    W, T = obj.split(w)
    U = chain.X @ W
    ref, _, _ = _reference.chain_nll_grad(U, T, chain.offsets, chain.y)
    assert obj(w)[0] == pytest.approx(ref, rel=1e-12)


def test_chunking_does_not_change_results(rng, make_chain):
    data = make_chain(rng, n_seq=30, K=4, d=6, max_len=7)
    w = rng.normal(size=data.n_attributes * 4 + 16)
    a = ChainObjective(data)(w)
    other = ChainData(data.X, data.offsets, data.y, 4, n_chunks=1)
    b = ChainObjective(other)(w)
    assert a[0] == pytest.approx(b[0], rel=1e-13)
    np.testing.assert_allclose(a[1], b[1], atol=1e-12)
    assert make_chunks(data.offsets, 7)[-1] == 30
