"""The issue's large-R run, resumable: ``python benchmarks/large_r_run.py --out DIR``.

Per data set (R8, 20 Newsgroups; the paper's splits): kNN-WMD's k by leave-one-out on 1,000
seeded training documents, kNN-WMD (RWMD-pruned, exact) on the whole R8 test set and on
``--n-test`` seeded 20 Newsgroups test documents (the issue's acceptance), then WME at
each R on the same test documents; accuracies with 95% bootstrap intervals and seconds,
written to ``DIR/<data set>.json``. Both kNN-WMD searches save their neighbours to ``DIR``
after every chunk of queries: rerun the same command after an interruption and it
continues where it stopped; each model's result is written as soon as it is measured.
kNN-WMD's seconds are its search (fit + queries), with the leave-one-out's beside them
(``loo_seconds``); a resumed run times only what it redid. Threads: ``NUMBA_NUM_THREADS``.
Not part of the test or benchmark suites (hours of CPU).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from leanml.wme import KNNWMD, WMEClassifier
from leanml.wme.checkpoint import kneighbors_checkpointed
from leanml.wme.datasets import glove_6b_50d, load
from leanml.wme.experiments import bootstrap_ci, choose_k_loo


def run(name: str, out: Path, n_test: int, features: list[int], knn_only: bool) -> dict:
    data, emb = load(name), glove_6b_50d()
    y_train = np.asarray(data.y_train)
    rng = np.random.default_rng(0)
    n = data.n_test if name == "reuters-r8" else min(n_test, data.n_test)
    test = np.sort(rng.choice(data.n_test, size=n, replace=False))
    X_test, y_test = [data.X_test[i] for i in test], np.asarray(data.y_test)[test]
    path = out / f"{name}.json"
    rows = json.loads(path.read_text()) if path.exists() else {}

    def record(model: str, pred: np.ndarray, seconds: float, **extra) -> None:
        # written after every model, so an interrupted run keeps what it measured
        correct = pred == y_test
        lo, hi = bootstrap_ci(correct)
        rows[model] = {"accuracy": float(correct.mean()), "ci95": [lo, hi], "seconds": seconds}
        rows[model].update(extra, load1=Path("/proc/loadavg").read_text().split()[0])
        rows["n_test"] = len(test)
        path.write_text(json.dumps(rows, indent=1))
        acc = f"{correct.mean():.4f} ({lo:.4f}-{hi:.4f})"
        print(f"{name} {model}: {acc}, {seconds:.0f} s", flush=True)

    t0 = time.perf_counter()
    k, loo = choose_k_loo(emb, data.X_train, y_train, checkpoint=out / f"{name}-loo.npz")
    loo_s = time.perf_counter() - t0
    rows["k"], rows["loo"] = k, {str(key): v for key, v in loo.items()}
    t0 = time.perf_counter()
    knn = KNNWMD(emb, n_neighbors=k).fit(data.X_train, y_train)
    _, idx = kneighbors_checkpointed(
        knn, X_test, out / f"{name}-knn-k{k}.npz", log=lambda m: print(f"  {name}: {m}", flush=True)
    )
    # seconds of this process only: a resumed search or leave-one-out reports what it redid
    record("knn-wmd", knn.vote(idx), time.perf_counter() - t0, loo_seconds=loo_s)
    for R in [] if knn_only else features:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            t0 = time.perf_counter()
            clf = WMEClassifier(emb, n_features=R, random_state=0).fit(data.X_train, y_train)
            record(f"wme-R{R}", clf.predict(X_test), time.perf_counter() - t0)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="checkpoints and results")
    p.add_argument("--data", default="reuters-r8,20newsgroups")
    p.add_argument("--n-test", type=int, default=1000, help="seeded 20NG test documents")
    p.add_argument("--features", default="256,512,1024,4096", help="WME's R values")
    p.add_argument("--knn-only", action="store_true", help="skip WME")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.data.split(","):
        run(name, args.out, args.n_test, [int(r) for r in args.features.split(",")], args.knn_only)


if __name__ == "__main__":
    main()
