"""Benchmark settings from :mod:`leanml.core.testing` (``LEANML_BENCH``, fixed threads).

The per-evaluation comparison with CRFsuite pins its own single thread, as CRFsuite runs.
"""

from leanml.core.testing import bench_size, fixed_threads  # noqa: F401
