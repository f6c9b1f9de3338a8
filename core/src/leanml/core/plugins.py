"""Plugin discovery: the pluggy manager, entry-point loading and the registries.

Plugins are found through the ``leanml`` entry-point group. A plugin that fails to import
(say, a missing optional dependency) or whose hook raises is recorded with its error and
left out; the others keep working. ``leanml plugins`` shows both.
"""

from __future__ import annotations

import importlib.metadata as md
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import builtin, hookspecs
from .data import Dataset
from .registry import DatasetSpec, DemoSpec, MetricSpec, ModelSpec, Registry, SolverSpec

__all__ = ["PluginInfo", "Plugins", "get_plugins", "load_dataset", "load_plugins"]

CORE_PLUGIN = "core"
_KINDS = ("datasets", "models", "solvers", "metrics", "demos")


@dataclass
class PluginInfo:
    """One discovered plugin.

    Attributes
    ----------
    name
        Entry-point name (``"rbf_features"``).
    distribution, version
        The installed distribution that provides it.
    error
        ``None`` when it loaded; else one line saying why not.
    registers
        Names it registered, by kind.
    """

    name: str
    distribution: str
    version: str
    error: str | None = None
    traceback: str | None = None
    registers: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Plugins:
    """The loaded plugins and the registries they filled."""

    manager: pluggy.PluginManager
    infos: list[PluginInfo]
    datasets: Registry[DatasetSpec]
    models: Registry[ModelSpec]
    solvers: Registry[SolverSpec]
    metrics: Registry[MetricSpec]
    demos: Registry[DemoSpec]

    def registry(self, kind: str) -> Registry[Any]:
        """The registry for ``kind`` (``"datasets"``, ``"models"``, ...)."""
        return getattr(self, kind)

    def add_commands(self, cli: Any) -> None:
        """Let every loaded plugin add its click group; a failing one is recorded."""
        by_name = {i.name: i for i in self.infos}
        for impl in self.manager.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except Exception as exc:  # a broken plugin must not break the CLI
                _record_failure(by_name.get(impl.plugin_name), exc)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _record_failure(info: PluginInfo | None, exc: BaseException) -> None:
    if info is not None:
        info.error = _one_line(exc)
        info.traceback = "".join(traceback.format_exception(exc))


def _entry_points() -> Iterable[md.EntryPoint]:
    return md.entry_points(group=hookspecs.PROJECT_NAME)


def load_plugins(entry_points: Iterable[md.EntryPoint] | None = None) -> Plugins:
    """Discover plugins and fill the registries.

    Parameters
    ----------
    entry_points
        Entry points to load instead of the installed ``leanml`` group (for tests).

    Raises
    ------
    RegistryError
        When two plugins register the same name of the same kind.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    core_version = md.version("leanml-core")
    infos = [PluginInfo(CORE_PLUGIN, "leanml-core", core_version)]
    pm.register(builtin, name=CORE_PLUGIN)

    seen: set[str] = {CORE_PLUGIN}
    for ep in entry_points if entry_points is not None else _entry_points():
        if ep.name in seen:
            continue
        seen.add(ep.name)
        dist = ep.dist.name if ep.dist is not None else "?"
        ver = ep.dist.version if ep.dist is not None else "?"
        info = PluginInfo(ep.name, dist, ver)
        infos.append(info)
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # missing optional dependency, syntax error, ...
            _record_failure(info, exc)

    plugins = Plugins(
        manager=pm,
        infos=infos,
        datasets=Registry("dataset"),
        models=Registry("model"),
        solvers=Registry("solver"),
        metrics=Registry("metric"),
        demos=Registry("demo"),
    )
    by_name = {i.name: i for i in infos}
    for kind in _KINDS:
        registry = plugins.registry(kind)
        for impl in getattr(pm.hook, f"register_{kind}").get_hookimpls():
            info = by_name[impl.plugin_name]
            if info.error:
                continue
            collected: list[Any] = []
            try:
                impl.function(register=collected.append)
            except Exception as exc:  # keep a half-registered plugin out entirely
                _record_failure(info, exc)
                continue
            for entry in collected:
                registry.add(entry, impl.plugin_name)
    for info in infos:
        if info.error is None:
            info.registers = {k: plugins.registry(k).by_plugin(info.name) for k in _KINDS}
    return plugins


_CACHE: dict[str, Plugins] = {}


def get_plugins() -> Plugins:
    """The installed plugins, loaded once per process."""
    if "plugins" not in _CACHE:
        _CACHE["plugins"] = load_plugins()
    return _CACHE["plugins"]


def load_dataset(name: str, **kwargs: object) -> Dataset:
    """Load the registered data set ``name`` (``kwargs`` go to its loader)."""
    return get_plugins().datasets.get(name).loader(**kwargs)
