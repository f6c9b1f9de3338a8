"""Pytest fixtures shared by the plugins' benchmark suites.

A plugin's ``benchmarks/conftest.py`` imports them::

    from leanml.core.testing import bench_size, fixed_threads  # noqa: F401

``LEANML_BENCH`` chooses ``smoke`` (CI: tiny sizes, checks that each benchmark runs) or
``full`` (the default: the sizes behind the README tables). ``LEANML_BENCH_THREADS`` (default
2) caps BLAS/OpenMP, Numba and Torch for the whole session, so each run states its threads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .threads import thread_limits

__all__ = ["BENCH_SIZES", "bench_size", "bench_threads", "fixed_threads"]

BENCH_SIZES = ("smoke", "full")


def bench_threads() -> int:
    """Threads for benchmarks: ``LEANML_BENCH_THREADS`` (default 2)."""
    raw = os.environ.get("LEANML_BENCH_THREADS", "2")
    if not raw.isdigit() or int(raw) < 1:
        raise pytest.UsageError(f"LEANML_BENCH_THREADS must be an integer >= 1, got {raw!r}")
    return int(raw)


@pytest.fixture(scope="session")
def bench_size() -> str:
    """``"smoke"`` or ``"full"``, from ``LEANML_BENCH``."""
    size = os.environ.get("LEANML_BENCH", "full")
    if size not in BENCH_SIZES:
        raise pytest.UsageError(f"LEANML_BENCH must be one of {BENCH_SIZES}, got {size!r}")
    return size


@pytest.fixture(scope="session", autouse=True)
def fixed_threads() -> Iterator[int]:
    """Every thread pool capped at :func:`bench_threads` for the session; yields the count."""
    with thread_limits(bench_threads()) as n:
        yield n
