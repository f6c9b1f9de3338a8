"""Every model this plugin registers passes the core's conformance checks."""

from __future__ import annotations

import inspect

import pytest

from leanml.core.lazy import resolve
from leanml.core.plugins import load_plugins
from leanml.core.testing import check_model
from leanml.wme.datasets import synonym_shift

PLUGINS = load_plugins()
MODELS = sorted(m.name for m in PLUGINS.models if m.plugin == "wme")


@pytest.fixture(scope="module")
def texts():
    return synonym_shift(n_train=60, n_test=30, seed=0)[0]


@pytest.mark.parametrize("name", MODELS)
def test_registered_model_conforms(name, texts):
    spec = PLUGINS.models.get(name)
    takes = inspect.signature(resolve(spec.factory)).parameters
    params = {"embeddings": "synonym-shift"} if "embeddings" in takes else {}
    if "n_features" in takes:
        params["n_features"] = 32
    check_model(spec, data=texts, params=params)
