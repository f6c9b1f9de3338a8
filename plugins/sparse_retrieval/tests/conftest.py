from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tests share two cores with other sessions: keep torch to one thread."""
    torch.set_num_threads(1)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def dyadic_sparse(rng, n, d, nnz_per_row, levels=4, signed=False):
    """Random sparse rows with values in {1/levels, ..., 1} (sums are exact in float32)."""
    rows, cols, vals = [], [], []
    for i in range(n):
        k = rng.integers(0, nnz_per_row + 1)
        c = rng.choice(d, size=k, replace=False)
        v = rng.integers(1, levels + 1, size=k) / levels
        if signed:
            v *= rng.choice([-1.0, 1.0], size=k)
        rows += [i] * k
        cols += list(c)
        vals += list(v)
    return sp.csr_matrix((np.float32(vals), (rows, cols)), shape=(n, d), dtype=np.float32)


@pytest.fixture
def sparse_rows():
    """:func:`dyadic_sparse` (importlib mode cannot import conftest from a test)."""
    return dyadic_sparse
