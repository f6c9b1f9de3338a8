"""Solvers for min_w F(w) = lam*||w||_1 + l(w) with an expensive smooth loss l.

Every solver takes ``fun(w) -> (l(w), grad l(w))`` and returns a :class:`SolverResult`
with a per-iteration :class:`Trace` (objective, nnz, function evaluations, seconds).
Function evaluations, line-search trials included, are the cost that matters for CRFs.

- :func:`prox_qn`: the paper's proximal quasi-Newton method (Zhong et al., NIPS 2014).
- :func:`owlqn`: OWL-QN (Andrew & Gao, ICML 2007), the method of CRFsuite and Wapiti.
- :func:`fista`: accelerated proximal gradient with backtracking (Beck & Teboulle, 2009);
  ``accelerate=False`` gives plain proximal gradient (ISTA).
"""

from __future__ import annotations

import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from leanml.core import InputError, ParameterError

from ._kernels import cd_quadratic_l1

__all__ = [
    "ConvergenceWarning",
    "LineSearchWarning",
    "SolverResult",
    "Trace",
    "compact_lbfgs",
    "default_passes",
    "fista",
    "min_norm_subgradient",
    "owlqn",
    "prox_qn",
]

Fun = Callable[..., tuple[float, np.ndarray]]

# F is a sum of many terms, known to a few ulps: a step whose predicted decrease is below
# that is accepted within this slack (else the line search fails at the optimum).
_ROUNDING = 8 * np.finfo(np.float64).eps
# Stop when this many accepted steps in a row leave F unchanged to rounding.
_STALL = 10


class LineSearchWarning(UserWarning):
    """The line search could not decrease F: the solver stopped early (see ``message``)."""


class ConvergenceWarning(UserWarning):
    """``max_iter`` was reached before a stopping test passed (raise it or loosen ``tol``)."""


@dataclass
class Trace:
    """Per-iteration record (index 0 is the starting point)."""

    objective: list[float] = field(default_factory=list)
    nnz: list[int] = field(default_factory=list)
    evals: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    active: list[int] = field(default_factory=list)

    def add(self, F: float, w: np.ndarray, evals: int, t0: float, active: int) -> None:
        self.objective.append(float(F))
        self.nnz.append(int(np.count_nonzero(w)))
        self.evals.append(int(evals))
        self.seconds.append(time.perf_counter() - t0)
        self.active.append(int(active))

    def first_reaching(self, target: float) -> dict[str, float] | None:
        """Evaluations and seconds when the objective first fell to ``target`` or below."""
        for i, F in enumerate(self.objective):
            if F <= target:
                return {"evals": self.evals[i], "seconds": self.seconds[i], "iter": i}
        return None


@dataclass
class SolverResult:
    """What a solver returns.

    Attributes
    ----------
    w : the solution (exact zeros where the L1 term put them).
    fun : F(w) = lam*||w||_1 + l(w).
    n_iter, n_evals : outer iterations and evaluations of ``fun``.
    converged : the stopping test passed (as opposed to a budget or a failed line search).
    message : why the solver stopped.
    trace : per-iteration history.
    """

    w: np.ndarray
    fun: float
    n_iter: int
    n_evals: int
    converged: bool
    message: str
    trace: Trace


def min_norm_subgradient(w: np.ndarray, g: np.ndarray, lam: float) -> np.ndarray:
    """The minimum-norm element of ∂F: g + lam*sign(w) off zero, shrink(g, lam) at zero."""
    v = g + lam * np.sign(w)
    zero = w == 0
    v[zero] = np.sign(g[zero]) * np.maximum(np.abs(g[zero]) - lam, 0.0)
    return v


def _check_common(lam: float, w0: np.ndarray, m: int | None = None) -> np.ndarray:
    if not np.isfinite(lam) or lam < 0:
        raise ParameterError(f"lam (the L1 weight) must be finite and >= 0, got {lam}")
    if m is not None and m < 0:
        raise ParameterError(f"memory m must be >= 0, got {m}")
    w = np.array(w0, dtype=np.float64).ravel()
    if not np.all(np.isfinite(w)):
        raise InputError("the starting point has NaN or infinite entries")
    return w


