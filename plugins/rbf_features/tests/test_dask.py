"""RB features on a 2-worker loopback Dask cluster: same results as one process."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import SGDClassifier

from leanml.core.dask import parallel_post_fit, partitioned
from leanml.core.testing_dask import (
    kill_busy_worker,
    loopback_client,  # noqa: F401 (the `client` fixture)
    restarted_partitions,
    slow_partitions,
)
from leanml.rbf_features import RandomBinningFeatures, RBClassifier, RBRegressor
from leanml.rbf_features._dask import stream_fit, unseen_fraction

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(900, 4))
    y = np.where(np.abs(X[:, 0]) + np.abs(X[:, 1]) < 0.9, 1, -1)
    return X[:600], y[:600], X[600:], y[600:]


def test_partitioned_inference_equals_one_process(client, data):
    X, y, Xt, _ = data
    clf = RBClassifier(n_grids=32, sigma=0.5, random_state=0).fit(X, y)
    reg = RBRegressor(n_grids=32, sigma=0.5, random_state=0).fit(X, y.astype(float))
    rb = clf.binning_
    np.testing.assert_array_equal(partitioned(clf, "predict", Xt, client, 5), clf.predict(Xt))
    np.testing.assert_array_equal(
        partitioned(clf, "decision_function", Xt, client, 5), clf.decision_function(Xt)
    )
    np.testing.assert_array_equal(partitioned(reg, "predict", Xt, client, 3), reg.predict(Xt))
    Z = partitioned(rb, "transform", Xt, client, 4)
    assert sp.issparse(Z) and (Z != rb.transform(Xt)).nnz == 0
    Xs = sp.csr_matrix(np.where(np.abs(Xt) > 0.3, Xt, 0.0))
    np.testing.assert_array_equal(partitioned(clf, "predict", Xs, client, 4), clf.predict(Xs))


def test_parallel_post_fit_on_a_dask_array(client, data):
    import dask.array as da

    X, y, Xt, _ = data
    clf = RBClassifier(n_grids=32, sigma=0.5, random_state=0).fit(X, y)
    got = parallel_post_fit(clf).predict(da.from_array(Xt, chunks=70)).compute()
    np.testing.assert_array_equal(got, clf.predict(Xt))


def test_streamed_training_equals_sequential_partial_fit(client, data):
    import dask.array as da

    X, y, Xt, yt = data
    Xd, yd = da.from_array(X, chunks=(150, 4)), da.from_array(y, chunks=150)
    learner = SGDClassifier(loss="hinge", alpha=1e-4, random_state=0)
    model = stream_fit(
        Xd, yd, RandomBinningFeatures(32, 0.5, random_state=0), learner, 300, classes=[-1, 1]
    )
    # the same thing in one process: bins numbered from the first 300 rows, then one
    # partial_fit per block of 150 rows, in order
    rb = RandomBinningFeatures(32, 0.5, random_state=0).fit(X[:300])
    ref = SGDClassifier(loss="hinge", alpha=1e-4, random_state=0)
    for start in range(0, 600, 150):
        ref.partial_fit(rb.transform(X[start : start + 150]), y[start : start + 150], [-1, 1])
    np.testing.assert_array_equal(model.named_steps["learner"].coef_, ref.coef_)
    np.testing.assert_array_equal(model.predict(Xt), ref.predict(rb.transform(Xt)))
    assert model.score(Xt, yt) > 0.8  # it learnt the diamond, not a constant
    frac = unseen_fraction(model.named_steps["rb"], da.from_array(X[300:], chunks=100))
    ids = model.named_steps["rb"].transform_ids(X[300:])
    assert frac == pytest.approx(np.mean(ids < 0)) and 0 < frac < 0.5


def test_stream_fit_bad_input(client, data):
    X, y, _, _ = data
    with pytest.raises(Exception, match="dask array"):
        stream_fit(X, y, RandomBinningFeatures(), SGDClassifier())


def test_killed_worker_is_survived(client, data, tmp_path):
    """Last in the module: it kills one of the shared cluster's workers (the nanny restarts it)."""
    X, y, Xt, _ = data
    clf = RBClassifier(n_grids=32, sigma=0.5, random_state=0).fit(X, y)
    parts = slow_partitions(Xt, 6, delay=0.5, marker_dir=tmp_path)
    futures = partitioned(clf, "decision_function", parts, client, gather=False)
    killed = kill_busy_worker(client, tmp_path, timeout=30)
    got = np.concatenate(client.gather(futures))
    client.wait_for_workers(2, timeout=60)
    assert killed not in client.run(__import__("os").getpid).values()
    np.testing.assert_array_equal(got, clf.decision_function(Xt))
    assert restarted_partitions(tmp_path)
