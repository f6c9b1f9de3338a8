"""A small MLP and its training loop, used by the demo, the CLI and the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["MLP", "train_mlp"]


class MLP(nn.Module):
    """in -> hidden (ReLU) -> classes; ``features`` is the ReLU, ``head`` the last layer."""

    def __init__(self, n_in: int, n_hidden: int, n_classes: int) -> None:
        super().__init__()
        self.body = nn.Linear(n_in, n_hidden)
        self.features = nn.ReLU()
        self.head = nn.Linear(n_hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.body(x)))


@dataclass
class Trained:
    model: MLP
    test_accuracy: float


def train_mlp(
    X: np.ndarray,
    y: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    n_hidden: int = 32,
    epochs: int = 200,
    seed: int = 0,
) -> Trained:
    """Full-batch Adam with weight decay (so the head is *not* stationary for the paper's
    objective: the explainer's re-convergence step is needed)."""
    torch.manual_seed(seed)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    model = MLP(X.shape[1], n_hidden, int(max(y.max(), y_test.max()) + 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(epochs):
        opt.zero_grad()
        nn.functional.cross_entropy(model(Xt), yt).backward()
        opt.step()
    with torch.no_grad():
        pred = model(torch.as_tensor(X_test, dtype=torch.float32)).argmax(1).numpy()
    return Trained(model, float(np.mean(pred == y_test)))