class _Counter:
    """Wraps ``fun``: counts evaluations and rejects non-finite values."""

    def __init__(self, fun: Fun, partial: bool) -> None:
        self.fun = fun
        self.partial = partial
        self.n = 0

    def __call__(self, w: np.ndarray, active: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        self.n += 1
        if self.partial and active is not None:
            f, g = self.fun(w, active=active)
        else:
            f, g = self.fun(w)
        f = float(f)
        g = np.asarray(g, dtype=np.float64)
        if np.isnan(f) or (active is None and not np.all(np.isfinite(g))):
            raise InputError("the loss or its gradient is NaN or infinite (check the features)")
        return f, g


def compact_lbfgs(
    S: np.ndarray,
    Y: np.ndarray,
    gamma: float,
    rows: np.ndarray | None = None,
    SS: np.ndarray | None = None,
    SY: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Compact form B = gamma*I - Q Qhᵀ of the L-BFGS matrix (Byrd, Nocedal, Schnabel 1994).

    Parameters
    ----------
    S, Y : (k, n) the stored pairs s_i = w_{i+1} - w_i, y_i = g_{i+1} - g_i, oldest first.
    gamma : the scaling of B_0 = gamma*I.
    rows : restrict to these coordinates (the principal sub-block B_AA, positive definite
        because B is).
    SS, SY : SᵀS and SᵀY ([i, j] = s_i . y_j) when already known (the solver keeps them
        up to date as pairs arrive, so a call costs O(k |rows|), not O(k² n)).

    Returns
    -------
    Q : (n_rows, 2k) rows of [gamma*S, Y]; Qh : (n_rows, 2k) rows of Q R, where
    R = [[gamma*SᵀS, L], [Lᵀ, -D]]⁻¹ uses the full vectors, L the strictly lower triangle of
    SᵀY and D its diagonal.
    """
    k = S.shape[0]
    if k == 0:
        n = S.shape[1] if rows is None else rows.size
        return np.zeros((n, 0)), np.zeros((n, 0))
    SY = S @ Y.T if SY is None else SY
    SS = S @ S.T if SS is None else SS
    L = np.tril(SY, -1)
    middle = np.block([[gamma * SS, L], [L.T, -np.diag(np.diag(SY))]])
    R = np.linalg.inv(middle)
    Sr, Yr = (S, Y) if rows is None else (S[:, rows], Y[:, rows])
    Q = np.concatenate([gamma * Sr, Yr], axis=0).T  # (n, 2k)
    Qh = Q @ R  # R is symmetric, so the rows of (R Qᵀ)ᵀ are Q R
    return np.ascontiguousarray(Q), np.ascontiguousarray(Qh)


class _Memory:
    """The last ``m`` pairs, stored once, with SᵀS and SᵀY updated as pairs arrive.

    ``Z`` (n x 2m) holds s of slot j in column j and y in column m + j, so the rows of the
    working set are the rows of Q up to a column scaling that is folded into the small
    matrix: B = γI - Z (D R D) Zᵀ with D = diag(γ,...,γ, 1,...,1). No m x n array is
    reordered or concatenated per iteration; ``Qh`` (the rows of Z D R D) is written into a
    buffer allocated once. Unfilled slots get zero rows and columns in D R D.
    """

    def __init__(self, m: int, n: int) -> None:
        self.m = m
        self.Z = np.zeros((n, 2 * m))
        self.Qh = np.empty((n, 2 * m))
        self.ZA = np.empty((n, 2 * m))  # rows of Z on a proper working set
        self.SS = np.empty((m, m))
        self.SY = np.empty((m, m))
        self.slots: list[int] = []  # oldest first
        # Where each slot's s is non-zero: a step moves only the working set, so the
        # products with s need only those rows (OANC: ~9k of 85k; over all rows the
        # update read the whole n x 2m array and cost ~3 ms per iteration).
        self.support: list[np.ndarray] = [np.zeros(0, dtype=np.int64) for _ in range(m)]

    def __len__(self) -> int:
        return len(self.slots)

    def clear(self) -> None:
        self.slots.clear()

    def add(self, s: np.ndarray, y: np.ndarray) -> None:
        if self.m == 0:
            return
        slot = self.slots.pop(0) if len(self.slots) == self.m else len(self.slots)
        rows = np.flatnonzero(s)
        self.Z[self.support[slot], slot] = 0.0
        self.Z[rows, slot] = s[rows]
        self.Z[:, self.m + slot] = y
        self.support[slot] = rows
        self.slots.append(slot)
        k = len(self.slots)  # the filled slots are always 0..k-1
        Zs = self.Z[rows]
        ss = s[rows] @ Zs[:, :k]
        self.SS[slot, :k] = ss
        self.SS[:k, slot] = ss
        self.SY[slot, :k] = s[rows] @ Zs[:, self.m : self.m + k]  # s_new . y_j
        for j in range(k):  # s_j . y_new, over the rows where s_j is non-zero
            r = self.support[j]
            self.SY[j, slot] = float(self.Z[r, j] @ y[r])

    def middle(self, gamma: float) -> np.ndarray:
        """D R D (2m x 2m) in slot order, R from the pairs in chronological order."""
        order = np.array(self.slots)
        ix = np.ix_(order, order)
        SY, SS = self.SY[ix], self.SS[ix]
        L = np.tril(SY, -1)
        R = np.linalg.inv(np.block([[gamma * SS, L], [L.T, -np.diag(np.diag(SY))]]))
        k, m = order.size, self.m
        cols = np.concatenate([order, m + order])
        scale = np.concatenate([np.full(k, gamma), np.ones(k)])
        out = np.zeros((2 * m, 2 * m))
        out[np.ix_(cols, cols)] = R * np.outer(scale, scale)
        return out

    def compact(self, gamma: float, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Q, Qh) on ``rows`` with B_AA = γI - Q Qhᵀ, written into preallocated buffers."""
        M = self.middle(gamma)
        if rows.size == self.Z.shape[0]:
            Q = self.Z
        else:
            Q = np.take(self.Z, rows, axis=0, out=self.ZA[: rows.size])
        Qh = np.matmul(Q, M, out=self.Qh[: rows.size])
        return Q, Qh


def default_passes(it: int) -> int:
    """CD passes at outer iteration ``it``: min(1 + it // 2, 100).

    Few passes while B is crude, more as it improves (LHAC/QUIC-style growing schedule;
    ``inner_tol`` ends a solve earlier once a pass no longer moves d). More exact inner
    solves pay for themselves in evaluations, since a pass costs O(m) per working-set
    coordinate and an evaluation a CRF inference: on OANC POS (2,000 sentences, m = 40)
    reaching CRFsuite's final objective took 467 evaluations with a cap of 100 against 635
    with 30 (0.2's cap, tuned on OCR, where both caps need the same evaluations).
    """
    return min(1 + it // 2, 100)


def prox_qn(
    fun: Fun,
    w0: np.ndarray,
    lam: float,
    *,
    m: int = 10,
    tol: float = 1e-6,
    tol_scale: float | None = None,
    delta: float = 0.0,
    period: int = 10,
    max_iter: int = 1000,
    max_evals: int | None = None,
    shrinking: bool = True,
    partial: bool = False,
    inner_passes: int | Callable[[int], int] | None = None,
    inner_tol: float = 1e-3,
    sigma: float = 1e-4,
    max_ls: int = 30,
    f_target: float | None = None,
    seed: int = 0,
    callback: Callable[[int, np.ndarray, float], Any] | None = None,
) -> SolverResult:
    """Proximal quasi-Newton with randomised CD inner solves and aggressive shrinking.

    Minimises ``lam*||w||_1 + l(w)``. Each outer iteration builds the compact L-BFGS model
    B (memory ``m``) on the working set A, minimises gᵀd + ½dᵀBd + lam*||w+d||_1 over d_A by
    randomised coordinate descent at O(m) per coordinate, and backtracks on
    F(w + αd) <= F(w) + sigma*α*Δ with Δ = gᵀd + lam*(||w+d||_1 - ||w||_1).

    Shrinking (the paper's aggressive rule): a coordinate with w_i = 0 and |g_i| <= lam is
    dropped from A for the rest of the epoch, without margin. An epoch ends when the
    minimum-norm subgradient on A falls below the epoch tolerance; then A is reset to every
    coordinate, the full gradient is checked and the epoch tolerance tightens tenfold.

    Stopping (whichever comes first; both always look at every coordinate):

    - subgradient test: ``||∂ᴹF(w)||_∞ <= tol * max(1, tol_scale)``, where ∂ᴹF is the
      minimum-norm subgradient (zero exactly at an optimum) and ``tol_scale`` defaults to
      ``||∇l(w0)||_∞`` (for w0 = 0, the loss's own scale);
    - decrease test (CRFsuite's ``delta``/``period``): with ``delta > 0``, stop when
      ``(F_{k-period} - F_k) / |F_k| < delta``, i.e. the last ``period`` accepted steps
      lowered F by less than a fraction ``delta``. With shrinking, the test passes only if
      the coordinates outside A violate optimality no more than those inside (their
      gradient is known); otherwise the epoch ends, A is reset and the window restarts.

    Parameters
    ----------
    fun
        ``fun(w) -> (l, grad)``. With ``partial=True`` it is also called as
        ``fun(w, active=idx)`` and then needs the gradient only on ``idx`` (the paper's
        partial gradients; other entries are ignored).
    w0
        Starting point (zeros, or a previous solution for a warm start).
    lam
        λ, the L1 weight (CRFsuite's ``c1``), >= 0.
    m
        L-BFGS memory. ``m = 0`` gives B = γI: proximal gradient with a Barzilai-Borwein γ.
    tol, tol_scale
        Relative subgradient tolerance and its scale (see above). A warm start should pass
        ``||∇l(0)||_∞`` as ``tol_scale``: relative to a near-optimal w0 the test would ask
        for far more accuracy than the same ``tol`` from zero.
    delta, period
        Relative decrease tolerance and its window in iterations; ``delta = 0`` disables it.
    max_iter, max_evals
        Budgets (evaluations include line-search trials). Reaching ``max_iter`` warns with a
        :class:`ConvergenceWarning`; ``max_evals`` is a deliberate budget and does not.
    shrinking
        Use the working set; ``False`` always solves over all coordinates.
    inner_passes
        Number of CD passes per outer iteration: an int or a function of the iteration;
        default :func:`default_passes`.
    inner_tol
        A CD pass that moves no coordinate by more than ``inner_tol * max|d|`` ends the solve.
    sigma, max_ls
        Sufficient-decrease constant and cap on step halvings. When the line search fails
        the memory is dropped and a proximal-gradient step is tried; if that fails too the
        solver stops with ``converged=False`` and a :class:`LineSearchWarning`.
    f_target
        Stop as soon as F <= f_target (for time-to-gap measurements).
    seed
        Seed of the coordinate order.
    callback
        ``callback(iteration, w, F)``; return ``True`` to stop.
    """
    w = _check_common(lam, w0, m)
    if not np.isfinite(delta) or delta < 0 or int(period) < 1:
        raise ParameterError(f"need delta >= 0 and period >= 1, got {delta}, {period}")
    n = w.size
    evaluate = _Counter(fun, partial)
    t0 = time.perf_counter()
    f, g = evaluate(w)
    F = f + lam * np.abs(w).sum()
    trace = Trace()
    trace.add(F, w, evaluate.n, t0, n)
    v0 = float(np.abs(min_norm_subgradient(w, g, lam)).max(initial=0.0))
    scale = float(np.abs(g).max(initial=0.0)) if tol_scale is None else float(tol_scale)
    stop_at = tol * max(1.0, scale)
    if v0 == 0.0:
        return SolverResult(w, F, 0, evaluate.n, True, "w0 is optimal", trace)
    schedule = _passes_schedule(inner_passes)
    memory = _Memory(m, n)
    gamma = max(float(np.linalg.norm(g)), 1.0)  # first step has length <= 1 (as liblbfgs)
    epoch_tol = max(0.1 * v0, stop_at)
    all_idx = np.arange(n)
    A = _shrink(all_idx, w, g, lam) if shrinking else all_idx
    window = deque([F], maxlen=int(period) + 1)
    rng = np.random.default_rng(seed)
    message, converged, it, stalled = "maximum iterations reached", False, 0, 0
    for it in range(1, max_iter + 1):
        vA = float(np.abs(min_norm_subgradient(w[A], g[A], lam)).max(initial=0.0))
        if vA <= epoch_tol:
            if partial and A.size < n:
                f, g = evaluate(w)  # the full-gradient check at the end of an epoch
            v = float(np.abs(min_norm_subgradient(w, g, lam)).max(initial=0.0))
            if v <= stop_at:
                converged, message = True, "converged (full subgradient check)"
                break
            epoch_tol = max(epoch_tol * 0.1, stop_at)
            A = _shrink(all_idx, w, g, lam) if shrinking else all_idx
        elif delta > 0 and len(window) == window.maxlen:
            if window[0] - F < delta * abs(F):
                if partial and A.size < n:
                    f, g = evaluate(w)  # the gradient off A is stale: refresh it
                v = float(np.abs(min_norm_subgradient(w, g, lam)).max(initial=0.0))
                if v <= max(vA, stop_at):  # nothing outside A is worse than inside
                    converged, message = True, f"relative decrease < delta over {period} steps"
                    break
                A = _shrink(all_idx, w, g, lam) if shrinking else all_idx
                window.clear()
                window.append(F)
        d_A, dec = _direction(w, g, A, memory, gamma, lam, schedule(it), inner_tol, rng)
        step = _line_search(evaluate, w, F, A, d_A, dec, lam, sigma, max_ls, partial)
        if step is None and len(memory):
            memory.clear()  # the quasi-Newton model misled: retry as a proximal-gradient step
            d_A, dec = _direction(w, g, A, memory, gamma, lam, 1, inner_tol, rng)
            step = _line_search(evaluate, w, F, A, d_A, dec, lam, sigma, max_ls, partial)
        if step is None:
            message = "line search cannot make progress (at the precision limit of F?)"
            warnings.warn(message, LineSearchWarning, stacklevel=2)
            break
        w_new, f_new, g_new, F_new = step
        s = w_new - w
        y = g_new - g
        if partial:
            mask = np.zeros(n, dtype=bool)
            mask[A] = True
            y[~mask] = 0.0  # unknown off the working set; s is zero there too
            g_new = np.where(mask, g_new, g)
        if curvature_ok(s, y):
            gamma = float(y @ y) / float(s @ y)
            memory.add(s, y)
        stalled = stalled + 1 if F - F_new <= _ROUNDING * abs(F) else 0
        w, f, g, F = w_new, f_new, g_new, F_new
        window.append(F)
        trace.add(F, w, evaluate.n, t0, A.size)
        if stalled >= _STALL:
            message = "F stalled at machine precision before the tolerance was met"
            break
        if shrinking:
            A = _shrink(A, w, g, lam)
        if f_target is not None and F <= f_target:
            message = "reached f_target"
            break
        if max_evals is not None and evaluate.n >= max_evals:
            message = "maximum evaluations reached"
            break
        if callback is not None and callback(it, w, F):
            message = "stopped by callback"
            break
    else:
        warnings.warn(
            f"prox-qn: {message} ({max_iter}) before the stopping tests passed",
            ConvergenceWarning,
            stacklevel=2,
        )
    return SolverResult(w, F, it, evaluate.n, converged, message, trace)


def curvature_ok(s: np.ndarray, y: np.ndarray) -> bool:
    """Whether the pair (s, y) may enter the L-BFGS memory: sᵀy > 1e-10·yᵀy and sᵀy > 0.

    A pair with sᵀy <= 0 (a non-convex stretch, or a gradient that is not one) would make
    B indefinite, and the CD inner solve would then diverge along negative curvature.
    """
    sy = float(s @ y)
    return sy > 0 and sy > 1e-10 * float(y @ y)


def _passes_schedule(inner_passes: int | Callable[[int], int] | None) -> Callable[[int], int]:
    if inner_passes is None:
        return default_passes
    if callable(inner_passes):
        return inner_passes
    if int(inner_passes) < 1:
        raise ParameterError(f"inner_passes must be >= 1, got {inner_passes}")
    return lambda _it: int(inner_passes)


def _shrink(A: np.ndarray, w: np.ndarray, g: np.ndarray, lam: float) -> np.ndarray:
    # Aggressive rule: no margin. A coordinate at zero whose gradient is inside [-lam, lam]
    # has a zero minimum-norm subgradient; drop it until the epoch ends.
    keep = (w[A] != 0.0) | (np.abs(g[A]) > lam)
    return A[keep]


def _direction(
    w: np.ndarray,
    g: np.ndarray,
    A: np.ndarray,
    memory: _Memory,
    gamma: float,
    lam: float,
    passes: int,
    inner_tol: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, float]:
    """Approximate minimiser d_A of the quadratic model and its predicted decrease Δ."""
    wA, gA = np.ascontiguousarray(w[A]), np.ascontiguousarray(g[A])
    if not len(memory):
        Q, Qh = np.zeros((A.size, 0)), np.zeros((A.size, 0))
        passes = 1  # B = γI is diagonal: one pass is the exact minimiser
    else:
        Q, Qh = memory.compact(gamma, A)
    d = np.zeros(A.size)
    dh = np.zeros(Q.shape[1])
    cd_quadratic_l1(wA, gA, Q, Qh, gamma, lam, d, dh, passes, inner_tol, int(rng.integers(2**31)))
    delta = float(gA @ d + lam * (np.abs(wA + d).sum() - np.abs(wA).sum()))
    return d, delta


def _line_search(
    evaluate: _Counter,
    w: np.ndarray,
    F: float,
    A: np.ndarray,
    d_A: np.ndarray,
    delta: float,
    lam: float,
    sigma: float,
    max_ls: int,
    partial: bool,
) -> tuple[np.ndarray, float, np.ndarray, float] | None:
    """Backtracking on the composite sufficient decrease (Tseng & Yun); None on failure."""
    if not delta < 0:
        return None
    alpha = 1.0
    slack = _ROUNDING * abs(F)
    for _ in range(max_ls):
        w_new = w.copy()
        w_new[A] += alpha * d_A
        f_new, g_new = evaluate(w_new, A if partial else None)
        F_new = f_new + lam * np.abs(w_new).sum()
        if F_new <= F + sigma * alpha * delta + slack:
            return w_new, f_new, g_new, F_new
        alpha *= 0.5
    return None


def owlqn(
    fun: Fun,
    w0: np.ndarray,
    lam: float,
    *,
    m: int = 10,
    tol: float = 1e-6,
    tol_scale: float | None = None,
    delta: float = 0.0,
    period: int = 10,
    max_iter: int = 1000,
    max_evals: int | None = None,
    sigma: float = 1e-4,
    max_ls: int = 30,
    f_target: float | None = None,
    callback: Callable[[int, np.ndarray, float], Any] | None = None,
) -> SolverResult:
    """Orthant-wise limited-memory quasi-Newton (Andrew & Gao, 2007), the CRFsuite baseline.

    The L-BFGS two-loop direction of the pseudo-gradient, projected onto the orthant of
    the steepest-descent direction, with a backtracking line search projected onto the
    current orthant. Parameters (and both stopping tests) as in :func:`prox_qn`.
    """
    w = _check_common(lam, w0, m)
    window = deque(maxlen=int(period) + 1)
    evaluate = _Counter(fun, False)
    t0 = time.perf_counter()
    f, g = evaluate(w)
    F = f + lam * np.abs(w).sum()
    trace = Trace()
    trace.add(F, w, evaluate.n, t0, w.size)
    scale = float(np.abs(g).max(initial=0.0)) if tol_scale is None else float(tol_scale)
    stop_at = tol * max(1.0, scale)
    S: deque[np.ndarray] = deque(maxlen=max(m, 1))
    Y: deque[np.ndarray] = deque(maxlen=max(m, 1))
    window.append(F)
    message, converged, it = "maximum iterations reached", False, 0
    for it in range(1, max_iter + 1):
        pg = min_norm_subgradient(w, g, lam)
        if float(np.abs(pg).max(initial=0.0)) <= stop_at:
            converged, message = True, "converged"
            break
        if delta > 0 and len(window) == window.maxlen and window[0] - F < delta * abs(F):
            converged, message = True, f"relative decrease < delta over {period} steps"
            break
        d = -_two_loop(pg, S, Y) if S else -pg / max(np.linalg.norm(pg), 1e-300)
        d[d * pg >= 0] = 0.0  # keep only the components that agree with -pg
        orthant = np.where(w != 0, np.sign(w), -np.sign(pg))
        alpha, accepted = 1.0, None
        for _ in range(max_ls):
            w_new = w + alpha * d
            w_new[np.sign(w_new) != orthant] = 0.0
            f_new, g_new = evaluate(w_new)
            F_new = f_new + lam * np.abs(w_new).sum()
            if F_new <= F + sigma * float(pg @ (w_new - w)) + _ROUNDING * abs(F):
                accepted = (w_new, f_new, g_new, F_new)
                break
            alpha *= 0.5
        if accepted is None:
            message = "line search cannot make progress"
            warnings.warn(message, LineSearchWarning, stacklevel=2)
            break
        w_new, f_new, g_new, F_new = accepted
        s, y = w_new - w, g_new - g
        if m > 0 and curvature_ok(s, y):
            S.append(s)
            Y.append(y)
        w, f, g, F = w_new, f_new, g_new, F_new
        window.append(F)
        trace.add(F, w, evaluate.n, t0, w.size)
        if f_target is not None and F <= f_target:
            message = "reached f_target"
            break
        if max_evals is not None and evaluate.n >= max_evals:
            message = "maximum evaluations reached"
            break
        if callback is not None and callback(it, w, F):
            message = "stopped by callback"
            break
    else:
        warnings.warn(f"owl-qn: {message} ({max_iter})", ConvergenceWarning, stacklevel=2)
    return SolverResult(w, F, it, evaluate.n, converged, message, trace)


def _two_loop(q: np.ndarray, S: deque[np.ndarray], Y: deque[np.ndarray]) -> np.ndarray:
    """H q for the L-BFGS inverse Hessian (Nocedal's two-loop recursion)."""
    q = q.copy()
    rho = [1.0 / float(s @ y) for s, y in zip(S, Y, strict=True)]
    alphas = []
    for s, y, r in zip(reversed(S), reversed(Y), reversed(rho), strict=True):
        a = r * float(s @ q)
        alphas.append(a)
        q -= a * y
    q *= float(S[-1] @ Y[-1]) / float(Y[-1] @ Y[-1])
    for s, y, r, a in zip(S, Y, rho, reversed(alphas), strict=True):
        b = r * float(y @ q)
        q += (a - b) * s
    return q


def fista(
    fun: Fun,
    w0: np.ndarray,
    lam: float,
    *,
    L0: float | None = None,
    accelerate: bool = True,
    tol: float = 1e-6,
    max_iter: int = 5000,
    max_evals: int | None = None,
    f_target: float | None = None,
    callback: Callable[[int, np.ndarray, float], Any] | None = None,
) -> SolverResult:
    """FISTA with backtracking on the Lipschitz estimate L (Beck & Teboulle, 2009).

    ``accelerate=False`` is ISTA (proximal gradient), which is monotone. ``L0`` defaults to
    ||∇l(w0)||_2. Parameters otherwise as in :func:`prox_qn`.
    """
    x = _check_common(lam, w0)
    evaluate = _Counter(fun, False)
    t0 = time.perf_counter()
    f, g = evaluate(x)
    F = f + lam * np.abs(x).sum()
    trace = Trace()
    trace.add(F, x, evaluate.n, t0, x.size)
    v0 = float(np.abs(min_norm_subgradient(x, g, lam)).max(initial=0.0))
    stop_at = tol * max(1.0, v0)
    L = float(L0) if L0 is not None else max(float(np.linalg.norm(g)), 1e-12)
    z, fz, gz, tk = x.copy(), f, g, 1.0
    message, converged, it = "maximum iterations reached", False, 0
    for it in range(1, max_iter + 1):
        while True:
            x_new = _soft(z - gz / L, lam / L)
            f_new, g_new = evaluate(x_new)
            diff = x_new - z
            if f_new <= fz + float(gz @ diff) + 0.5 * L * float(diff @ diff) + 1e-12 * abs(fz):
                break
            L *= 2.0
            if max_evals is not None and evaluate.n >= max_evals:
                break
        F_new = f_new + lam * np.abs(x_new).sum()
        if accelerate:
            t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * tk * tk))
            z = x_new + ((tk - 1.0) / t_new) * (x_new - x)
            tk = t_new
            fz, gz = evaluate(z) if np.any(z != x_new) else (f_new, g_new)
        else:
            z, fz, gz = x_new, f_new, g_new
        x, F = x_new, F_new
        trace.add(F, x, evaluate.n, t0, x.size)
        if float(np.abs(min_norm_subgradient(x, g_new, lam)).max(initial=0.0)) <= stop_at:
            converged, message = True, "converged"
            break
        if f_target is not None and F <= f_target:
            message = "reached f_target"
            break
        if max_evals is not None and evaluate.n >= max_evals:
            message = "maximum evaluations reached"
            break
        if callback is not None and callback(it, x, F):
            message = "stopped by callback"
            break
        L *= 0.9  # let the estimate relax so steps are not stuck at a pessimistic L
    else:
        warnings.warn(f"fista: {message} ({max_iter})", ConvergenceWarning, stacklevel=2)
    return SolverResult(x, F, it, evaluate.n, converged, message, trace)


def _soft(x: np.ndarray, tau: float) -> np.ndarray:
    return np.sign(x) * np.maximum(np.abs(x) - tau, 0.0)
