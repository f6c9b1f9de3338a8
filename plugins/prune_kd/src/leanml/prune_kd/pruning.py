"""Per-matrix (local) unstructured magnitude pruning with masks on weights and gradients."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from leanml.core import InputError, ParameterError

from .patterns import compile_patterns, matches
from .schedule import CubicSchedule

__all__ = [
    "MagnitudePruner",
    "SparsityReport",
    "find_targets",
    "magnitude_mask",
    "sparsity_report",
    "torch_prune_oneshot",
    "torch_prune_remove",
]


def find_targets(model: nn.Module, patterns: str | Sequence[str] | None = None) -> dict[str, Any]:
    """Parameters of ``model`` to prune: 2-D weights whose names match ``patterns``.

    Parameters
    ----------
    model
        A Hugging Face BERT model (or anything with named parameters).
    patterns
        See :func:`leanml.prune_kd.patterns.compile_patterns`.

    Raises
    ------
    ParameterError
        A pattern matches no 2-D parameter (a typo would otherwise prune nothing silently).
    """
    compiled = compile_patterns(patterns)
    named = dict(model.named_parameters())
    out = {}
    for pat in compiled:
        hits = [n for n, p in named.items() if pat.search(n) and p.dim() == 2]
        if not hits:
            raise ParameterError(
                f"pruning pattern {pat.pattern!r} matches no 2-D parameter of "
                f"{type(model).__name__} (e.g. {next(iter(named), '')!r})"
            )
    for n, p in named.items():
        if p.dim() == 2 and matches(n, compiled):
            out[n] = p
    return out


def magnitude_mask(
    weight: torch.Tensor, sparsity: float, previous: torch.Tensor | None = None
) -> torch.Tensor:
    """Keep-mask zeroing the ``round(sparsity * numel)`` smallest ``|w|`` of one matrix.

    Ties are broken by flat index (lower index pruned first), so the result is deterministic
    and the count exact. Entries already pruned in ``previous`` rank below every live one,
    so they stay pruned (no regrowth), as ranking ``|w * mask|`` does in both papers.

    Parameters
    ----------
    weight
        The weight matrix :math:`W`.
    sparsity
        Target fraction of zeros in ``[0, 1)``.
    previous
        Boolean keep-mask from the last update, or ``None``.

    Returns
    -------
    Boolean tensor shaped like ``weight``: ``True`` = kept.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ParameterError(f"sparsity must be in [0, 1), got {sparsity}")
    w = weight.detach()
    if not torch.isfinite(w).all():
        raise InputError("cannot prune a weight matrix holding NaN or inf")
    n = w.numel()
    score = w.abs().flatten().to(torch.float64)
    n_prune = round(sparsity * n)
    if previous is not None:
        prev = previous.flatten()
        score[~prev] = -1.0
        n_prune = max(n_prune, int((~prev).sum()))
    order = torch.sort(score, stable=True).indices
    keep = torch.ones(n, dtype=torch.bool)
    keep[order[:n_prune]] = False
    return keep.view_as(w)


class MagnitudePruner:
    """Masks for the targeted matrices of a model, updated on a :class:`CubicSchedule`.

    Call :meth:`step` before each optimiser step with the number of steps already taken
    (and once more after the last one), and :meth:`apply` after each optimiser step:
    AdamW's moments and weight decay would otherwise move pruned weights off zero. With
    :meth:`attach` the gradients of pruned entries are zeroed as well.

    Parameters
    ----------
    model
        The student; its targeted parameters are masked in place.
    schedule
        When and to what sparsity to prune; ``None`` for manual :meth:`prune_to`.
    patterns
        Which weights; see :func:`find_targets`.
    """

    def __init__(
        self,
        model: nn.Module,
        schedule: CubicSchedule | None = None,
        patterns: str | Sequence[str] | None = None,
    ) -> None:
        self.targets = find_targets(model, patterns)
        self.schedule = schedule
        self.masks = {n: torch.ones_like(p, dtype=torch.bool) for n, p in self.targets.items()}
        self.sparsity = 0.0
        self.n_updates = 0
        self._handles: list[Any] = []

    def prune_to(self, sparsity: float) -> None:
        """Recompute every mask at ``sparsity`` (never un-pruning) and apply it."""
        for name, p in self.targets.items():
            self.masks[name] = magnitude_mask(p, sparsity, self.masks[name])
        self.sparsity = float(sparsity)
        self.n_updates += 1
        self.apply()

    def step(self, steps_taken: int) -> bool:
        """Update masks if ``steps_taken`` is one of the schedule's update steps."""
        if self.schedule is None or steps_taken not in self.schedule.update_steps:
            return False
        k = self.schedule.update_steps.index(steps_taken) + 1
        self.prune_to(self.schedule.sparsity_of_update(k))
        return True

    @torch.no_grad()
    def apply(self) -> None:
        """Zero the pruned entries of every targeted weight."""
        for name, p in self.targets.items():
            p.mul_(self.masks[name])

    def attach(self) -> MagnitudePruner:
        """Register gradient hooks that zero the gradients of pruned entries."""
        self.detach()
        for name, p in self.targets.items():
            self._handles.append(p.register_hook(lambda g, n=name: g * self.masks[n]))
        return self

    def detach(self) -> None:
        """Remove the gradient hooks."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def state_dict(self) -> dict[str, Any]:
        """Masks and counters, for checkpoints."""
        return {
            "masks": {n: m.clone() for n, m in self.masks.items()},
            "sparsity": self.sparsity,
            "n_updates": self.n_updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output and re-apply the masks."""
        if set(state["masks"]) != set(self.masks):
            raise InputError("checkpoint masks do not match this model's pruned matrices")
        self.masks = {n: m.clone().to(torch.bool) for n, m in state["masks"].items()}
        self.sparsity = float(state["sparsity"])
        self.n_updates = int(state["n_updates"])
        self.apply()


