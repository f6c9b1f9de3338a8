"""Peers a user would pick instead: TensorLy CP / Tucker / non-negative CP, scikit-learn NMF
on the unfolding (tensor models), and brute force, a cvxpy + SCS SDP bound and D-Wave's
simulated annealing (boolean QP solvers).

The tensor peers share BinaryLatentFeatures' interface: ``fit(X)`` on an
N x D1 x ... x Dm tensor, ``transform`` / ``predict`` for new rows (the row-mode factor by
least squares against the fixed factors of the other modes), ``storage_bytes()`` at float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from leanml.core import InputError, ParameterError

from ._validation import as_tensor, check_y, positive_int
from .bqp import BQPResult, homogenize

__all__ = [
    "CPPeer",
    "NMFPeer",
    "TuckerPeer",
    "anneal_bqp",
    "nonneg_cp",
    "sdp_bound",
]


def _import_tensorly() -> Any:
    try:
        import tensorly as tl
    except ImportError:
        raise ParameterError("this peer needs TensorLy: pip install 'leanml-bmp[peers]'") from None
    tl.set_backend("numpy")
    return tl


class _TensorPeer:
    """Shared plumbing: parameters, checks, reconstruction of new rows."""

    _PARAMS: tuple[str, ...] = ("rank", "random_state")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self._PARAMS}

    def set_params(self, **params: Any) -> _TensorPeer:
        for key, value in params.items():
            if key not in self._PARAMS:
                raise ParameterError(f"{type(self).__name__} has no parameter {key!r}")
            setattr(self, key, value)
        return self

    def _rows(self, X: Any) -> np.ndarray:
        X = as_tensor(X)
        if X.shape[1:] != self.feature_shape_:
            raise InputError(f"X has rows of shape {X.shape[1:]}, fitted on {self.feature_shape_}")
        return X

    def predict(self, X: Any) -> np.ndarray:
        """Reconstruct the rows of ``X`` through their row-mode factor."""
        return self.inverse_transform(self.transform(X))

    def score(self, X: Any, y: Any = None) -> float:
        """Negative reconstruction RMSE."""
        X = self._rows(X)
        return -float(np.sqrt(np.mean((self.predict(X) - X) ** 2)))


class CPPeer(_TensorPeer):
    """TensorLy ``parafac`` (CP-ALS) of rank R; ``non_negative`` uses ``non_negative_parafac``.

    Parameters
    ----------
    rank
        R, the CP rank.
    non_negative
        Non-negative CP (multiplicative updates); new rows are then fitted by least squares
        and clipped at 0.
    n_iter_max, tol, init
        TensorLy's own arguments (its defaults: 100, 1e-8, "svd").
    random_state
        Seed.
    """

    _PARAMS = ("rank", "non_negative", "n_iter_max", "tol", "init", "random_state")

    def __init__(
        self,
        rank: int = 10,
        non_negative: bool = False,
        n_iter_max: int = 100,
        tol: float = 1e-8,
        init: str = "svd",
        random_state: int | None = None,
    ) -> None:
        self.rank = rank
        self.non_negative = non_negative
        self.n_iter_max = n_iter_max
        self.tol = tol
        self.init = init
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> CPPeer:
        """CP decomposition of ``X``; the row-mode factor is ``factors_[0]``."""
        positive_int("rank", self.rank)
        X = as_tensor(X)
        check_y(X, y)
        if self.non_negative and X.min() < 0:
            raise InputError("non-negative CP needs non-negative data")
        tl = _import_tensorly()
        from tensorly.decomposition import non_negative_parafac, parafac

        fn = non_negative_parafac if self.non_negative else parafac
        cp = fn(
            tl.tensor(X),
            rank=self.rank,
            n_iter_max=self.n_iter_max,
            tol=self.tol,
            init=self.init,
            random_state=self.random_state,
        )
        weights, factors = cp
        factors = [np.asarray(f, dtype=float) for f in factors]
        factors[0] = factors[0] * np.asarray(weights, dtype=float)
        self.factors_ = factors
        self.feature_shape_ = X.shape[1:]
        return self

    def _design(self) -> np.ndarray:
        # (prod D) x R: column r is the outer product of the non-row factors' columns r
        out = self.factors_[1]
        for f in self.factors_[2:]:
            out = (out[:, None, :] * f[None, :, :]).reshape(-1, self.rank)
        return out

    def transform(self, X: Any) -> np.ndarray:
        """Row-mode factor of new rows by least squares (clipped at 0 if non-negative)."""
        X = self._rows(X)
        A = np.linalg.lstsq(self._design(), X.reshape(X.shape[0], -1).T, rcond=None)[0].T
        return np.maximum(A, 0.0) if self.non_negative else A

    def inverse_transform(self, A: np.ndarray) -> np.ndarray:
        return (A @ self._design().T).reshape((A.shape[0], *self.feature_shape_))

    def reconstruct(self) -> np.ndarray:
        """The fitted tensor."""
        return self.inverse_transform(self.factors_[0])

    def storage_bytes(self) -> int:
        """4 R (N + D1 + ... + Dm) bytes (float32 factors, weights folded in)."""
        return 4 * self.rank * sum(f.shape[0] for f in self.factors_)


def nonneg_cp(rank: int = 10, **kwargs: Any) -> CPPeer:
    """``CPPeer(non_negative=True)`` (TensorLy ``non_negative_parafac``)."""
    return CPPeer(rank=rank, non_negative=True, **kwargs)


class TuckerPeer(_TensorPeer):
    """TensorLy ``tucker`` (HOOI) with multilinear rank (r, ..., r) clipped to each mode.

    Parameters
    ----------
    rank
        r, the rank of every mode (an int), or one rank per mode (a tuple).
    n_iter_max, tol, init
        TensorLy's own arguments (its defaults: 100, 1e-4, "svd").
    random_state
        Seed.
    """

    _PARAMS = ("rank", "n_iter_max", "tol", "init", "random_state")

    def __init__(
        self,
        rank: int | tuple[int, ...] = 10,
        n_iter_max: int = 100,
        tol: float = 1e-4,
        init: str = "svd",
        random_state: int | None = None,
    ) -> None:
        self.rank = rank
        self.n_iter_max = n_iter_max
        self.tol = tol
        self.init = init
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> TuckerPeer:
        """Tucker decomposition; ``core_`` and ``factors_`` (orthonormal columns)."""
        X = as_tensor(X)
        check_y(X, y)
        ranks = (self.rank,) * X.ndim if np.isscalar(self.rank) else tuple(self.rank)
        if len(ranks) != X.ndim:
            raise ParameterError(f"rank needs {X.ndim} entries, got {self.rank!r}")
        ranks = tuple(
            min(positive_int("rank", int(r)), d) for r, d in zip(ranks, X.shape, strict=True)
        )
        tl = _import_tensorly()
        from tensorly.decomposition import tucker

        core, factors = tucker(
            tl.tensor(X),
            rank=list(ranks),
            n_iter_max=self.n_iter_max,
            tol=self.tol,
            init=self.init,
            random_state=self.random_state,
        )
        self.core_ = np.asarray(core, dtype=float)
        self.factors_ = [np.asarray(f, dtype=float) for f in factors]
        self.feature_shape_ = X.shape[1:]
        return self

    def _basis(self) -> np.ndarray:
        # r0 x prod(D): row-mode coefficients -> flattened rows: G x_1 I x_2 U1 x_3 U2 ...
        T = self.core_
        for mode, U in enumerate(self.factors_[1:], start=1):
            T = np.moveaxis(np.tensordot(U, T, axes=(1, mode)), 0, mode)
        return T.reshape(T.shape[0], -1)

    def transform(self, X: Any) -> np.ndarray:
        """Row-mode factor of new rows by least squares."""
        X = self._rows(X)
        return np.linalg.lstsq(self._basis().T, X.reshape(X.shape[0], -1).T, rcond=None)[0].T

    def inverse_transform(self, A: np.ndarray) -> np.ndarray:
        return (A @ self._basis()).reshape((A.shape[0], *self.feature_shape_))

    def reconstruct(self) -> np.ndarray:
        """The fitted tensor."""
        return self.inverse_transform(self.factors_[0])

    def storage_bytes(self) -> int:
        """4 (prod r + sum_n N_n r_n) bytes at float32."""
        return 4 * (self.core_.size + sum(f.size for f in self.factors_))


class NMFPeer(_TensorPeer):
    """scikit-learn ``NMF`` on the mode-1 unfolding (N x D1...Dm), rank R.

    Parameters
    ----------
    rank
        R, components.
    max_iter, init
        scikit-learn's arguments (``max_iter`` raised from its 200 to 500 so that it
        converges on the registered data; ``init`` its default, "nndsvda" when R <= min(N, D)).
    random_state
        Seed.
    """

    _PARAMS = ("rank", "max_iter", "init", "random_state")

    def __init__(
        self,
        rank: int = 10,
        max_iter: int = 500,
        init: str | None = None,
        random_state: int | None = None,
    ) -> None:
        self.rank = rank
        self.max_iter = max_iter
        self.init = init
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> NMFPeer:
        """Fit NMF on the unfolding of non-negative ``X``."""
        positive_int("rank", self.rank)
        X = as_tensor(X)
        check_y(X, y)
        if X.min() < 0:
            raise InputError("NMF needs non-negative data")
        import warnings

        from sklearn.decomposition import NMF

        self.model_ = NMF(
            n_components=self.rank,
            init=self.init,
            max_iter=self.max_iter,
            random_state=self.random_state,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=Warning)
            self.codes_ = self.model_.fit_transform(X.reshape(X.shape[0], -1))
        self.feature_shape_ = X.shape[1:]
        return self

    def transform(self, X: Any) -> np.ndarray:
        X = self._rows(X)
        if X.min() < 0:
            raise InputError("NMF needs non-negative data")
        return self.model_.transform(X.reshape(X.shape[0], -1))

    def inverse_transform(self, A: np.ndarray) -> np.ndarray:
        return (A @ self.model_.components_).reshape((A.shape[0], *self.feature_shape_))

    def reconstruct(self) -> np.ndarray:
        """The fitted tensor."""
        return self.inverse_transform(self.codes_)

    def storage_bytes(self) -> int:
        """4 R (N + D) bytes at float32."""
        return 4 * (self.codes_.size + self.model_.components_.size)


# -- boolean QP peers -----------------------------------------------------------------------


def sdp_bound(
    C: np.ndarray,
    b: np.ndarray | None = None,
    n_rounds: int = 100,
    random_state: int | None = None,
    eps: float = 1e-6,
) -> BQPResult:
    """The SDP relaxation of max z'Cz + b'z solved by cvxpy + SCS, rounded like the mixing
    method (same hyperplane rounding with the y0 fix, no local search).

    ``sdp_value`` is the SDP bound (an upper bound on the {0,1} optimum, to SCS's accuracy
    ``eps``); ``z`` / ``value`` the best of ``n_rounds`` roundings of a factor of Y.
    Memory O(n^2): meant for n up to a few hundred.
    """
    try:
        import cvxpy as cp
    except ImportError:
        raise ParameterError("the SDP bound needs cvxpy: pip install 'leanml-bmp[sdp]'") from None
    import time

    from . import _reference

    C = np.asarray(C, dtype=float)
    n = C.shape[0]
    b = np.zeros(n) if b is None else np.asarray(b, dtype=float)
    Q, const = homogenize(C, b)
    t0 = time.perf_counter()
    Y = cp.Variable((n + 1, n + 1), PSD=True)
    prob = cp.Problem(cp.Maximize(cp.trace(Q @ Y)), [cp.diag(Y) == 1])
    prob.solve(solver=cp.SCS, eps=eps)
    if Y.value is None:
        raise InputError(f"SCS did not solve the SDP (status {prob.status})")
    evals, evecs = np.linalg.eigh((Y.value + Y.value.T) / 2)
    V = evecs * np.sqrt(np.maximum(evals, 0.0))
    rng = np.random.default_rng(random_state)
    R = rng.standard_normal((n + 1, n_rounds))
    Z = _reference.round_codes(V, R)
    vals = _reference.values(C, b, Z)
    best = int(np.argmax(vals))
    z, value = Z[best].astype(bool), float(vals[best])
    if value < 0:
        z, value = np.zeros(n, bool), 0.0
    return BQPResult(
        z=z,
        value=value,
        sdp_value=float(prob.value) + const,
        round_values=vals,
        seconds=time.perf_counter() - t0,
        method="sdp-scs",
    )


def anneal_bqp(
    C: np.ndarray,
    b: np.ndarray | None = None,
    num_reads: int = 10,
    num_sweeps: int = 1000,
    random_state: int | None = None,
) -> BQPResult:
    """D-Wave ``SimulatedAnnealingSampler`` (dwave-samplers) on the QUBO min -(z'Cz + b'z).

    Parameters are the sampler's own (its defaults: ``num_reads`` 1 per call here raised to
    10, ``num_sweeps`` 1000). Needs the couplings explicitly: O(n^2) for dense C.
    """
    try:
        from dwave.samplers import SimulatedAnnealingSampler
    except ImportError:
        raise ParameterError(
            "simulated annealing needs dwave-samplers: pip install 'leanml-bmp[anneal]'"
        ) from None
    import time

    C = np.asarray(C, dtype=float)
    n = C.shape[0]
    b = np.zeros(n) if b is None else np.asarray(b, dtype=float)
    t0 = time.perf_counter()
    import dimod

    # upper-triangular QUBO matrix: diagonal = linear terms, (i < j) = couplings
    qubo = -2.0 * np.triu(C, 1)
    qubo[np.diag_indices(n)] = -(np.diag(C) + b)
    bqm = dimod.BinaryQuadraticModel(qubo, "BINARY")
    sampleset = SimulatedAnnealingSampler().sample(
        bqm, num_reads=num_reads, num_sweeps=num_sweeps, seed=random_state
    )
    best = sampleset.first.sample
    z = np.array([best[i] for i in range(n)], dtype=bool)
    value = float(z @ C @ z + b @ z)
    return BQPResult(z=z, value=value, seconds=time.perf_counter() - t0, method="anneal")
