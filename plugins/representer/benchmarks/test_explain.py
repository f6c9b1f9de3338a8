"""The public path: ``RepresenterExplainer.explain`` against one plain GEMM of the same shape.

A linear classifier on synthetic features (the explainer only sees the head's input), fitted
once; ``explain`` then extracts the test features, scores them in float32 against the stored
training features under the memory budget and keeps the top-10 each way. Run with ``-s`` to
print the throughput ratio and the process's peak RSS.
"""

from __future__ import annotations

import resource
import time
import warnings

import pytest
import torch
from torch import nn

from leanml.representer import RepresenterExplainer


@pytest.fixture(scope="module")
def fitted(bench_size):
    n, d, B = (5_000, 64, 64) if bench_size == "smoke" else (200_000, 512, 64)
    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Identity(), nn.Linear(d, 10))
    X = torch.rand(n, d, generator=g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an untrained head: fidelity is not the point here
        ex = RepresenterExplainer(model, None, model[1], lmbda=3e-3, gtol=1e-6).fit(X)
    return ex, torch.rand(B, d, generator=g)


@pytest.mark.benchmark(group="representer-explain")
def test_explain(benchmark, fitted):
    ex, Xt = fitted
    benchmark(lambda: ex.explain(Xt, k=10))


def test_explain_throughput_ratio(fitted, bench_size, fixed_threads):
    ex, Xt = fitted
    F = ex.train_features_
    Ft = torch.cat([Xt, torch.ones(len(Xt), 1)], 1)

    def best(fn, repeats=5):
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    t_mm = best(lambda: torch.mm(Ft, F.T))
    t_explain = best(lambda: ex.explain(Xt, k=10))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(
        f"\nn={F.shape[0]} d={F.shape[1]} B={len(Xt)} threads={fixed_threads}: torch.mm "
        f"{t_mm * 1e3:.1f} ms, explain {t_explain * 1e3:.1f} ms, throughput ratio "
        f"{t_mm / t_explain:.2f}, peak RSS {rss:.0f} MiB"
    )
    if bench_size == "full":
        assert t_mm / t_explain >= 0.5
