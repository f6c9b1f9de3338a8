"""Pre-softmax attention scores of a Hugging Face BERT, captured without ``output_attentions``.

``output_attentions=True`` returns post-softmax probabilities (and forces the slow eager
attention); both papers distil the *scores* :math:`QK^\\top/\\sqrt{d_h}` with masked
entries zeroed. Forward hooks on each layer's ``query`` and ``key`` linears record
:math:`Q` and :math:`K`; :meth:`AttentionRecorder.scores` forms the scores from them, so
the model keeps its fast (SDPA) attention path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from leanml.core import ParameterError

__all__ = ["AttentionRecorder", "KDOutputs", "encoder_layers", "kd_forward", "unwrap"]


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a ``DistributedDataParallel`` wrapper (or ``model`` itself)."""
    return getattr(model, "module", model)


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The ``encoder.layer`` list of a BERT-family model."""
    base = getattr(unwrap(model), "base_model", unwrap(model))
    try:
        return base.encoder.layer
    except AttributeError:
        raise ParameterError(f"{type(model).__name__} has no BERT encoder.layer list") from None


def _self_attentions(layer: nn.Module) -> list[nn.Module]:
    found = [m for m in layer.modules() if hasattr(m, "query") and hasattr(m, "key")]
    if not found:
        raise ParameterError(f"{type(layer).__name__} has no self-attention (query/key)")
    return found


class AttentionRecorder:
    """Records :math:`Q` and :math:`K` of every self-attention layer during a forward pass.

    Use as a context manager around the forward call; then :meth:`scores`.

    Parameters
    ----------
    model
        A BERT-family model with absolute position embeddings (relative position terms
        would be missing from the recomputed scores, so they are refused).
    """

    def __init__(self, model: nn.Module) -> None:
        config = unwrap(model).config
        kind = getattr(config, "position_embedding_type", None) or "absolute"
        if kind != "absolute":
            raise ParameterError(
                f"attention-score capture supports absolute position embeddings, got {kind!r}"
            )
        self.n_heads = int(config.num_attention_heads)
        self.layers = encoder_layers(model)
        self._q: list[torch.Tensor | None] = [None] * len(self.layers)
        self._k: list[torch.Tensor | None] = [None] * len(self.layers)
        self._handles: list[Any] = []

    def __enter__(self) -> AttentionRecorder:
        for i, layer in enumerate(self.layers):
            # a module-replacement position holds two self-attentions (student and frozen
            # teacher layer); only the one that runs records
            for attn in _self_attentions(layer):
                self._handles.append(attn.query.register_forward_hook(self._hook(self._q, i)))
                self._handles.append(attn.key.register_forward_hook(self._hook(self._k, i)))
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    @staticmethod
    def _hook(store: list[torch.Tensor | None], i: int):
        def hook(module: nn.Module, args: Any, output: torch.Tensor) -> None:
            store[i] = output

        return hook

    def scores(self, attention_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Per layer, :math:`A^l = Q K^\\top / \\sqrt{d_h}` shaped ``(batch, heads, seq, seq)``.

        Parameters
        ----------
        attention_mask
            ``(batch, seq)`` with 1 for real tokens and 0 for padding; the columns of
            padded keys are set to 0 (the papers add -10000 and zero entries <= -100;
            this zeroes exactly the masked ones). Padded query rows are kept, as in the
            papers.
        """
        out = []
        for q, k in zip(self._q, self._k, strict=True):
            if q is None or k is None:
                raise RuntimeError("no forward pass recorded")
            b, s, d = q.shape
            h = self.n_heads
            qh = q.view(b, s, h, d // h).transpose(1, 2)
            kh = k.view(b, k.shape[1], h, d // h).transpose(1, 2)
            a = torch.matmul(qh, kh.transpose(-1, -2)) * (d // h) ** -0.5
            if attention_mask is not None:
                keep = attention_mask[:, None, None, :].to(torch.bool)
                a = a.masked_fill(~keep, 0.0)
            out.append(a)
        return out


@dataclass
class KDOutputs:
    """What distillation needs from one forward pass.

    Attributes
    ----------
    logits
        :math:`z`, ``(batch, num_labels)``.
    hidden_states
        :math:`H^0..H^L`: the embedding output and each layer's output.
    attention_scores
        :math:`A^1..A^L`, pre-softmax, masked entries zeroed (empty if not requested).
    """

    logits: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...]
    attention_scores: list[torch.Tensor]


def kd_forward(
    model: nn.Module, batch: dict[str, torch.Tensor], attention: bool = True
) -> KDOutputs:
    """Run ``model`` on ``batch`` (``input_ids``, ``attention_mask``[, ``token_type_ids``])
    returning logits, all hidden states and (optionally) pre-softmax attention scores."""
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    if attention:
        with AttentionRecorder(model) as rec:
            out = model(**inputs, output_hidden_states=True)
        scores = rec.scores(batch.get("attention_mask"))
    else:
        out = model(**inputs, output_hidden_states=True)
        scores = []
    return KDOutputs(out.logits, tuple(out.hidden_states), scores)
