from __future__ import annotations

import json

import pytest
import torch

from leanml.core import InputError, ParameterError
from leanml.prune_kd.methods import METHODS, PruneConfig, run_method
from leanml.prune_kd.models import classifier_from_pretrained, encoder_linear_count
from leanml.prune_kd.training import DivergenceError, EncodedData, TrainConfig, evaluate, train


def toy_data(n=48, seq=10, vocab=64, seed=0, num_labels=3):
    """Label = which of three token ranges dominates: learnable by a tiny BERT."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, num_labels, (n,), generator=g)
    ids = torch.randint(5, 20, (n, seq), generator=g) + 15 * y[:, None]
    lengths = torch.randint(4, seq + 1, (n,), generator=g)
    mask = (torch.arange(seq)[None, :] < lengths[:, None]).long()
    ids = ids * mask
    return EncodedData(ids, mask, y)


@pytest.fixture
def data():
    return toy_data()


@pytest.fixture
def teacher(make_model, data):
    t = make_model(0)
    cfg = TrainConfig(epochs=4, batch_size=8, lr=2e-3, seed=0)
    train(t, data, lambda m, b: {"loss": m(**b).loss}, cfg)
    assert evaluate(t, toy_data(seed=1))["accuracy"] > 0.9
    return t


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("method", ["magnitude", "sparsebert"])
def test_resume_after_kill_is_bit_for_bit(method, make_model, teacher, data, tmp_path):
    pre = make_model(5)
    prune = PruneConfig(sparsity=0.8, n_updates=4)
    cfg = TrainConfig(epochs=3, batch_size=8, lr=1e-3, seed=3, checkpoint_every=4)
    full = run_method(method, data, teacher=teacher, pretrained=pre, prune=prune, config=cfg)
    ckdir = tmp_path / "ck"
    # killed mid-epoch after step 11; the last checkpoint is at step 8
    run_method(
        method,
        data,
        teacher=teacher,
        pretrained=pre,
        prune=prune,
        config=cfg,
        checkpoint_dir=ckdir,
        stop_after=11,
    )
    assert torch.load(ckdir / "checkpoint.pt", weights_only=True)["step"] == 8
    torch.manual_seed(999)  # the resumed process's RNG state differs
    resumed = run_method(
        method,
        data,
        teacher=teacher,
        pretrained=pre,
        prune=prune,
        config=cfg,
        checkpoint_dir=ckdir / ".." / "ck",
    )
    assert resumed.train.resumed_from == 8
    a, b = _weights(full.model), _weights(resumed.model)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_refuses_other_settings(make_model, data, tmp_path):
    m = make_model(0)
    ce = lambda mod, b: {"loss": mod(**b).loss}  # noqa: E731
    train(m, data, ce, TrainConfig(epochs=1, batch_size=16, lr=1e-3), checkpoint_dir=tmp_path)
    with pytest.raises(ParameterError, match="other training settings"):
        train(m, data, ce, TrainConfig(epochs=2, batch_size=16, lr=1e-3), checkpoint_dir=tmp_path)


def test_same_seed_same_result_other_seed_differs(make_model, data):
    ce = lambda mod, b: {"loss": mod(**b).loss}  # noqa: E731
    runs = []
    for seed in (1, 1, 2):
        m = make_model(0)
        train(m, data, ce, TrainConfig(epochs=1, batch_size=16, lr=1e-3, seed=seed))
        runs.append(m.classifier.weight.detach().clone())
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_and_reports(method, make_model, teacher, data, tmp_path):
    pre = make_model(5)
    log = tmp_path / "log.jsonl"
    res = run_method(
        method,
        data,
        teacher=teacher,
        pretrained=pre,
        dev_data=toy_data(seed=1),
        prune=PruneConfig(sparsity=0.9, n_updates=3),
        config=TrainConfig(epochs=2, batch_size=16, lr=1e-3, log_every=2),
        log_path=log,
    )
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(r["event"] == "train" for r in recs) and any(r["event"] == "eval" for r in recs)
    assert 0.0 <= res.dev["accuracy"] <= 1.0
    assert len(res.train.history) == 2  # one per epoch
    s = res.sparsity["encoder_linear_sparsity"]
    if method in ("sparsebert", "magnitude", "torch-prune", "spd"):
        assert s == pytest.approx(0.9, abs=1e-3)
        assert res.sparsity["min_matrix_sparsity"] == pytest.approx(0.9, abs=1e-3)
        assert res.sparsity["whole_model_sparsity"] < s
        assert not any(n.endswith("_orig") for n, _ in res.model.named_parameters())
    else:
        assert s < 0.01
    if method == "small-dense":
        nz = res.sparsity["nonzero_encoder_linear"]
        target = (1 - 0.9) * encoder_linear_count(teacher.config)
        assert 0.5 * target < nz < 1.5 * target


def test_magnitude_leaves_unpruned_params_unmasked_and_teacher_untouched(teacher, data):
    before = _weights(teacher)
    res = run_method(
        "magnitude",
        data,
        teacher=teacher,
        prune=PruneConfig(sparsity=0.5),
        config=TrainConfig(epochs=1, batch_size=16, lr=1e-3),
    )
    for k, v in _weights(teacher).items():
        assert torch.equal(v, before[k])
    emb = res.model.bert.embeddings.word_embeddings.weight
    assert int((emb == 0).sum()) == int(
        (before["bert.embeddings.word_embeddings.weight"] == 0).sum()
    )


def test_sparsebert_beats_chance_on_toy_task(make_model, teacher, data):
    """Sanity: distilling the fine-tuned teacher into the 50%-pruned pre-trained model."""
    res = run_method(
        "sparsebert",
        data,
        teacher=teacher,
        pretrained=make_model(5),
        dev_data=toy_data(seed=1),
        prune=PruneConfig(sparsity=0.5, n_updates=2),
        config=TrainConfig(epochs=4, batch_size=8, lr=2e-3),
    )
    assert res.dev["accuracy"] > 0.8


def test_bad_inputs(make_model, teacher, data):
    ce = lambda mod, b: {"loss": mod(**b).loss}  # noqa: E731
    bad = EncodedData(data.input_ids, data.attention_mask, data.labels + 3)
    with pytest.raises(InputError, match="labels must be integers"):
        train(make_model(0), bad, ce, TrainConfig(epochs=1))
    with pytest.raises(InputError):
        EncodedData(torch.zeros(0, 4, dtype=torch.long), torch.zeros(0, 4, dtype=torch.long))
    with pytest.raises(InputError):
        EncodedData(torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 5, dtype=torch.long))
    nan = lambda mod, b: {"loss": mod(**b).loss * float("nan")}  # noqa: E731
    with pytest.raises(DivergenceError, match="nan"):
        train(make_model(0), data, nan, TrainConfig(epochs=1))
    with pytest.raises(ParameterError, match="sparsity"):
        PruneConfig(sparsity=1.0)
    with pytest.raises(ParameterError, match="unknown method"):
        run_method("nope", data, teacher=teacher)
    with pytest.raises(ParameterError, match="pre-trained"):
        run_method("sparsebert", data, teacher=teacher)
    from leanml.prune_kd.pruning import MagnitudePruner
    from leanml.prune_kd.schedule import CubicSchedule

    m = make_model(0)
    with pytest.raises(ParameterError, match="only 3 steps"):
        train(
            m,
            data,
            ce,
            TrainConfig(epochs=1, batch_size=16),
            pruner=MagnitudePruner(m, CubicSchedule(0.5, 10, 2)),
        )
    with pytest.raises(ParameterError):
        TrainConfig(lr=0)
    with pytest.raises(ParameterError):
        TrainConfig(lr_schedule="cosine")


def test_classifier_from_masked_lm(make_config):
    from transformers import BertForMaskedLM

    mlm = BertForMaskedLM(make_config())
    clf = classifier_from_pretrained(mlm, 5, seed=1)
    assert clf.config.num_labels == 5
    assert torch.equal(
        clf.bert.embeddings.word_embeddings.weight, mlm.bert.embeddings.word_embeddings.weight
    )
    assert (
        clf.bert.embeddings.word_embeddings.weight.data_ptr()
        != mlm.bert.embeddings.word_embeddings.weight.data_ptr()
    )


def test_zeros_hold_through_a_recovery_phase(teacher, data):
    """Ramp over the first half, then train at fixed sparsity: AdamW momentum must not
    bring pruned weights back (masks on weights after every step, and on gradients)."""
    res = run_method(
        "magnitude",
        data,
        teacher=teacher,
        prune=PruneConfig(sparsity=0.7, n_updates=2, prune_fraction=0.5),
        config=TrainConfig(epochs=4, batch_size=8, lr=1e-2, weight_decay=0.0),
    )
    assert res.sparsity["min_matrix_sparsity"] == pytest.approx(0.7, abs=1e-3)
    assert res.sparsity["max_matrix_sparsity"] == pytest.approx(0.7, abs=1e-3)


def test_custom_lr_lambda_and_before_step_are_logged(make_model, data):
    seen = []

    def before(step):
        seen.append(step)
        return {"p": step / 10}

    res = train(
        make_model(0),
        data,
        lambda m, b: {"loss": m(**b).loss},
        TrainConfig(epochs=1, batch_size=8, lr=1e-3, log_every=1),
        lr_lambda=lambda s: 1.0 if s < 3 else 0.5,
        before_step=before,
    )
    assert seen == list(range(6))
    logs = [r for r in res.log if r["event"] == "train"]
    assert [r["p"] for r in logs] == [s / 10 for s in range(6)]
    assert logs[0]["lr"] == pytest.approx(1e-3) and logs[-1]["lr"] == pytest.approx(5e-4)
