"""Sparse Progressive Distillation: module replacement, the three stages, the ``spd`` method."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch

from leanml.core import ParameterError
from leanml.prune_kd.capture import encoder_layers, kd_forward
from leanml.prune_kd.losses import DistillationLoss
from leanml.prune_kd.methods import PruneConfig, run_method
from leanml.prune_kd.pruning import MagnitudePruner
from leanml.prune_kd.replacement import ModuleReplacement, ReplacementLayer, ReplacementSchedule
from leanml.prune_kd.spd import SPDConfig, staged_lr
from leanml.prune_kd.training import TrainConfig, train

NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


@pytest.fixture
def batch(make_data):
    return make_data(n=6, seed=2).batch(torch.arange(6))


def _inputs(batch):
    return {k: v for k, v in batch.items() if k != "labels"}


def _grafted(make_model, rate, seed=0, **cfg):
    """(teacher, wrapped student, replacement, plain copy of the pruned student)."""
    teacher = make_model(0, **cfg).eval()
    student = copy.deepcopy(teacher)
    MagnitudePruner(student).prune_to(0.9)  # student layers now differ from the teacher's
    plain = copy.deepcopy(student).eval()
    rep = ModuleReplacement(
        student, list(encoder_layers(teacher)), ReplacementSchedule(rate), seed=seed
    )
    return teacher, student, rep, plain


def test_rate_zero_reproduces_the_teacher(make_model, batch):
    teacher, student, rep, plain = _grafted(make_model, 0.0, **NO_DROPOUT)
    student.train()
    assert rep.draw(0) == [False, False]
    with torch.no_grad():
        out = student(**_inputs(batch), output_hidden_states=True)
        ref = teacher(**_inputs(batch), output_hidden_states=True)
        sparse = plain(**_inputs(batch), output_hidden_states=True).hidden_states[-1]
    assert torch.equal(out.logits, ref.logits)
    assert len(out.hidden_states) == len(ref.hidden_states) == 3
    for a, b in zip(out.hidden_states, ref.hidden_states, strict=True):
        assert torch.equal(a, b)
    assert (out.hidden_states[-1] - sparse).abs().max() > 0.01  # the sparse stack differs


def test_rate_one_is_the_pure_sparse_stack(make_model, batch):
    _, student, rep, plain = _grafted(make_model, 1.0, **NO_DROPOUT)
    student.train()
    assert rep.draw(5) == [True, True]
    with torch.no_grad():
        assert torch.equal(student(**_inputs(batch)).logits, plain(**_inputs(batch)).logits)


def test_evaluation_runs_only_student_layers(make_model, batch):
    _, student, rep, plain = _grafted(make_model, 0.0)  # training would run teachers
    calls = {"student": 0, "teacher": 0}
    for layer in rep.layers:
        for part in ("student", "teacher"):
            getattr(layer, part).register_forward_hook(
                lambda *a, p=part: calls.__setitem__(p, calls[p] + 1)
            )
    rep.draw(0)
    student.eval()
    with torch.no_grad():
        out = student(**_inputs(batch)).logits
        ref = plain(**_inputs(batch)).logits
    assert calls == {"student": 2, "teacher": 0}
    assert torch.equal(out, ref)
    student.train()
    with torch.no_grad():
        student(**_inputs(batch))
    assert calls == {"student": 2, "teacher": 2}


def test_replacement_frequency_matches_the_rate_and_is_seeded(make_model):
    teacher = make_model(0, num_hidden_layers=4)
    p, steps = 0.3, 1500
    rep = ModuleReplacement(
        copy.deepcopy(teacher), list(encoder_layers(teacher)), ReplacementSchedule(p), seed=7
    )
    draws = torch.tensor([rep.draw(t) for t in range(steps)], dtype=torch.float64)
    n = draws.numel()
    assert abs(draws.mean().item() - p) < 4 * (p * (1 - p) / n) ** 0.5  # 4 sigma
    per_position = draws.mean(0)  # each position independently ~ p
    assert ((per_position - p).abs() < 4 * (p * (1 - p) / steps) ** 0.5).all()
    again = ModuleReplacement(
        copy.deepcopy(teacher), list(encoder_layers(teacher)), ReplacementSchedule(p), seed=7
    )
    assert [again.draw(t) for t in range(50)] == draws[:50].bool().tolist()
    other = ModuleReplacement(
        copy.deepcopy(teacher), list(encoder_layers(teacher)), ReplacementSchedule(p), seed=8
    )
    assert [other.draw(t) for t in range(50)] != draws[:50].bool().tolist()


def test_frozen_layers_run_without_dropout_unless_asked(make_model):
    teacher = make_model(0, hidden_dropout_prob=0.5)
    x = torch.randn(2, 5, 32)
    for frozen_dropout in (False, True):
        student = copy.deepcopy(teacher)
        rep = ModuleReplacement(
            student,
            list(encoder_layers(teacher)),
            ReplacementSchedule(0.0),
            frozen_dropout=frozen_dropout,
        )
        student.train()
        layer = rep.layers[0]
        assert layer.student.training and layer.teacher.training is frozen_dropout
        rep.draw(0)
        with torch.no_grad():
            a, b = layer(x), layer(x)
        assert torch.equal(a, b) is not frozen_dropout


def test_schedule_reaches_one_exactly_at_the_configured_step():
    s = ReplacementSchedule(0.8, full_step=17, ramp_start=5)
    ps = [s(t) for t in range(30)]
    assert ps[:6] == [0.8] * 6
    assert all(a <= b for a, b in itertools.pairwise(ps))  # monotone
    assert ps[16] < 1.0 and ps[17:] == [1.0] * 13
    s.check_reaches_one(18)
    with pytest.raises(ParameterError, match="only 17 steps"):
        s.check_reaches_one(17)
    # the original's linear scheduler, p = min(1, k t + p0), with an exact hand-over step
    lk = ReplacementSchedule.linear_k(0.8, 0.05)
    assert lk.full_step == 4
    assert [lk(t) for t in range(6)] == pytest.approx([min(1.0, 0.05 * t + 0.8) for t in range(6)])


def test_schedule_that_never_reaches_one_is_refused():
    degenerate = ReplacementSchedule.linear_k(0.8, 0.0)  # the SPD README's setting
    assert {degenerate(t) for t in range(0, 10_000, 97)} == {0.8}
    with pytest.raises(ParameterError, match="never reaches 1"):
        degenerate.check_reaches_one(1000)
    with pytest.raises(ParameterError, match="p reaches 1 before training ends"):
        SPDConfig(full_fraction=1.0)
    ReplacementSchedule.linear_k(1.0, 0.0).check_reaches_one(1)  # p = 1 throughout is fine


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan")])
def test_rate_outside_unit_interval_is_refused(rate):
    with pytest.raises(ParameterError, match="replacement rate must be in"):
        ReplacementSchedule(rate)
    with pytest.raises(ParameterError, match="replacement rate must be in"):
        SPDConfig(replacement_rate=rate)


def test_layer_count_mismatch_is_refused(make_model):
    student, teacher = make_model(0), make_model(1, num_hidden_layers=3)
    with pytest.raises(ParameterError, match="student has 2 layers, the teacher 3"):
        ModuleReplacement(student, list(encoder_layers(teacher)), ReplacementSchedule(0.5))
    with pytest.raises(ParameterError, match="shapes"):
        wide = make_model(1, hidden_size=16, intermediate_size=32)
        ModuleReplacement(student, list(encoder_layers(wide)), ReplacementSchedule(0.5))


def test_staged_lr_restarts_at_the_boundary():
    f = staged_lr(10, 4)
    assert [f(t) for t in range(10)] == pytest.approx(
        [1, 0.75, 0.5, 0.25, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6]
    )
    with pytest.raises(ParameterError):
        staged_lr(10, 10)


def test_kd_terms_vanish_through_the_grafted_network(make_model, batch):
    """Student = teacher at step 0: the mixed network's hidden states and pre-softmax
    scores (captured through the replacement wrappers) equal the teacher's."""
    teacher = make_model(0, **NO_DROPOUT).eval()
    student = copy.deepcopy(teacher)
    rep = ModuleReplacement(student, list(encoder_layers(teacher)), ReplacementSchedule(0.5))
    student.train()
    kd = DistillationLoss(student.config, teacher.config)
    for step in range(4):  # mixed choices
        rep.draw(step)
        terms = kd(kd_forward(student, batch), kd_forward(teacher, batch))
        assert terms["hidden"].item() == 0.0 and terms["attention"].item() == 0.0


