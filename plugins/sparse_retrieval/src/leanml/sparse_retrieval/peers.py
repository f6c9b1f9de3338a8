"""Peer indexes with the same ``add(X)`` / ``search(Q, k) -> (scores, ids)`` shape.

Dense (faiss, optional extra ``leanml-sparse-retrieval[peers]``): exact ``IndexFlatIP``,
``IndexIVFPQ`` (inverted file + product quantisation) and ``IndexHNSWFlat`` (graph), all
on inner product. Sparse: scipy's SpGEMM ``Q @ D.T`` followed by a per-row top-k, and
``sparse_dot_topn.sp_matmul_topn`` (fused SpGEMM + top-n). The sparse peers only see the
non-zero products, so they return rows with a score > 0 (pass ``threshold=0`` to
:class:`~leanml.sparse_retrieval.index.SparseIndex` for the same result set).

Faiss threads follow ``faiss.omp_set_num_threads`` which each index sets from its
``n_threads`` (default: the current Numba thread count, i.e. ``leanml --threads``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from leanml.core import InputError, ParameterError

from .index import _clean_csr, _numba_threads

__all__ = [
    "INDEX_KINDS",
    "FaissIndex",
    "ScipySpGEMMIndex",
    "SparseDotTopnIndex",
    "make_index",
]

#: Index kinds accepted by :func:`make_index` and the estimators' ``index`` parameter.
INDEX_KINDS = ("sparse", "faiss-flat", "faiss-ivfpq", "faiss-hnsw", "scipy", "sdtopn")
SPARSE_KINDS = ("sparse", "scipy", "sdtopn")


def _faiss():
    try:
        import faiss
    except ImportError:  # pragma: no cover - depends on the environment
        raise ParameterError(
            "this index needs faiss: pip install 'leanml-sparse-retrieval[peers]'"
        ) from None
    return faiss


def _dense(X: Any, dim: int) -> np.ndarray:
    if sp.issparse(X):
        X = X.toarray()
    arr = np.ascontiguousarray(X, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise InputError(f"expected n x {dim} vectors, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError("vectors contain NaN or infinite values")
    return arr


class FaissIndex:
    """A faiss inner-product index: ``"flat"``, ``"ivfpq"`` or ``"hnsw"``.

    Parameters
    ----------
    dim
        Vector dimension.
    kind
        ``"flat"`` (exact), ``"ivfpq"`` or ``"hnsw"``.
    nlist, m, nbits, nprobe
        IVF-PQ settings: lists (``None``: about 4·sqrt(n) of the first batch, at most n/39),
        sub-quantisers (must divide ``dim``), bits per code (capped at log2(n/39)), lists
        probed at search time.
    hnsw_m, ef_construction, ef_search
        HNSW graph degree and beam widths.
    n_threads
        OpenMP threads for faiss (set before every add/search).
    """

    def __init__(
        self,
        dim: int,
        kind: str = "flat",
        *,
        nlist: int | None = None,
        m: int = 16,
        nbits: int = 8,
        nprobe: int = 16,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 64,
        n_threads: int | None = None,
    ) -> None:
        faiss = _faiss()
        if kind not in ("flat", "ivfpq", "hnsw"):
            raise ParameterError(f"faiss kind must be flat, ivfpq or hnsw, got {kind!r}")
        if kind == "ivfpq" and dim % m:
            raise ParameterError(f"m={m} must divide dim={dim} for IVF-PQ")
        self.dim, self.kind, self.n_threads = dim, kind, n_threads
        self.nlist, self.m, self.nbits, self.nprobe = nlist, m, nbits, nprobe
        metric = faiss.METRIC_INNER_PRODUCT
        self.index = None
        if kind == "flat":
            self.index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            self.index = faiss.IndexHNSWFlat(dim, hnsw_m, metric)
            self.index.hnsw.efConstruction = ef_construction
            self.index.hnsw.efSearch = ef_search

    def _make_ivfpq(self, n: int) -> None:
        """IVF-PQ sized to the first batch: nlist ≈ 4·sqrt(n) (at most 4096 and n/39) unless given,
        and at most log2(n/39) bits per code (faiss wants 39 training rows per centroid)."""
        faiss = _faiss()
        nlist = self.nlist or int(max(1, min(4096, round(4 * np.sqrt(n)), n // 39)))
        nbits = int(min(self.nbits, max(1, np.floor(np.log2(max(n / 39, 2))))))
        if n < nlist:
            raise InputError(f"IVF-PQ with nlist={nlist} needs >= {nlist} rows to train")
        self._quantizer = faiss.IndexFlatIP(self.dim)
        self.index = faiss.IndexIVFPQ(
            self._quantizer, self.dim, nlist, self.m, nbits, faiss.METRIC_INNER_PRODUCT
        )
        self.index.nprobe = min(self.nprobe, nlist)

    def _threads(self) -> None:
        _faiss().omp_set_num_threads(self.n_threads or _numba_threads())

    @property
    def ntotal(self) -> int:
        """Rows added."""
        return 0 if self.index is None else int(self.index.ntotal)

    def add(self, X: Any) -> None:
        """Add rows (training the IVF-PQ quantisers on the first batch)."""
        arr = _dense(X, self.dim)
        self._threads()
        if self.index is None:
            self._make_ivfpq(arr.shape[0])
        if not self.index.is_trained:
            self.index.train(arr)
        self.index.add(arr)

    def search(self, Q: Any, k: int):
        """``(scores float32, ids int64)``, faiss padding (-1) where fewer results."""
        if self.ntotal == 0:
            raise InputError("the index is empty: add rows before searching")
        if k < 1 or k > self.ntotal:
            raise ParameterError(f"k must be in [1, {self.ntotal}], got {k}")
        self._threads()
        return self.index.search(_dense(Q, self.dim), k)

    def memory_bytes(self) -> int:
        """Bytes of the serialised index."""
        return int(_faiss().serialize_index(self.index).nbytes)


class ScipySpGEMMIndex:
    """``Q @ D.T`` with scipy.sparse, then a per-row top-k of the stored (score > 0)
    entries, ties by lower id."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._chunks: list[sp.csr_matrix] = []
        self._DT: sp.csr_matrix | None = None
        self.ntotal = 0

    def add(self, X: Any) -> None:
        """Append sparse rows."""
        csr = _clean_csr(X, "X")
        if csr.shape[1] != self.dim:
            raise InputError(f"X has {csr.shape[1]} columns, index dim {self.dim}")
        self._chunks.append(csr)
        self.ntotal += csr.shape[0]
        self._DT = None

    def search(self, Q: Any, k: int):
        """Top-k rows with score > 0 per query."""
        if self._DT is None:
            self._DT = sp.vstack(self._chunks, format="csr").T.tocsr()
        S = (_clean_csr(Q, "Q") @ self._DT).tocsr()
        return _topk_csr(S, k)

    def memory_bytes(self) -> int:
        """Bytes of D.T in CSR."""
        self.search(sp.csr_matrix((1, self.dim), dtype=np.float32), 1)
        DT = self._DT
        return int(DT.data.nbytes + DT.indices.nbytes + DT.indptr.nbytes)


