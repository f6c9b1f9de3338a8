from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from leanml.core import Dataset, InputError
from leanml.core.builtin import load_shared


def test_stratified_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    X = np.arange(100.0)[:, None]
    d = Dataset.from_arrays("t", X, y, test_size=0.2, seed=3)
    assert d.n_train + d.n_test == 100
    assert np.bincount(d.y_test).tolist() == [10, 6, 4]
    assert set(d.X_train[:, 0]).isdisjoint(d.X_test[:, 0])


def test_kinds_and_subset():
    X = sp.random(40, 5, density=0.3, format="csr", random_state=0)
    d = Dataset.from_arrays("s", X, np.arange(40) % 2, seed=0)
    assert d.kind == "sparse" and d.n_features == 5
    texts = Dataset.from_arrays("t", [f"w{i}" for i in range(20)], np.arange(20) % 2)
    assert texts.kind == "texts" and texts.n_features is None
    small = d.subset(n_train=7, n_test=3, seed=1)
    assert (small.n_train, small.n_test) == (7, 3)


def test_bad_dataset_construction():
    with pytest.raises(InputError, match="X_train has 3 rows but y_train has 2"):
        Dataset("x", np.zeros((3, 1)), np.zeros(2))
    with pytest.raises(InputError, match="unknown task"):
        Dataset("x", np.zeros((3, 1)), np.zeros(3), task="clustering")
    with pytest.raises(InputError, match="test_size"):
        Dataset.from_arrays("x", np.zeros((3, 1)), np.zeros(3), test_size=1.5)


@pytest.mark.parametrize(
    ("name", "shape", "n_classes"),
    [("digits", (1797, 64), 10), ("breast_cancer", (569, 30), 2), ("wine", (178, 13), 3)],
)
def test_shared_sklearn_sets_match_sklearn_loaders(name, shape, n_classes):
    import sklearn.datasets

    d = load_shared(name)
    assert (d.n_train + d.n_test, d.n_features) == shape
    ref = getattr(sklearn.datasets, f"load_{name}")()
    X = np.vstack([d.X_train, d.X_test])
    y = np.concatenate([d.y_train, d.y_test])
    # same rows as scikit-learn's own loader, as a multiset
    key = lambda A, b: sorted(map(tuple, np.column_stack([A, b]).round(6)))  # noqa: E731
    assert key(X, y) == key(ref.data, ref.target)
    assert len(np.unique(y)) == n_classes
