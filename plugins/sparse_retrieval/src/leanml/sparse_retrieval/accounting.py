"""FLOPs accounting of sparse embeddings (Paria et al., Section 3).

With p_j = P(x_j ≠ 0) over the database and q_j over the queries, a query walks on average
N · Σ_j q_j p_j posting entries, so the expected FLOPs per (query, row) pair are
``F = Σ_j q_j p_j`` (``Σ_j p_j²`` when queries and rows share a distribution). For a fixed
mean number of non-zeros s = Σ_j p_j, F is smallest, s²/d, when every p_j = s/d; the
``flops_ratio`` F / (s²/d) >= 1 measures how far the code is from that uniform spread.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from leanml.core import InputError

__all__ = [
    "activation_probability",
    "expected_flops",
    "flops_ratio",
    "flops_stats",
    "unbiased_flops",
]


def _support(X: Any, zero_threshold: float) -> sp.csr_matrix:
    if sp.issparse(X):
        csr = sp.csr_matrix(X)
        csr.sum_duplicates()
        mask = csr.copy()
        mask.data = (np.abs(mask.data) >= zero_threshold).astype(np.float64)
        mask.eliminate_zeros()
        return mask
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2:
        raise InputError(f"embeddings must be 2-d (n x d), got shape {arr.shape}")
    return sp.csr_matrix((np.abs(arr) >= zero_threshold).astype(np.float64))


def activation_probability(X: Any, zero_threshold: float = 1e-8) -> np.ndarray:
    """p_j: fraction of rows with ``|x_j| >= zero_threshold``, per dimension (length d)."""
    mask = _support(X, zero_threshold)
    if mask.shape[0] == 0:
        raise InputError("cannot estimate activation probabilities from zero rows")
    return np.asarray(mask.sum(axis=0)).ravel() / mask.shape[0]


def expected_flops(D: Any, Q: Any = None, zero_threshold: float = 1e-8) -> float:
    """F = Σ_j q_j p_j: expected postings walked per (query, database row) pair.

    ``Q=None`` uses the database as its own query distribution (F = Σ_j p_j²). Multiplying
    by N gives the expected postings touched per query, which the index counts exactly.
    """
    p = activation_probability(D, zero_threshold)
    q = p if Q is None else activation_probability(Q, zero_threshold)
    if q.shape != p.shape:
        raise InputError(f"queries have {q.shape[0]} dimensions, database {p.shape[0]}")
    return float(np.dot(p, q))


def flops_ratio(X: Any, zero_threshold: float = 1e-8) -> float:
    """Σ_j p_j² / (s²/d), s = Σ_j p_j: 1 for a perfectly even spread, larger when skewed."""
    p = activation_probability(X, zero_threshold)
    s = p.sum()
    if s == 0:
        raise InputError("all embeddings are zero: the FLOPs ratio is undefined")
    return float(np.dot(p, p) / (s * s / p.shape[0]))


def unbiased_flops(X: Any, zero_threshold: float = 1e-8) -> float:
    """Σ_j c_j (c_j − 1) / (n (n − 1)), c_j = non-zeros in column j: F without self-pairs
    (the original code's logged estimate)."""
    mask = _support(X, zero_threshold)
    n = mask.shape[0]
    if n < 2:
        raise InputError("the unbiased FLOPs estimate needs at least two rows")
    c = np.asarray(mask.sum(axis=0)).ravel()
    return float(np.dot(c, c - 1) / (n * (n - 1)))


def flops_stats(X: Any, zero_threshold: float = 1e-8) -> dict[str, float]:
    """Per-epoch diagnostics: mean nnz per row, F = Σ p_j², the uniform bound s²/d, the
    ratio of the two, and the number of dead dimensions (p_j = 0)."""
    p = activation_probability(X, zero_threshold)
    s = float(p.sum())
    F = float(np.dot(p, p))
    bound = s * s / p.shape[0]
    return {
        "nnz": s,
        "flops": F,
        "uniform_bound": bound,
        "flops_ratio": F / bound if bound > 0 else float("nan"),
        "dead_dims": int(np.sum(p == 0)),
    }
