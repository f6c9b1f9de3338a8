"""Solvers on RB features, working on the compact id layout (never on an explicit matrix).

Conventions match LIBLINEAR / scikit-learn so objectives can be compared one to one:

- ``svm``: min_w 1/2 ||w||^2 + C sum_i max(0, 1 - y_i w.z_i)^p, p = 1 (hinge) or 2
  (squared hinge), by dual coordinate descent;
- ``logistic``: min_w 1/2 ||w||^2 + C sum_i log(1 + exp(-y_i w.z_i)), by trust-region
  Newton-CG (as liblinear's primal solver);
- ``ridge``: min_w 1/2 ||Z w - y||^2 + alpha/2 ||w||^2, by exact block coordinate descent
  over grids or by conjugate gradients;
- ``l1``: min_w ||w||_1 + C sum_i loss(w.z_i, y_i), by the paper's proximal coordinate
  descent, bin by bin.

Labels for the classification losses are +1/-1. ``sample_weight`` s_i multiplies sample i's
loss (C s_i in place of C). Functions ending in ``_targets`` solve K independent problems
(one-vs-rest classes, or regression outputs) with one parallel region over the targets and
return ``(W, b, ...)``; the single-target functions wrap them.

``fit_intercept=True`` adds an unpenalised bias b to every margin, w.z_i + b, in each
objective above (the penalty covers w only). The primal solvers give b its own coordinate,
updated exactly (ridge: the weighted mean residual; L1: a Newton step with the loss's
curvature bound; Newton-CG and CG: one more unknown with no penalty). Dual CD finds b as
the multiplier of the dual's equality constraint sum_i alpha_i y_i = 0 by a root search
(see ``_kernels.dcd_svm_intercept``). Without it, a constant is still representable (the
bins of a grid partition the input space) but penalised like every weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize

from leanml.core import ParameterError

from . import _kernels
from ._parallel import serial_below

__all__ = [
    "RBDesign",
    "l1_objective",
    "logistic_objective",
    "ridge_objective",
    "solve_l1",
    "solve_l1_targets",
    "solve_logistic",
    "solve_ridge_bcd",
    "solve_ridge_bcd_targets",
    "solve_ridge_cg",
    "solve_svm",
    "solve_svm_targets",
    "svm_objective",
]

_CURVATURE = {"squared": (0, 1.0), "squared_hinge": (1, 2.0), "logistic": (2, 0.25)}


@dataclass
class RBDesign:
    """The implicit RB matrix Z of training rows: ``cols[i, r]`` holds value ``1/sqrt(R)``.

    Attributes
    ----------
    cols : ndarray (n, R) of int32/int64 column ids (training rows have no -1)
    grid_offsets : ndarray (R + 1,), grid r owns columns ``grid_offsets[r]:grid_offsets[r+1]``
    """

    cols: np.ndarray
    grid_offsets: np.ndarray

    @property
    def n_columns(self) -> int:
        return int(self.grid_offsets[-1])

    @property
    def value(self) -> float:
        return 1.0 / np.sqrt(self.cols.shape[1])

    def dot(self, w: np.ndarray) -> np.ndarray:
        """Z w."""
        with serial_below(self.cols.size):  # Newton-CG and CG call this hundreds of times
            return _kernels.z_dot(self.cols, w, self.value)

    def rdot(self, u: np.ndarray) -> np.ndarray:
        """Z^T u."""
        with serial_below(self.cols.size):
            return _kernels.zt_dot(self.cols, u, self.value, self.n_columns)

    def csc(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows of each column, for the per-bin parallel sweeps."""
        if not hasattr(self, "_csc"):
            self._csc = _kernels.column_index(self.cols, self.grid_offsets)
        return self._csc


def _check_C(C: float) -> None:
    if not np.isfinite(C) or C <= 0:
        raise ParameterError(f"C must be a finite number > 0, got {C!r}")


