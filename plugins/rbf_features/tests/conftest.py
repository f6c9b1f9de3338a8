from __future__ import annotations

import numpy as np
import pytest

from leanml.core import load_dataset


@pytest.fixture(scope="session")
def banana():
    return load_dataset("banana", seed=0)


@pytest.fixture(scope="session")
def digits_X():
    """The first 500 digits, pixel intensities divided by their maximum 16."""
    return load_dataset("digits", seed=0).X_train[:500] / 16.0


@pytest.fixture
def rng():
    return np.random.default_rng(0)
