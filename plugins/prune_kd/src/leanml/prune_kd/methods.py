"""The methods compared in SparseBERT (Xu, Yen et al., NAACL 2021), over one training loop.

=============  ===========================  ==========================  ===================
method         student starts from          loss                        pruning
=============  ===========================  ==========================  ===================
``sparsebert`` pre-trained weights          KD: hidden + attn + logits  cubic, magnitude
``magnitude``  fine-tuned teacher           cross-entropy (gold)        cubic, magnitude
``torch-prune`` fine-tuned teacher          cross-entropy (gold)        one-shot L1 (torch)
``small-dense`` pre-trained, sliced narrower KD (with a projection)     none (fewer weights)
``dense``      pre-trained weights          cross-entropy (gold)        none: the teacher
``spd``        fine-tuned teacher, grafted  KD: hidden + attn + logits  cubic in stage I
               layer by layer (module                                   (of three, see
               replacement, rate p)                                     :mod:`.spd`)
=============  ===========================  ==========================  ===================

``spd`` is Sparse Progressive Distillation (Huang, Xu, Yen et al., ACL 2022); the loop,
losses, pruner and export are shared with the others.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from leanml.core import ParameterError

from .capture import encoder_layers, kd_forward
from .losses import DistillationLoss
from .models import classifier_from_pretrained, slice_init, small_dense_config
from .pruning import (
    MagnitudePruner,
    sparsity_report,
    torch_prune_oneshot,
    torch_prune_remove,
)
from .replacement import ModuleReplacement
from .schedule import CubicSchedule
from .spd import SPDConfig
from .training import EncodedData, TrainConfig, TrainResult, evaluate, train

__all__ = ["METHODS", "MethodResult", "PruneConfig", "run_method"]

#: Registered method names.
METHODS = ("sparsebert", "magnitude", "torch-prune", "small-dense", "dense", "spd")


@dataclass
class PruneConfig:
    """Pruning and distillation settings.

    Parameters
    ----------
    sparsity
        :math:`s_f`, target fraction of zeros per targeted matrix, in ``[0, 1)``.
    n_updates
        :math:`K` mask updates of the cubic ramp (SparseBERT ~100, SPD ~12).
    prune_fraction
        Share of training steps the ramp spans, :math:`T / \\text{total}` (SparseBERT 1.0).
    start_step
        :math:`t_0`.
    patterns
        Targeted weights (see :mod:`leanml.prune_kd.patterns`).
    temperature, reduction
        Soft cross-entropy settings (papers: 1, ``"mean"``).
    hidden_weight, attention_weight, logit_weight
        KD term weights (papers: 1, 1, 1).
    layer_map
        Teacher layer per student layer (``None``: uniform).
    """

    sparsity: float = 0.9
    n_updates: int = 10
    prune_fraction: float = 1.0
    start_step: int = 0
    patterns: str | Sequence[str] | None = None
    temperature: float = 1.0
    reduction: str = "mean"
    hidden_weight: float = 1.0
    attention_weight: float = 1.0
    logit_weight: float = 1.0
    layer_map: Sequence[int] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.sparsity < 1.0:
            raise ParameterError(f"sparsity must be in [0, 1), got {self.sparsity}")
        if not 0.0 < self.prune_fraction <= 1.0:
            raise ParameterError(f"prune_fraction must be in (0, 1], got {self.prune_fraction}")

    def schedule(self, total_steps: int) -> CubicSchedule:
        """The cubic schedule for a run of ``total_steps``."""
        T = max(1, round(self.prune_fraction * (total_steps - self.start_step)))
        return CubicSchedule(self.sparsity, T, min(self.n_updates, T), self.start_step)


@dataclass
class MethodResult:
    """A trained student and what happened.

    Attributes
    ----------
    model
        The student (eval mode), pruned weights exactly zero.
    train
        The :class:`~leanml.prune_kd.training.TrainResult`.
    sparsity
        :meth:`SparsityReport.summary` of the final model.
    dev
        Final dev scores.
    """

    model: nn.Module
    train: TrainResult
    sparsity: dict[str, Any] = field(default_factory=dict)
    dev: dict[str, float] = field(default_factory=dict)


def _ce_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {"loss": model(**batch).loss}


def _kd_loss(teacher: nn.Module, kd: DistillationLoss) -> Callable[..., dict[str, torch.Tensor]]:
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)

    def loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            t = kd_forward(teacher, batch, attention=kd.needs_attention)
        s = kd_forward(model, batch, attention=kd.needs_attention)
        return kd(s, t, batch.get("labels"))

    return loss


def _need(obj: Any, what: str, method: str) -> Any:
    if obj is None:
        raise ParameterError(f"method {method!r} needs a {what} model")
    return obj


def run_method(
    method: str,
    train_data: EncodedData,
    *,
    teacher: nn.Module | None = None,
    pretrained: nn.Module | None = None,
    dev_data: EncodedData | None = None,
    prune: PruneConfig | None = None,
    config: TrainConfig | None = None,
    num_labels: int | None = None,
    checkpoint_dir: str | Path | None = None,
    log_path: str | Path | None = None,
    progress: Callable[..., Any] | None = None,
    stop_after: int | None = None,
    spd: SPDConfig | None = None,
) -> MethodResult:
    """Train one method's student.

    Parameters
    ----------
    method
        One of :data:`METHODS`.
    train_data, dev_data
        Tokenised examples.
    teacher
        The fine-tuned dense model (all methods but ``dense``); never modified.
    pretrained
        The pre-trained encoder (``sparsebert``, ``small-dense``, ``dense``); never modified.
    prune
        Sparsity, schedule and KD settings.
    config
        Optimisation settings.
    num_labels
        Classes, when there is no teacher to read them from.
    checkpoint_dir, log_path, progress, stop_after
        Passed to :func:`~leanml.prune_kd.training.train`.
    spd
        Module replacement and stage settings of ``spd`` (default :class:`SPDConfig`). Its
        staged LR replaces ``config.lr_schedule`` and ``config.warmup_steps``.
    """
    if method not in METHODS:
        raise ParameterError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    prune = prune or PruneConfig()
    config = config or TrainConfig()
    task_labels = num_labels or (teacher.config.num_labels if teacher is not None else None)
    if task_labels is None:
        raise ParameterError("num_labels is needed when no teacher is given")
    task = "regression" if task_labels == 1 else "classification"
    total = config.total_steps(len(train_data))
    pruner = None
    extra: list[nn.Module] = []
    torch_pruned: list[str] = []
    replacement = None
    lr_lambda = None
    if method == "dense":
        student = classifier_from_pretrained(
            _need(pretrained, "pre-trained", method), task_labels, config.seed
        )
        loss_fn = _ce_loss
    elif method in ("magnitude", "torch-prune"):
        student = copy.deepcopy(_need(teacher, "fine-tuned teacher", method))
        for p in student.parameters():
            p.requires_grad_(True)
        loss_fn = _ce_loss
        if method == "magnitude":
            pruner = MagnitudePruner(student, prune.schedule(total), prune.patterns)
        else:
            torch_pruned = torch_prune_oneshot(student, prune.sparsity, prune.patterns)
    elif method == "sparsebert":
        teacher = _need(teacher, "fine-tuned teacher", method)
        student = classifier_from_pretrained(
            _need(pretrained, "pre-trained", method), task_labels, config.seed
        )
        kd = _kd(student, teacher, prune, task)
        extra.append(kd)
        loss_fn = _kd_loss(teacher, kd)
        pruner = MagnitudePruner(student, prune.schedule(total), prune.patterns)
    elif method == "spd":
        teacher = _need(teacher, "fine-tuned teacher", method)
        stages = (spd or SPDConfig()).stages(total, prune.sparsity, prune.n_updates)
        student = copy.deepcopy(teacher)
        pruner = MagnitudePruner(student, stages.cubic, prune.patterns)
        replacement = ModuleReplacement(
            student,
            list(encoder_layers(teacher)),
            stages.replacement,
            seed=config.seed,
            frozen_dropout=(spd or SPDConfig()).frozen_dropout,
        )
        kd = _kd(student, teacher, prune, task)
        extra.append(kd)
        loss_fn = _kd_loss(teacher, kd)
        lr_lambda = stages.lr_lambda()
    else:  # small-dense
        teacher = _need(teacher, "fine-tuned teacher", method)
        pretrained = _need(pretrained, "pre-trained", method)
        from transformers import BertForSequenceClassification

        small = small_dense_config(teacher.config, prune.sparsity)
        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            student = BertForSequenceClassification(small)
        slice_init(student, pretrained)
        kd = _kd(student, teacher, prune, task)
        extra.append(kd)
        loss_fn = _kd_loss(teacher, kd)
    result = train(
        student,
        train_data,
        loss_fn,
        config,
        pruner=pruner,
        extra_modules=extra,
        dev=dev_data,
        checkpoint_dir=checkpoint_dir,
        log_path=log_path,
        progress=progress,
        description=method,
        stop_after=stop_after,
        lr_lambda=lr_lambda,
        before_step=replacement.before_step if replacement is not None else None,
    )
    if replacement is not None:
        replacement.unwrap()
    if torch_pruned:
        torch_prune_remove(student, torch_pruned)
    out = MethodResult(student.eval(), result)
    if method != "small-dense" and method != "dense":
        out.sparsity = sparsity_report(student, prune.patterns).summary()
    else:
        out.sparsity = sparsity_report(student).summary()
    if dev_data is not None:
        out.dev = evaluate(student, dev_data)
    return out


def _kd(student: nn.Module, teacher: nn.Module, prune: PruneConfig, task: str) -> DistillationLoss:
    return DistillationLoss(
        student.config,
        teacher.config,
        layer_map=prune.layer_map,
        hidden_weight=prune.hidden_weight,
        attention_weight=prune.attention_weight,
        logit_weight=prune.logit_weight,
        temperature=prune.temperature,
        reduction=prune.reduction,
        task=task,
    )
