"""The papers' distillation loss: hidden states, attention scores and soft cross-entropy.

.. math::

    L = \\sum_{l=0}^{L} \\mathrm{MSE}(H_s^{l} W_h, H_t^{m(l)})
      + \\sum_{l=1}^{L} \\mathrm{MSE}(A_s^{l}, A_t^{m(l)})
      + \\mathrm{softCE}(z_s / T, z_t / T)

with :math:`m` the layer map (identity for equal depths), :math:`W_h` a learned projection
when the student is narrower (TinyBERT's ``fit_dense``), softCE averaged over the batch
*and* the classes with no :math:`T^2` factor, and, for regression, the logit term replaced
by the MSE against gold labels (SparseBERT / SPD code, TinyBERT lineage).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from leanml.core import ParameterError

from .capture import KDOutputs

__all__ = ["REDUCTIONS", "DistillationLoss", "default_layer_map", "soft_cross_entropy"]

#: ``"mean"``: over batch and classes (the papers); ``"batchmean"``: sum over classes,
#: mean over the batch (Hinton-style, as ``KLDivLoss(reduction="batchmean")``).
REDUCTIONS = ("mean", "batchmean")


def soft_cross_entropy(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """:math:`-\\mathrm{softmax}(z_t/T) \\cdot \\log\\mathrm{softmax}(z_s/T)`, reduced.

    Parameters
    ----------
    student_logits, teacher_logits
        :math:`z_s`, :math:`z_t`, ``(batch, classes)``.
    temperature
        :math:`T > 0` (papers: 1).
    reduction
        One of :data:`REDUCTIONS`; ``"mean"`` reproduces the papers.
    """
    if not temperature > 0:
        raise ParameterError(f"temperature must be > 0, got {temperature}")
    if reduction not in REDUCTIONS:
        raise ParameterError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if student_logits.shape != teacher_logits.shape:
        raise ParameterError(
            f"student logits {tuple(student_logits.shape)} and teacher logits "
            f"{tuple(teacher_logits.shape)} differ in shape"
        )
    p_t = F.softmax(teacher_logits / temperature, dim=-1)
    ce = -(p_t * F.log_softmax(student_logits / temperature, dim=-1))
    return ce.mean() if reduction == "mean" else ce.sum(-1).mean()


def default_layer_map(n_student: int, n_teacher: int) -> list[int]:
    """Teacher layer (1-based) for each student layer ``1..n_student``: uniform, TinyBERT's
    :math:`m(l) = l \\cdot L_t / L_s`; needs ``n_teacher`` divisible by ``n_student``."""
    if n_student < 1 or n_teacher < 1 or n_teacher % n_student:
        raise ParameterError(
            f"cannot map {n_student} student layers onto {n_teacher} teacher layers "
            "uniformly; pass layer_map explicitly"
        )
    step = n_teacher // n_student
    return [step * (i + 1) for i in range(n_student)]


class DistillationLoss(nn.Module):
    """Hidden-state + attention-score + logit distillation, with the papers' defaults.

    Parameters
    ----------
    student_config, teacher_config
        ``transformers`` configs (``hidden_size``, ``num_hidden_layers``,
        ``num_attention_heads``, ``num_labels``).
    layer_map
        Teacher layer (1-based) matched to each student layer; ``None`` = uniform.
    project
        Learn :math:`W_h` (``hidden_s -> hidden_t``) when the widths differ; with
        ``False`` a width mismatch is an error.
    hidden_weight, attention_weight, logit_weight
        Weights of the three terms (papers: 1, 1, 1).
    temperature, reduction
        Of :func:`soft_cross_entropy`.
    task
        ``"classification"`` (soft CE on teacher logits) or ``"regression"`` (MSE on gold
        labels).
    """

    def __init__(
        self,
        student_config: object,
        teacher_config: object,
        layer_map: Sequence[int] | None = None,
        project: bool = True,
        hidden_weight: float = 1.0,
        attention_weight: float = 1.0,
        logit_weight: float = 1.0,
        temperature: float = 1.0,
        reduction: str = "mean",
        task: str = "classification",
    ) -> None:
        super().__init__()
        if not temperature > 0:
            raise ParameterError(f"temperature must be > 0, got {temperature}")
        if reduction not in REDUCTIONS:
            raise ParameterError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        if task not in ("classification", "regression"):
            raise ParameterError(f"task must be classification or regression, got {task!r}")
        for w in (hidden_weight, attention_weight, logit_weight):
            if not w >= 0:
                raise ParameterError(f"loss weights must be >= 0, got {w}")
        ls, lt = student_config.num_hidden_layers, teacher_config.num_hidden_layers
        self.layer_map = (
            default_layer_map(ls, lt) if layer_map is None else [int(m) for m in layer_map]
        )
        if len(self.layer_map) != ls or not all(1 <= m <= lt for m in self.layer_map):
            raise ParameterError(
                f"layer_map needs {ls} teacher layers in [1, {lt}], got {self.layer_map}"
            )
        ds, dt = student_config.hidden_size, teacher_config.hidden_size
        if ds != dt and not project:
            raise ParameterError(
                f"student hidden size {ds} differs from the teacher's {dt}; "
                "use project=True to learn a projection"
            )
        self.proj: nn.Module = nn.Linear(ds, dt) if ds != dt else nn.Identity()
        hs, ht = student_config.num_attention_heads, teacher_config.num_attention_heads
        if attention_weight > 0 and hs != ht:
            raise ParameterError(
                f"attention distillation needs equal head counts (student {hs}, teacher {ht}); "
                "set attention_weight=0"
            )
        if task == "classification" and student_config.num_labels != teacher_config.num_labels:
            raise ParameterError(
                f"student has {student_config.num_labels} labels, teacher "
                f"{teacher_config.num_labels}"
            )
        self.hidden_weight = float(hidden_weight)
        self.attention_weight = float(attention_weight)
        self.logit_weight = float(logit_weight)
        self.temperature = float(temperature)
        self.reduction = reduction
        self.task = task

    @property
    def needs_attention(self) -> bool:
        """Whether attention scores must be captured."""
        return self.attention_weight > 0

    def forward(
        self, student: KDOutputs, teacher: KDOutputs, labels: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """The weighted terms ``hidden``, ``attention``, ``logit`` and their sum ``loss``."""
        zero = student.logits.new_zeros(())
        pairs = [(0, 0), *((i + 1, m) for i, m in enumerate(self.layer_map))]
        hidden = zero
        if self.hidden_weight > 0:
            for i, m in pairs:
                hidden = hidden + F.mse_loss(
                    self.proj(student.hidden_states[i]), teacher.hidden_states[m]
                )
        attn = zero
        if self.attention_weight > 0:
            for i, m in pairs[1:]:
                attn = attn + F.mse_loss(
                    student.attention_scores[i - 1], teacher.attention_scores[m - 1]
                )
        if self.task == "regression":
            if labels is None:
                raise ParameterError("regression distillation needs gold labels")
            logit = F.mse_loss(student.logits.view(-1), labels.to(student.logits.dtype).view(-1))
        else:
            logit = soft_cross_entropy(
                student.logits, teacher.logits, self.temperature, self.reduction
            )
        terms = {
            "hidden": self.hidden_weight * hidden,
            "attention": self.attention_weight * attn,
            "logit": self.logit_weight * logit,
        }
        terms["loss"] = terms["hidden"] + terms["attention"] + terms["logit"]
        return terms
