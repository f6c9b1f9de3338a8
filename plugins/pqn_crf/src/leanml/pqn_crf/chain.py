"""The linear-chain CRF loss in CRFsuite's parameterisation, as a solver objective.

Parameters are one vector ``w = [W.ravel(), T.ravel()]``: ``W`` (n_attributes x K) holds
the state features (attribute x label; a token's attribute value scales its weight) and
``T`` (K x K) the label transitions; there are no start or end transitions. The loss is the
*summed* negative log-likelihood, plus CRFsuite's ``c2 * ||w||²`` when ``c2 > 0``; the L1
term ``c1 * ||w||_1`` (over transitions too) belongs to the solver.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp

from leanml.core import InputError

from . import _kernels

__all__ = ["PAIRS", "ChainData", "ChainObjective", "make_chunks"]


def make_chunks(offsets: np.ndarray, n_chunks: int) -> np.ndarray:
    """Boundaries of ``n_chunks`` contiguous sequence groups with similar token counts."""
    n_seq = offsets.size - 1
    n_chunks = max(1, min(n_chunks, n_seq))
    targets = np.linspace(0, offsets[-1], n_chunks + 1)
    bounds = np.searchsorted(offsets, targets[1:-1], side="left")
    bounds = np.unique(np.concatenate([[0], bounds, [n_seq]]))
    return bounds.astype(np.int64)


class ChainData:
    """Stacked features of many sequences, in both layouts the kernels need.

    Parameters
    ----------
    X : CSR (n_tokens x n_attributes) token features, sequences stacked.
    offsets : (n_seq + 1,) sequence boundaries.
    y : (n_tokens,) label ids in [0, K), or None (prediction only).
    n_labels : K.
    n_chunks : work units for the parallel kernels (default 64, balanced by tokens).
    """

    def __init__(
        self,
        X: sp.csr_matrix,
        offsets: np.ndarray,
        y: np.ndarray | None,
        n_labels: int,
        n_chunks: int = 64,
    ) -> None:
        X = sp.csr_matrix(X, dtype=np.float64)
        X.sort_indices()
        offsets = np.asarray(offsets, dtype=np.int64)
        if offsets[0] != 0 or offsets[-1] != X.shape[0] or np.any(np.diff(offsets) <= 0):
            raise InputError("offsets must start at 0, end at n_tokens, and be increasing")
        if not np.all(np.isfinite(X.data)):
            raise InputError("features contain NaN or infinite values")
        self.X = X
        # The feature-indexed layout (attribute -> its occurrences) for partial gradients.
        self.Xt = sp.csr_matrix(X.T)
        self.offsets = offsets
        self.K = int(n_labels)
        if y is not None:
            y = np.asarray(y, dtype=np.int64)
            if y.shape != (X.shape[0],):
                raise InputError(f"y has {y.size} labels for {X.shape[0]} tokens")
            if y.size and (y.min() < 0 or y.max() >= self.K):
                raise InputError(f"label ids must lie in [0, {self.K})")
        self.y = y
        self.chunks = make_chunks(offsets, n_chunks)
        self.idx = [a.astype(np.int64) for a in (X.indptr, X.indices)]
        self.t_idx = [a.astype(np.int64) for a in (self.Xt.indptr, self.Xt.indices)]

    @property
    def n_attributes(self) -> int:
        """Columns of X."""
        return self.X.shape[1]

    @property
    def n_tokens(self) -> int:
        """Rows of X."""
        return self.X.shape[0]

    def scores(self, W: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """State scores U = X W (n_tokens x K), skipping all-zero rows of W (into ``out``)."""
        used = np.any(W != 0.0, axis=1)
        U = np.empty((self.n_tokens, W.shape[1])) if out is None else out
        return _kernels.csr_matmul(self.idx[0], self.idx[1], self.X.data, W, used, U)


#: ``pairs`` values of :class:`ChainObjective` (and ``CRF``).
PAIRS = ("observed", "all")


class ChainObjective:
    """``obj(w) -> (loss, gradient)`` of a linear-chain CRF, for the solvers.

    Parameters
    ----------
    data : the training sequences with labels.
    c2 : CRFsuite's L2 coefficient: adds ``c2 * ||w||²`` (not c2/2).
    use_log : force the log-space forward-backward (slow; tests and benchmarks).
    pairs : which weights exist. ``"all"``: every attribute x label and label x label pair
        (CRFsuite's ``feature.possible_states`` and ``possible_transitions``).
        ``"observed"``: only attribute x label pairs that occur in the training data and
        label bigrams that occur there (CRFsuite's default); the others are fixed at zero.

    The parameter vector is ``[state weights, transition weights]``; in ``"all"`` mode it is
    ``[W.ravel(), T.ravel()]``, in ``"observed"`` mode the listed pairs in attribute order
    (see :meth:`split` and :meth:`join`).

    Calling ``obj(w, active=idx)`` computes the state-feature gradient only for attributes
    with a coordinate in ``idx`` (the paper's partial gradient); other entries are NaN.
    """

    def __init__(
        self, data: ChainData, c2: float = 0.0, use_log: bool = False, pairs: str = "all"
    ) -> None:
        if data.y is None:
            raise InputError("the training objective needs labels")
        if not np.isfinite(c2) or c2 < 0:
            raise InputError(f"c2 must be finite and >= 0, got {c2}")
        if pairs not in PAIRS:
            raise InputError(f"pairs must be one of {PAIRS}, got {pairs!r}")
        self.data = data
        self.c2 = float(c2)
        self.use_log = use_log
        self.pairs = pairs
        d, K = data.n_attributes, data.K
        if pairs == "all":
            flat = np.arange(d * K, dtype=np.int64)
            trans = np.arange(K * K, dtype=np.int64)
        else:
            X = data.X
            attr_of = X.indices.astype(np.int64)
            label_of = np.repeat(data.y, np.diff(X.indptr))
            flat = np.unique(attr_of * K + label_of)
            starts = data.offsets[:-1]
            nxt = np.ones(data.n_tokens, dtype=bool)
            nxt[starts] = False  # a sequence's first token has no incoming transition
            idx = np.flatnonzero(nxt)
            trans = np.unique(data.y[idx - 1] * K + data.y[idx])
        #: Flat index into W.ravel() of each state weight, in attribute order.
        self.pair_flat = flat
        self.pair_attr = flat // K
        self.pair_label = flat % K
        self.pair_ptr = np.searchsorted(self.pair_attr, np.arange(d + 1)).astype(np.int64)
        #: Flat index into T.ravel() of each transition weight.
        self.trans_flat = trans
        self.n_state = flat.size
        self.n_params = flat.size + trans.size
        self.n_log_fallbacks = 0
        # Token-major Xᵀ D with one d x K buffer per thread pays only when those buffers
        # are small next to the work (dense features, few attributes: OCR); otherwise the
        # feature-major kernel writes each output once and zeroes nothing.
        self._token_major = pairs == "all" and 2 * d <= data.X.nnz // 8
        self._all_rows = np.arange(d, dtype=np.int64)
        # U, dU and the potentials (n_tokens x K each) are reused across evaluations: fresh
        # arrays of that size cost page faults every time (~3 ms each on OANC, 35k x 43).
        self._buffers: tuple[np.ndarray, ...] | None = None

    def split(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """W (n_attributes x K) and T (K x K) of a parameter vector (views in "all" mode)."""
        d, K = self.data.n_attributes, self.data.K
        if self.pairs == "all":
            return w[: d * K].reshape(d, K), w[d * K :].reshape(K, K)
        W = np.zeros(d * K)
        W[self.pair_flat] = w[: self.n_state]
        T = np.zeros(K * K)
        T[self.trans_flat] = w[self.n_state :]
        return W.reshape(d, K), T.reshape(K, K)

    def join(self, W: np.ndarray, T: np.ndarray) -> np.ndarray:
        """The parameter vector of dense ``W`` and ``T`` (entries outside the pairs dropped)."""
        return np.concatenate([W.ravel()[self.pair_flat], T.ravel()[self.trans_flat]])

    def _scores(self, w: np.ndarray, U: np.ndarray) -> np.ndarray:
        data = self.data
        if self.pairs == "all":
            return data.scores(w[: self.n_state].reshape(data.n_attributes, data.K), U)
        # Only the non-zero weights enter the product: under L1 most observed pairs are zero
        # (OANC, c1 = 1: 4,555 of 85,064), and the attributes that keep one still have
        # zeros for most of their labels, so skipping whole attributes left 2.6x the work.
        wp = w[: self.n_state]
        nz = np.flatnonzero(wp)
        counts = np.bincount(self.pair_attr[nz], minlength=data.n_attributes)
        ptr = np.zeros(data.n_attributes + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        return _kernels.csr_pairs_matmul(
            data.idx[0], data.idx[1], data.X.data, ptr, self.pair_label[nz], wp[nz],
            counts > 0, U,
        )  # fmt: skip

    def nll_and_residuals(self, w: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Summed NLL, dNLL/dU (marginals minus one-hot) and dNLL/dT (K x K).

        dNLL/dU is a buffer of this objective, overwritten by the next call.
        """
        w = np.asarray(w, dtype=np.float64)
        data = self.data
        K = data.K
        if self._buffers is None:
            n = data.n_tokens
            self._buffers = (np.empty((n, K)), np.empty((n, K)), np.empty((n, K)), np.empty(n))
        U, out, P, umax = self._buffers
        self._scores(w, U)
        T = np.zeros(K * K)
        T[self.trans_flat] = w[self.n_state :]
        values = np.empty(data.offsets.size - 1)
        dT, n_log = _kernels.chain_forward_backward(
            U, T.reshape(K, K), data.offsets, data.y, data.chunks, True, out, values,
            self.use_log, (P, umax),
        )  # fmt: skip
        self.n_log_fallbacks += int(n_log)
        return float(values.sum()), out, dT

    def __call__(self, w: np.ndarray, active: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        w = np.asarray(w, dtype=np.float64)
        nll, dU, dT = self.nll_and_residuals(w)
        data = self.data
        g = np.empty_like(w)
        if active is None and self._token_major:
            G = _kernels.csr_t_matmul(
                data.idx[0], data.idx[1], data.X.data, dU, data.n_attributes,
                numba.get_num_threads(),
            )  # fmt: skip
            g[: self.n_state] = G.ravel()
        else:
            rows = self._all_rows
            if active is not None:
                # The paper's partial gradient: only attributes with an active coordinate,
                # through the feature-indexed layout.
                g[: self.n_state] = np.nan
                act = np.asarray(active)
                rows = np.unique(self.pair_attr[act[act < self.n_state]])
            _kernels.csr_rows_pairs(
                data.t_idx[0], data.t_idx[1], data.Xt.data, dU, rows, self.pair_ptr,
                self.pair_label, g, 8 * numba.get_num_threads(),
            )  # fmt: skip
        g[self.n_state :] = dT.ravel()[self.trans_flat]
        if self.c2 > 0:
            nll += self.c2 * float(w @ w)
            g += 2.0 * self.c2 * w
        return nll, g
