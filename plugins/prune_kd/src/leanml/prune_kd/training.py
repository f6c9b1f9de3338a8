"""One training loop for every method: seeds, progress, JSON log, checkpoint and resume.

Resuming is bit-for-bit: the data order of epoch ``e`` comes from a generator seeded with
``(seed, e)``, and a checkpoint (taken between optimiser steps) holds the model, optimiser,
LR scheduler, pruning masks, extra modules (projections) and the global torch RNG state
that dropout draws from. A run killed after its last checkpoint and resumed ends with the
same weights as an uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from leanml.core import InputError, LeanmlError, ParameterError

from .pruning import MagnitudePruner

__all__ = [
    "DivergenceError",
    "EncodedData",
    "TrainConfig",
    "TrainResult",
    "distributed",
    "evaluate",
    "predict_logits",
    "train",
]

LossFn = Callable[[nn.Module, dict[str, torch.Tensor]], dict[str, torch.Tensor]]


class DivergenceError(LeanmlError):
    """The loss became NaN or infinite (lower the learning rate)."""


@dataclass
class EncodedData:
    """Tokenised examples: ``input_ids``, ``attention_mask`` ``(n, seq)``, ``labels`` and,
    for sentence pairs, ``token_type_ids``.

    ``labels`` are class indices (``int64``) or regression targets (``float32``).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor | None = None
    token_type_ids: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.input_ids.dim() != 2 or self.input_ids.shape != self.attention_mask.shape:
            raise InputError(
                f"input_ids {tuple(self.input_ids.shape)} and attention_mask "
                f"{tuple(self.attention_mask.shape)} must be equal 2-D shapes"
            )
        if len(self.input_ids) == 0:
            raise InputError("no examples")
        if self.labels is not None and len(self.labels) != len(self.input_ids):
            raise InputError(f"{len(self.labels)} labels for {len(self.input_ids)} examples")

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """Rows ``idx`` as model keyword arguments (trimmed to the longest real sequence)."""
        mask = self.attention_mask[idx]
        width = max(1, int(mask.sum(1).max()))
        out = {"input_ids": self.input_ids[idx, :width], "attention_mask": mask[:, :width]}
        if self.token_type_ids is not None:
            out["token_type_ids"] = self.token_type_ids[idx, :width]
        if self.labels is not None:
            out["labels"] = self.labels[idx]
        return out

    def subset(self, idx: Sequence[int] | torch.Tensor) -> EncodedData:
        """The rows ``idx``."""
        idx = torch.as_tensor(idx, dtype=torch.long)
        labels = None if self.labels is None else self.labels[idx]
        types = None if self.token_type_ids is None else self.token_type_ids[idx]
        return EncodedData(self.input_ids[idx], self.attention_mask[idx], labels, types)

    def check_labels(self, num_labels: int) -> None:
        """Raise :class:`InputError` for labels outside ``[0, num_labels)`` (classification)."""
        if self.labels is None:
            raise InputError("training data have no labels")
        if num_labels > 1:
            y = self.labels
            if y.dtype.is_floating_point or (y.numel() and (y.min() < 0 or y.max() >= num_labels)):
                raise InputError(
                    f"labels must be integers in [0, {num_labels}) for a {num_labels}-class "
                    f"model, got range [{y.min().item()}, {y.max().item()}]"
                )
        elif not torch.isfinite(self.labels.float()).all():
            raise InputError("regression targets hold NaN or inf")


