"""Captum's TracIn on the same model, for side-by-side timing (needs ``captum``).

TracIn scores a training point by the dot product of its loss gradient with the test point's,
summed over checkpoints. ``TracInCP`` uses every layer's gradients; ``TracInCPFast`` only the
last fully connected layer (an outer product of its input and dL/dlogits).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from leanml.core import ParameterError

__all__ = ["tracin_topk"]


def tracin_topk(
    model: nn.Module,
    final_fc: nn.Module,
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    k: int = 10,
    fast: bool = True,
    batch_size: int = 256,
) -> Any:
    """Top-k proponents of each test point by Captum TracInCP(Fast), one checkpoint.

    Returns Captum's ``(indices, scores)`` result.
    """
    try:
        from captum.influence import TracInCP, TracInCPFast
    except ImportError:
        raise ParameterError(
            "the TracIn peers need captum: pip install 'leanml-representer[peers]'"
        ) from None
    dataset = torch.utils.data.TensorDataset(X_train, y_train)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "checkpoint.pt"
        torch.save(model.state_dict(), ckpt)

        def load(m: nn.Module, path: str) -> float:
            m.load_state_dict(torch.load(path, weights_only=True))
            return 1.0

        if fast:
            tracin = TracInCPFast(
                model,
                final_fc,
                dataset,
                [str(ckpt)],
                checkpoints_load_func=load,
                loss_fn=nn.CrossEntropyLoss(reduction="sum"),
                batch_size=batch_size,
            )
        else:
            tracin = TracInCP(
                model,
                dataset,
                [str(ckpt)],
                checkpoints_load_func=load,
                loss_fn=nn.CrossEntropyLoss(reduction="none"),
                batch_size=batch_size,
            )
        return tracin.influence((X_test, y_test), k=k, proponents=True)
