"""`leanml demo` entry: RB against its peers on banana and digits."""

from __future__ import annotations

from typing import Any

from leanml.core import DemoContext, load_dataset

from .experiments import minmax, sweep

# Bandwidths chosen on the training split by a coarse search (see the README).
SETTINGS = {"banana": (1.0, False), "digits": (8.0, True)}


def run_demo(ctx: DemoContext) -> list[dict[str, Any]]:
    """Accuracy and time of RB, random Fourier, Nystroem and the exact kernel SVM."""
    rows = []
    grids = (64,) if ctx.quick else (64, 256, 1024)
    for name, (sigma, scale) in SETTINGS.items():
        data = load_dataset(name, seed=ctx.seed)
        if scale:
            data = minmax(data)
        if ctx.quick:
            data = data.subset(n_train=600, n_test=300, seed=ctx.seed)
        ctx.echo(f"{name}: {data.n_train} train / {data.n_test} test rows, sigma={sigma}")
        for row in sweep(data, grids, sigma, seed=ctx.seed, progress=ctx.progress):
            rows.append({"dataset": name, **row})
    return rows
