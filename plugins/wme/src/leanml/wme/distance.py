"""Word Mover's Distance between arbitrary documents (Kusner et al., 2015), exactly.

``wmd`` takes a pair of documents given either as texts/token lists (with ``embeddings``)
or as ``(vectors, weights)`` arrays; ``wmd_matrix`` computes every pair of two collections
in parallel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from leanml.core import InputError

from . import _kernels as K
from .documents import Documents, to_documents, tokenize
from .embeddings import Embeddings

__all__ = ["POT_MAX_ASPECT", "POT_MIN_SIDE", "emd", "prefers_pot", "wmd", "wmd_matrix"]

#: POT's network simplex (``ot.lp.emd_wrap.emd_c``), when installed, takes the problems whose
#: shorter side has at least ``POT_MIN_SIDE`` words and whose longer side is less than
#: ``POT_MAX_ASPECT`` times as long, and every problem with both sides longer than
#: ``SSP_MAX_SINKS`` (this package's simplex). The collapsed SSP wins on the rest. Measured on
#: GloVe cost matrices (random weights, 1 thread, load average 2.9), microseconds here vs
#: POT: 40 x 40 109 vs 64, 48 x 96 302 vs 242, 64 x 128 1283 vs 421, 100 x 100 2739 vs 507;
#: but 40 x 160 273 vs 344, 60 x 240 492 vs 779, 100 x 400 1731 vs 4790; and (load 14)
#: 300 x 300 340 ms vs 53 ms.
POT_MIN_SIDE = 32
POT_MAX_ASPECT = 3
#: POT's result code for an optimal solution.
_POT_OPTIMAL = 1


def prefers_pot(n: int, m: int) -> bool:
    """Whether POT's ``emd_c`` is the faster exact solver for an ``n x m`` problem."""
    short, long = min(n, m), max(n, m)
    return short > K.SSP_MAX_SINKS or (short >= POT_MIN_SIDE and long < POT_MAX_ASPECT * short)


def _solve(a: np.ndarray, b: np.ndarray, C: np.ndarray) -> float:
    """The faster exact solver for this shape: POT's C++ simplex where it wins."""
    if prefers_pot(*C.shape):
        try:
            from ot.lp.emd_wrap import emd_c
        except ImportError:  # POT is optional: the Numba simplex is exact too, only slower
            pass
        else:
            _, cost, _, _, code = emd_c(a, b, np.ascontiguousarray(C), 10_000_000, 1)
            if code != _POT_OPTIMAL:
                raise RuntimeError(f"POT's EMD solver stopped with result code {code}")
            return float(cost)
    cost, status = K.emd_cost(a, b, C)
    if status != K.OK:
        raise RuntimeError("EMD solver hit its iteration limit")
    return float(cost)


def emd(a: Any, b: Any, C: Any) -> float:
    """Exact earth mover's distance ``min <F, C>`` with marginals ``a`` and ``b``.

    ``a`` and ``b`` are normalised to sum 1 (so ``emd`` equals ``ot.emd2`` on normalised
    weights). Dispatches to the closed forms, the collapsed SSP, or (where
    :func:`prefers_pot`) POT's network simplex if installed, else this package's.

    Raises
    ------
    InputError
        Shape mismatch, negative or non-finite weights or costs, or an all-zero weight vector.
    """
    a = _weights(a, "a")
    b = _weights(b, "b")
    C = np.ascontiguousarray(C, dtype=np.float64)
    if C.shape != (a.size, b.size):
        raise InputError(f"cost matrix has shape {C.shape}, expected ({a.size}, {b.size})")
    if not np.isfinite(C).all():
        raise InputError("cost matrix has NaN or infinite entries")
    return _solve(a, b, C)


def _weights(w: Any, name: str) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64).ravel()
    if w.size == 0:
        raise InputError(f"{name} is empty: a document needs at least one word")
    if not np.isfinite(w).all() or (w < 0).any():
        raise InputError(f"{name} must be finite and non-negative")
    total = w.sum()
    if total <= 0:
        raise InputError(f"{name} sums to 0")
    return w / total


