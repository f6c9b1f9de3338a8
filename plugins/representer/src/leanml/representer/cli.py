"""`leanml representer`: train-mlp, explain, debug, bench."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import click
import numpy as np
import torch

from leanml.core import InputError, load_dataset
from leanml.core.console import console, echo, print_rows, progress

from .debugging import flip_and_fix, summarise
from .explainer import RepresenterExplainer
from .models import train_mlp

__all__ = ["representer"]


def _scaled(name: str, seed: int):
    data = load_dataset(name, seed=seed)
    if data.kind != "dense":
        raise InputError(f"dataset {name!r} is {data.kind}; representer commands take dense data")
    mu, sd = data.X_train.mean(0), data.X_train.std(0)
    sd[sd == 0] = 1.0
    return data, (data.X_train - mu) / sd, (data.X_test - mu) / sd


def _module(model: torch.nn.Module, name: str) -> torch.nn.Module:
    modules = dict(model.named_modules())
    if name not in modules:
        raise InputError(
            f"model has no module {name!r}; it has {', '.join(n for n in modules if n)}"
        )
    return modules[name]


def _lmbda(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise InputError(f"--lmbda must be 'auto' or a number, got {text!r}") from None


@click.group("representer")
def representer() -> None:
    """Representer point selection (Yeh, Kim, Yen, Ravikumar, NeurIPS 2018)."""


@representer.command("train-mlp")
@click.option("--dataset", "-d", default="digits", show_default=True)
@click.option("--model", "model_path", type=click.Path(path_type=Path), required=True)
@click.option("--hidden", type=int, default=32, show_default=True)
@click.pass_obj
def train_cmd(settings, dataset, model_path, hidden) -> None:
    """Train a small MLP (standardised inputs) and save it whole with torch.save."""
    data, Xtr, Xte = _scaled(dataset, settings.seed)
    trained = train_mlp(Xtr, data.y_train, Xte, data.y_test, n_hidden=hidden, seed=settings.seed)
    torch.save(trained.model, model_path)
    console.print(
        f"test accuracy {trained.test_accuracy:.4f}; saved to {model_path} "
        f"(feature layer 'features', classifier layer 'head')"
    )


@representer.command("explain")
@click.option("--model", "model_path", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--dataset", "-d", default="digits", show_default=True)
@click.option("--feature-layer", default="features", show_default=True)
@click.option("--classifier-layer", default="head", show_default=True)
@click.option(
    "--lmbda",
    default="auto",
    show_default=True,
    help="lambda, or 'auto': the largest lambda whose head reproduces the model's logits.",
)
@click.option(
    "--method",
    type=click.Choice(["l2", "lje"]),
    default="l2",
    show_default=True,
    help="l2: re-converged head (Yeh et al.); lje: local Jacobian expansion (Sui et al.).",
)
@click.option("--k", type=int, default=5, show_default=True)
@click.option("--n-test", type=int, default=5, show_default=True)
@click.option("--grid", type=click.Path(path_type=Path), help="Save an image grid (8x8 images).")
@click.pass_obj
def explain_cmd(
    settings, model_path, dataset, feature_layer, classifier_layer, lmbda, method, k, n_test, grid
) -> None:
    """Top-k excitatory and inhibitory training points of the first test points."""
    data, Xtr, Xte = _scaled(dataset, settings.seed)
    model = torch.load(model_path, weights_only=False)
    explainer = RepresenterExplainer(
        model,
        _module(model, feature_layer),
        _module(model, classifier_layer),
        lmbda=_lmbda(lmbda),
        method=method,
    )
    explainer.fit(torch.as_tensor(Xtr, dtype=torch.float32), data.y_train)
    exp = explainer.explain(torch.as_tensor(Xte[:n_test], dtype=torch.float32), k=k)
    rows = []
    for b in range(exp.target.shape[0]):
        rows.append(
            {
                "test": b,
                "label": int(data.y_test[b]),
                "explained class": int(exp.target[b]),
                "logit": float(exp.logit[b]),
                "excitatory (index:label)": " ".join(
                    f"{int(i)}:{data.y_train[int(i)]}" for i in exp.excitatory_index[b]
                ),
                "inhibitory (index:label)": " ".join(
                    f"{int(i)}:{data.y_train[int(i)]}" for i in exp.inhibitory_index[b]
                ),
            }
        )
    print_rows(
        f"representer points ({method}; head max|grad| {explainer.grad_max_:.1e}, "
        f"decomposition residual {explainer.decomposition_residual_:.1e}, "
        f"lambda {explainer.lmbda_:g}, agreement with the model on the training points: "
        f"Pearson {explainer.fidelity_['pearson']:.4f}, "
        f"argmax {explainer.fidelity_['argmax']:.3f})",
        rows,
    )
    if grid:
        _grid(grid, data, exp)
        echo(f"figure: {grid}")


def _grid(path: Path, data, exp) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    B, k = exp.excitatory_index.shape
    side = round(float(np.sqrt(data.n_features)))
    if side * side != data.n_features:
        raise InputError("--grid needs square images (e.g. digits)")
    fig, axes = plt.subplots(B, 1 + 2 * k, figsize=(1.1 * (1 + 2 * k), 1.2 * B), squeeze=False)
    for b in range(B):
        imgs = (
            [data.X_test[b]]
            + [data.X_train[int(i)] for i in exp.excitatory_index[b]]
            + [data.X_train[int(i)] for i in exp.inhibitory_index[b]]
        )
        for j, (ax, img) in enumerate(zip(axes[b], imgs, strict=True)):
            ax.imshow(np.asarray(img).reshape(side, side), cmap="gray_r")
            ax.set_title("test" if j == 0 else ("+" if j <= k else "-"), fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@representer.command("debug")
@click.option("--dataset", "-d", default="digits", show_default=True)
@click.option("--flip-rate", type=float, default=0.2, show_default=True)
@click.option("--fractions", default="0.05,0.1,0.2,0.3,0.4", show_default=True)
@click.option("--seeds", type=int, default=3, show_default=True)
@click.option("--lmbda", type=float, default=1e-3, show_default=True)
@click.option("--plot", type=click.Path(path_type=Path), help="Save the flips-found curves.")
@click.pass_obj
def debug_cmd(settings, dataset, flip_rate, fractions, seeds, lmbda, plot) -> None:
    """Flip labels, rank points by every method, fix the top fraction, refit (all in one run)."""
    if not 0 < flip_rate < 1:
        raise InputError(f"--flip-rate must be in (0, 1), got {flip_rate}")
    data, Xtr, Xte = _scaled(dataset, settings.seed)
    fracs = tuple(float(f) for f in fractions.split(","))
    rows = flip_and_fix(
        Xtr,
        data.y_train,
        Xte,
        data.y_test,
        flip_rate,
        fracs,
        lmbda,
        seeds=range(settings.seed, settings.seed + seeds),
        progress=progress,
    )
    summary = summarise(rows)
    print_rows(f"{dataset}: {flip_rate:.0%} of labels flipped, mean over {seeds} seeds", summary)
    settings.out.mkdir(parents=True, exist_ok=True)
    (settings.out / f"representer-debug-{dataset}.json").write_text(json.dumps(rows, indent=2))
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 4))
        for name in dict.fromkeys(r["ranking"] for r in summary):
            sel = [r for r in summary if r["ranking"] == name]
            ax.plot([r["checked"] for r in sel], [r["flips_found"] for r in sel], "o-", label=name)
        ax.set_xlabel("fraction of training data checked")
        ax.set_ylabel("fraction of flipped labels found")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(plot, dpi=120)
        echo(f"figure: {plot}")


@representer.command("bench")
@click.option("--k", type=int, default=10, show_default=True)
@click.option("--slow-peer/--no-slow-peer", default=True, help="Include TracInCP (all layers).")
@click.pass_obj
def bench_cmd(settings, k, slow_peer) -> None:
    """Fit + explain every digits test point: representer vs Captum TracIn, one process.

    Each method's time is the best of five runs (the first absorbs one-off warm-up).
    """
    from .peers import tracin_topk

    data, Xtr, Xte = _scaled("digits", settings.seed)
    model = train_mlp(Xtr, data.y_train, Xte, data.y_test, seed=settings.seed).model
    Xtr_t, Xte_t = (torch.as_tensor(a, dtype=torch.float32) for a in (Xtr, Xte))
    ytr_t = torch.as_tensor(data.y_train)
    pred = model(Xte_t).argmax(1).detach()

    def best_of(fn, repeats: int = 5) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    def representer_run(method: str):
        ex = RepresenterExplainer(model, model.features, model.head, method=method)
        with warnings.catch_warnings():  # the fidelity is printed below, not warned per run
            warnings.simplefilter("ignore")
            ex.fit(Xtr_t, data.y_train).explain(Xte_t, k=k)
        fidelity[method] = ex.fidelity(Xte_t)

    fidelity: dict[str, dict[str, float]] = {}
    rows = [
        {
            "method": f"representer {m} (fit + explain)",
            "seconds": best_of(lambda m=m: representer_run(m)),
        }
        for m in ("l2", "lje")
    ]
    for r, m in zip(rows, ("l2", "lje"), strict=True):
        r["test pearson / argmax"] = f"{fidelity[m]['pearson']:.4f} / {fidelity[m]['argmax']:.3f}"
    # TracInCP re-differentiates the training set once per test batch: one batch is its
    # cheapest setting, batches of 64 what a test DataLoader gives; sample_wise is Captum's
    # batched per-example gradients (its fast mode), per-example its default loop
    peers = [("captum TracInCPFast (last layer)", True, None, True)]
    if slow_peer:
        peers += [
            ("captum TracInCP sample-wise, one test batch", False, None, True),
            ("captum TracInCP sample-wise, test batches of 64", False, 64, True),
            ("captum TracInCP per-example loop, test batches of 64", False, 64, False),
        ]
    for name, fast, test_batch, sample_wise in peers:
        seconds = best_of(
            lambda fast=fast, test_batch=test_batch, sample_wise=sample_wise: tracin_topk(
                model,
                model.head,
                Xtr_t,
                ytr_t,
                Xte_t,
                pred,
                k=k,
                fast=fast,
                test_batch_size=test_batch,
                sample_wise=sample_wise,
            ),
            repeats=5 if fast else 2,
        )
        rows.append({"method": name, "seconds": seconds})
    base = rows[0]["seconds"]
    for r in rows:
        r["ratio_to_representer"] = r["seconds"] / base
    print_rows(
        f"digits MLP: {len(Xtr)} training points, top-{k} for {len(Xte)} test points, "
        f"{torch.get_num_threads()} threads",
        rows,
    )
