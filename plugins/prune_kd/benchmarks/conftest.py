"""Benchmark settings from :mod:`leanml.core.testing` (``LEANML_BENCH``, fixed threads)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from leanml.core.testing import bench_size, fixed_threads  # noqa: F401
