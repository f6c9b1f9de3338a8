"""RPS-LJE: representer points by a local Jacobian expansion (Sui, Wu, Sanner, NeurIPS 2021).

Instead of re-training the last layer to a stationary point, LJE perturbs the trained weights
Theta by one gradient-ascent step on the mean training loss, Theta' = Theta + step * grad L,
and expands the *unregularised* mean loss L(W) = (1/n) sum_i CE(y_i, softmax(W^T f_i)) to
second order there. One Newton step, damped by a small multiple of the identity (the
softmax loss is flat along adding one vector to every column, so its Hessian is singular),
gives

    Theta_N = Theta' - (H + mu I)^-1 grad L(Theta') = sum_i Theta_i,
    Theta_i = (1/n) [Theta' - (H + mu I)^-1 g_i],   g_i = f_i (p_i - y_i)^T,

the authors' alpha_i = Theta/n - (1/n) H^-1 dL_i/dTheta. Training point i contributes
Theta_i[:, c]^T f_t to the logit c of test point t, and the contributions sum exactly to
Theta_N^T f_t: a decomposition of a one-step approximation of the trained head rather than of
a re-fitted one. The bias is a weight on a constant feature (the caller folds it in).

Scoring never forms the n x d x C weights: with U = H^-1 vec(f_t e_c^T) (one solve per test
point), f_i^T (H^-1 g_i)[:, c] = f_i^T U (p_i - y_i), one GEMM per chunk of training rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from leanml.core import ParameterError

from .head import head_hessian

__all__ = ["LJEExpansion", "lje_expand", "lje_point_weights", "lje_scores"]

#: Heads up to this many parameters (d x C) get their Hessian factorised (p^2 doubles).
MAX_PARAMS = 20_000


@dataclass
class LJEExpansion:
    """The second-order expansion of the head objective around the perturbed weights.

    Attributes
    ----------
    perturbed : (d, C) Theta', the trained weights after one ascent step
    weight : (d, C) Theta_N, one Newton step from Theta' (what the contributions sum to)
    common : (d, C) the part every Theta_i shares, Theta' / n
    residual : (n, C) p_i - y_i at Theta' (so g_i = f_i residual_i^T)
    cholesky : (dC, dC) lower Cholesky factor of H(Theta') + mu I
    n : number of training points
    """

    perturbed: torch.Tensor
    weight: torch.Tensor
    common: torch.Tensor
    residual: torch.Tensor
    cholesky: torch.Tensor
    n: int

    def solve(self, M: torch.Tensor) -> torch.Tensor:
        """H^-1 applied to each row of M (rows are vec of d x C matrices, row-major)."""
        return torch.cholesky_solve(M.T, self.cholesky).T


def lje_expand(
    F: torch.Tensor, Y: torch.Tensor, W: torch.Tensor, damping: float, step: float
) -> LJEExpansion:
    """Expand the mean training loss around the trained weights perturbed by ``step``.

    Parameters
    ----------
    F : (n, d) float64 training features (bias folded in as a constant column)
    Y : (n, C) one-hot labels
    W : (d, C) trained weights (bias as the last row)
    damping : mu > 0 added to the Hessian's diagonal (keeps it positive definite)
    step : gradient-ascent step on the mean loss (the authors use 1e-2); 0 expands at W
    """
    if not damping > 0:
        raise ParameterError(f"lje_damping must be > 0, got {damping}")
    if not step >= 0:
        raise ParameterError(f"lje_step must be >= 0, got {step}")
    n, d = F.shape
    C = Y.shape[1]
    if d * C > MAX_PARAMS:
        raise ParameterError(
            f"method='lje' factorises the {d * C} x {d * C} head Hessian; heads above "
            f"{MAX_PARAMS} parameters need method='l2'"
        )
    P = torch.softmax(F @ W, dim=1)
    perturbed = W + step * (F.T @ (P - Y)) / n
    P = torch.softmax(F @ perturbed, dim=1)
    residual = P - Y
    # head_hessian adds 2 lambda I for a penalty lambda ||W||^2: lambda = mu / 2 adds mu I
    L = torch.linalg.cholesky(head_hessian(F, P, damping / 2.0))
    exp = LJEExpansion(perturbed, perturbed, perturbed / n, residual, L, n)
    grad_L = (F.T @ residual) / n
    exp.weight = perturbed - exp.solve(grad_L.reshape(1, -1)).reshape(d, C)
    return exp


def lje_point_weights(
    exp: LJEExpansion, F_rows: torch.Tensor, R_rows: torch.Tensor
) -> torch.Tensor:
    """(m, d, C) Theta_i of the given training rows (features, residuals)."""
    m, d = F_rows.shape
    C = R_rows.shape[1]
    G = (F_rows[:, :, None] * R_rows[:, None, :]).reshape(m, d * C)
    return exp.common[None] - exp.solve(G).reshape(m, d, C) / exp.n


def lje_test_directions(exp: LJEExpansion, F_test: torch.Tensor, target: torch.Tensor):
    """(B, d, C) U_b = H^-1 vec(f_b e_{c_b}^T), and (B,) the shared part common[:, c_b]^T f_b."""
    B, d = F_test.shape
    C = exp.residual.shape[1]
    E = torch.zeros(B, d, C, dtype=F_test.dtype)
    E[torch.arange(B), :, target] = F_test
    U = exp.solve(E.reshape(B, d * C)).reshape(B, d, C)
    return U, (F_test * exp.common[:, target].T).sum(dim=1)


def lje_scores(
    exp: LJEExpansion, U: torch.Tensor, shared: torch.Tensor, F_chunk: torch.Tensor, R_chunk
) -> torch.Tensor:
    """(B, m) contributions Theta_i[:, c_b]^T f_b of a chunk of training rows."""
    B, d, C = U.shape
    M = (F_chunk @ U.permute(1, 0, 2).reshape(d, B * C)).reshape(-1, B, C)
    return shared[:, None] - torch.einsum("mbc,mc->bm", M, R_chunk) / exp.n
