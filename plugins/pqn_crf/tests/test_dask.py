"""CRF inference on a 2-worker loopback Dask cluster: sequences partitioned, same labels."""

from __future__ import annotations

import os

import numpy as np
import pytest

from leanml.core.dask import parallel_post_fit, partitioned
from leanml.core.testing_dask import (
    kill_busy_worker,
    loopback_client,  # noqa: F401 (the `client` fixture)
    restarted_partitions,
    slow_partitions,
)
from leanml.pqn_crf import CRF, L1LogisticRegression

pytestmark = pytest.mark.timeout(120)

WORDS = ["the", "cat", "dog", "ran", "sat", "a", "on", "mat", "big", "red"]
TAGS = {"the": "D", "a": "D", "cat": "N", "dog": "N", "mat": "N", "ran": "V", "sat": "V"}


def _sequences(rng, n):
    X, y = [], []
    for _ in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(1, 9)))
        X.append([{f"w={w}": 1.0, f"last={w[-1]}": 1.0} for w in words])
        y.append([TAGS.get(w, "A") for w in words])
    return X, y


@pytest.fixture(scope="module")
def crf():
    rng = np.random.default_rng(0)
    X, y = _sequences(rng, 120)
    Xt, _ = _sequences(rng, 90)
    return CRF(c1=0.05, max_iter=60).fit(X, y), Xt


def test_crf_partitioned_equals_one_process(client, crf):
    model, Xt = crf
    got = partitioned(model, "predict", Xt, client, n_partitions=7)
    ref = model.predict(Xt)
    assert all(np.array_equal(a, b) for a, b in zip(got, ref, strict=True))
    marg = partitioned(model, "predict_marginals_array", Xt, client, n_partitions=3)
    for a, b in zip(marg, model.predict_marginals_array(Xt), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    assert {str(t) for s in got for t in s} <= set(model.classes_.tolist())


def test_l1_logistic_in_parallel_post_fit(client):
    import dask.array as da

    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 8))
    y = (X[:, 0] - X[:, 3] > 0).astype(int)
    model = L1LogisticRegression(lam=1.0).fit(X, y)
    got = parallel_post_fit(model).predict(da.from_array(X, chunks=90)).compute()
    np.testing.assert_array_equal(got, model.predict(X))
    np.testing.assert_array_equal(partitioned(model, "predict", X, client, 5), model.predict(X))


def test_killed_worker_is_survived(client, crf, tmp_path):
    """Last in the module: it kills one of the shared cluster's workers (the nanny restarts it)."""
    model, Xt = crf
    parts = slow_partitions(Xt, 6, delay=0.5, marker_dir=tmp_path)
    futures = partitioned(model, "predict", parts, client, gather=False)
    killed = kill_busy_worker(client, tmp_path, timeout=30)
    got = [s for piece in client.gather(futures) for s in piece]
    client.wait_for_workers(2, timeout=60)
    assert killed not in client.run(os.getpid).values()
    assert all(np.array_equal(a, b) for a, b in zip(got, model.predict(Xt), strict=True))
    assert restarted_partitions(tmp_path)
