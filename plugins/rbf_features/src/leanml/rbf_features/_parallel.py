"""When to open Numba parallel regions at all.

Every parallel region wakes the pool's other threads and waits for them. On a quiet machine
that costs microseconds; on a busy one it costs a scheduler time slice per region: at a load
average of 14 on 2 cores, fitting banana (3,975 x 2) with R = 16 took 0.21 s on 2 threads and
0.003 s on 1. Work below :data:`PARALLEL_WORK` cells (rows x grids x max(features, targets),
about 30 ms of serial work) therefore runs on one thread. The cut-off was measured (plugin
README, "Threads"): with the cut-off disabled, fit + predict on 2 threads against 1 gave
0.89-1.02x at 0.1-1.4 M cells (banana R = 16, shuttle 10,000 rows R = 16), 1.04-1.2x at
1.9-5.1 M (binary problems, where only the binning is parallel) and 1.4-1.8x from 5 M
cells with 10 classes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PARALLEL_WORK", "serial_below"]

PARALLEL_WORK = 1 << 22


@contextmanager
def serial_below(work: int) -> Iterator[None]:
    """Cap Numba at one thread inside the block when ``work`` is below ``PARALLEL_WORK``."""
    import numba

    before = numba.get_num_threads()
    if work >= PARALLEL_WORK or before == 1:
        yield
        return
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)
