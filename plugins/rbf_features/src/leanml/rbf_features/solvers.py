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
return ``(W, n_iter)``; the single-target functions wrap them. There is no separate
intercept: the bins of a grid partition the input space, so a constant shift is already
representable (it is penalised like every weight).
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


def svm_objective(
    design: RBDesign,
    y: np.ndarray,
    w: np.ndarray,
    C: float,
    squared: bool,
    sample_weight: np.ndarray | None = None,
) -> float:
    """1/2 ||w||^2 + C sum_i s_i max(0, 1 - y_i w.z_i)^p."""
    slack = np.maximum(0.0, 1.0 - y * design.dot(w))
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """LIBLINEAR's dual CD for each row of ``Y`` (K x n, +1/-1), targets in parallel.

    ``dual0`` (K x n) warm-starts from previous dual variables: the primal start is rebuilt
    as w_k = sum_i alpha_ki y_ki z_i on this design, so it also holds after grids were added.
    Rows with zero weight are left out (their alpha stays 0).

    Returns
    -------
    W : (D, K) weights; dual : (K, n) dual variables; n_iter : (K,) outer iterations;
    threads : (K,) id of the Numba thread that solved each target.
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
    W = np.ascontiguousarray(np.stack([design.rdot(dual[k] * Y[k]) for k in range(K)]))
    cols = design.cols if keep.size == n else np.ascontiguousarray(design.cols[keep])
    A = np.ascontiguousarray(dual[:, keep])
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
        threads,
    )
    dual[:, keep] = A
    return W.T, dual, n_iter, threads


def solve_svm(
    design: RBDesign,
    y: np.ndarray,
    C: float = 1.0,
    squared: bool = False,
    tol: float = 0.1,
    max_iter: int = 1000,
    random_state: int = 0,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """L2-regularised (squared) hinge SVM by LIBLINEAR's dual coordinate descent.

    ``tol`` is LIBLINEAR's stopping tolerance on the projected-gradient spread (its
    default 0.1; use 1e-8 to solve to high accuracy). Returns w, shape (D,).
    """
    W, *_ = solve_svm_targets(
        design, y, C, squared, tol, max_iter, random_state, sample_weight=sample_weight
    )
    return W[:, 0]


def logistic_objective(
    design: RBDesign,
    y: np.ndarray,
    w: np.ndarray,
    C: float,
    sample_weight: np.ndarray | None = None,
) -> float:
    """1/2 ||w||^2 + C sum_i s_i log(1 + exp(-y_i w.z_i))."""
    s = _weights(sample_weight, len(y))
    return 0.5 * float(w @ w) + C * float(np.sum(s * np.logaddexp(0.0, -y * design.dot(w))))


def solve_logistic(
    design: RBDesign,
    y: np.ndarray,
    C: float = 1.0,
    tol: float = 1e-6,
    max_iter: int = 200,
    w0: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    return_n_iter: bool = False,
) -> np.ndarray | tuple[np.ndarray, int]:
    """L2-regularised logistic regression by trust-region Newton-CG on the primal.

    The Hessian-vector product I + C Z^T D Z s costs two passes over the n x R ids.
    ``tol`` bounds the gradient norm relative to its value at w = 0. With
    ``return_n_iter``, returns ``(w, iterations)``.
    """
    _check_C(C)
    y = y.astype(np.float64)
    cs = C * _weights(sample_weight, len(y))

    def fun(w: np.ndarray) -> tuple[float, np.ndarray]:
        m = y * design.dot(w)
        sig = 0.5 * (1.0 - np.tanh(0.5 * m))  # 1 / (1 + exp(m)), overflow-free
        f = 0.5 * float(w @ w) + float(np.sum(cs * np.logaddexp(0.0, -m)))
        return f, w - design.rdot(cs * y * sig)

    def hessp(w: np.ndarray, s: np.ndarray) -> np.ndarray:
        m = y * design.dot(w)
        sig = 0.5 * (1.0 - np.tanh(0.5 * m))
        return s + design.rdot(cs * sig * (1.0 - sig) * design.dot(s))

    w_init = np.zeros(design.n_columns) if w0 is None else w0.astype(np.float64)
    g0 = np.linalg.norm(fun(np.zeros(design.n_columns))[1])
    res = scipy.optimize.minimize(
        fun,
        w_init,
        jac=True,
        hessp=hessp,
        method="trust-ncg",
        options={"gtol": tol * max(g0, 1e-12), "maxiter": max_iter},
    )
    return (res.x, int(res.nit)) if return_n_iter else res.x


def ridge_objective(
    design: RBDesign,
    y: np.ndarray,
    w: np.ndarray,
    alpha: float,
    sample_weight: np.ndarray | None = None,
) -> float:
    """1/2 sum_i s_i (z_i.w - y_i)^2 + alpha/2 ||w||^2."""
    r = design.dot(w) - y
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge by exact block coordinate descent over grids, for each row of ``Y`` (K x n).

    Targets run in parallel. Stops when the largest single-bin step of an epoch falls below
    ``tol`` times the largest weight. Returns ``(W (D, K), n_iter (K,), threads (K,))``.
    """
    _check_alpha(alpha)
    Y = _targets(Y)
    W = _start(design, Y.shape[0], W0)
    resid = np.ascontiguousarray(Y - np.stack([design.dot(w) for w in W]))
    ptr, rows = design.csc()
    threads = np.full(Y.shape[0], -1, dtype=np.int64)
    n_iter = _kernels.ridge_bcd_targets(
        ptr,
        rows,
        design.grid_offsets,
        resid,
        W,
        _weights(sample_weight, Y.shape[1]),
        design.value,
        float(alpha),
        float(tol),
        int(max_iter),
        threads,
    )
    return W.T, n_iter, threads


