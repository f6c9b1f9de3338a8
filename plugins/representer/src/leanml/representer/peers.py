"""Captum's data-influence methods on the same model, for side-by-side timing (needs captum).

TracIn scores a training point by the dot product of its loss gradient with the test point's,
summed over checkpoints. ``TracInCP`` uses every layer's gradients; ``TracInCPFast`` only the
last fully connected layer (an outer product of its input and dL/dlogits). Captum's influence
functions (``NaiveInfluenceFunction``: the exact Hessian over the parameters, projected;
``ArnoldiInfluenceFunction``: its top Arnoldi eigenpairs) use every layer. Each runs in its
fast mode unless told otherwise: ``sample_wise_grads_per_batch=True`` computes a batch's
per-example gradients in one backward pass (Captum's layer hooks) instead of one per example.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from leanml.core import ParameterError

__all__ = ["influence_function_topk", "tracin_topk"]


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
    test_batch_size: int | None = None,
    sample_wise: bool = True,
) -> Any:
    """Top-k proponents of each test point by Captum TracInCP(Fast), one checkpoint.

    ``sample_wise`` (TracInCP only): per-example gradients of a batch in one backward pass
    (``sample_wise_grads_per_batch=True``, Captum's fast mode) or one backward per example.

    ``test_batch_size`` splits the test points into batches of that size, one ``influence``
    call each, as when they come from a ``DataLoader``; Captum re-differentiates every
    training point per call, so TracInCP's time grows with the number of batches (None:
    one batch, its cheapest setting). Returns ``(indices, scores)``, each (n_test, k).
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
                # the batched per-example gradients need a summed loss, the loop per-example
                loss_fn=nn.CrossEntropyLoss(reduction="sum" if sample_wise else "none"),
                batch_size=batch_size,
                sample_wise_grads_per_batch=sample_wise,
            )
        step = len(X_test) if test_batch_size is None else test_batch_size
        if step < 1:
            raise ParameterError(f"test_batch_size must be >= 1, got {test_batch_size}")
        parts = [
            tracin.influence((X_test[s : s + step], y_test[s : s + step]), k=k, proponents=True)
            for s in range(0, len(X_test), step)
        ]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def influence_function_topk(
    model: nn.Module,
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    k: int = 10,
    kind: str = "arnoldi",
    batch_size: int = 256,
    projection_dim: int = 50,
) -> Any:
    """Top-k proponents of each test point by a Captum influence function over all layers.

    ``kind="naive"``: ``NaiveInfluenceFunction`` (the Hessian over all parameters, its
    inverse applied in a ``projection_dim`` eigenspace); ``kind="arnoldi"``:
    ``ArnoldiInfluenceFunction`` (``projection_dim`` top eigenpairs found by Arnoldi
    iteration). Both with ``sample_wise_grads_per_batch=True`` and Captum's other defaults.
    Returns ``(indices, scores)``, each (n_test, k).
    """
    try:
        # Captum 0.9 exports NaiveInfluenceFunction but not the Arnoldi class
        from captum.influence import NaiveInfluenceFunction
        from captum.influence._core.arnoldi_influence_function import ArnoldiInfluenceFunction
    except ImportError:
        raise ParameterError(
            "the influence-function peers need captum: pip install 'leanml-representer[peers]'"
        ) from None
    if kind not in ("naive", "arnoldi"):
        raise ParameterError(f"kind must be 'naive' or 'arnoldi', got {kind!r}")
    cls = NaiveInfluenceFunction if kind == "naive" else ArnoldiInfluenceFunction
    dataset = torch.utils.data.TensorDataset(X_train, y_train)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "checkpoint.pt"
        torch.save(model.state_dict(), ckpt)

        def load(m: nn.Module, path: str) -> float:
            m.load_state_dict(torch.load(path, weights_only=True))
            return 1.0

        influence = cls(
            model,
            dataset,
            str(ckpt),
            checkpoints_load_func=load,
            loss_fn=nn.CrossEntropyLoss(reduction="sum"),
            batch_size=batch_size,
            sample_wise_grads_per_batch=True,
            projection_dim=projection_dim,
        )
        indices, scores = influence.influence((X_test, y_test), k=k, proponents=True)
        return indices, scores
