"""A small CP-ALS for the optional low-rank feature tensors of reading (A)."""

from __future__ import annotations

import numpy as np

__all__ = ["cp_als", "cp_to_tensor"]


def cp_to_tensor(factors: list[np.ndarray]) -> np.ndarray:
    """Sum over r of the outer products factors[0][:, r] o factors[1][:, r] o ..."""
    shape = tuple(f.shape[0] for f in factors)
    R = factors[0].shape[1]
    out = factors[0]
    for f in factors[1:]:
        out = (out[:, None, :] * f[None, :, :]).reshape(-1, R)
    return out.sum(axis=1).reshape(shape)


def _khatri_rao(mats: list[np.ndarray]) -> np.ndarray:
    R = mats[0].shape[1]
    out = mats[0]
    for m in mats[1:]:
        out = (out[:, None, :] * m[None, :, :]).reshape(-1, R)
    return out


def cp_als(
    T: np.ndarray,
    rank: int,
    n_iter: int = 30,
    init: list[np.ndarray] | None = None,
    rng: np.random.Generator | None = None,
) -> list[np.ndarray]:
    """Rank-``rank`` CP approximation of ``T`` by alternating least squares.

    A 1-D ``T`` (matrix data: vector features) is returned unchanged as one factor.
    ``init`` warm-starts the factors (the block updates of the estimator reuse them).
    """
    if T.ndim == 1:
        return [T[:, None].copy()]
    rng = rng or np.random.default_rng(0)
    factors = (
        [f.copy() for f in init]
        if init is not None
        else [rng.standard_normal((d, rank)) for d in T.shape]
    )
    m = T.ndim
    for _ in range(n_iter):
        for mode in range(m):
            others = [factors[j] for j in range(m) if j != mode]
            kr = _khatri_rao(others)
            unfold = np.moveaxis(T, mode, 0).reshape(T.shape[mode], -1)
            gram = np.ones((rank, rank))
            for f in others:
                gram *= f.T @ f
            factors[mode] = np.linalg.lstsq(gram, (unfold @ kr).T, rcond=None)[0].T
    return factors
