"""Small backbones for the shipped image data (digits 8x8, MNIST / Fashion-MNIST 28x28).

Any ``nn.Module`` mapping a float batch (B x n_features) to features (B x width) works
with :class:`~leanml.sparse_retrieval.trainer.SparseEmbedder`; these two are defaults.
"""

from __future__ import annotations

import math

from torch import nn

from leanml.core import ParameterError

__all__ = ["BACKBONES", "MLP", "SmallCNN", "make_backbone"]

BACKBONES = ("mlp", "cnn")


class MLP(nn.Sequential):
    """Linear → BatchNorm → ReLU blocks; ``out_features`` is the last hidden width."""

    def __init__(self, in_features: int, hidden: tuple[int, ...] = (256,)) -> None:
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU()]
            width = h
        super().__init__(*layers)
        self.out_features = width


class SmallCNN(nn.Module):
    """Two conv blocks on square grey images given as flat rows, then a linear layer."""

    def __init__(self, in_features: int, width: int = 256, channels: int = 32) -> None:
        super().__init__()
        side = math.isqrt(in_features)
        if side * side != in_features:
            raise ParameterError(f"the cnn backbone needs square images, got {in_features} pixels")
        self.side = side
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1),
            nn.BatchNorm2d(2 * channels),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
        )
        self.fc = nn.Sequential(nn.Linear(2 * channels * 16, width), nn.ReLU())
        self.out_features = width

    def forward(self, x):
        """Features of a batch of flat images (B x side²)."""
        z = self.features(x.reshape(-1, 1, self.side, self.side))
        return self.fc(z.flatten(1))


def make_backbone(name: str, in_features: int, width: int) -> nn.Module:
    """``"mlp"`` (one hidden layer of ``width``) or ``"cnn"``."""
    if name == "mlp":
        return MLP(in_features, (width,))
    if name == "cnn":
        return SmallCNN(in_features, width)
    raise ParameterError(f"backbone must be one of {BACKBONES}, got {name!r}")
