"""The FLOPs regulariser, the L1 baseline and the quadratic warm-up against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from leanml.core import InputError, ParameterError
from leanml.sparse_retrieval import (
    FLOPsRegularizer,
    L1Regularizer,
    QuadraticWarmup,
    flops_penalty,
    l1_penalty,
)


def t(x):
    return torch.tensor(x, dtype=torch.float64)


@pytest.mark.parametrize(
    ("a", "expected"),
    [
        ([[1.0, 0.0], [1.0, 0.0]], 1.0),  # one busy column: (1)^2
        ([[1.0, 0.0], [0.0, 1.0]], 0.5),  # spread: 2 * (1/2)^2
        ([[2.0, -1.0], [0.0, 3.0]], 1.0**2 + 2.0**2),  # |.| then column means 1, 2
    ],
)
def test_flops_closed_form(a, expected):
    assert float(flops_penalty(t(a))) == pytest.approx(expected)


def test_flops_is_sum_of_squared_column_means_of_abs(rng):
    a = rng.normal(size=(7, 5))
    by_hand = sum((sum(abs(a[i, j]) for i in range(7)) / 7) ** 2 for j in range(5))
    assert float(flops_penalty(t(a))) == pytest.approx(by_hand, rel=1e-12)


def test_l1_closed_form_and_same_column_sums_differ_from_flops():
    busy = t([[1.0, 0.0], [1.0, 0.0]])
    spread = t([[1.0, 0.0], [0.0, 1.0]])
    # both have total |a| = 2 over 2 rows: L1 cannot tell them apart, FLOPs can
    assert float(l1_penalty(busy)) == float(l1_penalty(spread)) == 1.0
    assert float(flops_penalty(busy)) == 2 * float(flops_penalty(spread))


def test_flops_differs_from_per_sample_squared_l2(rng):
    a = t(rng.normal(size=(6, 4)))
    per_sample_l2 = float((a**2).sum(1).mean())
    # FLOPs = Σ_j (mean_i |a_ij|)^2 <= mean_i Σ_j a_ij^2 (Jensen), equal only if rows agree
    assert float(flops_penalty(a)) < per_sample_l2
    same = a[:1].repeat(6, 1).abs()
    assert float(flops_penalty(same)) == pytest.approx(float((same**2).sum(1).mean()))


def test_invariances(rng):
    a = t(rng.normal(size=(9, 6)))
    perm = torch.from_numpy(rng.permutation(9))
    assert float(flops_penalty(a[perm])) == pytest.approx(float(flops_penalty(a)))
    assert float(flops_penalty(3.0 * a)) == pytest.approx(9.0 * float(flops_penalty(a)))
    assert float(l1_penalty(3.0 * a)) == pytest.approx(3.0 * float(l1_penalty(a)))


def test_gradient_hand_computed_and_gradcheck(rng):
    a = t(rng.normal(size=(5, 3))).requires_grad_(True)
    flops_penalty(a).backward()
    B = a.shape[0]
    mean_abs = a.detach().abs().mean(0)
    expected = 2.0 / B * mean_abs[None, :] * torch.sign(a.detach())
    assert torch.allclose(a.grad, expected)
    b = t(rng.normal(size=(4, 3)) + 0.5).requires_grad_(True)  # away from the kink at 0
    assert torch.autograd.gradcheck(flops_penalty, (b,))
    assert torch.autograd.gradcheck(l1_penalty, (b,))


def test_modules_weights_query_and_database(rng):
    q, d = t(rng.normal(size=(4, 3))), t(rng.normal(size=(6, 3)))
    reg = FLOPsRegularizer(lam_query=2.0, lam_db=0.5)
    expected = 2.0 * flops_penalty(q) + 0.5 * flops_penalty(d)
    assert float(reg(q, d)) == pytest.approx(float(expected))
    assert float(reg(q, d, scale=0.25)) == pytest.approx(0.25 * float(expected))
    l1 = L1Regularizer(lam_query=3.0)
    assert float(l1(q)) == pytest.approx(3.0 * float(l1_penalty(q)))
    with pytest.raises(ParameterError):
        FLOPsRegularizer(lam_query=-1.0)


def test_batch_of_one_warns_and_bad_shapes_raise():
    with pytest.warns(UserWarning, match="batch size 1"):
        FLOPsRegularizer()(t([[1.0, 2.0]]))
    with pytest.raises(InputError):
        flops_penalty(t([1.0, 2.0]))
    with pytest.raises(InputError):
        flops_penalty(torch.zeros((0, 3)))


def test_quadratic_warmup_values():
    s = QuadraticWarmup(lam=8.0, warmup_steps=100)
    assert s(0) == 0.0
    assert s(50) == pytest.approx(8.0 / 4)
    assert s(10) == pytest.approx(8.0 * 0.01)
    assert s(100) == 8.0
    assert s(10_000) == 8.0
    for bad in (0, -5, 2.5):
        with pytest.raises(ParameterError):
            QuadraticWarmup(1.0, bad)
    with pytest.raises(ParameterError):
        QuadraticWarmup(-1.0, 10)
    with pytest.raises(ParameterError):
        s(-1)
    assert np.isfinite(s(3))
