"""Exactness of the decomposition, stationarity gate, sign rules, streaming, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from leanml.core import InputError, ParameterError
from leanml.representer import NotConvergedError, RepresenterExplainer
from leanml.representer._kernels import stream_topk, topk_reference


def as_t(a):
    return torch.as_tensor(a, dtype=torch.float32)


@pytest.mark.parametrize("bias", ["regularized", "free"])
def test_decomposition_reproduces_head_logits(digits, mlp, bias):
    d, Xtr, Xte = digits
    ex = RepresenterExplainer(mlp, mlp.features, mlp.head, bias=bias).fit(as_t(Xtr), d.y_train)
    logits = ex.logits(as_t(Xte))
    rebuilt = ex.decompose(as_t(Xte[:50])).sum(dim=1) + ex.bias_
    assert (rebuilt - logits[:50]).abs().max() <= 1e-5
    exp = ex.explain(as_t(Xte), k=5)
    assert (exp.logit - logits.gather(1, exp.target[:, None]).squeeze(1)).abs().max() <= 1e-5
    # W = F^T alpha (the representer theorem) and, with a free bias, sum_i alpha_i = 0
    assert ex.decomposition_residual_ <= 1e-5
    if bias == "free":  # sum_i alpha_i = -grad_b / (2 lambda): zero up to the stationarity reached
        assert ex.alpha_.sum(dim=0).abs().max() <= ex.grad_max_ / (2 * ex.lmbda_) + 1e-15
    assert ex.agreement_["argmax"] > 0.97 and ex.agreement_["pearson"] > 0.99


def test_non_converged_head_is_detected(digits, mlp):
    d, Xtr, _ = digits
    with pytest.raises(NotConvergedError, match="not stationary"):
        RepresenterExplainer(mlp, mlp.features, mlp.head, max_iter=1).fit(as_t(Xtr), d.y_train)


def test_sign_rules_with_relu_features_and_hard_labels(digits, mlp):
    d, Xtr, Xte = digits
    ex = RepresenterExplainer(mlp, mlp.features, mlp.head, targets="labels", bias="free")
    ex.fit(as_t(Xtr), d.y_train)
    own = torch.nn.functional.one_hot(torch.as_tensor(d.y_train), 10).bool()
    assert (ex.alpha_[own] >= 0).all() and (ex.alpha_[~own] <= 0).all()
    assert ex.alpha_.sum(dim=1).abs().max() <= 1e-15
    F, Ft = ex.train_features_.double(), ex.features(as_t(Xte[:20]))
    assert (Ft @ F.T >= 0).all()  # ReLU features: the kernel is non-negative
    contrib = ex.decompose(as_t(Xte[:20]))  # (B, n, C)
    same = torch.as_tensor(d.y_train)[None, :] == torch.arange(10)[:, None]  # (C, n)
    for c in range(10):
        assert (contrib[:, same[c], c] >= 0).all() and (contrib[:, ~same[c], c] <= 0).all()


@pytest.mark.parametrize("lmbda", [0.0, -1.0, 1e-12, float("nan")])
def test_lambda_guarded(mlp, lmbda):
    with pytest.raises(ParameterError, match="lmbda"):
        RepresenterExplainer(mlp, mlp.features, mlp.head, lmbda=lmbda)


def test_streaming_topk_equals_full_matrix():
    g = torch.Generator().manual_seed(0)
    F, Ft = (
        torch.rand(1000, 12, generator=g, dtype=torch.float64),
        torch.rand(7, 12, generator=g, dtype=torch.float64),
    )
    alpha = torch.randn(1000, 4, generator=g, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    chunks = [(s, F[s : s + 97], alpha[s : s + 97]) for s in range(0, 1000, 97)]
    got = stream_topk(Ft, chunks, target, 6)
    ref = topk_reference(Ft, F, alpha, target, 6)
    for a, b in zip(got, ref, strict=True):
        assert torch.allclose(a.to(b.dtype), b) if a.is_floating_point() else torch.equal(a, b)


def test_streaming_topk_ties_go_to_the_lower_index_and_k_above_n():
    g = torch.Generator().manual_seed(1)
    # small integers: every product is exact, so equal rows tie exactly in float32
    F = torch.randint(0, 3, (100, 4), generator=g).float()
    alpha = torch.randint(-2, 3, (100, 3), generator=g).float()
    Ft, target = torch.randint(0, 3, (4, 4), generator=g).float(), torch.tensor([0, 1, 2, 1])
    chunks = [(s, F[s : s + 30], alpha[s : s + 30]) for s in range(0, 100, 30)]
    es, ei, is_, ii, total = stream_topk(Ft, chunks, target, 5)
    assert es.dtype == torch.float32
    S = ((Ft @ F.T) * alpha[:, target].T).numpy()
    rows = np.arange(100)
    for b in range(4):  # the reference order: by score, then by training index
        best = np.lexsort((rows, -S[b]))[:5]
        worst = np.lexsort((rows, S[b]))[:5]
        assert ei[b].tolist() == best.tolist() and ii[b].tolist() == worst.tolist()
        assert es[b].tolist() == S[b, best].tolist()
        assert is_[b].tolist() == S[b, worst].tolist()
    torch.testing.assert_close(total, torch.from_numpy(S.sum(1, dtype=np.float64)))
    few = stream_topk(Ft, [(0, F[:3], alpha[:3])], target, 10)  # k > n: n columns
    assert few[0].shape == (4, 3) and torch.isfinite(few[0]).all()


def test_memory_mapped_features_and_chunks_give_the_same_answer(digits, mlp, tmp_path):
    d, Xtr, Xte = digits
    a = RepresenterExplainer(mlp, mlp.features, mlp.head).fit(as_t(Xtr), d.y_train)
    b = RepresenterExplainer(mlp, mlp.features, mlp.head, chunk_size=100, mmap_dir=tmp_path)
    b.fit(as_t(Xtr), d.y_train)
    ea, eb = a.explain(as_t(Xte[:30]), k=4), b.explain(as_t(Xte[:30]), k=4)
    assert torch.equal(ea.excitatory_index, eb.excitatory_index)
    assert torch.allclose(ea.logit, eb.logit, atol=1e-10)
    assert (tmp_path / "representer_train_features.npy").is_file()


def test_sensitivity_matches_finite_differences(digits, mlp):
    d, Xtr, Xte = digits
    ex = RepresenterExplainer(mlp, mlp.features, mlp.head).fit(as_t(Xtr), d.y_train)
    x = torch.as_tensor(Xte[0], dtype=torch.float64)
    mlp64 = mlp.double()
    try:
        grad = ex.sensitivity(x, index=5, target=3)

        def contribution(v):
            f = ex.features(v[None])[0]
            return float(ex.alpha_[5, 3] * (f @ ex.train_features_[5].double()))

        for j in (10, 20, 35):
            e = torch.zeros_like(x)
            e[j] = 1e-6
            fd = (contribution(x + e) - contribution(x - e)) / 2e-6
            assert abs(fd - float(grad[j])) <= 1e-6 + 1e-4 * abs(fd)
    finally:
        mlp64.float()


def test_self_importance_against_autograd_and_decompose(digits, mlp):
    """|alpha_{i,y_i}| from autograd's dCE/dlogits at the fitted head; "self" from decompose."""
    d, Xtr, _ = digits
    X, y = as_t(Xtr[:300]), torch.as_tensor(d.y_train[:300])
    ex = RepresenterExplainer(
        mlp, mlp.features, mlp.head, lmbda=3e-3, targets="labels", score_dtype=torch.float64
    ).fit(X, y)
    imp = ex.self_importance()
    logits = (ex.features(X) @ ex.weight_).requires_grad_(True)
    (g,) = torch.autograd.grad(nn.functional.cross_entropy(logits, y, reduction="sum"), logits)
    own = -g[torch.arange(300), y] / (2 * ex.lmbda_ * 300)
    torch.testing.assert_close(imp["alpha"], own.abs(), rtol=1e-9, atol=0)
    contrib = ex.decompose(X)  # (test = train, n, C)
    torch.testing.assert_close(imp["self"], contrib[torch.arange(300), torch.arange(300), y])


