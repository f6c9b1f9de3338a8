"""Metric-learning task losses on L2-normalised embeddings.

* :class:`CosineSoftmaxLoss` -- normalised softmax / ArcFace (Deng et al.): logits
  ``s · cos(θ_y + m)`` for the true class and ``s · cos θ_c`` otherwise, with L2-normalised
  class weights (the paper's face loss: s = 64, m = 0.5; ``margin=0`` is plain cosine
  softmax).
* :class:`TripletSemiHardLoss` -- the triplet loss with semi-hard negative mining of
  ``tf.contrib.losses.metric_learning.triplet_semihard_loss`` (the paper's CIFAR-100
  loss, margin 0.1), on squared Euclidean distances as in that implementation.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from leanml.core import InputError, ParameterError

__all__ = ["CosineSoftmaxLoss", "TripletSemiHardLoss"]


class CosineSoftmaxLoss(nn.Module):
    """ArcFace / cosine-softmax cross-entropy.

    Parameters
    ----------
    dim
        Embedding dimension d.
    n_classes
        Number of training classes.
    scale
        s, the logit scale.
    margin
        m, the additive angular margin (0: cosine softmax).
    """

    def __init__(self, dim: int, n_classes: int, scale: float = 16.0, margin: float = 0.0):
        super().__init__()
        if n_classes < 2:
            raise ParameterError(f"n_classes must be >= 2, got {n_classes}")
        if not scale > 0:
            raise ParameterError(f"scale must be > 0, got {scale}")
        if not 0 <= margin < math.pi / 2:
            raise ParameterError(f"margin must be in [0, pi/2), got {margin}")
        self.weight = nn.Parameter(torch.empty(n_classes, dim))
        nn.init.xavier_uniform_(self.weight)
        self.scale = float(scale)
        self.margin = float(margin)

    def logits(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """s·cos θ with the margin applied to the true class."""
        cos = F.normalize(emb, dim=1) @ F.normalize(self.weight, dim=1).T
        if self.margin == 0:
            return self.scale * cos
        m = self.margin
        cos = cos.clamp(-1 + 1e-7, 1 - 1e-7)
        sin = torch.sqrt(1.0 - cos * cos)
        phi = cos * math.cos(m) - sin * math.sin(m)
        # beyond θ + m > π the target logit would grow again: fall back to cos θ − m sin m
        phi = torch.where(cos > math.cos(math.pi - m), phi, cos - math.sin(math.pi - m) * m)
        onehot = F.one_hot(labels, cos.shape[1]).to(cos.dtype)
        return self.scale * (onehot * phi + (1 - onehot) * cos)

    def forward(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of :meth:`logits`."""
        return F.cross_entropy(self.logits(emb, labels), labels)


def _masked_max(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    low = x.min(dim=dim, keepdim=True).values
    return ((x - low) * mask).max(dim=dim, keepdim=True).values + low


def _masked_min(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    high = x.max(dim=dim, keepdim=True).values
    return ((x - high) * mask).min(dim=dim, keepdim=True).values + high


class TripletSemiHardLoss(nn.Module):
    """Triplet loss with semi-hard negatives (FaceNet; TF-contrib semantics).

    For each anchor-positive pair (a, p) the negative is the closest n with
    d(a, n) > d(a, p); if none exists, the farthest negative. The loss is the mean over
    positive pairs of max(d(a, p) − d(a, n) + margin, 0), d the squared distance.

    Parameters
    ----------
    margin
        The triplet margin (the paper's CIFAR runs: 0.1).
    """

    def __init__(self, margin: float = 0.1) -> None:
        super().__init__()
        if not margin >= 0:
            raise ParameterError(f"margin must be >= 0, got {margin}")
        self.margin = float(margin)

    def forward(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean semi-hard triplet loss of the batch."""
        if emb.shape[0] != labels.shape[0]:
            raise InputError("embeddings and labels differ in length")
        sq = (emb * emb).sum(1)
        dist = (sq[:, None] + sq[None, :] - 2 * emb @ emb.T).clamp_min(0.0)
        same = labels[:, None] == labels[None, :]
        neg = ~same
        n = emb.shape[0]
        # dist_tiled[a*n + p, n'] = d(a, n'), compared with d(a, p)
        d_an = dist.repeat(n, 1)
        d_ap = dist.reshape(-1, 1)
        neg_tiled = neg.repeat(n, 1)
        outside = neg_tiled & (d_an > d_ap)
        has_outside = outside.any(dim=1, keepdim=True)
        semi = _masked_min(d_an, outside.to(d_an.dtype), 1)
        hardest = _masked_max(dist, neg.to(dist.dtype), 1).repeat(n, 1)
        d_neg = torch.where(has_outside, semi, hardest).reshape(n, n)
        pos = same & ~torch.eye(n, dtype=torch.bool, device=emb.device)
        if not pos.any():
            return emb.sum() * 0.0
        loss = (dist - d_neg + self.margin).clamp_min(0.0)
        return loss[pos].mean()
