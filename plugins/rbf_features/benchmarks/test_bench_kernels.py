"""Kernels against their baselines on the same data, same process.

- feature generation: Numba additive-hash + open addressing vs the vectorised NumPy
  reference (floor codes, hashed sum, ``np.unique``);
- dual CD: own solver vs scikit-learn's liblinear (``LinearSVC(dual=True)``) on the same RB
  matrix, same C and tolerance.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from sklearn.svm import LinearSVC

from leanml.core import load_dataset
from leanml.rbf_features import RandomBinningFeatures, _kernels, _reference
from leanml.rbf_features import solvers as S


@pytest.fixture(scope="module")
def mnist(bench_size):
    data = load_dataset("mnist_5k", seed=0)
    if bench_size == "smoke":  # the file is sorted by class: subsample at random
        data = data.subset(n_train=300, seed=0)
    return data.X_train / 255.0, data.y_train


@pytest.fixture(scope="module")
def grids(mnist, bench_size):
    R = 8 if bench_size == "smoke" else 128
    rb = RandomBinningFeatures(R, sigma=40.0, random_state=0).fit(mnist[0][:10])
    return rb


def _numba_bins(X, rb):
    """Keys (parallel over rows) then per-grid open-addressing tables (parallel over grids)."""
    return _kernels.fit_bins(rb._keys(X), numba.get_num_threads())


@pytest.mark.benchmark(group="rb-feature-generation")
def test_features_numba(benchmark, mnist, grids):
    local, *_ = benchmark(_numba_bins, mnist[0], grids)
    assert local.shape == (grids.n_grids, mnist[0].shape[0])


@pytest.mark.benchmark(group="rb-feature-generation")
def test_features_numpy_reference(benchmark, mnist, grids):
    benchmark.pedantic(_reference.fit_bins, (mnist[0], *grids.grid_parameters), rounds=2)


@pytest.fixture(scope="module")
def svm_problem(mnist, bench_size):
    X, y = mnist
    R = 16 if bench_size == "smoke" else 512
    rb = RandomBinningFeatures(R, sigma=40.0, random_state=0)
    cols = rb.fit_transform_ids(X)
    return S.RBDesign(cols, rb.grid_offsets_), rb.ids_to_csr(cols), np.where(y == 3, 1.0, -1.0)


@pytest.mark.benchmark(group="rb-dual-cd")
def test_dcd_own(benchmark, svm_problem):
    design, _, y = svm_problem
    w = benchmark(S.solve_svm, design, y, 1.0, False, 1e-4, 100_000, 0)
    assert np.isfinite(S.svm_objective(design, y, w, 1.0, False))


@pytest.mark.benchmark(group="rb-dual-cd")
def test_dcd_liblinear(benchmark, svm_problem):
    _, Z, y = svm_problem
    model = LinearSVC(
        C=1.0, loss="hinge", dual=True, fit_intercept=False, tol=1e-4, max_iter=100_000
    )
    benchmark(model.fit, Z, y)
