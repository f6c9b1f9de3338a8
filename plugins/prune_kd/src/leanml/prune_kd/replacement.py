"""Module replacement (progressive distillation) of SPD (Huang, Xu, Yen et al., ACL 2022).

The encoder holds two stacks, both initialised from the fine-tuned teacher: frozen dense
"predecessor" layers and trainable sparse "successor" (student) layers. In training, each
position :math:`i` independently runs the student layer with probability :math:`p` (the
replacement rate) and the frozen teacher layer otherwise (BERT-of-Theseus with compression
ratio 1); in evaluation only student layers run. Raising :math:`p` to 1 hands the network
over to the pure sparse stack.

The draws are a function of ``(seed, step)`` alone, so a resumed run makes the same choices
as an uninterrupted one without any generator state in the checkpoint.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from leanml.core import ParameterError

from .capture import encoder_layers

__all__ = ["ModuleReplacement", "ReplacementLayer", "ReplacementSchedule"]


def _check_rate(p: float, what: str = "replacement rate") -> float:
    try:
        v = float(p)
    except (TypeError, ValueError):
        raise ParameterError(f"{what} must be a number in [0, 1], got {p!r}") from None
    if not 0.0 <= v <= 1.0:  # NaN fails too
        raise ParameterError(f"{what} must be in [0, 1], got {p}")
    return v


@dataclass(frozen=True)
class ReplacementSchedule:
    r"""Replacement rate :math:`p(t)`: constant, then linear to 1, then exactly 1.

    .. math::
        p(t) = \begin{cases} p_0 & t < t_r \\
        p_0 + (1 - p_0)\frac{t - t_r}{t_1 - t_r} & t_r \le t < t_1 \\
        1 & t \ge t_1 \end{cases}

    :math:`p(t_1) = 1` holds exactly (a branch, not a floating-point sum), so the schedule
    provably hands over to the pure student at step :math:`t_1`.

    Parameters
    ----------
    rate
        :math:`p_0` in ``[0, 1]`` (SPD's ``--replacing_rate``, 0.8 in its README).
    full_step
        :math:`t_1`: first step (optimiser steps taken) with :math:`p = 1`; ``None`` keeps
        :math:`p_0` for ever (what the original's ``linear`` scheduler with ``k = 0`` does).
    ramp_start
        :math:`t_r \le t_1`: last step at :math:`p_0` before the linear rise.
    """

    rate: float
    full_step: int | None = None
    ramp_start: int = 0

    def __post_init__(self) -> None:
        _check_rate(self.rate)
        if self.ramp_start < 0:
            raise ParameterError(f"ramp_start must be >= 0, got {self.ramp_start}")
        if self.full_step is not None and self.full_step < self.ramp_start:
            raise ParameterError(
                f"full_step {self.full_step} comes before ramp_start {self.ramp_start}"
            )

    @classmethod
    def linear_k(cls, rate: float, k: float) -> ReplacementSchedule:
        """The original code's ``linear`` scheduler, :math:`p(t) = \\min(1, kt + p_0)`.

        With ``k = 0`` (its default, used by its README) :math:`p` never reaches 1.
        """
        _check_rate(rate)
        if not k >= 0:
            raise ParameterError(f"k must be >= 0, got {k}")
        if rate == 1.0:
            return cls(rate, 0)
        return cls(rate, None if k == 0 else math.ceil((1.0 - rate) / k))

    def __call__(self, step: int) -> float:
        """:math:`p` in force for the optimiser step ``step`` (0-based)."""
        if self.rate == 1.0 or (self.full_step is not None and step >= self.full_step):
            return 1.0
        if self.full_step is None or step < self.ramp_start:
            return self.rate
        frac = (step - self.ramp_start) / (self.full_step - self.ramp_start)
        return self.rate + (1.0 - self.rate) * frac

    def check_reaches_one(self, total_steps: int) -> None:
        """Raise :class:`ParameterError` unless :math:`p = 1` by ``total_steps - 1``."""
        if self.rate == 1.0:
            return
        if self.full_step is None:
            raise ParameterError(
                f"the replacement rate stays at {self.rate} and never reaches 1, so the pure "
                "sparse student is never trained on its own; give a step where p = 1"
            )
        if self.full_step > total_steps - 1:
            raise ParameterError(
                f"the replacement rate reaches 1 at step {self.full_step}, but training has "
                f"only {total_steps} steps (0..{total_steps - 1})"
            )


class ReplacementLayer(nn.Module):
    """One encoder position: a trainable student layer and a frozen teacher layer.

    Parameters
    ----------
    student
        The successor layer (trained, pruned).
    teacher
        The predecessor layer (frozen: ``requires_grad=False``).
    frozen_dropout
        Whether the frozen layer's dropout is active in training. Default ``False``: the
        frozen layer is the fixed teacher function (run in eval mode), so a position that
        keeps it passes on exactly the teacher's map, and its dropout noise -- which the
        original code leaves on as a side effect of ``model.train()`` -- does not blur the
        signal the student layers learn from. The student layers keep their dropout.
    """

    def __init__(self, student: nn.Module, teacher: nn.Module, frozen_dropout: bool = False):
        super().__init__()
        self.student = student
        self.teacher = teacher
        self.frozen_dropout = bool(frozen_dropout)
        self.use_student = True
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> ReplacementLayer:
        """Set training mode; the frozen layer trains only with ``frozen_dropout``."""
        self.training = mode
        self.student.train(mode)
        self.teacher.train(mode and self.frozen_dropout)
        return self

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the student layer in evaluation, the drawn one in training."""
        if self.training and not self.use_student:
            return self.teacher(*args, **kwargs)
        return self.student(*args, **kwargs)


class ModuleReplacement:
    """Installs and drives the two-stack encoder of SPD on a BERT-family model.

    ``student`` is modified in place: each ``encoder.layer[i]`` becomes a
    :class:`ReplacementLayer` around the original layer (the student) and ``teacher_layers[i]``
    (deep-copied, frozen). Only student-layer parameters keep ``requires_grad``; embeddings,
    pooler and classifier are frozen, as in the original code. :meth:`unwrap` restores a
    plain model made of the student layers.

    Parameters
    ----------
    student
        The model whose encoder layers are the students (SPD: a copy of the fine-tuned
        teacher).
    teacher_layers
        The frozen predecessors, one per student layer (SPD: the fine-tuned teacher's).
    schedule
        The replacement rate per step.
    seed
        Seeds the per-step, per-position draws.
    frozen_dropout
        See :class:`ReplacementLayer`.
    """

    def __init__(
        self,
        student: nn.Module,
        teacher_layers: Sequence[nn.Module],
        schedule: ReplacementSchedule,
        seed: int = 0,
        frozen_dropout: bool = False,
    ) -> None:
        layers = encoder_layers(student)
        if any(isinstance(m, ReplacementLayer) for m in layers):
            raise ParameterError("the model already has replacement layers")
        if len(teacher_layers) != len(layers):
            raise ParameterError(
                f"module replacement needs one teacher layer per student layer: the student "
                f"has {len(layers)} layers, the teacher {len(teacher_layers)}"
            )
        for i, (s, t) in enumerate(zip(layers, teacher_layers, strict=True)):
            s_shapes = [tuple(p.shape) for p in s.parameters()]
            t_shapes = [tuple(p.shape) for p in t.parameters()]
            if s_shapes != t_shapes:
                raise ParameterError(f"teacher layer {i} does not have the student layer's shapes")
        self.model = student
        self.schedule = schedule
        self.seed = int(seed)
        self.rate = schedule(0)
        for p in student.parameters():
            p.requires_grad_(False)
        for s in layers:
            for p in s.parameters():
                p.requires_grad_(True)
        self.layers = [
            ReplacementLayer(s, copy.deepcopy(t), frozen_dropout)
            for s, t in zip(layers, teacher_layers, strict=True)
        ]
        for i, wrapped in enumerate(self.layers):
            layers[i] = wrapped
        self.layers_list = layers
        student.train(student.training)

    def draw(self, step: int) -> list[bool]:
        """Set :math:`p` for ``step`` and draw which positions run their student layer."""
        self.rate = self.schedule(step)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + int(step))
        u = torch.rand(len(self.layers), generator=g, dtype=torch.float64)
        choice = [bool(x < self.rate) for x in u]
        for layer, c in zip(self.layers, choice, strict=True):
            layer.use_student = c
        return choice

    def before_step(self, step: int) -> dict[str, float]:
        """For :func:`~leanml.prune_kd.training.train`: draw, and return what to log."""
        choice = self.draw(step)
        return {"replacement_rate": self.rate, "student_layers": float(sum(choice))}

    def unwrap(self) -> nn.Module:
        """Put the student layers back as the plain encoder; returns the model."""
        for i, wrapped in enumerate(self.layers):
            self.layers_list[i] = wrapped.student
        return self.model
