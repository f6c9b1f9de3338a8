"""Every model this plugin registers passes the core's conformance checks."""

from __future__ import annotations

import warnings

import pytest

from leanml.core.plugins import load_plugins
from leanml.core.testing import check_model

PLUGINS = load_plugins()
MODELS = sorted(m.name for m in PLUGINS.models if m.plugin == "rbf_features")
QUICK = {"peer-rbf-sampler-svc": {"n_components": 64}, "peer-nystroem-svc": {"n_components": 64}}


@pytest.mark.parametrize("name", MODELS)
def test_registered_model_conforms(name):
    spec = PLUGINS.models.get(name)
    params = QUICK.get(name, {"n_grids": 16} if name.startswith("rb-") else {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny data: few points per bin
        check_model(spec, params=params)
