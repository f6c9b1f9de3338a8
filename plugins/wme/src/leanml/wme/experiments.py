"""The experiments behind the CLI, the demo and the README tables.

- :func:`classify`: fit and score several text classifiers on one data set, timed.
- :func:`lee_similarity`: correlation of document similarities with human scores.
- :func:`kernel_ratios`: the exact WMD kernel against POT's ``emd_c`` and ``ot.emd2``.
- :func:`throughput`: WME feature generation rate (documents x R per second).
- :func:`norm_diagnostics`: how much of the WME features is the documents' word-vector norm.
- :func:`choose_k_loo`: kNN-WMD's k by leave-one-out on (a sample of) the training split.
- :func:`bootstrap_ci`: a percentile bootstrap interval of an accuracy.
- :func:`knn_pruning`: how many exact WMDs kNN-WMD's bounds avoid.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import pearsonr, spearmanr

from leanml.core import Dataset

from . import _kernels as K
from .embeddings import Embeddings
from .estimators import KNNWMD, WMEClassifier, _unit
from .peers import MeanVectors, SIFEmbedding, mean_vectors_svc, tfidf_svc
from .wme import WordMoversEmbedding

__all__ = [
    "bootstrap_ci",
    "choose_k_loo",
    "classify",
    "compile_models",
    "kernel_ratios",
    "knn_pruning",
    "lee_similarity",
    "model_factories",
    "norm_diagnostics",
    "throughput",
]


def _identity(it: Iterable[Any], description: str = "") -> Iterable[Any]:
    return it


def model_factories(
    emb: Embeddings, R: int, seed: int, knn: bool = True, d_max: int = 6
) -> dict[str, Callable[[], Any]]:
    """The demo's line-up: WME (R and 4R), kNN-WMD, TF-IDF, mean vectors.

    WME uses ``gamma_scale=2, C=0.1``: the best of gamma_scale in {1, 2, 4} x C in
    {0.01, 0.1, 1} by 3-fold cross-validation on the election-tweets training split (R=2048)
    with 0.1.1's defaults (``random_words="box_unit"``); not re-tuned for ``vocab_sample``.
    """

    def wme(R: int) -> Callable[[], Any]:
        return lambda: WMEClassifier(
            emb, n_features=R, d_max=d_max, gamma_scale=2.0, C=0.1, random_state=seed
        )

    out: dict[str, Callable[[], Any]] = {
        f"wme R={R}": wme(R),
        f"wme R={4 * R}": wme(4 * R),
        "tfidf-svc": tfidf_svc,
        "mean-vectors-svc": lambda: mean_vectors_svc(emb),
    }
    if knn:
        out["knn-wmd (leanml)"] = lambda: KNNWMD(emb, n_neighbors=5)
    return out


def compile_models(data: Dataset, factories: dict[str, Callable[[], Any]]) -> None:
    """Fit and run every model on a few documents of ``data``.

    Numba compiles (or loads from its cache) each kernel on first use, tens of seconds in a
    fresh environment; call this before timing so no measurement includes it.
    """
    scrap = data.subset(n_train=min(60, data.n_train), n_test=min(10, data.n_test), seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for make in factories.values():
            make().fit(scrap.X_train, scrap.y_train).predict(scrap.X_test)


def classify(
    data: Dataset,
    factories: dict[str, Callable[[], Any]],
    progress: Callable[..., Iterable[Any]] = _identity,
) -> list[dict[str, Any]]:
    """Accuracy, fit and predict seconds of each model on the data set's split.

    Models are compiled first (:func:`compile_models`), so no timed row pays for Numba.
    """
    compile_models(data, factories)
    rows = []
    for name in progress(list(factories), description=f"models on {data.name}"):
        model = factories[name]()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # empty-document counts
            t0 = time.perf_counter()
            model.fit(data.X_train, data.y_train)
            t1 = time.perf_counter()
            pred = model.predict(data.X_test)
            t2 = time.perf_counter()
        rows.append(
            {
                "model": name,
                "accuracy": float(np.mean(np.asarray(pred) == np.asarray(data.y_test))),
                "fit_s": t1 - t0,
                "predict_s": t2 - t1,
                "total_s": t2 - t0,
            }
        )
    return rows


def lee_similarity(data: Dataset, emb: Embeddings, R: int = 1024, seed: int = 0) -> list[dict]:
    """Pearson and Spearman correlation with the 1225 human Lee pairs, per method.

    WME is fitted (unsupervised) on the Lee background corpus; TF-IDF and SIF's word
    frequencies and principal direction on background + Lee.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    human = np.asarray(data.metadata["human"])
    iu = np.triu_indices(len(data.X_test), 1)
    target = human[iu]

    def scores(Z: np.ndarray) -> np.ndarray:
        U = _unit(np.asarray(Z, dtype=np.float64))
        return (U @ U.T)[iu]

    wme = WordMoversEmbedding(emb, n_features=R, output="kernel", random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        methods = {
            f"wme R={R} cosine": scores(wme.fit(data.X_train).transform(data.X_test)),
            "tfidf cosine": scores(
                TfidfVectorizer(sublinear_tf=True, stop_words="english")
                .fit(list(data.X_train) + list(data.X_test))
                .transform(data.X_test)
                .toarray()
            ),
            "mean-vector cosine": scores(MeanVectors(emb).fit(data.X_test).transform(data.X_test)),
            "SIF cosine": scores(
                SIFEmbedding(emb).fit(list(data.X_train) + list(data.X_test)).transform(data.X_test)
            ),
        }
    return [
        {
            "method": name,
            "pearson": float(pearsonr(s, target)[0]),
            "spearman": float(spearmanr(s, target)[0]),
        }
        for name, s in methods.items()
    ]


def _time(fn: Callable[[], Any], reps: int) -> float:
    fn()  # warm-up: JIT compilation and caches out of the measurement
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def _cost_matrices(
    costs: str, n: int, D: int, instances: int, rng: np.random.Generator, d: int
) -> list[np.ndarray]:
    """``"gaussian"``: standard normal points in d dimensions; ``"glove"``: n distinct words
    and D distinct random words, both among GloVe 6B 50d's 20,000 most frequent words (the
    table is ordered by frequency), as WME's ``vocab_sample`` draws them."""
    if costs == "gaussian":
        return [
            K.pair_costs(rng.standard_normal((n, d)), rng.standard_normal((D, d)))
            for _ in range(instances)
        ]
    from .datasets import glove_6b_50d

    V = np.asarray(glove_6b_50d().vectors[:20_000], dtype=np.float64)
    out = []
    for _ in range(instances):
        pick = rng.choice(len(V), size=n + D, replace=False)
        out.append(K.pair_costs(V[pick[:n]], V[pick[n:]]))
    return out


def kernel_ratios(
    ns: Iterable[int],
    Ds: Iterable[int],
    costs: str = "glove",
    d: int = 300,
    seed: int = 0,
    budget: float = 0.02,
    instances: int = 5,
    runs: int = 3,
) -> list[dict[str, Any]]:
    """Microseconds per exact WMD solve (n words x D random words): leanml, POT's raw
    ``emd_c`` and POT's ``ot.emd2`` wrapper, on the same problems.

    Each cell solves the same ``instances`` random problems (document weights ``rand``
    normalised, random-document weights ``1/D``) with every solver on the same cost matrices
    (``costs``: ``"glove"`` or ``"gaussian"`` in ``d`` dimensions; built outside the timing).
    Each of ``runs`` runs times every solver once, best of 3 repeats of about ``budget``
    seconds, interleaved so that load changes hit all solvers; the row gives the median
    time over runs and the range of the per-run speed-ups.
    """
    import ot
    from ot.lp.emd_wrap import emd_c  # POT's C++ network simplex without the Python wrapper

    rng = np.random.default_rng(seed)
    rows = []
    for n in ns:
        for D in Ds:
            problems = []
            for C in _cost_matrices(costs, n, D, instances, rng, d):
                a = rng.random(n)
                problems.append((a / a.sum(), np.full(D, 1.0 / D), np.ascontiguousarray(C)))
            diff = max(abs(K.emd_cost(*p)[0] - float(ot.emd2(*p))) for p in problems)
            diff_c = max(abs(K.emd_cost(*p)[0] - emd_c(*p, 100_000, 1)[1]) for p in problems)

            solvers = {
                "leanml": lambda ps=problems: [K.emd_cost(*p) for p in ps],
                "emd_c": lambda ps=problems: [emd_c(*p, 100_000, 1) for p in ps],
                "ot.emd2": lambda ps=problems: [ot.emd2(*p) for p in ps],
            }
            reps = {k: max(1, int(budget / max(_time(f, 1), 1e-7))) for k, f in solvers.items()}
            times: dict[str, list[float]] = {k: [] for k in solvers}
            for _ in range(runs):
                for k, f in solvers.items():
                    times[k].append(_time(f, reps[k]) / instances)
            vs_c = np.array(times["emd_c"]) / np.array(times["leanml"])
            vs_w = np.array(times["ot.emd2"]) / np.array(times["leanml"])
            rows.append(
                {
                    "costs": costs,
                    "n": n,
                    "D": D,
                    "leanml_us": float(np.median(times["leanml"])) * 1e6,
                    "emd_c_us": float(np.median(times["emd_c"])) * 1e6,
                    "ot.emd2_us": float(np.median(times["ot.emd2"])) * 1e6,
                    "vs_emd_c_min": float(vs_c.min()),
                    "vs_emd_c_max": float(vs_c.max()),
                    "vs_emd2_min": float(vs_w.min()),
                    "vs_emd2_max": float(vs_w.max()),
                    "abs_diff": max(diff, diff_c),
                }
            )
    return rows


def throughput(
    texts: list[str], emb: Embeddings, R: int, threads: Iterable[int], seed: int = 0
) -> list[dict[str, Any]]:
    """Documents x R per second at each thread count, best of 3.

    Two stages: ``transform`` (everything: tokenising, OOV lookup, ground costs, solves) and
    ``wmd`` (the ground costs and the parallel solves on already tokenised documents), so the
    serial share of the end-to-end figure shows.
    """
    import numba

    wme = WordMoversEmbedding(emb, n_features=R, random_state=seed).fit(texts)
    docs = wme._documents(texts)
    stages = {"transform": lambda: wme.transform(texts), "wmd": lambda: wme._distances(docs)}
    rows = []
    base: dict[str, float] = {}
    for t in threads:
        numba.set_num_threads(min(t, numba.config.NUMBA_NUM_THREADS))
        for stage, fn in stages.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                secs = _time(fn, 1)
            rate = len(texts) * R / secs
            base.setdefault(stage, rate)
            rows.append(
                {"stage": stage, "threads": t, "docs": len(texts), "R": R, "seconds": secs,
                 "doc_R_per_s": rate, "speedup": rate / base[stage]}
            )  # fmt: skip
    return rows


def norm_diagnostics(
    data: Dataset, emb: Embeddings, kinds: Iterable[str], R: int = 256, seed: int = 0
) -> list[dict[str, Any]]:
    """Per ``random_words`` kind: what the WME features of the training documents encode.

    - ``corr_norm``: correlation between a document's mean WMD to the R random documents and
      its mean word-vector norm (nBOW-weighted);
    - ``pc1_share``: fraction of the centred feature variance in the first principal
      direction (``exp(-gamma WMD)``, gamma = 1 / median);
    - ``accuracy``: the default :class:`WMEClassifier` (standardised features + LinearSVC).
    """
    from .documents import to_documents, tokenize

    docs = to_documents(tokenize(data.X_train), emb)
    norms = np.linalg.norm(np.asarray(emb.vectors[docs.rows], dtype=np.float64), axis=1)
    owner = np.repeat(np.arange(docs.n_docs), np.diff(docs.indptr))
    mean_norm = np.bincount(owner, weights=docs.weights() * norms, minlength=docs.n_docs)
    ok = ~docs.empty
    rows = []
    for kind in kinds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            clf = WMEClassifier(emb, n_features=R, random_words=kind, random_state=seed)
            acc = clf.fit(data.X_train, data.y_train).score(data.X_test, data.y_test)
            dist = clf.wme_.wmd_to_random_documents(data.X_train)[ok]
        Z = np.exp(-clf.wme_.gamma_ * dist)
        s = np.linalg.svd(Z - Z.mean(axis=0), compute_uv=False) ** 2
        rows.append(
            {
                "random_words": kind,
                "corr_norm": float(np.corrcoef(dist.mean(axis=1), mean_norm[ok])[0, 1]),
                "pc1_share": float(s[0] / s.sum()),
                "accuracy": float(acc),
            }
        )
    return rows


def choose_k_loo(
    emb: Embeddings,
    X: Sequence[Any],
    y: np.ndarray,
    ks: Sequence[int] = (1, 3, 5, 7, 9, 11, 15, 19),
    n_queries: int | None = 1000,
    seed: int = 0,
    checkpoint: str | Path | None = None,
) -> tuple[int, dict[int, float]]:
    """kNN-WMD's k by leave-one-out accuracy on the training split.

    Each of ``n_queries`` seeded training documents (all if None) is classified by its
    nearest *other* training documents (exact, RWMD-pruned search for ``max(ks) + 1``
    neighbours, itself dropped). Returns the best k (the smallest among ties) and every k's
    accuracy. With ``checkpoint`` (an ``.npz`` path) the search is resumable
    (:func:`~leanml.wme.checkpoint.kneighbors_checkpointed`).
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    pick = (
        np.arange(len(y))
        if n_queries is None or n_queries >= len(y)
        else (np.sort(rng.choice(len(y), size=n_queries, replace=False)))
    )
    knn = KNNWMD(emb, n_neighbors=max(ks) + 1).fit(X, y)
    queries = [X[i] for i in pick]
    if checkpoint is None:
        _, idx = knn.kneighbors(queries)
    else:
        from .checkpoint import kneighbors_checkpointed

        _, idx = kneighbors_checkpointed(knn, queries, checkpoint)
    acc = {}
    for k in ks:
        correct = 0
        for row, q in zip(idx, pick, strict=True):
            near = [j for j in row if j >= 0 and j != q][:k]
            if not near:
                continue
            labels, counts = np.unique(y[near], return_counts=True)
            top = set(labels[counts == counts.max()])
            guess = next(y[j] for j in near if y[j] in top)  # ties: the nearest one's label
            correct += guess == y[q]
        acc[k] = correct / len(pick)
    best = max(ks, key=lambda k: (acc[k], -k))
    return best, acc


def bootstrap_ci(
    correct: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of a 0/1 vector (test documents resampled)."""
    correct = np.asarray(correct, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = correct[rng.integers(0, len(correct), size=(n_boot, len(correct)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


def knn_pruning(
    data: Dataset,
    emb: Embeddings,
    n_queries: int,
    prunes: Sequence[str] = ("rwmd", "wcd"),
    k: int = 5,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Exact WMD solves of kNN-WMD per pruning level, on ``n_queries`` seeded test documents
    against the whole training split; ``same_neighbours`` compares each level with the first.
    """
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(data.n_test, size=min(n_queries, data.n_test), replace=False))
    X = [data.X_test[i] for i in pick]
    knn = KNNWMD(emb, n_neighbors=k).fit(data.X_train, data.y_train)
    knn.kneighbors(X[:1])  # compile outside the timing
    rows, first = [], None
    for prune in prunes:
        knn.set_params(prune=prune)
        t0 = time.perf_counter()
        _, idx = knn.kneighbors(X)
        secs = time.perf_counter() - t0
        first = idx if first is None else first
        rows.append(
            {
                "prune": prune,
                "queries": len(X),
                "pairs": knn.n_pairs_,
                "exact_solves": knn.n_solved_,
                "avoided": 1.0 - knn.n_solved_ / knn.n_pairs_,
                "rwmd_pruned": knn.n_rwmd_pruned_,
                "seconds": secs,
                "same_neighbours": bool((idx == first).all()),
            }
        )
    return rows
