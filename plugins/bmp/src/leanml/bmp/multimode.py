"""Tensor reading (B): binary codes on several modes with a continuous core.

X (N1 x ... x Nm) ~ G x_1 F_1 x_2 ... x_m F_m, where F_n = [1, Z^(n)] for a coded mode n
(an all-ones column, then binary codes) and F_n = I for an uncoded mode (its rows stay in the
core). This is a Tucker model with Boolean factors.

Greedy step (per mode, exact matching pursuit for that block): with residual A and the other
factors fixed, the descent score of a new column z of mode n is ||P_n' z||^2 with
P_n = (A x_{m != n} F_m')_(n) (the mode-n unfolding), the same PSD boolean QP as the matrix
model, solved by :func:`leanml.bmp.bqp.solve_bqp` on P_n. The mode with the best score gets the
atom. Corrective step: the ridge-regularised core
G = argmin 1/2 ||X - G x_n F_n||^2 + tau/2 ||G||^2, solved mode by mode through the
eigendecompositions of F_n'F_n (the Kronecker normal matrix is never formed). Adding a column
with a zero core slab leaves the objective unchanged, so the refit never increases it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .bqp import solve_bqp

__all__ = ["fit_multimode", "mode_dot", "reconstruct", "ridge_core", "storage_bytes"]


def mode_dot(T: np.ndarray, M: np.ndarray, mode: int) -> np.ndarray:
    """T x_mode M: mode ``mode`` of size M.shape[1] becomes M.shape[0]."""
    return np.moveaxis(np.tensordot(M, T, axes=(1, mode)), 0, mode)


def reconstruct(G: np.ndarray, F: Sequence[np.ndarray | None]) -> np.ndarray:
    """G x_n F_n over the modes with a factor (``None`` is the identity)."""
    out = G
    for n, f in enumerate(F):
        if f is not None:
            out = mode_dot(out, f, n)
    return out


def ridge_core(X: np.ndarray, F: Sequence[np.ndarray | None], tau: float) -> np.ndarray:
    """argmin_G 1/2 ||X - G x_n F_n||^2 + tau/2 ||G||^2, mode by mode via eig(F_n'F_n)."""
    B = X
    Qs, lams = [], []
    for n, f in enumerate(F):
        if f is None:
            Qs.append(None)
            lams.append(np.ones(X.shape[n]))
            continue
        lam, Q = np.linalg.eigh(f.T @ f)
        B = mode_dot(B, (f @ Q).T, n)  # X x_n (F_n Q_n)'
        Qs.append(Q)
        lams.append(np.maximum(lam, 0.0))
    denom = lams[0]
    for lam in lams[1:]:
        denom = np.multiply.outer(denom, lam)
    G = B / (denom + tau)
    for n, Q in enumerate(Qs):
        if Q is not None:
            G = mode_dot(G, Q, n)
    return G


def storage_bytes(
    F: Sequence[np.ndarray | None], coded_modes: Sequence[int], shape: Sequence[int]
) -> int:
    """Codes at one bit (the all-ones columns are implicit) plus the float32 core."""
    bits = sum(shape[n] * (F[n].shape[1] - 1) for n in coded_modes)  # type: ignore[union-attr]
    core = int(np.prod([f.shape[1] if f is not None else shape[n] for n, f in enumerate(F)]))
    return (bits + 7) // 8 + 4 * core


def _objective(R: np.ndarray, G: np.ndarray, tau: float) -> float:
    return 0.5 * float(np.sum(R * R)) / R.size + 0.5 * tau * float(np.sum(G * G)) / R.size


def fit_multimode(
    X: np.ndarray,
    coded_modes: Sequence[int],
    n_atoms: int,
    lam: float,
    tau: float,
    tol: float,
    max_bytes: int | None,
    rng: np.random.Generator,
    solver: dict[str, Any],
) -> dict[str, Any]:
    """Greedy Boolean-Tucker fit of a centred, unit-RMS tensor ``X``.

    Returns a dict with ``factors`` (F_n or None), ``core``, ``objective_path``,
    ``rmse_path`` (of the scaled tensor), ``scores``, ``stop_reason`` and ``modes`` (the mode
    of each atom, in order).
    """
    F: list[np.ndarray | None] = [
        np.ones((X.shape[n], 1)) if n in coded_modes else None for n in range(X.ndim)
    ]
    G = ridge_core(X, F, tau)
    R = X - reconstruct(G, F)
    path = [_objective(R, G, tau)]
    rmse = [float(np.sqrt(np.mean(R * R)))]
    scores: list[float] = []
    modes: list[int] = []
    lam_abs = None
    stop = "n_atoms"
    for _ in range(n_atoms):
        best: tuple[float, int, np.ndarray] | None = None
        for n in coded_modes:
            T = R
            for m, f in enumerate(F):
                if m != n and f is not None:
                    T = mode_dot(T, f.T, m)
            Pn = np.moveaxis(T, n, 0).reshape(X.shape[n], -1)
            res = solve_bqp(P=np.ascontiguousarray(Pn), random_state=rng, **solver)
            z = res.z
            if z.sum() > X.shape[n] / 2:
                z = ~z
            fn = F[n]
            assert fn is not None
            if not z.any() or any(np.array_equal(z, fn[:, j] > 0.5) for j in range(fn.shape[1])):
                continue
            score = float(np.sum((Pn.T @ z) ** 2))
            if best is None or score > best[0]:
                best = (score, n, z)
        if best is None:
            stop = "duplicate"
            break
        score, n, z = best
        if lam_abs is None:
            lam_abs = lam * score
        if score <= lam_abs:
            stop = "score"
            break
        previous = F[n]
        F[n] = np.column_stack([F[n], z.astype(float)])
        if max_bytes is not None and storage_bytes(F, coded_modes, X.shape) > max_bytes:
            F[n] = previous
            stop = "max_bytes"
            break
        G = ridge_core(X, F, tau)
        R = X - reconstruct(G, F)
        path.append(_objective(R, G, tau))
        rmse.append(float(np.sqrt(np.mean(R * R))))
        scores.append(score)
        modes.append(n)
        if path[-2] - path[-1] <= tol * abs(path[-2]):
            stop = "tol"
            break
    return {
        "factors": F,
        "core": G,
        "objective_path": path,
        "rmse_path": rmse,
        "scores": scores,
        "stop_reason": stop,
        "modes": modes,
    }
