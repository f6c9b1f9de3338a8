"""Experiments shared by the CLI and the demo: kernel convergence and accuracy/time sweeps."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from leanml.core import Dataset

from .binning import RandomBinningFeatures, kernel_matrix
from .estimators import RBClassifier
from .peers import ExactLaplacianSVC, nystroem_svc, rbf_sampler_svc

__all__ = ["convergence", "sweep"]


def convergence(
    X: np.ndarray,
    sigma: float,
    grids: Sequence[int],
    kernel: str = "laplacian",
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Relative Frobenius error ||Z Z^T - K||_F / ||K||_F of RB against R.

    Returns one row per R with the error, err * sqrt(R) (flat when the 1/sqrt(R) rate holds)
    and kappa.
    """
    K = kernel_matrix(X, X, sigma, kernel)
    norm = np.linalg.norm(K)
    rows = []
    for R in grids:
        rb = RandomBinningFeatures(R, sigma=sigma, kernel=kernel, random_state=seed)
        Z = rb.fit_transform(X)
        err = float(np.linalg.norm((Z @ Z.T).toarray() - K) / norm)
        rows.append({"R": R, "rel_error": err, "err_sqrt_R": err * np.sqrt(R), "kappa": rb.kappa_})
    return rows


def slope(rows: Sequence[dict[str, Any]]) -> float:
    """Least-squares slope of log error against log R (-0.5 for the Monte-Carlo rate)."""
    R = np.log([r["R"] for r in rows])
    e = np.log([r["rel_error"] for r in rows])
    return float(np.polyfit(R, e, 1)[0])


def _methods(sigma: float, C: float, seed: int) -> dict[str, Callable[[int], Any]]:
    return {
        "rb-svm": lambda R: RBClassifier(R, sigma=sigma, C=C, random_state=seed),
        "rbf-sampler-svc": lambda R: rbf_sampler_svc(R, sigma=sigma, C=C, random_state=seed),
        "nystroem-laplacian-svc": lambda R: nystroem_svc(R, sigma=sigma, C=C, random_state=seed),
    }


def _timed(model: Any, data: Dataset) -> tuple[float, float]:
    t0 = time.perf_counter()
    model.fit(data.X_train, data.y_train)
    acc = float(np.mean(model.predict(data.X_test) == data.y_test))
    return acc, time.perf_counter() - t0


def sweep(
    data: Dataset,
    grids: Sequence[int],
    sigma: float,
    C: float = 1.0,
    methods: Iterable[str] = ("rb-svm", "rbf-sampler-svc", "nystroem-laplacian-svc"),
    exact: bool = True,
    seed: int = 0,
    progress: Callable[..., Any] = lambda it, *_: it,
) -> list[dict[str, Any]]:
    """Test accuracy and fit+predict seconds against R for RB and its peers, in this process.

    The RBF sampler gets the Gaussian kernel at the same sigma (its only kernel); the others
    the L1 Laplacian. With ``exact``, the exact Laplacian SVC is the first row (R = n).
    """
    rows = []
    if exact:
        acc, secs = _timed(ExactLaplacianSVC(sigma=sigma, C=C), data)
        rows.append(
            {"method": "exact-laplacian-svc", "R": data.n_train, "accuracy": acc, "seconds": secs}
        )
    table = _methods(sigma, C, seed)
    if "rb-svm" in methods:  # load the compiled Numba kernels before anything is timed
        step = max(1, data.n_train // 50)  # strided: files sorted by class still give 2+ classes
        # contiguous copies: Numba compiles a separate specialisation per array layout
        X_small = np.ascontiguousarray(data.X_train[::step])
        table["rb-svm"](min(grids)).fit(X_small, data.y_train[::step]).predict(data.X_test[:10])
    jobs = [(m, R) for m in methods for R in grids]
    for name, R in progress(jobs, "sweep"):
        acc, secs = _timed(table[name](R), data)
        rows.append({"method": name, "R": R, "accuracy": acc, "seconds": secs})
    return rows


def minmax(data: Dataset) -> Dataset:
    """Scale every feature to [0, 1] on the training split (LIBSVM-style), test alike."""
    from dataclasses import replace

    lo = np.min(data.X_train, axis=0)
    span = np.max(data.X_train, axis=0) - lo
    span[span == 0] = 1.0
    return replace(data, X_train=(data.X_train - lo) / span, X_test=(data.X_test - lo) / span)