def solve_ridge_bcd(
    design: RBDesign,
    y: np.ndarray,
    alpha: float = 1.0,
    tol: float = 1e-8,
    max_iter: int = 500,
    w0: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Ridge min 1/2 ||Z w - y||^2 + alpha/2 ||w||^2 by exact block CD, one grid at a time."""
    W, _, _ = solve_ridge_bcd_targets(design, y, alpha, tol, max_iter, w0, sample_weight)
    return W[:, 0]


def solve_ridge_cg(
    design: RBDesign,
    y: np.ndarray,
    alpha: float = 1.0,
    tol: float = 1e-10,
    max_iter: int = 500,
    w0: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    return_n_iter: bool = False,
) -> np.ndarray | tuple[np.ndarray, int]:
    """Ridge by conjugate gradients on (Z^T S Z + alpha I) w = Z^T S y, as the paper's experiments.

    S = diag(sample_weight). Preconditioned by the exact diagonal sum_b s_i/R + alpha. Stops
    when the residual norm is below ``tol`` times ||Z^T S y||.
    """
    _check_alpha(alpha)
    s = _weights(sample_weight, len(y))
    rhs = design.rdot(s * y.astype(np.float64))
    mass = np.bincount(design.cols.ravel(), weights=np.repeat(s, design.cols.shape[1]))
    diag = np.zeros(design.n_columns) + alpha
    diag[: mass.size] += mass * design.value**2
    w = np.zeros(design.n_columns) if w0 is None else w0.astype(np.float64).copy()
    r = rhs - (design.rdot(s * design.dot(w)) + alpha * w)
    z = r / diag
    p = z.copy()
    rz = float(r @ z)
    stop = tol * max(np.linalg.norm(rhs), 1e-300)
    it = 0
    while it < max_iter and np.linalg.norm(r) > stop:
        Ap = design.rdot(s * design.dot(p)) + alpha * p
        step = rz / float(p @ Ap)
        w += step * p
        r -= step * Ap
        z = r / diag
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
        it += 1
    return (w, it) if return_n_iter else w


def l1_objective(
    design: RBDesign,
    y: np.ndarray,
    w: np.ndarray,
    C: float,
    loss: str,
    sample_weight: np.ndarray | None = None,
) -> float:
    """||w||_1 + C sum_i s_i loss(w.z_i, y_i)."""
    m = design.dot(w)
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's L1 proximal coordinate descent for each row of ``Y`` (K x n), in parallel.

    ``loss`` is "squared" (regression), "squared_hinge" or "logistic". Returns
    ``(W (D, K), n_iter (K,), threads (K,))``.
    """
    _check_C(C)
    if loss not in _CURVATURE:
        raise ParameterError(f"unknown loss {loss!r} for L1; choose one of {sorted(_CURVATURE)}")
    kind, curvature = _CURVATURE[loss]
    Y = _targets(Y)
    W = _start(design, Y.shape[0], W0)
    margins = np.ascontiguousarray(np.stack([design.dot(w) for w in W]))
    ptr, rows = design.csc()
    threads = np.full(Y.shape[0], -1, dtype=np.int64)
    n_iter = _kernels.l1_prox_targets(
        ptr,
        rows,
        design.grid_offsets,
        margins,
        Y,
        W,
        C * _weights(sample_weight, Y.shape[1]),
        design.value,
        kind,
        curvature,
        float(tol),
        int(max_iter),
        threads,
    )
    return W.T, n_iter, threads


def solve_l1(
    design: RBDesign,
    y: np.ndarray,
    C: float = 1.0,
    loss: str = "squared_hinge",
    tol: float = 1e-6,
    max_iter: int = 300,
    w0: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """L1-regularised loss ||w||_1 + C sum_i s_i loss(w.z_i, y_i) by proximal CD, bin by bin."""
    W, _, _ = solve_l1_targets(design, y, C, loss, tol, max_iter, w0, sample_weight)
    return W[:, 0]
