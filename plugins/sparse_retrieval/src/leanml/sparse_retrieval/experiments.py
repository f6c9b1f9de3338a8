"""Speed-versus-recall experiments shared by the CLI ``curve`` command, the demo and the
benchmarks (the protocol of the research notes, §6.4).

One run trains the FLOPs model, the L1 model and a dense model of the same network, embeds
one database (optionally grown with synthetic distractor rows drawn to match the real
embeddings' per-dimension statistics) and one query set, and measures every index on them
with the same thread count:

* task recall@1 / @10 by label (a hit is a same-label row among the k nearest);
* retrieval recall@10 against exact search on the same vectors (isolates the index);
* single-query latency (median ms, one query per call) and batched time per query
  (batches of 256), measured separately, never mixed;
* build seconds, bytes per database row, mean nnz per row, expected FLOPs F and the
  postings actually walked per query.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from leanml.core import Dataset

from .accounting import activation_probability, expected_flops, flops_ratio
from .estimators import SparseRetriever
from .index import to_csr
from .peers import SPARSE_KINDS, make_index

__all__ = [
    "METHODS",
    "measure",
    "plot_activation",
    "plot_curve",
    "speed_recall",
    "synthetic_dense_rows",
    "synthetic_sparse_rows",
    "train_models",
]

#: The three trained models: name -> SparseRetriever parameters (epochs set by the caller).
METHODS: dict[str, dict[str, Any]] = {
    "flops": {"regularizer": "flops", "lam": 3.0},
    "l1": {"regularizer": "l1", "lam": 0.03},
    "dense": {"regularizer": "none", "activation": "none", "dim": 128, "index": "faiss-flat"},
}


def train_models(
    data: Dataset,
    epochs: int,
    seed: int = 0,
    overrides: dict[str, dict[str, Any]] | None = None,
    methods: Sequence[str] = ("flops", "l1", "dense"),
    echo: Callable[[str], None] = lambda s: None,
    **common: Any,
) -> dict[str, SparseRetriever]:
    """Fit the named methods of :data:`METHODS` on ``data``'s train split."""
    models = {}
    for name in methods:
        params = {**METHODS[name], **common, **(overrides or {}).get(name, {})}
        t0 = time.perf_counter()
        m = SparseRetriever(epochs=epochs, random_state=seed, **params)
        m.fit(data.X_train, data.y_train)
        echo(f"trained {name} ({params}) in {time.perf_counter() - t0:.1f} s")
        models[name] = m
    return models


