"""`leanml demo` entry: election tweets with GloVe, WME against kNN-WMD and TF-IDF.

The figure ``accuracy_vs_time.png`` in the output folder plots each model's test accuracy
against its fit + predict time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leanml.core import DemoContext

from .datasets import glove_6b_50d, load
from .experiments import classify, model_factories


def accuracy_time_figure(rows: list[dict[str, Any]], title: str, path: Path) -> Path:
    """Test accuracy against fit + predict seconds (log scale), one labelled point per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, ax = plt.subplots(figsize=(6, 4))
    for row in rows:
        ax.plot(row["total_s"], row["accuracy"], "o")
        ax.annotate(row["model"], (row["total_s"], row["accuracy"]), fontsize=8,
                    xytext=(4, 4), textcoords="offset points")  # fmt: skip
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide on short spans
    ax.set_xlabel("fit + predict seconds")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_demo(ctx: DemoContext) -> list[dict[str, Any]]:
    """Accuracy and total time of WME (R, 4R), kNN-WMD, TF-IDF and mean GloVe vectors."""
    data = load("election-tweets", seed=ctx.seed)
    if ctx.quick:
        data = data.subset(n_train=600, n_test=200, seed=ctx.seed)
    R = 64 if ctx.quick else 256
    emb = glove_6b_50d()
    ctx.echo(f"election tweets: {data.n_train} train / {data.n_test} test, GloVe 6B 50d, R={R}")
    rows = classify(data, model_factories(emb, R, ctx.seed), ctx.progress)
    title = f"election tweets, GloVe 6B 50d ({data.n_train} train / {data.n_test} test)"
    path = accuracy_time_figure(rows, title, Path(ctx.out) / "accuracy_vs_time.png")
    ctx.echo(f"figure: {path}")
    return [{"dataset": "election-tweets", **row} for row in rows]
