"""Heads and task losses against hand computations and brute-force loops."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from leanml.core import ParameterError
from leanml.sparse_retrieval import (
    CosineSoftmaxLoss,
    SparseHead,
    TripletSemiHardLoss,
    soft_threshold,
)


def test_soft_threshold_values():
    x = torch.tensor([-2.0, -0.5, -0.1, 0.0, 0.1, 0.3, 1.0])
    out = soft_threshold(x, 0.3)
    assert out.tolist() == pytest.approx([-1.7, -0.2, 0.0, 0.0, 0.0, 0.0, 0.7])


@pytest.mark.parametrize("activation", ["relu", "soft_threshold", "topk", "none"])
def test_head_outputs_unit_rows_with_exact_zeros(activation):
    torch.manual_seed(0)
    head = SparseHead(5, 12, activation=activation, threshold=0.2, top_k=3)
    z = head(torch.randn(20, 5))
    norms = z.norm(dim=1)
    nonzero_rows = norms > 0
    assert torch.allclose(norms[nonzero_rows], torch.ones(int(nonzero_rows.sum())))
    if activation == "relu":
        assert (z >= 0).all() and (z == 0).any()
    if activation == "topk":
        assert ((z != 0).sum(1) <= 3).all()
    if activation == "none":
        assert (z != 0).all()


def test_head_rejects_bad_settings():
    with pytest.raises(ParameterError):
        SparseHead(3, 4, activation="gelu")
    with pytest.raises(ParameterError):
        SparseHead(3, 4, activation="topk", top_k=5)
    with pytest.raises(ParameterError):
        SparseHead(3, 4, activation="soft_threshold", threshold=-1)


def test_cosine_softmax_and_arcface_logits_by_hand():
    loss = CosineSoftmaxLoss(2, 3, scale=10.0, margin=0.3)
    with torch.no_grad():
        loss.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]]))
    emb = torch.tensor([[math.cos(0.4), math.sin(0.4)]])
    logits = loss.logits(emb, torch.tensor([0]))
    # true class 0 at angle 0.4: s cos(0.4 + 0.3); others plain s cos θ
    expected = [
        10 * math.cos(0.7),
        10 * math.sin(0.4),
        10 * -(math.cos(0.4) + math.sin(0.4)) / 2**0.5,
    ]
    assert logits[0].tolist() == pytest.approx(expected, rel=1e-5)
    plain = CosineSoftmaxLoss(2, 3, scale=10.0, margin=0.0)
    with torch.no_grad():
        plain.weight.copy_(loss.weight)
    manual = torch.nn.functional.cross_entropy(torch.tensor([expected]), torch.tensor([0]))
    assert float(loss(emb, torch.tensor([0])).detach()) == pytest.approx(float(manual), rel=1e-5)
    first = float(plain.logits(emb, torch.tensor([0]))[0, 0].detach())
    assert first == pytest.approx(10 * math.cos(0.4))
    with pytest.raises(ParameterError):
        CosineSoftmaxLoss(2, 1)


def semihard_by_loops(emb, labels, margin):
    d = ((emb[:, None, :] - emb[None, :, :]) ** 2).sum(-1)
    losses = []
    n = len(labels)
    for a, p in itertools.product(range(n), range(n)):
        if a == p or labels[a] != labels[p]:
            continue
        negs = [j for j in range(n) if labels[j] != labels[a]]
        semi = [d[a, j] for j in negs if d[a, j] > d[a, p]]
        dn = min(semi) if semi else max(d[a, j] for j in negs)
        losses.append(max(d[a, p] - dn + margin, 0.0))
    return float(np.mean(losses))


def test_triplet_semihard_matches_loops(rng):
    emb = rng.normal(size=(12, 4))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labels = rng.integers(0, 3, size=12)
    got = TripletSemiHardLoss(0.3)(torch.tensor(emb), torch.tensor(labels))
    assert float(got) == pytest.approx(semihard_by_loops(emb, labels, 0.3), rel=1e-9)
    # no positive pair: zero loss that still backpropagates
    e = torch.tensor(emb[:3], requires_grad=True)
    out = TripletSemiHardLoss(0.3)(e, torch.tensor([0, 1, 2]))
    out.backward()
    assert float(out.detach()) == 0.0