@dataclass
class SparsityReport:
    """Fraction of exact zeros, counted three ways (they differ; say which one you quote).

    Attributes
    ----------
    per_matrix
        Name -> sparsity of each targeted matrix.
    encoder_linear
        Zeros over all entries of the targeted matrices (the papers' "90%").
    whole_model
        Zeros over every parameter, embeddings and classifier included.
    n_targeted, n_params, nonzero_targeted, nonzero_params
        The counts behind them.
    """

    per_matrix: dict[str, float] = field(default_factory=dict)
    encoder_linear: float = 0.0
    whole_model: float = 0.0
    n_targeted: int = 0
    n_params: int = 0
    nonzero_targeted: int = 0
    nonzero_params: int = 0

    def summary(self) -> dict[str, float | int]:
        """The scalar fields, for tables and JSON."""
        return {
            "encoder_linear_sparsity": self.encoder_linear,
            "whole_model_sparsity": self.whole_model,
            "min_matrix_sparsity": min(self.per_matrix.values(), default=0.0),
            "max_matrix_sparsity": max(self.per_matrix.values(), default=0.0),
            "nonzero_encoder_linear": self.nonzero_targeted,
            "nonzero_params": self.nonzero_params,
        }


@torch.no_grad()
def sparsity_report(
    model: nn.Module, patterns: str | Sequence[str] | None = None
) -> SparsityReport:
    """Per-matrix, encoder-linear and whole-model sparsity of ``model``."""
    compiled = compile_patterns(patterns)
    rep = SparsityReport()
    for name, p in _effective_parameters(model):
        nz = int(torch.count_nonzero(p))
        rep.n_params += p.numel()
        rep.nonzero_params += nz
        if p.dim() == 2 and matches(name, compiled):
            rep.per_matrix[name] = 1.0 - nz / p.numel()
            rep.n_targeted += p.numel()
            rep.nonzero_targeted += nz
    if rep.n_targeted == 0:
        raise ParameterError("the pruning patterns match no 2-D parameter of this model")
    rep.encoder_linear = 1.0 - rep.nonzero_targeted / rep.n_targeted
    rep.whole_model = 1.0 - rep.nonzero_params / rep.n_params
    return rep


def _effective_parameters(model: nn.Module):
    """Named parameters, with ``torch.nn.utils.prune``'s ``weight_orig`` read as ``weight``."""
    for mod_name, mod in model.named_modules():
        for pname, p in mod.named_parameters(recurse=False):
            full = f"{mod_name}.{pname}" if mod_name else pname
            if pname.endswith("_orig"):
                base = pname[: -len("_orig")]
                yield full[: -len("_orig")], getattr(mod, base)
            else:
                yield full, p
        for bname, b in getattr(mod, "_sparse_weights", {}).items():  # SparseLinear
            yield f"{mod_name}.{bname}", b.to_dense()
            bias = getattr(mod, "bias", None)
            if bias is not None:
                yield f"{mod_name}.bias", bias


def _module_of(model: nn.Module, param_name: str) -> tuple[nn.Module, str]:
    mod_name, _, attr = param_name.rpartition(".")
    return model.get_submodule(mod_name), attr


def torch_prune_oneshot(
    model: nn.Module, sparsity: float, patterns: str | Sequence[str] | None = None
) -> list[str]:
    """The peer: ``torch.nn.utils.prune.l1_unstructured`` on every targeted matrix, one shot.

    The pruning re-parametrisation (``weight = weight_orig * weight_mask``) stays in place,
    so fine-tuning afterwards keeps the zeros, as a user of that API would do it; call
    :func:`torch_prune_remove` to make it permanent. Returns the pruned parameter names.
    """
    from torch.nn.utils import prune

    if not 0.0 <= sparsity < 1.0:
        raise ParameterError(f"sparsity must be in [0, 1), got {sparsity}")
    names = list(find_targets(model, patterns))
    for name in names:
        mod, attr = _module_of(model, name)
        prune.l1_unstructured(mod, attr, amount=sparsity)
    return names


def torch_prune_remove(model: nn.Module, names: Sequence[str]) -> None:
    """``torch.nn.utils.prune.remove`` on each name pruned by :func:`torch_prune_oneshot`."""
    from torch.nn.utils import prune

    for name in names:
        mod, attr = _module_of(model, name)
        prune.remove(mod, attr)
