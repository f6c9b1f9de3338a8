"""`leanml sparse-retrieval`: train, index, search, curve."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from leanml.core import InputError, ParameterError, load_dataset
from leanml.core.console import echo, print_rows

__all__ = ["sparse_retrieval"]

_COLUMNS = (
    "method", "setting", "index", "N", "nnz_per_row", "F", "postings_per_query", "recall@1",
    "recall@10", "exact_overlap@10", "single_ms", "batch_ms_per_query", "build_s",
    "bytes_per_row", "threads",
)  # fmt: skip


def _data(name: str, seed: int, held_out: str | None, n_train: int | None, n_test: int | None):
    from .datasets import held_out_split

    data = load_dataset(name, seed=seed)
    if n_train or n_test:
        data = data.subset(n_train, n_test, seed=seed)
    if not held_out:
        return data, None
    try:
        classes = [type(np.asarray(data.y_train)[0].item())(c) for c in held_out.split(",")]
    except ValueError as exc:
        raise ParameterError(f"--held-out must list classes separated by commas: {exc}") from None
    return held_out_split(data, classes)


def _rounded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        out.append(
            {c: (f"{r[c]:.4g}" if isinstance(r.get(c), float) else r.get(c, "")) for c in _COLUMNS}
        )
    return out


@click.group("sparse-retrieval")
def sparse_retrieval() -> None:
    """FLOPs-regularised sparse embeddings and inverted index (Paria et al. 2020)."""


_DATASET = click.option(
    "--dataset", "-d", default="digits", show_default=True,
    help="Registered data set (digits, mnist_5k, fashion_mnist, ...).",
)  # fmt: skip
_HELD = click.option("--held-out", default=None,
                     help="Classes to hold out of training, e.g. '7,8,9': the index and "
                     "queries then use only those unseen classes.")  # fmt: skip


@sparse_retrieval.command("train")
@_DATASET
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="Directory for params.json, weights.pt and history.json.")  # fmt: skip
@click.option("--regularizer", type=click.Choice(["flops", "l1", "none"]), default="flops")
@click.option("--lam", type=float, default=3.0, show_default=True, help="Final weight λ.")
@click.option("--dim", type=int, default=256, show_default=True)
@click.option("--activation", type=click.Choice(["relu", "soft_threshold", "topk", "none"]),
              default="relu")  # fmt: skip
@click.option("--backbone", type=click.Choice(["mlp", "cnn"]), default="mlp")
@click.option("--loss", type=click.Choice(["cosine_softmax", "arcface", "triplet"]),
              default="cosine_softmax")  # fmt: skip
@click.option("--epochs", type=int, default=20, show_default=True)
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@_HELD
@click.pass_obj
def train_cmd(settings, dataset, out, regularizer, lam, dim, activation, backbone, loss,
              epochs, batch_size, lr, held_out) -> None:  # fmt: skip
    """Train an embedding; print and save the per-epoch nnz, F, s²/d, dead dimensions."""
    from .estimators import SparseRetriever

    data, unseen = _data(dataset, settings.seed, held_out, None, None)
    index = "sparse" if activation != "none" else "faiss-flat"
    est = SparseRetriever(
        regularizer, lam=lam, dim=dim, activation=activation, backbone=backbone, loss=loss,
        epochs=epochs, batch_size=batch_size, lr=lr, index=index, random_state=settings.seed,
    )  # fmt: skip
    t0 = time.perf_counter()
    est.fit(data.X_train, data.y_train)
    path = est.save(out)
    (path / "history.json").write_text(json.dumps(est.history_, indent=2))
    keys = ("epoch", "loss", "task", "reg", "lam_scale", "nnz", "flops", "uniform_bound",
            "flops_ratio", "dead_dims")  # fmt: skip
    table = [{k: f"{r[k]:.4g}" if isinstance(r[k], float) else r[k] for k in keys}
             for r in est.history_]  # fmt: skip
    print_rows(f"{regularizer} λ={lam} on {dataset}", table)
    evald = unseen if unseen is not None else data
    if unseen is not None:
        est.build_index(unseen.X_train, unseen.y_train)
    r1 = est.score(evald.X_test, evald.y_test)
    echo(f"trained in {time.perf_counter() - t0:.1f} s; recall@1 on {evald.name} test: {r1:.4f}")
    echo(f"model: {path}")


@sparse_retrieval.command("index")
@click.option("--model", "model_dir", type=click.Path(path_type=Path, exists=True), required=True)
@_DATASET
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="Index file (.npz); labels go to <out>.labels.npy.")  # fmt: skip
@click.option("--split", type=click.Choice(["train", "test"]), default="train")
@_HELD
@click.pass_obj
def index_cmd(settings, model_dir, dataset, out, split, held_out) -> None:
    """Encode a data set split with a trained model into a saved SparseIndex."""
    from .estimators import SparseRetriever
    from .index import SparseIndex, to_csr

    est = SparseRetriever.load(model_dir)
    if est.activation == "none":
        raise ParameterError("this model is dense (activation none): it has no sparse index")
    data, unseen = _data(dataset, settings.seed, held_out, None, None)
    data = unseen if unseen is not None else data
    X, y = (data.X_train, data.y_train) if split == "train" else (data.X_test, data.y_test)
    t0 = time.perf_counter()
    emb = to_csr(est.transform(X), est.zero_threshold)
    index = SparseIndex(emb.shape[1])
    index.add(emb)
    path = index.save(out)
    np.save(path.with_suffix(".labels.npy"), np.asarray(y))
    echo(f"indexed {index.ntotal} rows, {index.nnz / index.ntotal:.2f} nnz/row, "
         f"{index.memory_bytes() / index.ntotal:.1f} bytes/row in "
         f"{time.perf_counter() - t0:.2f} s -> {path}")  # fmt: skip


@sparse_retrieval.command("search")
@click.option("--model", "model_dir", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--index", "index_path", type=click.Path(path_type=Path, exists=True),
              required=True)  # fmt: skip
@_DATASET
@click.option("-k", type=int, default=10, show_default=True)
@click.option("--threshold", type=float, default=None, help="Score filter t (default exact).")
@click.option("--n-queries", type=int, default=1000, show_default=True)
@_HELD
@click.pass_obj
def search_cmd(settings, model_dir, index_path, dataset, k, threshold, n_queries, held_out):
    """Query a saved index with a data set's test split: recall, latency, postings."""
    from .estimators import SparseRetriever
    from .experiments import _label_recall
    from .index import SparseIndex, to_csr

    est = SparseRetriever.load(model_dir)
    index = SparseIndex.load(index_path)
    labels_path = Path(str(index_path).removesuffix(".npz") + ".labels.npy")
    if not labels_path.is_file():
        raise InputError(f"no labels next to the index: expected {labels_path}")
    db_labels = np.load(labels_path, allow_pickle=False)
    data, unseen = _data(dataset, settings.seed, held_out, None, None)
    data = unseen if unseen is not None else data
    n = min(n_queries, data.n_test)
    Q = to_csr(est.transform(data.X_test[:n]), est.zero_threshold)
    y = np.asarray(data.y_test)[:n]
    index.search(Q[:1], k, threshold=threshold)
    t0 = time.perf_counter()
    _, ids, touched = index.search(Q, k, threshold=threshold, return_touched=True)
    batch_ms = (time.perf_counter() - t0) * 1e3 / n
    singles = []
    for i in range(min(n, 200)):
        t1 = time.perf_counter()
        index.search(Q[i : i + 1], k, threshold=threshold)
        singles.append(time.perf_counter() - t1)
    print_rows(f"search {index_path.name}", [{
        "queries": n, "N": index.ntotal, "recall@1": f"{_label_recall(ids, db_labels, y, 1):.4f}",
        f"recall@{k}": f"{_label_recall(ids, db_labels, y, k):.4f}",
        "postings/query": f"{touched.mean():.0f}",
        "single ms": f"{np.median(singles) * 1e3:.4f}", "batch ms/query": f"{batch_ms:.4f}",
    }])  # fmt: skip


