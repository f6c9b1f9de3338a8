"""The three stages of Sparse Progressive Distillation (Huang, Xu, Yen et al., ACL 2022).

With :math:`N` optimiser steps, :math:`T_1` = ``round(stage1_fraction * N)`` and
:math:`t_1` = ``round(full_fraction * N)``:

=========  ===================  =====================  ==========================  ========
stage      steps                sparsity               replacement rate p          LR
=========  ===================  =====================  ==========================  ========
I          :math:`[0, T_1)`     cubic ramp to s_f      :math:`p_0`                 linear
                                                                                   decay
II         :math:`[T_1, t_1)`   s_f (fixed)            linear :math:`p_0 \\to 1`    restart,
                                                                                   linear
III        :math:`[t_1, N)`     s_f (fixed)            exactly 1 (pure student)    decay
=========  ===================  =====================  ==========================  ========

The original code restarts the LR at the stage boundary the same way (two linear
schedulers, 30 + 30 epochs); its README's replacement setting (``linear`` with ``k = 0``)
keeps :math:`p = 0.8` throughout, so its pure sparse student is never trained alone. Here
:math:`p` provably reaches 1 at :math:`t_1` and is logged per step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from leanml.core import ParameterError

from .replacement import ReplacementSchedule, _check_rate
from .schedule import CubicSchedule

__all__ = ["SPDConfig", "SPDStages", "staged_lr"]


@dataclass
class SPDConfig:
    """Settings of module replacement and the three stages.

    Parameters
    ----------
    replacement_rate
        :math:`p_0` in ``[0, 1]``: probability that a position runs its student layer in
        stage I (SPD README: 0.8).
    stage1_fraction
        :math:`T_1 / N`: share of steps of stage I (prune + progressive KD; SPD: 30 of 60
        epochs). The cubic ramp spans stage I; ``PruneConfig.prune_fraction`` is not used.
    full_fraction
        :math:`t_1 / N`: where :math:`p` reaches 1, in ``[stage1_fraction, 1)``.
    frozen_dropout
        Dropout in the frozen teacher layers during training (default off; see
        :class:`~leanml.prune_kd.replacement.ReplacementLayer`).
    """

    replacement_rate: float = 0.8
    stage1_fraction: float = 0.5
    full_fraction: float = 0.75
    frozen_dropout: bool = False

    def __post_init__(self) -> None:
        _check_rate(self.replacement_rate)
        if not 0.0 < self.stage1_fraction < 1.0:
            raise ParameterError(f"stage1_fraction must be in (0, 1), got {self.stage1_fraction}")
        if not self.stage1_fraction <= self.full_fraction < 1.0:
            raise ParameterError(
                f"full_fraction must be in [stage1_fraction={self.stage1_fraction}, 1) so that "
                f"p reaches 1 before training ends, got {self.full_fraction}"
            )

    def stages(self, total_steps: int, sparsity: float, n_updates: int) -> SPDStages:
        """The step boundaries and schedules of a run of ``total_steps``."""
        if total_steps < 3:
            raise ParameterError(f"spd needs at least 3 training steps, got {total_steps}")
        t1 = min(total_steps - 2, max(1, round(self.stage1_fraction * total_steps)))
        full = min(total_steps - 1, max(t1, round(self.full_fraction * total_steps)))
        cubic = CubicSchedule(sparsity, t1, min(n_updates, t1))
        replace = ReplacementSchedule(self.replacement_rate, full, ramp_start=t1)
        replace.check_reaches_one(total_steps)
        return SPDStages(total_steps, t1, full, cubic, replace)


@dataclass(frozen=True)
class SPDStages:
    """Boundaries of one run: stage I is ``[0, boundary)``, p = 1 from ``full_step``."""

    total_steps: int
    boundary: int
    full_step: int
    cubic: CubicSchedule
    replacement: ReplacementSchedule

    def lr_lambda(self) -> Callable[[int], float]:
        """The staged LR multiplier (see :func:`staged_lr`)."""
        return staged_lr(self.total_steps, self.boundary)


def staged_lr(total_steps: int, boundary: int) -> Callable[[int], float]:
    """LR multiplier: linear decay 1 -> 0 over ``[0, boundary)``, restart at 1 on step
    ``boundary``, linear decay to 0 at ``total_steps`` (no warm-up, as in SPD's code)."""
    if not 0 < boundary < total_steps:
        raise ParameterError(f"stage boundary {boundary} must be inside (0, {total_steps})")

    def f(step: int) -> float:
        if step < boundary:
            return (boundary - step) / boundary
        return max(0.0, (total_steps - step) / (total_steps - boundary))

    return f
