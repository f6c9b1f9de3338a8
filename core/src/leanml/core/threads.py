"""One place that caps the thread pools leanml's kernels use: BLAS/OpenMP, Numba, Torch.

Benchmarks and the CLI's ``--threads`` go through here so that every plugin's timings are
taken with the same, stated thread counts.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

__all__ = ["set_threads", "thread_limits"]


def set_threads(n: int) -> None:
    """Cap every thread pool at ``n`` for the rest of the process (the CLI's ``--threads``).

    The environment variables reach libraries and Numba pools that start later; pools that
    are already running are capped directly.
    """
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ["NUMBA_NUM_THREADS"] = str(n)
    if importlib.util.find_spec("numba"):
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    if importlib.util.find_spec("threadpoolctl"):
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)


@contextmanager
def thread_limits(n: int) -> Iterator[int]:
    """Cap BLAS/OpenMP, Numba and (if imported) Torch at ``n`` threads inside the block.

    Numba is capped at the size of its pool if that is smaller; the previous settings are
    restored on exit. Yields ``n``.
    """
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    with ExitStack() as stack:
        if importlib.util.find_spec("numba"):
            import numba

            before = numba.get_num_threads()
            numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
            stack.callback(numba.set_num_threads, before)
        if "torch" in sys.modules:
            torch = sys.modules["torch"]
            before_torch = torch.get_num_threads()
            torch.set_num_threads(n)
            stack.callback(torch.set_num_threads, before_torch)
        # last, so it also caps the OpenMP runtime that importing Numba may have loaded
        if importlib.util.find_spec("threadpoolctl"):
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=n))
        yield n
