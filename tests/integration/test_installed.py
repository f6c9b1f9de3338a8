"""Everything installed together: discovery, entry names and the real shared data sets."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
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


def test_loading_every_plugin_imports_no_heavy_library():
    """Registration is lazy: listing what is installed imports no torch, Numba or sklearn."""
    code = (
        "import sys, json; from leanml.core.plugins import load_plugins; load_plugins(); "
        "print(json.dumps([m for m in ('torch', 'numba', 'sklearn', 'transformers', "
        "'scipy.stats') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_help_lists_every_command_quickly():
    t0 = time.perf_counter()
    out = subprocess.run(["leanml", "--help"], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - t0
    assert all(p.replace("_", "-") in out.stdout for p in PLUGINS)
    assert seconds < 2.0, f"leanml --help took {seconds:.2f} s"  # ~0.3 s measured; CI margin


def _readme_cli_tour() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## CLI tour", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [ln.split("  #", 1)[0].strip() for ln in block.splitlines()]
    return [ln for ln in lines if ln.startswith("leanml ")]


README_COMMANDS = _readme_cli_tour()


@pytest.mark.parametrize("command", README_COMMANDS)
def test_readme_cli_tour_runs_as_written(command, tmp_path):
    """Every command of the README's CLI tour, in a directory holding `my_data.libsvm`."""
    if command.startswith("leanml demo"):
        pytest.skip("the integration session runs `leanml demo --quick` itself")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    y = np.where(X[:, 0] * X[:, 1] > 0, 1, -1)
    rows = (" ".join(f"{j + 1}:{v:.5f}" for j, v in enumerate(r)) for r in X)
    text = "".join(f"{t} {r}\n" for t, r in zip(y, rows, strict=True))
    (tmp_path / "my_data.libsvm").write_text(text)
    args = shlex.split(command)
    if args[:2] == ["leanml", "compare"] or args[:2] == ["leanml", "run"]:
        args.insert(1, "--quiet")
    out = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    if args[1:3] == ["--quiet", "run"] or args[1:3] == ["--quiet", "compare"]:
        (path,) = (tmp_path / "leanml-out").glob("*.json")
        record = json.loads(path.read_text())
        assert all(run["cpu"] for run in record.get("runs", [record]))


@pytest.mark.parametrize(
    ("name", "n_train", "n_test", "n_classes"),
    [
        ("reuters-r8", 5485, 2189, 8),
        ("reuters-r52", 6532, 2568, 52),
        ("20newsgroups", 11293, 7528, 20),
    ],
)
def test_real_text_corpora_have_the_standard_splits(name, n_train, n_test, n_classes):
    d = load_dataset(name)
    assert (d.n_train, d.n_test, d.kind) == (n_train, n_test, "texts")
    assert len(set(d.y_train)) == n_classes and set(d.y_test) <= set(d.y_train)
