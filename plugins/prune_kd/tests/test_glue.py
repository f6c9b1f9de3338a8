from __future__ import annotations

import sys
import types

import pytest
import torch

from leanml.core import DataError, InputError
from leanml.prune_kd.glue import load_glue
from leanml.prune_kd.pretrain import encode, train_wordpiece


def _fake_datasets(monkeypatch, rows=None, error=None):
    mod = types.ModuleType("datasets")

    def load_dataset(repo, task, split):
        if error is not None:
            raise error
        return rows[(task, split)]

    mod.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", mod)


def test_glue_rows_through_datasets(monkeypatch):
    rows = {
        ("mrpc", "train"): [
            {"sentence1": "a b", "sentence2": "b a", "label": 1},
            {"sentence1": "c", "sentence2": "d", "label": 0},
        ]
    }
    _fake_datasets(monkeypatch, rows)
    split = load_glue("mrpc")
    assert split.texts == ["a b", "c"] and split.texts_b == ["b a", "d"]
    assert split.labels == [1, 0] and split.num_labels == 2
    rows[("sst2", "test")] = [{"sentence": "x", "label": -1}]
    with pytest.raises(DataError, match="outside"):
        load_glue("sst2", "test")
    with pytest.raises(DataError, match="unknown GLUE task"):
        load_glue("squad")


def test_glue_offline_is_one_line(monkeypatch):
    _fake_datasets(monkeypatch, error=ConnectionError("Couldn't reach the Hub\nmore detail"))
    with pytest.raises(DataError, match="offline") as info:
        load_glue("sst2")
    assert "\n" not in str(info.value)


def test_glue_without_datasets(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(DataError, match="pip install datasets"):
        load_glue("sst2")


def test_pair_encoding_has_token_types():
    tok = train_wordpiece(["alpha beta gamma delta"] * 5, vocab_size=40, min_frequency=1)
    data = encode(tok, ["alpha beta", "gamma"], 12, [0, 1], texts_b=["delta", "beta alpha"])
    assert data.token_type_ids is not None
    b = data.batch(torch.tensor([0, 1]))
    assert set(b) == {"input_ids", "attention_mask", "token_type_ids", "labels"}
    assert (b["token_type_ids"][0] == 1).any() and (b["token_type_ids"][0] == 0).any()
    with pytest.raises(InputError, match="texts_b"):
        encode(tok, ["a", "b"], 8, texts_b=["c"])


def test_glue_task_subsets_and_trains(monkeypatch, make_model):
    from leanml.prune_kd.methods import run_method
    from leanml.prune_kd.tasks import make_glue_task
    from leanml.prune_kd.training import TrainConfig

    def rows(n, seed):
        g = torch.Generator().manual_seed(seed)
        ys = torch.randint(0, 2, (n,), generator=g).tolist()
        return [
            {"sentence1": f"alpha {y}", "sentence2": "beta" if y else "gamma", "label": y}
            for y in ys
        ]

    _fake_datasets(monkeypatch, {("rte", "train"): rows(40, 0), ("rte", "validation"): rows(20, 1)})
    task = make_glue_task("rte", n_train=16, n_dev=10, seed=0)
    assert len(task.train_texts) == len(task.train_texts_b) == 16
    assert len(task.dev_texts) == 10 and task.label_names == ["0", "1"]
    tok = train_wordpiece(task.unlabeled * 3, vocab_size=40, min_frequency=1)
    train = encode(tok, task.train_texts, 12, task.train_labels, task.train_texts_b)
    res = run_method(
        "dense",
        train,
        pretrained=make_model(0, vocab_size=len(tok)),
        num_labels=2,
        config=TrainConfig(epochs=1, batch_size=8, lr=1e-3),
    )
    assert res.train.steps == 2