def _as_vectors(doc: Any, emb: Embeddings | None, name: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(doc, tuple) and len(doc) == 2 and not isinstance(doc[0], str):
        X, w = np.asarray(doc[0], dtype=np.float64), _weights(doc[1], f"{name} weights")
    elif isinstance(doc, np.ndarray) and doc.dtype.kind == "f":
        X = doc.astype(np.float64)
        w = np.full(len(X), 1.0 / max(len(X), 1))
    else:
        if emb is None:
            raise InputError(f"{name} is text: pass embeddings=... to look its words up")
        docs = to_documents(tokenize([doc]), emb)
        if docs.empty[0]:
            raise InputError(f"{name} has no in-vocabulary word")
        X = np.asarray(emb.vectors[docs.rows], dtype=np.float64)
        w = docs.weights()
    if X.ndim != 2 or X.shape[0] == 0:
        raise InputError(f"{name} must be a non-empty (n_words, d) array, got {X.shape}")
    if X.shape[0] != w.shape[0]:
        raise InputError(f"{name} has {X.shape[0]} vectors but {w.shape[0]} weights")
    if not np.isfinite(X).all():
        raise InputError(f"{name} has NaN or infinite vector entries")
    return X, w


def wmd(doc_a: Any, doc_b: Any, embeddings: Any = None) -> float:
    """Exact Word Mover's Distance between two documents.

    Parameters
    ----------
    doc_a, doc_b
        A text or token list (needs ``embeddings``), an ``(n, d)`` float array of word
        vectors (uniform weights), or a pair ``(vectors, weights)``.
    embeddings
        Anything :meth:`Embeddings.from_any` takes, for text documents.

    Raises
    ------
    InputError
        Empty or all-OOV documents, NaN vectors, mismatched dimensions, bad weights.
    """
    emb = None if embeddings is None else Embeddings.from_any(embeddings)
    Xa, wa = _as_vectors(doc_a, emb, "doc_a")
    Xb, wb = _as_vectors(doc_b, emb, "doc_b")
    if Xa.shape[1] != Xb.shape[1]:
        raise InputError(f"doc_a has {Xa.shape[1]}-d vectors but doc_b has {Xb.shape[1]}-d")
    return _solve(wa, wb, K.pair_costs(Xa, Xb))


def _docs(X: Any, emb: Embeddings, tokenizer: Any, stop_words: Any) -> Documents:
    return to_documents(tokenize(X, tokenizer, stop_words), emb)


def wmd_matrix(
    docs_a: Any,
    docs_b: Any,
    embeddings: Any,
    tokenizer: Any = None,
    stop_words: Any = "english",
) -> np.ndarray:
    """All pairwise WMDs between two collections of texts, ``inf`` where one side is empty."""
    emb = Embeddings.from_any(embeddings)
    A = _docs(docs_a, emb, tokenizer, stop_words)
    B = _docs(docs_b, emb, tokenizer, stop_words)
    V, ra, rb = _shared_table(emb, A, B)
    pa, pb = np.meshgrid(np.arange(A.n_docs), np.arange(B.n_docs), indexing="ij")
    out, status = K.wmd_pairs(
        A.indptr, ra, A.weights(), B.indptr, rb, B.weights(), V, pa.ravel(), pb.ravel()
    )
    if status.any():
        raise RuntimeError("EMD solver hit its iteration limit")
    return out.reshape(A.n_docs, B.n_docs)


def _shared_table(
    emb: Embeddings, A: Documents, B: Documents
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The float64 rows both collections use, and each collection's words as local rows."""
    used, local = np.unique(np.concatenate([A.rows, B.rows]), return_inverse=True)
    local = local.ravel().astype(np.int64)
    V = np.asarray(emb.vectors[used], dtype=np.float64)
    return V, local[: A.rows.size], local[A.rows.size :]
