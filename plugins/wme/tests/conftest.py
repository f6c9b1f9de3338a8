from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _make_case(rng: np.random.Generator, case: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded transport problem with the awkward features real documents have.

    n in [1, 120], D in [1, 21], d in {2, 20, 50, 300}; skewed weights (rand^3), uniform or
    random b, duplicate word vectors, a random word equal to a document word (zero cost),
    and costs rounded to one decimal (many ties) in a third of the cases.
    """
    n = int(rng.integers(1, 121))
    D = int(rng.integers(1, 22))
    d = int(rng.choice([2, 20, 50, 300]))
    X = rng.normal(size=(n, d))
    Y = rng.normal(size=(D, d))
    if case % 5 == 0 and n > 3:
        X[1] = X[0]
    if case % 7 == 0 and n > 2 and D > 1:
        Y[1] = X[2]
    C = np.sqrt(((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1))
    if case % 3 == 0:
        C = np.round(C, 1)
    a = rng.random(n) ** 3 + (1e-12 if case % 2 else 0.0)
    a /= a.sum()
    b = np.full(D, 1.0 / D) if case % 2 else rng.random(D)
    b /= b.sum()
    return a, b, C


@pytest.fixture(scope="session")
def make_case():
    """``make_case(rng, case) -> (a, b, C)``, see :func:`_make_case`."""
    return _make_case


@pytest.fixture(scope="session")
def shift():
    """The synonym-shift data set and its embeddings (seeded, generated in memory)."""
    from leanml.wme.datasets import synonym_shift

    return synonym_shift(n_train=200, n_test=200, seed=0)
