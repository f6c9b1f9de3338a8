"""Experiments shared by the CLI, the demo and the benchmarks: kernel convergence, peers
tuned on a validation split, and accuracy/time sweeps."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from itertools import product
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from leanml.core import Dataset

from .bandwidth import median_l1_sigma
from .binning import RandomBinningFeatures, kernel_matrix
from .estimators import RBClassifier
from .peers import ExactLaplacianSVC, NystroemSVC, exact_rbf_svc, rbf_sampler_svc

__all__ = [
    "METHODS",
    "convergence",
    "minmax",
    "slope",
    "sweep",
    "tune",
    "validation_split",
]

#: Approximate methods (built from R) and exact ones, by name.
METHODS = ("rb-svm", "rbf-sampler-svc", "nystroem-laplacian-svc")
EXACT = ("exact-laplacian-svc", "exact-rbf-svc")


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


def _make(name: str, R: int, params: dict[str, Any], seed: int, tol: float) -> Any:
    if name == "rb-svm":
        return RBClassifier(R, random_state=seed, tol=tol, **params)
    if name == "rbf-sampler-svc":
        return rbf_sampler_svc(R, random_state=seed, tol=tol, **params)
    if name == "nystroem-laplacian-svc":
        return NystroemSVC(R, random_state=seed, tol=tol, **params)
    if name == "exact-laplacian-svc":
        return ExactLaplacianSVC(**params)
    if name == "exact-rbf-svc":
        return exact_rbf_svc(**params)
    raise KeyError(name)


def _grid(name: str, X: np.ndarray, quick: bool) -> list[dict[str, Any]]:
    """Each method's own bandwidth around its own default, times C."""
    factors = (0.5, 1.0, 2.0) if quick else (0.25, 0.5, 1.0, 2.0, 4.0)
    Cs = (1.0, 10.0) if quick else (0.1, 1.0, 10.0)
    if name in ("rbf-sampler-svc", "exact-rbf-svc"):
        scale = 1.0 / float(X.shape[1] * X.var())  # scikit-learn's gamma="scale"
        return [{"gamma": scale * f, "C": C} for f, C in product(factors, Cs)]
    sigma = median_l1_sigma(X)
    return [{"sigma": sigma * f, "C": C} for f, C in product(factors, Cs)]


def validation_split(data: Dataset, seed: int = 0, fraction: float = 0.25) -> Dataset:
    """The training split cut in two: its "test" part is a validation set for tuning."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(data.n_train)
    cut = round(data.n_train * (1 - fraction))
    tr, va = perm[:cut], perm[cut:]
    return replace(
        data,
        X_train=data.X_train[tr],
        y_train=data.y_train[tr],
        X_test=data.X_train[va],
        y_test=data.y_train[va],
    )


def _accuracy(model: Any, data: Dataset) -> float:
    with warnings.catch_warnings():
        # a capped LinearSVC run, or a tuning candidate whose sigma is too small for RB, is
        # part of the measurement (its accuracy says so), not a problem for the user to fix
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "kappa = .* collapsed", UserWarning)
        model.fit(data.X_train, data.y_train)
    return float(np.mean(model.predict(data.X_test) == data.y_test))


def tune(
    name: str, data: Dataset, R: int = 256, seed: int = 0, tol: float = 0.1, quick: bool = False
) -> tuple[dict[str, Any], float]:
    """Bandwidth and C of method ``name`` chosen on a validation split of the training rows.

    Returns ``(params, validation accuracy)``.
    """
    val = validation_split(data, seed)
    scored = [
        (_accuracy(_make(name, R, p, seed, tol), val), -i, p)
        for i, p in enumerate(_grid(name, val.X_train, quick))
    ]
    acc, _, params = max(scored, key=lambda s: s[:2])  # ties: the first in grid order
    return params, acc


def _timed(model: Any, data: Dataset, repeats: int) -> tuple[float, float]:
    """(test accuracy, best-of-``repeats`` fit + predict seconds)."""
    best, acc = np.inf, 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        acc = _accuracy(model, data)
        best = min(best, time.perf_counter() - t0)
    return acc, best


def sweep(
    data: Dataset,
    grids: Sequence[int],
    params: dict[str, dict[str, Any]],
    methods: Iterable[str] = METHODS,
    exact: Iterable[str] = EXACT,
    seed: int = 0,
    tol: float = 0.1,
    repeats: int = 1,
    progress: Callable[..., Any] = lambda it, *_: it,
) -> list[dict[str, Any]]:
    """Test accuracy and fit+predict seconds (best of ``repeats``) against R, one process.

    ``params[name]`` holds each method's bandwidth and C (e.g. from :func:`tune`); every
    linear solver gets the stopping tolerance ``tol``. Exact methods come first, R = n.
    """
    rows = []
    for name in exact:
        acc, secs = _timed(_make(name, 0, params[name], seed, tol), data, repeats)
        rows.append({"method": name, "R": data.n_train, "accuracy": acc, "seconds": secs})
    methods = list(methods)
    if "rb-svm" in methods:  # load the compiled Numba kernels before anything is timed
        step = max(1, data.n_train // 50)  # strided: files sorted by class still give 2+ classes
        # contiguous copies: Numba compiles a separate specialisation per array layout
        small = replace(
            data,
            X_train=np.ascontiguousarray(data.X_train[::step]),
            y_train=data.y_train[::step],
            X_test=data.X_test[:10],
            y_test=data.y_test[:10],
        )
        _accuracy(_make("rb-svm", min(grids), params["rb-svm"], seed, tol), small)
    for name, R in progress([(m, R) for m in methods for R in grids], "sweep"):
        acc, secs = _timed(_make(name, R, params[name], seed, tol), data, repeats)
        rows.append({"method": name, "R": R, "accuracy": acc, "seconds": secs})
    return rows


def minmax(data: Dataset) -> Dataset:
    """Scale every feature to [0, 1] on the training split (LIBSVM-style), test alike."""
    lo = np.min(data.X_train, axis=0)
    span = np.max(data.X_train, axis=0) - lo
    span[span == 0] = 1.0
    return replace(data, X_train=(data.X_train - lo) / span, X_test=(data.X_test - lo) / span)
