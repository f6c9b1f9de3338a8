"""The Dask adapters on a 2-worker loopback LocalCluster: same results, a killed worker survived."""

from __future__ import annotations

import sys

import cloudpickle
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from leanml.core import ParameterError
from leanml.core.dask import (
    describe,
    parallel_post_fit,
    parse_scheduler,
    partitioned,
    send_model,
)
from leanml.core.testing_dask import (
    kill_busy_worker,
    loopback_client,  # noqa: F401 (the `client` fixture)
    restarted_partitions,
    slow_partitions,
)

pytestmark = pytest.mark.timeout(120)

# The toy estimators below live in this test module, which workers cannot import (pytest
# imports it by path): they travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


class RowSums:
    """Rows -> one value per row; documents -> token counts. Counts its calls' rows."""

    def predict(self, X):
        if isinstance(X, list):
            return [len(doc.split()) for doc in X]
        return np.asarray(X.sum(axis=1)).ravel()

    def transform(self, X):
        return sp.csr_matrix(X) * 2.0


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((503, 6))
    y = (X[:, 0] + 0.3 * rng.standard_normal(503) > 0).astype(int)
    return X, y


def test_parse_scheduler():
    assert parse_scheduler("local:2") == ("local", 2)
    assert parse_scheduler(" tcp://127.0.0.1:8786 ") == ("tcp://127.0.0.1:8786", None)
    for bad in ("local", "local:0", "local:x", "  "):
        with pytest.raises(ParameterError):
            parse_scheduler(bad)


def test_cluster_is_loopback_with_two_process_workers(client):
    info = describe(client)
    assert info["n_workers"] == 2 and info["threads"] == 2
    assert info["scheduler"].startswith("tcp://127.0.0.1:")
    pids = set(client.run(__import__("os").getpid).values())
    assert len(pids) == 2 and __import__("os").getpid() not in pids


@pytest.mark.parametrize("n_partitions", [1, 3, 7, 600])
def test_arrays_equal_single_process(client, data, n_partitions):
    X, y = data
    model = LogisticRegression().fit(X, y)
    got = partitioned(model, "predict", X, client, n_partitions=n_partitions, timeout=60)
    np.testing.assert_array_equal(got, model.predict(X))
    # scores agree to rounding: BLAS takes other kernels for other block shapes (a 1-row
    # block is a GEMV), so the last bits can differ from the one-block call
    for method in ("decision_function", "predict_proba"):
        got = partitioned(model, method, X, client, n_partitions=n_partitions, timeout=60)
        np.testing.assert_allclose(got, getattr(model, method)(X), rtol=1e-13, atol=1e-15)


def test_sparse_lists_and_dask_collections(client, data):
    import dask.array as da
    import dask.bag as db

    X, _ = data
    model = RowSums()
    Xs = sp.csr_matrix(np.where(X > 0.5, X, 0.0))
    got = partitioned(model, "transform", Xs, client, n_partitions=4, timeout=60)
    assert sp.issparse(got) and (got != model.transform(Xs)).nnz == 0
    docs = [" ".join(["w"] * (i % 9)) for i in range(101)]
    assert partitioned(model, "predict", docs, client, timeout=60) == model.predict(docs)
    bag = db.from_sequence(docs, npartitions=5)
    assert partitioned(model, "predict", bag, client, timeout=60) == model.predict(docs)
    darr = da.from_array(X, chunks=(97, 3))
    got = partitioned(model, "predict", darr, client, timeout=60)
    np.testing.assert_array_equal(got, model.predict(X))
    futures = partitioned(model, "predict", X, client, n_partitions=3, gather=False)
    assert len(futures) == 3
    np.testing.assert_array_equal(np.concatenate(client.gather(futures)), model.predict(X))


def test_model_is_sent_once_per_worker(client, data):
    X, y = data
    model = LogisticRegression().fit(X, y)
    future = send_model(model, client)
    assert len(client.who_has([future])[future.key]) == 2  # a replica on each worker
    a = partitioned(future, "predict", X, client, n_partitions=8, timeout=60)
    b = partitioned(future, "predict", X[::-1], client, n_partitions=8, timeout=60)
    np.testing.assert_array_equal(a, model.predict(X))
    np.testing.assert_array_equal(b, model.predict(X[::-1]))


def test_parallel_post_fit_matches(client, data):
    import dask.array as da

    X, y = data
    model = parallel_post_fit(LogisticRegression().fit(X, y))
    got = model.predict(da.from_array(X, chunks=100)).compute()
    np.testing.assert_array_equal(got, model.estimator.predict(X))


def test_bad_input(client, data):
    X, _ = data
    with pytest.raises(ParameterError, match="no method"):
        partitioned(RowSums(), "explode", X, client)
    with pytest.raises(ParameterError, match="public method"):
        partitioned(RowSums(), "_private", X, client)
    with pytest.raises(ParameterError, match="no rows"):
        partitioned(RowSums(), "predict", X[:0], client)
    with pytest.raises(ParameterError, match="n_partitions"):
        partitioned(RowSums(), "predict", X, client, n_partitions=0)


def test_killed_worker_is_survived(client, data, tmp_path):
    """Last in the module: it kills one of the shared cluster's workers (the nanny restarts it)."""
    X, y = data
    model = LogisticRegression().fit(X, y)
    parts = slow_partitions(X, 6, delay=0.5, marker_dir=tmp_path)
    futures = partitioned(model, "predict_proba", parts, client, gather=False)
    killed = kill_busy_worker(client, tmp_path, timeout=30)
    got = np.concatenate(client.gather(futures))
    client.wait_for_workers(2, timeout=60)
    assert killed not in client.run(__import__("os").getpid).values()
    np.testing.assert_array_equal(got, model.predict_proba(X))
    assert restarted_partitions(tmp_path), "the killed worker was not running a partition"


def test_unreachable_scheduler_is_a_clear_error():
    from leanml.core.dask import dask_client

    with pytest.raises(ParameterError, match="cannot reach the Dask scheduler"):
        with dask_client("tcp://127.0.0.1:9", timeout=2):
            pass
