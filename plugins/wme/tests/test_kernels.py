"""Exact EMD kernels against POT's network simplex, HiGHS, brute force and closed forms."""

from __future__ import annotations

import numpy as np
import ot
import pytest

from leanml.wme import _kernels as K
from leanml.wme import _reference as ref


def test_emd_matches_pot_on_1200_seeded_cases(make_case):
    rng = np.random.default_rng(2018)
    worst = 0.0
    for case in range(1200):
        a, b, C = make_case(rng, case)
        cost, status = K.emd_cost(a, b, C)
        assert status == K.OK
        expected = ot.emd2(a, b, C, numItermax=10**7)
        worst = max(worst, abs(cost - expected))
        assert cost == pytest.approx(expected, abs=1e-9), (case, C.shape)
    assert worst < 1e-9


def test_emd_matches_highs_linprog_on_50_cases(make_case):
    rng = np.random.default_rng(7)
    for case in range(50):
        a, b, C = make_case(rng, case)
        assert K.emd_cost(a, b, C)[0] == pytest.approx(ref.emd_linprog(a, b, C), abs=1e-8)


@pytest.mark.parametrize("solver", ["ssp", "simplex"])
def test_each_solver_matches_pot_on_wide_and_tall_problems(solver):
    rng = np.random.default_rng(3)
    for n, m in [(3, 3), (7, 30), (60, 45), (45, 60), (90, 90)]:
        C = rng.random((n, m)) * 5
        a = rng.random(n) ** 3
        a /= a.sum()
        b = rng.random(m)
        b /= b.sum()
        if solver == "ssp":
            cost, status = K.emd_ssp(a, b, C)
        else:
            cost, status = K.emd_simplex(a, b, C, 10**6)
        assert status == K.OK
        assert cost == pytest.approx(ot.emd2(a, b, C, numItermax=10**7), abs=1e-9)


def test_closed_forms_d1_d2():
    rng = np.random.default_rng(1)
    for _ in range(100):
        n = int(rng.integers(1, 40))
        a = rng.random(n)
        a /= a.sum()
        C = rng.random((n, 2)) * 3
        assert K.emd_d1(a, C[:, :1]) == pytest.approx(float(a @ C[:, 0]), abs=1e-14)
        b = rng.random(2)
        b /= b.sum()
        assert K.emd_d2(a, b, C) == pytest.approx(ref.emd_bruteforce_d2(a, b, C), abs=1e-12)


def test_pair_costs_match_cdist_and_equal_vectors_cost_zero(rng):
    X = rng.normal(size=(13, 50))
    Y = np.vstack([rng.normal(size=(4, 50)), X[:3]])
    G = K.pair_costs(X, Y)
    np.testing.assert_allclose(G, ref.pair_costs_ref(X, Y), atol=1e-12)
    assert G[0, 4] == 0.0 and G[2, 6] == 0.0


def test_wmd_to_random_docs_matches_linprog_reference(rng):
    vocab = rng.normal(size=(30, 5))
    randw = rng.normal(size=(12, 5))
    rptr = np.array([0, 1, 3, 7, 12])
    docs = [np.array([0, 4, 9]), np.array([3]), np.arange(10, 30)]
    wts = [rng.random(len(d)) for d in docs]
    wts = [w / w.sum() for w in wts]
    indptr = np.cumsum([0] + [len(d) for d in docs])
    G = K.pair_costs(vocab, randw)
    out, status = K.wmd_to_random_docs(indptr, np.concatenate(docs), np.concatenate(wts), G, rptr)
    assert not status.any()
    expected = ref.wmd_to_random_docs_ref(
        [(vocab[d], w) for d, w in zip(docs, wts, strict=True)],
        [randw[rptr[r] : rptr[r + 1]] for r in range(4)],
    )
    np.testing.assert_allclose(out, expected, atol=1e-8)


def test_empty_document_gets_infinite_distance(rng):
    G = rng.random((4, 3))
    out, _ = K.wmd_to_random_docs(
        np.array([0, 0, 2]), np.array([1, 2]), np.array([0.5, 0.5]), G, np.array([0, 3])
    )
    assert np.isinf(out[0, 0]) and np.isfinite(out[1, 0])


def test_wmd_identity_permutation_and_duplicate_merging(rng):
    from leanml.wme import emd, wmd

    X = rng.normal(size=(9, 20))
    w = rng.random(9)
    Y = rng.normal(size=(5, 20))
    v = rng.random(5)
    assert wmd((X, w), (X, w)) == 0.0
    base = wmd((X, w), (Y, v))
    perm = rng.permutation(9)
    assert wmd((X[perm], w[perm]), (Y, v)) == pytest.approx(base, abs=1e-12)
    # Splitting word 0 into two identical tokens with half the weight each changes nothing.
    Xd = np.vstack([X, X[:1]])
    wd = np.concatenate([w, w[:1] / 2])
    wd[0] /= 2
    assert wmd((Xd, wd), (Y, v)) == pytest.approx(base, abs=1e-12)
    # Symmetry, and emd() on the explicit cost matrix.
    assert wmd((Y, v), (X, w)) == pytest.approx(base, abs=1e-12)
    C = np.sqrt(((X[:, None] - Y[None]) ** 2).sum(-1))
    assert emd(w, v, C) == pytest.approx(base, abs=1e-12)


