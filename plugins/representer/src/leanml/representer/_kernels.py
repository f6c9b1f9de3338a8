"""The scoring hot loop: signed representer contributions with a running top-k.

For test features f_b (B x d) explained for classes c_b, training point i contributes
S[b, i] = alpha[i, c_b] * <f_i, f_b>. The n x B score matrix is formed one chunk of training
rows at a time (one GEMM each) and reduced to a running top-k in both directions, so memory
is O(chunk * B), never O(n * B * C).
"""

from __future__ import annotations

from collections.abc import Iterable

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

    def scores():
        for start, F_chunk, alpha_chunk in chunks:
            yield start, torch.mm(F_test, F_chunk.T).mul_(alpha_chunk[:, target].T)

    return running_topk(scores(), k)


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
