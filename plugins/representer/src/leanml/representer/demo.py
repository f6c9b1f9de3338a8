"""`leanml demo` entry: explain a digits MLP and run the debugging experiment."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from leanml.core import DemoContext, load_dataset

from .debugging import flip_and_fix, summarise
from .explainer import RepresenterExplainer
from .models import train_mlp


def run_demo(ctx: DemoContext) -> list[dict[str, Any]]:
    """Decomposition fidelity and top representer points; flip-and-fix curve."""
    data = load_dataset("digits", seed=ctx.seed)
    Xtr, Xte = data.X_train / 16.0, data.X_test / 16.0
    trained = train_mlp(
        Xtr, data.y_train, Xte, data.y_test, epochs=100 if ctx.quick else 200, seed=ctx.seed
    )
    model = trained.model
    explainer = RepresenterExplainer(model, model.features, model.head).fit(
        torch.as_tensor(Xtr, dtype=torch.float32), data.y_train
    )
    held_out = explainer.fidelity(torch.as_tensor(Xte, dtype=torch.float32))
    Xq = torch.as_tensor(Xte[:8], dtype=torch.float32)
    exp = explainer.explain(Xq, k=3)
    resid = float(
        (exp.logit - explainer.logits(Xq).gather(1, exp.target[:, None]).squeeze(1)).abs().max()
    )
    ctx.echo(
        f"MLP test accuracy {trained.test_accuracy:.3f}; head re-converged (max|grad| "
        f"{explainer.grad_max_:.1e}, lambda {explainer.lmbda_:g}); float32 decomposition error "
        f"on test logits {resid:.1e}; agreement with the MLP on held-out points: Pearson "
        f"{held_out['pearson']:.4f}, argmax {held_out['argmax']:.3f}"
    )
    _figure(ctx, data, exp)
    rows: list[dict[str, Any]] = []
    for b in range(4):
        rows.append(
            {
                "part": "explain",
                "test_point": b,
                "class": int(exp.target[b]),
                "top_excitatory": [
                    int(data.y_train[i]) for i in exp.excitatory_index[b]
                ].__repr__(),
                "top_inhibitory": [
                    int(data.y_train[i]) for i in exp.inhibitory_index[b]
                ].__repr__(),
            }
        )
    fracs = (0.1, 0.2) if ctx.quick else (0.05, 0.1, 0.2, 0.3, 0.4)
    seeds = (ctx.seed,) if ctx.quick else (ctx.seed, ctx.seed + 1, ctx.seed + 2)
    debug = flip_and_fix(
        Xtr,
        data.y_train,
        Xte,
        data.y_test,
        flip_rate=0.2,
        fractions=fracs,
        seeds=seeds,
        progress=ctx.progress,
    )
    for row in summarise(debug):
        rows.append({"part": "debug (20% flipped)", **row})
    return rows


def _figure(ctx: DemoContext, data: Any, exp: Any) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(4, 7, figsize=(8, 5))
    for b in range(4):
        rowimgs = (
            [data.X_test[b]]
            + [data.X_train[i] for i in exp.excitatory_index[b]]
            + [data.X_train[i] for i in exp.inhibitory_index[b]]
        )
        titles = ["test"] + ["+"] * 3 + ["-"] * 3
        for ax, img, title in zip(axes[b], rowimgs, titles, strict=True):
            ax.imshow(np.asarray(img).reshape(8, 8), cmap="gray_r")
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    path = ctx.out / "representer_points.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    ctx.echo(f"figure: {path}")
