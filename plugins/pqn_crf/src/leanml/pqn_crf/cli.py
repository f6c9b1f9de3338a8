"""`leanml pqn-crf`: train, tag, eval, trace."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import click
import numpy as np

from leanml.core import DataError, ParameterError, load_dataset
from leanml.core.console import echo, print_rows, progress
from leanml.core.loaders import load_conll, looks_like_file

from ._base import SOLVERS
from .crf import CRF
from .experiments import TRACE_SOLVERS, gap_table, plot_gaps, trace_solvers
from .features import conll_token_features
from .metrics import entity_f1, token_accuracy

__all__ = ["pqn_crf"]

_FORMAT = "leanml-pqn-crf/1"


def _conll_xy(path: str, window: int, labelled: bool = True) -> tuple[list, list | None, list]:
    sentences = load_conll(path)
    cols = [[tok[:-1] if labelled else tok for tok in s] for s in sentences]
    if labelled and len(sentences[0][0]) < 2:
        raise DataError("a labelled CoNLL file needs >= 2 columns (token ... label)", path)
    X = [conll_token_features(s, window=window) for s in cols]
    y = [np.array([tok[-1] for tok in s]) for s in sentences] if labelled else None
    return X, y, cols


def _data(name: str, seed: int, window: int, split: str) -> tuple[list, list, str]:
    """(X, y, kind) from a CoNLL file or the ``split`` of a registered data set."""
    if looks_like_file(name) and Path(name).exists():
        X, y, _ = _conll_xy(name, window)
        return X, y, "conll"
    if looks_like_file(name):
        raise DataError("no such file", name)
    data = load_dataset(name, seed=seed)
    if data.task != "sequence_labeling":
        raise ParameterError(f"data set {name!r} is {data.task}, not sequence labelling")
    X, y = (data.X_train, data.y_train) if split == "train" else (data.X_test, data.y_test)
    if X is None:
        raise ParameterError(f"data set {name!r} has no {split} split")
    return X, y, "registered"


@click.group("pqn-crf")
def pqn_crf() -> None:
    """L1 CRFs by proximal quasi-Newton (Zhong, Yen, Dhillon, Ravikumar, NIPS 2014)."""


_DATA = click.option(
    "--data", "-d", required=True, help="CoNLL file (last column = label) or a registered set."
)
_WINDOW = click.option(
    "--window", type=click.IntRange(min=0), default=1, show_default=True,
    help="CoNLL feature window (tokens either side).",
)  # fmt: skip


@pqn_crf.command("train")
@_DATA
@click.option("--model", "model_path", type=click.Path(path_type=Path), required=True)
@click.option("--c1", type=float, default=1.0, show_default=True, help="L1 weight λ.")
@click.option("--c2", type=float, default=0.0, show_default=True, help="L2 weight.")
@click.option("--solver", type=click.Choice(SOLVERS), default="prox-qn", show_default=True)
@click.option("--max-iter", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option(
    "--tol",
    type=float,
    default=1e-5,
    show_default=True,
    help="Relative min-norm-subgradient tolerance.",
)
@click.option(
    "--delta",
    type=float,
    default=5e-6,
    show_default=True,
    help="Stop when F fell by less than this fraction over the last 10 iterations.",
)
@click.option(
    "--pairs",
    type=click.Choice(["observed", "all"]),
    default="observed",
    show_default=True,
    help="Weights for observed attribute x label pairs, or all.",
)
@_WINDOW
@click.pass_obj
def train_cmd(
    settings: Any, data, model_path, c1, c2, solver, max_iter, tol, delta, pairs, window
) -> None:
    """Train a CRF and write it to a model file."""
    X, y, kind = _data(data, settings.seed, window, "train")
    crf = CRF(c1=c1, c2=c2, solver=solver, max_iter=max_iter, tol=tol, delta=delta, pairs=pairs)
    crf.fit(X, y)
    payload = {"format": _FORMAT, "crf": crf, "features": kind, "window": window}
    model_path.write_bytes(pickle.dumps(payload))
    res = crf.result_
    print_rows(
        f"trained on {data}",
        [
            {
                "sequences": len(X),
                "labels": crf.classes_.size,
                "attributes": crf.attributes_.size,
                "objective": res.fun,
                "nnz": int(np.count_nonzero(crf.coef_)),
                "iterations": res.n_iter,
                "evaluations": res.n_evals,
                "seconds": round(res.trace.seconds[-1], 3),
                "stopped": res.message,
            }
        ],
    )
    echo(f"model: {model_path}")


def _load_model(path: Path) -> dict[str, Any]:
    try:
        payload = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise DataError(f"not a model file: {exc}", path) from exc
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise DataError("not a model written by `leanml pqn-crf train`", path)
    return payload


@pqn_crf.command("tag")
@click.option("--model", "model_path", type=click.Path(path_type=Path, exists=True), required=True)
@click.argument("conll_file", type=click.Path(path_type=Path))
@click.option("--labelled", is_flag=True, help="The file's last column is a gold label: drop it.")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write here, not stdout.")
def tag_cmd(model_path, conll_file, labelled, output) -> None:
    """Tag a CoNLL file: each token's columns followed by the predicted label."""
    payload = _load_model(model_path)
    if payload["features"] != "conll":
        raise ParameterError("this model was trained on a registered data set, not CoNLL")
    X, _, cols = _conll_xy(str(conll_file), payload["window"], labelled=labelled)
    pred = payload["crf"].predict(X)
    lines = []
    for sent, tags in zip(cols, pred, strict=True):
        lines += ["\t".join([*tok, str(tag)]) for tok, tag in zip(sent, tags, strict=True)]
        lines.append("")
    text = "\n".join(lines)
    if output:
        output.write_text(text)
        echo(f"tagged {len(pred)} sentences -> {output}")
    else:
        click.echo(text)