class Conv(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.ReLU()
        self.head = nn.Conv1d(1, 2, 1)

    def forward(self, x):
        return self.head(self.features(x))


def test_bad_inputs(digits, mlp):
    d, Xtr, Xte = digits
    with pytest.raises(InputError, match=r"must be a torch\.nn\.Linear"):
        RepresenterExplainer(Conv(), Conv().features, Conv().head)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(as_t(Xtr)), shuffle=True)
    with pytest.raises(InputError, match="RandomSampler, not sequential"):
        RepresenterExplainer(mlp, mlp.features, mlp.head).fit(loader)
    bad = as_t(Xtr).clone()
    bad[3, 5] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        RepresenterExplainer(mlp, mlp.features, mlp.head).fit(bad)
    with pytest.raises(InputError, match="empty training set"):
        RepresenterExplainer(mlp, mlp.features, mlp.head).fit(torch.zeros(0, 64))
    with pytest.raises(InputError, match="labels must be in"):
        RepresenterExplainer(mlp, mlp.features, mlp.head).fit(as_t(Xtr[:20]), np.full(20, 12))
    ex = RepresenterExplainer(mlp, mlp.features, mlp.head).fit(as_t(Xtr), d.y_train)
    with pytest.raises(InputError, match=r"target class must be in 0\.\.9"):
        ex.explain(as_t(Xte[:3]), target=10)
    with pytest.raises(InputError, match="classifier_layer ran 0 times"):
        RepresenterExplainer(mlp, mlp.features, nn.Linear(16, 10)).fit(as_t(Xtr))


