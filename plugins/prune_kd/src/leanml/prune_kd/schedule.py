"""The cubic sparsity schedule of Zhu & Gupta (2017) with exactly ``n_updates`` mask updates."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from leanml.core import ParameterError

__all__ = ["CubicSchedule"]


@dataclass(frozen=True)
class CubicSchedule:
    r"""Sparsity :math:`s_k = s_f + (s_i - s_f)(1 - k/K)^3` at the ``k``-th of ``K`` updates.

    Update ``k`` (``k = 1..K``) happens once ``t_0 + \lfloor kT/K \rfloor`` optimiser steps
    have been taken, so the last update lands on ``t_0 + T`` and sets exactly :math:`s_f`
    (the original code's strict ``t < t_0 + T`` skips it when ``T`` is a multiple of the
    update interval, ending at :math:`s_f(1 - 1/K^3)`).

    Parameters
    ----------
    final_sparsity
        :math:`s_f` in ``[0, 1)``: fraction of each targeted matrix set to zero.
    prune_steps
        :math:`T`: optimiser steps over which the ramp runs (SparseBERT: all of training).
    n_updates
        :math:`K`: number of mask updates (SparseBERT ~100, SPD ~12), ``1 <= K <= T``.
    start_step
        :math:`t_0`: steps before the ramp starts.
    initial_sparsity
        :math:`s_i`, in force before the first update (0 in both papers).
    """

    final_sparsity: float
    prune_steps: int
    n_updates: int = 10
    start_step: int = 0
    initial_sparsity: float = 0.0

    def __post_init__(self) -> None:
        s_i, s_f = self.initial_sparsity, self.final_sparsity
        if not 0.0 <= s_f < 1.0:
            raise ParameterError(f"sparsity must be in [0, 1), got {s_f}")
        if not 0.0 <= s_i <= s_f:
            raise ParameterError(f"initial sparsity must be in [0, {s_f}], got {s_i}")
        if int(self.prune_steps) != self.prune_steps or self.prune_steps < 1:
            raise ParameterError(f"prune_steps must be a positive integer, got {self.prune_steps}")
        if int(self.n_updates) != self.n_updates or self.n_updates < 1:
            raise ParameterError(f"n_updates must be a positive integer, got {self.n_updates}")
        if self.n_updates > self.prune_steps:
            raise ParameterError(
                f"{self.n_updates} mask updates need at least as many prune steps, "
                f"got {self.prune_steps}"
            )
        if self.start_step < 0:
            raise ParameterError(f"start_step must be >= 0, got {self.start_step}")

    @cached_property
    def update_steps(self) -> tuple[int, ...]:
        """Steps (optimiser steps taken) at which masks are recomputed, strictly increasing."""
        K, T = self.n_updates, self.prune_steps
        return tuple(self.start_step + (k * T) // K for k in range(1, K + 1))

    @property
    def end_step(self) -> int:
        """The step of the last update, ``t_0 + T``."""
        return self.start_step + self.prune_steps

    def sparsity_of_update(self, k: int) -> float:
        """:math:`s_k` for ``k = 0..K`` (``k = 0``: :math:`s_i`; ``k = K``: exactly :math:`s_f`)."""
        K = self.n_updates
        if not 0 <= k <= K:
            raise ParameterError(f"update index must be in [0, {K}], got {k}")
        if k == K:
            return float(self.final_sparsity)
        s_i, s_f = self.initial_sparsity, self.final_sparsity
        return float(s_f + (s_i - s_f) * (1.0 - k / K) ** 3)

    def updates_done(self, step: int) -> int:
        """Number of updates made once ``step`` optimiser steps have been taken."""
        return sum(1 for t in self.update_steps if t <= step)

    def sparsity_at(self, step: int) -> float:
        """Target sparsity in force after ``step`` optimiser steps."""
        return self.sparsity_of_update(self.updates_done(step))

    def check_total(self, total_steps: int) -> None:
        """Raise :class:`ParameterError` if the ramp does not end within ``total_steps``."""
        if self.end_step > total_steps:
            raise ParameterError(
                f"pruning ends at step {self.end_step} (start {self.start_step} + "
                f"{self.prune_steps} prune steps) but training has only {total_steps} steps"
            )
