"""Benchmark settings from :mod:`leanml.core.testing` (``LEANML_BENCH``, fixed threads)."""

from leanml.core.testing import bench_out, bench_size, fixed_threads  # noqa: F401
