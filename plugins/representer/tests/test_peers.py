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