def _topk_csr(S: sp.csr_matrix, k: int):
    nq = S.shape[0]
    out_s = np.full((nq, k), -np.inf, dtype=np.float32)
    out_i = np.full((nq, k), -1, dtype=np.int64)
    for q in range(nq):
        a, b = S.indptr[q], S.indptr[q + 1]
        ids, vals = S.indices[a:b], S.data[a:b]
        keep = vals > 0
        ids, vals = ids[keep], vals[keep]
        if len(vals) > k:
            part = np.argpartition(-vals, k - 1)[:k]
            kth = vals[part].min()
            # every row tied with the k-th score competes, so the lower id wins
            sel = np.flatnonzero(vals >= kth)
            ids, vals = ids[sel], vals[sel]
        order = np.lexsort((ids, -vals))[:k]
        out_s[q, : len(order)] = vals[order]
        out_i[q, : len(order)] = ids[order]
    return out_s, out_i


class SparseDotTopnIndex:
    """``sparse_dot_topn.sp_matmul_topn(Q, D.T, top_n=k, threshold=0)`` (fused, threaded)."""

    def __init__(self, dim: int, n_threads: int | None = None) -> None:
        try:
            import sparse_dot_topn  # noqa: F401
        except ImportError:  # pragma: no cover
            raise ParameterError(
                "this index needs sparse-dot-topn: pip install 'leanml-sparse-retrieval[peers]'"
            ) from None
        self.inner = ScipySpGEMMIndex(dim)
        self.n_threads = n_threads

    @property
    def ntotal(self) -> int:
        """Rows added."""
        return self.inner.ntotal

    def add(self, X: Any) -> None:
        """Append sparse rows."""
        self.inner.add(X)

    def search(self, Q: Any, k: int):
        """Top-k rows with score > 0 per query (ties ordered by lower id afterwards)."""
        from sparse_dot_topn import sp_matmul_topn

        if self.inner._DT is None:
            self.inner._DT = sp.vstack(self.inner._chunks, format="csr").T.tocsr()
        threads = self.n_threads or _numba_threads()
        S = sp_matmul_topn(
            _clean_csr(Q, "Q"),
            self.inner._DT,
            top_n=k,
            threshold=0.0,
            sort=True,
            n_threads=threads if threads > 1 else None,
        )
        return _topk_csr(S.tocsr(), k)

    def memory_bytes(self) -> int:
        """Bytes of D.T in CSR."""
        return self.inner.memory_bytes()


def make_index(kind: str, dim: int, n_threads: int | None = None, **options: Any):
    """An empty index of ``kind`` (one of :data:`INDEX_KINDS`)."""
    from .index import SparseIndex

    if kind == "sparse":
        return SparseIndex(dim, threshold=options.get("threshold"), n_threads=n_threads)
    if kind.startswith("faiss-"):
        return FaissIndex(dim, kind.removeprefix("faiss-"), n_threads=n_threads, **options)
    if kind == "scipy":
        return ScipySpGEMMIndex(dim)
    if kind == "sdtopn":
        return SparseDotTopnIndex(dim, n_threads=n_threads)
    raise ParameterError(f"index must be one of {INDEX_KINDS}, got {kind!r}")
