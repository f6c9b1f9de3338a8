"""Reconstruction metrics for the tensor task."""

from __future__ import annotations

from typing import Any

import numpy as np

from leanml.core import InputError

__all__ = ["relative_error", "tensor_rmse"]


def _pair(X_true: Any, X_hat: Any) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(X_true, dtype=float)
    b = np.asarray(X_hat, dtype=float)
    if a.shape != b.shape:
        raise InputError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        raise InputError("cannot score an empty reconstruction")
    return a, b


def tensor_rmse(X_true: Any, X_hat: Any) -> float:
    """Root mean squared error over every entry of the tensor."""
    a, b = _pair(X_true, X_hat)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def relative_error(X_true: Any, X_hat: Any) -> float:
    """||X - Xhat||_F / ||X||_F (scale-free reconstruction error)."""
    a, b = _pair(X_true, X_hat)
    denom = np.linalg.norm(a)
    if denom == 0:
        raise InputError("relative error is undefined for an all-zero tensor")
    return float(np.linalg.norm(a - b) / denom)
