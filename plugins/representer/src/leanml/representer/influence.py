"""Baselines on the same convex last layer: exact influence, TracIn-last, loss.

For the softmax head with parameters theta = vec(W) (features with a trailing 1 when the
bias is folded in), the per-example gradient is g_i = f_i (x) (p_i - t_i) and the Hessian of
(1/n) sum CE + lambda ||W||^2 is H = 1/n sum_i (f_i f_i^T) (x) (diag p_i - p_i p_i^T) + 2 lambda I.
Koh & Liang's influence of training point i on test loss t is -g_t^T H^{-1} g_i; its
self-influence g_i^T H^{-1} g_i ranks suspicious labels.
"""

from __future__ import annotations

import torch

from .head import head_hessian

__all__ = ["example_gradients", "influence_on_test", "self_influence", "tracin_last"]


def example_gradients(F: torch.Tensor, P: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """(n, d*C) per-example gradients of CE w.r.t. vec(W): f_i (x) (p_i - t_i)."""
    return (F[:, :, None] * (P - T)[:, None, :]).reshape(F.shape[0], -1)


def _hessian_inverse_times(F, P, lmbda, G):
    H = head_hessian(F, P, lmbda)
    return torch.linalg.solve(H, G.T).T


def self_influence(F: torch.Tensor, P: torch.Tensor, T: torch.Tensor, lmbda: float) -> torch.Tensor:
    """g_i^T H^{-1} g_i for every training point (exact; the Hessian is (dC)^2)."""
    G = example_gradients(F, P, T)
    return (G * _hessian_inverse_times(F, P, lmbda, G)).sum(dim=1)


def influence_on_test(
    F: torch.Tensor,
    P: torch.Tensor,
    T: torch.Tensor,
    lmbda: float,
    f_test: torch.Tensor,
    p_test: torch.Tensor,
    t_test: torch.Tensor,
) -> torch.Tensor:
    """(B, n) influence -g_test^T H^{-1} g_i of up-weighting each training point."""
    G = example_gradients(F, P, T)
    g_test = example_gradients(f_test, p_test, t_test)
    return -g_test @ _hessian_inverse_times(F, P, lmbda, G).T


def tracin_last(F: torch.Tensor, P: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """TracIn self-influence on the last layer at one checkpoint: ||g_i||^2."""
    return (F * F).sum(1) * ((P - T) ** 2).sum(1)
