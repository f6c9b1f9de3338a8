"""`leanml rbf-features`: fit, predict, convergence, sweep."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import click
import numpy as np

from leanml.core import DataError, load_dataset
from leanml.core.console import console, echo, print_rows, progress
from leanml.core.loaders import dataset_from_file, load_svmlight, looks_like_file

from .estimators import RBClassifier
from .experiments import EXACT, METHODS, convergence, minmax, slope, sweep, tune

__all__ = ["rbf_features"]


def _data(name: str, seed: int, scale: bool):
    data = (
        dataset_from_file(name, seed=seed)
        if looks_like_file(name)
        else load_dataset(name, seed=seed)
    )
    if scale:
        data = minmax(data)
    return data


@click.group("rbf-features")
def rbf_features() -> None:
    """Random Binning features (Wu, Yen et al., KDD 2016)."""


def _sigma_value(ctx: click.Context, param: click.Parameter, value: str) -> float | str:
    if value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither 'auto' nor a number") from None


_SIGMA = click.option(
    "--sigma",
    default="auto",
    show_default=True,
    callback=_sigma_value,
    help="Bandwidth of exp(-||x - y||_1 / sigma); 'auto': a quarter of the median L1 distance.",
)
_SCALE = click.option("--scale/--no-scale", default=False, help="Min-max scale features to [0, 1].")


@rbf_features.command("fit")
@click.option("--dataset", "-d", required=True, help="Registered data set or file.")
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Where to save the fitted model (pickle).",
)
@click.option("--grids", "-R", type=int, default=256, show_default=True)
@_SIGMA
@click.option("--C", "C", type=float, default=1.0, show_default=True)
@click.option("--loss", type=click.Choice(["hinge", "squared_hinge", "logistic"]), default="hinge")
@click.option("--penalty", type=click.Choice(["l2", "l1"]), default="l2")
@_SCALE
@click.pass_obj
def fit_cmd(settings, dataset, model_path, grids, sigma, C, loss, penalty, scale) -> None:
    """Train an RBClassifier and report its test accuracy."""
    data = _data(dataset, settings.seed, scale)
    model = RBClassifier(
        grids, sigma=sigma, C=C, loss=loss, penalty=penalty, random_state=settings.seed
    ).fit(data.X_train, data.y_train)
    acc = float(np.mean(model.predict(data.X_test) == data.y_test))
    model_path.write_bytes(pickle.dumps(model))
    console.print(
        f"test accuracy {acc:.4f}; sigma {model.binning_.sigma_:.4g}; "
        f"kappa {model.binning_.kappa_:.1f}; model saved to {model_path}"
    )


@rbf_features.command("predict")
@click.option("--model", "model_path", type=click.Path(path_type=Path, exists=True), required=True)
@click.argument("data_file", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write labels here.")
def predict_cmd(model_path, data_file, output) -> None:
    """Predict labels for a svmlight file with a model saved by `fit`."""
    model = pickle.loads(model_path.read_bytes())
    X, y = load_svmlight(data_file, n_features=model.n_features_in_)
    if X.shape[1] != model.n_features_in_:
        raise DataError(
            f"has {X.shape[1]} features, the model expects {model.n_features_in_}", data_file
        )
    labels = model.predict(X.tocsr())
    if output:
        output.write_text("\n".join(str(v) for v in labels) + "\n")
    console.print(f"accuracy against the file's labels: {np.mean(labels == y):.4f}")


@rbf_features.command("convergence")
@click.option("--dataset", "-d", default="digits", show_default=True)
@click.option("--n", "n_rows", type=int, default=500, show_default=True, help="Rows used.")
@click.option("--grids", default="16,64,256,1024", show_default=True)
@click.option("--sigma", type=float, default=8.0, show_default=True)
@click.option("--plot", type=click.Path(path_type=Path), help="Save a log-log figure here.")
@click.pass_obj
def convergence_cmd(settings, dataset, n_rows, grids, sigma, plot) -> None:
    """Error of Z Z^T against the exact kernel, as R grows (expect slope -1/2)."""
    data = _data(dataset, settings.seed, scale=True)
    rows = convergence(
        data.X_train[:n_rows], sigma, [int(g) for g in grids.split(",")], seed=settings.seed
    )
    print_rows(f"||ZZ^T - K||_F / ||K||_F on {dataset}[:{n_rows}], sigma={sigma}", rows)
    console.print(f"slope of log error vs log R: {slope(rows):.3f}")
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 4))
        ax.loglog([r["R"] for r in rows], [r["rel_error"] for r in rows], "o-", label="RB")
        ax.loglog(
            [r["R"] for r in rows],
            [rows[0]["err_sqrt_R"] / np.sqrt(r["R"]) for r in rows],
            "--",
            label="R^-1/2",
        )
        ax.set_xlabel("R (grids)")
        ax.set_ylabel("relative Frobenius error")
        ax.legend()
        fig.tight_layout()
        fig.savefig(plot, dpi=120)
        echo(f"figure: {plot}")


@rbf_features.command("sweep")
@click.option("--dataset", "-d", required=True)
@click.option("--grids", default="64,256,1024", show_default=True)
@_SCALE
@click.option("--exact/--no-exact", default=True, help="Include the exact kernel SVCs.")
@click.option("--repeats", type=int, default=1, show_default=True, help="Best of N timings.")
@click.pass_obj
def sweep_cmd(settings, dataset, grids, scale, exact, repeats) -> None:
    """Accuracy and time against R for RB and its peers, each tuned on a validation split."""
    data = _data(dataset, settings.seed, scale)
    names = METHODS + (EXACT if exact else ())
    params = {m: tune(m, data, seed=settings.seed, quick=True)[0] for m in progress(names, "tune")}
    console.print(f"tuned on a validation split: {params}")
    rows = sweep(
        data,
        [int(g) for g in grids.split(",")],
        params,
        exact=EXACT if exact else (),
        seed=settings.seed,
        repeats=repeats,
        progress=progress,
    )
    print_rows(f"{dataset}: accuracy and fit+predict seconds against R", rows)
    settings.out.mkdir(parents=True, exist_ok=True)
    path = settings.out / f"rbf-sweep-{dataset.replace('/', '_')}.json"
    path.write_text(json.dumps({"params": params, "rows": rows}, indent=2))
    echo(f"record: {path}")
