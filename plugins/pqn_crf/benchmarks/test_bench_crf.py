"""Prox-QN and its kernels against CRFsuite, measured in this one process.

Run ``LEANML_BENCH=full pytest benchmarks -s`` for the README's figures (full OCR
letters: 6,877 words, 52,152 letters, 26 labels). Each test prints its rows and writes
them to ``$LEANML_BENCH_OUT`` (default: a temporary directory).
"""

from __future__ import annotations

import os
import time

import numba
import numpy as np
import pytest

from leanml.core.testing import report
from leanml.pqn_crf import CRF, _kernels
from leanml.pqn_crf.chain import ChainObjective
from leanml.pqn_crf.datasets import load_ocr
from leanml.pqn_crf.experiments import gap_table, trace_solvers
from leanml.pqn_crf.peers import CRFsuiteCRF

C1 = 10.0  # sparse: about a third of the 4,030 weights non-zero at the optimum


def ocr(bench_size):
    data = load_ocr(test_folds=(), n_words=150 if bench_size == "smoke" else None, seed=0)
    return data.X_train, data.y_train


def objective(X, Y):
    crf = CRF(c1=C1, pairs="all")
    return ChainObjective(crf._encode(X, Y, fit=True)), crf


def test_evaluation_time_one_thread_vs_crfsuite(bench_size, bench_out):
    """One loss+gradient evaluation on 1 thread against CRFsuite's per-evaluation time.

    CRFsuite's figure is its own log's seconds divided by its line-search trials over a
    short run; ours is the best of several evaluations at representative weights (those
    after CRFsuite's run), alternated with CRFsuite runs so both see the same machine load.
    """
    X, Y = ocr(bench_size)
    obj, crf = objective(X, Y)
    iters = 5 if bench_size == "smoke" else 15
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        ours, theirs = [], []
        for _ in range(3):
            peer = CRFsuiteCRF(c1=C1, max_iterations=iters).fit(X, Y)
            tr = peer.objective_trace()
            theirs.append(tr["seconds"][-1] / tr["evals"][-1])
            W, T = peer.weights_for(crf.attributes_, crf.classes_)
            w = np.concatenate([W.ravel(), T.ravel()])
            obj(w)  # compiled and warm
            for _ in range(3):
                t0 = time.perf_counter()
                obj(w)
                ours.append(time.perf_counter() - t0)
        data = obj.data
        U = data.scores(W)
        out = np.empty_like(U)
        vals = np.empty(data.offsets.size - 1)
        fb = []
        for _ in range(5):
            t0 = time.perf_counter()
            _kernels.chain_forward_backward(
                U, T, data.offsets, data.y, data.chunks, True, out, vals, False
            )
            fb.append(time.perf_counter() - t0)
    finally:
        numba.set_num_threads(before)
    rows = [
        {
            "tokens": data.n_tokens,
            "leanml_eval_s": min(ours),
            "leanml_forward_backward_s": min(fb),
            "crfsuite_eval_s": min(theirs),
            "eval_ratio_leanml_over_crfsuite": min(ours) / min(theirs),
            "fb_ratio_leanml_over_crfsuite": min(fb) / min(theirs),
        }
    ]
    report(f"eval-1thread-{bench_size}", rows, bench_out)
    if bench_size == "full":
        assert min(ours) / min(theirs) <= 1.5


@pytest.mark.parametrize("m", [6, 20])
def test_prox_qn_vs_crfsuite_to_gap(bench_size, fixed_threads, m, bench_out):
    """Evaluations and seconds to relative gaps 1e-2..1e-6: Prox-QN with memory ``m`` (6 is
    CRFsuite's default, 20 ours) as ``CRF.fit`` runs it (shrinking "auto", default inner
    schedule; fixed threads) vs CRFsuite OWL-QN at m = 6 (1 thread), same objective (all
    pairs), F* = the lower of the two long runs."""
    X, Y = ocr(bench_size)
    budget = 40 if bench_size == "smoke" else 1500
    traces = trace_solvers(
        X, Y, C1, ("prox-qn", "crfsuite"), max_evals=budget, m=m, crfsuite_memory=6,
        pairs="all", n_threads=fixed_threads,
    )  # fmt: skip
    f_star, rows = gap_table(traces, gaps=(1e-2, 1e-3, 1e-4, 1e-6))
    ratio = {"solver": "ratio prox-qn / crfsuite"}
    for key in rows[0]:
        if key.startswith(("evals@", "s@")) and rows[0][key] and rows[1][key]:
            ratio[key] = rows[0][key] / rows[1][key]
    rows.append(ratio)
    for row in rows[:2]:
        name = row["solver"]
        row.update({"wall": traces[name]["wall"], "m": traces[name]["m"], "F*": f_star})
        row["threads"] = fixed_threads if name == "prox-qn" else 1
        row["load1"] = os.getloadavg()[0]
    report(f"gap-{bench_size}-m{m}-threads{fixed_threads}", rows, bench_out)
    if bench_size == "full" and m == 20:
        assert ratio["evals@0.0001"] <= 0.6


@pytest.mark.parametrize("K", [5, 26, 45])
def test_forward_backward_kernel(benchmark, bench_size, K):
    """The scaled forward-backward kernel alone on synthetic chains (pytest-benchmark)."""
    rng = np.random.default_rng(0)
    n_seq = 200 if bench_size == "smoke" else 5000
    lengths = rng.integers(5, 15, size=n_seq)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    n = int(offsets[-1])
    U = rng.normal(size=(n, K))
    T = rng.normal(size=(K, K))
    y = rng.integers(0, K, size=n).astype(np.int64)
    chunks = np.linspace(0, n_seq, 65).astype(np.int64)
    out = np.empty_like(U)
    vals = np.empty(n_seq)
    benchmark.group = "forward-backward"
    benchmark.extra_info["tokens"] = n
    benchmark(_kernels.chain_forward_backward, U, T, offsets, y, chunks, True, out, vals, False)