def test_wmd_matrix_matches_pairwise_pot(shift):
    from leanml.wme import wmd_matrix
    from leanml.wme.documents import to_documents, tokenize

    data, emb = shift
    docs_a, docs_b = data.X_train[:6], data.X_test[:5]
    M = wmd_matrix(docs_a, docs_b, emb)
    A = to_documents(tokenize(docs_a), emb)
    B = to_documents(tokenize(docs_b), emb)
    wa, wb = A.weights(), B.weights()
    for s in range(6):
        for t in range(5):
            ra = slice(A.indptr[s], A.indptr[s + 1])
            rb = slice(B.indptr[t], B.indptr[t + 1])
            Xa, Xb = emb.vectors[A.rows[ra]], emb.vectors[B.rows[rb]]
            C = np.sqrt(((Xa[:, None] - Xb[None]) ** 2).sum(-1))
            assert M[s, t] == pytest.approx(ot.emd2(wa[ra], wb[rb], C), abs=1e-9)


def test_large_pairs_use_the_simplex_and_stay_exact(rng):
    a = rng.random(150)
    b = rng.random(120)
    C = rng.random((150, 120))
    from leanml.wme import emd

    assert emd(a, b, C) == pytest.approx(ot.emd2(a / a.sum(), b / b.sum(), C), abs=1e-9)


def test_multilevel_warm_start_on_long_documents():
    """n >= 16 D takes the subsampled warm start (1 or 2 coarse levels); still exact."""
    rng = np.random.default_rng(11)
    for n, D in [(64, 3), (200, 6), (333, 10), (500, 21), (900, 4)]:
        C = K.pair_costs(rng.normal(size=(n, 30)), rng.normal(size=(D, 30)))
        a = rng.random(n) ** 3
        a[::7] = 0.0  # zero-weight words, some on the subsampled rows
        a /= a.sum()
        b = rng.random(D)
        b /= b.sum()
        cost, status = K.emd_ssp(a, b, C)
        assert status == K.OK
        assert cost == pytest.approx(ot.emd2(a, b, C, numItermax=10**7), abs=1e-9)


def test_weighted_quantile_matches_sorting():
    """Smallest t with cumulative weight >= target, ties and out-of-range targets included."""
    rng = np.random.default_rng(5)
    for m in [1, 2, 7, 31, 32, 200, 500]:
        for rounded in (False, True):
            t = rng.normal(size=m)
            if rounded:
                t = np.round(t, 1)
            w = rng.random(m) * (rng.random(m) > 0.1)
            mass = w.sum()
            values = np.unique(t)
            cum = np.array([w[t <= x].sum() for x in values])
            for target in [0.0, 0.01 * mass, 0.1 * mass, 0.37 * mass, 0.9 * mass, 2.0 * mass]:
                expected = values[-1] if target > cum[-1] else values[np.argmax(cum >= target)]
                got = K._weighted_quantile(t.copy(), w.copy(), m, target, mass)
                assert got == expected, (m, rounded, target)


def test_dual_sweep_raises_the_dual_and_keeps_each_best_sink_exact():
    rng = np.random.default_rng(8)
    for n, D in [(12, 12), (60, 21), (200, 21), (90, 40)]:
        C = K.pair_costs(rng.normal(size=(n, 20)), rng.normal(size=(D, 20)))
        if n == 60:
            C = np.round(C, 1)
        a = rng.random(n) ** 3
        a[::5] = 0.0
        a /= a.sum()
        b = rng.random(D)
        b /= b.sum()
        v = np.zeros(D)
        val = np.empty((2, n))
        arg = np.empty((2, n), dtype=np.int64)
        K._dual_sweep(a, b, C, v, val, arg, np.empty((2, n)))
        dual_start = a @ C.min(axis=1)
        dual_swept = b @ v + a @ (C - v).min(axis=1)
        assert dual_start <= dual_swept + 1e-12 <= ot.emd2(a, b, C) + 2e-12
        R = (C - v)[a > 0]
        assert np.array_equal(val[0, a > 0], R.min(axis=1))
        assert np.array_equal(val[0, a > 0], R[np.arange(len(R)), arg[0, a > 0]])


def test_swept_start_stays_exact_with_ties_and_zero_weights():
    """D >= SWEEP_MIN_SINKS: one sweep of dual ascent starts the SSP (every level count)."""
    rng = np.random.default_rng(12)
    for D in [K.SWEEP_MIN_SINKS, 21, 40]:
        for n in [D, 3 * D, 20 * D]:
            for rounded in (False, True):
                C = K.pair_costs(rng.normal(size=(n, 10)), rng.normal(size=(D, 10)))
                if rounded:
                    C = np.round(C, 1)
                a = rng.random(n) ** 3
                a[::6] = 0.0
                a /= a.sum()
                b = np.full(D, 1.0 / D) if rounded else rng.random(D)
                b /= b.sum()
                cost, status = K.emd_ssp(a, b, C)
                assert status == K.OK
                assert cost == pytest.approx(ot.emd2(a, b, C, numItermax=10**7), abs=1e-9)


def test_long_pairs_dispatch_to_pot_and_short_ones_do_not(rng, monkeypatch):
    """emd() hands POT's emd_c the shapes where it is faster (long or near-square), not others."""
    from ot.lp import emd_wrap

    from leanml.wme import emd
    from leanml.wme.distance import POT_MIN_SIDE as M

    calls = []
    real = emd_wrap.emd_c

    def spy(*args):
        calls.append(args[2].shape)
        return real(*args)

    monkeypatch.setattr(emd_wrap, "emd_c", spy)
    cases = [(M, M + 7), (M - 1, M - 1), (M, 4 * M), (300, 6), (130, 600)]
    for n, m in cases:
        C = ref.pair_costs_ref(rng.standard_normal((n, 5)), rng.standard_normal((m, 5)))
        a, b = rng.random(n), rng.random(m)
        got = emd(a, b, C)
        assert got == pytest.approx(K.emd_cost(a / a.sum(), b / b.sum(), C)[0], abs=1e-9)
    assert calls == [(M, M + 7), (130, 600)]
