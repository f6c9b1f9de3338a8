"""The peers a user would otherwise pick for text classification and similarity.

- TF-IDF + LinearSVC (bag of words, no embeddings);
- mean of word vectors + LinearSVC (fastText's ``get_sentence_vector`` idea);
- SIF (Arora, Liang, Ma, ICLR 2017): ``a / (a + p(w))``-weighted mean of word vectors minus
  the projection on the first principal component, + LinearSVC;
- kNN-WMD through POT or gensim: :class:`~leanml.wme.estimators.KNNWMD` with
  ``solver="pot"`` or ``"gensim"``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from leanml.core import ParameterError

from .documents import tokenize
from .embeddings import Embeddings

__all__ = ["MeanVectors", "SIFEmbedding", "mean_vectors_svc", "sif_svc", "tfidf_svc"]


def tfidf_svc(C: float = 1.0, stop_words: Any = "english") -> Any:
    """TF-IDF (sublinear tf, unigrams) + LinearSVC."""
    return make_pipeline(
        TfidfVectorizer(sublinear_tf=True, stop_words=stop_words), LinearSVC(C=C, max_iter=20_000)
    )


class MeanVectors(TransformerMixin, BaseEstimator):
    """Average of a document's in-vocabulary word vectors (zeros when it has none).

    Parameters
    ----------
    embeddings
        Word vectors (see :meth:`Embeddings.from_any`).
    tokenizer, stop_words
        As in :class:`~leanml.wme.WordMoversEmbedding`.
    """

    def __init__(
        self,
        embeddings: Any = "glove-6b-50d",
        tokenizer: Callable[[str], Sequence[str]] | None = None,
        stop_words: Any = "english",
    ) -> None:
        self.embeddings = embeddings
        self.tokenizer = tokenizer
        self.stop_words = stop_words

    def fit(self, X: Any, y: Any = None) -> MeanVectors:
        """Resolve the embeddings."""
        self.embeddings_ = Embeddings.from_any(self.embeddings)
        return self

    def _weight(self, word: str) -> float:
        return 1.0

    def transform(self, X: Any) -> np.ndarray:
        """``(n_docs, d)`` weighted mean vectors."""
        check_is_fitted(self, "embeddings_")
        emb = self.embeddings_
        out = np.zeros((len(X), emb.dim))
        for t, tokens in enumerate(tokenize(X, self.tokenizer, self.stop_words)):
            rows = emb.rows(tokens)
            keep = rows >= 0
            if keep.any():
                w = np.array([self._weight(tok) for tok, k in zip(tokens, keep, strict=True) if k])
                out[t] = w @ emb.vectors[rows[keep]] / len(w)
        return out


class SIFEmbedding(MeanVectors):
    """Smooth inverse frequency sentence vectors (Arora et al., 2017).

    Parameters
    ----------
    a
        Smoothing: word weight ``a / (a + p(w))``, ``p`` the word's frequency in the
        training documents (unseen words: ``p = 0``).
    remove_pc
        Subtract each vector's projection on the training set's first principal direction.
    """

    def __init__(
        self,
        embeddings: Any = "glove-6b-50d",
        a: float = 1e-3,
        remove_pc: bool = True,
        tokenizer: Callable[[str], Sequence[str]] | None = None,
        stop_words: Any = None,
    ) -> None:
        super().__init__(embeddings, tokenizer, stop_words)
        self.a = a
        self.remove_pc = remove_pc

    def fit(self, X: Any, y: Any = None) -> SIFEmbedding:
        """Word frequencies and the first principal direction of the training vectors."""
        if not self.a > 0:
            raise ParameterError(f"a must be > 0, got {self.a!r}")
        super().fit(X)
        counts = Counter(t for doc in tokenize(X, self.tokenizer, self.stop_words) for t in doc)
        total = max(sum(counts.values()), 1)
        self.freq_ = {w: c / total for w, c in counts.items()}
        self.pc_ = None
        if self.remove_pc:
            M = self._weighted(X)
            self.pc_ = np.linalg.svd(M, full_matrices=False)[2][0]
        return self

    def _weight(self, word: str) -> float:
        return self.a / (self.a + self.freq_.get(word, 0.0))

    def _weighted(self, X: Any) -> np.ndarray:
        return super().transform(X)

    def transform(self, X: Any) -> np.ndarray:
        """SIF vectors, ``(n_docs, d)``."""
        check_is_fitted(self, "freq_")
        M = self._weighted(X)
        if self.pc_ is not None:
            M = M - np.outer(M @ self.pc_, self.pc_)
        return M


def mean_vectors_svc(embeddings: Any = "glove-6b-50d", C: float = 1.0) -> Any:
    """Mean word vector + standardisation + LinearSVC."""
    return make_pipeline(MeanVectors(embeddings), StandardScaler(), LinearSVC(C=C, max_iter=20_000))


def sif_svc(embeddings: Any = "glove-6b-50d", C: float = 1.0) -> Any:
    """SIF sentence vector + standardisation + LinearSVC."""
    return make_pipeline(
        SIFEmbedding(embeddings), StandardScaler(), LinearSVC(C=C, max_iter=20_000)
    )
