"""Side-by-side measurements for the README, each in this one process, same data, same
threads (fixed by conftest).

``LEANML_BENCH=full LEANML_BENCH_THREADS=1 pytest benchmarks -s`` prints the tables
(saved as JSON in ``$LEANML_BENCH_OUT``, default a temporary directory);
``LEANML_BENCH=smoke`` runs tiny sizes to check that each benchmark works. Timings are best
of a few repeats (``time.perf_counter``).
"""

from __future__ import annotations

import numpy as np
import pytest

from leanml.bmp import _kernels, _reference
from leanml.bmp.bqp import solve_bqp, solve_bqp_exhaustive
from leanml.bmp.datasets import indian_pines_cube
from leanml.core.testing import best_of, report


def _sweep_state(P: np.ndarray, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = P.shape[0]
    V = rng.standard_normal((n + 1, k))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    w = np.ones(P.shape[1])
    cdiag = np.einsum("id,id->i", P, P)
    h = P @ P.sum(axis=0) / 4.0
    order = rng.permutation(n + 1).astype(np.int64)
    S = np.ascontiguousarray(V[1:].T @ P)
    return w, cdiag, h, V, S, h @ V[1:], order


def test_mixing_sweep_numba_vs_numpy(bench_size, fixed_threads, bench_out):
    """One mixing sweep on Indian Pines (n = 21,025, D = 200, k = 16): the greedy step's
    P = A / sqrt(2 N^2 tau) with A the centred, unit-RMS pixels x bands matrix."""
    cube, _ = indian_pines_cube(24 if bench_size == "smoke" else None)
    X = cube.reshape(-1, cube.shape[-1])
    A = X - X.mean(axis=0)
    A /= np.sqrt(np.mean(A * A))
    N = len(A)
    P = np.ascontiguousarray(A / np.sqrt(2.0 * N * N))
    w, cdiag, h, V, S, s0, order = _sweep_state(P, 16)

    def run(impl):
        state = (V.copy(), S.copy(), s0.copy())
        impl.sweep_lowrank(P, w, cdiag, h, *state, order)
        return state

    run(_kernels)  # compile / load from cache outside the timing
    t_numba, got = best_of(lambda: run(_kernels), repeats=5)
    t_numpy, ref = best_of(lambda: run(_reference), repeats=3)
    np.testing.assert_allclose(got[0], ref[0], atol=1e-10)
    rows = [
        {"sweep": "numba", "n": N, "D": P.shape[1], "k": 16, "seconds": t_numba},
        {"sweep": "numpy reference", "n": N, "D": P.shape[1], "k": 16, "seconds": t_numpy},
        {"sweep": "speed-up numpy/numba", "seconds": t_numpy / t_numba},
    ]
    report(f"sweep-{bench_size}-threads{fixed_threads}", rows, bench_out)
    if bench_size == "full":
        assert t_numpy / t_numba >= 10.0


def _instance(n: int, seed: int = 0) -> np.ndarray:
    """A BMP-like greedy step: P with centred Gaussian columns, C = PP'."""
    P = np.random.default_rng(seed).standard_normal((n, 10))
    return P - P.mean(axis=0)


def test_solver_vs_brute_force(bench_size, fixed_threads, bench_out):
    rows = []
    for n in (10, 12) if bench_size == "smoke" else (12, 16, 20):
        P = _instance(n, 1)
        C = P @ P.T
        solve_bqp(P=P, random_state=0)
        solve_bqp_exhaustive(C)
        t_mix, res = best_of(lambda P=P: solve_bqp(P=P, random_state=0))
        t_ex, ex = best_of(lambda C=C: solve_bqp_exhaustive(C))
        rows.append(
            {
                "n": n,
                "mixing_value": res.value,
                "optimum": ex.value,
                "gap": (ex.value - res.value) / ex.value,
                "mixing_s": t_mix,
                "exhaustive_s": t_ex,
            }
        )
        assert res.value <= ex.value * (1 + 1e-12)
    report(f"bruteforce-{bench_size}-threads{fixed_threads}", rows, bench_out)


def test_solver_vs_annealing_and_sdp(bench_size, fixed_threads, bench_out):
    pytest.importorskip("dwave.samplers")
    from leanml.bmp.peers import anneal_bqp, sdp_bound

    sizes = (32,) if bench_size == "smoke" else (256, 512, 1024)
    sdp_max = 32 if bench_size == "smoke" else 256
    rows = []
    for n in sizes:
        P = _instance(n, 2)
        C = P @ P.T
        solve_bqp(P=P, random_state=0)
        t_mix, res = best_of(lambda P=P: solve_bqp(P=P, random_state=0))
        t_sa, sa = best_of(lambda C=C: anneal_bqp(C, random_state=0), repeats=1)
        row = {
            "n": n,
            "mixing_value": res.value,
            "mixing_bound": res.sdp_value,
            "mixing_s": t_mix,
            "anneal_value": sa.value,
            "anneal_s": t_sa,
        }
        if n <= sdp_max:
            t_sdp, sdp = best_of(lambda C=C: sdp_bound(C, random_state=0, eps=1e-4), repeats=1)
            row.update(sdp_bound=sdp.sdp_value, sdp_rounded=sdp.value, sdp_s=t_sdp)
        rows.append(row)
    report(f"solver-{bench_size}-threads{fixed_threads}", rows, bench_out)


def test_bmp_fit_public_path(benchmark, bench_size):
    """pytest-benchmark of the public fit on an Indian Pines crop."""
    from leanml.bmp import BinaryLatentFeatures

    crop, K = (16, 2) if bench_size == "smoke" else (48, 8)
    cube, _ = indian_pines_cube(crop)
    X = cube.reshape(crop * crop, -1)
    BinaryLatentFeatures(n_atoms=1, random_state=0).fit(X[:50])
    model = benchmark(lambda: BinaryLatentFeatures(n_atoms=K, random_state=0).fit(X))
    assert model.n_atoms_ >= 1
