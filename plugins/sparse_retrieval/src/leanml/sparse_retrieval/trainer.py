"""Training loop: any backbone + a sparse head, a task loss and a scheduled regulariser.

Per step t the loss is ``task_loss(f(x), y) + λ_t · R(f(x))`` with R the FLOPs (or L1)
regulariser on the L2-normalised embedding f(x) and ``λ_t = λ · min(1, (t/T)²)``. After
every epoch the trainer encodes (a sample of) the training rows and logs the mean nnz per
row s, F = Σ_j p_j², the uniform bound s²/d, their ratio and the dead dimensions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from leanml.core import InputError, ParameterError

from .accounting import flops_stats
from .regularizers import QuadraticWarmup

__all__ = ["SparseEmbedder", "Trainer", "encode"]


class SparseEmbedder(nn.Module):
    """``head(backbone(x))``: a user backbone followed by a :class:`SparseHead`."""

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings of a batch."""
        return self.head(self.backbone(x))


@torch.no_grad()
def encode(model: nn.Module, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Embeddings of ``X`` (float32 numpy) in eval mode, batch by batch."""
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, X.shape[0], batch_size):
            xb = torch.as_tensor(X[start : start + batch_size], dtype=torch.float32)
            out.append(model(xb).numpy())
    finally:
        model.train(was_training)
    if not out:
        raise InputError("cannot encode zero rows")
    return np.concatenate(out).astype(np.float32, copy=False)


class Trainer:
    """Mini-batch Adam training of a :class:`SparseEmbedder`.

    Parameters
    ----------
    model
        The network to train (backbone + head).
    task_loss
        ``loss(embeddings, labels)``; its parameters (e.g. ArcFace class weights) are
        trained too.
    regularizer
        :class:`~leanml.sparse_retrieval.regularizers.FLOPsRegularizer`,
        :class:`~leanml.sparse_retrieval.regularizers.L1Regularizer` or ``None``.
    warmup_steps
        T of the quadratic warm-up; ``None`` means one third of all steps.
    epochs, batch_size, lr, weight_decay
        Optimisation settings (Adam; ``weight_decay`` is L2 on every parameter).
    random_state
        Seed of the initial weights' RNG is the caller's; this seeds batch order.
    zero_threshold
        |x| below this counts as zero in the logged statistics.
    progress
        ``progress(iterable, description)`` for the epoch loop.
    """

    def __init__(
        self,
        model: nn.Module,
        task_loss: nn.Module,
        regularizer: nn.Module | None = None,
        *,
        warmup_steps: int | None = None,
        epochs: int = 10,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        random_state: int = 0,
        zero_threshold: float = 1e-8,
        stats_rows: int = 5000,
        progress: Callable[..., Any] | None = None,
    ) -> None:
        if epochs < 1:
            raise ParameterError(f"epochs must be >= 1, got {epochs}")
        if batch_size < 2:
            raise ParameterError(
                f"batch_size must be >= 2, got {batch_size}: with one row the FLOPs "
                "estimate of p_j is the row itself (squared L1)"
            )
        if not lr > 0:
            raise ParameterError(f"lr must be > 0, got {lr}")
        self.model = model
        self.task_loss = task_loss
        self.regularizer = regularizer
        self.warmup_steps = warmup_steps
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.zero_threshold = zero_threshold
        self.stats_rows = stats_rows
        self.progress = progress
        self.history: list[dict[str, float]] = []

    def fit(self, X: np.ndarray, y: np.ndarray) -> list[dict[str, float]]:
        """Train on ``X`` (n x n_features float) with integer labels ``y``; return the
        per-epoch history."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        y = np.asarray(y)
        if X.ndim != 2 or X.shape[0] != y.shape[0]:
            raise InputError(f"X must be n x p with one label per row, got {X.shape}, {y.shape}")
        if X.shape[0] < 2:
            raise InputError("need at least two training rows")
        if not np.isfinite(X).all():
            raise InputError("training data contain NaN or infinite values")
        rng = np.random.default_rng(self.random_state)
        n = X.shape[0]
        bs = min(self.batch_size, n)
        steps_per_epoch = max(1, n // bs)
        total = steps_per_epoch * self.epochs
        T = self.warmup_steps if self.warmup_steps is not None else max(1, total // 3)
        schedule = QuadraticWarmup(1.0, T)
        params = list(self.model.parameters()) + list(self.task_loss.parameters())
        opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        Xt = torch.from_numpy(X)
        yt = torch.as_tensor(y, dtype=torch.long)
        step = 0
        epochs = range(self.epochs)
        if self.progress is not None:
            epochs = self.progress(epochs, "training")
        self.model.train()
        for epoch in epochs:
            perm = torch.from_numpy(rng.permutation(n))
            sums = {"loss": 0.0, "task": 0.0, "reg": 0.0}
            for b in range(steps_per_epoch):
                idx = perm[b * bs : (b + 1) * bs]
                emb = self.model(Xt[idx])
                task = self.task_loss(emb, yt[idx])
                loss = task
                reg = torch.zeros(())
                if self.regularizer is not None:
                    reg = self.regularizer(emb, scale=schedule(step))
                    loss = loss + reg
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                sums["loss"] += float(loss.detach())
                sums["task"] += float(task.detach())
                sums["reg"] += float(reg.detach())
            row = {k: v / steps_per_epoch for k, v in sums.items()}
            sub = X if n <= self.stats_rows else X[rng.choice(n, self.stats_rows, replace=False)]
            row.update(flops_stats(encode(self.model, sub), self.zero_threshold))
            row.update(epoch=epoch + 1, step=step, lam_scale=schedule(step))
            self.history.append(row)
        self.model.eval()
        return self.history
