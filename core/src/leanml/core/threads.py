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

__all__ = ["set_threads", "thread_limits"]


def _cap(n: int) -> list[Callable[[], object]]:
    """Cap Numba, Torch (if imported) and BLAS/OpenMP at ``n``; return the undo calls."""
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    undo: list[Callable[[], object]] = []
    if importlib.util.find_spec("numba"):
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

    The environment variables reach libraries and Numba pools that start later; pools that
    are already running are capped directly.
    """
    _cap(n)
    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ["NUMBA_NUM_THREADS"] = str(n)


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
