"""Thread caps: the context manager restores what it changed; the benchmark fixtures."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from leanml.core.threads import thread_limits

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpoolctl.threadpool_info()}


def test_thread_limits_caps_and_restores():
    import numpy  # noqa: F401  (loads BLAS, so threadpoolctl sees a pool)

    before = _blas_threads()
    with thread_limits(1) as n:
        assert n == 1
        assert _blas_threads() == {1}
    assert _blas_threads() == before


def test_thread_limits_rejects_zero():
    with pytest.raises(ValueError, match="threads must be >= 1"):
        with thread_limits(0):
            pass


BENCH_FILE = """
from leanml.core.testing import bench_out, bench_size, fixed_threads  # noqa: F401

def test_settings(bench_size, fixed_threads, bench_out):
    print("SETTINGS", bench_size, fixed_threads)
    print("OUT", bench_out.is_dir(), bench_out.name)
"""


@pytest.mark.parametrize(
    ("env", "expect", "code"),
    [
        ({}, "SETTINGS full 2", 0),
        ({"LEANML_BENCH": "smoke", "LEANML_BENCH_THREADS": "1"}, "SETTINGS smoke 1", 0),
        ({"LEANML_BENCH": "huge"}, "LEANML_BENCH must be one of", 1),
        ({"LEANML_BENCH_THREADS": "two"}, "LEANML_BENCH_THREADS must be an integer", 1),
    ],
)
def test_benchmark_fixtures(tmp_path, env, expect, code):
    (tmp_path / "test_b.py").write_text(BENCH_FILE)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEANML_BENCH")}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-s", "-q", "-p", "no:cacheprovider", "test_b.py"],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
    )
    assert expect in out.stdout + out.stderr
    assert (out.returncode == 0) == (code == 0), out.stdout + out.stderr
    if code == 0:  # tables go to a temporary directory, not beside the benchmarks
        assert "OUT True bench-results" in out.stdout
        # (pytest-benchmark keeps its own .benchmarks storage there)
        assert {p.name for p in tmp_path.iterdir()} <= {"test_b.py", ".benchmarks"}


def test_bench_out_from_the_environment(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "test_b.py").write_text(BENCH_FILE)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEANML_BENCH")}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-s", "-q", "-p", "no:cacheprovider", "test_b.py"],
        cwd=tmp_path / "b",
        env={**clean, "LEANML_BENCH_OUT": str(tmp_path / "tables")},
        capture_output=True,
        text=True,
    )
    assert "OUT False tables" in out.stdout, out.stdout + out.stderr  # created by report()


def test_set_threads_after_numba_started_its_pool():
    """Numba refuses a new NUMBA_NUM_THREADS once its pool runs; set_threads must not set it."""
    pytest.importorskip("numba")
    code = (
        "import numba, numpy as np\n"
        "from leanml.core.threads import numba_pool_started, set_threads\n"
        "@numba.njit(parallel=True)\n"
        "def total(x):\n"
        "    s = 0.0\n"
        "    for i in numba.prange(x.size):\n"
        "        s += x[i]\n"
        "    return s\n"
        "total(np.ones(10))\n"
        "assert numba_pool_started()\n"
        "set_threads(1)\n"
        "@numba.njit\n"
        "def inc(x):\n"
        "    return x + 1\n"
        "print(inc(1), numba.get_num_threads())\n"
    )
    env = {**os.environ, "NUMBA_NUM_THREADS": "2", "NUMBA_CACHE_DIR": "/tmp"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-600:]
    assert out.stdout.split() == ["2", "1"]
