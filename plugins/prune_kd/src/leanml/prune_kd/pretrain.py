"""A tiny BERT from scratch: WordPiece vocabulary (``tokenizers``) and masked-LM training.

So that pre-train -> fine-tune -> prune runs end to end on a CPU with no hub access. MLM
follows BERT: 15% of the real (non-special) tokens are selected; of those 80% become
``[MASK]``, 10% a random token, 10% stay. Masks are drawn from the global torch RNG,
which the training loop checkpoints, so MLM runs resume bit-for-bit too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from leanml.core import InputError, ParameterError

from .models import tiny_bert_config
from .training import EncodedData, TrainConfig, TrainResult, train

__all__ = ["encode", "mlm_loss", "pretrain_mlm", "train_wordpiece"]


def train_wordpiece(
    texts: Sequence[str], vocab_size: int = 4000, min_frequency: int = 2, max_length: int = 512
) -> Any:
    """Train a lower-casing WordPiece tokenizer on ``texts``; a ``BertTokenizerFast``."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    if not texts:
        raise InputError("no texts to train a tokenizer on")
    if vocab_size < 10:
        raise ParameterError(f"vocab_size must be >= 10, got {vocab_size}")
    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator(
        list(texts), vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False
    )
    return BertTokenizerFast(tokenizer_object=wp._tokenizer, model_max_length=max_length)


def encode(
    tokenizer: Any,
    texts: Sequence[str],
    max_length: int,
    labels: Sequence[int] | None = None,
    texts_b: Sequence[str] | None = None,
) -> EncodedData:
    """Tokenise ``texts`` (pairs with ``texts_b``; truncated/padded to ``max_length``) into
    :class:`EncodedData` (with ``token_type_ids`` for pairs)."""
    if not len(texts):
        raise InputError("no texts")
    if any(not isinstance(t, str) for t in texts):
        raise InputError("texts must be strings")
    if texts_b is not None and (
        len(texts_b) != len(texts) or any(not isinstance(t, str) for t in texts_b)
    ):
        raise InputError("texts_b must be as many strings as texts")
    enc = tokenizer(
        list(texts),
        None if texts_b is None else list(texts_b),
        truncation=True,
        max_length=max_length,
        padding="max_length",
        return_tensors="pt",
    )
    y = None if labels is None else torch.as_tensor(labels)
    types = enc.get("token_type_ids") if texts_b is not None else None
    return EncodedData(enc["input_ids"], enc["attention_mask"], y, types)


def mlm_loss(
    tokenizer: Any, mask_prob: float = 0.15
) -> Callable[[nn.Module, dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
    """``loss_fn(model, batch)`` for BERT's masked-LM objective (see the module docstring)."""
    if not 0.0 < mask_prob < 1.0:
        raise ParameterError(f"mask_prob must be in (0, 1), got {mask_prob}")
    special = torch.tensor(sorted(set(tokenizer.all_special_ids)))
    mask_id = tokenizer.mask_token_id
    vocab = len(tokenizer)

    def loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        ids = batch["input_ids"].clone()
        real = (batch["attention_mask"] == 1) & ~torch.isin(ids, special)
        sel = (torch.rand(ids.shape) < mask_prob) & real
        if not sel.any():  # tiny batches: always predict at least one token
            sel.view(-1)[int(real.view(-1).float().argmax())] = True
        labels = torch.where(sel, ids, torch.full_like(ids, -100))
        r = torch.rand(ids.shape)
        ids[sel & (r < 0.8)] = mask_id
        swap = sel & (r >= 0.8) & (r < 0.9)
        ids[swap] = torch.randint(vocab, (int(swap.sum()),))
        out = model(input_ids=ids, attention_mask=batch["attention_mask"], labels=labels)
        return {"loss": out.loss}

    return loss


def pretrain_mlm(
    texts: Sequence[str],
    tokenizer: Any,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_length: int = 64,
    config: TrainConfig | None = None,
    mask_prob: float = 0.15,
    checkpoint_dir: str | Path | None = None,
    log_path: str | Path | None = None,
    progress: Callable[..., Any] | None = None,
) -> tuple[nn.Module, TrainResult]:
    """Pre-train a tiny ``BertForMaskedLM`` on ``texts``; returns it and the run's record."""
    from transformers import BertForMaskedLM

    config = config or TrainConfig(epochs=1, batch_size=32, lr=1e-3, weight_decay=0.01)
    data = encode(tokenizer, texts, max_length)
    cfg = tiny_bert_config(len(tokenizer), hidden_size, num_layers, num_heads, max_length)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        model = BertForMaskedLM(cfg)
    result = train(
        model,
        data,
        mlm_loss(tokenizer, mask_prob),
        config,
        checkpoint_dir=checkpoint_dir,
        log_path=log_path,
        progress=progress,
        description="pre-training (MLM)",
    )
    return model, result
