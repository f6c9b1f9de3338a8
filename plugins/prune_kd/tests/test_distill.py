from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from leanml.core import ParameterError
from leanml.prune_kd.capture import AttentionRecorder, kd_forward
from leanml.prune_kd.losses import DistillationLoss, default_layer_map, soft_cross_entropy


def test_scores_are_pre_softmax_and_padding_zeroed(make_model, padded_batch):
    """Reference: HF's own eager attention probabilities (output_attentions=True)."""
    model = make_model(0, attn_implementation="eager").eval()
    inputs = {k: v for k, v in padded_batch.items() if k != "labels"}
    with AttentionRecorder(model) as rec:
        out = model(**inputs, output_attentions=True)
    scores = rec.scores(padded_batch["attention_mask"])
    mask = padded_batch["attention_mask"].bool()
    assert len(scores) == len(out.attentions) == 2
    for a, probs in zip(scores, out.attentions, strict=True):
        assert a.shape == probs.shape == (3, 4, 9, 9)
        # padded key columns are exactly zero, the rest are not probabilities
        assert torch.all(a[~mask[:, None, None, :].expand_as(a)] == 0)
        assert (a < 0).any()
        # softmax over the real keys reproduces HF's probabilities
        masked = a.masked_fill(~mask[:, None, None, :], float("-inf"))
        torch.testing.assert_close(F.softmax(masked, -1), probs, atol=1e-6, rtol=1e-5)


def test_capture_does_not_change_outputs_and_works_with_sdpa(make_model, padded_batch):
    model = make_model(0).eval()
    inputs = {k: v for k, v in padded_batch.items() if k != "labels"}
    plain = model(**inputs).logits
    kd = kd_forward(model, padded_batch)
    torch.testing.assert_close(kd.logits, plain)
    assert len(kd.hidden_states) == 3  # embedding output + 2 layers
    assert len(kd.attention_scores) == 2


def test_relative_positions_refused(make_model):
    model = make_model(0)
    model.config.position_embedding_type = "relative_key"
    with pytest.raises(ParameterError, match="absolute"):
        AttentionRecorder(model)


def test_kd_terms_zero_when_student_equals_teacher(make_model, padded_batch):
    teacher = make_model(0).eval()
    student = copy.deepcopy(teacher).eval()
    loss = DistillationLoss(student.config, teacher.config)
    terms = loss(kd_forward(student, padded_batch), kd_forward(teacher, padded_batch))
    assert terms["hidden"] == 0 and terms["attention"] == 0
    # soft CE equals the teacher's entropy, averaged over batch AND classes (papers)
    p = F.softmax(kd_forward(teacher, padded_batch).logits, -1)
    entropy = -(p * p.log()).sum(-1).mean()
    assert terms["logit"].item() == pytest.approx(entropy.item() / 3, rel=1e-5)


def test_kd_terms_positive_and_differentiable(make_model, padded_batch):
    teacher, student = make_model(0).eval(), make_model(1)
    loss = DistillationLoss(student.config, teacher.config)
    terms = loss(kd_forward(student, padded_batch), kd_forward(teacher, padded_batch))
    assert all(terms[k] > 0 for k in ("hidden", "attention", "logit"))
    terms["loss"].backward()
    assert student.bert.encoder.layer[0].attention.self.query.weight.grad.abs().sum() > 0


def test_attention_term_ignores_padded_keys(make_model, padded_batch):
    """Changing the tokens under padding changes nothing the loss sees (key columns)."""
    teacher, student = make_model(0).eval(), make_model(1).eval()
    loss = DistillationLoss(student.config, teacher.config, hidden_weight=0, logit_weight=0)
    base = loss(kd_forward(student, padded_batch), kd_forward(teacher, padded_batch))
    assert base["attention"] > 0
    a = kd_forward(student, padded_batch).attention_scores[0]
    mask = padded_batch["attention_mask"].bool()
    assert torch.all(a[1, :, :, 6:] == 0) and torch.all(a[2, :, :, 3:] == 0)
    assert torch.all(a[0] != 0) and mask[0].all()


def test_soft_ce_reductions_and_temperature():
    s, t = torch.randn(5, 4), torch.randn(5, 4)
    ref = -(F.softmax(t / 2, -1) * F.log_softmax(s / 2, -1))
    assert soft_cross_entropy(s, t, 2.0).item() == pytest.approx(ref.mean().item())
    assert soft_cross_entropy(s, t, 2.0, "batchmean").item() == pytest.approx(
        ref.sum(-1).mean().item()
    )
    # batchmean KD minus the teacher entropy is the KL divergence
    kl = F.kl_div(F.log_softmax(s, -1), F.softmax(t, -1), reduction="batchmean")
    ent = -(F.softmax(t, -1) * F.log_softmax(t, -1)).sum(-1).mean()
    assert (soft_cross_entropy(s, t, 1.0, "batchmean") - ent).item() == pytest.approx(kl.item())
    for T in (0.0, -1.0):
        with pytest.raises(ParameterError, match="temperature"):
            soft_cross_entropy(s, t, T)
    with pytest.raises(ParameterError):
        soft_cross_entropy(s, t, 1.0, "sum")
    with pytest.raises(ParameterError):
        DistillationLoss(_cfg(), _cfg(), temperature=0)


def _cfg(**kw):
    from transformers import BertConfig

    base = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_labels=3)
    base.update(kw)
    return BertConfig(**base)


def test_regression_uses_gold_labels(make_model, padded_batch):
    teacher = make_model(0, num_labels=1).eval()
    student = make_model(1, num_labels=1)
    loss = DistillationLoss(student.config, teacher.config, task="regression")
    y = torch.tensor([0.5, -1.0, 2.0])
    s_out = kd_forward(student, padded_batch)
    terms = loss(s_out, kd_forward(teacher, padded_batch), labels=y)
    assert terms["logit"].item() == pytest.approx(F.mse_loss(s_out.logits.view(-1), y).item())


def test_layer_map_and_projection(make_model, padded_batch):
    assert default_layer_map(2, 4) == [2, 4]
    assert default_layer_map(3, 12) == [4, 8, 12]
    with pytest.raises(ParameterError, match="uniformly"):
        default_layer_map(3, 4)
    teacher = make_model(0, num_hidden_layers=4).eval()
    student = make_model(1, hidden_size=16, intermediate_size=32)
    with pytest.raises(ParameterError, match="hidden size"):
        DistillationLoss(student.config, teacher.config, project=False)
    loss = DistillationLoss(student.config, teacher.config)
    assert loss.layer_map == [2, 4]
    terms = loss(kd_forward(student, padded_batch), kd_forward(teacher, padded_batch))
    terms["loss"].backward()
    assert loss.proj.weight.grad is not None
    with pytest.raises(ParameterError, match="layer_map"):
        DistillationLoss(student.config, teacher.config, layer_map=[1, 5])
    with pytest.raises(ParameterError, match="head"):
        DistillationLoss(_cfg(num_attention_heads=2), _cfg())
    DistillationLoss(_cfg(num_attention_heads=2), _cfg(), attention_weight=0)
    with pytest.raises(ParameterError, match="labels"):
        DistillationLoss(_cfg(num_labels=2), _cfg())
