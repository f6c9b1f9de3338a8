"""`leanml demo` entry: FLOPs vs L1 vs dense on digits (speed-recall table and plots)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leanml.core import DemoContext, load_dataset
from leanml.core.threads import thread_limits

from .experiments import plot_activation, plot_curve, speed_recall, train_models

_KEEP = ("method", "setting", "index", "nnz_per_row", "F", "flops_ratio", "recall@1",
         "recall@10", "single_ms", "batch_ms_per_query")  # fmt: skip


def run_demo(ctx: DemoContext) -> list[dict[str, Any]]:
    """Train FLOPs, L1 and dense embeddings on digits, index them, time the searches.

    Quick mode: 4 epochs and the real database only; full: 20 epochs and a database grown
    to 50,000 rows with synthetic distractors matching each model's activation statistics.
    """
    data = load_dataset("digits", seed=ctx.seed)
    epochs = 4 if ctx.quick else 20
    n_db = None if ctx.quick else 50_000
    ctx.echo(f"digits: {data.n_train} train / {data.n_test} test rows; {epochs} epochs")
    with thread_limits(1):  # timings are single-thread; torch on 2 busy cores only thrashes
        models = train_models(data, epochs, seed=ctx.seed, batch_size=128, echo=ctx.echo)
        rows, activation = speed_recall(
            models,
            data,
            n_db=n_db,
            n_queries=data.n_test,
            n_single=100 if ctx.quick else 300,
            nprobes=(4, 16),
            ef_searches=(16, 64),
            sparse_peers=not ctx.quick,
            seed=ctx.seed,
            echo=ctx.echo,
        )
    out = Path(ctx.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        plot_curve(rows, out / "sparse-retrieval-curve.png", "digits, 1 thread")
        plot_activation(activation, out / "sparse-retrieval-activation.png", "digits")
        ctx.echo(f"plots: {out / 'sparse-retrieval-curve.png'}, sparse-retrieval-activation.png")
    except ImportError:
        ctx.echo("matplotlib is not installed: no plots")
    return [
        {k: round(r[k], 4) if isinstance(r.get(k), float) else r.get(k, "") for k in _KEEP}
        for r in rows
    ]
