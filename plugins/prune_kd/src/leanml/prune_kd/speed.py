"""CPU timings: dense vs masked-dense vs CSR, per linear shape and for a whole model.

All variants of one row run in the same process, on the same inputs, with the same thread
count, interleaved (round-robin) so that load changes on a shared machine hit them alike.
Each ``*_ms`` is the best of ``repeats`` rounds (on a shared machine single calls are
bimodal: the scheduler's time slices add ~10 ms to some of them, which can move a median);
the medians are reported beside them as ``*_median_ms``.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from leanml.core import ParameterError
from leanml.core.threads import thread_limits

from .pruning import MagnitudePruner, magnitude_mask
from .sparse import SparseLinear, sparsify

__all__ = ["BERT_BASE_SHAPES", "compare_timings", "linear_speed", "model_speed"]

#: ``(out_features, in_features)`` of BERT-base's encoder linears.
BERT_BASE_SHAPES = ((768, 768), (3072, 768), (768, 3072))


def compare_timings(
    fns: dict[str, Callable[[], Any]], repeats: int = 11, number: int = 1
) -> dict[str, tuple[float, float]]:
    """``(best, median)`` seconds per call of each function, measured round-robin."""
    if repeats < 1 or number < 1:
        raise ParameterError("repeats and number must be >= 1")
    for fn in fns.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times[k].append((time.perf_counter() - t0) / number)
    return {k: (min(v), statistics.median(v)) for k, v in times.items()}


def _row(t: dict[str, tuple[float, float]]) -> dict[str, float]:
    row = {}
    for k in ("dense", "masked", "csr"):
        row[f"{k}_ms"] = 1e3 * t[k][0]
    row["csr_speedup"] = t["dense"][0] / t["csr"][0]
    for k in ("dense", "masked", "csr"):
        row[f"{k}_median_ms"] = 1e3 * t[k][1]
    return row


@torch.inference_mode()
def linear_speed(
    out_features: int,
    in_features: int,
    sparsity: float,
    tokens: int,
    threads: int = 1,
    repeats: int = 11,
    seed: int = 0,
) -> dict[str, Any]:
    """Time ``F.linear`` with a dense and a masked weight and :class:`SparseLinear` (CSR)
    for an ``(out, in)`` matrix pruned by magnitude to ``sparsity``, on ``tokens`` rows."""
    g = torch.Generator().manual_seed(seed)
    lin = nn.Linear(in_features, out_features)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(out_features, in_features, generator=g) * 0.02)
    dense_w = lin.weight.detach().clone()
    with torch.no_grad():
        lin.weight.mul_(magnitude_mask(lin.weight, sparsity))
    masked_w = lin.weight.detach()
    csr = SparseLinear.from_dense(lin)
    x = torch.randn(tokens, in_features, generator=g)
    b = lin.bias.detach()
    with thread_limits(threads):
        t = compare_timings(
            {
                "dense": lambda: F.linear(x, dense_w, b),
                "masked": lambda: F.linear(x, masked_w, b),
                "csr": lambda: csr(x),
            },
            repeats=repeats,
            number=max(1, 64 // max(1, tokens // 8)),
        )
    return {
        "shape": f"{out_features}x{in_features}",
        "sparsity": sparsity,
        "tokens": tokens,
        "threads": threads,
        **_row(t),
    }


@torch.inference_mode()
def model_speed(
    model: nn.Module,
    sparsity: float | None,
    tokens: int,
    batch: int = 1,
    threads: int = 1,
    repeats: int = 7,
    patterns: str | Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Time a whole model on ``batch`` sequences of ``tokens`` tokens: dense, masked-dense
    (pruned to ``sparsity``, or as given if ``None``) and with CSR linears."""
    config = model.config
    if tokens > config.max_position_embeddings:
        raise ParameterError(
            f"{tokens} tokens exceed the model's {config.max_position_embeddings} positions"
        )
    dense = copy.deepcopy(model).eval()
    masked = copy.deepcopy(model).eval()
    if sparsity is not None:
        MagnitudePruner(masked, patterns=patterns).prune_to(sparsity)
    csr = copy.deepcopy(masked).eval()
    sparsify(csr, patterns)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, config.vocab_size, (batch, tokens), generator=g)
    mask = torch.ones_like(ids)
    with thread_limits(threads):
        t = compare_timings(
            {
                "dense": lambda: dense(input_ids=ids, attention_mask=mask),
                "masked": lambda: masked(input_ids=ids, attention_mask=mask),
                "csr": lambda: csr(input_ids=ids, attention_mask=mask),
            },
            repeats=repeats,
        )
    return {
        "model": type(model).__name__,
        "sparsity": sparsity,
        "tokens": tokens,
        "batch": batch,
        "threads": threads,
        **_row(t),
    }