def test_unshuffled_loader_equals_tensor(digits, mlp):
    d, Xtr, _ = digits
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(as_t(Xtr)), batch_size=100)
    a = RepresenterExplainer(mlp, mlp.features, mlp.head).fit(loader, d.y_train)
    b = RepresenterExplainer(mlp, mlp.features, mlp.head).fit(as_t(Xtr), d.y_train)
    assert torch.allclose(a.alpha_, b.alpha_)


def test_smoothgrad_sensitivity_map(digits, mlp):
    d, Xtr, Xte = digits
    # linear features f(x) = x: d/dx sum_{j in S} f_ij x_j = f_i on S, whatever the noise
    lin = nn.Sequential(nn.Identity(), nn.Linear(64, 10)).double()
    X = torch.as_tensor(Xtr[:200], dtype=torch.float64)
    ex = RepresenterExplainer(lin, None, lin[1], lmbda=1e-2, targets="labels")
    ex.fit(X, d.y_train[:200])
    x = torch.as_tensor(Xte[0], dtype=torch.float64)
    got = ex.sensitivity_map(x, index=7, target=2, top=5, samples=20, noise=0.3)
    f_i = ex.train_features_[7].double()
    top = torch.topk(f_i * torch.cat([x, torch.ones(1, dtype=x.dtype)]), 5).indices
    expected = torch.zeros(65, dtype=torch.float64)
    expected[top] = ex.alpha_[7, 2] * f_i[top]
    torch.testing.assert_close(got, expected[:64], rtol=1e-6, atol=1e-12)
    # no noise, every coordinate: the plain sensitivity (a non-linear MLP)
    m = RepresenterExplainer(mlp, mlp.features, mlp.head).fit(as_t(Xtr))
    plain = m.sensitivity(as_t(Xte[1]), index=11, target=4)
    smooth = m.sensitivity_map(as_t(Xte[1]), index=11, target=4, top=33, samples=1, noise=0.0)
    torch.testing.assert_close(smooth.float(), plain, rtol=1e-4, atol=1e-7)


