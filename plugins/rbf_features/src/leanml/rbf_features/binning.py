"""The Random Binning feature map (Wu, Yen, Chen, Yan, KDD 2016, Algorithm 1)."""

from __future__ import annotations

import warnings
from typing import Any

import numba
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from leanml.core import InputError, ParameterError

from . import _kernels
from ._parallel import serial_below
from .bandwidth import median_l1_sigma

__all__ = ["KERNELS", "RandomBinningFeatures", "kernel_matrix", "sample_widths"]

#: Per-dimension kernels k(t), t = |x_j - y_j|, that RB reproduces, with the law of the grid
#: pitch delta (density delta * k''(delta)).
KERNELS = {
    "laplacian": "k(t) = exp(-t/sigma); delta ~ Gamma(shape=2, scale=sigma)",
    "reciprocal": "k(t) = 1/(1 + t/sigma); delta/sigma = sqrt(q)/(1 - sqrt(q)), q ~ U(0, 1)",
    "triangle": "k(t) = max(0, 1 - t/sigma); delta = sigma (a point mass)",
}

# Keep |code| * multiplier arithmetic well inside int64.
_CODE_LIMIT = 2.0**52


def sample_widths(kernel: str, sigma: float, size: Any, rng: np.random.Generator) -> np.ndarray:
    """Draw grid pitches delta whose same-bin probability is the kernel k(t).

    The probability that two points at distance t share a bin of a randomly shifted grid of
    pitch delta is max(0, 1 - t/delta); averaging over delta ~ p(delta) = delta k''(delta)
    gives k(t) for every convex, decreasing k with k(0) = 1 and k(inf) = 0.
    """
    if kernel == "laplacian":
        return rng.gamma(2.0, sigma, size=size)
    if kernel == "reciprocal":
        root = np.sqrt(rng.random(size=size))
        return sigma * root / (1.0 - root)
    if kernel == "triangle":
        return np.full(size, float(sigma))
    raise ParameterError(f"unknown kernel {kernel!r}; choose one of {sorted(KERNELS)}")


def kernel_matrix(X: np.ndarray, Y: np.ndarray, sigma: float, kernel: str = "laplacian"):
    """The exact kernel RB approximates, k(x, y) = prod_j k(|x_j - y_j|), as a dense matrix."""
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    if kernel == "laplacian":
        from sklearn.metrics.pairwise import manhattan_distances

        return np.exp(-manhattan_distances(X, Y) / sigma)
    out = np.ones((X.shape[0], Y.shape[0]))
    for j in range(X.shape[1]):
        t = np.abs(X[:, j, None] - Y[None, :, j]) / sigma
        out *= 1.0 / (1.0 + t) if kernel == "reciprocal" else np.maximum(0.0, 1.0 - t)
    return out


