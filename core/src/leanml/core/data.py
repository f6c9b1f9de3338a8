"""The :class:`Dataset` container shared by every plugin.

A data set holds a train and a test split of one task. ``X`` may be a dense array, a scipy
CSR matrix, a list of texts, a list of token sequences (lists of feature dicts or ids), or a
tensor; ``y`` is an array (or a list of label sequences). Source and licence travel with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import InputError
from .registry import TASKS

__all__ = ["Dataset", "train_test_indices"]


def _kind(X: Any) -> str:
    if sp.issparse(X):
        return "sparse"
    if isinstance(X, np.ndarray):
        return "dense" if X.ndim == 2 else "tensor"
    if isinstance(X, Sequence) and len(X) and isinstance(X[0], str):
        return "texts"
    if isinstance(X, Sequence):
        return "sequences"
    return type(X).__name__


def _n(X: Any) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


def take_rows(X: Any, idx: np.ndarray) -> Any:
    """Rows ``idx`` of an array, sparse matrix or list (texts, sequences)."""
    if hasattr(X, "shape"):
        return X[idx]
    return [X[i] for i in idx]


def train_test_indices(
    y: Any, n: int, test_size: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (optionally stratified) train/test row indices.

    Parameters
    ----------
    y
        Labels used for stratification (ignored when ``stratify`` is false).
    n
        Number of rows.
    test_size
        Fraction of rows in the test split, in (0, 1).
    seed
        Seed of the permutation.
    stratify
        Keep class proportions in both splits.
    """
    if not 0.0 < test_size < 1.0:
        raise InputError(f"test_size must be in (0, 1), got {test_size}")
    rng = np.random.default_rng(seed)
    if not stratify:
        perm = rng.permutation(n)
        n_test = max(1, round(test_size * n))
        return np.sort(perm[n_test:]), np.sort(perm[:n_test])
    labels = np.asarray(y)
    train, test = [], []
    for cls in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == cls))
        n_test = round(test_size * len(rows))
        test.append(rows[:n_test])
        train.append(rows[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


@dataclass
class Dataset:
    """A named data set with a train and a test split.

    Attributes
    ----------
    name
        Registry name or file name.
    X_train, y_train, X_test, y_test
        The splits; ``y_*`` may be ``None`` for unsupervised data.
    task
        One of :data:`leanml.core.registry.TASKS`.
    source, licence
        Where the data come from and under which licence.
    feature_names, target_names
        Optional names.
    metadata
        Anything else (e.g. a label taxonomy, a vocabulary).
    """

    name: str
    X_train: Any
    y_train: Any
    X_test: Any = None
    y_test: Any = None
    task: str = "classification"
    source: str = ""
    licence: str = ""
    description: str = ""
    feature_names: Sequence[str] | None = None
    target_names: Sequence[str] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InputError(f"unknown task {self.task!r}; expected one of {TASKS}")
        if self.y_train is not None and _n(self.X_train) != len(self.y_train):
            raise InputError(
                f"dataset {self.name!r}: X_train has {_n(self.X_train)} rows "
                f"but y_train has {len(self.y_train)}"
            )
        if self.X_test is not None and self.y_test is not None:
            if _n(self.X_test) != len(self.y_test):
                raise InputError(
                    f"dataset {self.name!r}: X_test has {_n(self.X_test)} rows "
                    f"but y_test has {len(self.y_test)}"
                )

    @classmethod
    def from_arrays(
        cls,
        name: str,
        X: Any,
        y: Any,
        *,
        test_size: float = 0.25,
        seed: int = 0,
        stratify: bool | None = None,
        **fields: Any,
    ) -> Dataset:
        """Split ``X, y`` into train and test with a seeded (stratified) permutation.

        ``stratify`` defaults to true for classification.
        """
        task = fields.get("task", "classification")
        if stratify is None:
            stratify = task == "classification"
        n = _n(X)
        tr, te = train_test_indices(y, n, test_size, seed, stratify)
        if len(tr) == 0 or len(te) == 0:
            raise InputError(
                f"dataset {name!r}: {n} rows split with test_size={test_size} leave an empty "
                f"{'train' if len(tr) == 0 else 'test'} split; use more rows"
                + (" or classes with at least 2 rows each" if stratify else "")
            )
        return cls(
            name=name,
            X_train=take_rows(X, tr),
            y_train=take_rows(y, tr),
            X_test=take_rows(X, te),
            y_test=take_rows(y, te),
            **fields,
        )

    @property
    def kind(self) -> str:
        """``"dense"``, ``"sparse"``, ``"texts"``, ``"sequences"`` or ``"tensor"``."""
        return _kind(self.X_train)

    @property
    def n_train(self) -> int:
        """Rows in the train split."""
        return _n(self.X_train)

    @property
    def n_test(self) -> int:
        """Rows in the test split (0 without one)."""
        return 0 if self.X_test is None else _n(self.X_test)

    @property
    def n_features(self) -> int | None:
        """Columns of a matrix-valued ``X`` (``None`` for texts and sequences)."""
        shape = getattr(self.X_train, "shape", None)
        return int(shape[1]) if shape is not None and len(shape) > 1 else None

    def subset(
        self, n_train: int | None = None, n_test: int | None = None, seed: int = 0
    ) -> Dataset:
        """A seeded random subset of each split (for quick runs)."""
        rng = np.random.default_rng(seed)

        def pick(X: Any, y: Any, k: int | None) -> tuple[Any, Any]:
            if X is None or k is None or k >= _n(X):
                return X, y
            idx = np.sort(rng.choice(_n(X), size=k, replace=False))
            return take_rows(X, idx), None if y is None else take_rows(y, idx)

        X_tr, y_tr = pick(self.X_train, self.y_train, n_train)
        X_te, y_te = pick(self.X_test, self.y_test, n_test)
        return replace(self, X_train=X_tr, y_train=y_tr, X_test=X_te, y_test=y_te)

    def summary(self) -> dict[str, Any]:
        """Name, task, kind, sizes, source and licence, for tables and JSON records."""
        return {
            "name": self.name,
            "task": self.task,
            "kind": self.kind,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "n_features": self.n_features,
            "source": self.source,
            "licence": self.licence,
        }
