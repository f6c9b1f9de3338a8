"""Solvers on RB features, working on the compact id layout (never on an explicit matrix).

Conventions match LIBLINEAR / scikit-learn so objectives can be compared one to one:

- ``svm``: min_w 1/2 ||w||^2 + C sum_i max(0, 1 - y_i w.z_i)^p, p = 1 (hinge) or 2
  (squared hinge), by dual coordinate descent;
- ``logistic``: min_w 1/2 ||w||^2 + C sum_i log(1 + exp(-y_i w.z_i)), by trust-region
  Newton-CG (as liblinear's primal solver);
- ``ridge``: min_w 1/2 ||Z w - y||^2 + alpha/2 ||w||^2, by exact block coordinate descent
  over grids or by conjugate gradients;
- ``l1``: min_w ||w||_1 + C sum_i loss(w.z_i, y_i), by the paper's parallel proximal
  coordinate descent over the bins of one grid.

Labels for the classification losses are +1/-1. There is no separate intercept: the bins of
a grid partition the input space, so a constant shift is already representable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize

from leanml.core import ParameterError

from . import _kernels

__all__ = [
    "RBDesign",
    "l1_objective",
    "logistic_objective",
    "ridge_objective",
    "solve_l1",
    "solve_logistic",
    "solve_ridge_bcd",
    "solve_ridge_cg",
    "solve_svm",
    "solve_svm_classes",
    "svm_objective",
]

_CURVATURE = {"squared": (0, 1.0), "squared_hinge": (1, 2.0), "logistic": (2, 0.25)}


@dataclass
class RBDesign:
    """The implicit RB matrix Z of training rows: ``cols[i, r]`` holds value ``1/sqrt(R)``.

    Attributes
    ----------
    cols : ndarray (n, R) of int64 column ids (training rows have no -1)
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
        return _kernels.z_dot(self.cols, w, self.value)

    def rdot(self, u: np.ndarray) -> np.ndarray:
        """Z^T u."""
        return _kernels.zt_dot(self.cols, u, self.value, self.n_columns)

    def csc(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows of each column, for the per-bin parallel sweeps."""
        if not hasattr(self, "_csc"):
            self._csc = _kernels.column_index(self.cols, self.grid_offsets)
        return self._csc


def _check_C(C: float) -> None:
    if not np.isfinite(C) or C <= 0:
        raise ParameterError(f"C must be a finite number > 0, got {C!r}")


def svm_objective(design: RBDesign, y: np.ndarray, w: np.ndarray, C: float, squared: bool) -> float:
    """1/2 ||w||^2 + C sum_i max(0, 1 - y_i w.z_i)^p."""
    slack = np.maximum(0.0, 1.0 - y * design.dot(w))
    return 0.5 * float(w @ w) + C * float(np.sum(slack**2 if squared else slack))


def solve_svm(
    design: RBDesign,
    y: np.ndarray,
    C: float = 1.0,
    squared: bool = False,
    tol: float = 0.1,
    max_iter: int = 1000,
    random_state: int = 0,
) -> np.ndarray:
    """L2-regularised (squared) hinge SVM by LIBLINEAR's dual coordinate descent.

    ``tol`` is LIBLINEAR's stopping tolerance on the projected-gradient spread (its
    default 0.1; use 1e-8 to solve to high accuracy). The dual starts at 0, so there is no
    primal warm start.
    """
    _check_C(C)
    w = np.zeros(design.n_columns)
    alpha = np.zeros(len(y))
    _kernels.dcd_svm(
        design.cols,
        y.astype(np.float64),
        design.value,
        design.n_columns,
        float(C),
        bool(squared),
        float(tol),
        int(max_iter),
        int(random_state),
        w,
        alpha,
    )
    return w


def solve_svm_classes(
    design: RBDesign,
    Y: np.ndarray,
    C: float = 1.0,
    squared: bool = False,
    tol: float = 0.1,
    max_iter: int = 1000,
    random_state: int = 0,
) -> np.ndarray:
    """One-vs-rest :func:`solve_svm` for each row of ``Y`` (K x n, +1/-1), in parallel.

    Returns the (D, K) weight matrix; identical to K sequential calls.
    """
    _check_C(C)
    W = np.zeros((Y.shape[0], design.n_columns))
    _kernels.dcd_svm_classes(
        design.cols,
        np.ascontiguousarray(Y, dtype=np.float64),
        design.value,
        design.n_columns,
        float(C),
        bool(squared),
        float(tol),
        int(max_iter),
        int(random_state),
        W,
    )
    return W.T


def logistic_objective(design: RBDesign, y: np.ndarray, w: np.ndarray, C: float) -> float:
    """1/2 ||w||^2 + C sum_i log(1 + exp(-y_i w.z_i))."""
    return 0.5 * float(w @ w) + C * float(np.sum(np.logaddexp(0.0, -y * design.dot(w))))


def solve_logistic(
    design: RBDesign,
    y: np.ndarray,
    C: float = 1.0,
    tol: float = 1e-6,
    max_iter: int = 200,
    w0: np.ndarray | None = None,
) -> np.ndarray:
    """L2-regularised logistic regression by trust-region Newton-CG on the primal.

    The Hessian-vector product I + C Z^T D Z s costs two passes over the n x R ids.
    ``tol`` bounds the gradient norm relative to its value at w = 0.
    """
    _check_C(C)
    y = y.astype(np.float64)

    def fun(w: np.ndarray) -> tuple[float, np.ndarray]:
        m = y * design.dot(w)
        sig = 0.5 * (1.0 - np.tanh(0.5 * m))  # 1 / (1 + exp(m)), overflow-free
        f = 0.5 * float(w @ w) + C * float(np.sum(np.logaddexp(0.0, -m)))
        return f, w - C * design.rdot(y * sig)

    def hessp(w: np.ndarray, s: np.ndarray) -> np.ndarray:
        m = y * design.dot(w)
        sig = 0.5 * (1.0 - np.tanh(0.5 * m))
        return s + C * design.rdot(sig * (1.0 - sig) * design.dot(s))

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
    return res.x


def ridge_objective(design: RBDesign, y: np.ndarray, w: np.ndarray, alpha: float) -> float:
    """1/2 ||Z w - y||^2 + alpha/2 ||w||^2."""
    r = design.dot(w) - y
    return 0.5 * float(r @ r) + 0.5 * alpha * float(w @ w)


def _check_alpha(alpha: float) -> None:
    if not np.isfinite(alpha) or alpha <= 0:
        raise ParameterError(f"alpha must be a finite number > 0, got {alpha!r}")


def solve_ridge_bcd(
    design: RBDesign,
    y: np.ndarray,
    alpha: float = 1.0,
    tol: float = 1e-8,
    max_iter: int = 500,
    w0: np.ndarray | None = None,
) -> np.ndarray:
    """Ridge by exact block coordinate descent, one grid at a time (bins in parallel).

    Stops when the largest single-bin step falls below ``tol`` times the largest weight.
    """
    _check_alpha(alpha)
    w = np.zeros(design.n_columns) if w0 is None else w0.astype(np.float64).copy()
    resid = y.astype(np.float64) - design.dot(w)
    ptr, rows = design.csc()
    for _ in range(max_iter):
        step = _kernels.ridge_block_epoch(
            ptr, rows, design.grid_offsets, resid, w, design.value, float(alpha)
        )
        if step <= tol * max(np.abs(w).max(), 1e-12):
            break
    return w


def solve_ridge_cg(
    design: RBDesign,
    y: np.ndarray,
    alpha: float = 1.0,
    tol: float = 1e-10,
    max_iter: int = 500,
    w0: np.ndarray | None = None,
) -> np.ndarray:
    """Ridge by conjugate gradients on (Z^T Z + alpha I) w = Z^T y, as the paper's experiments.

    Preconditioned by the exact diagonal count_b/R + alpha. Stops when the residual norm is
    below ``tol`` times ||Z^T y||.
    """
    _check_alpha(alpha)
    rhs = design.rdot(y.astype(np.float64))
    diag = np.bincount(design.cols.ravel(), minlength=design.n_columns) * design.value**2 + alpha
    w = np.zeros(design.n_columns) if w0 is None else w0.astype(np.float64).copy()
    r = rhs - (design.rdot(design.dot(w)) + alpha * w)
    z = r / diag
    p = z.copy()
    rz = float(r @ z)
    stop = tol * max(np.linalg.norm(rhs), 1e-300)
    for _ in range(max_iter):
        if np.linalg.norm(r) <= stop:
            break
        Ap = design.rdot(design.dot(p)) + alpha * p
        step = rz / float(p @ Ap)
        w += step * p
        r -= step * Ap
        z = r / diag
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return w


def l1_objective(design: RBDesign, y: np.ndarray, w: np.ndarray, C: float, loss: str) -> float:
    """||w||_1 + C sum_i loss(w.z_i, y_i)."""
    m = design.dot(w)
    if loss == "squared":
        total = 0.5 * np.sum((m - y) ** 2)
    elif loss == "squared_hinge":
        total = np.sum(np.maximum(0.0, 1.0 - y * m) ** 2)
    else:
        total = np.sum(np.logaddexp(0.0, -y * m))
    return float(np.abs(w).sum() + C * total)


def solve_l1(
    design: RBDesign,
    y: np.ndarray,
    C: float = 1.0,
    loss: str = "squared_hinge",
    tol: float = 1e-6,
    max_iter: int = 300,
    w0: np.ndarray | None = None,
) -> np.ndarray:
    """L1-regularised loss by the paper's parallel proximal coordinate descent.

    Every epoch sweeps the grids in order; within a grid all bins are updated in parallel
    (their rows are disjoint), which gives exactly the sequential result for any number of
    threads. ``loss`` is "squared" (regression), "squared_hinge" or "logistic".
    """
    _check_C(C)
    if loss not in _CURVATURE:
        raise ParameterError(f"unknown loss {loss!r} for L1; choose one of {sorted(_CURVATURE)}")
    kind, curvature = _CURVATURE[loss]
    w = np.zeros(design.n_columns) if w0 is None else w0.astype(np.float64).copy()
    margins = design.dot(w)
    ptr, rows = design.csc()
    yy = y.astype(np.float64)
    for _ in range(max_iter):
        step = _kernels.l1_prox_epoch(
            ptr,
            rows,
            design.grid_offsets,
            margins,
            yy,
            w,
            design.value,
            float(C),
            kind,
            curvature,
        )
        if step <= tol * max(np.abs(w).max(), 1e-12):
            break
    return w
