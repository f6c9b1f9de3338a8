"""Benchmark settings: ``LEANML_BENCH=smoke`` (CI, tiny) or ``full`` (default).

Thread counts are fixed for every run: Numba and BLAS/OpenMP use ``LEANML_BENCH_THREADS``
(default 2) threads unless a benchmark pins its own (the per-evaluation comparison with
CRFsuite runs on 1 thread, as CRFsuite does).
"""

from __future__ import annotations

import os

import numba
import pytest
from threadpoolctl import threadpool_limits

THREADS = int(os.environ.get("LEANML_BENCH_THREADS", "2"))


@pytest.fixture(scope="session")
def bench_size() -> str:
    size = os.environ.get("LEANML_BENCH", "full")
    if size not in ("smoke", "full"):
        raise pytest.UsageError(f"LEANML_BENCH must be smoke or full, got {size!r}")
    return size


@pytest.fixture(scope="session", autouse=True)
def fixed_threads():
    numba.set_num_threads(min(THREADS, numba.config.NUMBA_NUM_THREADS))
    with threadpool_limits(limits=THREADS):
        yield THREADS
