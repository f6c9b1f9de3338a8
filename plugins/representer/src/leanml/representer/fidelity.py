"""Is the decomposition faithful to the model? Gate before fitting, report after.

Before fitting, every forward pass checks that the model's logits are ``classifier_layer``
applied to the features the explainer captured (so the head really is the last layer and the
features really are its input). After fitting, the re-converged head's logits are compared
with the model's, as the paper's Fig. 1 does: the Pearson correlation and the argmax (for a
single logit: sign) agreement.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from leanml.core import InputError

__all__ = [
    "ARGMAX_MIN",
    "PEARSON_MIN",
    "FidelityWarning",
    "agreement",
    "check_head_output",
    "warn_if_unfaithful",
]

#: Below these, the decomposition explains a head that is not the model's (warned).
PEARSON_MIN, ARGMAX_MIN = 0.99, 0.98


class FidelityWarning(UserWarning):
    """The decomposed head does not reproduce the model's predictions closely."""


def check_head_output(head_out: torch.Tensor, model_out: torch.Tensor) -> None:
    """Refuse a model whose output is not ``classifier_layer(features)``.

    Parameters
    ----------
    head_out : (B, C) classifier_layer applied to the captured features
    model_out : (B, C) the model's logits (after the output adapter)
    """
    if model_out.shape != head_out.shape:
        raise InputError(
            f"the model returns shape {tuple(model_out.shape)} but classifier_layer gives "
            f"{tuple(head_out.shape)}: classifier_layer must be the model's last layer"
        )
    model_out = model_out.to(head_out.dtype)
    scale = float(head_out.abs().max()) + 1.0
    tol = 1e-4 * scale if head_out.dtype != torch.float64 else 1e-10 * scale
    if float((head_out - model_out).abs().max()) <= tol:
        return
    if head_out.shape[1] == 1:
        squashed = {"a sigmoid": torch.sigmoid(head_out)}
    else:
        squashed = {
            "a softmax": torch.softmax(head_out, 1),
            "a log-softmax": torch.log_softmax(head_out, 1),
        }
    for name, value in squashed.items():
        if float((value - model_out).abs().max()) <= tol:
            raise InputError(
                f"the model ends in {name} after classifier_layer; pass a model (or output_fn) "
                "that returns the logits"
            )
    raise InputError(
        "the model's output is not classifier_layer(features): something after the head "
        "changes the logits; pass output_fn= or the layer that produces the logits"
    )


def agreement(model_logits: torch.Tensor, head_logits: torch.Tensor) -> dict[str, float]:
    """Pearson correlation and argmax agreement between two sets of logits.

    With C >= 2 classes each row is centred first: softmax ignores a constant added to a row,
    and a regularised head settles on the row shift of smallest norm, not the model's. A
    single logit (binary head) is compared as is, and its argmax is its sign.
    """
    a, b = model_logits.to(torch.float64), head_logits.to(torch.float64)
    if a.shape[1] == 1:
        agree = (a[:, 0] > 0) == (b[:, 0] > 0)
    else:
        agree = a.argmax(1) == b.argmax(1)
        a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    a_np, b_np = a.cpu().ravel().numpy(), b.cpu().ravel().numpy()
    if a_np.std() == 0 or b_np.std() == 0:
        pearson = 1.0 if np.allclose(a_np, b_np) else 0.0
    else:
        pearson = float(np.corrcoef(a_np, b_np)[0, 1])
    return {"pearson": pearson, "argmax": float(agree.double().mean())}


def warn_if_unfaithful(report: dict[str, float], what: str) -> None:
    """Warn when ``report`` falls below :data:`PEARSON_MIN` or :data:`ARGMAX_MIN`."""
    if report["pearson"] < PEARSON_MIN or report["argmax"] < ARGMAX_MIN:
        warnings.warn(
            f"{what} agrees with the model only to Pearson {report['pearson']:.4f} (want >= "
            f"{PEARSON_MIN}) and argmax {report['argmax']:.4f} (want >= {ARGMAX_MIN}) on the "
            "training points: its explanations describe a different classifier",
            FidelityWarning,
            stacklevel=3,
        )
