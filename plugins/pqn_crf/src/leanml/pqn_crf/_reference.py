"""Plain NumPy references for every Numba kernel, used by the tests (slow, obviously right).

- :func:`log_forward_backward`: one sequence, log space with ``scipy.special.logsumexp``.
- :func:`chain_nll_grad`: the CRF loss and gradients over many sequences from it.
- :func:`viterbi`: max-product in log space.
- :func:`cd_quadratic_l1`: coordinate descent on an explicit dense quadratic model.
- :func:`prox_gradient_step`: the closed form soft(w - g/gamma, lam/gamma) - w.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.special import logsumexp

__all__ = [
    "cd_quadratic_l1",
    "chain_nll_grad",
    "log_forward_backward",
    "prox_gradient_step",
    "soft_threshold",
    "viterbi",
]


def log_forward_backward(U: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """log Z, node marginals (n x K) and summed edge marginals (K x K) of one sequence."""
    n, K = U.shape
    la = np.empty((n, K))
    lb = np.zeros((n, K))
    la[0] = U[0]
    for t in range(1, n):
        la[t] = logsumexp(la[t - 1][:, None] + T, axis=0) + U[t]
    log_z = float(logsumexp(la[-1]))
    for t in range(n - 2, -1, -1):
        lb[t] = logsumexp(T + (U[t + 1] + lb[t + 1])[None, :], axis=1)
    node = np.exp(la + lb - log_z)
    edge = np.zeros((K, K))
    for t in range(n - 1):
        edge += np.exp(la[t][:, None] + T + (U[t + 1] + lb[t + 1])[None, :] - log_z)
    return log_z, node, edge


def chain_nll_grad(
    U: np.ndarray, T: np.ndarray, offsets: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Summed NLL, dNLL/dU (n_tokens x K) and dNLL/dT over all sequences, in log space."""
    total = 0.0
    dU = np.zeros_like(U)
    dT = np.zeros_like(T)
    for s, e in itertools.pairwise(offsets):
        log_z, node, edge = log_forward_backward(U[s:e], T)
        ys = y[s:e]
        score = U[np.arange(s, e), ys].sum() + T[ys[:-1], ys[1:]].sum()
        total += log_z - score
        dU[s:e] = node
        dU[np.arange(s, e), ys] -= 1.0
        dT += edge
        np.add.at(dT, (ys[:-1], ys[1:]), -1.0)
    return total, dU, dT


def viterbi(U: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, float]:
    """Best label sequence and its score for one sequence."""
    n, K = U.shape
    delta = U[0].copy()
    back = np.zeros((n, K), dtype=np.int64)
    for t in range(1, n):
        cand = delta[:, None] + T
        back[t] = np.argmax(cand, axis=0)
        delta = cand[back[t], np.arange(K)] + U[t]
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(np.argmax(delta))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path, float(delta.max())


def soft_threshold(x: np.ndarray, tau: float) -> np.ndarray:
    """sign(x) * max(|x| - tau, 0)."""
    return np.sign(x) * np.maximum(np.abs(x) - tau, 0.0)


def prox_gradient_step(w: np.ndarray, g: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """The direction of a proximal-gradient step with step 1/gamma: d = prox(w - g/γ) - w."""
    return soft_threshold(w - g / gamma, lam / gamma) - w


def cd_quadratic_l1(
    w: np.ndarray, g: np.ndarray, B: np.ndarray, lam: float, passes: int = 500
) -> np.ndarray:
    """Cyclic CD on min_d gᵀd + ½dᵀBd + lam*||w + d||_1 with an explicit dense ``B``."""
    d = np.zeros_like(w)
    for _ in range(passes):
        for i in range(w.size):
            a = B[i, i]
            b = g[i] + B[i] @ d
            c = w[i] + d[i]
            d[i] += soft_threshold(np.array([c - b / a]), lam / a)[0] - c
    return d