def _validate_X(X: Any, n_features: int | None = None) -> np.ndarray | sp.csr_matrix:
    if sp.issparse(X):
        if X.format != "csr":
            raise InputError(
                f"sparse input must be CSR, got {X.format.upper()}; convert with X.tocsr()"
            )
        if np.iscomplexobj(X.data):
            raise InputError("Complex data not supported: RB bins real numbers")
        X = sp.csr_matrix(X, dtype=np.float64)
        X.sort_indices()
        values = X.data
    else:
        X = np.asarray(X)
        if np.iscomplexobj(X) or (
            X.dtype == object and any(isinstance(v, complex) for v in X.flat)
        ):
            raise InputError("Complex data not supported: RB bins real numbers")
        if X.dtype == object:  # numbers held as Python objects are converted (TypeError if not)
            X = X.astype(np.float64)
        if not np.issubdtype(X.dtype, np.number):
            raise InputError(f"X must be numeric, got dtype {X.dtype}")
        if X.ndim != 2:
            raise InputError(
                f"X must be 2-D (n_samples, n_features), got shape {X.shape}. Reshape your data "
                "with X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for one sample"
            )
        X = np.ascontiguousarray(X, dtype=np.float64)
        values = X
    if X.shape[0] == 0:
        raise InputError("X has no rows")
    if X.shape[1] == 0:
        raise InputError(
            f"X has no columns: 0 feature(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    if not np.isfinite(values).all():
        raise InputError("X contains NaN or infinity")
    if n_features is not None and X.shape[1] != n_features:
        raise InputError(
            f"X has {X.shape[1]} features, but RandomBinningFeatures is expecting {n_features} "
            "features as input"
        )
    return X


class RandomBinningFeatures(TransformerMixin, BaseEstimator):
    """Random Binning (RB) features approximating a product kernel such as exp(-||x-y||_1/sigma).

    Each of the R grids (``n_grids``) draws, per dimension j, a pitch delta_rj from the
    kernel's width law and a shift u_rj ~ U[0, delta_rj). A point falls in one bin per grid,
    bin index floor((x_j - u_rj)/delta_rj) per dimension; every bin holding a training point
    gets its own column, and z(x) has a single entry 1/sqrt(R) per grid, so z(x).z(y) is the
    fraction of grids in which x and y share a bin, an unbiased estimate of k(x, y) with
    exact diagonal 1.

    Parameters
    ----------
    n_grids : int, default=256
        R, the number of random grids; the kernel error falls like 1/sqrt(R).
    sigma : float, "auto" or None, default="auto"
        Bandwidth in the units of X. For the default Laplacian kernel
        k(x, y) = exp(-||x - y||_1 / sigma), i.e. scikit-learn's
        ``laplacian_kernel(gamma=1/sigma)``. (The authors' C++ code takes the inverse, a
        Gamma *rate*; this argument is a real bandwidth.) ``"auto"`` (or ``None``,
        the same) uses a quarter of the median L1 distance between random pairs of training rows
        (:func:`~leanml.rbf_features.bandwidth.median_l1_sigma`), RB's counterpart of
        scikit-learn's ``gamma="scale"``; the value used is ``sigma_``.
    kernel : {"laplacian", "reciprocal", "triangle"}, default="laplacian"
        Per-dimension kernel, see :data:`KERNELS`. RB cannot produce the Gaussian or the L2
        Laplacian: they are not products of convex per-dimension kernels.
    random_state : int, Generator or None
        Seed. With an integer seed, grid r's parameters depend only on the seed and r, so
        a larger ``n_grids`` with the same seed extends the same grids (``warm_start``).
    dtype : numpy dtype, default=np.float64
        dtype of the values of the CSR output. Binning is always done in float64, so float32
        and float64 copies of the same data fall in the same bins.

    Attributes
    ----------
    n_features_in_ : int
    sigma_ : float
        The bandwidth used (``sigma``, or the value the heuristic chose).
    n_bins_per_grid_ : ndarray of shape (R,)
        kappa_r, non-empty training bins of each grid.
    kappa_ : float
        Mean bins per grid, D / R. Close to n_samples means the kernel has collapsed to the
        identity (sigma too small) and a warning is raised.
    n_columns_ : int
        D, the number of output columns.
    grid_offsets_ : ndarray of shape (R + 1,)
        Grid r owns columns ``grid_offsets_[r]:grid_offsets_[r+1]``.
    """

    def __init__(
        self,
        n_grids: int = 256,
        sigma: float | str | None = "auto",
        kernel: str = "laplacian",
        random_state: Any = None,
        dtype: Any = np.float64,
    ) -> None:
        self.n_grids = n_grids
        self.sigma = sigma
        self.kernel = kernel
        self.random_state = random_state
        self.dtype = dtype

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- parameters -------------------------------------------------------------------------

    def _check_params(self) -> None:
        if not isinstance(self.n_grids, (int, np.integer)) or self.n_grids < 1:
            raise ParameterError(f"n_grids must be an integer >= 1, got {self.n_grids!r}")
        if self.sigma is None or isinstance(self.sigma, str):
            if self.sigma not in (None, "auto"):
                raise ParameterError(f"sigma must be 'auto' or a number > 0, got {self.sigma!r}")
        elif not np.isfinite(self.sigma) or self.sigma <= 0:
            raise ParameterError(f"sigma must be a finite number > 0, got {self.sigma!r}")
        if self.kernel not in KERNELS:
            raise ParameterError(f"unknown kernel {self.kernel!r}; choose one of {sorted(KERNELS)}")

    def _draw_grids(self, n_features: int) -> None:
        """Grid parameters, stored transposed (d, R): the kernels loop over grids innermost.

        One stream, drawn grid by grid: the first R grids are the same for any n_grids.
        """
        rng = np.random.default_rng(self.random_state)
        R, d = int(self.n_grids), n_features
        # the loop only draws (in the stream's order); the arithmetic runs once, vectorised
        delta, u = np.empty((R, d)), np.empty((R, d))
        P = np.empty((R, d), dtype=np.uint64)
        for r in range(R):
            delta[r] = sample_widths(self.kernel, self.sigma_, d, rng)
            u[r] = rng.random(d)
            P[r] = rng.integers(0, 2**63, size=d, dtype=np.uint64)
        u *= delta
        self._aT = np.ascontiguousarray((1.0 / delta).T)
        self._bT = np.ascontiguousarray((u / delta).T)
        self._PT = np.ascontiguousarray((P * np.uint64(2) + np.uint64(1)).T)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # a copy: it may be the live __dict__
        if isinstance(self.random_state, (int, np.integer)):
            # redrawn from the seed on unpickling: a third of a model's size at d = 784
            for key in ("_aT", "_bT", "_PT"):
                state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if "n_columns_" in state and "_aT" not in state:
            self._draw_grids(self.n_features_in_)

    @property
    def grid_parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(a, b, P)``, each (R, d): bin index floor(x_j a_rj - b_rj), hash multipliers P."""
        check_is_fitted(self, "n_columns_")
        return self._aT.T, self._bT.T, self._PT.T

    # -- fitting ----------------------------------------------------------------------------

    def _keys(self, X: Any, first: int = 0) -> np.ndarray:
        """(n, R - first) hashed bin keys of dense or CSR ``X`` in grids ``first``, ..., R-1."""
        aT, bT, PT = (np.ascontiguousarray(m[:, first:]) for m in (self._aT, self._bT, self._PT))
        # codes of the value 0, for the sparse trick: only non-zeros change a row's key
        c0T = np.floor(-bT).astype(np.int64)
        if sp.issparse(X):
            with np.errstate(over="ignore"):
                key0 = (c0T.astype(np.uint64) * PT).sum(axis=0, dtype=np.uint64)
            layout = (
                np.empty((0, X.shape[1])),
                X.indptr.astype(np.int64),
                X.indices.astype(np.int64),
                X.data,
                True,
            )
        else:
            key0 = np.zeros(aT.shape[1], dtype=np.uint64)
            empty = np.zeros(1, dtype=np.int64)
            layout = (X, empty, empty, np.zeros(1), False)
        return _kernels.bin_keys(*layout, X.shape[0], aT, bT, PT, key0, c0T)

    def _check_range(self, X: Any) -> None:
        values = X.data if sp.issparse(X) else X
        biggest = float(np.abs(values).max()) if values.size else 0.0
        if biggest * float(self._aT.max()) + float(self._bT.max()) >= _CODE_LIMIT:
            raise InputError(
                f"|X| up to {biggest:.3g} with sigma={self.sigma_:.3g} gives bin indices beyond "
                f"2^52; rescale X or increase sigma"
            )

    def _extends(self, old: RandomBinningFeatures | None) -> bool:
        """Whether this binning's first grids are exactly ``old``'s (same seed, sigma, d)."""
        if old is None or old.n_grids > self.n_grids or old.kernel != self.kernel:
            return False
        if old.sigma_ != self.sigma_ or old.n_features_in_ != self.n_features_in_:
            return False
        R0 = old.n_grids
        mine = (self._aT, self._bT, self._PT)
        theirs = (old._aT, old._bT, old._PT)
        return all(np.array_equal(a, b[:, :R0]) for a, b in zip(theirs, mine, strict=True))

    def _fit_ids(
        self, X: Any, previous: tuple | None = None, sample_weight: Any = None
    ) -> np.ndarray:
        """Fit on ``X``; return the training rows' (n, R) column ids.

        ``previous = (binning, cols)``: a binning fitted on the same rows, and its ids. If
        its grids are this one's first grids, only the new grids are binned.
        ``sample_weight`` only enters the automatic bandwidth. ``X`` is validated
        (``_validate_X``): the estimators check it once, not per step.
        """
        self._check_params()
        n, R = X.shape[0], int(self.n_grids)
        self.n_features_in_ = X.shape[1]
        auto = self.sigma is None or self.sigma == "auto"
        self.sigma_ = median_l1_sigma(X, sample_weight=sample_weight) if auto else float(self.sigma)
        self._draw_grids(X.shape[1])
        self._check_range(X)
        old, old_cols = previous if previous is not None else (None, None)
        R0 = old.n_grids if self._extends(old) else 0
        local, kappa, tk, tid, tstart = _kernels.fit_bins(
            self._keys(X, R0), numba.get_num_threads()
        )
        if R0:  # append the new grids' tables to the old ones
            kappa = np.concatenate([old.n_bins_per_grid_, kappa])
            otk, otid, ostart = old._tables
            tk, tid = np.concatenate([otk, tk]), np.concatenate([otid, tid])
            tstart = np.concatenate([ostart, ostart[-1] + tstart[1:]])
        self._tables = (tk, tid, tstart)
        self.n_bins_per_grid_ = kappa
        self.grid_offsets_ = np.concatenate([[0], np.cumsum(kappa)]).astype(np.int64)
        self.n_columns_ = int(self.grid_offsets_[-1])
        self.kappa_ = self.n_columns_ / self.n_grids
        # D <= n R: int32 ids (half the memory of the solvers' layout) whenever they fit
        self._id_dtype = np.int32 if n * R < 2**31 else np.int64
        new = np.empty((n, R - R0), dtype=self._id_dtype)
        _kernels.to_columns(local, self.grid_offsets_[R0:-1], new)
        cols = new if not R0 else np.concatenate([old_cols.astype(self._id_dtype), new], axis=1)
        if n >= 20 and self.kappa_ > 0.8 * n:
            warnings.warn(
                f"kappa = {self.kappa_:.0f} bins per grid for {n} samples: most points "
                f"sit alone in their bin and the kernel has collapsed towards the identity; "
                f"increase sigma",
                UserWarning,
                stacklevel=3,
            )
        return cols

    def fit(self, X: Any, y: Any = None) -> RandomBinningFeatures:
        """Draw the grids and number the bins that training rows fall in.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or CSR matrix
        y : ignored
        """
        self.fit_transform_ids(X)
        return self

    def transform_ids(self, X: Any) -> np.ndarray:
        """Column ids in the compact layout the solvers use.

        Returns
        -------
        cols : ndarray of shape (n_samples, R), int32 (int64 when n R >= 2^31 at fit)
            ``cols[i, r]`` is the column of the bin row i falls in within grid r, or -1 when
            that bin held no training point (the row then has no feature for that grid).
        """
        check_is_fitted(self, "n_columns_")
        return self._transform_ids(_validate_X(X, self.n_features_in_))

    def _transform_ids(self, X: Any) -> np.ndarray:
        """``transform_ids`` of an ``X`` that ``_validate_X`` has checked."""
        if X.shape[1] != self.n_features_in_:
            _validate_X(X, self.n_features_in_)  # raises its message
        self._check_range(X)
        cols = np.empty((X.shape[0], int(self.n_grids)), dtype=self._id_dtype)
        with serial_below(X.shape[0] * X.shape[1] * int(self.n_grids)):
            _kernels.transform_bins(self._keys(X), self.grid_offsets_[:-1], *self._tables, cols)
        return cols

    def fit_transform_ids(
        self, X: Any, previous: tuple | None = None, sample_weight: Any = None
    ) -> np.ndarray:
        """``fit(X)`` then the compact column ids of the training rows (no second binning).

        ``previous = (binning, cols)`` from a fit on the same rows with the same seed: its
        grids are kept and only the additional ones are binned (warm start).
        ``sample_weight`` (n,) weights the rows for ``sigma="auto"`` (as repeated rows).
        """
        self._check_params()
        return self._fit_ids_validated(_validate_X(X), previous, sample_weight)

    def _fit_ids_validated(
        self, X: Any, previous: tuple | None = None, sample_weight: Any = None
    ) -> np.ndarray:
        """``fit_transform_ids`` of an ``X`` that ``_validate_X`` has checked."""
        R = self.n_grids if isinstance(self.n_grids, (int, np.integer)) else 1  # checked later
        with serial_below(X.shape[0] * X.shape[1] * int(R)):
            return self._fit_ids(X, previous, sample_weight)

    def ids_to_csr(self, cols: np.ndarray) -> sp.csr_matrix:
        """The n x D CSR matrix of a compact id array (entries 1/sqrt(R), -1 dropped)."""
        n, R = cols.shape
        mask = cols >= 0
        indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))])
        index_dtype = np.int32 if max(self.n_columns_, n * R) < 2**31 else np.int64
        indices = cols[mask].astype(index_dtype)
        data = np.full(indices.shape[0], 1.0 / np.sqrt(R), dtype=self.dtype)
        return sp.csr_matrix(
            (data, indices, indptr.astype(index_dtype)), shape=(n, self.n_columns_)
        )

    def transform(self, X: Any) -> sp.csr_matrix:
        """RB features of X as an n x D CSR matrix with at most R entries 1/sqrt(R) per row."""
        return self.ids_to_csr(self.transform_ids(X))

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> sp.csr_matrix:
        """``fit(X).transform(X)``, reusing the training binning."""
        return self.ids_to_csr(self.fit_transform_ids(X))
