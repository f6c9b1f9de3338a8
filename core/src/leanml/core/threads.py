"""One place that caps the thread pools leanml's kernels use: BLAS/OpenMP, Numba, Torch.

Benchmarks and the CLI's ``--threads`` go through here so that every plugin's timings are
taken with the same, stated thread counts.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

__all__ = ["numba_pool_started", "set_threads", "thread_limits"]


def numba_pool_started() -> bool:
    """Whether Numba's parallel thread pool runs in this process (then forking is unsafe)."""
    pool = sys.modules.get("numba.np.ufunc.parallel")
    return bool(pool is not None and getattr(pool, "_is_initialized", False))


def _cap(n: int, start_numba: bool = True) -> list[Callable[[], object]]:
    """Cap Numba, Torch (if imported) and BLAS/OpenMP at ``n``; return the undo calls.

    Capping Numba starts its thread pool; with ``start_numba=False`` a pool that has not
    started is left alone (it reads ``NUMBA_NUM_THREADS`` when it starts).
    """
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    undo: list[Callable[[], object]] = []
    if numba_pool_started() or (start_numba and importlib.util.find_spec("numba")):
        import numba

        undo.append(partial(numba.set_num_threads, numba.get_num_threads()))
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        undo.append(partial(torch.set_num_threads, torch.get_num_threads()))
        torch.set_num_threads(n)
    # last, so it also caps the OpenMP runtime that importing Numba may have loaded
    if importlib.util.find_spec("threadpoolctl"):
        from threadpoolctl import threadpool_limits

        undo.append(threadpool_limits(limits=n).restore_original_limits)
    return undo


def set_threads(n: int) -> None:
    """Cap every thread pool at ``n`` for the rest of the process (the CLI's ``--threads``).

    The environment variables reach libraries and Numba pools that start later (in this
    process or in the children ``leanml run`` forks); pools that are already running are
    capped directly. Numba's pool is not started here, so the process can still fork.
    """
    os.environ["OMP_NUM_THREADS"] = str(n)
    if not numba_pool_started():  # Numba refuses a new pool size once its threads run
        os.environ["NUMBA_NUM_THREADS"] = str(n)
    _cap(n, start_numba=False)


@contextmanager
def thread_limits(n: int) -> Iterator[int]:
    """Cap BLAS/OpenMP, Numba and (if imported) Torch at ``n`` threads inside the block.

    Numba is capped at the size of its pool if that is smaller; the previous settings are
    restored on exit. Yields ``n``.
    """
    undo = _cap(n)
    try:
        yield n
    finally:
        for restore in reversed(undo):
            restore()
