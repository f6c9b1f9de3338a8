"""Resumable kNN-WMD: an interrupted run continues from its checkpoint, same result."""

from __future__ import annotations

import numpy as np
import pytest

from leanml.core import InputError
from leanml.wme import KNNWMD
from leanml.wme.checkpoint import kneighbors_checkpointed


@pytest.fixture
def knn_and_queries(shift):
    data, emb = shift
    knn = KNNWMD(emb, n_neighbors=3).fit(data.X_train[:60], data.y_train[:60])
    return knn, list(data.X_test[:10])


def test_interrupted_run_resumes_and_equals_one_shot(knn_and_queries, tmp_path, monkeypatch):
    knn, X = knn_and_queries
    want_d, want_i = knn.kneighbors(X)
    path = tmp_path / "knn.npz"
    real, calls = knn.kneighbors, []

    def dies_on_third_chunk(chunk):
        calls.append(len(chunk))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(chunk)

    monkeypatch.setattr(knn, "kneighbors", dies_on_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        kneighbors_checkpointed(knn, X, path, chunk=3)
    assert np.load(path)["idx"].shape == (6, 3)  # two chunks saved before the kill
    spy = []
    monkeypatch.setattr(knn, "kneighbors", lambda chunk: spy.append(len(chunk)) or real(chunk))
    dist, idx = kneighbors_checkpointed(knn, X, path, chunk=3)
    assert spy == [3, 1]  # only the 4 queries not saved
    np.testing.assert_array_equal(idx, want_i)
    np.testing.assert_array_equal(dist, want_d)


def test_checkpoint_of_another_run_is_refused(knn_and_queries, tmp_path):
    knn, X = knn_and_queries
    path = tmp_path / "knn.npz"
    kneighbors_checkpointed(knn, X[:4], path, chunk=2)
    with pytest.raises(InputError, match="another model"):
        kneighbors_checkpointed(knn, X[:5], path)
    with pytest.raises(InputError, match="another model"):
        kneighbors_checkpointed(knn.set_params(n_neighbors=2), X[:4], path)
