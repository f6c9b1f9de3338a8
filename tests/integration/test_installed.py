"""Everything installed together: discovery, entry names and the real shared data sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from leanml.core import load_dataset
from leanml.core.cli import cli
from leanml.core.plugins import load_plugins

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())


def test_every_plugin_in_the_repo_is_discovered_and_loads():
    plugins = load_plugins()
    by_name = {i.name: i for i in plugins.infos}
    assert set(PLUGINS) <= set(by_name)
    for name in PLUGINS:
        assert by_name[name].error is None, by_name[name].traceback
        assert any(by_name[name].registers.values()), f"{name} registers nothing"


def test_every_plugin_adds_its_command_group():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in PLUGINS:
        assert name.replace("_", "-") in result.output


def test_every_plugin_has_a_demo():
    plugins = load_plugins()
    assert {d.plugin for d in plugins.demos} >= set(PLUGINS)


@pytest.mark.parametrize(
    ("name", "rows", "cols", "n_classes"),
    [
        ("digits", 1797, 64, 10),
        ("breast_cancer", 569, 30, 2),
        ("wine", 178, 13, 3),
        ("banana", 5300, 2, 2),
        ("shuttle", 49097, 9, 2),
        ("mnist_5k", 5000, 784, 10),
    ],
)
def test_real_shared_sets_load(name, rows, cols, n_classes):
    d = load_dataset(name)
    assert d.n_train + d.n_test == rows and d.n_features == cols
    y = np.concatenate([d.y_train, d.y_test])
    assert len(np.unique(y)) == n_classes
    assert np.isfinite(d.X_train).all()
