"""Building students from pre-trained encoders: classifiers, small dense configs, slicing."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from leanml.core import ParameterError

__all__ = ["classifier_from_pretrained", "slice_init", "small_dense_config", "tiny_bert_config"]


def tiny_bert_config(
    vocab_size: int,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_length: int = 64,
    num_labels: int = 2,
) -> Any:
    """A small ``BertConfig`` (FFN width ``4 * hidden_size``), for CPU experiments and tests."""
    from transformers import BertConfig

    if hidden_size % num_heads:
        raise ParameterError(f"hidden_size {hidden_size} is not divisible by {num_heads} heads")
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=4 * hidden_size,
        max_position_embeddings=max_length,
        num_labels=num_labels,
    )


def classifier_from_pretrained(pretrained: nn.Module, num_labels: int, seed: int = 0) -> nn.Module:
    """``BertForSequenceClassification`` with ``pretrained``'s encoder weights and a new,
    seeded classifier (and pooler, if ``pretrained`` has none, e.g. a masked-LM model).

    Parameters
    ----------
    pretrained
        Any BERT-family ``transformers`` model (``BertModel``, ``BertForMaskedLM``, ...).
    num_labels
        Classes (1 for regression).
    seed
        Seeds the new head.
    """
    from transformers import BertForSequenceClassification

    if num_labels < 1:
        raise ParameterError(f"num_labels must be >= 1, got {num_labels}")
    config = copy.deepcopy(pretrained.config)
    config.num_labels = num_labels
    config.architectures = ["BertForSequenceClassification"]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = BertForSequenceClassification(config)
    base = pretrained.base_model.state_dict()
    missing, unexpected = model.bert.load_state_dict(base, strict=False)
    if unexpected or any(not m.startswith("pooler.") for m in missing):
        raise ParameterError(
            f"pre-trained weights do not fit a BERT encoder: missing {missing}, "
            f"unexpected {unexpected}"
        )
    return model


def small_dense_config(config: Any, sparsity: float) -> Any:
    """A dense config with about as many encoder-linear weights as ``config`` at ``sparsity``.

    Depth and head count are kept; the hidden size shrinks by :math:`\\sqrt{1-s}` (rounded
    to a multiple of the head count, FFN width scaled alike), since encoder-linear weights
    grow as :math:`L(4d^2 + 2 d d_{ff})`.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ParameterError(f"sparsity must be in [0, 1), got {sparsity}")
    small = copy.deepcopy(config)
    h = config.num_attention_heads
    scale = math.sqrt(1.0 - sparsity)
    d = max(h, round(config.hidden_size * scale / h) * h)
    small.hidden_size = d
    small.intermediate_size = max(1, round(config.intermediate_size * d / config.hidden_size))
    return small


def encoder_linear_count(config: Any) -> int:
    """Entries of the six encoder linear matrices of ``config``."""
    d, f, L = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return L * (4 * d * d + 2 * d * f)


@torch.no_grad()
def slice_init(student: nn.Module, pretrained: nn.Module) -> list[str]:
    """Initialise a narrower student from the leading block of each pre-trained tensor.

    A cheap stand-in for TinyBERT's general distillation (not done here): every student
    tensor of the encoder takes ``pretrained[:n0, :n1, ...]`` of the same name. Returns the
    names that were copied.
    """
    src = pretrained.base_model.state_dict()
    copied = []
    for name, t in student.base_model.state_dict().items():
        s = src.get(name)
        if (
            s is None
            or s.dim() != t.dim()
            or any(a > b for a, b in zip(t.shape, s.shape, strict=True))
        ):
            continue
        t.copy_(s[tuple(slice(0, n) for n in t.shape)])
        copied.append(name)
    if not copied:
        raise ParameterError("no pre-trained tensor fits the student")
    return copied
