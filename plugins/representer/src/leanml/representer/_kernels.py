"""The scoring hot loop: signed representer contributions with a running top-k.

For test features f_b (B x d) explained for classes c_b, training point i contributes
S[b, i] = alpha[i, c_b] * <f_i, f_b>. The n x B score matrix is formed one chunk of training
rows at a time (one GEMM each) and reduced to a running top-k in both directions, so memory
is O(chunk * B), never O(n * B * C).

The reduction after each GEMM is one Numba pass (:func:`_scan_chunk`): it scales by alpha,
sums in float64 and keeps both top-k lists in a single read of the chunk's scores, where
separate torch operations (scale, sum, two ``topk``) read the scores four times and cost as
much as the GEMM itself. The pass is serial on purpose: it costs about a tenth of the GEMM,
and a parallel one (Numba's thread pool taking turns with torch's after every GEMM, each
spinning while the other works) made the whole loop 1.5-4x slower on 2 cores.
"""

from __future__ import annotations

from collections.abc import Iterable

import numba
import numpy as np
import torch

__all__ = ["running_topk", "stream_topk", "topk_reference"]


def running_topk(
    score_chunks: Iterable[tuple[int, torch.Tensor]], k: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reduce (B, m) score blocks, given in training-row order, to a running top-k.

    Parameters
    ----------
    score_chunks : ``(start, scores (B, m))``: the contributions of training rows
        ``start .. start + m`` to each of the B test points
    k : how many points each way

    Returns
    -------
    exc_scores, exc_index, inh_scores, inh_index : (B, k) each; inhibitory scores ascending
    total : (B,) float64 sum of every contribution
    """
    state = None
    for start, scores in score_chunks:
        B = scores.shape[0]
        if state is None:
            state = [
                torch.full((B, 0), float("-inf"), dtype=scores.dtype),
                torch.empty((B, 0), dtype=torch.long),
                torch.full((B, 0), float("inf"), dtype=scores.dtype),
                torch.empty((B, 0), dtype=torch.long),
                torch.zeros(B, dtype=torch.float64),  # the logit sum: float64 whatever scores
            ]
        exc_s, exc_i, inh_s, inh_i, total = state
        total += scores.sum(dim=1, dtype=torch.float64)
        idx = torch.arange(start, start + scores.shape[1]).expand(B, -1)
        kk = min(k, scores.shape[1])
        top = torch.topk(scores, kk, dim=1)
        low = torch.topk(scores, kk, dim=1, largest=False)
        exc_s, exc_i = _merge(exc_s, exc_i, top.values, idx.gather(1, top.indices), k, True)
        inh_s, inh_i = _merge(inh_s, inh_i, low.values, idx.gather(1, low.indices), k, False)
        state = [exc_s, exc_i, inh_s, inh_i, total]
    if state is None:
        raise ValueError("no training rows to score")
    return tuple(state)  # type: ignore[return-value]


def stream_topk(
    F_test: torch.Tensor,
    chunks: Iterable[tuple[int, torch.Tensor, torch.Tensor]],
    target: torch.Tensor,
    k: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-k excitatory and inhibitory representer points per test point.

    Parameters
    ----------
    F_test : (B, d) test features
    chunks : ``(start, F_chunk (m, d), alpha_chunk (m, C))`` in training-row order
    target : (B,) class explained for each test point
    k : how many points each way

    Returns
    -------
    As :func:`running_topk`; ``total`` is the decomposed logit without the free bias.
    """

    B, dtype = F_test.shape[0], F_test.dtype
    exc_s = np.full((B, k), -np.inf, dtype=np.float64)
    inh_s = np.full((B, k), np.inf, dtype=np.float64)
    exc_i = np.full((B, k), -1, dtype=np.int64)
    inh_i = np.full((B, k), -1, dtype=np.int64)
    total = np.zeros(B, dtype=np.float64)
    t = target.numpy().astype(np.int64)
    buffer = torch.empty(0, dtype=dtype)
    n = 0
    for start, F_chunk, alpha_chunk in chunks:
        m = F_chunk.shape[0]
        if buffer.numel() < B * m:  # one buffer for every chunk: no page faults per GEMM
            buffer = torch.empty(B * m, dtype=dtype)
        scores = buffer[: B * m].view(B, m)
        torch.mm(F_test, F_chunk.T, out=scores)
        alpha = np.ascontiguousarray(alpha_chunk.to(dtype).numpy())
        _scan_chunk(scores.numpy(), alpha, t, start, exc_s, exc_i, inh_s, inh_i, total)
        n += m
    if n == 0:
        raise ValueError("no training rows to score")
    kk = min(k, n)
    return (
        torch.from_numpy(exc_s[:, :kk]).to(dtype),
        torch.from_numpy(exc_i[:, :kk]),
        torch.from_numpy(inh_s[:, :kk]).to(dtype),
        torch.from_numpy(inh_i[:, :kk]),
        torch.from_numpy(total),
    )


@numba.njit(cache=True)
def _scan_chunk(scores, alpha, target, start, exc_s, exc_i, inh_s, inh_i, total):
    """Fold one chunk's GEMM output into the running top-k lists, in place.

    Row b's contributions are ``scores[b, j] * alpha[j, target[b]]`` (computed in the scores'
    dtype, as the torch expression would). ``exc_s`` is kept descending and ``inh_s``
    ascending; a value enters a list only if strictly better than its k-th entry, so ties
    keep the lower training index.
    """
    B, m = scores.shape
    k = exc_s.shape[1]
    for b in range(B):
        c = target[b]
        worst_exc = exc_s[b, k - 1]
        worst_inh = inh_s[b, k - 1]
        acc = 0.0
        for j in range(m):
            s = scores[b, j] * alpha[j, c]
            acc += s
            if s > worst_exc:
                worst_exc = _insert(exc_s[b], exc_i[b], s, start + j, 1.0)
            if s < worst_inh:
                worst_inh = _insert(inh_s[b], inh_i[b], s, start + j, -1.0)
        total[b] += acc


@numba.njit(cache=True, inline="always")
def _insert(values, index, s, i, sign):
    """Insert value s (training row i) into ``values``, kept sorted by ``sign * value``
    descending, dropping the last entry; returns the new last (k-th) value."""
    p = values.shape[0] - 1
    while p > 0 and sign * values[p - 1] < sign * s:
        values[p] = values[p - 1]
        index[p] = index[p - 1]
        p -= 1
    values[p] = s
    index[p] = i
    return values[values.shape[0] - 1]


def _merge(s, i, new_s, new_i, k, largest):
    s, i = torch.cat([s, new_s], dim=1), torch.cat([i, new_i], dim=1)
    best = torch.topk(s, min(k, s.shape[1]), dim=1, largest=largest)
    return best.values, i.gather(1, best.indices)


def topk_reference(F_test, F_train, alpha, target, k):
    """The same result from the full (B, n) score matrix (for tests)."""
    scores = (F_test @ F_train.T) * alpha[:, target].T
    top = torch.topk(scores, k, dim=1)
    low = torch.topk(scores, k, dim=1, largest=False)
    return top.values, top.indices, low.values, low.indices, scores.sum(dim=1)