@dataclass
class TrainConfig:
    """Optimisation settings shared by every method.

    Parameters
    ----------
    epochs
        Passes over the training data.
    batch_size
        Examples per optimiser step (the last, smaller batch of an epoch is kept).
    lr
        AdamW learning rate (SparseBERT: 3e-5 for BERT-base, constant).
    weight_decay
        AdamW decoupled weight decay (SparseBERT: 0.01).
    lr_schedule
        ``"constant"`` (SparseBERT) or ``"linear"`` decay to 0.
    warmup_steps
        Linear warm-up steps.
    max_grad_norm
        Gradient clipping norm, or ``None``.
    seed
        Seeds the model's dropout and the data order.
    log_every
        Optimiser steps per JSON log record.
    eval_every
        Steps between dev evaluations (``None``: once per epoch).
    checkpoint_every
        Steps between checkpoints (``None``: only at the end).
    """

    epochs: int = 3
    batch_size: int = 32
    lr: float = 3e-5
    weight_decay: float = 0.01
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    max_grad_norm: float | None = 1.0
    seed: int = 0
    log_every: int = 10
    eval_every: int | None = None
    checkpoint_every: int | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ParameterError("epochs and batch_size must be >= 1")
        if not self.lr > 0 or self.weight_decay < 0:
            raise ParameterError(
                f"need lr > 0 and weight_decay >= 0, got {self.lr}, {self.weight_decay}"
            )
        if self.lr_schedule not in ("constant", "linear"):
            raise ParameterError(
                f"lr_schedule must be constant or linear, got {self.lr_schedule!r}"
            )
        for name in ("log_every", "eval_every", "checkpoint_every"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ParameterError(f"{name} must be >= 1, got {v}")

    def steps_per_epoch(self, n: int) -> int:
        """Optimiser steps in one epoch of ``n`` examples."""
        return math.ceil(n / self.batch_size)

    def total_steps(self, n: int) -> int:
        """Optimiser steps of the whole run."""
        return self.epochs * self.steps_per_epoch(n)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    history
        Dev evaluations: ``{"step", "epoch", "dev_accuracy" | "dev_mse", "sparsity"}``.
    log
        The JSON log records (also appended to ``log_path``).
    steps
        Optimiser steps taken in total (including before a resume).
    seconds
        Wall time of this call.
    resumed_from
        Step the run resumed from, or ``None``.
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    resumed_from: int | None = None


class _Interrupted(Exception):
    """Raised by ``stop_after`` to simulate a killed run (tests)."""


@torch.no_grad()
def predict_logits(model: nn.Module, data: EncodedData, batch_size: int = 64) -> torch.Tensor:
    """Logits of ``model`` (in eval mode) on every example of ``data``."""
    was = model.training
    model.eval()
    out = []
    for start in range(0, len(data), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(data)))
        b = data.batch(idx)
        b.pop("labels", None)
        out.append(model(**b).logits)
    model.train(was)
    return torch.cat(out)


def evaluate(model: nn.Module, data: EncodedData, batch_size: int = 64) -> dict[str, float]:
    """Accuracy (classification) or MSE (``num_labels == 1``) of ``model`` on ``data``."""
    logits = predict_logits(model, data, batch_size)
    if data.labels is None:
        raise InputError("evaluation data have no labels")
    if logits.shape[-1] == 1:
        return {"mse": float(((logits.view(-1) - data.labels.float()) ** 2).mean())}
    return {"accuracy": float((logits.argmax(-1) == data.labels).float().mean())}