@sparse_retrieval.command("curve")
@_DATASET
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("leanml-out"),
              show_default=True)  # fmt: skip
@click.option("--epochs", type=int, default=20, show_default=True)
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--lam-flops", type=float, default=3.0, show_default=True)
@click.option("--lam-l1", type=float, default=0.03, show_default=True)
@click.option("--n-db", type=int, default=None,
              help="Grow the database to this many rows with synthetic distractors drawn "
              "to match each model's per-dimension statistics.")  # fmt: skip
@click.option("--n-queries", type=int, default=1000, show_default=True)
@click.option("--n-train", type=int, default=None, help="Subsample the train split.")
@click.option("--all-threads", is_flag=True,
              help="Time every index at 1..--threads threads in the same run.")  # fmt: skip
@click.option("--train-threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Torch threads for training (timing uses --threads).")  # fmt: skip
@click.option("--reuse", is_flag=True,
              help="Load the models saved under OUT/models by an earlier run instead "
              "of training (same data, epochs and λ: the caller's responsibility).")  # fmt: skip
@_HELD
@click.pass_obj
def curve_cmd(settings, dataset, out, epochs, batch_size, lam_flops, lam_l1, n_db, n_queries,
              n_train, all_threads, train_threads, reuse, held_out) -> None:  # fmt: skip
    """Recall against latency for FLOPs, L1 and dense (faiss flat/IVF-PQ/HNSW, PCA)."""
    from .experiments import plot_activation, plot_curve, speed_recall, train_models

    data, unseen = _data(dataset, settings.seed, held_out, n_train, None)
    threads = settings.threads or 1
    counts = tuple(range(1, threads + 1)) if all_threads else (threads,)
    from leanml.core.threads import thread_limits

    from .estimators import SparseRetriever

    tag = f"{dataset}{'-heldout' if held_out else ''}"
    model_dir = out / "models" / tag
    if reuse:
        if not model_dir.is_dir():
            raise InputError(f"--reuse: no saved models in {model_dir}")
        saved = ("flops", "l1", "dense")
        models = {n: SparseRetriever.load(model_dir / n) for n in saved if (model_dir / n).is_dir()}
        echo(f"loaded {', '.join(models)} from {model_dir}")
    else:
        with thread_limits(train_threads):
            models = train_models(
                data, epochs, seed=settings.seed, batch_size=batch_size, echo=echo,
                overrides={"flops": {"lam": lam_flops}, "l1": {"lam": lam_l1}},
            )  # fmt: skip
        for name, m in models.items():
            m.save(model_dir / name)
    evald = unseen if unseen is not None else data
    rows, activation = speed_recall(models, evald, n_db=n_db, n_queries=n_queries,
                                    threads=counts, seed=settings.seed, echo=echo)  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    stem = f"curve-{tag}-t{threads}"
    record = {"dataset": dataset, "held_out": held_out, "threads": threads, "epochs": epochs,
              "lam_flops": lam_flops, "lam_l1": lam_l1, "n_db": n_db, "rows": rows,
              "history": {k: m.history_ for k, m in models.items()}}  # fmt: skip
    (out / f"{stem}.json").write_text(json.dumps(record, indent=2, default=float))
    print_rows(f"speed vs recall on {evald.name}, threads {counts}", _rounded(rows))
    try:
        for n in counts:
            plot_curve([r for r in rows if r["threads"] == n], out / f"{stem}-{n}.png",
                       f"{evald.name}, {n} thread(s)")  # fmt: skip
        plot_activation(activation, out / f"{stem}-activation.png")
        echo(f"plots: {out / stem}-<threads>.png, {out / (stem + '-activation.png')}")
    except ImportError:
        echo("matplotlib is not installed: no plots (pip install matplotlib)")
    echo(f"record: {out / (stem + '.json')}")
