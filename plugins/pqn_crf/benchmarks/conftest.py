"""Benchmark settings from :mod:`leanml.core.testing` (``LEANML_BENCH``, fixed threads).

The per-evaluation comparison with CRFsuite pins its own single thread, as CRFsuite runs.
Numba's OpenMP workers spin at barriers by default, which on a machine shared with other
work makes 2-thread runs many times slower than 1 thread; the benchmark process asks for
passive waiting, as the README recommends to users on shared machines (the package itself
sets no environment).
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from leanml.core.testing import bench_out, bench_size, fixed_threads  # noqa: F401
