from __future__ import annotations

import numpy as np
import pytest
import torch

from leanml.core import InputError, ParameterError
from leanml.prune_kd.pruning import (
    MagnitudePruner,
    find_targets,
    magnitude_mask,
    sparsity_report,
    torch_prune_oneshot,
    torch_prune_remove,
)
from leanml.prune_kd.schedule import CubicSchedule


def brute_force_mask(w: np.ndarray, sparsity: float) -> np.ndarray:
    """Reference: prune the round(s * n) smallest |w|, lower flat index first on ties."""
    flat = np.abs(w).ravel()
    n_prune = round(sparsity * flat.size)
    order = sorted(range(flat.size), key=lambda i: (flat[i], i))
    keep = np.ones(flat.size, bool)
    keep[order[:n_prune]] = False
    return keep.reshape(w.shape)


@pytest.mark.parametrize("s", [0.0, 0.1, 0.5, 0.9, 0.95, 0.999])
def test_mask_equals_brute_force(s):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((13, 7)).astype(np.float32)
    w[0, :4] = 0.25  # ties
    w[2, :3] = -0.25
    got = magnitude_mask(torch.from_numpy(w), s).numpy()
    np.testing.assert_array_equal(got, brute_force_mask(w, s))


def test_no_regrowth_even_if_pruned_entries_grew():
    w = torch.arange(1.0, 21.0).view(4, 5)
    m1 = magnitude_mask(w, 0.5)
    w2 = w.clone()
    w2[~m1] = 100.0  # pruned entries "moved" (e.g. by AdamW) -- must stay pruned
    m2 = magnitude_mask(w2, 0.6, m1)
    assert not (m2 & ~m1).any()
    assert int((~m2).sum()) == 12


def test_default_targets_are_the_six_encoder_linears(model):
    names = find_targets(model)
    assert len(names) == 6 * 2
    assert all("encoder.layer" in n and n.endswith("weight") for n in names)
    assert not any("embeddings" in n or "pooler" in n or "classifier" in n for n in names)


def test_pattern_matching_nothing_is_an_error(model):
    with pytest.raises(ParameterError, match="matches no"):
        find_targets(model, [r"attention\.self\.query\.weight$", r"nonexistent\.weight$"])
    assert len(find_targets(model, "ffn")) == 4


def test_exact_per_matrix_sparsity_and_untouched_parameters(model):
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    pruner = MagnitudePruner(model)
    pruner.prune_to(0.9)
    rep = sparsity_report(model)
    for name, p in pruner.targets.items():
        assert int((p == 0).sum()) == round(0.9 * p.numel())
        assert abs(rep.per_matrix[name] - 0.9) <= 0.5 / p.numel()
    for n, p in model.named_parameters():
        if n not in pruner.targets:
            assert torch.equal(p, before[n]), n
    assert rep.encoder_linear == pytest.approx(0.9, abs=1e-3)
    assert rep.whole_model < rep.encoder_linear  # embeddings and classifier stay dense
    total = sum(p.numel() for p in model.parameters())
    zeros = sum(int((p == 0).sum()) for p in model.parameters())
    assert rep.whole_model == pytest.approx(zeros / total)


def test_masks_survive_optimizer_steps(model):
    pruner = MagnitudePruner(model).attach()
    pruner.prune_to(0.8)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    ids = torch.randint(0, 64, (4, 8))
    for _ in range(3):
        out = model(input_ids=ids, labels=torch.tensor([0, 1, 2, 0]))
        out.loss.backward()
        for n, p in pruner.targets.items():
            assert not p.grad[~pruner.masks[n]].any(), "gradient of a pruned entry"
        opt.step()
        opt.zero_grad()
        pruner.apply()
        for n, p in pruner.targets.items():
            assert not p[~pruner.masks[n]].any()
    pruner.detach()


def test_gradient_mask_without_weight_mask_would_leak(model):
    """AdamW's weight decay moves nothing that is exactly 0, but momentum from before the
    mask does: apply() after the step is what keeps the zeros (the break-it check)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    ids = torch.randint(0, 64, (4, 8))
    model(input_ids=ids, labels=torch.tensor([0, 1, 2, 0])).loss.backward()
    opt.step()
    pruner = MagnitudePruner(model).attach()
    pruner.prune_to(0.8)
    opt.zero_grad()
    model(input_ids=ids, labels=torch.tensor([0, 1, 2, 0])).loss.backward()
    opt.step()
    leaked = sum(int(p[~pruner.masks[n]].ne(0).sum()) for n, p in pruner.targets.items())
    assert leaked > 0
    pruner.apply()
    assert sum(int(p[~pruner.masks[n]].ne(0).sum()) for n, p in pruner.targets.items()) == 0


def test_schedule_driven_pruning_reaches_target(model):
    sched = CubicSchedule(0.75, prune_steps=20, n_updates=5)
    pruner = MagnitudePruner(model, sched)
    hits = [t for t in range(21) if pruner.step(t)]
    assert hits == list(sched.update_steps)
    assert pruner.n_updates == 5
    assert sparsity_report(model).encoder_linear == pytest.approx(0.75, abs=1e-3)


def test_nan_weight_refused():
    with pytest.raises(InputError):
        magnitude_mask(torch.tensor([[1.0, float("nan")]]), 0.5)
    with pytest.raises(ParameterError):
        magnitude_mask(torch.ones(2, 2), 1.0)


def test_torch_prune_peer_same_masks_as_ours(model):
    import copy

    ours = copy.deepcopy(model)
    MagnitudePruner(ours).prune_to(0.7)
    names = torch_prune_oneshot(model, 0.7)
    rep = sparsity_report(model)
    assert rep.encoder_linear == pytest.approx(0.7, abs=1e-3)
    torch_prune_remove(model, names)
    for n, p in ours.named_parameters():
        q = dict(model.named_parameters())[n]
        if n in names:  # same kept sets up to ties (continuous random weights: none)
            assert torch.equal(p != 0, q != 0), n


def test_state_dict_round_trip(model, make_model):
    tiny_model = make_model

    pruner = MagnitudePruner(model)
    pruner.prune_to(0.6)
    state = pruner.state_dict()
    other = tiny_model(0)
    p2 = MagnitudePruner(other)
    p2.load_state_dict(state)
    for n in pruner.masks:
        assert torch.equal(pruner.masks[n], p2.masks[n])
        assert torch.equal(dict(model.named_parameters())[n], dict(other.named_parameters())[n])
    assert p2.sparsity == 0.6
