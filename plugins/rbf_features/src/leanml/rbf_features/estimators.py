"""scikit-learn estimators: RB features + a solver from :mod:`.solvers`."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from leanml.core import InputError, ParameterError
from leanml.core.threads import thread_limits

from . import solvers
from ._digest import fingerprint
from ._parallel import serial_below
from .binning import RandomBinningFeatures, _validate_X
from .solvers import RBDesign

__all__ = ["RBClassifier", "RBRegressor"]

# (loss, penalty) -> (default solver, allowed solvers)
_CLASSIFIER_SOLVERS = {
    ("hinge", "l2"): ("dcd", {"dcd"}),
    ("squared_hinge", "l2"): ("dcd", {"dcd"}),
    ("logistic", "l2"): ("newton", {"newton"}),
    ("squared_hinge", "l1"): ("pcd", {"pcd"}),
    ("logistic", "l1"): ("pcd", {"pcd"}),
}


def _label_kind(y: np.ndarray) -> tuple[str, tuple | None]:
    """``(type_of_target(y), np.unique(y, return_inverse=True) or None)``.

    1-d numeric labels (finite, checked before) are answered directly, by the same rule
    (integral values; binary up to two distinct ones) without ``type_of_target``'s generic
    input checks, which took a tenth of an R = 16 fit on shuttle; the classes found on the
    way are returned.
    """
    if y.ndim != 1 or y.dtype.kind not in "biuf":
        return type_of_target(y), None
    if y.dtype.kind == "f" and (y != y.astype(int)).any():
        return "continuous", None
    found = _integer_classes(y) if y.dtype.kind in "iu" else None
    if found is None:
        found = np.unique(y, return_inverse=True)
    return ("binary" if found[0].shape[0] <= 2 else "multiclass"), found


def _integer_classes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``np.unique(y, return_inverse=True)`` by counting, for integer labels in a range of
    at most 2n + 16 values (else None): 0.05 against 0.25 ms on shuttle's 10,000 labels."""
    lo, hi = int(y.min()), int(y.max())
    if hi - lo > 2 * y.shape[0] + 16 or max(hi, -lo) >= 2**62:
        return None
    shifted = y.astype(np.int64) - lo  # in int64: y - lo may overflow a narrow dtype
    present = np.bincount(shifted, minlength=hi - lo + 1) > 0
    classes = (np.flatnonzero(present) + lo).astype(y.dtype)
    return classes, (np.cumsum(present) - 1)[shifted]


class _RBBase(BaseEstimator):
    """Shared plumbing: validation, the binning, warm start, threads and the design matrix."""

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @contextmanager
    def _threads(self, X: Any, n_targets: int = 1) -> Iterator[None]:
        """``n_jobs`` threads, or one when the work is too small for parallel regions."""
        if self.n_jobs is not None and (
            not isinstance(self.n_jobs, (int, np.integer)) or self.n_jobs < 1
        ):
            raise ParameterError(f"n_jobs must be None or an integer >= 1, got {self.n_jobs!r}")
        R = self.n_grids if isinstance(self.n_grids, (int, np.integer)) else 1  # checked later
        work = X.shape[0] * int(R) * max(X.shape[1], n_targets)
        with ExitStack() as stack:
            if self.n_jobs is not None:
                stack.enter_context(thread_limits(int(self.n_jobs)))
            stack.enter_context(serial_below(work))
            yield

    def _check_Xyw(self, X: Any, y: Any, sample_weight: Any) -> tuple[Any, np.ndarray, Any]:
        if y is None:
            raise InputError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        X = _validate_X(X)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1 and isinstance(self, RBClassifier):
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected; it is flattened",
                DataConversionWarning,
                stacklevel=3,
            )
            y = y.ravel()
        if y.shape[0] != X.shape[0]:
            raise InputError(f"X has {X.shape[0]} rows but y has {y.shape[0]} entries")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.shape != (X.shape[0],):
                raise InputError(
                    f"sample_weight must have shape ({X.shape[0]},), got {sample_weight.shape}"
                )
            if not np.isfinite(sample_weight).all() or (sample_weight < 0).any():
                raise InputError("sample_weight must be finite and >= 0")
            if not (sample_weight > 0).any():
                raise InputError("sample_weight is zero everywhere")
        return X, y, sample_weight

    def _fit_design(
        self, X: Any, key: str, sample_weight: Any = None
    ) -> tuple[RBDesign, tuple | None, bool]:
        """Bin X (``sample_weight`` weights the rows of the automatic bandwidth). Returns
        the design, the old/new grid offsets when the previous primal weights map onto the
        new columns, and whether the rows are those of the last fit."""
        old = getattr(self, "binning_", None) if self.warm_start else None
        binning = RandomBinningFeatures(
            n_grids=self.n_grids,
            sigma=self.sigma,
            kernel=self.kernel,
            random_state=self.random_state,
        )
        same_rows = old is not None and getattr(self, "_data_key", None) == key
        kept = getattr(self, "_train_cols", None)
        previous = (old, kept) if same_rows and kept is not None else None
        cols = binning._fit_ids_validated(X, previous, sample_weight)  # X checked by fit
        if self.warm_start:  # the next warm fit bins only the grids it adds
            self._train_cols = cols
        elif hasattr(self, "_train_cols"):
            del self._train_cols
        carry = None
        if old is not None:
            reason = _why_not_same_grids(old, binning, self.random_state, same_rows)
            if reason is None:
                carry = (old.grid_offsets_, binning.grid_offsets_)
            elif not (same_rows and self._dual_warm_start()):
                warnings.warn(f"warm_start ignored: {reason}", UserWarning, stacklevel=3)
        self.binning_ = binning
        self.n_features_in_ = binning.n_features_in_
        self._data_key = key
        return RBDesign(cols, binning.grid_offsets_), carry, same_rows

    def _dual_warm_start(self) -> bool:
        return False

    def _design(self, X: Any) -> RBDesign:
        check_is_fitted(self, "binning_")
        # X checked by the caller
        return RBDesign(self.binning_._transform_ids(X), self.binning_.grid_offsets_)


