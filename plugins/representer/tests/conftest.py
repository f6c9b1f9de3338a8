from __future__ import annotations

import pytest
import torch

from leanml.core import load_dataset
from leanml.representer.models import train_mlp


@pytest.fixture(scope="session", autouse=True)
def threads():
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def digits():
    d = load_dataset("digits", seed=0)
    return d, d.X_train / 16.0, d.X_test / 16.0


@pytest.fixture(scope="session")
def mlp(digits):
    d, Xtr, Xte = digits
    return train_mlp(Xtr, d.y_train, Xte, d.y_test, epochs=150, seed=0).model
