"""Shared metrics, implemented once for every plugin.

Each takes ``(y_true, y_out)`` and returns a float. They are registered under the names in
:data:`SHARED_METRICS` by the core plugin.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError

__all__ = [
    "accuracy",
    "log_loss",
    "macro_f1",
    "pearson",
    "recall_at_k",
    "rmse",
    "spearman",
]


def _pair(y_true: Any, y_out: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(y_true), np.asarray(y_out)
    if a.shape[0] != b.shape[0]:
        raise InputError(f"y_true has {a.shape[0]} rows but predictions have {b.shape[0]}")
    if a.shape[0] == 0:
        raise InputError("cannot score an empty set of predictions")
    return a, b


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of exactly matching labels."""
    a, b = _pair(y_true, y_pred)
    return float(np.mean(a == b))


def macro_f1(y_true: Any, y_pred: Any) -> float:
    """Unweighted mean over classes (union of true and predicted) of per-class F1."""
    a, b = _pair(y_true, y_pred)
    scores = []
    for cls in np.union1d(a, b):
        tp = np.sum((a == cls) & (b == cls))
        denom = np.sum(a == cls) + np.sum(b == cls)
        scores.append(2.0 * tp / denom if denom else 0.0)
    return float(np.mean(scores))


def log_loss(y_true: Any, proba: Any, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood of integer labels ``0..C-1`` under ``proba`` (n x C)."""
    a, p = _pair(y_true, proba)
    p = np.atleast_2d(p.astype(float))
    if p.ndim != 2 or np.any(a < 0) or np.any(a >= p.shape[1]):
        raise InputError("log_loss needs integer labels 0..C-1 and an n x C probability matrix")
    picked = np.clip(p[np.arange(len(a)), a.astype(int)], eps, 1.0)
    return float(-np.mean(np.log(picked)))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error."""
    a, b = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((a.astype(float) - b.astype(float)) ** 2)))


def recall_at_k(relevant: Any, ranked: Any, k: int = 10) -> float:
    """Mean over queries of |relevant ∩ top-k retrieved| / |relevant|.

    Parameters
    ----------
    relevant
        Per query, the ids of the relevant items (a sequence of sequences, or an int array
        with one relevant id per query).
    ranked
        Per query, retrieved ids best first (n_queries x >= k).
    k
        Cut-off.
    """
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    ranked = np.asarray(ranked)
    if len(relevant) != ranked.shape[0] or ranked.shape[0] == 0:
        raise InputError("relevant and ranked must have the same, non-zero number of queries")
    total = 0.0
    for rel, row in zip(relevant, ranked, strict=True):
        rel_set = set(np.atleast_1d(rel).tolist())
        if not rel_set:
            raise InputError("a query has no relevant items")
        total += len(rel_set.intersection(row[:k].tolist())) / len(rel_set)
    return total / ranked.shape[0]


def pearson(x: Any, y: Any) -> float:
    """Pearson correlation coefficient."""
    a, b = _pair(x, y)
    a, b = a.astype(float), b.astype(float)
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt(np.dot(a, a) * np.dot(b, b))
    if denom == 0:
        raise InputError("Pearson correlation is undefined for a constant input")
    return float(np.dot(a, b) / denom)


def spearman(x: Any, y: Any) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    a, b = _pair(x, y)
    from scipy.stats import rankdata  # scipy.stats costs ~0.3 s to import; only here

    return pearson(rankdata(a), rankdata(b))
