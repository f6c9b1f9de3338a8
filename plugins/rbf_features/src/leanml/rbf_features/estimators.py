"""scikit-learn estimators: RB features + a solver from :mod:`.solvers`."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from leanml.core import InputError, ParameterError

from . import solvers
from .binning import RandomBinningFeatures
from .solvers import RBDesign

__all__ = ["RBClassifier", "RBRegressor"]

# loss -> (penalty -> default solver, allowed solvers)
_CLASSIFIER_SOLVERS = {
    ("hinge", "l2"): ("dcd", {"dcd"}),
    ("squared_hinge", "l2"): ("dcd", {"dcd"}),
    ("logistic", "l2"): ("newton", {"newton"}),
    ("squared_hinge", "l1"): ("pcd", {"pcd"}),
    ("logistic", "l1"): ("pcd", {"pcd"}),
}


class _RBBase(BaseEstimator):
    """Shared plumbing: the binning, warm start by adding grids, and the design matrix."""

    def _features(self) -> RandomBinningFeatures:
        return RandomBinningFeatures(
            n_grids=self.n_grids,
            sigma=self.sigma,
            kernel=self.kernel,
            random_state=self.random_state,
        )

    def _fit_design(self, X: Any) -> tuple[RBDesign, np.ndarray | None]:
        """Bin X; with ``warm_start`` and more grids, map the old weights onto new columns."""
        old = getattr(self, "binning_", None) if self.warm_start else None
        binning = self._features()
        cols = binning.fit_transform_ids(X)
        previous = None
        if old is not None and old.n_grids <= binning.n_grids and _same_grids(old, binning):
            # grid r's columns keep their order, so copy each old grid's block of weights
            previous = (old.grid_offsets_, binning.grid_offsets_)
        self.binning_ = binning
        self.n_features_in_ = binning.n_features_in_
        return RBDesign(cols, binning.grid_offsets_), previous

    def _design(self, X: Any) -> RBDesign:
        check_is_fitted(self, "binning_")
        return RBDesign(self.binning_.transform_ids(X), self.binning_.grid_offsets_)


def _same_grids(old: RandomBinningFeatures, new: RandomBinningFeatures) -> bool:
    R = old.n_grids
    return (
        old.sigma == new.sigma
        and old.kernel == new.kernel
        and np.array_equal(old.n_bins_per_grid_, new.n_bins_per_grid_[:R])
        and np.array_equal(old._a, new._a[:R])
    )


def _carry(w_old: np.ndarray, offsets: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    old_off, new_off = offsets
    w = np.zeros((new_off[-1], *w_old.shape[1:]))
    for r in range(len(old_off) - 1):
        w[new_off[r] : new_off[r] + old_off[r + 1] - old_off[r]] = w_old[
            old_off[r] : old_off[r + 1]
        ]
    return w


def _check_y(y: Any, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise InputError(f"y must be 1-D with {n} entries, got shape {y.shape}")
    return y


class RBClassifier(ClassifierMixin, _RBBase):
    """Random Binning features + a linear classifier trained by a tailored solver.

    Binary problems train one weight vector; K > 2 classes train K one-vs-rest vectors.

    Parameters
    ----------
    n_grids : int, default=256
        R, number of random grids.
    sigma : float, default=1.0
        Kernel bandwidth; the Laplacian kernel is exp(-||x - y||_1 / sigma).
    kernel : str, default="laplacian"
        See :data:`leanml.rbf_features.KERNELS`.
    loss : {"hinge", "squared_hinge", "logistic"}, default="hinge"
    penalty : {"l2", "l1"}, default="l2"
        L1 is available for "squared_hinge" and "logistic".
    C : float, default=1.0
        Weight of the loss: min reg(w) + C sum_i loss_i, as LIBLINEAR.
    solver : {"dcd", "newton", "pcd"} or None
        Dual coordinate descent (L2 SVM), trust-region Newton (L2 logistic) or the paper's
        parallel proximal CD (L1). ``None`` picks the one for ``loss`` and ``penalty``.
    tol : float or None
        Solver tolerance; ``None`` uses the solver's default.
    max_iter : int, default=1000
    warm_start : bool, default=False
        Refitting with a larger ``n_grids`` (same seed) keeps the existing grids and, for
        the primal solvers, starts from the previous weights.
    random_state : int or None
    """

    def __init__(
        self,
        n_grids: int = 256,
        sigma: float = 1.0,
        kernel: str = "laplacian",
        loss: str = "hinge",
        penalty: str = "l2",
        C: float = 1.0,
        solver: str | None = None,
        tol: float | None = None,
        max_iter: int = 1000,
        warm_start: bool = False,
        random_state: Any = None,
    ) -> None:
        self.n_grids = n_grids
        self.sigma = sigma
        self.kernel = kernel
        self.loss = loss
        self.penalty = penalty
        self.C = C
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.random_state = random_state

    def _solver(self) -> str:
        key = (self.loss, self.penalty)
        if key not in _CLASSIFIER_SOLVERS:
            raise ParameterError(
                f"loss={self.loss!r} with penalty={self.penalty!r} is not supported; "
                f"choose from {sorted(_CLASSIFIER_SOLVERS)}"
            )
        default, allowed = _CLASSIFIER_SOLVERS[key]
        solver = self.solver or default
        if solver not in allowed:
            raise ParameterError(
                f"solver {solver!r} does not handle loss={self.loss!r}, penalty={self.penalty!r};"
                f" use {sorted(allowed)}"
            )
        return solver

    def _train_one(self, design: RBDesign, y: np.ndarray, w0: np.ndarray | None) -> np.ndarray:
        solver, kw = self._solver(), {"max_iter": self.max_iter}
        if self.tol is not None:
            kw["tol"] = self.tol
        if solver == "newton":
            return solvers.solve_logistic(design, y, self.C, w0=w0, **kw)
        return solvers.solve_l1(design, y, self.C, loss=self.loss, w0=w0, **kw)

    def fit(self, X: Any, y: Any) -> RBClassifier:
        """Bin X and train the linear model on the RB features.

        Parameters
        ----------
        X : array-like (n_samples, n_features) or CSR matrix
        y : array-like (n_samples,), at least two classes
        """
        self._solver()
        y = _check_y(y, X.shape[0] if hasattr(X, "shape") else len(X))
        classes, encoded = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            found = f"a single class ({classes[0]!r})" if len(classes) else "no labels"
            raise InputError(f"y has {found}; a classifier needs two")
        old_coef = getattr(self, "coef_", None)
        design, carry = self._fit_design(X)
        self.classes_ = classes
        targets = (
            [np.where(encoded == 1, 1.0, -1.0)]
            if len(classes) == 2
            else [np.where(encoded == k, 1.0, -1.0) for k in range(len(classes))]
        )
        start = _carry(old_coef, carry) if carry is not None and old_coef is not None else None
        if self._solver() == "dcd":  # dual CD has no primal warm start; classes run in parallel
            seed = int(np.random.default_rng(self.random_state).integers(2**31))
            kw = {} if self.tol is None else {"tol": self.tol}
            self.coef_ = solvers.solve_svm_classes(
                design,
                np.stack(targets),
                self.C,
                squared=self.loss == "squared_hinge",
                max_iter=self.max_iter,
                random_state=seed,
                **kw,
            )
            return self
        coefs = [
            self._train_one(design, t, None if start is None else start[:, k])
            for k, t in enumerate(targets)
        ]
        self.coef_ = np.stack(coefs, axis=1)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Margins w.z(x): shape (n,) for two classes, (n, K) otherwise."""
        design = self._design(X)
        scores = np.stack([design.dot(self.coef_[:, k]) for k in range(self.coef_.shape[1])], 1)
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict(self, X: Any) -> np.ndarray:
        """Class labels."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[scores.argmax(axis=1)]


class RBRegressor(RegressorMixin, _RBBase):
    """Random Binning features + ridge (or L1) regression, the paper's kernel-ridge setting.

    Parameters
    ----------
    n_grids, sigma, kernel, random_state, warm_start
        As :class:`RBClassifier`.
    alpha : float, default=1.0
        L2 weight: min 1/2 ||Z w - y||^2 + alpha/2 ||w||^2 (same minimiser as scikit-learn's
        ``Ridge(alpha)``). With ``penalty="l1"``: min ||w||_1 + (1/alpha) 1/2 ||Z w - y||^2.
    penalty : {"l2", "l1"}, default="l2"
    solver : {"cg", "bcd", "pcd"} or None
        Preconditioned conjugate gradients (the paper's experiments), exact block CD over
        grids (converges linearly, slowly when grids are strongly coupled), or parallel
        proximal CD (L1). ``None``: "cg" for L2, "pcd" for L1.
    tol : float or None
    max_iter : int, default=500
    """

    def __init__(
        self,
        n_grids: int = 256,
        sigma: float = 1.0,
        kernel: str = "laplacian",
        alpha: float = 1.0,
        penalty: str = "l2",
        solver: str | None = None,
        tol: float | None = None,
        max_iter: int = 500,
        warm_start: bool = False,
        random_state: Any = None,
    ) -> None:
        self.n_grids = n_grids
        self.sigma = sigma
        self.kernel = kernel
        self.alpha = alpha
        self.penalty = penalty
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> RBRegressor:
        """Bin X and fit the regression weights."""
        allowed = {"l2": {"bcd", "cg"}, "l1": {"pcd"}}
        if self.penalty not in allowed:
            raise ParameterError(f"penalty must be 'l2' or 'l1', got {self.penalty!r}")
        solver = self.solver or ("cg" if self.penalty == "l2" else "pcd")
        if solver not in allowed[self.penalty]:
            raise ParameterError(f"solver {solver!r} does not do penalty={self.penalty!r}")
        y = _check_y(y, X.shape[0] if hasattr(X, "shape") else len(X)).astype(np.float64)
        if not np.isfinite(y).all():
            raise InputError("y contains NaN or infinity")
        old = getattr(self, "coef_", None)
        design, carry = self._fit_design(X)
        w0 = _carry(old, carry) if carry is not None and old is not None else None
        kw: dict[str, Any] = {"max_iter": self.max_iter, "w0": w0}
        if self.tol is not None:
            kw["tol"] = self.tol
        if solver == "bcd":
            self.coef_ = solvers.solve_ridge_bcd(design, y, self.alpha, **kw)
        elif solver == "cg":
            self.coef_ = solvers.solve_ridge_cg(design, y, self.alpha, **kw)
        else:
            self.coef_ = solvers.solve_l1(design, y, 1.0 / self.alpha, loss="squared", **kw)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets Z(x) w."""
        return self._design(X).dot(self.coef_)
