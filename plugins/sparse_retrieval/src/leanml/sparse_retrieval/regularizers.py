"""The FLOPs regulariser, its L1 baseline and the quadratic warm-up of their weight.

Notation of Paria et al. (ICLR 2020): a batch of embeddings ``a`` (B x d, the paper's
``f_θ(x_i)``), the per-dimension activation probability ``p_j = P(a_j ≠ 0)`` relaxed to the
batch mean of ``|a_ij|``, and the weight ``λ_t`` of the regulariser at step ``t``.

* FLOPs(a) = Σ_j ( (1/B) Σ_i |a_ij| )²  -- :func:`flops_penalty`
* L1(a)    = (1/B) Σ_i Σ_j |a_ij|       -- :func:`l1_penalty`
* λ_t = λ · min(1, (t/T)²)               -- :class:`QuadraticWarmup`
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from leanml.core import InputError, ParameterError

__all__ = [
    "FLOPsRegularizer",
    "L1Regularizer",
    "QuadraticWarmup",
    "flops_penalty",
    "l1_penalty",
]


def _check_batch(a: torch.Tensor) -> None:
    if a.ndim != 2:
        raise InputError(f"embeddings must be a 2-d batch (B x d), got shape {tuple(a.shape)}")
    if a.shape[0] == 0:
        raise InputError("cannot regularise an empty batch")


def flops_penalty(a: torch.Tensor) -> torch.Tensor:
    """The FLOPs regulariser Σ_j (mean_i |a_ij|)².

    Parameters
    ----------
    a
        Batch of embeddings, B x d (the paper's f_θ(x_i) for i in the batch).

    Returns
    -------
    torch.Tensor
        A scalar. ``|a|`` is used (not ``a``), so signed soft-threshold codes are handled.
    """
    _check_batch(a)
    return (a.abs().mean(dim=0) ** 2).sum()


def l1_penalty(a: torch.Tensor) -> torch.Tensor:
    """The L1 baseline (1/B) Σ_i Σ_j |a_ij| (mean over the batch of each row's L1 norm)."""
    _check_batch(a)
    return a.abs().sum(dim=1).mean()


class QuadraticWarmup:
    """The "dynamic_4" schedule of the original code: λ_t = λ · min(1, (t/T)²).

    Parameters
    ----------
    lam
        Final weight λ (>= 0).
    warmup_steps
        T > 0, the step at which λ_t reaches λ. Starting at 0 avoids killing dimensions
        before the task loss has shaped them.
    """

    def __init__(self, lam: float, warmup_steps: int) -> None:
        if not lam >= 0 or not torch.isfinite(torch.tensor(float(lam))):
            raise ParameterError(f"lam must be a finite number >= 0, got {lam}")
        if int(warmup_steps) != warmup_steps or warmup_steps <= 0:
            raise ParameterError(f"warmup_steps must be an integer > 0, got {warmup_steps}")
        self.lam = float(lam)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step: int) -> float:
        """λ_t at step ``t`` (``t >= 0``)."""
        if step < 0:
            raise ParameterError(f"step must be >= 0, got {step}")
        frac = min(1.0, step / self.warmup_steps)
        return self.lam * frac * frac

    def __repr__(self) -> str:
        return f"QuadraticWarmup(lam={self.lam}, warmup_steps={self.warmup_steps})"


class _Regularizer(nn.Module):
    """Shared logic: λ_q·R(query batch) + λ_d·R(database batch)."""

    penalty = staticmethod(flops_penalty)

    def __init__(self, lam_query: float = 1.0, lam_db: float | None = None) -> None:
        super().__init__()
        lam_db = lam_query if lam_db is None else lam_db
        for name, value in (("lam_query", lam_query), ("lam_db", lam_db)):
            if not value >= 0:
                raise ParameterError(f"{name} must be >= 0, got {value}")
        self.lam_query = float(lam_query)
        self.lam_db = float(lam_db)

    def forward(
        self, query: torch.Tensor, database: torch.Tensor | None = None, scale: float = 1.0
    ) -> torch.Tensor:
        """``scale · (λ_q R(query) + λ_d R(database))``; ``database=None`` means the
        same batch serves as both (symmetric retrieval, as in the paper's face setting):
        ``scale · λ_q R(query)``.

        ``scale`` is the schedule's factor min(1, (t/T)²) (pass ``QuadraticWarmup`` with
        ``lam=1``), so separate query/database weights share one warm-up.
        """
        if query.ndim == 2 and query.shape[0] == 1:
            warnings.warn(
                "batch size 1: the batch estimate of p_j is the row itself, so the FLOPs "
                "penalty degenerates to the squared L1 norm; use batches of >= 32 rows",
                stacklevel=2,
            )
        out = self.lam_query * self.penalty(query)
        if database is not None:
            out = out + self.lam_db * self.penalty(database)
        return scale * out


class FLOPsRegularizer(_Regularizer):
    """FLOPs regulariser as a module, with separate query and database weights.

    Parameters
    ----------
    lam_query
        λ_q, weight on the query-side batch.
    lam_db
        λ_d, weight on the database-side batch (defaults to ``lam_query``).

    Notes
    -----
    Apply it to the L2-normalised embedding (as the paper does): before normalisation the
    network can meet the penalty by shrinking the norm instead of creating zeros.
    """

    penalty = staticmethod(flops_penalty)


class L1Regularizer(_Regularizer):
    """L1 baseline regulariser with separate query and database weights (see
    :class:`FLOPsRegularizer`)."""

    penalty = staticmethod(l1_penalty)
