"""RPS-LJE (method="lje") against an autograd reference of the one-step expansion."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from leanml.core import InputError, ParameterError
from leanml.representer import RepresenterExplainer, fit_head
from leanml.representer.fidelity import FidelityWarning

DAMPING, STEP = 1e-2, 0.05


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    X = torch.randn(30, 5, dtype=torch.float64)
    y = torch.randint(0, 3, (30,))
    Xt = torch.randn(6, 5, dtype=torch.float64)
    ex = RepresenterExplainer(
        model, model[1], model[2], method="lje", lje_step=STEP, lje_damping=DAMPING
    )
    with pytest.warns(FidelityWarning):  # an untrained model on random labels
        return model, X, y, Xt, ex.fit(X, y)


def _reference_point_weights(F, y, W):
    """Theta_i = (1/n)[W' - (H + mu I)^-1 grad CE_i] by autograd, W' the ascent step.

    H is the Hessian of the unregularised mean loss (the authors' expansion).
    """
    n, (d, C) = F.shape[0], W.shape

    def mean_ce(w):
        return nn.functional.cross_entropy(F @ w.reshape(d, C), y)

    w = W.reshape(-1).clone().requires_grad_(True)
    (g,) = torch.autograd.grad(mean_ce(w), w)
    w1 = (w + STEP * g).detach()
    H = torch.autograd.functional.hessian(mean_ce, w1) + DAMPING * torch.eye(
        d * C, dtype=torch.float64
    )
    weights = []
    for i in range(n):
        v = w1.clone().requires_grad_(True)
        (gi,) = torch.autograd.grad(
            nn.functional.cross_entropy(F[i : i + 1] @ v.reshape(d, C), y[i : i + 1]), v
        )
        weights.append((w1 - torch.linalg.solve(H, gi)) / n)
    return torch.stack(weights).reshape(n, d, C)


def test_contributions_equal_autograd_reference(tiny):
    model, _X, y, Xt, ex = tiny
    F = ex.train_features_
    W = torch.cat([model[2].weight.T, model[2].bias[None]]).detach()
    theta = _reference_point_weights(F, y, W)
    expected = torch.einsum("bd,idc->bic", ex.features(Xt), theta)
    got = ex.decompose(Xt)
    assert torch.allclose(got, expected, rtol=0, atol=1e-12)
    # the contributions sum to the Newton-step head, which stays close to the trained one
    assert torch.allclose(got.sum(1), ex.logits(Xt), rtol=0, atol=1e-12)
    assert ex.decomposition_residual_ <= 1e-12


def test_explain_topk_matches_decompose(tiny):
    _, _, _, Xt, ex = tiny
    ex.chunk_size = 7  # several chunks
    exp = ex.explain(Xt, k=4)
    full = ex.decompose(Xt)[torch.arange(len(Xt)), :, exp.target]
    top = torch.topk(full, 4, dim=1)
    assert torch.equal(exp.excitatory_index, top.indices)
    assert torch.allclose(exp.excitatory_score, top.values, rtol=0, atol=1e-12)
    low = torch.topk(full, 4, dim=1, largest=False)
    assert torch.equal(exp.inhibitory_index, low.indices)
    assert torch.allclose(exp.logit, full.sum(1), rtol=0, atol=1e-12)


def test_self_importance_is_own_contribution(tiny):
    _, X, y, _, ex = tiny
    own = ex.self_importance()["self"]
    full = ex.decompose(X)  # (n test = n train, n, C)
    expected = full[torch.arange(len(X)), torch.arange(len(X)), y]
    assert torch.allclose(own, expected, rtol=0, atol=1e-12)


def test_expansion_at_a_stationary_head_is_the_head():
    """At a minimiser of the unregularised loss with no ascent step the Newton step is zero."""
    g = torch.Generator().manual_seed(2)
    X = torch.randn(300, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (300,), generator=g)  # random labels: not separable, finite MLE
    F1 = torch.cat([X, torch.ones(300, 1, dtype=torch.float64)], 1)
    T = nn.functional.one_hot(y, 3).double()
    head = fit_head(F1, T, torch.zeros(5, 3, dtype=torch.float64), None, 1e-12, gtol=1e-11)
    model = nn.Sequential(nn.Identity(), nn.Linear(4, 3)).double()
    with torch.no_grad():
        model[1].weight.copy_(head.weight[:-1].T)
        model[1].bias.copy_(head.weight[-1])
    lje = RepresenterExplainer(model, None, model[1], method="lje", lje_step=0.0).fit(X, y)
    torch.testing.assert_close(lje.logits(X), model(X).detach(), rtol=0, atol=1e-8)
    assert lje.fidelity_["argmax"] == 1.0


def test_sensitivity_matches_finite_differences(tiny):
    _, _, _, Xt, ex = tiny
    x, index, eps = Xt[0], 3, 1e-6
    c = int(ex.explain(Xt[:1], k=1).target[0])
    grad = ex.sensitivity(x, index, c)
    fd = torch.empty_like(x)
    for j in range(x.numel()):
        e = torch.zeros_like(x)
        e[j] = eps
        plus = ex.decompose((x + e)[None])[0, index, c]
        minus = ex.decompose((x - e)[None])[0, index, c]
        fd[j] = (plus - minus) / (2 * eps)
    assert torch.allclose(grad, fd, rtol=1e-6, atol=1e-9)


def test_bad_input(tiny):
    model, X, _, _, _ = tiny
    with pytest.raises(InputError, match="labels"):
        RepresenterExplainer(model, model[1], model[2], method="lje").fit(X)
    with pytest.raises(ParameterError, match="method"):
        RepresenterExplainer(model, model[1], model[2], method="newton")
    with pytest.raises(ParameterError, match="lje_step"):
        RepresenterExplainer(model, model[1], model[2], method="lje", lje_step=-1.0)
    with pytest.raises(ParameterError, match="lje_damping"):
        RepresenterExplainer(model, model[1], model[2], method="lje", lje_damping=0.0)
    binary = nn.Linear(4, 1).double()
    with pytest.raises(InputError, match="single-logit head needs method='l2'"):
        RepresenterExplainer(model, None, binary, method="lje")
