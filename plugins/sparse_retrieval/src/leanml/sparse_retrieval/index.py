"""`SparseIndex`: an inverted index over sparse embeddings with a FAISS-like API.

    index = SparseIndex(dim=256)
    index.add(to_csr(database_embeddings))
    scores, ids = index.search(to_csr(query_embeddings), k=10)

Postings are held column-wise (CSC: int64 pointers, int32 row ids, float32 values) and
scored by :func:`leanml.sparse_retrieval._kernels.search_csc`. With ``threshold=None`` the
result is the exact top-k of ``Q @ D.T`` (ties broken by lower id); a threshold ``t`` keeps
only rows scoring ``> t`` (the paper's filter), so fewer than k rows may come back, padded
with score ``-inf`` and id ``-1`` as FAISS does. An optional dense re-rank re-scores the
best ``rerank`` sparse candidates with separate dense vectors (the paper's two-stage
pipeline) and returns their top-k.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from leanml.core import DataError, InputError, ParameterError

__all__ = ["SparseIndex", "to_csr"]

_FORMAT = 1
_MAX_ROWS = np.iinfo(np.int32).max


def to_csr(X: Any, zero_threshold: float = 1e-8) -> sp.csr_matrix:
    """Dense embeddings (numpy or torch) to a float32 CSR matrix.

    Entries with ``|x| < zero_threshold`` become structural zeros (the paper counts
    ``|x| >= 1e-8`` as non-zero). NaN or infinite values raise :class:`InputError`.
    """
    if sp.issparse(X):
        return _clean_csr(X, "X")
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise InputError(f"embeddings must be 2-d (n x d), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise InputError(f"embeddings must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise InputError("embeddings contain NaN or infinite values")
    arr = np.where(np.abs(arr) >= zero_threshold, arr, np.float32(0))
    return sp.csr_matrix(arr)


def _clean_csr(X: Any, what: str) -> sp.csr_matrix:
    """Validated float32 CSR: finite, canonical (sorted, no duplicates), no stored zeros.

    A float32 CSR input that already is all of that is returned as is (no copy): the
    single-query path should not pay for a copy."""
    if (
        sp.issparse(X)
        and X.format == "csr"
        and X.dtype == np.float32
        and X.ndim == 2
        and X.has_canonical_format
        and np.isfinite(X.data).all()
        and X.data.all()
    ):
        return X
    if not sp.issparse(X):
        if hasattr(X, "shape") and len(getattr(X, "shape", ())) == 2:
            raise InputError(
                f"{what} is a dense {type(X).__name__}; SparseIndex takes scipy.sparse "
                "matrices: convert with leanml.sparse_retrieval.to_csr(X)"
            )
        raise InputError(f"{what} must be a 2-d scipy.sparse matrix, got {type(X).__name__}")
    if X.ndim != 2:
        raise InputError(f"{what} must be 2-d, got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise InputError(f"{what} must hold real numbers, got dtype {X.dtype}")
    csr = sp.csr_matrix(X, dtype=np.float32, copy=True)
    if not np.isfinite(csr.data).all():
        raise InputError(f"{what} contains NaN or infinite values")
    csr.sum_duplicates()  # also sorts indices
    csr.eliminate_zeros()
    return csr


class SparseIndex:
    """Inverted index for exact (or thresholded) inner-product search of sparse vectors.

    Parameters
    ----------
    dim
        d, the embedding dimension.
    threshold
        Default score filter t: only rows with score ``> t`` are returned (``None`` means
        exact top-k, i.e. ``t = -inf``). The original code used ``t = 0.25`` on cosine
        scores. A negative value is allowed and keeps zero-overlap rows (score 0).
    n_threads
        Query blocks scored in parallel; default the Numba thread count
        (capped by ``leanml --threads`` / :func:`leanml.core.threads.thread_limits`).

    Attributes
    ----------
    ntotal : int
        N, rows added so far.
    """

    def __init__(
        self, dim: int, threshold: float | None = None, n_threads: int | None = None
    ) -> None:
        if int(dim) != dim or dim < 1:
            raise ParameterError(f"dim must be an integer >= 1, got {dim}")
        self.dim = int(dim)
        self.threshold = self._check_threshold(threshold)
        if n_threads is not None and (int(n_threads) != n_threads or n_threads < 1):
            raise ParameterError(f"n_threads must be an integer >= 1, got {n_threads}")
        self.n_threads = n_threads
        self._chunks: list[sp.csr_matrix] = []
        self._dense_chunks: list[np.ndarray] = []
        self._csc: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._dense: np.ndarray | None = None
        self.ntotal = 0

    @staticmethod
    def _check_threshold(threshold: float | None) -> float:
        if threshold is None:
            return -np.inf
        t = float(threshold)
        if np.isnan(t) or t == np.inf:
            raise ParameterError(f"threshold must be a number or None, got {threshold}")
        return t

    # ------------------------------------------------------------------ building
    def add(self, X: Any, dense: np.ndarray | None = None) -> None:
        """Append rows (ids ``ntotal .. ntotal + n - 1``).

        Parameters
        ----------
        X
            n x d scipy.sparse matrix (dense arrays are refused: convert with
            :func:`to_csr`, which drops ``|x| < 1e-8``).
        dense
            Optional n x d' dense vectors of the same rows for exact re-ranking
            (all-or-none: every ``add`` must then pass them).
        """
        csr = _clean_csr(X, "X")
        if csr is X:  # the index must not alias the caller's matrix
            csr = csr.copy()
        if csr.shape[1] != self.dim:
            raise InputError(f"X has {csr.shape[1]} columns but the index has dim {self.dim}")
        if self.ntotal + csr.shape[0] > _MAX_ROWS:
            raise InputError(f"an index holds at most {_MAX_ROWS} rows (int32 ids)")
        has_dense = bool(self._dense_chunks) or (self.ntotal == 0 and dense is not None)
        if dense is not None:
            dense = np.ascontiguousarray(dense, dtype=np.float32)
            if dense.ndim != 2 or dense.shape[0] != csr.shape[0]:
                raise InputError(f"dense must be {csr.shape[0]} x d', got shape {dense.shape}")
            if self._dense_chunks and dense.shape[1] != self._dense_chunks[0].shape[1]:
                raise InputError("dense vectors must keep the same width across add calls")
            if not np.isfinite(dense).all():
                raise InputError("dense vectors contain NaN or infinite values")
        if (dense is not None) != has_dense and self.ntotal > 0:
            raise InputError("pass dense vectors on every add call or on none")
        self._chunks.append(csr)
        if dense is not None:
            self._dense_chunks.append(dense)
        self.ntotal += csr.shape[0]
        self._csc = None
        self._dense = None

    def reset(self) -> None:
        """Remove every row."""
        self.__init__(self.dim, None if self.threshold == -np.inf else self.threshold,
                      self.n_threads)  # fmt: skip

    def _postings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._csc is None:
            if self.ntotal == 0:
                indptr = np.zeros(self.dim + 1, dtype=np.int64)
                self._csc = (indptr, np.zeros(0, np.int32), np.zeros(0, np.float32))
            else:
                csc = sp.vstack(self._chunks, format="csr").tocsc()
                csc.sort_indices()
                self._chunks = [csc.tocsr()]
                self._csc = (
                    csc.indptr.astype(np.int64),
                    csc.indices.astype(np.int32),
                    csc.data.astype(np.float32),
                )
        return self._csc

    @property
    def posting_lengths(self) -> np.ndarray:
        """|posting_j| for every dimension j (int64, length d)."""
        return np.diff(self._postings()[0])

    @property
    def nnz(self) -> int:
        """Stored non-zeros."""
        return int(self._postings()[0][-1])

    def memory_bytes(self) -> int:
        """Bytes held by the postings (and dense re-rank vectors, if any)."""
        indptr, rows, vals = self._postings()
        dense = sum(d.nbytes for d in self._dense_chunks)
        return int(indptr.nbytes + rows.nbytes + vals.nbytes + dense)

    def database(self) -> sp.csr_matrix:
        """The stored rows as one CSR matrix (float32)."""
        indptr, rows, vals = self._postings()
        return sp.csc_matrix((vals, rows, indptr), shape=(self.ntotal, self.dim)).tocsr()

    # ------------------------------------------------------------------ search
    def search(
        self,
        Q: Any,
        k: int,
        threshold: float | None = ...,  # type: ignore[assignment]
        rerank: int | None = None,
        dense_queries: np.ndarray | None = None,
        return_touched: bool = False,
    ):
        """Top-k rows by inner product for each query.

        Parameters
        ----------
        Q
            n_q x d scipy.sparse queries (dense arrays refused, see :func:`to_csr`).
        k
            Results per query, ``1 <= k <= ntotal``.
        threshold
            Overrides the index's threshold (``None`` = exact top-k).
        rerank
            k' >= k: take the best k' sparse candidates, re-score them with the dense
            vectors given to :meth:`add` and ``dense_queries``, return their top-k.
        dense_queries
            n_q x d' dense query vectors for the re-rank.
        return_touched
            Also return the postings walked per query (the measured FLOPs).

        Returns
        -------
        scores : (n_q, k) float32, best first, ``-inf`` padding
        ids : (n_q, k) int64, ties broken by lower id, ``-1`` padding
        touched : (n_q,) int64, only with ``return_touched``

        Notes
        -----
        A query with no non-zeros scores 0 against every row: exact search returns rows
        ``0..k-1`` with score 0; any threshold ``>= 0`` returns nothing.
        """
        from ._kernels import search_csc, search_csc_serial

        t = self.threshold if threshold is ... else self._check_threshold(threshold)
        if self.ntotal == 0:
            raise InputError("the index is empty: add rows before searching")
        if isinstance(k, bool) or int(k) != k or k < 1:
            raise ParameterError(f"k must be an integer >= 1, got {k}")
        k = int(k)
        if k > self.ntotal:
            raise ParameterError(f"k={k} exceeds the {self.ntotal} rows in the index")
        q = _clean_csr(Q, "Q")
        if q.shape[1] != self.dim:
            raise InputError(f"queries have {q.shape[1]} columns but the index has dim {self.dim}")
        depth = k
        if rerank is not None:
            if not self._dense_chunks:
                raise ParameterError("rerank needs dense vectors: pass dense= to add()")
            if dense_queries is None:
                raise ParameterError("rerank needs dense_queries")
            if int(rerank) != rerank or rerank < k:
                raise ParameterError(f"rerank must be an integer >= k={k}, got {rerank}")
            depth = min(int(rerank), self.ntotal)
        indptr, rows, vals = self._postings()
        n_chunks = max(1, min(q.shape[0], self.n_threads or _numba_threads()))
        args = (q.indptr.astype(np.int64, copy=False), q.indices.astype(np.int32, copy=False),
                q.data, indptr, rows,
                vals, self.ntotal, depth, np.float32(t) if np.isfinite(t) else -np.inf)  # fmt: skip
        if n_chunks > 1:
            scores, ids, touched = search_csc(*args, n_chunks)
        else:
            scores, ids, touched = search_csc_serial(*args)
        if rerank is not None:
            scores, ids = self._rerank(ids, dense_queries, k)
        out = (scores, ids, touched) if return_touched else (scores, ids)
        return out

    def _rerank(self, cand: np.ndarray, dense_queries: np.ndarray, k: int):
        if self._dense is None:
            self._dense = np.concatenate(self._dense_chunks)
        dq = np.ascontiguousarray(dense_queries, dtype=np.float32)
        if dq.ndim != 2 or dq.shape[0] != cand.shape[0] or dq.shape[1] != self._dense.shape[1]:
            raise InputError(
                f"dense_queries must be {cand.shape[0]} x {self._dense.shape[1]}, "
                f"got shape {dq.shape}"
            )
        if not np.isfinite(dq).all():
            raise InputError("dense_queries contain NaN or infinite values")
        out_s = np.full((cand.shape[0], k), -np.inf, dtype=np.float32)
        out_i = np.full((cand.shape[0], k), -1, dtype=np.int64)
        for q in range(cand.shape[0]):
            c = cand[q][cand[q] >= 0]
            s = self._dense[c] @ dq[q]
            order = np.lexsort((c, -s))[:k]
            out_s[q, : len(order)] = s[order]
            out_i[q, : len(order)] = c[order]
        return out_s, out_i

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the index to an ``.npz`` file (no pickle); returns the path written."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz")
        indptr, rows, vals = self._postings()
        arrays = {
            "format": np.array(_FORMAT),
            "dim": np.array(self.dim),
            "ntotal": np.array(self.ntotal),
            "threshold": np.array(self.threshold, dtype=np.float64),
            "indptr": indptr,
            "rows": rows,
            "vals": vals,
        }
        if self._dense_chunks:
            arrays["dense"] = np.concatenate(self._dense_chunks)
        np.savez(path, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str], n_threads: int | None = None) -> SparseIndex:
        """Read an index written by :meth:`save` (never unpickles)."""
        try:
            with np.load(path, allow_pickle=False) as f:
                data = {name: f[name] for name in f.files}
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read sparse index {path}: {exc}") from exc
        missing = {"format", "dim", "ntotal", "indptr", "rows", "vals"} - set(data)
        if missing or int(data["format"]) != _FORMAT:
            raise DataError(f"{path} is not a SparseIndex file (format {_FORMAT})")
        dim, n = int(data["dim"]), int(data["ntotal"])
        t = float(data["threshold"])
        index = cls(dim, None if t == -np.inf else t, n_threads)
        if n:
            mat = sp.csc_matrix((data["vals"], data["rows"], data["indptr"]), shape=(n, dim))
            index.add(mat.tocsr(), dense=data.get("dense"))
        return index

    def __repr__(self) -> str:
        return f"SparseIndex(dim={self.dim}, ntotal={self.ntotal}, threshold={self.threshold})"


def _numba_threads() -> int:
    import numba

    return int(numba.get_num_threads())
