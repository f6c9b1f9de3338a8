"""Solvers against closed forms, each other, explicit BFGS matrices and dense CD."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from leanml.core import InputError, ParameterError
from leanml.pqn_crf import _kernels, _reference
from leanml.pqn_crf.chain import ChainObjective
from leanml.pqn_crf.linear import BinaryLogisticObjective
from leanml.pqn_crf.solvers import (
    LineSearchWarning,
    compact_lbfgs,
    fista,
    min_norm_subgradient,
    owlqn,
    prox_qn,
)


def separable(b, scale):
    """l(w) = ½ sum scale_i (w_i - b_i)²: the L1 solution is soft(b, lam/scale)."""

    def fun(w):
        r = w - b
        return 0.5 * float(scale @ (r * r)), scale * r

    return fun


@pytest.fixture
def logistic(rng):
    X = rng.normal(size=(200, 30))
    w_true = np.zeros(30)
    w_true[:5] = rng.normal(scale=2.0, size=5)
    y = np.where(X @ w_true + 0.5 * rng.normal(size=200) > 0, 1.0, -1.0)
    return BinaryLogisticObjective(X, y)


@pytest.mark.parametrize("solver", [prox_qn, owlqn, fista])
def test_separable_problem_reaches_closed_form(rng, solver):
    b = rng.normal(scale=3.0, size=40)
    scale = rng.uniform(0.5, 5.0, size=40)
    lam = 2.0
    res = solver(separable(b, scale), np.zeros(40), lam, tol=1e-9, max_iter=5000)
    expected = _reference.soft_threshold(b, lam / scale)
    np.testing.assert_allclose(res.w, expected, atol=1e-7)
    assert np.all(res.w[expected == 0] == 0.0)  # exact zeros


@pytest.mark.parametrize("factor", [1.0, 1.5])
def test_lam_at_least_gradient_inf_norm_gives_zero(logistic, factor):
    lam = factor * np.abs(logistic(np.zeros(30))[1]).max()
    res = prox_qn(logistic, np.zeros(30), lam)
    assert res.converged and np.all(res.w == 0.0) and res.n_evals == 1
    res_below = prox_qn(logistic, np.zeros(30), 0.9 * lam / factor)
    assert np.count_nonzero(res_below.w) >= 1


def test_prox_qn_objective_non_increasing_and_optimal(logistic):
    res = prox_qn(logistic, np.zeros(30), 3.0, tol=1e-9)
    F = np.array(res.trace.objective)
    assert np.all(np.diff(F) <= 8 * np.finfo(float).eps * np.abs(F[:-1]))  # up to rounding
    assert res.converged
    _, g = logistic(res.w)
    v = min_norm_subgradient(res.w, g, 3.0)
    assert np.abs(v).max() <= 1e-6 * max(1.0, np.abs(logistic(np.zeros(30))[1]).max())
    zero = res.w == 0
    assert zero.sum() > 5 and np.all(np.abs(g[zero]) <= 3.0 * (1 + 1e-9))


def test_shrinking_on_and_off_reach_same_objective(logistic):
    on = prox_qn(logistic, np.zeros(30), 2.0, tol=1e-8, shrinking=True)
    off = prox_qn(logistic, np.zeros(30), 2.0, tol=1e-8, shrinking=False)
    assert on.converged and off.converged
    assert abs(on.fun - off.fun) <= 1e-8 * abs(off.fun)
    assert min(on.trace.active) < 30  # shrinking did shrink


def test_shrinking_with_partial_gradients_on_a_crf(rng, make_chain):
    data = make_chain(rng, n_seq=40, K=3, d=15, max_len=6)
    obj = ChainObjective(data)
    w0 = np.zeros(obj.n_params)
    full = prox_qn(obj, w0, 1.0, tol=1e-8, shrinking=False)
    part = prox_qn(obj, w0, 1.0, tol=1e-8, shrinking=True, partial=True)
    assert full.converged and part.converged
    assert abs(full.fun - part.fun) <= 1e-8 * abs(full.fun)
    own = owlqn(obj, w0, 1.0, tol=1e-8, max_iter=5000)
    assert abs(own.fun - full.fun) <= 1e-7 * abs(full.fun)


def test_solvers_agree_on_logistic(logistic):
    lam = 1.5
    a = prox_qn(logistic, np.zeros(30), lam, tol=1e-8)
    b = owlqn(logistic, np.zeros(30), lam, tol=1e-10)
    c = fista(logistic, np.zeros(30), lam, tol=1e-9, max_iter=20000)
    assert a.fun == pytest.approx(b.fun, rel=1e-9)
    assert a.fun == pytest.approx(c.fun, rel=1e-7)
    np.testing.assert_array_equal(a.w == 0, b.w == 0)


def test_compact_form_equals_explicit_bfgs_recursion(rng):
    n, k = 7, 4
    A = rng.normal(size=(n, n))
    H = A @ A.T + n * np.eye(n)  # quadratic: y = H s, so sᵀy > 0
    S = rng.normal(size=(k, n))
    Y = S @ H
    gamma = float(Y[-1] @ Y[-1] / (S[-1] @ Y[-1]))
    B = gamma * np.eye(n)
    for s, y in zip(S, Y, strict=True):
        Bs = B @ s
        B = B - np.outer(Bs, Bs) / (s @ Bs) + np.outer(y, y) / (y @ s)
    Q, Qh = compact_lbfgs(S, Y, gamma)
    np.testing.assert_allclose(gamma * np.eye(n) - Q @ Qh.T, B, atol=1e-9 * np.abs(B).max())
    rows = np.array([0, 3, 5])
    Qr, Qhr = compact_lbfgs(S, Y, gamma, rows)
    np.testing.assert_allclose(gamma * np.eye(3) - Qr @ Qhr.T, B[np.ix_(rows, rows)], atol=1e-8)


def test_cd_kernel_equals_dense_quadratic_solution(rng):
    n, k = 12, 3
    A = rng.normal(size=(n, n))
    H = A @ A.T + np.eye(n)
    S = rng.normal(size=(k, n))
    Y = S @ H
    gamma = float(Y[-1] @ Y[-1] / (S[-1] @ Y[-1]))
    Q, Qh = compact_lbfgs(S, Y, gamma)
    B = gamma * np.eye(n) - Q @ Qh.T
    w, g, lam = rng.normal(size=n), rng.normal(scale=3.0, size=n), 1.0
    d, dh = np.zeros(n), np.zeros(2 * k)
    _kernels.cd_quadratic_l1(w, g, Q, Qh, gamma, lam, d, dh, 2000, 0.0, 3)
    ref = _reference.cd_quadratic_l1(w, g, B, lam)
    np.testing.assert_allclose(d, ref, atol=1e-8)
    np.testing.assert_allclose(dh, Qh.T @ d, atol=1e-10)


def test_m0_inner_solve_is_the_proximal_gradient_step(rng):
    n = 25
    w, g = rng.normal(size=n), rng.normal(scale=2.0, size=n)
    w[:8] = 0.0
    gamma, lam = 3.7, 1.2
    d, dh = np.zeros(n), np.zeros(0)
    _kernels.cd_quadratic_l1(w, g, np.zeros((n, 0)), np.zeros((n, 0)), gamma, lam, d, dh, 1, 0.0, 0)
    np.testing.assert_allclose(d, _reference.prox_gradient_step(w, g, gamma, lam), atol=1e-15)


def test_m0_solver_first_iteration_is_a_prox_gradient_step(logistic):
    w0 = np.zeros(30)
    _, g0 = logistic(w0)
    res = prox_qn(logistic, w0, 1.0, m=0, max_iter=1, shrinking=False)
    gamma0 = max(float(np.linalg.norm(g0)), 1.0)
    step = _reference.prox_gradient_step(w0, g0, gamma0, 1.0)
    if res.n_evals == 2:  # unit step accepted
        np.testing.assert_allclose(res.w, w0 + step, atol=1e-14)


def test_bad_parameters_and_inputs(logistic):
    with pytest.raises(ParameterError, match="lam"):
        prox_qn(logistic, np.zeros(30), -1.0)
    with pytest.raises(ParameterError, match="lam"):
        owlqn(logistic, np.zeros(30), float("nan"))
    with pytest.raises(ParameterError, match="memory"):
        prox_qn(logistic, np.zeros(30), 1.0, m=-1)
    with pytest.raises(InputError, match="starting point"):
        prox_qn(logistic, np.full(30, np.nan), 1.0)
    with pytest.raises(InputError, match="NaN"):
        prox_qn(lambda w: (float("nan"), np.zeros_like(w)), np.zeros(3), 1.0)
    with pytest.raises(ParameterError, match="inner_passes"):
        prox_qn(logistic, np.zeros(30), 1.0, inner_passes=0)


def test_line_search_that_cannot_progress_stops_with_a_warning():
    # The reported gradient points uphill: no step along the model's direction decreases F.
    def lying(w):
        return float(w @ w) + 1.0, -(2.0 * w + 1.0)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = prox_qn(lying, np.zeros(4), 0.1, max_ls=5)
    assert not res.converged
    assert "line search" in res.message
    assert any(issubclass(c.category, LineSearchWarning) for c in caught)
    assert res.fun == pytest.approx(1.0)  # w stays at the last accepted point


def test_budgets_and_target_stop(logistic):
    res = prox_qn(logistic, np.zeros(30), 1.0, max_evals=5)
    assert res.n_evals <= 5 + 30 and "evaluations" in res.message
    full = prox_qn(logistic, np.zeros(30), 1.0, tol=1e-8)
    tgt = prox_qn(logistic, np.zeros(30), 1.0, f_target=full.fun * (1 + 1e-3))
    assert tgt.fun <= full.fun * (1 + 1e-3) and tgt.message == "reached f_target"
    hit = full.trace.first_reaching(full.fun * (1 + 1e-3))
    assert hit is not None and hit["evals"] <= full.n_evals


def double_well(w):
    """l(w) = sum ¼w⁴ - ½w²: concave on |w| < 1/√3, so steps across it give sᵀy < 0."""
    return float(np.sum(0.25 * w**4 - 0.5 * w**2)), w**3 - w


def test_pairs_with_non_positive_curvature_are_skipped(rng):
    w0 = rng.uniform(-0.3, 0.3, size=20)
    seen = [w0.copy()]
    res = prox_qn(
        double_well, w0, 0.1, m=5, tol=1e-8, shrinking=False,
        callback=lambda it, w, F: seen.append(w.copy()),
    )  # fmt: skip
    # the run did meet pairs with sᵀy <= 0 (else this test would prove nothing)
    grads = [double_well(w)[1] for w in seen]
    steps = zip(seen[:-1], seen[1:], grads[:-1], grads[1:], strict=True)
    sy = [float((b - a) @ (gb - ga)) for a, b, ga, gb in steps]
    assert min(sy) <= 0.0
    assert res.converged
    _, g = double_well(res.w)
    assert np.abs(min_norm_subgradient(res.w, g, 0.1)).max() <= 1e-7
    F = np.array(res.trace.objective)
    assert np.all(np.diff(F) <= 1e-12)


@pytest.mark.parametrize("partial", [False, True])
def test_a_shrunk_coordinate_comes_back(partial):
    """At w = 0 coordinate 1 has |g_1| = 0.5 <= lam, so shrinking drops it; at the optimum it
    is 6.84: only the full-gradient check at the end of the epoch brings it back."""
    H = np.array([[1.0, -0.9], [-0.9, 1.0]])
    b = np.array([3.0, 0.5])
    lam = 1.0

    def quad(w, active=None):
        return 0.5 * float(w @ H @ w) - float(b @ w), H @ w - b

    res = prox_qn(quad, np.zeros(2), lam, tol=1e-10, shrinking=True, partial=partial)
    expected = np.linalg.solve(H, b - lam)  # both weights positive: H w = b - lam * sign(w)
    assert expected[1] > 6.0
    assert min(res.trace.active) == 1  # coordinate 1 was dropped for a while
    assert res.converged
    np.testing.assert_allclose(res.w, expected, rtol=1e-8)


def test_ring_memory_equals_the_compact_form_of_the_last_m_pairs(rng):
    from leanml.pqn_crf.solvers import _Memory

    n, m = 9, 3
    A = rng.normal(size=(n, n))
    H = A @ A.T + n * np.eye(n)
    S = rng.normal(size=(7, n))
    # steps move only a working set, a different one each time (the memory keeps each
    # slot's support: an overwritten slot must not keep the old step's entries)
    S[rng.random(S.shape) < 0.5] = 0.0
    S[:, 0] += 1.0  # no step is zero
    Y = S @ H
    mem = _Memory(m, n)
    mem.add(5 * S[-1], Y[-1])
    mem.add(S[0], 3 * Y[0])
    mem.clear()  # a line-search failure drops the pairs; their columns are stale
    for s, y in zip(S, Y, strict=True):
        mem.add(s, y)  # 7 pairs through 3 slots: the ring wraps around
    gamma = 2.5
    for rows in (np.arange(n), np.array([1, 4, 8])):
        Q, Qh = mem.compact(gamma, rows)
        Qr, Qhr = compact_lbfgs(S[-m:], Y[-m:], gamma, rows)
        np.testing.assert_allclose(Q @ Qh.T, Qr @ Qhr.T, atol=1e-9)


def test_decrease_test_checks_the_shrunk_coordinates_first():
    """The decrease test fires (delta huge, period 2) at iteration 3, before the epoch ends,
    while coordinate 2 is shrunk: at w = 0 |g_2| = 0.5 <= lam, but with w_0 = 2.14 its
    minimum-norm subgradient is 1.43 against 0.39 inside the working set. The test must
    look outside, reset the set and go on; stopping there would return w_2 = 0."""
    H = np.array([[1.0, 0.0, -0.9], [0.0, 0.5, 0.0], [-0.9, 0.0, 1.0]])
    b = np.array([3.0, 3.0, 0.5])
    lam = 1.0

    def quad(w, active=None):
        return 0.5 * float(w @ H @ w) - float(b @ w), H @ w - b

    res = prox_qn(quad, np.zeros(3), lam, m=2, tol=1e-10, delta=1e6, period=2, shrinking=True)
    assert res.trace.active[1] == 2  # coordinate 2 was shrunk after the first step
    assert res.message.startswith("relative decrease")  # the decrease test ended the run
    assert res.trace.active[-1] == 3  # ... but only after coordinate 2 came back
    assert res.w[2] > 2.0
