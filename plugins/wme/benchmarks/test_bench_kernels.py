"""pytest-benchmark groups: one exact WMD solve (n words x D random words), leanml vs POT.

All solve the same normalised problem on the same precomputed cost matrix (d = 300), so the
group ratios are the solver's speed-ups over POT's raw C++ ``emd_c`` and its ``ot.emd2``
wrapper.
"""

from __future__ import annotations

import numpy as np
import ot
import pytest

from leanml.wme import _kernels as K

FULL = [(n, D) for n in (10, 50, 200, 500) for D in (1, 3, 6, 10, 21)]
SMOKE = [(50, 6), (200, 21)]


def _problem(n, D):
    rng = np.random.default_rng(n * 100 + D)
    C = K.pair_costs(rng.standard_normal((n, 300)), rng.standard_normal((D, 300)))
    a = rng.random(n)
    return a / a.sum(), np.full(D, 1.0 / D), C


def pytest_generate_tests(metafunc):
    if "size" in metafunc.fixturenames:
        import os

        sizes = SMOKE if os.environ.get("LEANML_BENCH", "full") == "smoke" else FULL
        metafunc.parametrize("size", sizes, ids=[f"n{n}-D{D}" for n, D in sizes])


def _emd_c(a, b, C):
    from ot.lp.emd_wrap import emd_c

    return emd_c(a, b, C, 100_000, 1)[1]


@pytest.mark.parametrize("solver", ["leanml", "emd_c", "ot.emd2"])
def test_emd_solve(benchmark, size, solver):
    a, b, C = _problem(*size)
    benchmark.group = f"emd n={size[0]} D={size[1]}"
    fn = {"leanml": K.emd_cost, "emd_c": _emd_c, "ot.emd2": ot.emd2}[solver]
    fn(a, b, C)  # compile / warm up outside the timing
    out = benchmark(fn, a, b, C)
    cost = out[0] if solver == "leanml" else out
    assert cost == pytest.approx(float(ot.emd2(a, b, C)), abs=1e-9)
