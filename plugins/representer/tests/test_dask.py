"""Representer top-k on a 2-worker loopback Dask cluster: a map over training-row partitions."""

from __future__ import annotations

import os
import threading

import pytest
import torch

from leanml.core import ParameterError
from leanml.core.testing_dask import (
    kill_busy_worker,
    loopback_client,  # noqa: F401 (the `client` fixture)
    restarted_partitions,
    slowed,
)
from leanml.representer import RepresenterExplainer
from leanml.representer._dask import explain_partitioned, training_partitions

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def explainer(mlp, digits, tmp_path_factory):
    _, Xtr, _ = digits
    X = torch.as_tensor(Xtr, dtype=torch.float32)
    mmap = tmp_path_factory.mktemp("features")
    return RepresenterExplainer(mlp, mlp.features, mlp.head, mmap_dir=mmap).fit(X)


def _same(got, ref):
    for name in ("excitatory_index", "inhibitory_index", "target"):
        assert torch.equal(getattr(got, name), getattr(ref, name)), name
    for name in ("excitatory_score", "inhibitory_score", "logit"):
        # float32 scoring: the same products formed in GEMM blocks of other shapes
        torch.testing.assert_close(getattr(got, name), getattr(ref, name), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n_partitions", [1, 4, 9])
def test_partitioned_topk_equals_explain(client, explainer, digits, n_partitions):
    _, _, Xte = digits
    X = torch.as_tensor(Xte[:12], dtype=torch.float32)
    parts = training_partitions(explainer, n_partitions)
    for target, k in [(None, 5), (3, 1), ([*list(range(10)), 0, 1], 7)]:
        got = explain_partitioned(explainer, X, client, target, k, parts, timeout=60)
        _same(got, explainer.explain(X, target, k))
    # the decomposition the top-k is taken from: logits rebuilt from every training row
    full = explainer.logits(X)[torch.arange(12), got.target]
    torch.testing.assert_close(got.logit, full, rtol=1e-5, atol=1e-5)  # float32 contributions


def test_in_memory_features_partition_too(client, mlp, digits):
    _, Xtr, Xte = digits
    ex = RepresenterExplainer(mlp, mlp.features, mlp.head).fit(
        torch.as_tensor(Xtr[:300], dtype=torch.float32)
    )
    X = torch.as_tensor(Xte[:5], dtype=torch.float32)
    _same(explain_partitioned(ex, X, client, k=4, timeout=60), ex.explain(X, k=4))


def test_bad_input(client, explainer, digits):
    _, _, Xte = digits
    X = torch.as_tensor(Xte[:3], dtype=torch.float32)
    with pytest.raises(ParameterError, match="k must be"):
        explain_partitioned(explainer, X, client, k=0)
    with pytest.raises(ParameterError, match="n_partitions"):
        training_partitions(explainer, 0)
    with pytest.raises(Exception, match="target"):
        explain_partitioned(explainer, X, client, target=[1, 2])


def test_killed_worker_is_survived(client, explainer, digits, tmp_path):
    """Last in the module: it kills one of the shared cluster's workers (the nanny restarts it)."""
    _, _, Xte = digits
    X = torch.as_tensor(Xte[:8], dtype=torch.float32)
    parts = slowed(training_partitions(explainer, 6), delay=0.5, marker_dir=tmp_path)
    out = {}
    thread = threading.Thread(
        target=lambda: out.update(r=explain_partitioned(explainer, X, client, None, 5, parts))
    )
    thread.start()
    killed = kill_busy_worker(client, tmp_path, timeout=30)
    thread.join(timeout=90)
    client.wait_for_workers(2, timeout=60)
    assert killed not in client.run(os.getpid).values()
    _same(out["r"], explainer.explain(X, None, 5))
    assert restarted_partitions(tmp_path)