def _lr_lambda(config: TrainConfig, total: int) -> Callable[[int], float]:
    def f(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / (config.warmup_steps + 1)
        if config.lr_schedule == "linear":
            return max(0.0, (total - step) / max(1, total - config.warmup_steps))
        return 1.0

    return f


def _order(config: TrainConfig, n: int, epoch: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


def distributed() -> tuple[int, int]:
    """``(rank, world_size)`` of an initialised ``torch.distributed`` group, else ``(0, 1)``."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _save(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(
    model: nn.Module,
    data: EncodedData,
    loss_fn: LossFn,
    config: TrainConfig,
    *,
    pruner: MagnitudePruner | None = None,
    extra_modules: Iterable[nn.Module] = (),
    dev: EncodedData | None = None,
    checkpoint_dir: str | Path | None = None,
    log_path: str | Path | None = None,
    progress: Callable[..., Any] | None = None,
    description: str = "training",
    stop_after: int | None = None,
    lr_lambda: Callable[[int], float] | None = None,
    before_step: Callable[[int], dict[str, float] | None] | None = None,
) -> TrainResult:
    """Train ``model`` on ``data`` minimising ``loss_fn``, pruning on ``pruner``'s schedule.

    Parameters
    ----------
    model
        The student (trained in place).
    data
        Training examples with labels.
    loss_fn
        ``loss_fn(model, batch) -> {"loss": scalar, other terms...}``.
    config
        Optimisation settings.
    pruner
        Masks updated before the steps its schedule names and re-applied after every step;
        its schedule must end within the run. A last update runs after the final step.
    extra_modules
        Trained along with ``model`` (e.g. the distillation projection).
    dev
        Evaluated every ``config.eval_every`` steps (default: each epoch) and at the end.
    checkpoint_dir
        Where ``checkpoint.pt`` is written every ``config.checkpoint_every`` steps and at
        the end; an existing checkpoint there is resumed from.
    log_path
        JSON-lines log: one record per ``config.log_every`` steps and per evaluation.
    progress
        ``progress(iterable, description)`` (e.g. :func:`leanml.core.console.progress`).
    stop_after
        Stop (as if killed, without a final checkpoint) after this many total steps.
    lr_lambda
        Multiplier of ``config.lr`` per step, replacing ``config.lr_schedule`` (e.g. a
        staged schedule that restarts the learning rate).
    before_step
        Called with the step index before each step (after the pruner); the numbers it
        returns are logged per step (``"event": "step"`` records, with the step's LR) and
        averaged in the block records (e.g. a replacement rate it sets).
    """
    extra = [m for m in extra_modules]
    n = len(data)
    num_labels = int(getattr(getattr(model, "config", None), "num_labels", 2))
    if data.labels is not None:
        data.check_labels(num_labels)
    if dev is not None:
        dev.check_labels(num_labels)
    spe = config.steps_per_epoch(n)
    total = config.total_steps(n)
    if pruner is not None and pruner.schedule is not None:
        pruner.schedule.check_total(total)
    params = [p for m in [model, *extra] for p in m.parameters() if p.requires_grad]
    if not params:
        raise ParameterError("nothing to train: no parameter requires a gradient")
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda or _lr_lambda(config, total))
    result = TrainResult()
    ckpt = Path(checkpoint_dir) / "checkpoint.pt" if checkpoint_dir is not None else None
    start = 0
    torch.manual_seed(config.seed)
    if ckpt is not None and ckpt.is_file():
        state = torch.load(ckpt, weights_only=True)
        if state["config"] != asdict(config):
            raise ParameterError(
                f"{ckpt} was written with other training settings; use a new checkpoint dir"
            )
        model.load_state_dict(state["model"])
        for m, s in zip(extra, state["extra"], strict=True):
            m.load_state_dict(s)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if pruner is not None:
            pruner.load_state_dict(state["pruner"])
        torch.set_rng_state(state["rng"])
        result.history = list(state["history"])
        start = result.resumed_from = int(state["step"])
    rank, world = distributed()
    if world > 1 and config.batch_size % world:
        raise ParameterError(
            f"batch_size {config.batch_size} is not divisible by the {world} processes"
        )
    # Under torchrun, every process takes its share of each global batch and DDP averages
    # the gradients; rank 0 alone writes logs and checkpoints.
    fwd_model = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        from .replacement import ReplacementLayer

        # module replacement leaves the layers it did not draw out of the graph
        partial = any(isinstance(m, ReplacementLayer) for m in model.modules())
        fwd_model = DistributedDataParallel(model, find_unused_parameters=partial)
    if rank != 0:
        log_path = None
    log_file = open(log_path, "a") if log_path is not None else None

    def record(rec: dict[str, Any]) -> None:
        result.log.append(rec)
        if log_file is not None:
            log_file.write(json.dumps(rec) + "\n")
            log_file.flush()

    def checkpoint(step: int) -> None:
        if ckpt is None or rank != 0:
            return
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        _save(
            ckpt,
            {
                "step": step,
                "config": asdict(config),
                "model": model.state_dict(),
                "extra": [m.state_dict() for m in extra],
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "pruner": pruner.state_dict() if pruner is not None else None,
                "rng": torch.get_rng_state(),
                "history": result.history,
            },
        )

    def dev_eval(step: int) -> None:
        if dev is None:
            return
        scores = evaluate(model, dev)
        rec = {"step": step, "epoch": step / spe, **{f"dev_{k}": v for k, v in scores.items()}}
        if pruner is not None:
            rec["sparsity"] = pruner.sparsity
        result.history.append(rec)
        record({"event": "eval", **rec})

    if pruner is not None:
        pruner.attach()
    t0 = time.perf_counter()
    eval_every = config.eval_every or spe
    block: dict[str, float] = {}
    block_n = 0
    steps = range(start, total)
    if progress is not None:
        steps = progress(steps, description)
    model.train()
    for m in extra:
        m.train()
    try:
        for step in steps:
            if stop_after is not None and step >= stop_after:
                raise _Interrupted
            if pruner is not None:
                pruner.step(step)
            extra_log = before_step(step) if before_step is not None else None
            epoch, pos = divmod(step, spe)
            idx = _order(config, n, epoch)[pos * config.batch_size : (pos + 1) * config.batch_size]
            if world > 1:  # a ragged last batch smaller than world: reuse its first example
                idx = idx[rank::world] if len(idx) > rank else idx[:1]
            terms = loss_fn(fwd_model, data.batch(idx))
            loss = terms["loss"]
            if not torch.isfinite(loss):
                raise DivergenceError(
                    f"loss is {loss.item()} at step {step}; lower the learning rate "
                    f"(now {sched.get_last_lr()[0]:.3g}) or check the data"
                )
            opt.zero_grad(set_to_none=True)
            # with module replacement a step may draw no trainable layer: nothing to learn,
            # and the optimiser step below then changes nothing (every gradient is None)
            if loss.requires_grad:
                loss.backward()
            if world > 1:  # DDP averaged the model's gradients; average the extra modules'
                for m in extra:
                    for p in m.parameters():
                        if p.grad is not None:
                            torch.distributed.all_reduce(p.grad)
                            p.grad /= world
            if config.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            lr_used = sched.get_last_lr()[0]
            opt.step()
            sched.step()
            if pruner is not None:
                pruner.apply()
            if extra_log:  # per step as well: a schedule's value is not a block average
                record({"event": "step", "step": step, "lr": lr_used, **extra_log})
            for k, v in {**terms, **(extra_log or {})}.items():
                block[k] = block.get(k, 0.0) + float(v.detach() if hasattr(v, "detach") else v)
            block_n += 1
            done = step + 1
            if done % config.log_every == 0 or done == total:
                rec = {"event": "train", "step": done, "epoch": done / spe}
                rec.update({k: v / block_n for k, v in block.items()})
                rec["lr"] = lr_used  # of the block's last step
                if pruner is not None:
                    rec["sparsity"] = pruner.sparsity
                record(rec)
                block, block_n = {}, 0
            if pruner is not None and done == total:
                pruner.step(done)  # the schedule's last update may fall on the last step
            if done % eval_every == 0 or done == total:
                dev_eval(done)
            if config.checkpoint_every and done % config.checkpoint_every == 0 and done < total:
                checkpoint(done)
        result.steps = total
        checkpoint(total)
    except _Interrupted:
        result.steps = stop_after or 0
    finally:
        if pruner is not None:
            pruner.detach()
        if log_file is not None:
            log_file.close()
    result.seconds = time.perf_counter() - t0
    model.eval()
    return result