def synthetic_sparse_rows(X: sp.csr_matrix, n: int, rng: np.random.Generator) -> sp.csr_matrix:
    """``n`` rows whose dimension j is non-zero with the empirical p_j of ``X`` (independently)
    and takes values resampled from column j's non-zeros; rows then L2-normalised."""
    csc = sp.csc_matrix(X)
    p = activation_probability(csc)
    counts = rng.binomial(n, p)
    rows, cols, vals = [], [], []
    for j in np.flatnonzero(counts):
        col_vals = csc.data[csc.indptr[j] : csc.indptr[j + 1]]
        rows.append(rng.choice(n, counts[j], replace=False))
        cols.append(np.full(counts[j], j))
        vals.append(rng.choice(col_vals, counts[j]))
    if not rows:
        return sp.csr_matrix((n, X.shape[1]), dtype=np.float32)
    out = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, X.shape[1]),
        dtype=np.float32,
    )
    norms = np.sqrt(np.asarray(out.multiply(out).sum(1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ out, dtype=np.float32)


def synthetic_dense_rows(X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` Gaussian rows with the mean and covariance of ``X``, L2-normalised."""
    mean = X.mean(0)
    cov = np.cov(X, rowvar=False) + 1e-6 * np.eye(X.shape[1])
    L = np.linalg.cholesky(cov)
    out = np.empty((n, X.shape[1]), dtype=np.float32)
    for a in range(0, n, 100_000):
        b = min(n, a + 100_000)
        z = rng.standard_normal((b - a, X.shape[1])) @ L.T + mean
        out[a:b] = z / np.linalg.norm(z, axis=1, keepdims=True)
    return out


def _time_single(index, queries: list, k: int, **kw: Any) -> tuple[np.ndarray, float]:
    """One query per call; returns (ids, median ms)."""
    ids, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        _, i = index.search(q, k, **kw)
        times.append(time.perf_counter() - t0)
        ids.append(i[0])
    return np.array(ids), float(np.median(times) * 1e3)


def _time_batch(index, Q, k: int, batch: int, **kw: Any) -> tuple[np.ndarray, float]:
    """Batches of ``batch`` queries; returns (ids, ms per query)."""
    ids = []
    t0 = time.perf_counter()
    for a in range(0, Q.shape[0], batch):
        ids.append(index.search(Q[a : a + batch], k, **kw)[1])
    return np.concatenate(ids), (time.perf_counter() - t0) * 1e3 / Q.shape[0]


def _label_recall(ids: np.ndarray, db_labels: np.ndarray, y: np.ndarray, k: int) -> float:
    lab = np.where(ids[:, :k] >= 0, db_labels[np.maximum(ids[:, :k], 0)], -(10**9))
    return float(np.mean((lab == y[:, None]).any(1)))


def _overlap(ids: np.ndarray, exact: np.ndarray, k: int) -> float:
    return float(
        np.mean([len(set(a[:k]) & set(b[:k]) - {-1}) / k for a, b in zip(ids, exact, strict=True)])
    )


def _set_threads(index: Any, n: int) -> None:
    if hasattr(index, "n_threads"):
        index.n_threads = n


def measure(
    name: str,
    setting: str,
    kind: str,
    D: Any,
    Q: Any,
    db_labels: np.ndarray,
    y: np.ndarray,
    exact_ids: np.ndarray | None,
    k: int = 10,
    batch: int = 256,
    n_single: int = 200,
    threads: Sequence[int] = (1,),
    options: dict[str, Any] | None = None,
    search_kw: dict[str, Any] | None = None,
    index: Any = None,
    build_s: float = 0.0,
) -> tuple[list[dict[str, Any]], Any]:
    """Build (unless ``index`` is given, built in ``build_s``) and time one index at each
    thread count; return (one row per thread count, index)."""
    options = dict(options or {})
    search_kw = dict(search_kw or {})
    if index is None:
        t0 = time.perf_counter()
        index = make_index(kind, D.shape[1], n_threads=max(threads), **options)
        index.add(D)
        if hasattr(index, "_postings"):
            index._postings()  # CSC build is part of the build time
        build_s = time.perf_counter() - t0
    singles = [Q[i : i + 1] for i in range(min(n_single, Q.shape[0]))]
    base = {
        "method": name,
        "setting": setting,
        "index": kind,
        "N": int(D.shape[0]),
        "d": int(D.shape[1]),
        "build_s": build_s,
        "bytes_per_row": index.memory_bytes() / D.shape[0],
    }
    if sp.issparse(D):
        base["nnz_per_row"] = D.nnz / D.shape[0]
        base["F"] = expected_flops(D, Q)
        base["flops_ratio"] = flops_ratio(D)
    if kind == "sparse" and not search_kw.get("rerank"):
        _, _, touched = index.search(Q, k, return_touched=True, **search_kw)
        base["postings_per_query"] = float(touched.mean())
    rows = []
    for n in threads:
        _set_threads(index, n)
        index.search(singles[0], k, **search_kw)  # warm-up (Numba compile, faiss pools)
        _, ms_single = _time_single(index, singles, k, **search_kw)
        ids, ms_batch = _time_batch(index, Q, k, batch, **search_kw)
        rows.append({
            **base,
            "threads": n,
            "recall@1": _label_recall(ids, db_labels, y, 1),
            "recall@10": _label_recall(ids, db_labels, y, k),
            "exact_overlap@10": _overlap(ids, exact_ids, k) if exact_ids is not None else 1.0,
            "single_ms": ms_single,
            "batch_ms_per_query": ms_batch,
        })  # fmt: skip
    return rows, index


def speed_recall(
    models: dict[str, SparseRetriever],
    data: Dataset,
    *,
    n_db: int | None = None,
    n_queries: int = 1000,
    n_single: int = 200,
    thresholds: Sequence[float | None] = (None, 0.1, 0.25),
    nprobes: Sequence[int] = (4, 16, 64),
    ef_searches: Sequence[int] = (16, 64, 256),
    pca_dims: Sequence[int] = (32,),
    sparse_peers: bool = True,
    threads: Sequence[int] = (1,),
    seed: int = 0,
    echo: Callable[[str], None] = lambda s: None,
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Measure every index on one database and query set; return (rows, per-dim p_j).

    The database is the embedded train split, grown to ``n_db`` rows with synthetic
    distractors (label -1, never relevant) drawn per model from its own embeddings'
    statistics; queries are the first ``n_queries`` test rows. Each index is timed at
    every thread count in ``threads`` (faiss via ``omp_set_num_threads``, the sparse index
    via its query blocks).
    """
    rng = np.random.default_rng(seed)
    q_rows = min(n_queries, data.n_test)
    y = np.asarray(data.y_test)[:q_rows]
    rows: list[dict[str, Any]] = []
    activation: dict[str, np.ndarray] = {}
    common = {"n_single": n_single, "threads": tuple(threads)}
    for name, model in models.items():
        db = model.transform(data.X_train)
        qe = model.transform(data.X_test[:q_rows])
        labels = np.asarray(data.y_train)
        sparse = model.index in SPARSE_KINDS
        n_extra = max(0, (n_db or 0) - db.shape[0])
        if sparse:
            D, Q = to_csr(db), to_csr(qe)
            activation[name] = activation_probability(D)
            if n_extra:
                D = sp.vstack([D, synthetic_sparse_rows(D, n_extra, rng)], format="csr")
        else:
            D, Q = db, qe
            if n_extra:
                D = np.concatenate([D, synthetic_dense_rows(db, n_extra, rng)])
        labels = np.concatenate([labels, np.full(n_extra, -1, dtype=labels.dtype)])
        echo(f"{name}: database {D.shape[0]} x {D.shape[1]}, {q_rows} queries")
        if sparse:
            exact_rows, index = measure(name, "exact", "sparse", D, Q, labels, y, None, **common)
            _, exact_ids = index.search(Q, 10)
            rows += exact_rows
            for t in thresholds:
                if t is None:
                    continue
                rs, _ = measure(name, f"t={t}", "sparse", D, Q, labels, y, exact_ids,
                                index=index, search_kw={"threshold": t},
                                build_s=exact_rows[0]["build_s"], **common)  # fmt: skip
                rows += rs
            if sparse_peers and name == "flops":
                for kind in ("scipy", "sdtopn"):
                    rs, _ = measure(name, "score>0", kind, D, Q, labels, y, exact_ids, **common)
                    rows += rs
        else:
            flat_rows, flat = measure(name, "exact", "faiss-flat", D, Q, labels, y, None, **common)
            _, exact_ids = flat.search(Q, 10)
            rows += flat_rows
            ivf = None
            for nprobe in nprobes:
                if ivf is not None:
                    ivf.index.nprobe = nprobe
                rs, ivf = measure(
                    name, f"nprobe={nprobe}", "faiss-ivfpq", D, Q, labels, y, exact_ids,
                    options={"nprobe": nprobe}, index=ivf,
                    build_s=rows[-1]["build_s"] if ivf is not None else 0.0, **common,
                )  # fmt: skip
                rows += rs
            hnsw = make_index("faiss-hnsw", D.shape[1], n_threads=max(threads))
            t0 = time.perf_counter()
            hnsw.add(D)
            hnsw_build = time.perf_counter() - t0
            for ef in ef_searches:
                hnsw.index.hnsw.efSearch = ef
                rs, _ = measure(name, f"efSearch={ef}", "faiss-hnsw", D, Q, labels, y,
                                exact_ids, index=hnsw, build_s=hnsw_build, **common)  # fmt: skip
                rows += rs
            for p in pca_dims:
                mean = db.mean(0)
                _, _, vt = np.linalg.svd(db - mean, full_matrices=False)
                proj = vt[:p].T.astype(np.float32)
                Dp = (D - mean) @ proj
                Dp /= np.maximum(np.linalg.norm(Dp, axis=1, keepdims=True), 1e-12)
                Qp = (Q - mean) @ proj
                Qp /= np.maximum(np.linalg.norm(Qp, axis=1, keepdims=True), 1e-12)
                rs, _ = measure(f"{name}-pca{p}", "exact", "faiss-flat", Dp.astype(np.float32),
                                Qp.astype(np.float32), labels, y, exact_ids, **common)  # fmt: skip
                rows += rs
    return rows, activation


def plot_curve(rows: list[dict[str, Any]], path: Any, title: str = "") -> None:
    """Recall@10 (by label) against single-query latency, one line per method/index."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(f"{r['method']} / {r['index']}", []).append(r)
    for label, rs in groups.items():
        for ax, key in zip(axes, ("single_ms", "batch_ms_per_query"), strict=True):
            pts = sorted((r[key], r["recall@10"]) for r in rs)
            ax.plot([x for x, _ in pts], [v for _, v in pts], "o-", label=label)
    for ax, key in zip(axes, ("single query, ms", "batched (256), ms per query"), strict=True):
        ax.set_xscale("log")
        ax.set_xlabel(key)
        ax.set_ylabel("recall@10 (same label)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_activation(activation: dict[str, np.ndarray], path: Any, title: str = "") -> None:
    """Per-dimension activation probability p_j, sorted, for each sparse model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, p in activation.items():
        ax.plot(np.sort(p)[::-1], label=f"{name}: Σp={p.sum():.1f}, Σp²={np.dot(p, p):.3f}")
    ax.set_xlabel("dimension (sorted by p_j)")
    ax.set_ylabel("p_j = P(x_j ≠ 0)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title(title or "per-dimension activation probability")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
