"""Test helpers for the Dask adapters: a bounded loopback cluster and a worker killed mid-run.

Used by the core's and the plugins' ``tests/test_dask.py``: the same partitions are computed
once in one process and once on a 2-worker ``LocalCluster`` (loopback only), and once more
while one worker is killed (``SIGKILL``) in the middle of a task, which Dask must rerun.
A test module gets a 2-worker cluster as the fixture ``client`` (one per module) with::

    from leanml.core.testing_dask import loopback_client  # noqa: F401
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .dask import _split, dask_client

__all__ = [
    "kill_busy_worker",
    "loopback_client",
    "loopback_cluster",
    "restarted_partitions",
    "slow_partitions",
    "slowed",
]


@contextmanager
def loopback_cluster(n_workers: int = 2, timeout: float = 60) -> Iterator[Any]:
    """A client of ``n_workers`` single-threaded process workers on 127.0.0.1, closed on exit.

    Every wait is bounded by ``timeout`` seconds; a worker limit of 1 GiB keeps a runaway
    test from taking the machine.
    """
    with dask_client(f"local:{n_workers}", memory_limit="1GiB", timeout=timeout) as client:
        yield client


@pytest.fixture(scope="module", name="client")
def loopback_client() -> Iterator[Any]:
    """Fixture ``client``: a 2-worker :func:`loopback_cluster` shared by one test module."""
    with loopback_cluster(2, timeout=60) as c:
        yield c


def _slow(part: Any, index: int, delay: float, marker_dir: str) -> Any:
    # the marker is written as the task starts: a partition rerun after its worker died
    # leaves two markers
    Path(marker_dir, f"{index}-{os.getpid()}-{time.monotonic_ns()}").touch()
    time.sleep(delay)
    return part


def slowed(parts: list[Any], delay: float, marker_dir: str | Path) -> list[Any]:
    """Each partition (any value or Delayed) as a Delayed that takes ``delay`` s to load."""
    from dask import delayed

    return [delayed(_slow, pure=False)(p, i, delay, str(marker_dir)) for i, p in enumerate(parts)]


def slow_partitions(X: Any, n_partitions: int, delay: float, marker_dir: str | Path) -> list[Any]:
    """X split into ``n_partitions`` Delayed partitions that each take ``delay`` s to load.

    Pass the list as ``X`` to :func:`leanml.core.dask.partitioned`.
    """
    return slowed(_split(X, n_partitions), delay, marker_dir)


def restarted_partitions(marker_dir: str | Path) -> list[int]:
    """Partitions of :func:`slow_partitions` that started more than once."""
    starts = Counter(int(p.name.split("-")[0]) for p in Path(marker_dir).iterdir())
    return sorted(i for i, n in starts.items() if n > 1)


def kill_busy_worker(
    client: Any, marker_dir: str | Path, settle: float = 0.1, timeout: float = 30
) -> int:
    """SIGKILL a worker process while it runs a slowed partition; return its pid.

    Waits (at most ``timeout`` s) for the first start marker of :func:`slow_partitions`
    written by a worker of ``client``, lets that partition run ``settle`` s (well below its
    ``delay``), then kills the worker that runs it, so that partition must be rerun. (The
    scheduler's view of which worker is "processing" includes tasks queued behind others,
    and killing on it alone sometimes hit a worker whose slow partition had finished.)
    Loopback clusters only (the pid is local).
    """
    workers = set(client.run(os.getpid).values())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for marker in Path(marker_dir).iterdir():
            pid = int(marker.name.split("-")[1])
            if pid in workers:
                time.sleep(settle)
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.01)
    raise TimeoutError(f"no slowed partition started within {timeout} s")
