"""The fully-corrective step of Latent Feature Lasso over the active atoms.

With centred atoms Zbar (N x K, an unpenalised intercept eliminated), weights c >= 0 and
Zc = Zbar diag(sqrt(c)), the smooth part is

    f(c) = min_W (1/2N) ||X - Zc W||^2 + (tau/2) ||W||^2,
    W(c) = (Zc'Zc + N tau I)^-1 Zc'X,    df/dc_j = -||A' zbar_j||^2 / (2 N^2 tau),

with A = X - Zc W(c) (LFL eq. 12 in the sqrt(c) form, which never divides by c = 0).
Everything is computed from G = Zbar'Zbar (K x K), B = Zbar'X (K x D) and ||X||^2, so one
evaluation costs O(K^2 D + K^3) and never touches the N rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Gram", "prox_gradient", "smooth_part"]


@dataclass
class Gram:
    """Sufficient statistics of the active set: G = Zbar'Zbar, B = Zbar'X, xx = ||X||^2."""

    G: np.ndarray
    B: np.ndarray
    xx: float
    N: int


def smooth_part(gram: Gram, c: np.ndarray, tau: float) -> tuple[float, np.ndarray, np.ndarray]:
    """f(c), its gradient and W(c) (K x D)."""
    G, B, N = gram.G, gram.B, gram.N
    K = len(c)
    if K == 0:
        return gram.xx / (2 * N), np.zeros(0), np.zeros((0, B.shape[1]))
    sc = np.sqrt(c)
    Gc = G * np.outer(sc, sc)
    Bc = sc[:, None] * B
    W = np.linalg.solve(Gc + N * tau * np.eye(K), Bc)
    rss = gram.xx - 2.0 * np.sum(W * Bc) + np.sum(W * (Gc @ W))
    f = max(rss, 0.0) / (2 * N) + 0.5 * tau * np.sum(W * W)
    R = B - (G * sc[None, :]) @ W  # row j: A' zbar_j
    grad = -np.sum(R * R, axis=1) / (2.0 * N * N * tau)
    return float(f), grad, W


def prox_gradient(
    gram: Gram,
    c: np.ndarray,
    lam: float,
    tau: float,
    max_iter: int = 100,
    tol: float = 1e-9,
    step: float = 1.0,
) -> tuple[np.ndarray, float, float, int]:
    """Projected (proximal) gradient on F(c) = f(c) + lam * sum(c), c >= 0, backtracked.

    Each accepted step satisfies the sufficient-decrease condition
    f(c+) <= f(c) + g'(c+ - c) + ||c+ - c||^2 / (2 step), so F never increases. The step
    doubles after each acceptance and halves on each rejection.

    Returns
    -------
    c, F, step, iterations
    """
    f, g, _ = smooth_part(gram, c, tau)
    F = f + lam * c.sum()
    it = 0
    for it in range(1, max_iter + 1):
        while True:
            c_new = np.maximum(0.0, c - step * (g + lam))
            d = c_new - c
            if not np.any(d):
                return c, F, step, it
            f_new, g_new, _ = smooth_part(gram, c_new, tau)
            if f_new <= f + g @ d + (d @ d) / (2.0 * step) + 1e-15 * abs(f):
                break
            step *= 0.5
            if step < 1e-30:
                return c, F, step, it
        F_new = f_new + lam * c_new.sum()
        if F_new > F:  # rounding noise near convergence: keep the monotone iterate
            return c, F, step, it
        done = F - F_new <= tol * max(abs(F), 1e-300)
        c, f, g, F = c_new, f_new, g_new, F_new
        step *= 2.0
        if done:
            break
    return c, F, step, it
