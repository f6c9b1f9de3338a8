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
from .chain import PAIRS, ChainData, ChainObjective
from .features import AttributeIndex
from .solvers import SolverResult

# The CD passes an inner solve is counted at by the "auto" shrinking rule (0.2's cap of the
# schedule; the cap is 100 now, but inner_tol usually ends a solve sooner). Kept fixed so
# the rule's decisions on the registered data sets did not move with the schedule.
_PASSES_ESTIMATE = 30

__all__ = ["CRF"]


def _label_arrays(y: Sequence[Any], n_seq: int) -> list[np.ndarray]:
    if isinstance(y, (str, bytes)):
        raise InputError("y must be a list of label sequences, got a single string")
    if len(y) != n_seq:
        raise InputError(f"X has {n_seq} sequences but y has {len(y)}")
    out = []
    for i, seq in enumerate(y):
        if isinstance(seq, (str, bytes)):
            raise InputError(
                f"y[{i}] is the string {seq[:20]!r}...: a label sequence must be a list of "
                "labels, one per token (split a tag string first, e.g. s.split())"
            )
        out.append(np.asarray(seq))
    return out


class CRF(ParamsMixin):
    """Linear-chain CRF with L1/L2 penalties, CRFsuite-compatible.

    Minimises ``c1*||w||_1 + c2*||w||² + sum_i -log p(y_i | x_i)`` (paper: λ = ``c1``).

    Parameters
    ----------
    c1 : L1 coefficient (λ of the paper), >= 0.
    c2 : L2 coefficient (CRFsuite's, without a factor 1/2), >= 0.
    pairs : ``"observed"`` (default, CRFsuite's default): only attribute x label pairs and
        label bigrams seen in training are weights; ``"all"``: every pair (CRFsuite's
        ``feature.possible_states`` / ``possible_transitions``).
    solver : ``"prox-qn"`` (default), ``"owl-qn"``, ``"fista"`` or ``"ista"``.
    m : L-BFGS memory (40: on OANC POS, m = 20 needed 600 evaluations to reach CRFsuite's
        final objective, m = 40 467, both with the default inner schedule).
    tol, delta, period : stopping tests, whichever passes first (both over all weights):
        the minimum-norm subgradient's max-norm (zero exactly at the optimum) falls below
        ``tol`` times ||∇ℓ(0)||∞; or the objective fell by less than a fraction ``delta``
        over the last ``period`` iterations (CRFsuite's rule at half its ``delta = 1e-5``:
        with CRFsuite's value Prox-QN stopped 4.8e-5 above CRFsuite's own final objective on
        OANC, with 5e-6 1.0e-5 below it; ``delta=0`` disables the test). See
        :func:`~leanml.pqn_crf.solvers.prox_qn` and the README ("When it stops").
    max_iter, max_evals : budgets (evaluations include line-search trials); reaching
        ``max_iter`` warns with :class:`~leanml.pqn_crf.solvers.ConvergenceWarning`.
    shrinking : Prox-QN's aggressive working-set shrinking: ``True``, ``False`` or
        ``"auto"`` (default): on when a full inner solve over all weights (~30 CD passes of
        n_params * 4m flops) costs more than a forward-backward pass (n_tokens * K² flops),
        or there are more weights than tokens, as with sparse text features; off for dense
        features like OCR pixels, where dropped coordinates come back and cost evaluations
        (see the README).
    inner_passes : CD passes per Prox-QN iteration (int or function of the iteration);
        ``None``: :func:`~leanml.pqn_crf.solvers.default_passes`.
    n_threads : Numba threads for inference (None: Numba's current setting); the setting
        is restored when ``fit`` returns.
    warm_start : start ``fit`` from the previous solution (weights matched by attribute
        name and label), as for a path over ``c1`` (see :meth:`path`).
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
        pairs: str = "observed",
        solver: str = "prox-qn",
        m: int = 40,
        tol: float = 1e-5,
        delta: float = 5e-6,
        period: int = 10,
        max_iter: int = 1000,
        max_evals: int | None = None,
        shrinking: bool | str = "auto",
        inner_passes: Any = None,
        n_threads: int | None = None,
        warm_start: bool = False,
        random_state: int = 0,
    ) -> None:
        self.c1 = c1
        self.c2 = c2
        self.pairs = pairs
        self.solver = solver
        self.m = m
        self.tol = tol
        self.delta = delta
        self.period = period
        self.max_iter = max_iter
        self.max_evals = max_evals
        self.shrinking = shrinking
        self.inner_passes = inner_passes
        self.n_threads = n_threads
        self.warm_start = warm_start
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
        self._check_params()
        previous = self._previous_weights() if self.warm_start else None
        data = self._encode(X, y, fit=True)
        objective = ChainObjective(data, c2=self.c2, pairs=self.pairs)
        w0, scale = None, None
        if previous is not None:
            w0 = self._warm_vector(previous, objective)
            scale = self._loss_scale(objective)
        self._solve(objective, float(self.c1), w0, scale)
        return self

    def _loss_scale(self, objective: ChainObjective) -> float:
        """||∇l(0)||_∞: the scale of ``tol`` for a warm start (as for a cold one)."""
        with threads(self.n_threads, single_blas=True):
            return float(np.abs(objective(np.zeros(objective.n_params))[1]).max())

    def path(self, X: Sequence[Any], y: Sequence[Any], c1_values: Sequence[float]) -> list[dict]:
        """Fit for each ``c1`` in ``c1_values`` (largest first), each warm-started from the last.

        Users tune c1; a path reuses one encoding of the data and starts each fit from the
        previous, sparser solution. The estimator ends fitted at the last (smallest) c1.

        Returns
        -------
        list of dicts, one per c1 in the order solved: ``c1``, ``objective``, ``nnz``,
        ``n_evals``, ``n_iter``, ``converged``, ``coef`` (the weight vector, as ``coef_``).
        """
        values = sorted((float(c) for c in c1_values), reverse=True)
        if not values:
            raise ParameterError("c1_values is empty")
        for c in values:
            if not np.isfinite(c) or c < 0:
                raise ParameterError(f"every c1 must be finite and >= 0, got {c}")
        self._check_params()
        data = self._encode(X, y, fit=True)
        objective = ChainObjective(data, c2=self.c2, pairs=self.pairs)
        w0, out, scale = None, [], self._loss_scale(objective)
        for c in values:
            result = self._solve(objective, c, w0, scale)
            w0 = result.w
            out.append(
                {
                    "c1": c,
                    "objective": result.fun,
                    "nnz": int(np.count_nonzero(result.w)),
                    "n_evals": result.n_evals,
                    "n_iter": result.n_iter,
                    "converged": result.converged,
                    "coef": self.coef_,
                }
            )
        self.c1 = values[-1]
        return out

    def _check_params(self) -> None:
        for name in ("c1", "c2"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ParameterError(f"{name} must be finite and >= 0, got {value}")
        if self.solver not in SOLVERS:
            raise ParameterError(f"unknown solver {self.solver!r}; choose one of {SOLVERS}")
        if self.pairs not in PAIRS:
            raise ParameterError(f"pairs must be one of {PAIRS}, got {self.pairs!r}")

    def _solve(
        self, objective: ChainObjective, c1: float, w0: np.ndarray | None, scale: float | None
    ) -> SolverResult:
        with threads(self.n_threads, single_blas=True):
            result = run_solver(
                self.solver,
                objective,
                objective.n_params,
                c1,
                m=self.m,
                tol=self.tol,
                delta=self.delta,
                period=self.period,
                max_iter=self.max_iter,
                max_evals=self.max_evals,
                shrinking=self._shrinking(objective),
                inner_passes=self.inner_passes,
                seed=self.random_state,
                w0=w0,
                tol_scale=scale,
            )
        self._set_weights(result.w, objective)
        self.result_: SolverResult = result
        self.objective_ = result.fun
        self.n_iter_ = result.n_iter
        return result

    def _previous_weights(self) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray] | None:
        if not hasattr(self, "state_weights_"):
            return None
        return (
            list(self.attributes_.names_),
            self.classes_,
            self.state_weights_,
            self.transition_weights_,
        )

    def _warm_vector(
        self, previous: tuple[list[Any], np.ndarray, np.ndarray, np.ndarray], obj: ChainObjective
    ) -> np.ndarray:
        """The previous weights moved onto the new attribute and label numbering."""
        names, classes, W_old, T_old = previous
        K = self.classes_.size
        lab_new = {c: i for i, c in enumerate(self.classes_.tolist())}
        lab_map = np.array([lab_new.get(c, -1) for c in classes.tolist()])
        keep = lab_map >= 0
        ids = self.attributes_._ids  # attribute name (or column id) -> new row
        pairs = [(i, ids[name]) for i, name in enumerate(names) if name in ids]
        rows_old = [i for i, _ in pairs]
        rows_new = [j for _, j in pairs]
        W = np.zeros((self.attributes_.size, K))
        T = np.zeros((K, K))
        if rows_old:
            W[np.ix_(rows_new, lab_map[keep])] = W_old[np.ix_(rows_old, np.flatnonzero(keep))]
        T[np.ix_(lab_map[keep], lab_map[keep])] = T_old[np.ix_(keep, keep)]
        return obj.join(W, T)

    def _shrinking(self, objective: ChainObjective) -> bool:
        if self.shrinking == "auto":
            # An inner solve makes ~_PASSES_ESTIMATE passes of 4m flops per weight; an
            # evaluation costs about n_tokens * K² (forward-backward). Shrink when the
            # inner solve over all weights would cost more than an evaluation.
            # More weights than tokens (sparse lexical features): the weights' L-BFGS rows
            # leave the cache and CD passes in random order cost several times the flop
            # estimate (OANC, m = 6: 4x an evaluation although the estimate said 0.9x).
            data = objective.data
            cd = objective.n_params * 4 * self.m * _PASSES_ESTIMATE
            return cd > data.n_tokens * data.K**2 or objective.n_params > data.n_tokens
        if not isinstance(self.shrinking, bool):
            raise ParameterError(f"shrinking must be True, False or 'auto', got {self.shrinking!r}")
        return self.shrinking

    def _set_weights(self, w: np.ndarray, objective: ChainObjective) -> None:
        W, T = objective.split(w)
        self.state_weights_ = W.copy()
        self.transition_weights_ = T.copy()
        # where coef_'s entries live in W and T (not the objective: it holds the data)
        self.pair_index_ = (objective.pair_flat, objective.trans_flat)

    @property
    def coef_(self) -> np.ndarray:
        """The solver's weight vector (``ChainObjective.join`` of W and T: every pair in
        ``pairs="all"`` mode, the observed pairs otherwise)."""
        self._check_fitted()
        pair_flat, trans_flat = self.pair_index_
        return np.concatenate(
            [self.state_weights_.ravel()[pair_flat], self.transition_weights_.ravel()[trans_flat]]
        )

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
        obj = ChainObjective(data)  # every pair: unobserved ones are zero in the dense W
        w = obj.join(self.state_weights_, self.transition_weights_)
        with threads(self.n_threads):
            return obj.nll_and_residuals(w)[0]

    def score(self, X: Sequence[Any], y: Sequence[Any]) -> float:
        """Token accuracy. A gold label never seen in training counts as an error."""
        pred = self.predict(X)
        ys = _label_arrays(y, len(pred))
        for i, (p, t) in enumerate(zip(pred, ys, strict=True)):
            if len(p) != len(t):
                raise InputError(f"sequence {i} has {len(p)} tokens but {len(t)} labels")
        return float(np.mean(np.concatenate(pred) == np.concatenate(ys)))
