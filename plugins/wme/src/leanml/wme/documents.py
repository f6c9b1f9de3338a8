"""From texts to weighted bags of embedded words (the paper's nBOW / TF-IDF documents).

A document becomes its distinct in-vocabulary words (duplicates merged into counts, so the
transport problem has one source per word) with weights summing to 1. Out-of-vocabulary
tokens are dropped and counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from leanml.core import InputError

from .embeddings import Embeddings

__all__ = ["Documents", "default_tokenizer", "idf_weights", "to_documents", "tokenize"]

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def default_tokenizer(text: str) -> list[str]:
    """Lower-case alphanumeric runs (with an optional ``'s``-style suffix)."""
    return _TOKEN.findall(text.lower())


def tokenize(
    X: Any,
    tokenizer: Callable[[str], Sequence[str]] | None = None,
    stop_words: str | frozenset[str] | None = "english",
) -> list[list[str]]:
    """Token lists of ``X``: an iterable (list, array, generator) of strings, or of already
    tokenised documents.

    Raises
    ------
    InputError
        ``X`` is a single string or not iterable, or a document or token is not a string.
    """
    if isinstance(X, str | bytes) or not isinstance(X, Iterable):
        raise InputError(
            f"expected an iterable of documents (strings or token lists), got {type(X).__name__}"
        )
    tok = tokenizer or default_tokenizer
    stops: frozenset[str] = (
        ENGLISH_STOP_WORDS if stop_words == "english" else frozenset(stop_words or ())
    )
    out = []
    for i, doc in enumerate(X):
        if isinstance(doc, str):
            tokens = list(tok(doc))
        elif isinstance(doc, Sequence | np.ndarray):
            tokens = list(doc)
        else:
            raise InputError(f"document {i} is {type(doc).__name__}, not a string or token list")
        for t in tokens:
            if not isinstance(t, str):
                raise InputError(f"document {i} has a non-string token {t!r}")
        out.append([t for t in tokens if t not in stops])
    return out


@dataclass
class Documents:
    """Documents in CSR form over the rows of an embedding table.

    Attributes
    ----------
    indptr : (N + 1,) int64
    rows : embedding row of each distinct word
    counts : how often the word occurs in the document (float64)
    n_tokens, n_oov : token totals, before and after dropping out-of-vocabulary tokens
    """

    indptr: np.ndarray
    rows: np.ndarray
    counts: np.ndarray
    n_tokens: int
    n_oov: int

    @property
    def n_docs(self) -> int:
        """Number of documents."""
        return len(self.indptr) - 1

    @property
    def empty(self) -> np.ndarray:
        """Mask of documents with no in-vocabulary word."""
        return np.diff(self.indptr) == 0

    @property
    def oov_rate(self) -> float:
        """Fraction of tokens not in the embedding vocabulary."""
        return self.n_oov / self.n_tokens if self.n_tokens else 0.0

    def weights(self, idf: np.ndarray | None = None) -> np.ndarray:
        """nBOW weights (counts over the total), times ``idf[row]`` first when given."""
        w = self.counts if idf is None else self.counts * idf[self.rows]
        doc = np.repeat(np.arange(self.n_docs), np.diff(self.indptr))
        sums = np.bincount(doc, weights=w, minlength=self.n_docs)
        return w / sums[doc]


def to_documents(token_lists: Sequence[Sequence[str]], emb: Embeddings) -> Documents:
    """Map tokens to embedding rows, drop OOV tokens and merge duplicates into counts."""
    indptr = [0]
    rows: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    n_tokens = n_oov = 0
    for tokens in token_lists:
        r = emb.rows(tokens)
        n_tokens += len(r)
        r = r[r >= 0]
        n_oov += len(tokens) - len(r)
        u, c = np.unique(r, return_counts=True)
        rows.append(u)
        counts.append(c.astype(np.float64))
        indptr.append(indptr[-1] + len(u))
    return Documents(
        np.asarray(indptr, dtype=np.int64),
        np.concatenate(rows) if rows else np.zeros(0, np.int64),
        np.concatenate(counts) if counts else np.zeros(0),
        n_tokens,
        n_oov,
    )


def idf_weights(docs: Documents, n_words: int, unseen: str = "max") -> np.ndarray:
    """The original code's IDF ``log(1 + N / df)`` per embedding row, from these documents.

    Fitted on training documents only (the original counted test documents too, so it never
    met an unseen word). Words no training document contains get ``log(1 + N)`` (as if
    ``df = 1``) with ``unseen="max"``, or the median IDF of the seen words with
    ``unseen="median"``.
    """
    df = np.bincount(docs.rows, minlength=n_words).astype(np.float64)
    seen = df > 0
    idf = np.log1p(docs.n_docs / np.maximum(df, 1.0))
    if unseen == "median" and seen.any():
        idf[~seen] = np.median(idf[seen])
    return idf