def _why_not_same_grids(
    old: RandomBinningFeatures, new: RandomBinningFeatures, seed: Any, same_rows: bool
) -> str | None:
    """Why the previous weights cannot seed this fit, or None when they can."""
    if not same_rows:
        return "the training data changed"
    if not isinstance(seed, (int, np.integer)):
        return "random_state is not an integer, so the grids are drawn anew"
    if old.n_grids > new.n_grids:
        return "n_grids decreased"
    R = old.n_grids
    same = (
        old.sigma_ == new.sigma_
        and old.kernel == new.kernel
        and np.array_equal(old.n_bins_per_grid_, new.n_bins_per_grid_[:R])
        and np.array_equal(old._aT, new._aT[:, :R])
    )
    return None if same else "sigma or kernel changed, so the grids differ"


def _carry(w_old: np.ndarray, offsets: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Old weights placed on the new columns: grid r's columns keep their order."""
    old_off, new_off = offsets
    w = np.zeros((new_off[-1], *w_old.shape[1:]))
    for r in range(len(old_off) - 1):
        w[new_off[r] : new_off[r] + old_off[r + 1] - old_off[r]] = w_old[
            old_off[r] : old_off[r + 1]
        ]
    return w


def _newton_targets(
    design: RBDesign,
    targets: np.ndarray,
    C: float,
    start: np.ndarray | None,
    fit_intercept: bool,
    b0: np.ndarray | None,
    kw: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trust-region Newton for each one-vs-rest target in turn: ``(W (D, K), b (K,), n_iter)``."""
    W, B, n_iter = np.zeros((design.n_columns, len(targets))), np.zeros(len(targets)), []
    for k, t in enumerate(targets):
        out = solvers.solve_logistic(
            design,
            t,
            C,
            w0=None if start is None else start[:, k],
            return_n_iter=True,
            fit_intercept=fit_intercept,
            b0=0.0 if b0 is None else float(b0[k]),
            **kw,
        )
        W[:, k], n_iter = out[0], [*n_iter, out[-1]]
        if fit_intercept:
            B[k] = out[1]
    return W, B, np.array(n_iter)


class RBClassifier(ClassifierMixin, _RBBase):
    """Random Binning features + a linear classifier trained by a tailored solver.

    Binary problems train one weight vector; K > 2 classes train K one-vs-rest vectors, in
    parallel over classes.

    Parameters
    ----------
    n_grids : int, default=256
        R, number of random grids.
    sigma : float, "auto" or None, default="auto"
        Kernel bandwidth; the Laplacian kernel is exp(-||x - y||_1 / sigma). ``"auto"`` (or
        ``None``): a quarter of the median L1 distance between training rows (see
        :class:`~leanml.rbf_features.RandomBinningFeatures`).
    kernel : str, default="laplacian"
        See :data:`leanml.rbf_features.KERNELS`.
    loss : {"hinge", "squared_hinge", "logistic"}, default="hinge"
    penalty : {"l2", "l1"}, default="l2"
        L1 is available for "squared_hinge" and "logistic".
    C : float, default=1.0
        Weight of the loss: min reg(w) + C sum_i s_i loss_i, as LIBLINEAR.
    fit_intercept : bool, default=False
        Add an unpenalised bias b to the margins, w.z(x) + b (the penalty covers w only,
        unlike LIBLINEAR's penalised augmented feature). Primal solvers update b as one
        more coordinate; dual CD finds it as the multiplier of the dual's equality
        constraint by a root search, a few warm-started dual CD solves (see
        :mod:`leanml.rbf_features.solvers`). Off by default, unlike scikit-learn's linear
        classifiers: the bins of a grid partition the space, so a constant is already
        representable (penalised like every weight, lightly: R grids share it), and on the
        registered data sets the free bias changed test accuracy by -0.2 to +0.7 points
        while the default dual CD took 1.2-2.4x longer (plugin README).
    class_weight : dict, "balanced" or None
        Multiplies the weight of each sample by its class's weight (in every one-vs-rest
        problem), as ``compute_sample_weight``.
    solver : {"dcd", "newton", "pcd"} or None
        Dual coordinate descent (L2 SVM), trust-region Newton (L2 logistic) or the paper's
        proximal CD (L1). ``None`` picks the one for ``loss`` and ``penalty``.
    tol : float or None
        Solver tolerance; ``None`` uses the solver's default.
    max_iter : int, default=1000
    warm_start : bool, default=False
        Refit on the same data starting from the last solution: dual CD keeps its dual
        variables (valid for any grids); the primal solvers keep the weights of the grids
        that are unchanged (a larger ``n_grids`` with the same integer seed), and only the
        added grids are binned (the model then keeps the training ids, n x R integers). A
        warning says when the previous solution cannot be used.
    n_jobs : int or None
        Threads for binning and the solvers (``None``: leave the current limits).
    random_state : int or None

    Attributes
    ----------
    classes_, coef_ (D, K'), intercept_ (K',) (zeros without ``fit_intercept``), n_iter_
    (largest over one-vs-rest problems; dual CD with an intercept counts the epochs of all
    the search's solves), binning_. K' = 1 for two classes, else the number of classes.
    """

    def __init__(
        self,
        n_grids: int = 256,
        sigma: float | str | None = "auto",
        kernel: str = "laplacian",
        loss: str = "hinge",
        penalty: str = "l2",
        C: float = 1.0,
        fit_intercept: bool = False,
        class_weight: Any = None,
        solver: str | None = None,
        tol: float | None = None,
        max_iter: int = 1000,
        warm_start: bool = False,
        n_jobs: int | None = None,
        random_state: Any = None,
    ) -> None:
        self.n_grids = n_grids
        self.sigma = sigma
        self.kernel = kernel
        self.loss = loss
        self.penalty = penalty
        self.C = C
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.n_jobs = n_jobs
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

    def _dual_warm_start(self) -> bool:
        return self._solver() == "dcd"

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> RBClassifier:
        """Bin X and train the linear model on the RB features.

        Parameters
        ----------
        X : array-like (n_samples, n_features) or CSR matrix
        y : array-like (n_samples,) of class labels, at least two classes
        sample_weight : array-like (n_samples,) or None
            Multiplies each sample's loss (C s_i in place of C).
        """
        solver = self._solver()
        X, y, sample_weight = self._check_Xyw(X, y, sample_weight)
        if y.dtype.kind in "fc" and not np.isfinite(y).all():
            raise InputError("y contains NaN or infinity")
        kind, found = _label_kind(y)
        if kind == "unknown":
            raise InputError(f"Unknown label type: y of dtype {y.dtype} holds no class labels")
        if kind not in ("binary", "multiclass"):
            hint = " (use RBRegressor for regression)" if kind.startswith("continuous") else ""
            raise InputError(f"y must hold class labels, got a {kind} target{hint}")
        classes, encoded = np.unique(y, return_inverse=True) if found is None else found
        if len(classes) < 2:
            found = f"one class only ({classes[0]!r})" if len(classes) else "no labels"
            raise InputError(f"y has {found}; a classifier needs two")
        row_weight = sample_weight  # as repeated rows, for the bandwidth; not the class weights
        if self.class_weight is not None:
            cw = compute_sample_weight(self.class_weight, y)
            sample_weight = cw if sample_weight is None else sample_weight * cw
        key = fingerprint(X, encoded, *(() if sample_weight is None else (sample_weight,)))
        old_coef, old_dual = getattr(self, "coef_", None), getattr(self, "_dual", None)
        old_b = getattr(self, "intercept_", None)
        K = 1 if len(classes) == 2 else len(classes)
        fit_b = bool(self.fit_intercept)
        b0 = old_b if self.warm_start and old_b is not None and old_b.shape == (K,) else None
        with self._threads(X, K):
            design, carry, same_rows = self._fit_design(X, key, row_weight)
            self.classes_ = classes
            targets = np.where(encoded[None, :] == (np.arange(K)[:, None] + (K == 1)), 1.0, -1.0)
            kw: dict[str, Any] = {"max_iter": self.max_iter, "sample_weight": sample_weight}
            if self.tol is not None:
                kw["tol"] = self.tol
            if solver == "dcd":
                dual0 = old_dual if same_rows and old_dual is not None else None
                if dual0 is not None and dual0.shape != targets.shape:
                    dual0 = None
                seed = int(np.random.default_rng(self.random_state).integers(2**31))
                self.coef_, self.intercept_, self._dual, n_iter, _ = solvers.solve_svm_targets(
                    design,
                    targets,
                    self.C,
                    squared=self.loss == "squared_hinge",
                    random_state=seed,
                    dual0=dual0 if self.warm_start else None,
                    fit_intercept=fit_b,
                    b0=b0,
                    **kw,
                )
            else:
                start = None
                if carry is not None and old_coef is not None and old_coef.shape[1] == K:
                    start = _carry(old_coef, carry)
                if start is None:
                    b0 = None
                if solver == "newton":
                    self.coef_, self.intercept_, n_iter = _newton_targets(
                        design, targets, self.C, start, fit_b, b0, kw
                    )
                else:
                    self.coef_, self.intercept_, n_iter, _ = solvers.solve_l1_targets(
                        design,
                        targets,
                        self.C,
                        loss=self.loss,
                        W0=start,
                        fit_intercept=fit_b,
                        b0=b0,
                        **kw,
                    )
        self.n_iter_ = int(np.max(n_iter))
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Margins w.z(x): shape (n,) for two classes, (n, K) otherwise."""
        check_is_fitted(self, "coef_")
        X = _validate_X(X)
        with self._threads(X, self.coef_.shape[1]):
            design = self._design(X)
            scores = np.stack([design.dot(self.coef_[:, k]) for k in range(self.coef_.shape[1])], 1)
        scores += self.intercept_
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict(self, X: Any) -> np.ndarray:
        """Class labels."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[scores.argmax(axis=1)]

    def _is_logistic(self) -> bool:
        return self.loss == "logistic"

    @available_if(_is_logistic)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (logistic loss only): the sigmoid of the margin for two classes;
        for K classes the K one-vs-rest sigmoids normalised to sum to one (as scikit-learn's
        one-vs-rest ``LogisticRegression``)."""
        scores = self.decision_function(X)
        p = 0.5 * (1.0 + np.tanh(0.5 * scores))  # overflow-free sigmoid
        if p.ndim == 1:
            return np.stack([1.0 - p, p], axis=1)
        return p / p.sum(axis=1, keepdims=True)

    @available_if(_is_logistic)
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))


class RBRegressor(RegressorMixin, _RBBase):
    """Random Binning features + ridge (or L1) regression, the paper's kernel-ridge setting.

    ``y`` may have several columns (n, K): the K outputs are solved in parallel (the paper's
    one-vs-all kernel ridge classifier is this with one-hot targets).

    Parameters
    ----------
    n_grids, sigma, kernel, random_state, warm_start, n_jobs
        As :class:`RBClassifier` (warm start keeps the weights of unchanged grids).
    alpha : float, default=1.0
        L2 weight: min 1/2 sum_i s_i (z_i.w + b - y_i)^2 + alpha/2 ||w||^2 (same minimiser
        as scikit-learn's ``Ridge(alpha)``). With ``penalty="l1"``:
        min ||w||_1 + (1/alpha) 1/2 sum_i s_i (z_i.w + b - y_i)^2.
    fit_intercept : bool, default=True
        Fit the unpenalised bias b (as ``Ridge``; it costs one pass over y per epoch);
        ``False`` fixes b = 0, and then an offset in y is shrunk like every weight.
    penalty : {"l2", "l1"}, default="l2"
    solver : {"cg", "bcd", "pcd"} or None
        Preconditioned conjugate gradients (the paper's experiments), exact block CD over
        grids (converges linearly, slowly when grids are strongly coupled), or proximal CD
        (L1). ``None``: "cg" for L2, "pcd" for L1. "bcd" and "pcd" run the outputs in
        parallel; "cg" runs them one after the other.
    tol : float or None
    max_iter : int, default=500

    Attributes
    ----------
    coef_ (D,) or (D, K), intercept_ (float, or (K,) for 2-d y; 0 without ``fit_intercept``),
    n_iter_, binning_
    """

    def __init__(
        self,
        n_grids: int = 256,
        sigma: float | str | None = "auto",
        kernel: str = "laplacian",
        alpha: float = 1.0,
        fit_intercept: bool = True,
        penalty: str = "l2",
        solver: str | None = None,
        tol: float | None = None,
        max_iter: int = 500,
        warm_start: bool = False,
        n_jobs: int | None = None,
        random_state: Any = None,
    ) -> None:
        self.n_grids = n_grids
        self.sigma = sigma
        self.kernel = kernel
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.penalty = penalty
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> RBRegressor:
        """Bin X and fit the regression weights (y of shape (n,) or (n, K))."""
        allowed = {"l2": {"bcd", "cg"}, "l1": {"pcd"}}
        if self.penalty not in allowed:
            raise ParameterError(f"penalty must be 'l2' or 'l1', got {self.penalty!r}")
        solver = self.solver or ("cg" if self.penalty == "l2" else "pcd")
        if solver not in allowed[self.penalty]:
            raise ParameterError(f"solver {solver!r} does not do penalty={self.penalty!r}")
        X, y, sample_weight = self._check_Xyw(X, y, sample_weight)
        if y.dtype == object:  # numbers stored as objects are numbers; anything else is not
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError):
                raise InputError("Unknown label type: y of dtype object is not numeric") from None
        if y.ndim not in (1, 2) or not np.issubdtype(y.dtype, np.number):
            raise InputError(f"y must be numeric of shape (n,) or (n, K), got {y.shape} {y.dtype}")
        y = y.astype(np.float64)
        if not np.isfinite(y).all():
            raise InputError("y contains NaN or infinity")
        Y = y.reshape(len(y), -1).T
        key = fingerprint(X, y, *(() if sample_weight is None else (sample_weight,)))
        old = getattr(self, "coef_", None)
        fit_b = bool(self.fit_intercept)
        with self._threads(X, len(Y)):
            design, carry, _ = self._fit_design(X, key, sample_weight)
            W0 = b0 = None
            if carry is not None and old is not None and old.size // len(old) == len(Y):
                W0 = _carry(old.reshape(len(old), -1), carry)
                b0 = np.ravel(self.intercept_)
            kw: dict[str, Any] = {
                "max_iter": self.max_iter,
                "sample_weight": sample_weight,
                "fit_intercept": fit_b,
            }
            if self.tol is not None:
                kw["tol"] = self.tol
            if solver == "bcd":
                W, B, n_iter, _ = solvers.solve_ridge_bcd_targets(
                    design, Y, self.alpha, W0=W0, b0=b0, **kw
                )
            elif solver == "pcd":
                W, B, n_iter, _ = solvers.solve_l1_targets(
                    design, Y, 1.0 / self.alpha, loss="squared", W0=W0, b0=b0, **kw
                )
            else:
                runs = [
                    solvers.solve_ridge_cg(
                        design,
                        Y[k],
                        self.alpha,
                        w0=None if W0 is None else W0[:, k],
                        return_n_iter=True,
                        b0=0.0 if b0 is None else float(b0[k]),
                        **kw,
                    )
                    for k in range(len(Y))
                ]
                W = np.stack([r[0] for r in runs], 1)
                B = np.array([r[1] if fit_b else 0.0 for r in runs])
                n_iter = np.array([r[-1] for r in runs])
        self.coef_ = W[:, 0] if y.ndim == 1 else W
        self.intercept_ = float(B[0]) if y.ndim == 1 else B
        self.n_iter_ = int(np.max(n_iter))
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets Z(x) w, shape (n,) or (n, K)."""
        check_is_fitted(self, "coef_")
        X = _validate_X(X)
        with self._threads(X, 1 if self.coef_.ndim == 1 else self.coef_.shape[1]):
            design = self._design(X)
            if self.coef_.ndim == 1:
                return design.dot(self.coef_) + self.intercept_
            return np.stack([design.dot(w) for w in self.coef_.T], axis=1) + self.intercept_
