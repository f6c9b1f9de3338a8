"""Shared fixtures: an isolated cache and a registry holding a small test plugin."""

from __future__ import annotations

import importlib.metadata as md
import sys
import textwrap
from pathlib import Path

import pytest

from leanml.core import plugins as plugins_mod

# A real (if small) plugin used to drive `run` and `compare`: two nearest-centroid
# variants written out in numpy, plus a dataset whose package file has a wrong checksum.
TEST_PLUGIN = textwrap.dedent(
    """
    import numpy as np
    from leanml.core import (
        DatasetSpec, ExplainerSpec, ModelSpec, PackageFile, ParameterError, SolverSpec, hookimpl
    )

    class Centroid:
        def __init__(self, shrink=0.0, random_state=None):
            self.shrink = shrink
            self.random_state = random_state

        def fit(self, X, y):
            X = X.toarray() if hasattr(X, "toarray") else X
            if not 0.0 <= self.shrink < 1.0:
                raise ParameterError(f"shrink must be in [0, 1), got {self.shrink}")
            self.classes_ = np.unique(y)
            mean = X.mean(axis=0)
            self.centres_ = np.stack([X[y == c].mean(axis=0) for c in self.classes_])
            self.centres_ = (1 - self.shrink) * self.centres_ + self.shrink * mean
            return self

        def predict(self, X):
            X = X.toarray() if hasattr(X, "toarray") else X
            d = ((X[:, None, :] - self.centres_[None]) ** 2).sum(-1)
            return self.classes_[d.argmin(1)]

        def predict_proba(self, X):
            d = ((X[:, None, :] - self.centres_[None]) ** 2).sum(-1)
            e = np.exp(-(d - d.min(1, keepdims=True)) / d.mean())
            return e / e.sum(1, keepdims=True)

    _LOADED = []

    class Busy(Centroid):
        \"\"\"Fixed work and memory per fit; the first fit in a process pays a one-time cost
        (like Numba compiling or loading a cache) and keeps a 64 MB cache alive.\"\"\"

        def __init__(self, mb=48, rounds=12, random_state=None):
            super().__init__(0.0, random_state)
            self.mb = mb
            self.rounds = rounds

        def fit(self, X, y):
            if not _LOADED:
                _LOADED.append(np.ones(8 * 2**20))  # 64 MB, resident for the process
                sum(range(3_000_000))
            work = np.ones(self.mb * 2**20 // 8)
            a = np.random.default_rng(0).standard_normal((200, 200))
            for _ in range(self.rounds):
                a = np.tanh(a @ a / 200.0)
            self.work_ = float(work.sum() + a.sum())
            return super().fit(X, y)

    class Crashy(Centroid):
        def fit(self, X, y):
            raise RuntimeError("numerical trouble in the solver")

    class MeanRegressor:
        def __init__(self, random_state=None):
            self.random_state = random_state

        def fit(self, X, y):
            self.mean_ = float(np.mean(y))
            return self

        def predict(self, X):
            return np.full(X.shape[0], self.mean_)

    @hookimpl
    def register_models(register):
        register(ModelSpec(name="centroid", summary="nearest centroid", factory=Centroid,
                           solvers={"shrinker": {"shrink": 0.5}}, inputs=("dense", "sparse")))
        register(ModelSpec(name="centroid-small", summary="capped", factory=Centroid,
                           max_train=10))
        register(ModelSpec(name="busy", summary="fixed work", factory=Busy))
        register(ModelSpec(name="crashy", summary="raises in fit", factory=Crashy))
        register(ModelSpec(name="mean-regressor", summary="predicts the mean",
                           factory=MeanRegressor, tasks=("regression",),
                           inputs=("dense", "sparse")))

    @hookimpl
    def register_solvers(register):
        register(SolverSpec(name="shrinker", summary="shrinks centroids",
                            solve="numpy:mean", problem="toy"))

    @hookimpl
    def register_explainers(register):
        register(ExplainerSpec(name="nearest-train", summary="nearest training point",
                               explain="numpy:argmin"))

    @hookimpl
    def register_datasets(register):
        pf = PackageFile("leanml-no-such-dist", "1.0", "x/y.txt", "0" * 64)
        register(DatasetSpec(name="bad-checksum", summary="s",
                             loader="leanml.core.builtin:load_shared",
                             task="classification", source="s", licence="l", files=(pf,)))
    """
)


def entry_point(name: str, module: str) -> md.EntryPoint:
    """An entry point of the ``leanml`` group, as an installed plugin would declare it."""
    return md.EntryPoint(name=name, value=module, group="leanml")


class PluginDir:
    """A directory on ``sys.path`` where a test writes plugin modules."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def module(self, name: str, source: str) -> md.EntryPoint:
        (self.path / f"{name}.py").write_text(source)
        sys.modules.pop(name, None)
        return entry_point(name.removeprefix("lm_"), name)


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PluginDir:
    monkeypatch.syspath_prepend(str(tmp_path))
    return PluginDir(tmp_path)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LEANML_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def test_plugins(plugin_dir: PluginDir, monkeypatch: pytest.MonkeyPatch):
    """Installed plugins plus `testplugin`, as `get_plugins()` returns them."""
    eps = [*plugins_mod._entry_points(), plugin_dir.module("lm_testplugin", TEST_PLUGIN)]
    loaded = plugins_mod.load_plugins(eps)
    monkeypatch.setitem(plugins_mod._CACHE, "plugins", loaded)
    return loaded
