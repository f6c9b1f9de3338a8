"""The Word Mover's Embedding transformer (Wu, Yen et al., EMNLP 2018).

Paper notation -> arguments: R random documents ``omega_1..omega_R`` (``n_features``), each
of ``D ~ U{D_min..D_max}`` random words (``d_min``, ``d_max``) with weights ``1/D``, drawn
from ``p(w)`` (``random_words``); the feature map is
``phi_omega(x) = exp(-gamma * WMD(x, omega))`` and ``Z(x) = R^{-1/2} [phi_omega_r(x)]_r``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from leanml.core import InputError, ParameterError

from . import _kernels as K
from .documents import Documents, idf_weights, to_documents, tokenize
from .embeddings import Embeddings

__all__ = ["OUTPUTS", "RANDOM_WORDS", "WordMoversEmbedding", "ground_costs"]

#: Distributions of random words: the original code's unit-normalised box sample, the plain
#: bounding box, real vocabulary words from the training documents, and a Gaussian fitted to
#: the training words' vectors.
RANDOM_WORDS = ("box_unit", "box", "vocab_sample", "gaussian")
ON_EMPTY = ("zero", "nan", "raise")
OUTPUTS = ("standardized", "kernel")
#: With TF-IDF weights, warn when more of a transform's tokens are unseen in training.
UNSEEN_WARN_SHARE = 0.2
#: Warn when the first principal direction holds more of the centred feature variance: the
#: features then mostly encode one number per document (raw GloVe with unit-norm random
#: words: 98%, almost all of it the documents' mean word norm).
RANK_ONE_SHARE = 0.9
#: ... checked on at least this many documents.
RANK_ONE_MIN_DOCS = 20
#: Memory budget of one block of ground costs (words x random words, float64).
GROUND_COST_BYTES = 256 * 2**20


def ground_costs(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Euclidean distances between rows of X and Y, by one GEMM.

    ``||x||^2 + ||y||^2 - 2 x.y`` is clipped at 0 before the square root; pairs whose squared
    distance is tiny next to their norms are recomputed from differences, where the GEMM
    form loses every digit (equal vectors must cost exactly 0).
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    xx = np.einsum("ij,ij->i", X, X)
    yy = np.einsum("ij,ij->i", Y, Y)
    sq = xx[:, None] + yy[None, :] - 2.0 * (X @ Y.T)
    np.maximum(sq, 0.0, out=sq)
    close = np.argwhere(sq <= 1e-6 * (xx[:, None] + yy[None, :]))
    if close.size:
        diff = X[close[:, 0]] - Y[close[:, 1]]
        sq[close[:, 0], close[:, 1]] = np.einsum("ij,ij->i", diff, diff)
    return np.sqrt(sq)


class WordMoversEmbedding(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Random features of the WMD kernel: texts -> ``(n_docs, n_features)`` matrix.

    Parameters
    ----------
    embeddings
        Word vectors, anything :meth:`Embeddings.from_any` takes (array + vocab, gensim
        ``KeyedVectors``, a word2vec/GloVe file, or ``"glove-6b-50d"``).
    n_features
        R, the number of random documents.
    d_max, d_min
        Each random document has ``D ~ Uniform{d_min..d_max}`` words (the code's D_min = 1).
    gamma
        Kernel scale: a positive number, ``"median"`` (default: ``1 / median WMD`` between
        up to ``gamma_sample`` training documents and the random documents), or ``None`` for
        the raw WMD as features (the original's ``gamma = -1``).
    random_words
        ``"box_unit"`` (as in the authors' code: uniform in the scalar box
        ``[min, max]^d`` of the training words' coordinates, then unit-normalised), ``"box"``
        (the same without normalising), ``"vocab_sample"`` (default: distinct random
        training words, repeated only if the vocabulary has fewer than D) or ``"gaussian"``
        (per-dimension mean and std of the training words). The default was chosen by
        measurement: with raw GloVe, ``"box_unit"`` features correlate 0.999-1.000 with the
        documents' mean word norm and 97-98% of their centred variance lies in one direction
        (R8, 20 Newsgroups, tweets); ``"vocab_sample"`` gives 0.46-0.88 and 40-63%, at
        0.7-3.2 points lower accuracy at R = 256 (README).
    weights
        ``"nbow"`` (counts / total) or ``"tfidf"`` (``nbow * log(1 + N / df)``, df fitted on
        the training documents only).
    tokenizer
        ``str -> list[str]``; default :func:`~leanml.wme.documents.default_tokenizer`.
        Documents may also be given already tokenised.
    stop_words
        ``"english"`` (scikit-learn's list, like the preprocessing of the paper's data sets),
        a set of words, or ``None``.
    on_empty
        Documents with no in-vocabulary word: ``"zero"`` (an all-zero row and a warning, as
        the original's ``exp(-inf)``), ``"nan"`` (a NaN row) or ``"raise"``.
    gamma_scale
        With ``gamma="median"``: ``gamma = gamma_scale / median WMD`` (the original tuned
        gamma on a grid spanning about 0.1-10x this scale).
    gamma_sample
        Training documents used for the median WMD (``gamma="median"``), the standardisation
        (``output="standardized"``) and the rank-one check; none are solved when neither
        is needed.
    unseen_idf
        With ``weights="tfidf"``, the IDF of in-vocabulary words that no training document
        contains: ``"max"`` (default: ``log(1 + N)``, as if seen in one document, the
        rarest a word can be; what a word absent from N documents suggests) or ``"median"``
        (the median IDF of the training words: an unseen word counts as a typical one). The
        fraction of such tokens is in :meth:`document_stats` (``unseen_rate``).
    output
        ``"standardized"`` (default): each feature centred and scaled by its mean and
        standard deviation on the ``gamma_sample`` training documents, so a plain linear
        model at its default regularisation works (with the paper's scale below,
        ``LogisticRegression()`` at C = 1 predicts the majority class on R8). ``"kernel"``:
        the paper's ``R^{-1/2} exp(-gamma WMD)``, whose inner products approximate the
        WMD kernel.
    random_state
        Seed (or ``numpy.random.Generator``) of the random documents.

    Attributes
    ----------
    embeddings_ : Embeddings
    random_vectors_ : (total_random_words, d) float64, the random words of every omega
    random_ptr_ : (R + 1,) int64, omega_r is ``random_vectors_[random_ptr_[r]:random_ptr_[r+1]]``
    gamma_ : float or None
    median_wmd_ : float, the median WMD on the gamma sample (None unless ``gamma="median"``)
    feature_mean_, feature_scale_ : (R,) arrays (None unless ``output="standardized"``)
    idf_ : per-row IDF of the embedding table (``weights="tfidf"`` only)
    oov_rate_ : fraction of training tokens not in the embeddings
    """

    def __init__(
        self,
        embeddings: Any = "glove-6b-50d",
        n_features: int = 256,
        d_max: int = 6,
        d_min: int = 1,
        gamma: float | str | None = "median",
        random_words: str = "vocab_sample",
        weights: str = "nbow",
        tokenizer: Callable[[str], Sequence[str]] | None = None,
        stop_words: Any = "english",
        on_empty: str = "zero",
        gamma_scale: float = 1.0,
        gamma_sample: int = 200,
        unseen_idf: str = "max",
        output: str = "standardized",
        random_state: Any = None,
    ) -> None:
        self.embeddings = embeddings
        self.n_features = n_features
        self.d_max = d_max
        self.d_min = d_min
        self.gamma = gamma
        self.random_words = random_words
        self.weights = weights
        self.tokenizer = tokenizer
        self.stop_words = stop_words
        self.on_empty = on_empty
        self.gamma_scale = gamma_scale
        self.gamma_sample = gamma_sample
        self.unseen_idf = unseen_idf
        self.output = output
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # texts or token lists, not a numeric matrix
        tags.input_tags.two_d_array = False
        return tags

    # -- validation -------------------------------------------------------------------
    def _check_params(self) -> None:
        def integer(name: str, value: Any, low: int) -> None:
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ParameterError(f"{name} must be an integer >= {low}, got {value!r}")

        integer("n_features (R)", self.n_features, 1)
        integer("d_min", self.d_min, 1)
        integer("d_max", self.d_max, 1)
        integer("gamma_sample", self.gamma_sample, 1)
        if self.d_min > self.d_max:
            raise ParameterError(f"d_min={self.d_min} must not exceed d_max={self.d_max}")
        gs = self.gamma_scale
        if not isinstance(gs, Real) or isinstance(gs, bool) or not np.isfinite(gs) or gs <= 0:
            raise ParameterError(f"gamma_scale must be > 0, got {gs!r}")
        g = self.gamma
        if isinstance(g, str):
            if g != "median":
                raise ParameterError(f"gamma must be a positive number, 'median' or None: {g!r}")
        elif g is not None and (
            not isinstance(g, Real) or isinstance(g, bool) or not np.isfinite(g) or g <= 0
        ):
            raise ParameterError(f"gamma must be > 0 (or 'median', or None), got {g!r}")
        for name, value, allowed in [
            ("random_words", self.random_words, RANDOM_WORDS),
            ("weights", self.weights, ("nbow", "tfidf")),
            ("on_empty", self.on_empty, ON_EMPTY),
            ("unseen_idf", self.unseen_idf, ("max", "median")),
            ("output", self.output, OUTPUTS),
        ]:
            if value not in allowed:
                raise ParameterError(f"{name} must be one of {allowed}, got {value!r}")

    def _documents(self, X: Any) -> Documents:
        return to_documents(tokenize(X, self.tokenizer, self.stop_words), self.embeddings_)

    # -- fit ----------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> WordMoversEmbedding:
        """Draw and store the R random documents (and gamma, IDF) from training texts.

        Raises
        ------
        ParameterError
            An out-of-range hyperparameter.
        InputError
            Bad documents, or every training document is empty after dropping OOV words.
        """
        self._check_params()
        self.embeddings_ = Embeddings.from_any(self.embeddings)
        docs = self._documents(X)
        self.oov_rate_ = docs.oov_rate
        if docs.empty.all():
            raise InputError(
                f"all {docs.n_docs} training documents are empty or out of vocabulary "
                f"(OOV rate {docs.oov_rate:.0%}) for embeddings {self.embeddings_!r}; check the "
                "tokenizer and the embeddings (e.g. -p embeddings=synonym-shift for that set)"
            )
        self.idf_ = (
            idf_weights(docs, len(self.embeddings_), self.unseen_idf)
            if self.weights == "tfidf"
            else None
        )
        rng = np.random.default_rng(self.random_state)
        self.train_rows_ = np.unique(docs.rows)
        words = np.asarray(self.embeddings_.vectors[self.train_rows_], dtype=np.float64)
        self.random_vectors_, self.random_ptr_ = self._draw(rng, words)
        self._n_features_out = int(self.n_features)
        # One sample of training documents gives gamma (median WMD), the standardisation
        # and the rank-one check; it costs gamma_sample x R solves, so it is skipped when
        # gamma is fixed and the output is the kernel's (nothing needs it).
        self.median_wmd_ = None
        self.gamma_ = None if self.gamma in (None, "median") else float(self.gamma)
        self.feature_mean_ = self.feature_scale_ = None
        if self.gamma == "median" or self.output == "standardized":
            dist = self._sample_distances(docs, rng)
            if self.gamma == "median":
                self.median_wmd_ = float(np.median(dist))
                if not self.median_wmd_ > 0:
                    raise InputError("the median WMD is 0 (identical documents?); set gamma")
                self.gamma_ = float(self.gamma_scale) / self.median_wmd_
            Z = self._features(dist)
            _warn_if_rank_one(Z)
            if self.output == "standardized":
                self.feature_mean_ = Z.mean(axis=0)
                sd = Z.std(axis=0)
                self.feature_scale_ = np.where(sd > 1e-12 * np.abs(self.feature_mean_), sd, 1.0)
        return self

    def _draw(self, rng: np.random.Generator, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        R = int(self.n_features)
        sizes = rng.integers(self.d_min, self.d_max + 1, size=R)
        ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        total, d = int(ptr[-1]), words.shape[1]
        kind = self.random_words
        if kind in ("box", "box_unit"):
            lo, hi = float(words.min()), float(words.max())
            W = lo + (hi - lo) * rng.random((total, d))
            if kind == "box_unit":
                W /= np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-300)
        elif kind == "gaussian":
            W = words.mean(0) + words.std(0) * rng.standard_normal((total, d))
        else:
            # distinct words where the training vocabulary allows; a vocabulary smaller than D
            # repeats words (a heavier random word), so tiny corpora keep the default working
            picks = [rng.choice(len(words), size=s, replace=s > len(words)) for s in sizes]
            W = words[np.concatenate(picks)]
        return np.ascontiguousarray(W, dtype=np.float64), ptr

    def _sample_distances(self, docs: Documents, rng: np.random.Generator) -> np.ndarray:
        """WMDs of up to ``gamma_sample`` non-empty training documents to the omegas."""
        ok = np.flatnonzero(~docs.empty)
        pick = np.sort(rng.choice(ok, size=min(len(ok), self.gamma_sample), replace=False))
        return self._distances(_subset(docs, pick))

    def _features(self, dist: np.ndarray) -> np.ndarray:
        """The paper's ``R^{-1/2} exp(-gamma WMD)`` (raw WMD with ``gamma=None``)."""
        if self.gamma_ is None:
            return dist.copy()
        return np.exp(-self.gamma_ * dist) / np.sqrt(dist.shape[1])

    # -- transform ----------------------------------------------------------------------
    def _distances(self, docs: Documents) -> np.ndarray:
        used, local = np.unique(docs.rows, return_inverse=True)
        V = np.asarray(self.embeddings_.vectors[used], dtype=np.float64)
        if V.shape[1] != self.random_vectors_.shape[1]:
            raise InputError(
                f"embedding dimension {V.shape[1]} differs from the fitted random words' "
                f"{self.random_vectors_.shape[1]}; refit after changing the embeddings"
            )
        w = docs.weights(self.idf_)
        words = local.astype(np.int64).ravel()
        ptr = self.random_ptr_
        R = len(ptr) - 1
        dist = np.empty((docs.n_docs, R))
        # The ground costs of every used word against the random words of a block of omegas:
        # blocks keep that table under GROUND_COST_BYTES however large R and the vocabulary.
        per_omega = 8 * len(V) * int(ptr[-1]) / R  # bytes per random document
        block = max(1, int(GROUND_COST_BYTES // per_omega))
        for r0 in range(0, R, block):
            r1 = min(r0 + block, R)
            G = ground_costs(V, self.random_vectors_[ptr[r0] : ptr[r1]])
            dist[:, r0:r1], status = K.wmd_to_random_docs(
                docs.indptr, words, w, G, ptr[r0 : r1 + 1] - ptr[r0]
            )
            if status.any():  # never seen in testing; a loud failure beats a wrong value
                raise RuntimeError(f"EMD solver hit its iteration limit on {status.sum()} docs")
        return dist

    def wmd_to_random_documents(self, X: Any) -> np.ndarray:
        """Raw ``WMD(x, omega_r)``, ``(n_docs, R)``; ``inf`` for empty documents."""
        check_is_fitted(self, "random_vectors_")
        return self._distances(self._documents(X))

    def transform(self, X: Any) -> np.ndarray:
        """Features ``(n_docs, R)``, float64.

        ``output="kernel"``: ``Z(x) = R^{-1/2} exp(-gamma WMD(x, omega_r))`` in
        ``(0, R^{-1/2}]`` (the raw WMD with ``gamma=None``), whose inner products approximate
        the kernel. ``output="standardized"``: the same minus the mean, over the standard
        deviation, of each feature on the fitted sample. Empty documents follow
        ``on_empty`` (zero rows are zero after standardising too).
        """
        check_is_fitted(self, "random_vectors_")
        docs = self._documents(X)
        dist = self._distances(docs)
        self._warn_unseen(docs)
        empty = docs.empty
        if empty.any():
            where = np.flatnonzero(empty)
            if self.on_empty == "raise":
                raise InputError(
                    f"{where.size} document(s) have no in-vocabulary word (first: index "
                    f"{where[0]}); pass on_empty='zero' or 'nan' to keep them"
                )
            warnings.warn(
                f"{where.size} of {docs.n_docs} documents have no in-vocabulary word; their "
                f"rows are {'zero' if self.on_empty == 'zero' else 'NaN'}",
                stacklevel=2,
            )
        Z = self._features(dist)
        live = Z[~empty]
        if (
            self.gamma_ is not None
            and live.size
            and np.mean(live < 1e-12 / np.sqrt(Z.shape[1])) > 0.5
        ):
            warnings.warn(
                f"{np.mean(live < 1e-12 / np.sqrt(Z.shape[1])):.0%} of the features underflow "
                f"(< 1e-12): gamma={self.gamma_:.3g} is too large for WMDs around "
                f"{np.median(dist[~empty]):.3g}; use gamma='median'",
                stacklevel=2,
            )
        if self.feature_mean_ is not None:
            Z = (Z - self.feature_mean_) / self.feature_scale_
        Z[empty] = 0.0 if self.on_empty == "zero" else np.nan
        return Z

    def _warn_unseen(self, docs: Documents) -> None:
        """TF-IDF only: say how many tokens got ``unseen_idf``'s IDF when they are many."""
        if self.idf_ is None or not docs.counts.size:
            return
        unseen = ~np.isin(docs.rows, self.train_rows_)
        share = docs.counts[unseen].sum() / docs.counts.sum()
        if share > UNSEEN_WARN_SHARE:
            rule = "log(1 + N), the rarest" if self.unseen_idf == "max" else "the median"
            warnings.warn(
                f"{share:.0%} of the in-vocabulary tokens are words no training document "
                f"contains; their IDF is {rule} (unseen_idf={self.unseen_idf!r})",
                stacklevel=3,
            )

    def document_stats(self, X: Any) -> dict[str, float]:
        """Token count, OOV rate, empty documents of ``X`` under the fitted embeddings, and
        ``unseen_rate``: the fraction of in-vocabulary tokens whose word no training document
        contains (their IDF is ``unseen_idf``'s)."""
        check_is_fitted(self, "random_vectors_")
        docs = self._documents(X)
        unseen = ~np.isin(docs.rows, self.train_rows_)
        n_in = docs.counts.sum()
        return {
            "n_docs": docs.n_docs,
            "n_tokens": docs.n_tokens,
            "oov_rate": docs.oov_rate,
            "unseen_rate": float(docs.counts[unseen].sum() / n_in) if n_in else 0.0,
            "n_empty": int(docs.empty.sum()),
        }


def _subset(docs: Documents, pick: np.ndarray) -> Documents:
    starts, ends = docs.indptr[pick], docs.indptr[pick + 1]
    idx = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends, strict=True)])
    indptr = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
    return Documents(indptr, docs.rows[idx], docs.counts[idx], docs.n_tokens, docs.n_oov)


def _warn_if_rank_one(Z: np.ndarray) -> None:
    """Warn when one direction holds more than :data:`RANK_ONE_SHARE` of the centred variance."""
    if Z.shape[0] < RANK_ONE_MIN_DOCS or Z.shape[1] < 2:
        return  # a handful of documents spans few directions whatever the features
    s = np.linalg.svd(Z - Z.mean(axis=0), compute_uv=False) ** 2
    share = s[0] / s.sum() if s.sum() > 0 else 1.0
    if share > RANK_ONE_SHARE:
        warnings.warn(
            f"{share:.0%} of the centred feature variance lies in one direction: the WME "
            "features carry about one number per document (with raw word vectors and "
            "random_words='box_unit', their mean word norm: use random_words="
            "'vocab_sample' or normalised word vectors)",
            stacklevel=3,
        )
