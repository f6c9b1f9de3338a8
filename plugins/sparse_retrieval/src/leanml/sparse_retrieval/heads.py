"""Sparse embedding heads: linear map, a final activation that makes exact zeros, L2 norm.

The paper's heads end in ``relu`` (MobileFaceNet) or ``soft_thresh(λ) = relu(x−λ) −
relu(−x−λ)`` (face ResNet, CIFAR), followed by L2 normalisation; the regulariser and the
task loss act on the normalised vector. A top-k activation (keep the k largest |x|) is an
extra option, not in the paper.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from leanml.core import ParameterError

__all__ = ["ACTIVATIONS", "SparseHead", "soft_threshold"]

#: Final activations of :class:`SparseHead`.
ACTIVATIONS = ("relu", "soft_threshold", "topk", "none")


def soft_threshold(x: torch.Tensor, lam: float) -> torch.Tensor:
    """relu(x − λ) − relu(−x − λ): zero on [−λ, λ], signed outside."""
    return F.relu(x - lam) - F.relu(-x - lam)


class SparseHead(nn.Module):
    """Linear → final activation → L2 normalisation.

    Parameters
    ----------
    in_features
        Width of the backbone's output.
    dim
        d, the embedding dimension (the paper: 1024 for faces, 64 for CIFAR).
    activation
        ``"relu"``, ``"soft_threshold"`` (signed codes, threshold ``threshold``),
        ``"topk"`` (keep the ``top_k`` largest |x| per row, after a ReLU) or ``"none"``
        (a dense head, for the dense baseline).
    threshold
        λ of the soft-threshold (the paper: 0.5 face ResNet, 0.1 CIFAR).
    top_k
        Non-zeros kept per row by ``"topk"``.
    normalize
        L2-normalise the output (rows that are all zero stay zero).
    """

    def __init__(
        self,
        in_features: int,
        dim: int,
        activation: str = "relu",
        threshold: float = 0.1,
        top_k: int | None = None,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ParameterError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if activation == "soft_threshold" and not threshold >= 0:
            raise ParameterError(f"threshold must be >= 0, got {threshold}")
        if activation == "topk" and (top_k is None or not 1 <= top_k <= dim):
            raise ParameterError(f"top_k must be in [1, dim={dim}], got {top_k}")
        self.linear = nn.Linear(in_features, dim)
        self.activation = activation
        self.threshold = float(threshold)
        self.top_k = top_k
        self.normalize = normalize

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Embeddings (B x d) of backbone features ``h`` (B x in_features)."""
        z = self.linear(h)
        if self.activation == "relu":
            z = F.relu(z)
        elif self.activation == "soft_threshold":
            z = soft_threshold(z, self.threshold)
        elif self.activation == "topk":
            z = F.relu(z)
            kth = torch.topk(z, self.top_k, dim=1).values[:, -1:]
            z = torch.where(z >= kth, z, torch.zeros_like(z))
        if self.normalize:
            z = F.normalize(z, p=2.0, dim=1, eps=1e-12)
        return z