@pytest.fixture
def spd_setup(trained_teacher, make_data):
    return trained_teacher, make_data()


def test_spd_run_stages_lr_rate_and_frozen_parameters(spd_setup, make_data):
    teacher, data = spd_setup
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    cfg = TrainConfig(epochs=4, batch_size=8, lr=1e-3, seed=1)  # 6 steps/epoch, 24 steps
    spd = SPDConfig(replacement_rate=0.6, stage1_fraction=0.5, full_fraction=0.75)
    res = run_method(
        "spd",
        data,
        teacher=teacher,
        prune=PruneConfig(sparsity=0.8, n_updates=4),
        config=cfg,
        spd=spd,
        dev_data=make_data(seed=1),
    )
    steps = [r for r in res.train.log if r["event"] == "step"]
    assert [r["step"] for r in steps] == list(range(24))
    lr = [r["lr"] for r in steps]
    assert lr[0] == pytest.approx(1e-3) and lr[12] == pytest.approx(1e-3)  # restart at T1
    assert lr[11] == pytest.approx(1e-3 / 12)
    assert all(a > b for a, b in itertools.pairwise(lr[:12]))
    p = [r["replacement_rate"] for r in steps]
    assert p[:13] == [0.6] * 13 and p[17] < 1.0 and p[18:] == [1.0] * 6
    assert all(r["student_layers"] == 2 for r in steps[18:])
    assert 0 < sum(r["student_layers"] for r in steps[:12]) < 24  # mixed in stage I
    # the ramp spans stage I: its last update lands once T1 = 12 steps are taken (before the
    # first stage-II step), and sparsity stays fixed afterwards
    sparsity = {h["step"]: h["sparsity"] for h in res.train.history}  # evaluated per epoch
    assert res.sparsity["min_matrix_sparsity"] == pytest.approx(0.8, abs=1e-3)
    assert sparsity[6] < sparsity[12] < 0.8 and sparsity[18] == sparsity[24] == 0.8
    # a plain BERT again (exportable), teacher untouched, only encoder layers trained
    assert not any(isinstance(m, ReplacementLayer) for m in res.model.modules())
    after_teacher = teacher.state_dict()
    assert all(torch.equal(before[k], after_teacher[k]) for k in before)
    final = res.model.state_dict()
    changed = {k for k in final if not torch.equal(final[k], before[k])}
    assert changed and all(".encoder.layer." in k for k in changed)
    assert res.dev["accuracy"] > 0.8


