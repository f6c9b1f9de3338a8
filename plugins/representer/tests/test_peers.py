"""The Captum TracIn peer: batching the test points changes only the time, not the answer."""

from __future__ import annotations

import pytest
import torch

from leanml.core import ParameterError
from leanml.representer.peers import tracin_topk

pytest.importorskip("captum")


def as_t(a):
    return torch.as_tensor(a, dtype=torch.float32)


@pytest.mark.parametrize("fast", [True, False])
def test_test_batches_give_the_one_batch_result(digits, mlp, fast):
    d, Xtr, Xte = digits
    Xtr_t, Xte_t = as_t(Xtr[:200]), as_t(Xte[:30])
    ytr, yte = torch.as_tensor(d.y_train[:200]), torch.as_tensor(d.y_test[:30])
    one = tracin_topk(mlp, mlp.head, Xtr_t, ytr, Xte_t, yte, k=4, fast=fast)
    many = tracin_topk(mlp, mlp.head, Xtr_t, ytr, Xte_t, yte, k=4, fast=fast, test_batch_size=7)
    assert one[0].shape == (30, 4)
    torch.testing.assert_close(many[1], one[1])
    assert torch.equal(many[0], one[0])
    # a brute-force check of TracInCPFast's top-1: last-layer gradient dot products
    if fast:
        feats = [mlp.features(mlp.body(x)).detach() for x in (Xtr_t, Xte_t)]
        grads = []
        for f, y in zip(feats, (ytr, yte), strict=True):
            p = torch.softmax(mlp.head(f), 1).detach()
            p[torch.arange(len(y)), y] -= 1
            grads.append((p, torch.cat([f, torch.ones(len(f), 1)], 1)))
        (pt, ft), (pq, fq) = grads
        scores = (pq @ pt.T) * (fq @ ft.T)
        assert torch.equal(scores.argmax(1), one[0][:, 0])


def test_bad_test_batch_size(digits, mlp):
    d, Xtr, Xte = digits
    with pytest.raises(ParameterError, match="test_batch_size must be >= 1"):
        tracin_topk(
            mlp,
            mlp.head,
            as_t(Xtr[:20]),
            torch.as_tensor(d.y_train[:20]),
            as_t(Xte[:3]),
            torch.as_tensor(d.y_test[:3]),
            test_batch_size=0,
        )


def test_influence_function_peers_agree_on_a_convex_model():
    """Naive (exact Hessian) and Arnoldi (all 15 eigenpairs) mostly rank the same top proponent.

    Not all: Captum's defaults damp the Hessian by 1e-6 (naive) and 1e-3 (Arnoldi).
    """
    from leanml.representer.peers import influence_function_topk

    g = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    X, y = torch.randn(40, 4, generator=g), torch.randint(0, 3, (40,), generator=g)
    out = [
        influence_function_topk(model, X, y, X[:5], y[:5], k=3, kind=kind, projection_dim=15)
        for kind in ("naive", "arnoldi")
    ]
    assert out[0][0].shape == (5, 3) and torch.isfinite(out[0][1]).all()
    assert int((out[0][0][:, 0] == out[1][0][:, 0]).sum()) >= 4


def test_tracincp_batched_equals_per_example(digits, mlp):
    d, Xtr, Xte = digits
    args = (mlp, mlp.head, as_t(Xtr[:100]), torch.as_tensor(d.y_train[:100]))
    test = (as_t(Xte[:10]), torch.as_tensor(d.y_test[:10]))
    fast = tracin_topk(*args, *test, k=4, fast=False, sample_wise=True)
    loop = tracin_topk(*args, *test, k=4, fast=False, sample_wise=False)
    assert torch.equal(fast[0], loop[0])
    torch.testing.assert_close(fast[1], loop[1], rtol=1e-4, atol=1e-5)
