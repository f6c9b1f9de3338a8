"""Plain NumPy references for the kernels in :mod:`._kernels` (used by the tests).

:func:`search_reference` does the same float32 accumulation in the same order as the
Numba kernel (posting list by posting list, in increasing dimension), then selects with a
full ``lexsort`` instead of a heap, so ids and scores must agree exactly.
:func:`brute_force_topk` scores with a dense float64 matrix product, independent of the
index layout.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["brute_force_topk", "search_reference", "topk_rows"]


def topk_rows(scores: np.ndarray, k: int, threshold: float = -np.inf):
    """Per row, the k best entries strictly above ``threshold``: best first, ties by id.

    Returns ``(scores float32, ids int64)`` padded with ``-inf`` / ``-1``.
    """
    nq, n = scores.shape
    out_s = np.full((nq, k), -np.inf, dtype=np.float32)
    out_i = np.full((nq, k), -1, dtype=np.int64)
    ids = np.arange(n)
    for q in range(nq):
        row = scores[q]
        keep = row > threshold
        cand_ids, cand_s = ids[keep], row[keep]
        order = np.lexsort((cand_ids, -cand_s))[:k]
        out_s[q, : len(order)] = cand_s[order]
        out_i[q, : len(order)] = cand_ids[order]
    return out_s, out_i


def search_reference(Q: sp.csr_matrix, D: sp.csr_matrix, k: int, threshold: float = -np.inf):
    """Inverted-index scoring in NumPy: ``(scores, ids, postings_touched)``."""
    csc = sp.csc_matrix(D, dtype=np.float32)
    csc.sum_duplicates()
    csc.eliminate_zeros()  # a stored zero is not a posting
    Q = sp.csr_matrix(Q, dtype=np.float32)
    Q.sum_duplicates()
    Q.eliminate_zeros()
    n = D.shape[0]
    acc = np.zeros((Q.shape[0], n), dtype=np.float32)
    touched = np.zeros(Q.shape[0], dtype=np.int64)
    for q in range(Q.shape[0]):
        lo, hi = Q.indptr[q], Q.indptr[q + 1]
        for j, w in zip(Q.indices[lo:hi], Q.data[lo:hi], strict=True):
            a, b = csc.indptr[j], csc.indptr[j + 1]
            touched[q] += b - a
            # rows within one posting list are distinct, so += is a plain scatter-add
            acc[q, csc.indices[a:b]] += np.float32(w) * csc.data[a:b]
    s, i = topk_rows(acc, k, threshold)
    return s, i, touched


def brute_force_topk(Q, D, k: int, threshold: float = -np.inf):
    """Top-k of the dense float64 product ``Q @ D.T`` (ties by id)."""
    Qd = Q.toarray() if sp.issparse(Q) else np.asarray(Q)
    Dd = D.toarray() if sp.issparse(D) else np.asarray(D)
    return topk_rows(Qd.astype(np.float64) @ Dd.astype(np.float64).T, k, threshold)
