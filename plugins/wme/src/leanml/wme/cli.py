"""`leanml wme`: embed, classify, similarity, bench."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from leanml.core import InputError, load_dataset
from leanml.core.console import echo, print_rows, progress
from leanml.core.loaders import open_text

from .embeddings import Embeddings
from .experiments import classify, kernel_ratios, lee_similarity, model_factories, throughput
from .wme import OUTPUTS, RANDOM_WORDS, WordMoversEmbedding

__all__ = ["wme"]

_EMB = click.option(
    "--embeddings",
    "-e",
    default="glove-6b-50d",
    show_default=True,
    help="glove-6b-50d, synonym-shift, or a word2vec/GloVe file.",
)
_R = click.option("--features", "-R", type=click.IntRange(min=1), default=256, show_default=True)


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from None


@click.group("wme")
def wme() -> None:
    """Word Mover's Embedding (Wu, Yen et al., EMNLP 2018)."""


@wme.command("embed")
@click.argument("texts", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--output", "-o", type=click.Path(path_type=Path), required=True, help=".npy file")
@_EMB
@_R
@click.option("--d-max", type=click.IntRange(min=1), default=6, show_default=True)
@click.option("--gamma", default="median", show_default=True, help="Number or 'median'.")
@click.option("--random-words", type=click.Choice(RANDOM_WORDS), default="vocab_sample")
@click.option("--weights", type=click.Choice(["nbow", "tfidf"]), default="nbow")
@click.option(
    "--scale",
    type=click.Choice(OUTPUTS),
    default="standardized",
    show_default=True,
    help="Standardised features, or the paper's R^-1/2 exp(-gamma WMD) (kernel).",
)
@click.pass_obj
def embed_cmd(
    settings, texts, output, embeddings, features, d_max, gamma, random_words, weights, scale
):
    """Texts (one document per line) -> a (documents x R) feature matrix in a .npy file."""
    with open_text(texts) as (fh, _name):
        docs = [line.rstrip("\n") for line in fh if line.strip()]
    if not docs:
        raise InputError(f"{texts}: no documents")
    try:
        g = gamma if gamma == "median" else float(gamma)
    except ValueError:
        raise click.BadParameter(f"--gamma must be a number or 'median', got {gamma!r}") from None
    model = WordMoversEmbedding(
        Embeddings.from_any(embeddings),
        n_features=features,
        d_max=d_max,
        gamma=g,
        random_words=random_words,
        weights=weights,
        output=scale,
        random_state=settings.seed,
    ).fit(docs)
    Z = model.transform(docs)
    np.save(output, Z.astype(np.float32))
    stats = model.document_stats(docs)
    echo(
        f"{Z.shape[0]} documents x {Z.shape[1]} features -> {output}; gamma={model.gamma_:.4g}, "
        f"OOV rate {stats['oov_rate']:.1%}, empty documents {stats['n_empty']}"
    )


@wme.command("classify")
@click.option("--dataset", "-d", default="election-tweets", show_default=True)
@_EMB
@_R
@click.option("--d-max", type=click.IntRange(min=1), default=6, show_default=True)
@click.option("--knn/--no-knn", default=True, help="Include kNN-WMD (slow on big sets).")
@click.option("--subset", type=click.IntRange(min=10), help="Use this many training documents.")
@click.pass_obj
def classify_cmd(settings, dataset, embeddings, features, d_max, knn, subset) -> None:
    """Accuracy and time of WME (R and 4R), kNN-WMD, TF-IDF and mean vectors on one set."""
    data = load_dataset(dataset, seed=settings.seed)
    if subset:
        data = data.subset(n_train=subset, n_test=max(10, subset // 3), seed=settings.seed)
    if dataset == "synonym-shift" and embeddings == "glove-6b-50d":
        embeddings = "synonym-shift"  # the generator's own vectors
    emb = Embeddings.from_any(embeddings)
    rows = classify(data, model_factories(emb, features, settings.seed, knn, d_max), progress)
    print_rows(f"{dataset}: {data.n_train} train / {data.n_test} test documents", rows)
    _record(settings, f"wme-classify-{dataset}", rows)


@wme.command("similarity")
@_EMB
@_R
@click.pass_obj
def similarity_cmd(settings, embeddings, features) -> None:
    """Lee corpus: correlation of WME, TF-IDF and mean-vector similarity with humans."""
    data = load_dataset("lee", seed=settings.seed)
    rows = lee_similarity(data, Embeddings.from_any(embeddings), features, settings.seed)
    print_rows("Lee: correlation with 1225 human similarity judgements", rows)
    _record(settings, "wme-similarity-lee", rows)


@wme.command("bench")
@click.option("--n", "ns", default="10,50,200,500", show_default=True, help="Document lengths.")
@click.option("--D", "Ds", default="1,3,6,10,21", show_default=True, help="Random-doc lengths.")
@click.option("--threads", "thread_list", default="1,2", show_default=True)
@click.option("--docs", type=click.IntRange(min=10), default=2000, show_default=True)
@_R
@_EMB
@click.pass_obj
def bench_cmd(settings, ns, Ds, thread_list, docs, features, embeddings) -> None:
    """Kernel speed against ot.emd2, and WME throughput at several thread counts."""
    rows = kernel_ratios(_ints(ns), _ints(Ds), seed=settings.seed)
    print_rows("exact WMD solve on GloVe word costs: leanml vs POT emd_c and ot.emd2", rows)
    data = load_dataset("election-tweets", seed=settings.seed)
    texts = list(data.X_train[:docs])
    emb = Embeddings.from_any(embeddings)
    tput = throughput(texts, emb, features, _ints(thread_list), settings.seed)
    print_rows(f"WME transform throughput, {len(texts)} tweets", tput)
    _record(settings, "wme-bench", {"kernel": rows, "throughput": tput})


def _record(settings, stem: str, payload) -> None:
    settings.out.mkdir(parents=True, exist_ok=True)
    path = settings.out / f"{stem}.json"
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    echo(f"record: {path}")
