"""Re-converging the last linear layer to a stationary point (Yeh et al., 2018, Sec. 3.1).

The representer theorem holds at a stationary point of

    min_Theta (1/n) sum_i CE(t_i, softmax(Theta^T f_i)) + lambda ||Theta||^2,

which a network trained by SGD with dropout and weight decay is not. With the features f
frozen this objective is convex, so it is solved here in float64 by L-BFGS with a strong-Wolfe
line search, warm-started from the given weights, to a gradient small enough that the
decomposition is exact to the reported residual.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from leanml.core import LeanmlError, ParameterError

__all__ = ["HeadFit", "NotConvergedError", "fit_head", "head_gradient"]


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
    iterations : L-BFGS iterations used
    """

    weight: torch.Tensor
    bias: torch.Tensor
    grad_max: float
    grad_max_initial: float
    iterations: int


def _objective(F, T, params, lmbda):
    W = params[0]
    logits = F @ W + params[1] if len(params) == 2 else F @ W
    loss = -(T * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    return loss + lmbda * (W * W).sum()


def head_gradient(F, T, W, b, lmbda) -> list[torch.Tensor]:
    """Gradient of the objective w.r.t. W (and the free bias b, unless ``b`` is None)."""
    params = [p.detach().clone().requires_grad_(True) for p in (W, b) if p is not None]
    _objective(F, T, params, lmbda).backward()
    return [p.grad for p in params]


#: Heads with at most this many parameters get exact Newton steps after L-BFGS.
NEWTON_MAX_PARAMS = 6000
#: ... after at most this many L-BFGS iterations.
LBFGS_BEFORE_NEWTON = 300


def _hessian(F: torch.Tensor, P: torch.Tensor, penalty: torch.Tensor, lmbda: float) -> torch.Tensor:
    """Exact Hessian of the objective over vec(W) (row-major, d x C), closed form.

    H[(a, c), (b, e)] = 1/n sum_i f_ia f_ib (diag(p_i) - p_i p_i^T)[c, e]
                        + 2 lambda [a == b][c == e]   (only on penalised rows a).
    """
    n, d = F.shape
    C = P.shape[1]
    H = torch.zeros(d, C, d, C, dtype=F.dtype)
    for start in range(0, n, 256):
        f, p = F[start : start + 256], P[start : start + 256]
        A = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
        H += torch.einsum("ia,ib,ice->acbe", f, f, A)
    H = H.reshape(d * C, d * C) / n
    H += torch.diag(2.0 * lmbda * penalty.repeat_interleave(C))
    return H


def _newton_polish(F, T, params, lmbda, gtol, max_steps: int = 30) -> tuple[float, int]:
    """Damped Newton on the stacked (W; b) parameters, updating ``params`` in place."""
    free_bias = len(params) == 2
    Fa = torch.cat([F, torch.ones(F.shape[0], 1, dtype=F.dtype)], 1) if free_bias else F
    penalty = torch.ones(Fa.shape[1], dtype=F.dtype)
    if free_bias:
        penalty[-1] = 0.0

    def split(theta):
        return [theta[:-1], theta[-1]] if free_bias else [theta]

    theta = (torch.cat([params[0], params[1][None]]) if free_bias else params[0]).detach().clone()
    gmax, steps = float("inf"), 0
    for steps in range(1, max_steps + 1):  # noqa: B007 (the count is returned)
        t = theta.detach().requires_grad_(True)
        value = _objective(F, T, split(t), lmbda)
        (g,) = torch.autograd.grad(value, t)
        gmax = float(g.abs().max())
        if gmax <= gtol:
            break
        P = torch.softmax(Fa @ theta, dim=1)
        H = _hessian(Fa, P, penalty, lmbda)
        # a free bias makes H singular along the softmax shift; lstsq gives the minimum-norm step
        direction = -torch.linalg.lstsq(H, g.reshape(-1, 1), driver="gelsd").solution.reshape(
            g.shape
        )
        rate, base = 1.0, value.item()
        while rate > 1e-8:
            trial = theta + rate * direction
            if float(_objective(F, T, split(trial), lmbda)) <= base + 1e-4 * rate * float(
                (g * direction).sum()
            ):
                break
            rate *= 0.5
        theta = (theta + rate * direction).detach()
    with torch.no_grad():
        for p, v in zip(params, split(theta), strict=True):
            p.copy_(v)
    return gmax, steps


def fit_head(
    F: torch.Tensor,
    T: torch.Tensor,
    W0: torch.Tensor,
    b0: torch.Tensor | None,
    lmbda: float,
    gtol: float = 1e-9,
    max_iter: int = 5000,
) -> HeadFit:
    """Minimise (1/n) sum CE(T_i, softmax(F_i W [+ b])) + lambda ||W||^2.

    Parameters
    ----------
    F : (n, d) float64 features (with a trailing 1 column when the bias is folded into W)
    T : (n, C) targets: the given model's probabilities, or one-hot labels
    W0 : warm start of W
    b0 : warm start of a free (unpenalised) bias, or None for no separate bias
    lmbda : lambda > 0
    gtol : required max |gradient|
    max_iter : L-BFGS iteration budget

    Raises
    ------
    NotConvergedError
        When max |gradient| > gtol after ``max_iter`` iterations.
    """
    if not lmbda > 0:
        raise ParameterError(f"lmbda must be > 0, got {lmbda}")
    params = [
        p.detach().to(torch.float64).contiguous().clone().requires_grad_(True)
        for p in (W0, b0)
        if p is not None
    ]
    g0 = max(
        float(g.abs().max())
        for g in head_gradient(
            F, T, W0.to(torch.float64), None if b0 is None else b0.to(torch.float64), lmbda
        )
    )
    small = sum(p.numel() for p in params) <= NEWTON_MAX_PARAMS
    opt = torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=min(max_iter, LBFGS_BEFORE_NEWTON) if small else max_iter,
        tolerance_grad=gtol,
        tolerance_change=0.0,
        history_size=50,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        value = _objective(F, T, params, lmbda)
        value.backward()
        return value

    opt.step(closure)
    iterations = int(opt.state[opt._params[0]].get("n_iter", 0))
    grads = head_gradient(F, T, params[0], params[1] if len(params) == 2 else None, lmbda)
    gmax = max(float(g.abs().max()) for g in grads)
    if gmax > gtol and small and iterations < max_iter:
        # near float64 precision L-BFGS can crawl (a free bias leaves softmax's shift
        # direction flat); a few exact Newton steps finish the job on small heads
        gmax, extra = _newton_polish(F, T, params, lmbda, gtol, min(30, max_iter - iterations))
        iterations += extra
    if gmax > gtol:
        raise NotConvergedError(
            f"last layer not stationary after {iterations} L-BFGS iterations: max |grad| = "
            f"{gmax:.3g} > gtol = {gtol:.3g} (initial {g0:.3g}); representer values would not "
            f"decompose the logits. Raise max_iter or lmbda, or loosen gtol"
        )
    bias = params[1].detach() if len(params) == 2 else torch.zeros(W0.shape[1], dtype=torch.float64)
    return HeadFit(params[0].detach(), bias, gmax, g0, iterations)
