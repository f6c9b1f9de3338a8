"""`leanml demo rbf-features`: RB against its tuned peers, accuracy against time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leanml.core import DemoContext, load_dataset

__all__ = ["accuracy_time_figure", "run_demo"]

_MARKERS = {"rb-svm": "o-", "rbf-sampler-svc": "s-", "nystroem-laplacian-svc": "^-"}


def accuracy_time_figure(rows: list[dict[str, Any]], path: Path) -> Path:
    """Test accuracy against fit + predict seconds, one panel per data set (log time)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    names = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        mine = [r for r in rows if r["dataset"] == name]
        for method in dict.fromkeys(r["method"] for r in mine):
            pts = [r for r in mine if r["method"] == method]
            if method.startswith("exact"):
                ax.plot([pts[0]["seconds"]], [pts[0]["accuracy"]], "*", ms=12, label=method)
            else:
                ax.plot(
                    [p["seconds"] for p in pts],
                    [p["accuracy"] for p in pts],
                    _MARKERS.get(method, "x-"),
                    label=f"{method} (R = {pts[0]['R']}..{pts[-1]['R']})",
                )
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide on short spans
        ax.set_xlabel("fit + predict seconds")
        ax.set_ylabel("test accuracy")
        ax.set_title(name)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_demo(ctx: DemoContext) -> list[dict[str, Any]]:
    """Each method tuned on a validation split (its own bandwidth and C), then test accuracy
    and time against R on banana and digits; the figure is ``ctx.out/accuracy_vs_time.png``.

    Quick mode: 600 training rows, R in (32, 128), a 3 x 2 tuning grid.
    """
    from leanml.core.threads import thread_limits

    from .experiments import EXACT, METHODS, sweep, tune

    grids = (32, 128) if ctx.quick else (32, 64, 128, 256, 512, 1024)
    rows = []
    with thread_limits(1):  # a fixed, stated thread count for every method
        for name in ("banana", "digits"):
            data = load_dataset(name, seed=ctx.seed)
            if ctx.quick:
                data = data.subset(n_train=600, n_test=300, seed=ctx.seed)
            params = {
                m: tune(m, data, R=128, seed=ctx.seed, quick=ctx.quick)[0] for m in METHODS + EXACT
            }
            ctx.echo(f"{name}: {data.n_train} train / {data.n_test} test rows; tuned {params}")
            for row in sweep(data, grids, params, seed=ctx.seed, progress=ctx.progress):
                rows.append({"dataset": name, **row})
    path = accuracy_time_figure(rows, Path(ctx.out) / "accuracy_vs_time.png")
    ctx.echo(f"figure: {path}")
    return rows