@pqn_crf.command("eval")
@click.option("--model", "model_path", type=click.Path(path_type=Path, exists=True), required=True)
@_DATA
@click.pass_obj
def eval_cmd(settings: Any, model_path, data) -> None:
    """Token accuracy and, for IOB tags, entity precision/recall/F1."""
    payload = _load_model(model_path)
    X, y, _ = _data(data, settings.seed, payload["window"], "test")
    crf: CRF = payload["crf"]
    pred = crf.predict(X)
    row: dict[str, Any] = {"sequences": len(X), "token accuracy": token_accuracy(y, pred)}
    tags = {str(t) for t in crf.classes_}
    if any(t.startswith(("B-", "I-")) for t in tags):
        scores = entity_f1([[str(v) for v in s] for s in y], [[str(v) for v in s] for s in pred])
        row.update({f"entity {k}": v for k, v in scores.items()})
    print_rows(f"evaluation on {data}", [row])


@pqn_crf.command("trace")
@_DATA
@click.option("--c1", type=float, default=1.0, show_default=True)
@click.option(
    "--solvers", default="prox-qn,crfsuite", show_default=True,
    help=f"Comma-separated, from {', '.join(TRACE_SOLVERS)}.",
)  # fmt: skip
@click.option("--max-evals", type=click.IntRange(min=2), default=300, show_default=True)
@click.option("--max-train", type=click.IntRange(min=1), help="Use only the first N sequences.")
@click.option(
    "--m",
    "memory",
    type=click.IntRange(min=0),
    default=40,
    show_default=True,
    help="Prox-QN's L-BFGS memory (OWL-QN and CRFsuite use --peer-m).",
)
@click.option(
    "--peer-m",
    type=click.IntRange(min=1),
    default=6,
    show_default=True,
    help="L-BFGS memory of OWL-QN and CRFsuite (CRFsuite's default: 6).",
)
@click.option("--pairs", type=click.Choice(["all", "observed"]), default="all", show_default=True)
@click.option(
    "--plot",
    type=click.Path(path_type=Path),
    help="Save gap against evaluations and seconds (log scale) here.",
)
@_WINDOW
@click.pass_obj
def trace_cmd(
    settings: Any, data, c1, solvers, max_evals, max_train, memory, peer_m, pairs, plot, window
) -> None:
    """Relative objective gap against evaluations and seconds, Prox-QN and peers."""
    X, y, _ = _data(data, settings.seed, window, "train")
    if max_train:
        X, y = X[:max_train], y[:max_train]
    names = [s.strip() for s in solvers.split(",") if s.strip()]
    traces = trace_solvers(
        X, y, c1, names, max_evals=max_evals, m=memory, owlqn_memory=peer_m,
        crfsuite_memory=peer_m, pairs=pairs, progress=progress,
    )  # fmt: skip
    f_star, rows = gap_table(traces)
    print_rows(f"{data}: c1={c1}, F*={f_star:.10g} (lowest reached)", rows)
    settings.out.mkdir(parents=True, exist_ok=True)
    record = settings.out / "pqn-crf-trace.json"
    record.write_text(json.dumps({"f_star": f_star, "rows": rows}, indent=2))
    echo(f"record: {record}")
    if plot:
        plot_gaps(traces, f_star, plot)
        echo(f"figure: {plot}")