def _weights(sample_weight: np.ndarray | None, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    return np.ascontiguousarray(sample_weight, dtype=np.float64)


def _targets(Y: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.atleast_2d(Y), dtype=np.float64)


def _biases(K: int, fit_intercept: bool, b0: np.ndarray | None) -> np.ndarray:
    """Start values of the K biases (zeros unless fitted and given)."""
    if not fit_intercept or b0 is None:
        return np.zeros(K)
    return np.array(np.broadcast_to(np.asarray(b0, dtype=np.float64), (K,)))


def svm_objective(
    design: RBDesign,
    y: np.ndarray,
    w: np.ndarray,
    C: float,
    squared: bool,
    sample_weight: np.ndarray | None = None,
    b: float = 0.0,
) -> float:
    """1/2 ||w||^2 + C sum_i s_i max(0, 1 - y_i (w.z_i + b))^p."""
    slack = np.maximum(0.0, 1.0 - y * (design.dot(w) + b))
    s = _weights(sample_weight, len(y))
    return 0.5 * float(w @ w) + C * float(np.sum(s * (slack**2 if squared else slack)))


def solve_svm_targets(
    design: RBDesign,
    Y: np.ndarray,
    C: float = 1.0,
    squared: bool = False,
    tol: float = 0.1,
    max_iter: int = 1000,
    random_state: int = 0,
    sample_weight: np.ndarray | None = None,
    dual0: np.ndarray | None = None,
    fit_intercept: bool = False,
    b0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """LIBLINEAR's dual CD for each row of ``Y`` (K x n, +1/-1), targets in parallel.

    ``dual0`` (K x n) warm-starts from previous dual variables: the primal start is rebuilt
    as w_k = sum_i alpha_ki y_ki z_i on this design, so it also holds after grids were added.
    Rows with zero weight are left out (their alpha stays 0). With ``fit_intercept`` the
    unpenalised bias of each target is searched from ``b0`` (K,) (default 0); ``n_iter``
    then counts the dual CD epochs of all the search's solves.

    Returns
    -------
    W : (D, K) weights; b : (K,) biases (zeros without ``fit_intercept``); dual : (K, n)
    dual variables; n_iter : (K,) outer iterations; threads : (K,) id of the Numba thread
    that solved each target.
    """
    _check_C(C)
    Y = _targets(Y)
    K, n = Y.shape
    cost = C * _weights(sample_weight, n)
    keep = np.flatnonzero(cost > 0)
    dual = np.zeros((K, n)) if dual0 is None else np.array(dual0, dtype=np.float64)
    dual[:, cost <= 0] = 0.0
    if not squared:  # a smaller C or weight shrinks the box: clip the warm start into it
        dual = np.minimum(dual, cost)
    if dual0 is None:  # w = Z^T (alpha y) = 0: skip a pass over the ids
        W = np.zeros((K, design.n_columns))
    else:
        W = np.ascontiguousarray(np.stack([design.rdot(dual[k] * Y[k]) for k in range(K)]))
    cols = design.cols if keep.size == n else np.ascontiguousarray(design.cols[keep])
    A = np.ascontiguousarray(dual[:, keep])
    B = _biases(K, fit_intercept, b0)
    threads = np.full(K, -1, dtype=np.int64)
    n_iter = _kernels.dcd_svm_classes(
        cols,
        np.ascontiguousarray(Y[:, keep]),
        design.value,
        np.ascontiguousarray(cost[keep]),
        bool(squared),
        float(tol),
        int(max_iter),
        int(random_state),
        W,
        A,
        B,
        bool(fit_intercept),
        threads,
    )
    dual[:, keep] = A
    return W.T, B, dual, n_iter, threads


def solve_svm(
    design: RBDesign,
    y: np.ndarray,
    C: float = 1.0,
    squared: bool = False,
    tol: float = 0.1,
    max_iter: int = 1000,
    random_state: int = 0,
    sample_weight: np.ndarray | None = None,
    fit_intercept: bool = False,
) -> np.ndarray | tuple[np.ndarray, float]:
    """L2-regularised (squared) hinge SVM by LIBLINEAR's dual coordinate descent.

    ``tol`` is LIBLINEAR's stopping tolerance on the projected-gradient spread (its
    default 0.1; use 1e-8 to solve to high accuracy). Returns w, shape (D,), or ``(w, b)``
    with ``fit_intercept``.
    """
    W, B, *_ = solve_svm_targets(
        design,
        y,
        C,
        squared,
        tol,
        max_iter,
        random_state,
        sample_weight=sample_weight,
        fit_intercept=fit_intercept,
    )
    return (W[:, 0], float(B[0])) if fit_intercept else W[:, 0]


def logistic_objective(
    design: RBDesign,
    y: np.ndarray,
    w: np.ndarray,
    C: float,
    sample_weight: np.ndarray | None = None,
    b: float = 0.0,
) -> float:
    """1/2 ||w||^2 + C sum_i s_i log(1 + exp(-y_i (w.z_i + b)))."""
    s = _weights(sample_weight, len(y))
    m = design.dot(w) + b
    return 0.5 * float(w @ w) + C * float(np.sum(s * np.logaddexp(0.0, -y * m)))


def solve_logistic(
    design: RBDesign,
    y: np.ndarray,
    C: float = 1.0,
    tol: float = 1e-6,
    max_iter: int = 200,
    w0: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    return_n_iter: bool = False,
    fit_intercept: bool = False,
    b0: float = 0.0,
) -> np.ndarray | tuple:
    """L2-regularised logistic regression by trust-region Newton-CG on the primal.

    The Hessian-vector product I + C Z^T D Z s costs two passes over the n x R ids.
    ``tol`` bounds the gradient norm relative to its value at w = 0. With
    ``fit_intercept`` the unpenalised bias is one more unknown (no identity term in its
    Hessian row), started at ``b0``. Returns w; ``(w, b)`` with ``fit_intercept``; the
    iterations appended with ``return_n_iter``.
    """
    _check_C(C)
    y = y.astype(np.float64)
    cs = C * _weights(sample_weight, len(y))
    D = design.n_columns
    reg = np.ones(D + bool(fit_intercept))
    reg[D:] = 0.0  # the bias is not penalised

    def margins(x: np.ndarray) -> np.ndarray:
        return design.dot(x[:D]) + (x[D] if fit_intercept else 0.0)

    def grad_part(u: np.ndarray) -> np.ndarray:  # [Z 1]^T u (or Z^T u)
        g = design.rdot(u)
        return np.append(g, u.sum()) if fit_intercept else g

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        m = y * margins(x)
        sig = 0.5 * (1.0 - np.tanh(0.5 * m))  # 1 / (1 + exp(m)), overflow-free
        f = 0.5 * float(x[:D] @ x[:D]) + float(np.sum(cs * np.logaddexp(0.0, -m)))
        return f, reg * x - grad_part(cs * y * sig)

    def hessp(x: np.ndarray, p: np.ndarray) -> np.ndarray:
        m = y * margins(x)
        sig = 0.5 * (1.0 - np.tanh(0.5 * m))
        return reg * p + grad_part(cs * sig * (1.0 - sig) * margins(p))

    x0 = np.zeros(reg.size)
    if w0 is not None:
        x0[:D] = w0
    if fit_intercept:
        x0[D] = b0
    g0 = np.linalg.norm(fun(np.zeros(reg.size))[1])
    res = scipy.optimize.minimize(
        fun,
        x0,
        jac=True,
        hessp=hessp,
        method="trust-ncg",
        options={"gtol": tol * max(g0, 1e-12), "maxiter": max_iter},
    )
    out = (res.x[:D], float(res.x[D])) if fit_intercept else (res.x,)
    out = (*out, int(res.nit)) if return_n_iter else out
    return out if len(out) > 1 else out[0]


def ridge_objective(
    design: RBDesign,
    y: np.ndarray,
    w: np.ndarray,
    alpha: float,
    sample_weight: np.ndarray | None = None,
    b: float = 0.0,
) -> float:
    """1/2 sum_i s_i (z_i.w + b - y_i)^2 + alpha/2 ||w||^2."""
    r = design.dot(w) + b - y
    s = _weights(sample_weight, len(y))
    return 0.5 * float(s @ (r * r)) + 0.5 * alpha * float(w @ w)


def _check_alpha(alpha: float) -> None:
    if not np.isfinite(alpha) or alpha <= 0:
        raise ParameterError(f"alpha must be a finite number > 0, got {alpha!r}")


def _start(design: RBDesign, K: int, W0: np.ndarray | None) -> np.ndarray:
    if W0 is None:
        return np.zeros((K, design.n_columns))
    return np.ascontiguousarray(np.asarray(W0, dtype=np.float64).reshape(design.n_columns, K).T)


def solve_ridge_bcd_targets(
    design: RBDesign,
    Y: np.ndarray,
    alpha: float = 1.0,
    tol: float = 1e-8,
    max_iter: int = 500,
    W0: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    fit_intercept: bool = False,
    b0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ridge by exact block coordinate descent over grids, for each row of ``Y`` (K x n).

    Targets run in parallel. With ``fit_intercept`` every epoch first sets the unpenalised
    bias to its exact minimiser (started from ``b0``). Stops when the largest single step
    of an epoch falls below ``tol`` times the largest weight. Returns
    ``(W (D, K), b (K,), n_iter (K,), threads (K,))``.
    """
    _check_alpha(alpha)
    Y = _targets(Y)
    W = _start(design, Y.shape[0], W0)
    B = _biases(Y.shape[0], fit_intercept, b0)
    resid = np.ascontiguousarray(Y - np.stack([design.dot(w) for w in W]) - B[:, None])
    ptr, rows = design.csc()
    threads = np.full(Y.shape[0], -1, dtype=np.int64)
    n_iter = _kernels.ridge_bcd_targets(
        ptr,
        rows,
        design.grid_offsets,
        resid,
        W,
        B,
        bool(fit_intercept),
        _weights(sample_weight, Y.shape[1]),
        design.value,
        float(alpha),
        float(tol),
        int(max_iter),
        threads,
    )
    return W.T, B, n_iter, threads


def solve_ridge_bcd(
    design: RBDesign,
    y: np.ndarray,
    alpha: float = 1.0,
    tol: float = 1e-8,
    max_iter: int = 500,
    w0: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    fit_intercept: bool = False,
) -> np.ndarray | tuple[np.ndarray, float]:
    """Ridge min 1/2 ||Z w + b - y||^2 + alpha/2 ||w||^2 by exact block CD, one grid at a time.

    Returns w, or ``(w, b)`` with ``fit_intercept`` (otherwise b = 0)."""
    W, B, _, _ = solve_ridge_bcd_targets(
        design, y, alpha, tol, max_iter, w0, sample_weight, fit_intercept
    )
    return (W[:, 0], float(B[0])) if fit_intercept else W[:, 0]


def solve_ridge_cg(
    design: RBDesign,
    y: np.ndarray,
    alpha: float = 1.0,
    tol: float = 1e-10,
    max_iter: int = 500,
    w0: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    return_n_iter: bool = False,
    fit_intercept: bool = False,
    b0: float = 0.0,
) -> np.ndarray | tuple:
    """Ridge by conjugate gradients on (Z^T S Z + alpha I) w = Z^T S y, as the paper's experiments.

    S = diag(sample_weight). Preconditioned by the exact diagonal sum_b s_i/R + alpha. With
    ``fit_intercept`` the unknowns are (w, b) and the matrix is [Z 1]^T S [Z 1] + alpha
    diag(1, ..., 1, 0) (no penalty on b; its diagonal entry is sum_i s_i), started at
    ``b0``. Stops when the residual norm is below ``tol`` times the right-hand side's.
    Returns w; ``(w, b)`` with ``fit_intercept``; the iterations appended with
    ``return_n_iter``.
    """
    _check_alpha(alpha)
    s = _weights(sample_weight, len(y))
    D = design.n_columns
    reg = np.full(D + bool(fit_intercept), alpha)
    reg[D:] = 0.0

    def Zx(x: np.ndarray) -> np.ndarray:  # [Z 1] x
        return design.dot(x[:D]) + (x[D] if fit_intercept else 0.0)

    def ZTu(u: np.ndarray) -> np.ndarray:  # [Z 1]^T u
        g = design.rdot(u)
        return np.append(g, u.sum()) if fit_intercept else g

    rhs = ZTu(s * y.astype(np.float64))
    mass = np.bincount(design.cols.ravel(), weights=np.repeat(s, design.cols.shape[1]))
    diag = reg.copy()
    diag[: mass.size] += mass * design.value**2
    if fit_intercept:
        diag[D] = s.sum()
    x = np.zeros(reg.size)
    if w0 is not None:
        x[:D] = w0
    if fit_intercept:
        x[D] = b0
    r = rhs - (ZTu(s * Zx(x)) + reg * x)
    z = r / diag
    p = z.copy()
    rz = float(r @ z)
    stop = tol * max(np.linalg.norm(rhs), 1e-300)
    it = 0
    while it < max_iter and np.linalg.norm(r) > stop:
        Ap = ZTu(s * Zx(p)) + reg * p
        step = rz / float(p @ Ap)
        x += step * p
        r -= step * Ap
        z = r / diag
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
        it += 1
    out = (x[:D], float(x[D])) if fit_intercept else (x,)
    out = (*out, it) if return_n_iter else out
    return out if len(out) > 1 else out[0]


def l1_objective(
    design: RBDesign,
    y: np.ndarray,
    w: np.ndarray,
    C: float,
    loss: str,
    sample_weight: np.ndarray | None = None,
    b: float = 0.0,
) -> float:
    """||w||_1 + C sum_i s_i loss(w.z_i + b, y_i)."""
    m = design.dot(w) + b
    if loss == "squared":
        per = 0.5 * (m - y) ** 2
    elif loss == "squared_hinge":
        per = np.maximum(0.0, 1.0 - y * m) ** 2
    else:
        per = np.logaddexp(0.0, -y * m)
    return float(np.abs(w).sum() + C * np.sum(_weights(sample_weight, len(y)) * per))


def solve_l1_targets(
    design: RBDesign,
    Y: np.ndarray,
    C: float = 1.0,
    loss: str = "squared_hinge",
    tol: float = 1e-6,
    max_iter: int = 300,
    W0: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    fit_intercept: bool = False,
    b0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The paper's L1 proximal coordinate descent for each row of ``Y`` (K x n), in parallel.

    ``loss`` is "squared" (regression), "squared_hinge" or "logistic". With
    ``fit_intercept`` every epoch starts with a step on the unpenalised bias (from ``b0``).
    Returns ``(W (D, K), b (K,), n_iter (K,), threads (K,))``.
    """
    _check_C(C)
    if loss not in _CURVATURE:
        raise ParameterError(f"unknown loss {loss!r} for L1; choose one of {sorted(_CURVATURE)}")
    kind, curvature = _CURVATURE[loss]
    Y = _targets(Y)
    W = _start(design, Y.shape[0], W0)
    B = _biases(Y.shape[0], fit_intercept, b0)
    margins = np.ascontiguousarray(np.stack([design.dot(w) for w in W]) + B[:, None])
    ptr, rows = design.csc()
    threads = np.full(Y.shape[0], -1, dtype=np.int64)
    n_iter = _kernels.l1_prox_targets(
        ptr,
        rows,
        design.grid_offsets,
        margins,
        Y,
        W,
        B,
        bool(fit_intercept),
        C * _weights(sample_weight, Y.shape[1]),
        design.value,
        kind,
        curvature,
        float(tol),
        int(max_iter),
        threads,
    )
    return W.T, B, n_iter, threads


def solve_l1(
    design: RBDesign,
    y: np.ndarray,
    C: float = 1.0,
    loss: str = "squared_hinge",
    tol: float = 1e-6,
    max_iter: int = 300,
    w0: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    fit_intercept: bool = False,
) -> np.ndarray | tuple[np.ndarray, float]:
    """L1-regularised loss ||w||_1 + C sum_i s_i loss(w.z_i + b, y_i) by proximal CD, bin by bin.

    Returns w, or ``(w, b)`` with ``fit_intercept`` (otherwise b = 0)."""
    W, B, _, _ = solve_l1_targets(
        design, y, C, loss, tol, max_iter, w0, sample_weight, fit_intercept
    )
    return (W[:, 0], float(B[0])) if fit_intercept else W[:, 0]
