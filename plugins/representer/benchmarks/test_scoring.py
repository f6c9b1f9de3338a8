"""Scoring throughput: streaming top-k against one plain GEMM of the same shape.

Synthetic features (the kernel does not care where they come from): n training points of
dimension d, B test points, top-10 each way. The baseline is a single ``torch.mm`` of
(B, d) x (d, n), the floor any exact scorer must pay. Run with ``-s`` to print the ratio.
"""

from __future__ import annotations

import time

import pytest
import torch

from leanml.representer._kernels import stream_topk


@pytest.fixture(scope="module")
def problem(bench_size):
    n, d, B = (5_000, 64, 8) if bench_size == "smoke" else (200_000, 512, 64)
    g = torch.Generator().manual_seed(0)
    F = torch.rand(n, d, generator=g)
    alpha = torch.randn(n, 10, generator=g)
    Ft = torch.rand(B, d, generator=g)
    target = torch.randint(0, 10, (B,), generator=g)
    return F, alpha, Ft, target


def _chunks(F, alpha, size=65_536):
    return [(s, F[s : s + size], alpha[s : s + size]) for s in range(0, F.shape[0], size)]


@pytest.mark.benchmark(group="representer-scoring")
def test_stream_topk(benchmark, problem):
    F, alpha, Ft, target = problem
    benchmark(lambda: stream_topk(Ft, _chunks(F, alpha), target, 10))


@pytest.mark.benchmark(group="representer-scoring")
def test_plain_mm(benchmark, problem):
    F, _, Ft, _ = problem
    benchmark(lambda: torch.mm(Ft, F.T))


def test_throughput_ratio(problem, bench_size, fixed_threads):
    F, alpha, Ft, target = problem

    def best(fn, repeats=5):
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    t_mm = best(lambda: torch.mm(Ft, F.T))
    t_topk = best(lambda: stream_topk(Ft, _chunks(F, alpha), target, 10))
    print(
        f"\nn={F.shape[0]} d={F.shape[1]} B={Ft.shape[0]} threads={fixed_threads}: "
        f"torch.mm {t_mm * 1e3:.1f} ms, stream_topk {t_topk * 1e3:.1f} ms, "
        f"throughput ratio {t_mm / t_topk:.2f}"
    )
    if bench_size == "full":
        assert t_mm / t_topk >= 0.5
