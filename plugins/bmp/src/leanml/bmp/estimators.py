"""BinaryLatentFeatures: Binary Matching Pursuit (BMP) for matrices and tensors.

Model (reading (A) of the research notes): a tensor X (N x D1 x ... x Dm) is approximated
row by row as X[i] ~ intercept + sum_k z_ik W_k with binary codes z_ik (the N x K matrix Z)
and real feature tensors W_k (D1 x ... x Dm), optionally of CP rank r. For m = 1 this is the
Latent Feature Lasso matrix model X ~ 1 b' + Z W (Yen et al., ICML 2017).

Fitting (LFL §3-4, BMP abstract): greedy matching pursuit. Each step adds the binary atom
z maximising the descent score ||A'z||^2 / (2 N^2 tau), a PSD boolean QP solved by
:func:`leanml.bmp.bqp.solve_bqp` on the low-rank factor P = A / sqrt(2 N^2 tau) (never
forming the N x N matrix), then runs a fully-corrective proximal-gradient step on the atom
weights c >= 0 (monotone, backtracked) and prunes atoms whose weight is 0.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from leanml.core import InputError, ParameterError

from ._validation import as_tensor, check_y, positive, positive_int
from .bqp import solve_bqp
from .corrective import Gram, prox_gradient, smooth_part

__all__ = ["BinaryLatentFeatures"]

#: Codes of at most this many atoms are found exactly (2^K enumeration) by ``transform``.
EXACT_ENCODE_MAX = 14


class BinaryLatentFeatures:
    """Binary latent features of a matrix or tensor by Binary Matching Pursuit.

    Parameters
    ----------
    n_atoms
        K_max, the budget of binary atoms (columns of Z); fitting stops when it is reached.
    lam
        lambda of the paper, relative to the first greedy score: the atom penalty is
        ``lam * score_1``, and fitting stops when the best atom's score ||A'z||^2/(2 N^2 tau)
        falls to it or below (no descent direction). Must be > 0.
    tau
        tau, the ridge on the features in the convex objective, on data scaled to unit RMS.
        Only lam * tau matters for the path; must be > 0.
    tol
        Stop when a greedy step lowers the objective F by less than ``tol * |F|``.
    max_bytes
        Optional storage budget: stop before an atom would take the model over it (codes at
        one bit each, features and intercept as float32).
    feature_rank
        r: store each feature tensor W_k in CP rank r (tensor reading (A) with low-rank
        features); ``None`` keeps them dense. Ignored for matrix input.
    rank
        k, the mixing-method rank of the boolean QP solver (default: min(32, sqrt(2n) + 1)).
    n_rounds
        T, random-hyperplane roundings per greedy step.
    max_sweeps
        Mixing sweeps per greedy step (it stops earlier on a relative gain below 1e-6).
    n_inner
        Proximal-gradient iterations of each fully-corrective step.
    model
        ``"features"``: reading (A), one coded mode (mode 0) and real feature tensors W_k
        (the LFL objective with atom weights c). ``"tucker"``: reading (B), binary codes on
        every mode in ``coded_modes`` and a continuous ridge-fitted core (see
        :mod:`leanml.bmp.multimode`); ``n_atoms`` then counts the atoms of all modes and
        ``lam`` / ``tau`` / ``tol`` / ``max_bytes`` act as above.
    coded_modes
        Modes carrying binary codes for ``model="tucker"`` (must include 0, the mode
        ``transform`` encodes); ignored by ``"features"``.
    random_state
        Seed of the solver's random vectors, orders and hyperplanes.

    Attributes
    ----------
    codes_ : ndarray of bool, (N, K)
        Z, the learned binary codes of the training rows.
    features_ : ndarray, (K, D1, ..., Dm)
        W, the feature tensors in data units.
    intercept_ : ndarray, (D1, ..., Dm)
        The unpenalised intercept (column means, corrected for the codes' means).
    weights_ : ndarray, (K,)
        c, the atom weights of the convex objective at the end of the greedy path.
    objective_path_ : list of float
        F after each fully-corrective step (non-increasing).
    scores_ : list of float
        Greedy score of each atom when it was added.
    rmse_path_ : list of float
        Training RMSE after each greedy step (data units, before the final refit).
    stop_reason_ : str
        Why fitting stopped: ``"n_atoms"``, ``"score"``, ``"tol"``, ``"max_bytes"``,
        ``"duplicate"``, ``"empty"``, ``"constant"`` or ``"max_iter"`` (4 n_atoms + 4 greedy
        steps, when pruned atoms keep coming back).
    n_atoms_ : int
        K, the atoms kept.
    """

    def __init__(
        self,
        n_atoms: int = 10,
        lam: float = 1e-2,
        tau: float = 1.0,
        tol: float = 1e-6,
        max_bytes: int | None = None,
        feature_rank: int | None = None,
        rank: int | None = None,
        n_rounds: int = 64,
        max_sweeps: int = 30,
        n_inner: int = 200,
        model: str = "features",
        coded_modes: tuple[int, ...] = (0,),
        random_state: int | None = None,
    ) -> None:
        self.n_atoms = n_atoms
        self.lam = lam
        self.tau = tau
        self.tol = tol
        self.max_bytes = max_bytes
        self.feature_rank = feature_rank
        self.rank = rank
        self.n_rounds = n_rounds
        self.max_sweeps = max_sweeps
        self.n_inner = n_inner
        self.model = model
        self.coded_modes = coded_modes
        self.random_state = random_state

    # -- scikit-learn plumbing -------------------------------------------------------
    _PARAMS = (
        "n_atoms",
        "lam",
        "tau",
        "tol",
        "max_bytes",
        "feature_rank",
        "rank",
        "n_rounds",
        "max_sweeps",
        "n_inner",
        "model",
        "coded_modes",
        "random_state",
    )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters."""
        return {p: getattr(self, p) for p in self._PARAMS}

    def set_params(self, **params: Any) -> BinaryLatentFeatures:
        """Set constructor parameters; unknown names raise :class:`ParameterError`."""
        for key, value in params.items():
            if key not in self._PARAMS:
                raise ParameterError(f"BinaryLatentFeatures has no parameter {key!r}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        return f"BinaryLatentFeatures(n_atoms={self.n_atoms}, lam={self.lam}, tau={self.tau})"

    def _validate_params(self) -> None:
        positive_int("n_atoms", self.n_atoms)
        positive("lam", self.lam)
        positive("tau", self.tau)
        if not (isinstance(self.tol, (int, float)) and self.tol >= 0):
            raise ParameterError(f"tol must be a number >= 0, got {self.tol!r}")
        if self.max_bytes is not None:
            positive_int("max_bytes", self.max_bytes)
        if self.feature_rank is not None:
            positive_int("feature_rank", self.feature_rank)
        positive_int("n_rounds", self.n_rounds)
        positive_int("max_sweeps", self.max_sweeps)
        positive_int("n_inner", self.n_inner)
        if self.rank is not None:
            positive_int("rank", self.rank)
        if self.model not in ("features", "tucker"):
            raise ParameterError(f"model must be 'features' or 'tucker', got {self.model!r}")

    # -- fitting ---------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> BinaryLatentFeatures:
        """Learn binary codes and features of ``X`` (N x D1 x ... x Dm); ``y`` is ignored.

        Integer input is cast to float64; NaN/inf, complex and 1-D input raise
        :class:`~leanml.core.InputError`. An all-constant ``X`` gives a model with no atoms
        (the intercept alone) and a warning.
        """
        self._validate_params()
        X = as_tensor(X)
        check_y(X, y)
        N = X.shape[0]
        self.feature_shape_ = X.shape[1:]
        Xm = X.reshape(N, -1)
        D = Xm.shape[1]
        mu = Xm.mean(axis=0)
        Xc = Xm - mu
        scale = float(np.sqrt(np.mean(Xc * Xc)))
        self.scale_ = scale
        self.objective_path_: list[float] = []
        self.scores_: list[float] = []
        self.rmse_path_: list[float] = [scale]
        rng = np.random.default_rng(self.random_state)
        if self.model == "tucker":
            return self._fit_tucker(X, rng)
        if scale == 0.0 or scale < 1e-12 * max(1.0, float(np.abs(mu).max())):
            warnings.warn(
                "X is constant along its first mode: the model is the intercept alone",
                stacklevel=2,
            )
            self._set_model(np.zeros((N, 0), bool), np.zeros((0, D)), mu, np.zeros(0))
            self.stop_reason_ = "constant"
            return self
        Xt = Xc / scale
        tau = float(self.tau)
        gram = Gram(np.zeros((0, 0)), np.zeros((0, D)), float(np.sum(Xt * Xt)), N)
        Z = np.zeros((N, 0), dtype=bool)
        Zbar = np.zeros((N, 0))
        c = np.zeros(0)
        A = Xt.copy()
        F = gram.xx / (2 * N)
        self.objective_path_.append(F)
        lam_abs = None
        step = 1.0
        stop = "n_atoms"
        D_bytes = self._feature_bytes(D)
        for _ in range(4 * self.n_atoms + 4):
            if Z.shape[1] >= min(self.n_atoms, N):
                stop = "n_atoms"
                break
            if self.max_bytes is not None:
                k1 = Z.shape[1] + 1
                if (N * k1 + 7) // 8 + k1 * D_bytes + 4 * D > self.max_bytes:
                    stop = "max_bytes"
                    break
            P = A / np.sqrt(2.0 * N * N * tau)
            res = solve_bqp(
                P=P,
                rank=self.rank,
                max_sweeps=self.max_sweeps,
                n_rounds=self.n_rounds,
                random_state=rng,
            )
            z, score = res.z, res.value
            if lam_abs is None:
                if score <= 0.0:
                    stop = "empty"
                    break
                lam_abs = float(self.lam) * score
                self.lam_abs_ = lam_abs
            if score <= lam_abs:
                stop = "score"
                break
            if z.sum() > N / 2:  # with an intercept, z and 1 - z are the same atom
                z = ~z
            if not z.any():
                stop = "empty"
                break
            if any(np.array_equal(z, Z[:, j]) for j in range(Z.shape[1])):
                stop = "duplicate"
                break
            self.scores_.append(score)
            zb = z - z.mean()
            Z = np.column_stack([Z, z])
            gnew = Zbar.T @ zb
            G = np.block([[gram.G, gnew[:, None]], [gnew[None, :], np.array([[zb @ zb]])]])
            Zbar = np.column_stack([Zbar, zb])
            gram = Gram(G, np.vstack([gram.B, zb @ Xt]), gram.xx, N)
            c = np.append(c, 0.0)
            c, F_new, step, _ = prox_gradient(gram, c, lam_abs, tau, self.n_inner, step=step)
            keep = c > 0
            if not keep.all():
                Z, Zbar, c = Z[:, keep], Zbar[:, keep], c[keep]
                gram = Gram(gram.G[np.ix_(keep, keep)], gram.B[keep], gram.xx, N)
            _, _, W = smooth_part(gram, c, tau)
            A = Xt - (Zbar * np.sqrt(c)) @ W
            F_old = F
            F = F_new
            self.objective_path_.append(F)
            self.rmse_path_.append(scale * float(np.sqrt(np.mean(A * A))))
            if F_old - F <= self.tol * abs(F_old):
                stop = "tol"
                break
        else:  # atoms kept being pruned and re-added: stop rather than loop
            stop = "max_iter"
        self.stop_reason_ = stop
        # rank atoms by c_k ||W_k||^2, then refit the features by least squares
        if Z.shape[1]:
            _, _, W = smooth_part(gram, c, tau)
            order = np.argsort(-(c * np.sum(W * W, axis=1)), kind="stable")
            Z, Zbar, c = Z[:, order], Zbar[:, order], c[order]
        Wt = self._refit(Zbar, Xt, rng)
        features = scale * Wt
        intercept = mu - Z.mean(axis=0) @ features if Z.shape[1] else mu
        self._set_model(Z, features, intercept, c)
        return self

    def _fit_tucker(self, X: np.ndarray, rng: np.random.Generator) -> BinaryLatentFeatures:
        """Reading (B) on the whole tensor (centred by its grand mean, unit RMS)."""
        from .multimode import fit_multimode, mode_dot
        from .multimode import storage_bytes as tucker_bytes

        modes = tuple(int(m) for m in np.atleast_1d(self.coded_modes))
        if 0 not in modes or len(set(modes)) != len(modes) or max(modes) >= X.ndim:
            raise ParameterError(
                f"coded_modes must be distinct modes of the {X.ndim}-way input and include 0, "
                f"got {self.coded_modes!r}"
            )
        if min(modes) < 0:
            raise ParameterError(f"coded_modes must be >= 0, got {self.coded_modes!r}")
        mu = float(X.mean())
        scale = float(np.sqrt(np.mean((X - mu) ** 2)))
        if scale == 0.0 or scale < 1e-12 * max(1.0, abs(mu)):
            warnings.warn("X is constant: the model is the intercept alone", stacklevel=3)
            self._set_model(
                np.zeros((X.shape[0], 0), bool),
                np.zeros((0, int(np.prod(X.shape[1:])))),
                np.full(int(np.prod(X.shape[1:])), mu),
                np.zeros(0),
            )
            self.stop_reason_ = "constant"
            self.mode_codes_ = [np.zeros((X.shape[m], 0), bool) for m in modes]
            self.core_ = np.full((1,) * X.ndim, mu)
            self._tucker_bytes = 4
            return self
        solver = {"rank": self.rank, "max_sweeps": self.max_sweeps, "n_rounds": self.n_rounds}
        out = fit_multimode(
            (X - mu) / scale,
            modes,
            self.n_atoms,
            float(self.lam),
            float(self.tau),
            float(self.tol),
            self.max_bytes,
            rng,
            solver,
        )
        F, G = out["factors"], scale * out["core"]
        B = G  # G x_{m >= 1} F_m: one slab per mode-0 column (the first is the ones column)
        for m in range(1, X.ndim):
            if F[m] is not None:
                B = mode_dot(B, F[m], m)
        B = B.reshape(B.shape[0], -1)
        Z0 = F[0][:, 1:] > 0.5
        self._set_model(Z0, B[1:], mu + B[0], np.ones(Z0.shape[1]))
        self.mode_codes_ = [F[m][:, 1:] > 0.5 for m in modes]
        self.core_ = G
        self.atom_modes_ = out["modes"]
        self.objective_path_ = out["objective_path"]
        self.rmse_path_ = [scale * r for r in out["rmse_path"]]
        self.scores_ = out["scores"]
        self.stop_reason_ = out["stop_reason"]
        self.coded_modes_ = modes
        self._tucker_bytes = tucker_bytes(F, modes, X.shape)
        return self

    def _feature_bytes(self, D: int) -> int:
        shape = self.feature_shape_
        if self.feature_rank is not None and len(shape) > 1:
            return 4 * self.feature_rank * int(sum(shape))
        return 4 * D

    def _refit(self, Zbar: np.ndarray, Xt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Least-squares features for fixed codes (CP rank r per atom when asked)."""
        K = Zbar.shape[1]
        if K == 0:
            return np.zeros((0, Xt.shape[1]))
        G = Zbar.T @ Zbar
        ridge = 1e-10 * np.trace(G) / K
        W = np.linalg.solve(G + ridge * np.eye(K), Zbar.T @ Xt)
        shape = self.feature_shape_
        self.feature_factors_ = None
        if self.feature_rank is None or len(shape) < 2:
            return W
        from .cp import cp_als, cp_to_tensor

        # block coordinate descent over atoms: for fixed others, the best rank-r W_k is the
        # rank-r projection of the block least-squares target (a weighted projection with
        # weight ||zbar_k||^2, so the same minimiser)
        factors: list[list[np.ndarray] | None] = [None] * K
        norms = np.einsum("ik,ik->k", Zbar, Zbar)
        R = Xt - Zbar @ W
        for _ in range(5):
            for k in range(K):
                R += np.outer(Zbar[:, k], W[k])
                target = (Zbar[:, k] @ R) / norms[k]
                factors[k] = cp_als(
                    target.reshape(shape), self.feature_rank, 20, init=factors[k], rng=rng
                )
                W[k] = cp_to_tensor(factors[k]).ravel()
                R -= np.outer(Zbar[:, k], W[k])
        self.feature_factors_ = factors
        return W

    def _set_model(
        self, Z: np.ndarray, W: np.ndarray, intercept: np.ndarray, c: np.ndarray
    ) -> None:
        self.codes_ = Z.astype(bool)
        self.features_ = W.reshape((W.shape[0], *self.feature_shape_))
        self.intercept_ = intercept.reshape(self.feature_shape_)
        self.weights_ = c
        self.n_atoms_ = int(Z.shape[1])

    # -- using a fitted model ----------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "codes_"):
            raise InputError("this BinaryLatentFeatures is not fitted yet; call fit(X) first")

    def _rows(self, X: Any) -> np.ndarray:
        X = as_tensor(X)
        if X.shape[1:] != tuple(self.feature_shape_):
            raise InputError(
                f"X has rows of shape {X.shape[1:]}, the model was fitted on "
                f"{tuple(self.feature_shape_)}"
            )
        return X.reshape(X.shape[0], -1)

    def transform(self, X: Any) -> np.ndarray:
        """Binary codes (N x K, bool) of the rows of ``X`` for the learned features.

        Each row's code minimises ||x - intercept - sum_k z_k W_k||^2: exactly by
        enumeration for K <= 14, else by 1-flip local search from the rounded
        least-squares code and from zero.
        """
        from . import _kernels

        self._check_fitted()
        Xm = self._rows(X)
        K = self.n_atoms_
        if K == 0:
            return np.zeros((Xm.shape[0], 0), dtype=bool)
        W = self.features_.reshape(K, Xm.shape[1])
        Rm = Xm - self.intercept_.ravel()
        G = W @ W.T
        Bq = 2.0 * Rm @ W.T
        exact = K <= EXACT_ENCODE_MAX
        if exact:
            Z0 = np.zeros((Xm.shape[0], K), dtype=np.uint8)
        else:
            ls = np.linalg.lstsq(W.T, Rm.T, rcond=None)[0].T
            Z0 = (ls > 0.5).astype(np.uint8)
        Z = _kernels.threaded(
            _kernels.encode_rows, 0, G, np.ascontiguousarray(Bq), Z0, 1000, exact, axis_arg=(1, 2)
        )
        return Z.astype(bool)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """Reconstruction intercept + sum_k z_k W_k, shape (N, D1, ..., Dm)."""
        self._check_fitted()
        Z = np.asarray(Z)
        if Z.ndim != 2 or Z.shape[1] != self.n_atoms_:
            raise InputError(f"Z must have shape (N, {self.n_atoms_}), got {Z.shape}")
        W = self.features_.reshape(self.n_atoms_, self.intercept_.size)
        out = self.intercept_.ravel() + Z.astype(float) @ W
        return out.reshape((Z.shape[0], *self.feature_shape_))

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit, then return the training codes ``codes_``."""
        return self.fit(X).codes_

    def reconstruct(self) -> np.ndarray:
        """The fitted reconstruction of the training tensor, intercept + Z W."""
        self._check_fitted()
        return self.inverse_transform(self.codes_)

    def predict(self, X: Any) -> np.ndarray:
        """Reconstruct ``X`` through its codes: ``inverse_transform(transform(X))``."""
        return self.inverse_transform(self.transform(X))

    def score(self, X: Any, y: Any = None) -> float:
        """Negative reconstruction RMSE of ``X`` (greater is better, as in scikit-learn)."""
        Xm = self._rows(X)
        diff = self.predict(X).reshape(Xm.shape) - Xm
        return -float(np.sqrt(np.mean(diff * diff)))

    def storage_bytes(self) -> int:
        """Bytes to store the model: codes at 1 bit, features and intercept as float32.

        For ``model="tucker"``: the codes of every coded mode at 1 bit plus the float32 core.
        """
        self._check_fitted()
        if getattr(self, "_tucker_bytes", None) is not None and self.model == "tucker":
            return int(self._tucker_bytes)
        N, K = self.codes_.shape
        D = int(np.prod(self.feature_shape_))
        if self.feature_rank is not None and len(self.feature_shape_) > 1:
            feat = 4 * K * self.feature_rank * int(sum(self.feature_shape_))
        else:
            feat = 4 * K * D
        return (N * K + 7) // 8 + feat + 4 * D
