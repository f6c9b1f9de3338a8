"""The boolean-QP solver against brute force, the SDP bound and its NumPy reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from leanml.bmp import _kernels, _reference
from leanml.bmp.bqp import (
    bqp_value,
    default_rank,
    homogenize,
    solve_bqp,
    solve_bqp_exhaustive,
)
from leanml.core import InputError, ParameterError


def psd_instance(seed: int, n: int = 14, r: int = 5) -> np.ndarray:
    P = np.random.default_rng(seed).standard_normal((n, r))
    return P


def indefinite_instance(seed: int, n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1000 + seed)
    A = rng.standard_normal((n, n))
    return (A + A.T) / 2, 2.0 * rng.standard_normal(n)


def brute(C: np.ndarray, b: np.ndarray) -> float:
    return _reference.exhaustive(C, b)[1]


@pytest.mark.parametrize("kind", ["psd", "indefinite"])
def test_best_rounding_hits_brute_force(kind: str) -> None:
    hits, ratios = 0, []
    for seed in range(30):
        if kind == "psd":
            P = psd_instance(seed)
            C, b = P @ P.T, np.zeros(P.shape[0])
            res = solve_bqp(P=P, b=b, random_state=seed)
        else:
            C, b = indefinite_instance(seed)
            res = solve_bqp(C, b, random_state=seed)
        opt = brute(C, b)
        assert opt > 0
        assert res.value == pytest.approx(bqp_value(res.z, C, b), rel=1e-10, abs=1e-10)
        assert res.value <= opt + 1e-9
        hits += res.value >= opt - 1e-9 * abs(opt)
        ratios.append(res.value / opt)
    assert hits >= 29  # >= 95 % of 30
    assert min(ratios) >= 0.99


def test_exhaustive_kernel_matches_itertools() -> None:
    for seed in range(5):
        C, b = indefinite_instance(seed, n=10)
        res = solve_bqp_exhaustive(C, b)
        _, v_ref = _reference.exhaustive(C, b)
        assert res.value == pytest.approx(v_ref, rel=1e-12)
        assert bqp_value(res.z, C, b) == pytest.approx(v_ref, rel=1e-12)


def test_homogenisation_round_trip_is_exact() -> None:
    C, b = indefinite_instance(3, n=9)
    Q, const = homogenize(C, b)
    for z in itertools.product((0, 1), repeat=9):
        z = np.array(z, dtype=float)
        for y0 in (1.0, -1.0):
            y = np.concatenate([[y0], y0 * (2 * z - 1)])
            assert y @ Q @ y + const == pytest.approx(z @ C @ z + b @ z, rel=1e-12, abs=1e-12)


def test_homogenised_form_is_psd_for_psd_c_without_linear_term() -> None:
    P = psd_instance(0, n=12)
    Q, const = homogenize(P @ P.T, np.zeros(12))
    assert const == 0.0
    assert np.linalg.eigvalsh(Q).min() > -1e-10


@pytest.mark.parametrize("lowrank", [True, False])
def test_sdp_objective_never_decreases(lowrank: bool) -> None:
    P = np.random.default_rng(5).standard_normal((120, 10))
    b = np.random.default_rng(6).standard_normal(120)
    kwargs = {"P": P} if lowrank else {"C": P @ P.T - 3 * np.eye(120)}
    res = solve_bqp(b=b, max_sweeps=40, tol=0.0, random_state=0, **kwargs)
    assert res.n_sweeps == 40
    assert np.all(np.diff(res.history) >= -1e-9 * np.abs(res.history[1:]))
    assert res.history[-1] > res.history[0]


def test_lowrank_and_dense_paths_identical() -> None:
    rng = np.random.default_rng(7)
    P, b, w = rng.standard_normal((30, 6)), rng.standard_normal(30), rng.standard_normal(6)
    C = (P * w) @ P.T  # indefinite low-rank
    lo = solve_bqp(P=P, weights=w, b=b, random_state=3, max_sweeps=15, tol=0)
    de = solve_bqp(C, b, random_state=3, max_sweeps=15, tol=0)
    np.testing.assert_allclose(lo.history, de.history, rtol=1e-10)
    np.testing.assert_allclose(lo.V, de.V, atol=1e-9)
    np.testing.assert_array_equal(lo.z, de.z)
    np.testing.assert_allclose(lo.round_values, de.round_values, rtol=1e-10)


def _state(n: int, D: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    P, w, h = rng.standard_normal((n, D)), rng.uniform(0.5, 2, D), rng.standard_normal(n)
    V = rng.standard_normal((n + 1, k))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    return P, w, h, V, V[1:].T @ P, h @ V[1:], rng.permutation(n + 1).astype(np.int64)


def test_numba_sweep_equals_numpy_sweep() -> None:
    P, w, h, V, S, s0, order = _state(200, 12, 7, 0)
    cdiag = np.einsum("id,id->i", P * w, P)
    V2, S2, s02 = V.copy(), S.copy(), s0.copy()
    _kernels.sweep_lowrank(P, w, cdiag, h, V, S, s0, order)
    _reference.sweep_lowrank(P, w, cdiag, h, V2, S2, s02, order)
    np.testing.assert_allclose(V, V2, atol=1e-12)
    np.testing.assert_allclose(S, S2, atol=1e-10)
    np.testing.assert_allclose(s0, s02, atol=1e-10)
    # S is still V[1:]' P after the rank-1 updates
    np.testing.assert_allclose(S, V[1:].T @ P, atol=1e-9)
    C = (P * w) @ P.T
    V3, s03 = V2.copy(), s02.copy()
    _kernels.sweep_dense(C, h, V2, s02, order)
    _reference.sweep_dense(C, h, V3, s03, order)
    np.testing.assert_allclose(V2, V3, atol=1e-12)


def test_sweep_excludes_the_diagonal() -> None:
    # one coordinate update must equal normalize(sum_{j != i} Q_ij v_j), computed directly
    P, w, h, V, S, s0, _ = _state(8, 3, 4, 1)
    C = (P * w) @ P.T
    Q, _ = homogenize(C, 4 * h - C.sum(axis=1))  # so that Q's coupling column is h
    i = 5
    g = Q[i] @ V - Q[i, i] * V[i]
    expected = g / np.linalg.norm(g)
    cdiag = np.diag(C).copy()
    _kernels.sweep_lowrank(P, w, cdiag, h, V, S, s0, np.array([i], dtype=np.int64))
    np.testing.assert_allclose(V[i], expected, atol=1e-12)


def test_numba_rounding_equals_numpy_rounding() -> None:
    rng = np.random.default_rng(2)
    P, b = rng.standard_normal((40, 5)), rng.standard_normal(40)
    w = np.ones(5)
    V = rng.standard_normal((41, 6))
    R = rng.standard_normal((6, 25))
    cdiag = np.einsum("id,id->i", P, P)
    for passes in (0, 50):
        Zk, vk = _kernels.round_lowrank(P, w, cdiag, b, V, R, passes)
        Zr, vr = _reference.round_lowrank(P, w, cdiag, b, V, R, passes)
        np.testing.assert_array_equal(Zk, Zr)
        np.testing.assert_allclose(vk, vr, rtol=1e-10)
        Zd, vd = _kernels.round_dense(P @ P.T, b, V, R, passes)
        np.testing.assert_array_equal(Zd, Zr)
        np.testing.assert_allclose(vd, vr, rtol=1e-10)
    # y0 sign fix: flipping every vector (including v0) gives the same codes
    Zf, _ = _kernels.round_lowrank(P, w, cdiag, b, -V, R, 0)
    np.testing.assert_array_equal(Zf, _kernels.round_lowrank(P, w, cdiag, b, V, R, 0)[0])


def test_numpy_backend_reproduces_numba_backend() -> None:
    C, b = indefinite_instance(4, n=25)
    a = solve_bqp(C, b, random_state=1)
    r = solve_bqp(C, b, random_state=1, backend="numpy")
    np.testing.assert_allclose(a.history, r.history, rtol=1e-10)
    assert a.value == pytest.approx(r.value, rel=1e-12)


@pytest.mark.parametrize("n", [30, 60])
def test_mean_rounding_at_least_two_over_pi_of_sdp(n: int) -> None:
    cvxpy = pytest.importorskip("cvxpy")
    assert cvxpy
    from leanml.bmp.peers import sdp_bound

    means, bounds = [], []
    for seed in range(3):
        P = np.random.default_rng(50 + seed).standard_normal((n, 4))
        C = P @ P.T
        sdp = sdp_bound(C, random_state=seed, eps=1e-5)
        res = solve_bqp(P=P, local_search=False, n_rounds=400, random_state=seed)
        # the mixing method reaches the SDP optimum (rank k >= sqrt(2n))
        assert res.sdp_value == pytest.approx(sdp.sdp_value, rel=2e-3)
        # the SDP value bounds every {0,1} value
        assert res.value <= sdp.sdp_value * (1 + 1e-4)
        means.append(res.round_values.mean())
        bounds.append(sdp.sdp_value)
    assert np.mean(means) >= (2 / np.pi) * np.mean(bounds)


def test_sdp_value_bounds_the_optimum() -> None:
    for seed in range(5):
        C, b = indefinite_instance(seed, n=12)
        res = solve_bqp(C, b, random_state=seed, tol=1e-9, max_sweeps=200)
        assert res.sdp_value >= brute(C, b) - 1e-6


def test_linear_term_only() -> None:
    b = np.array([1.0, -2.0, 0.5, -0.1])
    res = solve_bqp(np.zeros((4, 4)), b, random_state=0)
    np.testing.assert_array_equal(res.z, b > 0)
    assert res.value == pytest.approx(1.5)


def test_all_negative_gives_zero_code() -> None:
    res = solve_bqp(-np.eye(5), -np.ones(5), random_state=0)
    assert not res.z.any() and res.value == 0.0


def test_same_seed_same_result() -> None:
    P = psd_instance(9, n=50)
    a, b = solve_bqp(P=P, random_state=4), solve_bqp(P=P, random_state=4)
    np.testing.assert_array_equal(a.z, b.z)
    assert a.history == b.history


def test_default_rank() -> None:
    assert default_rank(14) == 7
    assert default_rank(10**6) == 32
    assert default_rank(1) == 4


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"C": np.array([[np.nan, 0], [0, 1]])}, "NaN"),
        ({"C": np.eye(2) * (1 + 1j)}, "complex"),
        ({"C": np.ones((2, 3))}, "square"),
        ({"C": np.eye(2), "P": np.eye(2)}, "exactly one"),
        ({}, "exactly one"),
        ({"P": np.ones(3)}, "2-D"),
        ({"P": np.ones((0, 2))}, "n = 0"),
        ({"C": np.eye(2), "b": np.ones(3)}, "shape"),
        ({"P": np.ones((3, 2)), "weights": np.ones(3)}, "weights"),
        ({"P": np.array([[np.inf, 1.0]])}, "NaN or inf"),
    ],
)
def test_bad_inputs(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        solve_bqp(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rank": 0},
        {"max_sweeps": 0},
        {"n_rounds": 0},
        {"tol": -1.0},
        {"method": "nope"},
        {"backend": "cuda"},
    ],
)
def test_bad_parameters(kwargs: dict) -> None:
    with pytest.raises(ParameterError):
        solve_bqp(np.eye(3), **kwargs)


def test_exhaustive_refuses_large_n() -> None:
    with pytest.raises(ParameterError, match="n <= 24"):
        solve_bqp_exhaustive(np.eye(25))


def test_asymmetric_c_uses_its_symmetric_part() -> None:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((8, 8))
    a = solve_bqp_exhaustive(A)
    s = solve_bqp_exhaustive((A + A.T) / 2)
    assert a.value == pytest.approx(s.value)


def test_polishing_the_best_few_roundings() -> None:
    P = psd_instance(11, n=60)
    b = np.random.default_rng(1).standard_normal(60)
    every = solve_bqp(P=P, b=b, random_state=2)
    some = solve_bqp(P=P, b=b, random_state=2, n_polish=5)
    none = solve_bqp(P=P, b=b, random_state=2, local_search=False)
    assert some.value >= none.value - 1e-12 and every.value >= none.value - 1e-12
    # polished roundings are 1-flip optima; the others keep their rounded values
    polished = np.flatnonzero(some.round_values != none.round_values)
    assert len(polished) <= 5
    ref = solve_bqp(P=P, b=b, random_state=2, n_polish=5, backend="numpy")
    np.testing.assert_allclose(some.round_values, ref.round_values, rtol=1e-10)
    with pytest.raises(ParameterError):
        solve_bqp(P=P, n_polish=-1)


def test_warns_when_the_sdp_objective_is_not_a_bound() -> None:
    # one sweep at rank 1 stops far from the SDP optimum; local search then beats it
    P = psd_instance(3, n=80, r=8)
    with pytest.warns(RuntimeWarning, match="not an"):
        solve_bqp(P=P, rank=1, max_sweeps=1, random_state=0)


@pytest.mark.parametrize("exact", [True, False])
def test_encode_rows_kernel_equals_numpy(exact: bool) -> None:
    rng = np.random.default_rng(8)
    W = rng.standard_normal((6, 9))
    X = (rng.random((40, 6)) < 0.4) @ W + 0.3 * rng.standard_normal((40, 9))
    G, Bq = W @ W.T, 2.0 * X @ W.T
    Z0 = (rng.random((40, 6)) < 0.5).astype(np.uint8)
    got = _kernels.encode_rows(G, Bq, Z0, 100, exact)
    ref = _reference.encode_rows(G, Bq, Z0, 100, exact)
    vg = -np.einsum("ri,ij,rj->r", got, G, got) + np.einsum("ri,ri->r", Bq, got)
    vr = -np.einsum("ri,ij,rj->r", ref, G, ref) + np.einsum("ri,ri->r", Bq, ref)
    np.testing.assert_allclose(vg, vr, rtol=1e-10, atol=1e-10)
    # threaded slices give the same codes as one call
    threaded = _kernels.threaded(_kernels.encode_rows, 0, G, Bq, Z0, 100, exact, axis_arg=(1, 2))
    np.testing.assert_array_equal(threaded, got)
