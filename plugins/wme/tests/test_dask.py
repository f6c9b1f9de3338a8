"""WME on a 2-worker loopback Dask cluster: same results, a named table travels by reference."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from leanml.core.dask import partitioned, send_model
from leanml.core.testing_dask import (
    kill_busy_worker,
    loopback_client,  # noqa: F401 (the `client` fixture)
    restarted_partitions,
    slow_partitions,
)
from leanml.wme import KNNWMD, WMEClassifier, WordMoversEmbedding

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def fitted(shift):
    data, _ = shift
    clf = WMEClassifier(embeddings="synonym-shift", n_features=16, random_state=0)
    return clf.fit(data.X_train, data.y_train), data


def _table_on_worker(model_pickle: bytes) -> tuple[int, int]:
    """Unpickle a shipped model twice on a worker: the ids of the two tables it gets."""
    a, b = pickle.loads(model_pickle), pickle.loads(model_pickle)
    return id(a.wme_.embeddings_.vectors), id(b.wme_.embeddings_.vectors)


def test_model_travels_without_its_table(fitted):
    clf, _ = fitted
    table = clf.wme_.embeddings_.vectors
    shipped = pickle.dumps(clf)
    assert table.tobytes() not in shipped  # only the name and the table's SHA-256 travel
    back = pickle.loads(shipped)
    np.testing.assert_array_equal(back.wme_.embeddings_.vectors, table)
    np.testing.assert_array_equal(
        back.predict(list(fitted[1].X_test)), clf.predict(list(fitted[1].X_test))
    )


def test_unnamed_embeddings_travel_with_the_model(shift):
    data, emb = shift
    wme = WordMoversEmbedding(embeddings=emb, n_features=8, random_state=0).fit(data.X_train)
    assert emb.vectors.tobytes() in pickle.dumps(wme)


def test_partitioned_equals_one_process(client, fitted):
    clf, data = fitted
    docs = list(data.X_test)
    np.testing.assert_array_equal(partitioned(clf, "predict", docs, client, 5), clf.predict(docs))
    np.testing.assert_allclose(
        partitioned(clf, "decision_function", docs, client, 3),
        clf.decision_function(docs),
        rtol=1e-13,
        atol=1e-15,
    )
    np.testing.assert_allclose(  # BLAS blocks differ with the partition's shape (1e-15)
        partitioned(clf.wme_, "transform", docs, client, 4),
        clf.wme_.transform(docs),
        rtol=1e-13,
        atol=1e-14,
    )
    knn = KNNWMD(embeddings="synonym-shift", n_neighbors=3).fit(data.X_train, data.y_train)
    np.testing.assert_array_equal(
        partitioned(knn, "predict", docs[:60], client, 4), knn.predict(docs[:60])
    )


def test_a_model_sent_once_serves_every_partition_of_a_bag(client, fitted):
    import dask.bag as db

    clf, data = fitted
    model = send_model(clf, client)
    bag = db.from_sequence(list(data.X_test), npartitions=6)
    first = partitioned(model, "predict", bag, client)
    np.testing.assert_array_equal(first, clf.predict(list(data.X_test)))
    np.testing.assert_array_equal(partitioned(model, "predict", bag, client), first)


def test_killed_worker_is_survived(client, fitted, tmp_path):
    """Last in the module: it kills one of the shared cluster's workers (the nanny restarts it)."""
    clf, data = fitted
    docs = list(data.X_test)
    parts = slow_partitions(docs, 6, delay=0.5, marker_dir=tmp_path)
    futures = partitioned(clf, "predict", parts, client, gather=False)
    killed = kill_busy_worker(client, tmp_path, timeout=30)
    got = np.concatenate(client.gather(futures))
    client.wait_for_workers(2, timeout=60)
    assert killed not in client.run(os.getpid).values()
    np.testing.assert_array_equal(got, clf.predict(docs))
    assert restarted_partitions(tmp_path)


@pytest.mark.slow
def test_glove_model_pickles_small_and_loads_its_table_once_per_process():
    """The real table: a fitted GloVe WME model travels in well under 1 MiB (a 76 MiB table),
    and every model unpickled in one process shares the one table it loaded."""
    docs = ["the cat sat on the mat", "a dog ran in the park", "stocks fell on monday"] * 4
    clf = WMEClassifier(n_features=16, random_state=0).fit(docs, [0, 1, 2] * 4)
    assert clf.wme_.embeddings_.vectors.nbytes >= 80_000_000  # 400k words x 50 float32
    shipped = pickle.dumps(clf)
    assert len(shipped) < 2**20
    first, second = _table_on_worker(shipped)
    assert first == second
