"""Re-converging the last linear layer to a stationary point (Yeh et al., 2018, Sec. 3.1).

The representer theorem holds at a stationary point of

    min_Theta (1/n) sum_i CE(t_i, softmax(Theta^T f_i)) + lambda ||Theta||^2,

which a network trained by SGD with dropout and weight decay is not. With the features f
frozen this objective is smooth and strongly convex in the penalised weights, so it is solved
here in float64 by a truncated Newton method (the TRON / newton-cg family): each step solves
H d = -g by preconditioned conjugate gradients using closed-form Hessian-vector products
(O(n d C) each). The preconditioner is the exact Hessian at the warm start or its diagonal,
whichever the cost model :func:`exact_preconditioner_pays` says is cheaper. Warm-started from the
given weights it converges quadratically to a gradient small enough that the decomposition is
exact to the reported residual.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from leanml.core import LeanmlError, ParameterError

__all__ = [
    "HeadFit",
    "NotConvergedError",
    "data_hessian",
    "exact_preconditioner_pays",
    "fit_head",
    "head_gradient",
    "head_hessian",
]

#: Cost model of the preconditioner choice, in units of n * p multiply-adds (p parameters):
#: forming and factorising the exact Hessian costs p + p^2 / (3n); Jacobi costs the extra CG
#: iterations the exact one saves, measured at 130-280 Hessian-vector products on digits heads
#: (p = 330, 1290). Timed on one thread (n = 5388): exact 0.27 s vs Jacobi 1.37 s at p = 330,
#: 2.8 s vs 5.1 s at p = 1290, 16.1 s vs 9.0 s at p = 2570; the crossover p ~ 1800 is this
#: constant.
EXACT_PRECONDITIONER_BREAK_EVEN = 1800
#: ... and the exact preconditioner's temporaries (n x p float32 plus p x p) must fit here.
EXACT_PRECONDITIONER_MAX_BYTES = 512 * 2**20


def exact_preconditioner_pays(n: int, p: int) -> bool:
    """Whether the exact warm-start Hessian is the cheaper preconditioner for n rows, p params."""
    cost = p + p * p / (3.0 * n)
    memory = 4 * n * p + 20 * p * p  # G (float32), H in float32 and float64, its factor
    return cost <= EXACT_PRECONDITIONER_BREAK_EVEN and memory <= EXACT_PRECONDITIONER_MAX_BYTES


class NotConvergedError(LeanmlError):
    """The last layer did not reach a stationary point: its representer values are not exact."""


@dataclass
class HeadFit:
    """A stationary last layer and how stationary it is.

    Attributes
    ----------
    weight : (d, C) float64 tensor, Theta_1 (features x classes)
    bias : (C,) float64 tensor (zeros when the bias is folded into the features)
    grad_max : max |gradient| at the solution
    grad_max_initial : max |gradient| at the warm start
    iterations : Newton iterations used
    cg_iterations : conjugate-gradient iterations (Hessian-vector products) used
    """

    weight: torch.Tensor
    bias: torch.Tensor
    grad_max: float
    grad_max_initial: float
    iterations: int
    cg_iterations: int = 0


class _Head:
    """Objective, gradient and Hessian-vector products of the L2-regularised softmax head.

    Parameters are ``(W, b)`` with ``b`` None when there is no separate (free) bias.
    """

    def __init__(self, F: torch.Tensor, T: torch.Tensor, lmbda: float, free_bias: bool):
        self.F, self.T, self.lmbda, self.free_bias = F, T, lmbda, free_bias
        self.n = F.shape[0]

    def logits(self, W: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        Z = self.F @ W
        return Z + b if b is not None else Z

    def value(self, W: torch.Tensor, b: torch.Tensor | None) -> float:
        logP = torch.log_softmax(self.logits(W, b), dim=1)
        return float(-(self.T * logP).sum() / self.n + self.lmbda * (W * W).sum())

    def value_grad(self, W, b):
        """(objective, gradient over W, gradient over b or None, softmax probabilities)."""
        logP = torch.log_softmax(self.logits(W, b), dim=1)
        value = float(-(self.T * logP).sum() / self.n + self.lmbda * (W * W).sum())
        P = logP.exp()
        R = (P - self.T) / self.n
        gW = self.F.T @ R + 2.0 * self.lmbda * W
        gb = R.sum(0) if self.free_bias else None
        return value, gW, gb, P

    def hessp(self, P, VW, Vb):
        """H v at the point with probabilities P: the softmax Jacobian applied row by row."""
        U = self.F @ VW
        if Vb is not None:
            U = U + Vb
        JU = P * (U - (P * U).sum(1, keepdim=True)) / self.n
        HW = self.F.T @ JU + 2.0 * self.lmbda * VW
        return HW, (JU.sum(0) if Vb is not None else None)

    def hess_diag(self, P):
        """diag(H), the Jacobi preconditioner."""
        S = P * (1.0 - P) / self.n
        dW = (self.F * self.F).T @ S + 2.0 * self.lmbda
        return dW, (S.sum(0) if self.free_bias else None)


def head_hessian(F: torch.Tensor, P: torch.Tensor, lmbda: float) -> torch.Tensor:
    """Exact Hessian of the head objective over vec(W) (row-major, d x C), by two GEMMs.

    H[(a, c), (b, e)] = 1/n sum_i f_ia f_ib (p_ic [c == e] - p_ic p_ie) + 2 lambda [a == b][c == e]
    """
    n, d = F.shape
    C = P.shape[1]
    G = (F[:, :, None] * P[:, None, :]).reshape(n, d * C)  # G[i, (a, c)] = f_ia p_ic
    H = -(G.T @ G)
    D = (F.T @ G).reshape(d, d, C)  # D[a, b, c] = sum_i f_ia f_ib p_ic
    H.view(d, C, d, C).diagonal(dim1=1, dim2=3).add_(D)
    H /= n
    H.diagonal().add_(2.0 * lmbda)
    return H


def _dot(a, b) -> float:
    return sum(float((x * y).sum()) for x, y in zip(a, b, strict=True) if x is not None)


def _axpy(alpha: float, x, y):
    return [None if xi is None else yi + alpha * xi for xi, yi in zip(x, y, strict=True)]


def _cg(head: _Head, P, g, precondition, rtol: float, max_iter: int):
    """Preconditioned CG for H d = -g, to ||r|| <= rtol ||g||. Returns (d, iterations)."""
    d = [torch.zeros_like(gi) if gi is not None else None for gi in g]
    r = [None if gi is None else -gi for gi in g]
    z = precondition(r)
    p = list(z)
    rz = _dot(r, z)
    stop = rtol * _dot(g, g) ** 0.5
    for it in range(1, max_iter + 1):
        Hp = head.hessp(P, *p)
        pHp = _dot(p, Hp)
        if pHp <= 0:  # only possible through rounding: H is positive (semi)definite
            return d, it
        step = rz / pHp
        d = _axpy(step, p, d)
        r = _axpy(-step, Hp, r)
        if _dot(r, r) ** 0.5 <= stop:
            return d, it
        z = precondition(r)
        rz_new = _dot(r, z)
        p = _axpy(rz_new / rz, p, z)
        rz = rz_new
    return d, max_iter


def _jacobi(head: _Head, P):
    diag = head.hess_diag(P)
    return lambda r: [None if ri is None else ri / di for ri, di in zip(r, diag, strict=True)]


def data_hessian(F: torch.Tensor, P: torch.Tensor, free_bias: bool) -> torch.Tensor:
    """The data part of the Hessian (no lambda), over the stacked (W; b) parameters, float64.

    Formed in float32: that halves the O(n d^2 C^2) GEMM, and a preconditioner needs no more
    digits (CG runs on exact float64 products). A free bias is the weight of a constant
    feature here.
    """
    F = _with_bias_column(F, free_bias)
    return head_hessian(F.to(torch.float32), P.to(torch.float32), 0.0).to(torch.float64)


def _with_bias_column(F: torch.Tensor, free_bias: bool) -> torch.Tensor:
    """F with a trailing constant 1 column when the bias is a separate (free) parameter."""
    if not free_bias:
        return F
    return torch.cat([F, torch.ones(F.shape[0], 1, dtype=F.dtype)], 1)


def _exact_preconditioner(head: _Head, P, shape_W, hessian: torch.Tensor | None = None):
    """Cholesky of (data Hessian + 2 lambda I) over the stacked (W; b) parameters.

    ``hessian`` is a data Hessian formed elsewhere (:func:`data_hessian`, e.g. once for a
    whole lambda path); None forms it at the warm start. A free bias leaves the Hessian
    singular along softmax's shift direction; the penalty on every row makes the
    preconditioner positive definite without changing which systems CG can solve. At
    lambda ~ 1e-6 float32 rounding can hide that 2 lambda eigenvalue: then the Hessian is
    formed again in float64 at this point, and failing that Jacobi is used.
    """
    H = data_hessian(head.F, P, head.free_bias) if hessian is None else hessian
    L, info = torch.linalg.cholesky_ex(H + 2.0 * head.lmbda * torch.eye(H.shape[0]))
    if info != 0:
        F = _with_bias_column(head.F, head.free_bias)
        L, info = torch.linalg.cholesky_ex(head_hessian(F, P, head.lmbda))
    if info != 0:
        return _jacobi(head, P)
    d, _C = shape_W

    def apply(r):
        stacked = torch.cat([r[0], r[1][None]]) if head.free_bias else r[0]
        z = torch.cholesky_solve(stacked.reshape(-1, 1), L).reshape(stacked.shape)
        return [z[:d], z[d]] if head.free_bias else [z, None]

    return apply


def _gmax(gW, gb) -> float:
    return max(float(gW.abs().max()), float(gb.abs().max()) if gb is not None else 0.0)


def head_gradient(F, T, W, b, lmbda) -> list[torch.Tensor]:
    """Gradient of the objective w.r.t. W (and the free bias b, unless ``b`` is None)."""
    _, gW, gb, _ = _Head(F, T, lmbda, b is not None).value_grad(W, b)
    return [gW] if gb is None else [gW, gb]


def fit_head(
    F: torch.Tensor,
    T: torch.Tensor,
    W0: torch.Tensor,
    b0: torch.Tensor | None,
    lmbda: float,
    gtol: float = 1e-10,
    max_iter: int = 100,
    hessian: torch.Tensor | None = None,
) -> HeadFit:
    """Minimise (1/n) sum CE(T_i, softmax(F_i W [+ b])) + lambda ||W||^2 by truncated Newton.

    Parameters
    ----------
    F : (n, d) float64 features (with a trailing 1 column when the bias is folded into W)
    T : (n, C) targets: the given model's probabilities, or one-hot labels (rows sum to 1)
    W0 : warm start of W
    b0 : warm start of a free (unpenalised) bias, or None for no separate bias
    lmbda : lambda > 0
    gtol : required max |gradient|
    max_iter : Newton iteration budget
    hessian : a data Hessian (:func:`data_hessian`) to precondition with instead of forming
        the one at the warm start; ignored where Jacobi is the cheaper preconditioner

    Raises
    ------
    NotConvergedError
        When max |gradient| > gtol after ``max_iter`` Newton iterations, or when no step
        decreases the objective or the gradient any more.
    """
    if not lmbda > 0:
        raise ParameterError(f"lmbda must be > 0, got {lmbda}")
    if max_iter < 0:
        raise ParameterError(f"max_iter must be >= 0, got {max_iter}")
    F, T = F.to(torch.float64), T.to(torch.float64)
    W = W0.detach().to(torch.float64).clone()
    b = None if b0 is None else b0.detach().to(torch.float64).clone()
    head = _Head(F, T, lmbda, b is not None)
    value, gW, gb, P = head.value_grad(W, b)
    g0 = gmax = _gmax(gW, gb)
    iterations = cg_total = 0
    n_params = W.numel() + (0 if b is None else b.numel())
    if gmax > gtol and max_iter > 0:
        # the warm start is close to the optimum, so its exact Hessian stays a good
        # preconditioner throughout: a few CG iterations per Newton step instead of dozens
        if exact_preconditioner_pays(F.shape[0], n_params):
            precondition = _exact_preconditioner(head, P, W.shape, hessian)
        else:
            precondition = _jacobi(head, P)
    while gmax > gtol and iterations < max_iter:
        iterations += 1
        gnorm = _dot([gW, gb], [gW, gb]) ** 0.5
        # forcing term min(0.5, sqrt(||g||)): superlinear convergence (Eisenstat-Walker)
        (dW, db), cg_its = _cg(
            head, P, [gW, gb], precondition, min(0.5, gnorm**0.5), max(50, n_params)
        )
        cg_total += cg_its
        slope = _dot([gW, gb], [dW, db])
        rate = 1.0
        while True:
            W_new = W + rate * dW
            b_new = None if b is None else b + rate * db
            v_new, gW_new, gb_new, P_new = head.value_grad(W_new, b_new)
            if v_new <= value + 1e-4 * rate * slope:
                break
            # near the optimum the objective change drops below float64 resolution; a full
            # Newton step that shrinks the gradient is then still progress
            if (
                rate == 1.0
                and _gmax(gW_new, gb_new) < 0.5 * gmax
                and abs(slope) < 1e-12 * (1.0 + abs(value))
            ):
                break
            rate *= 0.5
            if rate < 1e-10:
                raise NotConvergedError(
                    f"last layer not stationary: the line search cannot progress after "
                    f"{iterations} Newton iterations, max |grad| = {gmax:.3g} > gtol = "
                    f"{gtol:.3g}; loosen gtol or raise lmbda"
                )
        W, b, value, gW, gb, P = W_new, b_new, v_new, gW_new, gb_new, P_new
        gmax = _gmax(gW, gb)
    if gmax > gtol:
        raise NotConvergedError(
            f"last layer not stationary after {iterations} Newton iterations: max |grad| = "
            f"{gmax:.3g} > gtol = {gtol:.3g} (initial {g0:.3g}); representer values would not "
            f"decompose the logits. Raise max_iter or lmbda, or loosen gtol"
        )
    bias = b if b is not None else torch.zeros(W.shape[1], dtype=torch.float64)
    return HeadFit(W, bias, gmax, g0, iterations, cg_total)
