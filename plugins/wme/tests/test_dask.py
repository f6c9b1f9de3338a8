"""WME on a 2-worker loopback Dask cluster: same results, the table travels by reference."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from leanml.core import ChecksumError
from leanml.core.dask import partitioned, prepare_for_workers, send_model
from leanml.core.testing_dask import (
    kill_busy_worker,
    loopback_cluster,
    restarted_partitions,
    slow_partitions,
)
from leanml.wme import KNNWMD, WMEClassifier, WordMoversEmbedding
from leanml.wme import _dask as wme_dask

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def client():
    with loopback_cluster(2, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def fitted(shift):
    data, _ = shift
    clf = WMEClassifier(embeddings="synonym-shift", n_features=16, random_state=0)
    return clf.fit(data.X_train, data.y_train), data


def _worker_tables():
    return {name: id(emb) for name, emb in wme_dask._LOADED.items()}


def test_model_travels_without_its_table(fitted):
    clf, _ = fitted
    light = prepare_for_workers(clf)
    assert light is not clf and clf.wme_.embeddings_.__class__.__name__ == "Embeddings"
    table = clf.wme_.embeddings_.vectors
    saved = len(pickle.dumps(clf)) - len(pickle.dumps(light))
    assert saved >= table.nbytes  # the vectors (and vocabulary) are not in the pickle
    back = pickle.loads(pickle.dumps(light))
    np.testing.assert_array_equal(back.wme_.embeddings_.vectors, table)
    assert back.wme_.embeddings_.vocab == clf.wme_.embeddings_.vocab


def test_unnamed_embeddings_travel_with_the_model(shift):
    data, emb = shift
    wme = WordMoversEmbedding(embeddings=emb, n_features=8, random_state=0).fit(data.X_train)
    assert prepare_for_workers(wme) is wme


def test_checksum_mismatch_is_refused(monkeypatch):
    monkeypatch.setattr(wme_dask, "_LOADED", {})
    with pytest.raises(ChecksumError, match="synonym-shift"):
        wme_dask.load_named("synonym-shift", "0" * 64)


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
    np.testing.assert_array_equal(
        partitioned(clf.wme_, "transform", docs, client, 4), clf.wme_.transform(docs)
    )
    knn = KNNWMD(embeddings="synonym-shift", n_neighbors=3).fit(data.X_train, data.y_train)
    np.testing.assert_array_equal(
        partitioned(knn, "predict", docs[:60], client, 4), knn.predict(docs[:60])
    )


def test_each_worker_loads_the_table_once(client, fitted):
    import dask.bag as db

    clf, data = fitted
    bag = db.from_sequence(list(data.X_test), npartitions=6)
    first = partitioned(send_model(clf, client), "predict", bag, client)
    tables = client.run(_worker_tables)
    assert all(t.keys() == {"synonym-shift"} for t in tables.values()) and len(tables) == 2
    again = partitioned(send_model(clf, client), "predict", bag, client)  # a second shipment
    assert client.run(_worker_tables) == tables  # same table objects: not reloaded
    np.testing.assert_array_equal(first, again)


def test_killed_worker_is_survived(client, fitted, tmp_path):
    """Last in the module: it kills one of the shared cluster's workers (the nanny restarts it)."""
    clf, data = fitted
    docs = list(data.X_test)
    parts = slow_partitions(docs, 6, delay=0.5, marker_dir=tmp_path)
    futures = partitioned(clf, "predict", parts, client, gather=False)
    killed = kill_busy_worker(client, timeout=30)
    got = np.concatenate(client.gather(futures))
    client.wait_for_workers(2, timeout=60)
    assert killed not in client.run(os.getpid).values()
    np.testing.assert_array_equal(got, clf.predict(docs))
    assert restarted_partitions(tmp_path)


@pytest.mark.slow
def test_glove_model_pickles_small():
    """The real table: a fitted GloVe WME model travels in well under 1 MiB (a 76 MiB table)."""
    import leanml.wme.datasets  # noqa: F401  (on main, the named loaders register on import)

    docs = ["the cat sat on the mat", "a dog ran in the park", "stocks fell on monday"] * 4
    clf = WMEClassifier(n_features=16, random_state=0).fit(docs, [0, 1, 2] * 4)
    assert clf.wme_.embeddings_.vectors.nbytes >= 80_000_000  # 400k words x 50 float32
    assert len(pickle.dumps(prepare_for_workers(clf))) < 2**20
