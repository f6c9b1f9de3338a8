"""Shared fixtures. The test process asks OpenMP for passive waiting, as the README advises
on shared machines: Numba's OpenMP workers otherwise spin at barriers, and 2-thread tests
run many times slower on busy cores (the package itself sets no environment)."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np
import pytest
import scipy.sparse as sp

from leanml.pqn_crf.chain import ChainData


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_chain(rng, n_seq=6, K=3, d=5, max_len=4, density=0.5):
    """Random sparse features, labels and offsets of a small chain problem."""
    lengths = rng.integers(1, max_len + 1, size=n_seq)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    n = int(offsets[-1])
    X = sp.random(n, d, density=density, random_state=rng, format="csr")
    X.data = rng.normal(size=X.data.size)
    y = rng.integers(0, K, size=n).astype(np.int64)
    return ChainData(X, offsets, y, K)


@pytest.fixture
def make_chain():
    """The :func:`random_chain` factory (tests run in importlib mode: no conftest import)."""
    return random_chain


@pytest.fixture
def chain(rng):
    return random_chain(rng)
