"""Every model this plugin registers passes the core's conformance checks."""

from __future__ import annotations

import pytest

from leanml.core.plugins import load_plugins
from leanml.core.testing import check_model
from leanml.pqn_crf.datasets import load_hmm

PLUGINS = load_plugins()
MODELS = sorted(m.name for m in PLUGINS.models if m.plugin == "pqn_crf")


@pytest.mark.parametrize("name", MODELS)
def test_registered_model_conforms(name):
    spec = PLUGINS.models.get(name)
    data = load_hmm(n_seq=60, seed=0) if "sequences" in spec.inputs else None
    check_model(spec, data=data)