def test_only_student_parameters_receive_gradients_and_change(spd_setup):
    teacher, data = spd_setup
    student = copy.deepcopy(teacher)
    rep = ModuleReplacement(student, list(encoder_layers(teacher)), ReplacementSchedule(0.5))
    before = {k: v.clone() for k, v in student.state_dict().items()}
    grads = {}

    def loss(m, b):
        out = m(**b).loss
        return {"loss": out}

    def capture(step):
        info = rep.before_step(step)
        for n, p in student.named_parameters():
            if p.grad is not None:
                grads[n] = True
        return info

    train(
        student,
        data,
        loss,
        TrainConfig(epochs=2, batch_size=8, lr=1e-2, seed=0),
        before_step=capture,
    )
    after = student.state_dict()
    trainable = {n for n, p in student.named_parameters() if p.requires_grad}
    assert trainable and all(".student." in n for n in trainable)
    assert set(grads) <= trainable  # frozen parameters never hold a gradient (clip norm)
    for k in before:
        same = torch.equal(before[k], after[k])
        assert same is (".student." not in k), k


def test_spd_resumes_bit_for_bit(spd_setup, tmp_path):
    teacher, data = spd_setup
    kw = dict(
        teacher=teacher,
        prune=PruneConfig(sparsity=0.8, n_updates=3),
        config=TrainConfig(epochs=2, batch_size=8, lr=1e-3, seed=3, checkpoint_every=4),
    )
    full = run_method("spd", data, **kw)
    run_method("spd", data, checkpoint_dir=tmp_path, stop_after=7, **kw)
    torch.manual_seed(123)
    resumed = run_method("spd", data, checkpoint_dir=tmp_path, **kw)
    assert resumed.train.resumed_from == 4
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