def test_preconditioner_choice_follows_the_cost_model():
    from leanml.representer.head import exact_preconditioner_pays, fit_head

    assert exact_preconditioner_pays(1347, 330) and exact_preconditioner_pays(5388, 1290)
    assert not exact_preconditioner_pays(5388, 2570)  # measured slower than Jacobi
    assert not exact_preconditioner_pays(10**6, 1000)  # 4 GB of G: over the memory cap
    # both preconditioners reach the same stationary head
    g = torch.Generator().manual_seed(0)
    F = torch.rand(300, 40, generator=g, dtype=torch.float64)
    T = torch.softmax(3 * torch.randn(300, 5, generator=g, dtype=torch.float64), 1)
    W0 = torch.zeros(40, 5, dtype=torch.float64)
    a = fit_head(F, T, W0, None, 1e-3, gtol=1e-11)
    import leanml.representer.head as head

    old = head.EXACT_PRECONDITIONER_BREAK_EVEN
    head.EXACT_PRECONDITIONER_BREAK_EVEN = 0
    try:
        b = fit_head(F, T, W0, None, 1e-3, gtol=1e-11)
    finally:
        head.EXACT_PRECONDITIONER_BREAK_EVEN = old
    assert b.cg_iterations > a.cg_iterations  # Jacobi needs more products
    torch.testing.assert_close(a.weight, b.weight, rtol=0, atol=1e-9)


def test_a_data_hessian_formed_elsewhere_preconditions_like_the_one_formed_at_the_start():
    """The lambda path forms the data Hessian once; over (W; free bias) it must be the
    same preconditioner fit_head forms itself, and a stale one must still converge."""
    from leanml.representer.head import data_hessian, fit_head

    g = torch.Generator().manual_seed(0)
    F = torch.rand(300, 12, generator=g, dtype=torch.float64)
    T = torch.softmax(3 * torch.randn(300, 4, generator=g, dtype=torch.float64), 1)
    W0 = 0.1 * torch.randn(12, 4, generator=g, dtype=torch.float64)
    b0 = 0.1 * torch.randn(4, generator=g, dtype=torch.float64)
    P0 = torch.softmax(F @ W0 + b0, 1)
    own = fit_head(F, T, W0, b0, 1e-3, gtol=1e-11)
    given = fit_head(F, T, W0, b0, 1e-3, gtol=1e-11, hessian=data_hessian(F, P0, True))
    assert given.cg_iterations == own.cg_iterations
    torch.testing.assert_close(given.weight, own.weight, rtol=0, atol=1e-12)
    torch.testing.assert_close(given.bias, own.bias, rtol=0, atol=1e-12)
    stale = data_hessian(F, torch.full_like(P0, 0.25), True)  # another point's Hessian
    far = fit_head(F, T, W0, b0, 1e-3, gtol=1e-11, hessian=stale)
    torch.testing.assert_close(far.weight, own.weight, rtol=0, atol=1e-8)


def test_data_hessian_with_a_free_bias_equals_autograd():
    from leanml.representer.head import data_hessian

    g = torch.Generator().manual_seed(3)
    F = torch.rand(50, 6, generator=g, dtype=torch.float64)
    T = torch.softmax(torch.randn(50, 3, generator=g, dtype=torch.float64), 1)
    theta0 = 0.3 * torch.randn(7, 3, generator=g, dtype=torch.float64)  # (W; b)

    def loss(theta):
        logits = F @ theta[:6] + theta[6]
        return -(T * torch.log_softmax(logits, 1)).sum() / F.shape[0]

    want = torch.autograd.functional.hessian(loss, theta0).reshape(21, 21)
    P0 = torch.softmax(F @ theta0[:6] + theta0[6], 1)
    torch.testing.assert_close(data_hessian(F, P0, True), want, rtol=0, atol=1e-6)
