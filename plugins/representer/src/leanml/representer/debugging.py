"""Dataset debugging: flip labels, rank training points, fix the top fraction, refit.

The paper's Sec. 4.1 experiment, with every ranking in one run over the same flips:
representer |alpha_{i, y_i}|, self-representer alpha_{i, y_i} ||f_i||^2, exact influence
g_i^T H^{-1} g_i on the convex head, TracIn-last ||g_i||^2, the loss, and random order.

With hard labels and softmax cross-entropy, |alpha_{i, y_i}| = (1 - p_{i, y_i}) / (2 lambda n)
is a monotone function of the loss, so those two rankings are identical; the representer's
advantage there is cost (no Hessian), not ranking quality.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .head import fit_head
from .influence import self_influence, tracin_last

__all__ = ["RANKINGS", "flip_and_fix"]

RANKINGS = ("representer", "self-representer", "influence", "tracin-last", "loss", "random")


def _fit(F: torch.Tensor, y: torch.Tensor, C: int, lmbda: float):
    T = torch.nn.functional.one_hot(y, C).to(torch.float64)
    W0 = torch.zeros(F.shape[1], C, dtype=torch.float64)
    head = fit_head(F, T, W0, None, lmbda, gtol=1e-8)
    return head.weight, T


def _scores(F, y, C, lmbda, rng) -> dict[str, np.ndarray]:
    W, T = _fit(F, y, C, lmbda)
    P = torch.softmax(F @ W, dim=1)
    n = F.shape[0]
    own = ((T - P) / (2 * lmbda * n)).gather(1, y[:, None]).squeeze(1)
    return {
        "representer": own.abs().numpy(),
        "self-representer": (own * (F * F).sum(1)).abs().numpy(),
        "influence": self_influence(F, P, T, lmbda).numpy(),
        "tracin-last": tracin_last(F, P, T).numpy(),
        "loss": (-torch.log(P.gather(1, y[:, None]).squeeze(1))).numpy(),
        "random": rng.random(n),
    }


def flip_and_fix(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    flip_rate: float = 0.3,
    fractions: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.4),
    lmbda: float = 1e-3,
    seeds: Sequence[int] = (0, 1, 2),
    progress: Callable[..., Any] = lambda it, *_: it,
) -> list[dict[str, Any]]:
    """Run the flip-and-fix experiment for every ranking; one row per (seed, ranking, fraction).

    The model is L2-regularised softmax regression on ``X`` (plus a constant feature), fitted
    to a stationary point; flipped labels go to a uniformly random *other* class.
    """
    C = int(max(y_train.max(), y_test.max()) + 1)
    F = torch.as_tensor(np.column_stack([X_train, np.ones(len(X_train))]), dtype=torch.float64)
    Ft = torch.as_tensor(np.column_stack([X_test, np.ones(len(X_test))]), dtype=torch.float64)
    clean = torch.as_tensor(y_train, dtype=torch.long)
    rows = []
    for seed in progress(list(seeds), "flip and fix"):
        rng = np.random.default_rng(seed)
        n = len(clean)
        flipped = rng.choice(n, size=round(flip_rate * n), replace=False)
        noisy = clean.clone()
        shift = torch.as_tensor(rng.integers(1, C, size=len(flipped)))
        noisy[flipped] = (clean[flipped] + shift) % C
        is_flipped = np.zeros(n, dtype=bool)
        is_flipped[flipped] = True
        scores = _scores(F, noisy, C, lmbda, rng)
        for name in RANKINGS:
            order = np.argsort(-scores[name], kind="stable")
            for frac in fractions:
                checked = order[: round(frac * n)]
                fixed = noisy.clone()
                fixed[checked] = clean[checked]
                W, _ = _fit(F, fixed, C, lmbda)
                acc = float(((Ft @ W).argmax(1).numpy() == y_test).mean())
                rows.append(
                    {
                        "seed": seed,
                        "ranking": name,
                        "checked": frac,
                        "flips_found": float(is_flipped[checked].sum() / is_flipped.sum()),
                        "test_accuracy": acc,
                    }
                )
    return rows


def summarise(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean flips found and test accuracy over seeds, per ranking and fraction."""
    out = []
    keys = sorted(
        {(r["ranking"], r["checked"]) for r in rows}, key=lambda k: (RANKINGS.index(k[0]), k[1])
    )
    for name, frac in keys:
        sel = [r for r in rows if r["ranking"] == name and r["checked"] == frac]
        out.append(
            {
                "ranking": name,
                "checked": frac,
                "flips_found": float(np.mean([r["flips_found"] for r in sel])),
                "test_accuracy": float(np.mean([r["test_accuracy"] for r in sel])),
            }
        )
    return out
