"""scikit-learn style estimator: train an embedding, index the training rows, retrieve.

``SparseRetriever.fit(X, y)`` trains ``head(backbone(x))`` with a task loss plus the
FLOPs (or L1, or no) regulariser, embeds the training rows and adds them to an index
(the plugin's :class:`~leanml.sparse_retrieval.index.SparseIndex`, or a peer: faiss flat /
IVF-PQ / HNSW on dense embeddings, scipy or sparse-dot-topn on sparse ones).
``predict`` returns the label of each query's nearest database row, so ``accuracy`` is
the paper's Recall@1; ``decision_function`` returns the labels of the k nearest rows
(best first), scored by the ``label_recall_at_10`` metric.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from leanml.core import DataError, InputError, ParameterError

from .peers import INDEX_KINDS, SPARSE_KINDS

__all__ = ["SparseRetriever", "label_recall_at_k"]

_REGS = ("flops", "l1", "none")
_LOSSES = ("cosine_softmax", "arcface", "triplet")


class SparseRetriever:
    """Learned (sparse) embeddings + an index, with a classifier-like interface.

    Parameters
    ----------
    regularizer
        ``"flops"`` (Σ_j (mean_i |a_ij|)², the paper), ``"l1"`` (baseline) or ``"none"``.
    lam
        λ, the regulariser's final weight (FLOPs and L1 need different ranges; see the
        README's sweep).
    lam_db
        Separate λ_d for a database-side batch; with symmetric data (one batch for both,
        as here) only ``lam`` is used. Kept for API parity with asymmetric training.
    dim
        d, the embedding dimension.
    activation
        Final activation of the head: ``"relu"``, ``"soft_threshold"``, ``"topk"`` or
        ``"none"`` (dense baseline).
    shrink
        λ of the soft-threshold activation.
    top_k
        Non-zeros kept per row by the ``"topk"`` activation.
    backbone
        ``"mlp"`` or ``"cnn"``.
    width
        Backbone output width.
    loss
        ``"cosine_softmax"``, ``"arcface"`` or ``"triplet"`` (semi-hard).
    scale, margin
        s and m of the cosine-softmax / ArcFace loss; ``margin`` is the triplet margin
        for ``loss="triplet"``.
    epochs, batch_size, lr, weight_decay
        Training settings (Adam).
    warmup_fraction
        T / total steps of the quadratic warm-up λ_t = λ min(1, (t/T)²).
    index
        One of ``sparse``, ``faiss-flat``, ``faiss-ivfpq``, ``faiss-hnsw``, ``scipy``,
        ``sdtopn``.
    pca_dim
        Reduce dense embeddings to this many PCA components (then re-normalise) before
        indexing (the PCA-reduced dense baseline); ``None`` keeps them.
    k
        Neighbours returned by :meth:`decision_function`.
    score_threshold
        Sparse index filter t (``None`` = exact top-k).
    index_options
        Extra keyword arguments for the faiss index (``nlist``, ``m``, ``nprobe``,
        ``hnsw_m``, ``ef_search``...).
    zero_threshold
        |x| below this counts as zero (the paper: 1e-8).
    n_threads
        Threads for the index (default: the current Numba/``--threads`` setting).
    random_state
        Seed of the weights and batch order.
    """

    def __init__(
        self,
        regularizer: str = "flops",
        lam: float = 1.0,
        lam_db: float | None = None,
        dim: int = 256,
        activation: str = "relu",
        shrink: float = 0.1,
        top_k: int | None = None,
        backbone: str = "mlp",
        width: int = 256,
        loss: str = "cosine_softmax",
        scale: float = 16.0,
        margin: float = 0.0,
        epochs: int = 10,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_fraction: float = 1 / 3,
        index: str = "sparse",
        pca_dim: int | None = None,
        k: int = 10,
        score_threshold: float | None = None,
        index_options: dict[str, Any] | None = None,
        zero_threshold: float = 1e-8,
        n_threads: int | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.regularizer = regularizer
        self.lam = lam
        self.lam_db = lam_db
        self.dim = dim
        self.activation = activation
        self.shrink = shrink
        self.top_k = top_k
        self.backbone = backbone
        self.width = width
        self.loss = loss
        self.scale = scale
        self.margin = margin
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_fraction = warmup_fraction
        self.index = index
        self.pca_dim = pca_dim
        self.k = k
        self.score_threshold = score_threshold
        self.index_options = index_options
        self.zero_threshold = zero_threshold
        self.n_threads = n_threads
        self.random_state = random_state

    # ------------------------------------------------------------ sklearn protocol
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters."""
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: copy.deepcopy(getattr(self, n)) if deep else getattr(self, n) for n in names}

    def set_params(self, **params: Any) -> SparseRetriever:
        """Set constructor parameters; unknown names raise :class:`ParameterError`."""
        valid = self.get_params(deep=False)
        for name, value in params.items():
            if name not in valid:
                raise ParameterError(f"unknown parameter {name!r}; valid: {sorted(valid)}")
            setattr(self, name, value)
        return self

    def _validate(self) -> None:
        if self.regularizer not in _REGS:
            raise ParameterError(f"regularizer must be one of {_REGS}, got {self.regularizer!r}")
        if self.loss not in _LOSSES:
            raise ParameterError(f"loss must be one of {_LOSSES}, got {self.loss!r}")
        if self.index not in INDEX_KINDS:
            raise ParameterError(f"index must be one of {INDEX_KINDS}, got {self.index!r}")
        if not (self.lam >= 0 and np.isfinite(self.lam)):
            raise ParameterError(f"lam must be a finite number >= 0, got {self.lam}")
        if int(self.dim) != self.dim or self.dim < 1:
            raise ParameterError(f"dim must be an integer >= 1, got {self.dim}")
        if int(self.k) != self.k or self.k < 1:
            raise ParameterError(f"k must be an integer >= 1, got {self.k}")
        if not 0 < self.warmup_fraction <= 1:
            raise ParameterError(f"warmup_fraction must be in (0, 1], got {self.warmup_fraction}")
        if self.index in SPARSE_KINDS and self.activation == "none":
            raise ParameterError(
                f"index={self.index!r} is a sparse index but activation='none' gives dense "
                "embeddings: use relu/soft_threshold/topk or a faiss index"
            )
        if self.pca_dim is not None and self.index in SPARSE_KINDS:
            raise ParameterError("pca_dim applies to dense (faiss) indexes only")

    # ------------------------------------------------------------ training
    def _prepare(self, X: Any, fitting: bool) -> np.ndarray:
        import scipy.sparse as sp

        if sp.issparse(X):
            X = X.toarray()
        arr = np.asarray(X)
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
            raise InputError(f"X must be a 2-d numeric array, got shape {arr.shape}")
        arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            raise InputError("X contains NaN or infinite values")
        if fitting:
            self.n_features_in_ = arr.shape[1]
            peak = float(np.abs(arr).max()) if arr.size else 0.0
            self.input_scale_ = peak if peak > 0 else 1.0
        elif arr.shape[1] != self.n_features_in_:
            raise InputError(f"X has {arr.shape[1]} features; the model was fitted on "
                             f"{self.n_features_in_}")  # fmt: skip
        return arr / self.input_scale_

    def fit(self, X: Any, y: Any) -> SparseRetriever:
        """Train the embedding on ``(X, y)`` and index the training rows."""
        import torch

        from .regularizers import FLOPsRegularizer, L1Regularizer
        from .trainer import Trainer

        self._validate()
        Xs = self._prepare(X, fitting=True)
        y = np.asarray(y)
        if y.shape[0] != Xs.shape[0]:
            raise InputError(f"X has {Xs.shape[0]} rows but y has {y.shape[0]}")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise InputError("need at least two classes to learn an embedding")
        seed = 0 if self.random_state is None else int(self.random_state)
        torch.manual_seed(seed)
        model, task = self._network(Xs.shape[1], len(self.classes_))
        reg = None
        if self.regularizer == "flops":
            reg = FLOPsRegularizer(self.lam, self.lam_db)
        elif self.regularizer == "l1":
            reg = L1Regularizer(self.lam, self.lam_db)
        steps = max(1, Xs.shape[0] // min(self.batch_size, Xs.shape[0])) * self.epochs
        trainer = Trainer(
            model,
            task,
            reg,
            warmup_steps=max(1, round(self.warmup_fraction * steps)),
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            random_state=seed,
            zero_threshold=self.zero_threshold,
        )
        self.history_ = trainer.fit(Xs, y_idx)
        self.model_ = model
        self.build_index(X, y)
        return self

    def _network(self, n_features: int, n_classes: int):
        """A fresh (backbone + head, task loss) pair for these settings."""
        from .backbones import make_backbone
        from .heads import SparseHead
        from .task_losses import CosineSoftmaxLoss, TripletSemiHardLoss
        from .trainer import SparseEmbedder

        bb = make_backbone(self.backbone, n_features, self.width)
        head = SparseHead(bb.out_features, self.dim, self.activation, self.shrink, self.top_k)
        model = SparseEmbedder(bb, head)
        if self.loss == "triplet":
            task = TripletSemiHardLoss(self.margin if self.margin > 0 else 0.1)
        else:
            margin = self.margin if self.loss == "arcface" else 0.0
            task = CosineSoftmaxLoss(self.dim, n_classes, self.scale, margin)
        return model, task

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the trained network (no index) to a directory: ``params.json`` and
        ``weights.pt`` (a state dict, loaded with ``weights_only=True``, so no pickle)."""
        import torch

        self._check_fitted(index=False)
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        meta = {
            "params": self.get_params(),
            "n_features_in": int(self.n_features_in_),
            "input_scale": float(self.input_scale_),
            "classes": self.classes_.tolist(),
            "history": self.history_,
        }
        (out / "params.json").write_text(json.dumps(meta, indent=2, default=float))
        state = {"model": self.model_.state_dict()}
        if self.pca_dim is not None:
            state["pca_mean"] = torch.from_numpy(self.pca_mean_)
            state["pca_components"] = torch.from_numpy(self.pca_components_)
        torch.save(state, out / "weights.pt")
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SparseRetriever:
        """A network saved by :meth:`save` (call :meth:`build_index` before searching)."""
        import torch

        src = Path(path)
        try:
            meta = json.loads((src / "params.json").read_text())
            state = torch.load(src / "weights.pt", weights_only=True)
        except (OSError, ValueError, RuntimeError) as exc:
            raise DataError(f"cannot read a saved SparseRetriever from {src}: {exc}") from exc
        est = cls(**meta["params"])
        est.n_features_in_ = meta["n_features_in"]
        est.input_scale_ = meta["input_scale"]
        est.classes_ = np.asarray(meta["classes"])
        est.history_ = meta["history"]
        est.model_, _ = est._network(est.n_features_in_, len(est.classes_))
        est.model_.load_state_dict(state["model"])
        est.model_.eval()
        if "pca_mean" in state:
            est.pca_mean_ = state["pca_mean"].numpy()
            est.pca_components_ = state["pca_components"].numpy()
        return est

    def transform(self, X: Any) -> np.ndarray:
        """Embeddings (float32, L2-normalised; PCA-reduced if ``pca_dim``)."""
        from .trainer import encode

        self._check_fitted(index=False)
        emb = encode(self.model_, self._prepare(X, fitting=False))
        if self.index in SPARSE_KINDS:
            emb[np.abs(emb) < self.zero_threshold] = 0.0
        if self.pca_dim is not None:
            emb = (emb - self.pca_mean_) @ self.pca_components_.T
            emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        return emb.astype(np.float32, copy=False)

    def build_index(self, X: Any, y: Any) -> SparseRetriever:
        """(Re)build the index over ``X`` with labels ``y`` using the trained embedding."""
        from .index import to_csr
        from .peers import make_index

        self._check_fitted(index=False)
        y = np.asarray(y)
        if self.pca_dim is not None and not hasattr(self, "pca_components_"):
            self.pca_dim_fit(X)
        emb = self.transform(X)
        if not np.isfinite(emb).all():
            raise InputError("the trained network produced NaN embeddings")
        options = dict(self.index_options or {})
        if self.index == "sparse":
            options["threshold"] = self.score_threshold
        idx = make_index(self.index, emb.shape[1], self.n_threads, **options)
        idx.add(to_csr(emb, self.zero_threshold) if self.index in SPARSE_KINDS else emb)
        self.index_ = idx
        self.db_labels_ = y
        if self.index in SPARSE_KINDS:
            from .accounting import flops_stats

            self.flops_stats_ = flops_stats(emb, self.zero_threshold)
            if self.flops_stats_["nnz"] > 0.5 * emb.shape[1]:
                warnings.warn(
                    f"embeddings are dense (mean nnz {self.flops_stats_['nnz']:.0f} of "
                    f"{emb.shape[1]}): the inverted index will be slower than dense search; "
                    "raise lam",
                    stacklevel=2,
                )
        return self

    def pca_dim_fit(self, X: Any) -> None:
        """Fit the PCA projection on the embeddings of ``X`` (``pca_dim`` components)."""
        from .trainer import encode

        emb = encode(self.model_, self._prepare(X, fitting=False)).astype(np.float64)
        if not 1 <= self.pca_dim <= emb.shape[1]:
            raise ParameterError(f"pca_dim must be in [1, {emb.shape[1]}], got {self.pca_dim}")
        self.pca_mean_ = emb.mean(0)
        _, _, vt = np.linalg.svd(emb - self.pca_mean_, full_matrices=False)
        self.pca_components_ = vt[: self.pca_dim]

    def _check_fitted(self, index: bool = True) -> None:
        if not hasattr(self, "model_") or (index and not hasattr(self, "index_")):
            raise InputError("this SparseRetriever is not fitted yet: call fit(X, y)")

    # ------------------------------------------------------------ retrieval
    def kneighbors(self, X: Any, k: int | None = None):
        """``(scores, ids)`` of the k best database rows per query (ids into the rows
        given to :meth:`fit` / :meth:`build_index`)."""
        from .index import to_csr

        self._check_fitted()
        k = self.k if k is None else k
        emb = self.transform(X)
        k = min(int(k), self.index_.ntotal)
        q = to_csr(emb, self.zero_threshold) if self.index in SPARSE_KINDS else emb
        return self.index_.search(q, k)

    def predict(self, X: Any) -> np.ndarray:
        """Label of the nearest database row (accuracy of this = Recall@1)."""
        _, ids = self.kneighbors(X, 1)
        out = self.db_labels_[np.maximum(ids[:, 0], 0)]
        if (ids[:, 0] < 0).any():  # thresholded away: no neighbour; predict the first class
            out = out.copy()
            out[ids[:, 0] < 0] = self.classes_[0]
        return out

    def decision_function(self, X: Any) -> np.ndarray:
        """Labels of the ``k`` nearest database rows, best first (n x k, object dtype).

        This is what the ``label_recall_at_10`` metric scores; missing neighbours (a
        threshold filtered them) are ``None`` and never match.
        """
        _, ids = self.kneighbors(X, self.k)
        labels = self.db_labels_[np.maximum(ids, 0)].astype(object)
        labels[ids < 0] = None
        return labels

    def score(self, X: Any, y: Any) -> float:
        """Recall@1 (nearest row has the query's label)."""
        return float(np.mean(self.predict(X) == np.asarray(y)))


def label_recall_at_k(y_true: Any, neighbour_labels: Any, k: int = 10) -> float:
    """Fraction of queries with at least one of their k nearest rows of the same label.

    This is the paper's Recall@k (same identity among the top k). ``neighbour_labels`` is
    :meth:`SparseRetriever.decision_function`'s n x >= k label matrix.
    """
    y = np.asarray(y_true)
    nl = np.asarray(neighbour_labels, dtype=object)
    if nl.ndim != 2 or nl.shape[0] != y.shape[0] or nl.shape[0] == 0:
        raise InputError("neighbour labels must be n_queries x k, one row per true label")
    return float(np.mean((nl[:, :k] == y[:, None].astype(object)).any(axis=1)))


def label_recall_at_10(y_true: Any, neighbour_labels: Any) -> float:
    """:func:`label_recall_at_k` with k = 10."""
    return label_recall_at_k(y_true, neighbour_labels, 10)
