"""``LEANML_BENCH=smoke`` (CI, tiny) or ``full`` (default); torch pinned to 2 threads."""

from __future__ import annotations

import os

import pytest
import torch

THREADS = int(os.environ.get("LEANML_BENCH_THREADS", "2"))


@pytest.fixture(scope="session")
def bench_size() -> str:
    size = os.environ.get("LEANML_BENCH", "full")
    if size not in ("smoke", "full"):
        raise pytest.UsageError(f"LEANML_BENCH must be smoke or full, got {size!r}")
    return size


@pytest.fixture(scope="session", autouse=True)
def fixed_threads():
    torch.set_num_threads(THREADS)
    return THREADS
