"""`leanml demo` entry: election tweets with GloVe, WME against kNN-WMD and TF-IDF."""

from __future__ import annotations

from typing import Any

from leanml.core import DemoContext

from .datasets import glove_6b_50d, load
from .experiments import classify, model_factories


def run_demo(ctx: DemoContext) -> list[dict[str, Any]]:
    """Accuracy and total time of WME (R, 4R), kNN-WMD, TF-IDF and mean GloVe vectors."""
    data = load("election-tweets", seed=ctx.seed)
    if ctx.quick:
        data = data.subset(n_train=600, n_test=200, seed=ctx.seed)
    R = 64 if ctx.quick else 256
    emb = glove_6b_50d()
    ctx.echo(f"election tweets: {data.n_train} train / {data.n_test} test, GloVe 6B 50d, R={R}")
    rows = classify(data, model_factories(emb, R, ctx.seed), ctx.progress)
    return [{"dataset": "election-tweets", **row} for row in rows]
