"""Tiny BERT models built in the tests; nothing is downloaded (offline Hugging Face)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest
import torch

torch.set_num_threads(1)


def tiny_config(**kw):
    from transformers import BertConfig

    base = dict(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
        num_labels=3,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )
    base.update(kw)
    return BertConfig(**base)


def tiny_model(seed=0, **kw):
    from transformers import BertForSequenceClassification

    torch.manual_seed(seed)
    return BertForSequenceClassification(tiny_config(**kw))


@pytest.fixture
def model():
    return tiny_model(0)


@pytest.fixture
def padded_batch():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 64, (3, 9), generator=g)
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    ids[mask == 0] = 0
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([0, 2, 1])}


@pytest.fixture
def make_model():
    """``make_model(seed, **config)``: a tiny BertForSequenceClassification."""
    return tiny_model


@pytest.fixture
def make_config():
    """``make_config(**overrides)``: a tiny BertConfig."""
    return tiny_config


def toy_data(n=48, seq=10, vocab=64, seed=0, num_labels=3):
    """Label = which of three token ranges dominates: learnable by a tiny BERT."""
    from leanml.prune_kd.training import EncodedData

    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, num_labels, (n,), generator=g)
    ids = torch.randint(5, 20, (n, seq), generator=g) + 15 * y[:, None]
    lengths = torch.randint(4, seq + 1, (n,), generator=g)
    mask = (torch.arange(seq)[None, :] < lengths[:, None]).long()
    ids = ids * mask
    return EncodedData(ids, mask, y)


@pytest.fixture(scope="session")
def make_data():
    """``make_data(n, seq, vocab, seed, num_labels)``: learnable toy token data."""
    return toy_data


@pytest.fixture(scope="session")
def trained_teacher():
    """A tiny BERT fine-tuned on ``toy_data()`` (dev accuracy 1.0 on ``toy_data(seed=1)``)."""
    from leanml.prune_kd.training import TrainConfig, train

    teacher = tiny_model(0)
    cfg = TrainConfig(epochs=4, batch_size=8, lr=2e-3)
    train(teacher, toy_data(), lambda m, b: {"loss": m(**b).loss}, cfg)
    return teacher.eval()
