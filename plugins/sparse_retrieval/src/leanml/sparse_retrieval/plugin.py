"""leanml hook implementations for sparse_retrieval (lazy: imports nothing heavy)."""

from __future__ import annotations

from collections.abc import Callable

import click

from leanml.core import DatasetSpec, DemoSpec, MetricSpec, ModelSpec, hookimpl
from leanml.core.commands import LazyGroup

from .datasets import FASHION_MNIST_FILES

_PKG = "leanml.sparse_retrieval"
_EST = f"{_PKG}.estimators:SparseRetriever"
#: FLOPs and L1 weights that give a similar mean nnz per row on digits (README sweep).
FLOPS_DEFAULTS = {"regularizer": "flops", "lam": 3.0}
L1_DEFAULTS = {"regularizer": "l1", "lam": 0.03}
DENSE_DEFAULTS = {"regularizer": "none", "activation": "none", "dim": 128}


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """The FLOPs-regularised sparse retriever and its peers (all 1-NN by label)."""
    entries = [
        ("sparse-flops", "FLOPs-regularised sparse embedding + inverted index (Paria 2020)",
         {**FLOPS_DEFAULTS, "index": "sparse"}),
        ("sparse-l1", "same network, L1-regularised (the paper's baseline) + inverted index",
         {**L1_DEFAULTS, "index": "sparse"}),
        ("sparse-flops-scipy", "FLOPs embedding, scipy SpGEMM Q @ D.T + top-k",
         {**FLOPS_DEFAULTS, "index": "scipy"}),
        ("sparse-flops-sdtopn", "FLOPs embedding, sparse-dot-topn fused SpGEMM + top-n",
         {**FLOPS_DEFAULTS, "index": "sdtopn"}),
        ("dense-flat", "same network, dense 128-d head, faiss IndexFlatIP (exact)",
         {**DENSE_DEFAULTS, "index": "faiss-flat"}),
        ("dense-ivfpq", "dense 128-d, faiss IndexIVFPQ",
         {**DENSE_DEFAULTS, "index": "faiss-ivfpq"}),
        ("dense-hnsw", "dense 128-d, faiss IndexHNSWFlat",
         {**DENSE_DEFAULTS, "index": "faiss-hnsw"}),
        ("dense-pca", "dense 128-d reduced to 32 PCA components, faiss IndexFlatIP",
         {**DENSE_DEFAULTS, "index": "faiss-flat", "pca_dim": 32}),
    ]  # fmt: skip
    for name, summary, defaults in entries:
        register(
            ModelSpec(
                name=name,
                summary=summary,
                factory=_EST,
                defaults=defaults,
                tasks=("classification",),
                inputs=("dense", "sparse"),
            )
        )


@hookimpl
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Fashion-MNIST from Debian's dataset-fashion-mnist package."""
    register(
        DatasetSpec(
            name="fashion_mnist",
            summary="Zalando Fashion-MNIST 28x28 grey images, 10 classes, raw pixels 0-255",
            loader=f"{_PKG}.datasets:load_fashion_mnist",
            task="classification",
            source="Debian dataset-fashion-mnist 0.0~git20200523.55506a9-1 (IDX files)",
            licence="MIT (Expat)",
            size="70,000 x 784",
            files=FASHION_MNIST_FILES,
        )
    )


@hookimpl
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    """Recall@10 by label: a query is a hit if one of its 10 nearest rows shares its label."""
    register(
        MetricSpec(
            name="label_recall_at_10",
            summary="fraction of queries with a same-label row among the 10 nearest",
            func=f"{_PKG}.estimators:label_recall_at_10",
            greater_is_better=True,
            needs="scores",
            tasks=("classification",),
        )
    )


@hookimpl
def register_demos(register: Callable[[DemoSpec], None]) -> None:
    """FLOPs vs L1 vs dense on digits: speed-recall table and plots."""
    register(
        DemoSpec(
            name="sparse-retrieval",
            summary="FLOPs vs L1 sparse embeddings vs dense: recall, FLOPs, latency",
            run=f"{_PKG}.demo:run_demo",
        )
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    """`leanml sparse-retrieval ...`."""
    cli.add_command(
        LazyGroup(
            "sparse-retrieval",
            f"{_PKG}.cli:sparse_retrieval",
            help="FLOPs-regularised sparse embeddings and inverted index (Paria et al. 2020).",
        )
    )
