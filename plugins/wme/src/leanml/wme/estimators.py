"""Estimators on top of WME and WMD: the WME classifier, kNN-WMD and sentence similarity."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numba
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from leanml.core import InputError, ParameterError

from . import _kernels as K
from . import distance
from ._knn import lower_bounds, search
from .distance import _shared_table
from .documents import Documents, to_documents, tokenize
from .embeddings import Embeddings
from .wme import WordMoversEmbedding

__all__ = ["KNNWMD", "WMEClassifier", "similarity"]

#: kNN-WMD pruning levels, weakest last (the kernel's ``prune`` argument is 2 - index).
PRUNE = ("rwmd", "wcd", "none")
#: kNN-WMD searches at most this many queries at a time: its WCD and lower-bound matrices
#: are (queries x training documents) float64 each, 23 MB per 256 queries on 20 Newsgroups
#: (the whole test split at once would need 1.4 GB).
QUERY_CHUNK = 256

#: Every WordMoversEmbedding parameter, mirrored by WMEClassifier (a test checks it).
_WME_PARAMS = tuple(WordMoversEmbedding._get_param_names())


def _materialise(X: Any) -> Any:
    """Lists and arrays as they are; other iterables (generators) read once into a list."""
    if isinstance(X, str | bytes) or not isinstance(X, Iterable):
        raise InputError(
            f"expected an iterable of documents (strings or token lists), got {type(X).__name__}"
        )
    return X if isinstance(X, Sequence | np.ndarray) else list(X)


def _text_tags(tags: Any) -> Any:
    tags.input_tags.string = True  # texts or token lists, not a numeric matrix
    tags.input_tags.two_d_array = False
    return tags


class WMEClassifier(ClassifierMixin, BaseEstimator):
    """WME features followed by a linear classifier (the paper's WME + LIBLINEAR).

    Parameters
    ----------
    embeddings, n_features, d_max, d_min, gamma, random_words, weights, tokenizer,
    stop_words, on_empty, gamma_scale, gamma_sample, unseen_idf, output, random_state
        Passed to :class:`WordMoversEmbedding` (all of its parameters). With the default
        ``output="standardized"`` the features are standardised, so C near 1 works; the
        original instead tuned C up to 1e7 against its ``1/sqrt(R)`` scaling
        (``output="kernel"``).
    classifier
        ``"svm"`` (L2-regularised squared-hinge LinearSVC, LIBLINEAR ``-s 2`` as in the
        authors' code) or ``"logreg"`` (L2 logistic regression).
    C
        Inverse regularisation strength.

    Attributes
    ----------
    wme_ : the fitted WordMoversEmbedding; classes_ : labels
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
        classifier: str = "svm",
        C: float = 1.0,
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
        self.classifier = classifier
        self.C = C
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        return _text_tags(super().__sklearn_tags__())

    def _linear(self) -> Any:
        if not (isinstance(self.C, int | float) and self.C > 0):
            raise ParameterError(f"C must be > 0, got {self.C!r}")
        if self.classifier == "svm":
            # LIBLINEAR's primal Newton solver: on 4,292 tweets at R = 8192 it converged in
            # 68 s; the dual coordinate descent ("auto" picks it when R > n) stopped at its
            # iteration cap after 887 s, no more accurate
            return LinearSVC(C=self.C, loss="squared_hinge", dual=False, tol=1e-4, max_iter=20_000)
        if self.classifier == "logreg":
            return LogisticRegression(C=self.C, max_iter=5000)
        raise ParameterError(f"classifier must be 'svm' or 'logreg', got {self.classifier!r}")

    def fit(self, X: Any, y: Any) -> WMEClassifier:
        """Fit WME on the training texts, then the linear model on their features."""
        X = _materialise(X)
        y = np.asarray(y)
        if len(y) != len(X):
            raise InputError(f"X has {len(X)} documents but y has {len(y)} labels")
        clf = self._linear()
        self.wme_ = WordMoversEmbedding(**{p: getattr(self, p) for p in _WME_PARAMS})
        self.model_ = clf.fit(self.wme_.fit_transform(X), y)
        self.classes_ = self.model_.classes_
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Linear scores of the WME features."""
        check_is_fitted(self, "model_")
        return self.model_.decision_function(self.wme_.transform(X))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels."""
        check_is_fitted(self, "model_")
        return self.model_.predict(self.wme_.transform(X))


class KNNWMD(ClassifierMixin, BaseEstimator):
    """k-nearest-neighbour classification by exact WMD (Kusner et al., 2015), the baseline.

    Parameters
    ----------
    embeddings
        Word vectors (see :meth:`Embeddings.from_any`).
    n_neighbors
        k; majority vote, ties to the label of the nearest tied neighbour.
    solver
        ``"leanml"`` (this package's Numba kernel, parallel over test documents),
        ``"pot"`` (``ot.emd2`` per pair) or ``"gensim"`` (``KeyedVectors.wmdistance`` per
        pair with ``norm=False``, which uses POT inside).
    prune
        Kusner et al.'s prefetch-and-prune, exact either way: ``"rwmd"`` (default) visits
        training documents by increasing lower bound ``max(WCD, RWMD)`` (word-centroid
        distance; relaxed WMD, the larger of the two one-sided nearest-word costs), stops
        once the bound reaches the k-th best WMD so far, and skips the exact solve of a pair
        whose transport dual after one sweep of coordinate ascent (a third lower bound)
        reaches it; ``"wcd"`` visits and stops by the
        WCD alone (Kusner et al.'s order); ``"none"`` solves every pair. Pairs of the shapes
        where POT's ``emd_c`` is faster (:func:`~leanml.wme.distance.prefers_pot`, e.g. two
        long documents) are solved by it when POT is installed.
    tokenizer, stop_words
        As in :class:`WordMoversEmbedding`.

    Attributes
    ----------
    n_solved_ : exact WMD solves in the last ``kneighbors``/``predict``
    n_rwmd_pruned_ : with ``prune="rwmd"``, the pairs not solved (``n_pairs_ - n_solved_``)
    n_pairs_ : query x training pairs there (what ``prune="none"`` solves)
    """

    def __init__(
        self,
        embeddings: Any = "glove-6b-50d",
        n_neighbors: int = 5,
        solver: str = "leanml",
        prune: str = "rwmd",
        tokenizer: Callable[[str], Sequence[str]] | None = None,
        stop_words: Any = "english",
    ) -> None:
        self.embeddings = embeddings
        self.n_neighbors = n_neighbors
        self.solver = solver
        self.prune = prune
        self.tokenizer = tokenizer
        self.stop_words = stop_words

    def __sklearn_tags__(self) -> Any:
        return _text_tags(super().__sklearn_tags__())

    def _docs(self, X: Any) -> Documents:
        return to_documents(tokenize(X, self.tokenizer, self.stop_words), self.embeddings_)

    def fit(self, X: Any, y: Any) -> KNNWMD:
        """Store the training documents."""
        if not isinstance(self.n_neighbors, int) or self.n_neighbors < 1:
            raise ParameterError(f"n_neighbors must be an integer >= 1, got {self.n_neighbors!r}")
        if self.prune not in PRUNE:
            raise ParameterError(f"prune must be one of {PRUNE}, got {self.prune!r}")
        if self.solver not in ("leanml", "pot", "gensim"):
            raise ParameterError(f"solver must be leanml, pot or gensim, got {self.solver!r}")
        self.embeddings_ = Embeddings.from_any(self.embeddings)
        self.train_ = self._docs(X)
        # The training side of the word-centroid bound, computed once.
        self.train_weights_ = self.train_.weights()
        vectors = np.asarray(self.embeddings_.vectors[self.train_.rows], dtype=np.float64)
        self.train_centroids_ = _centroids(
            self.train_, np.arange(self.train_.rows.size), self.train_weights_, vectors
        )
        self.y_ = np.asarray(y)
        if len(self.y_) != self.train_.n_docs:
            raise InputError(f"X has {self.train_.n_docs} documents but y has {len(self.y_)}")
        if self.n_neighbors > self.train_.n_docs:
            raise ParameterError(f"n_neighbors={self.n_neighbors} > {self.train_.n_docs} docs")
        self.classes_ = np.unique(self.y_)
        return self

    def kneighbors(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, indices)`` of the k nearest training documents, nearest first.

        Empty test documents get ``inf`` distances and index ``-1``.
        """
        check_is_fitted(self, "train_")
        X = list(X)
        if len(X) > QUERY_CHUNK:  # bounds the memory of the (queries x training) bounds
            counts = np.zeros(3, dtype=np.int64)
            parts = []
            for lo in range(0, len(X), QUERY_CHUNK):
                parts.append(self.kneighbors(X[lo : lo + QUERY_CHUNK]))
                counts += (self.n_solved_, self.n_rwmd_pruned_, self.n_pairs_)
            self.n_solved_, self.n_rwmd_pruned_, self.n_pairs_ = (int(c) for c in counts)
            return np.vstack([d for d, _ in parts]), np.vstack([i for _, i in parts])
        Q, T = self._docs(X), self.train_
        V, rq, rt = _shared_table(self.embeddings_, Q, T)
        wq, wt = Q.weights(), self.train_weights_
        wcd = K.centroid_distances(_centroids(Q, rq, wq, V), self.train_centroids_)
        wcd[:, T.empty] = np.inf  # empty training documents are never neighbours
        self.n_pairs_ = int((~Q.empty).sum()) * int((~T.empty).sum())
        level = 2 - PRUNE.index(self.prune)
        if self.solver != "leanml":
            return self._kneighbors_peer(Q, T, rq, rt, wq, wt, V, wcd, level)
        docs = (Q.indptr, rq, wq, T.indptr, rt, wt, V)
        lower = lower_bounds(*docs, wcd) if level >= 2 else wcd
        idx, dist, solved = search(
            *docs,
            lower,
            self.n_neighbors,
            prune=level >= 1,
            use_pot=_pot_rule(),
            dual=level >= 2,
            n_threads=numba.get_num_threads(),
        )
        self.n_solved_ = int(solved.sum())
        self.n_rwmd_pruned_ = self.n_pairs_ - self.n_solved_ if level >= 2 else 0
        return dist, idx

    def _kneighbors_peer(
        self, Q, T, rq, rt, wq, wt, V, wcd, level
    ) -> tuple[np.ndarray, np.ndarray]:
        """The same search with a peer's solver per pair (and the same two bounds)."""
        k = self.n_neighbors
        dist = np.full((Q.n_docs, k), np.inf)
        idx = np.full((Q.n_docs, k), -1, dtype=np.int64)
        solve = self._peer_solver(V)
        solved = skipped = 0
        for q in range(Q.n_docs):
            sq = slice(Q.indptr[q], Q.indptr[q + 1])
            if sq.start == sq.stop:
                continue
            for s in np.argsort(wcd[q]):
                if (level >= 1 and wcd[q, s] >= dist[q, -1]) or not np.isfinite(wcd[q, s]):
                    break
                st = slice(T.indptr[s], T.indptr[s + 1])
                if (
                    level >= 2
                    and K.rwmd(wq[sq], wt[st], K.pair_costs(V[rq[sq]], V[rt[st]])) >= (dist[q, -1])
                ):
                    skipped += 1
                    continue
                c = solve(rq[sq], wq[sq], rt[st], wt[st], Q.counts[sq], T.counts[st])
                solved += 1
                if c < dist[q, -1]:
                    p = int(np.searchsorted(dist[q], c, side="right"))
                    dist[q, p + 1 :] = dist[q, p:-1].copy()
                    idx[q, p + 1 :] = idx[q, p:-1].copy()
                    dist[q, p], idx[q, p] = c, s
        self.n_solved_, self.n_rwmd_pruned_ = solved, skipped
        return dist, idx

    def _peer_solver(self, V: np.ndarray) -> Callable[..., float]:
        if self.solver == "pot":
            import ot

            def pot(ra, wa, rb, wb, ca, cb):
                return float(ot.emd2(wa, wb, K.pair_costs(V[ra], V[rb])))

            return pot
        from gensim.models import KeyedVectors

        kv = KeyedVectors(V.shape[1])
        kv.add_vectors([str(i) for i in range(len(V))], V)
        keys = np.asarray(kv.index_to_key)

        def gensim_wmd(ra, wa, rb, wb, ca, cb):
            # gensim takes token lists and derives nBOW weights from repeats: expand the
            # merged counts back into tokens.
            ta = np.repeat(keys[ra], ca.astype(int)).tolist()
            tb = np.repeat(keys[rb], cb.astype(int)).tolist()
            return float(kv.wmdistance(ta, tb, norm=False))

        return gensim_wmd

    def predict(self, X: Any) -> np.ndarray:
        """Majority label of the k nearest training documents."""
        return self.vote(self.kneighbors(X)[1])

    def vote(self, idx: np.ndarray) -> np.ndarray:
        """Majority labels from :meth:`kneighbors`' indices (-1: missing), ties to the
        nearest tied label; a query without neighbours (an empty document) gets the
        training set's majority class. Lets a stored search (e.g. a resumed, checkpointed
        one) be scored without searching again."""
        check_is_fitted(self, "y_")
        out = np.empty(len(idx), dtype=self.y_.dtype)
        fallback = self.classes_[np.argmax(np.unique(self.y_, return_counts=True)[1])]
        for q in range(len(idx)):
            ok = idx[q][idx[q] >= 0]
            if ok.size == 0:
                out[q] = fallback  # empty document: the majority class
                continue
            labels = self.y_[ok]
            values, counts = np.unique(labels, return_counts=True)
            top = values[counts == counts.max()]
            out[q] = next(lab for lab in labels if lab in top)
        return out


def _centroids(docs: Documents, local: np.ndarray, w: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Weighted mean word vector of each document (zeros for empty ones)."""
    out = np.zeros((docs.n_docs, V.shape[1]))
    full = ~docs.empty
    if full.any():  # documents are contiguous runs of rows: one segmented sum
        out[full] = np.add.reduceat(V[local] * w[:, None], docs.indptr[:-1][full], axis=0)
    return out


def _pot_rule() -> Callable[[int, int], bool] | None:
    """Which pair shapes kNN-WMD hands to POT's ``emd_c`` (``None``: POT missing)."""
    try:
        import ot.lp.emd_wrap  # noqa: F401
    except ImportError:
        return None
    return distance.prefers_pot


def similarity(
    texts_a: Sequence[Any],
    texts_b: Sequence[Any],
    model: WordMoversEmbedding | None = None,
    pairwise: bool = False,
    **params: Any,
) -> np.ndarray:
    """Cosine similarity of WME features: a soft inverse WMD between sentences.

    Parameters
    ----------
    texts_a, texts_b
        Documents; with ``pairwise=False`` they are aligned pairs of equal length.
    model
        A fitted :class:`WordMoversEmbedding`; by default one is fitted (unsupervised) on
        ``texts_a + texts_b`` with ``params`` (``output="kernel"`` unless given).
    pairwise
        Return the full ``(len(a), len(b))`` matrix instead of the aligned pairs.

    Returns
    -------
    Similarities in [0, 1] (0 where a document is empty).
    """
    if not pairwise and len(texts_a) != len(texts_b):
        raise InputError(f"texts_a has {len(texts_a)} documents, texts_b {len(texts_b)}")
    if model is None:
        # the kernel's scale: cosines of standardised features would be correlations
        params = {"output": "kernel", **params}
        model = WordMoversEmbedding(**params).fit(list(texts_a) + list(texts_b))
    Za = _unit(model.transform(texts_a))
    Zb = _unit(model.transform(texts_b))
    return Za @ Zb.T if pairwise else np.einsum("ij,ij->i", Za, Zb)


def _unit(Z: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    return np.divide(Z, norms, out=np.zeros_like(Z), where=norms > 0)
