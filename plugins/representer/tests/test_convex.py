"""On a convex softmax regression (digits pixels): influence, leave-one-out, debugging."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from torch import nn

from leanml.core import load_dataset
from leanml.representer import RepresenterExplainer, fit_head
from leanml.representer.debugging import RANKINGS, flip_and_fix, summarise
from leanml.representer.head import head_hessian
from leanml.representer.influence import example_gradients, influence_on_test, self_influence

N, LMBDA = 400, 1e-2


@pytest.fixture(scope="module")
def convex(digits):
    d, Xtr, Xte = digits
    model = nn.Sequential(nn.Identity(), nn.Linear(64, 10)).double()
    X = torch.as_tensor(Xtr[:N], dtype=torch.float64)
    ex = RepresenterExplainer(
        model, model[0], model[1], lmbda=LMBDA, targets="labels", score_dtype=torch.float64
    )
    ex.fit(X, d.y_train[:N])
    T = torch.nn.functional.one_hot(torch.as_tensor(d.y_train[:N]), 10).double()
    Xt = torch.as_tensor(Xte[:20], dtype=torch.float64)
    return ex, T, Xt, d.y_test[:20]


def test_exact_influence_matches_finite_differences(convex):
    """The reference itself: H^{-1} g from the closed-form Hessian vs a perturbed refit."""
    ex, T, _, _ = convex
    F = ex.train_features_
    P = torch.softmax(F @ ex.weight_, 1)
    G = example_gradients(F, P, T)
    # up-weight point 0 by eps in the mean loss: dW/deps = -H^{-1} g_0 / n
    eps = 1e-3
    head = fit_head(F, T, ex.weight_, None, LMBDA, gtol=1e-12)  # base, refit tightly
    W = head.weight.reshape(-1)
    weights = torch.ones(N, dtype=torch.float64)

    def objective(w):
        Wm = w.reshape(F.shape[1], 10)
        logp = torch.log_softmax(F @ Wm, 1)
        return -(weights * (T * logp).sum(1)).sum() / N + LMBDA * (Wm * Wm).sum()

    def refit(shift):
        weights[0] = 1.0 + shift * N
        w = W.clone().requires_grad_(True)
        opt = torch.optim.LBFGS(
            [w],
            max_iter=500,
            tolerance_grad=1e-13,
            tolerance_change=0,
            line_search_fn="strong_wolfe",
        )

        def closure():
            opt.zero_grad()
            value = objective(w)
            value.backward()
            return value

        opt.step(closure)
        return w.detach()

    fd = (refit(eps) - refit(-eps)) / (2 * eps)  # central difference: O(eps^2) error
    H = head_hessian(F, P, LMBDA)
    predicted = -torch.linalg.solve(H, G[0])
    assert torch.linalg.norm(fd - predicted) <= 1e-3 * torch.linalg.norm(predicted)
    assert (self_influence(F, P, T, LMBDA) > 0).all()


def test_representer_scores_correlate_with_exact_influence(convex):
    ex, T, Xt, yt = convex
    F = ex.train_features_
    P = torch.softmax(F @ ex.weight_, 1)
    Ft = ex.features(Xt)
    Pt = torch.softmax(Ft @ ex.weight_, 1)
    Tt = torch.nn.functional.one_hot(torch.as_tensor(yt), 10).double()
    influence = influence_on_test(F, P, T, LMBDA, Ft, Pt, Tt)
    contrib = ex.decompose(Xt)
    rhos = [
        scipy.stats.spearmanr(contrib[b, :, yt[b]].numpy(), -influence[b].numpy())[0]
        for b in range(len(yt))
    ]
    print(f"Spearman(representer, -influence): mean {np.mean(rhos):.3f}, min {np.min(rhos):.3f}")
    assert min(rhos) > 0.0


def test_leave_one_out_direction(convex):
    """Remove the top excitatory / inhibitory point, refit, watch log p(true class).

    The representer value is not the leave-one-out effect (the other alphas re-adjust); the
    test records how often the direction agrees and requires it for excitatory points.
    """
    ex, T, Xt, yt = convex
    F = ex.train_features_
    contrib = ex.decompose(Xt)
    agree = {"excitatory": 0, "inhibitory": 0}
    for b in range(10):
        c = int(yt[b])
        s = contrib[b, :, c]
        for kind, i, sign in (
            ("excitatory", int(s.argmax()), -1),
            ("inhibitory", int(s.argmin()), 1),
        ):
            keep = torch.ones(N, dtype=torch.bool)
            keep[i] = False
            # dropping the term keeps the 1/n normalisation: lambda scales by n / (n - 1)
            head = fit_head(F[keep], T[keep], ex.weight_, None, LMBDA * N / (N - 1), gtol=1e-10)
            before = torch.log_softmax(ex.features(Xt[b : b + 1]) @ ex.weight_, 1)[0, c]
            after = torch.log_softmax(ex.features(Xt[b : b + 1]) @ head.weight, 1)[0, c]
            agree[kind] += int(np.sign(float(after - before)) == sign)
    print(f"leave-one-out direction agreement out of 10: {agree}")
    assert agree["excitatory"] >= 7


@pytest.mark.parametrize("name", ["digits", "breast_cancer"])
@pytest.mark.parametrize("flip_rate", [0.1, 0.4])
def test_every_informed_ranking_beats_random(name, flip_rate):
    d = load_dataset(name, seed=0)
    mu, sd = d.X_train.mean(0), d.X_train.std(0)
    sd[sd == 0] = 1
    rows = flip_and_fix(
        (d.X_train - mu) / sd,
        d.y_train,
        (d.X_test - mu) / sd,
        d.y_test,
        flip_rate=flip_rate,
        fractions=(0.1, 0.2),
        seeds=(0,),
    )
    summary = {(r["ranking"], r["checked"]): r for r in summarise(rows)}
    for frac in (0.1, 0.2):
        random = summary[("random", frac)]["flips_found"]
        for name_ in RANKINGS[:-1]:
            assert summary[(name_, frac)]["flips_found"] > random, (name_, frac)
        # hard labels: |alpha_{i, y_i}| is monotone in the loss, so the rankings coincide
        assert summary[("representer", frac)] == {
            **summary[("loss", frac)],
            "ranking": "representer",
        }


def test_head_hessian_equals_autograd():
    g = torch.Generator().manual_seed(3)
    F = torch.randn(40, 5, generator=g, dtype=torch.float64)
    T = torch.softmax(torch.randn(40, 4, generator=g, dtype=torch.float64), 1)
    W = torch.randn(5, 4, generator=g, dtype=torch.float64)

    def objective(w):
        logp = torch.log_softmax(F @ w.reshape(5, 4), 1)
        return -(T * logp).sum() / 40 + LMBDA * (w * w).sum()

    expected = torch.autograd.functional.hessian(objective, W.reshape(-1))
    got = head_hessian(F, torch.softmax(F @ W, 1), LMBDA)
    assert torch.allclose(got, expected, rtol=0, atol=1e-13)
