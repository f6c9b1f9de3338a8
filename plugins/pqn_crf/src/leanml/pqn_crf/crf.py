"""``CRF``: an L1 (+ L2) linear-chain CRF with sklearn-crfsuite's interface.

Same model and objective as CRFsuite (``c1`` L1, ``c2`` L2, summed loss, attribute x
label state features, label transitions, labels seen in training), trained by Prox-QN by
default, with multi-threaded Numba inference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from leanml.core import InputError, ParameterError

from . import _kernels
from ._base import SOLVERS, ParamsMixin, run_solver, threads
from .chain import ChainData, ChainObjective
from .features import AttributeIndex
from .solvers import SolverResult

__all__ = ["CRF"]


def _label_arrays(y: Sequence[Any], n_seq: int) -> list[np.ndarray]:
    if isinstance(y, (str, bytes)) or len(y) != n_seq:
        raise InputError(f"X has {n_seq} sequences but y has {len(y)}")
    return [np.asarray(seq) for seq in y]


def _default_passes(it: int) -> int:
    # Tuned on OCR subsets: more CD passes per outer iteration pay for themselves in
    # function evaluations (each pass costs O(m) per coordinate, an evaluation a CRF
    # inference); see the README's benchmark section.
    return min(1 + it // 2, 30)


class CRF(ParamsMixin):
    """Linear-chain CRF with L1/L2 penalties, CRFsuite-compatible.

    Minimises ``c1*||w||_1 + c2*||w||² + sum_i -log p(y_i | x_i)`` (paper: λ = ``c1``).

    Parameters
    ----------
    c1 : L1 coefficient (λ of the paper), >= 0.
    c2 : L2 coefficient (CRFsuite's, without a factor 1/2), >= 0.
    solver : ``"prox-qn"`` (default), ``"owl-qn"``, ``"fista"`` or ``"ista"``.
    m : L-BFGS memory.
    tol : stop when the minimum-norm subgradient's max-norm falls below tol times its
        starting value.
    max_iter, max_evals : budgets (evaluations include line-search trials).
    shrinking : Prox-QN's aggressive working-set shrinking: ``True``, ``False`` or
        ``"auto"`` (default): on when one CD pass over all weights (n_params * 4m flops)
        costs more than a forward-backward pass (n_tokens * K² flops), as with sparse text
        features; off for dense features like OCR pixels, where dropped coordinates come
        back and cost evaluations (see the README).
    inner_passes : CD passes per Prox-QN iteration (int or function of the iteration).
    n_threads : Numba threads for inference (None: Numba's current setting).
    random_state : seed of the coordinate order.

    Attributes
    ----------
    classes_ : labels seen in training (the model's label set).
    attributes_ : the :class:`~leanml.pqn_crf.features.AttributeIndex` built on training data.
    state_weights_ : (n_attributes, K) W; transition_weights_ : (K, K) T[from, to].
    result_ : the solver's :class:`~leanml.pqn_crf.solvers.SolverResult` (trace included).
    objective_ : final objective value.
    """

    def __init__(
        self,
        c1: float = 1.0,
        c2: float = 0.0,
        solver: str = "prox-qn",
        m: int = 20,
        tol: float = 1e-6,
        max_iter: int = 1000,
        max_evals: int | None = None,
        shrinking: bool | str = "auto",
        inner_passes: Any = None,
        n_threads: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.c1 = c1
        self.c2 = c2
        self.solver = solver
        self.m = m
        self.tol = tol
        self.max_iter = max_iter
        self.max_evals = max_evals
        self.shrinking = shrinking
        self.inner_passes = inner_passes
        self.n_threads = n_threads
        self.random_state = random_state

    # -- data -----------------------------------------------------------------------------

    def _encode(self, X: Sequence[Any], y: Sequence[Any] | None, fit: bool) -> ChainData:
        if fit:
            self.attributes_ = AttributeIndex()
            Xc, offsets = self.attributes_.fit_transform(X)
        else:
            self._check_fitted()
            Xc, offsets = self.attributes_.transform(X)
        labels = None
        if y is not None:
            ys = _label_arrays(y, len(offsets) - 1)
            lengths = np.array([len(s) for s in ys])
            bad = np.flatnonzero(lengths != np.diff(offsets))
            if bad.size:
                i = int(bad[0])
                raise InputError(
                    f"sequence {i} has {np.diff(offsets)[i]} tokens but {lengths[i]} labels"
                )
            flat = np.concatenate(ys)
            if fit:
                self.classes_ = np.unique(flat)
            labels = np.searchsorted(self.classes_, flat)
            labels = np.minimum(labels, self.classes_.size - 1)
            unseen = self.classes_[labels] != flat
            if unseen.any():
                raise InputError(
                    f"label {flat[unseen][0]!r} was not seen in training "
                    f"(the model's labels: {', '.join(map(str, self.classes_[:10]))}...)"
                )
        K = self.classes_.size
        return ChainData(Xc, offsets, labels, K)

    def _check_fitted(self) -> None:
        if not hasattr(self, "state_weights_"):
            raise InputError("this CRF is not fitted yet; call fit(X, y) first")

    # -- training -------------------------------------------------------------------------

    def fit(self, X: Sequence[Any], y: Sequence[Any]) -> CRF:
        """Train on sequences ``X`` (token dicts, attribute lists or 2-D arrays) and ``y``."""
        for name in ("c1", "c2"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ParameterError(f"{name} must be finite and >= 0, got {value}")
        if self.solver not in SOLVERS:
            raise ParameterError(f"unknown solver {self.solver!r}; choose one of {SOLVERS}")
        data = self._encode(X, y, fit=True)
        objective = ChainObjective(data, c2=self.c2)
        with threads(self.n_threads, single_blas=True):
            result = run_solver(
                self.solver,
                objective,
                objective.n_params,
                float(self.c1),
                m=self.m,
                tol=self.tol,
                max_iter=self.max_iter,
                max_evals=self.max_evals,
                shrinking=self._shrinking(objective),
                inner_passes=self.inner_passes or _default_passes,
                seed=self.random_state,
            )
        self._set_weights(result.w, objective)
        self.result_: SolverResult = result
        self.objective_ = result.fun
        self.n_iter_ = result.n_iter
        return self

    def _shrinking(self, objective: ChainObjective) -> bool:
        if self.shrinking == "auto":
            data = objective.data
            return objective.n_params * 4 * self.m > data.n_tokens * data.K**2
        if not isinstance(self.shrinking, bool):
            raise ParameterError(f"shrinking must be True, False or 'auto', got {self.shrinking!r}")
        return self.shrinking

    def _set_weights(self, w: np.ndarray, objective: ChainObjective) -> None:
        W, T = objective.split(w)
        self.state_weights_ = W.copy()
        self.transition_weights_ = T.copy()

    @property
    def coef_(self) -> np.ndarray:
        """All weights as one vector ``[W.ravel(), T.ravel()]``."""
        self._check_fitted()
        return np.concatenate([self.state_weights_.ravel(), self.transition_weights_.ravel()])

    # -- inference ------------------------------------------------------------------------

    def _scores(self, data: ChainData) -> np.ndarray:
        return data.scores(self.state_weights_)

    def predict(self, X: Sequence[Any]) -> list[np.ndarray]:
        """Viterbi label sequences."""
        data = self._encode(X, None, fit=False)
        labels = np.empty(data.n_tokens, dtype=np.int64)
        with threads(self.n_threads):
            _kernels.chain_viterbi(
                self._scores(data), self.transition_weights_, data.offsets, data.chunks, labels
            )
        out = self.classes_[labels]
        return [out[s:e] for s, e in zip(data.offsets[:-1], data.offsets[1:], strict=True)]

    def predict_marginals_array(self, X: Sequence[Any]) -> list[np.ndarray]:
        """Per-token label marginals as (n_tokens_i x K) arrays, columns in ``classes_``."""
        data = self._encode(X, None, fit=False)
        P = np.empty((data.n_tokens, self.classes_.size))
        values = np.empty(data.offsets.size - 1)
        dummy = np.zeros(data.n_tokens, dtype=np.int64)
        with threads(self.n_threads):
            _kernels.chain_forward_backward(
                self._scores(data), self.transition_weights_, data.offsets, dummy, data.chunks,
                False, P, values, False,
            )  # fmt: skip
        return [P[s:e] for s, e in zip(data.offsets[:-1], data.offsets[1:], strict=True)]

    def predict_marginals(self, X: Sequence[Any]) -> list[list[dict[Any, float]]]:
        """Per-token ``{label: probability}`` dicts (sklearn-crfsuite's format)."""
        labels = self.classes_.tolist()
        return [
            [dict(zip(labels, row.tolist(), strict=True)) for row in P]
            for P in self.predict_marginals_array(X)
        ]

    def nll(self, X: Sequence[Any], y: Sequence[Any]) -> float:
        """Summed negative log-likelihood of ``y`` (no penalty). Unseen labels raise."""
        data = self._encode(X, y, fit=False)
        obj = ChainObjective(data)
        with threads(self.n_threads):
            return obj.nll_and_residuals(self.coef_)[0]

    def score(self, X: Sequence[Any], y: Sequence[Any]) -> float:
        """Token accuracy. A gold label never seen in training counts as an error."""
        pred = self.predict(X)
        ys = _label_arrays(y, len(pred))
        for i, (p, t) in enumerate(zip(pred, ys, strict=True)):
            if len(p) != len(t):
                raise InputError(f"sequence {i} has {len(p)} tokens but {len(t)} labels")
        return float(np.mean(np.concatenate(pred) == np.concatenate(ys)))
