"""RMSE against storage bytes for BMP and its peers, and figures (CLI, demo, README).

Equal bytes: BMP with K atoms stores N K bits + 4 K D + 4 D bytes; each peer gets the rank
whose float32 storage is closest to that budget without exceeding it (at least rank 1):
CP 4 R (sum of mode sizes), Tucker 4 (r^m + sum_n N_n r), NMF 4 R (N + D).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from leanml.core import ParameterError

__all__ = [
    "PEERS",
    "code_maps_figure",
    "peer_rank_for_bytes",
    "rmse_bytes_figure",
    "rmse_vs_bytes",
]

#: Peers of the RMSE-versus-bytes comparison.
PEERS = ("cp", "tucker", "nmf", "nn-cp")


def _cp_bytes(shape: Sequence[int], r: int) -> int:
    return 4 * r * int(sum(shape))


def _tucker_bytes(shape: Sequence[int], r: int) -> int:
    ranks = [min(r, d) for d in shape]
    return 4 * (int(np.prod(ranks)) + sum(d * q for d, q in zip(shape, ranks, strict=True)))


def _nmf_bytes(shape: Sequence[int], r: int) -> int:
    return 4 * r * (shape[0] + int(np.prod(shape[1:])))


_BYTES: dict[str, Callable[[Sequence[int], int], int]] = {
    "cp": _cp_bytes,
    "nn-cp": _cp_bytes,
    "tucker": _tucker_bytes,
    "nmf": _nmf_bytes,
}


def peer_rank_for_bytes(peer: str, shape: Sequence[int], budget: int) -> int:
    """Largest rank whose storage fits ``budget`` bytes (at least 1)."""
    size = _BYTES[peer]
    r = 1
    limit = max(shape) if peer == "tucker" else min(shape[0], int(np.prod(shape[1:])))
    while r < limit and size(shape, r + 1) <= budget:
        r += 1
    return r


def _fit_peer(peer: str, X: np.ndarray, rank: int, seed: int) -> Any:
    from .peers import CPPeer, NMFPeer, TuckerPeer

    if peer == "cp":
        return CPPeer(rank, random_state=seed).fit(X)
    if peer == "nn-cp":
        return CPPeer(rank, non_negative=True, random_state=seed).fit(X)
    if peer == "tucker":
        return TuckerPeer(rank, random_state=seed).fit(X)
    if peer == "nmf":
        return NMFPeer(rank, random_state=seed).fit(X)
    raise ParameterError(f"unknown peer {peer!r}; choose from {', '.join(PEERS)}")


def rmse_vs_bytes(
    X: np.ndarray,
    atoms: Sequence[int],
    peers: Sequence[str] = ("cp", "tucker", "nmf"),
    image_shape: tuple[int, int] | None = None,
    bmp_params: dict[str, Any] | None = None,
    seed: int = 0,
    progress: Callable[..., Any] | None = None,
    fitted: dict[int, Any] | None = None,
) -> list[dict[str, Any]]:
    """Fit BMP with each atom budget and every peer at the same bytes; one row per fit.

    Parameters
    ----------
    X
        N x D1 x ... x Dm tensor; BMP codes mode 1 (rows).
    atoms
        K values for BMP.
    peers
        Names from :data:`PEERS`.
    image_shape
        (H, W) when the N rows are pixels of an image (hyperspectral data): CP and Tucker
        then decompose the H x W x D cube, which lets them use the spatial modes; NMF and
        BMP work on the pixels x bands unfolding. Every model reconstructs the same numbers.
    bmp_params
        Extra BinaryLatentFeatures parameters.
    seed
        Seed of every model.
    fitted
        If given, receives the fitted BMP model of each K (``fitted[K]``).
    """
    from .estimators import BinaryLatentFeatures

    wrap = progress or (lambda it, _d: it)
    cube = X.reshape((*image_shape, *X.shape[1:])) if image_shape else X
    rows: list[dict[str, Any]] = []
    for K in wrap(list(atoms), "BMP and peers at equal bytes"):
        t0 = time.perf_counter()
        m = BinaryLatentFeatures(n_atoms=K, random_state=seed, **(bmp_params or {})).fit(X)
        secs = time.perf_counter() - t0
        if fitted is not None:
            fitted[K] = m
        budget = m.storage_bytes()
        rmse = float(np.sqrt(np.mean((m.reconstruct() - X) ** 2)))
        rows.append(
            {
                "model": "bmp",
                "K": K,
                "rank": m.n_atoms_,
                "bytes": budget,
                "rmse": rmse,
                "seconds": secs,
            }
        )
        for peer in peers:
            src = X if peer == "nmf" else cube
            r = peer_rank_for_bytes(peer, src.shape, budget)
            t0 = time.perf_counter()
            p = _fit_peer(peer, src, r, seed)
            secs = time.perf_counter() - t0
            rec = p.reconstruct().reshape(X.shape)
            rows.append(
                {
                    "model": peer,
                    "K": K,
                    "rank": r,
                    "bytes": p.storage_bytes(),
                    "rmse": float(np.sqrt(np.mean((rec - X) ** 2))),
                    "seconds": secs,
                }
            )
    return rows


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ParameterError("figures need matplotlib: pip install 'leanml-bmp[plot]'") from None
    return plt


def rmse_bytes_figure(rows: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """RMSE against bytes, one line per model."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for model in dict.fromkeys(r["model"] for r in rows):
        pts = sorted((r["bytes"], r["rmse"]) for r in rows if r["model"] == model)
        ax.plot([p[0] / 1024 for p in pts], [p[1] for p in pts], "o-", label=model)
    ax.set_xlabel("storage (KiB, codes at 1 bit, floats at 4 bytes)")
    ax.set_ylabel("RMSE")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def code_maps_figure(
    codes: np.ndarray,
    image_shape: tuple[int, int],
    gt: np.ndarray | None,
    path: Path,
    max_maps: int = 11,
) -> Path:
    """Each learned binary code as an image, next to the ground-truth classes."""
    plt = _plt()
    K = min(codes.shape[1], max_maps)
    panels = K + (gt is not None)
    cols = min(6, panels)
    rows = int(np.ceil(panels / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    i = 0
    if gt is not None:
        axes.flat[0].imshow(gt, cmap="tab20", interpolation="nearest")
        axes.flat[0].set_title("ground truth", fontsize=8)
        i = 1
    for k in range(K):
        ax = axes.flat[i + k]
        ax.imshow(codes[:, k].reshape(image_shape), cmap="gray", interpolation="nearest")
        ax.set_title(f"code {k + 1} ({codes[:, k].mean():.0%})", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
