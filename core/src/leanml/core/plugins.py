"""Plugin discovery: the pluggy manager, entry-point loading and the registries.

Plugins are found through the ``leanml`` entry-point group and loaded in entry-point name
order after the core. Each plugin's hooks are called through pluggy, one plugin at a time,
into a staging area; its entries (data sets, models, solvers, explainers, metrics, demos and
commands) are committed all together only if every hook returned and none of its names is
taken. Otherwise the plugin is recorded as failed with one line saying why, and registers
nothing. ``leanml plugins`` shows both.

``LEANML_PLUGINS`` (comma-separated entry-point names) loads only those plugins;
``LEANML_DISABLE_PLUGINS`` skips the ones it names. The core always loads.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import click
import pluggy

from . import builtin, hookspecs
from .data import Dataset
from .errors import RegistryError
from .registry import (
    DatasetSpec,
    DemoSpec,
    Entry,
    ExplainerSpec,
    MetricSpec,
    ModelSpec,
    Registry,
    SolverSpec,
)

__all__ = ["PluginInfo", "Plugins", "get_plugins", "load_dataset", "load_plugins"]

CORE_PLUGIN = "core"
_SPECS: dict[str, type[Entry]] = {
    "datasets": DatasetSpec,
    "models": ModelSpec,
    "solvers": SolverSpec,
    "explainers": ExplainerSpec,
    "metrics": MetricSpec,
    "demos": DemoSpec,
}
KINDS = tuple(_SPECS)


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
    status
        ``"ok"``, ``"failed"`` or ``"disabled"`` (by ``LEANML_PLUGINS`` or
        ``LEANML_DISABLE_PLUGINS``).
    registers
        Names it registered, by kind (``"commands"`` included).
    """

    name: str
    distribution: str
    version: str
    error: str | None = None
    traceback: str | None = None
    status: str = "ok"
    registers: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Plugins:
    """The loaded plugins, the registries they filled, and their command groups."""

    manager: pluggy.PluginManager
    infos: list[PluginInfo]
    datasets: Registry[DatasetSpec]
    models: Registry[ModelSpec]
    solvers: Registry[SolverSpec]
    explainers: Registry[ExplainerSpec]
    metrics: Registry[MetricSpec]
    demos: Registry[DemoSpec]
    commands: dict[str, click.Command] = field(default_factory=dict)

    def registry(self, kind: str) -> Registry[Any]:
        """The registry for ``kind`` (``"datasets"``, ``"models"``, ...)."""
        return getattr(self, kind)

    def add_commands(self, cli: click.Group) -> None:
        """Add every loaded plugin's command groups to ``cli`` (names already checked)."""
        for command in self.commands.values():
            cli.add_command(command)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _fail(info: PluginInfo, exc: BaseException) -> None:
    info.status = "failed"
    info.error = _one_line(exc)
    info.traceback = "".join(traceback.format_exception(exc))


def _names(variable: str) -> set[str] | None:
    raw = os.environ.get(variable)
    if raw is None:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


def _entry_points() -> list[md.EntryPoint]:
    return sorted(md.entry_points(group=hookspecs.PROJECT_NAME), key=lambda ep: ep.name)


def _stage(pm: pluggy.PluginManager, plugin: object, reserved: set[str]) -> dict[str, list[Any]]:
    """Call one plugin's hooks through pluggy; return its entries and commands by kind."""
    others = [p for p in pm.get_plugins() if p is not plugin]
    staged: dict[str, list[Any]] = {}
    for kind in KINDS:
        caller = pm.subset_hook_caller(f"register_{kind}", remove_plugins=others)
        collected: list[Any] = []
        caller(register=collected.append)
        staged[kind] = collected
    group = click.Group()
    pm.subset_hook_caller("register_commands", remove_plugins=others)(cli=group)
    for name in group.commands:
        if name in reserved:
            raise RegistryError(f"command {name!r} is a core command; a plugin cannot replace it")
    staged["commands"] = list(group.commands.values())
    return staged


def _commit(plugins: Plugins, staged: dict[str, list[Any]], plugin: str, owners: dict) -> None:
    """Check every staged entry, then add them all (or raise and add none)."""
    for kind in KINDS:
        registry = plugins.registry(kind)
        seen: set[str] = set()
        for entry in staged[kind]:
            registry.check(entry, plugin)
            if entry.name in seen:
                raise RegistryError(f"{registry.kind} {entry.name!r} registered twice")
            seen.add(entry.name)
    for command in staged["commands"]:
        if command.name in plugins.commands:
            other = owners[command.name]
            raise RegistryError(
                f"command {command.name!r} is registered by both plugin {other!r} and plugin "
                f"{plugin!r}; uninstall one of them"
            )
    for kind in KINDS:
        for entry in staged[kind]:
            plugins.registry(kind).add(entry, plugin)
    for command in staged["commands"]:
        plugins.commands[command.name] = command
        owners[command.name] = plugin


def load_plugins(
    entry_points: Iterable[md.EntryPoint] | None = None,
    reserved_commands: Iterable[str] = (),
) -> Plugins:
    """Discover plugins and fill the registries; a broken plugin never raises here.

    Parameters
    ----------
    entry_points
        Entry points to load instead of the installed ``leanml`` group (for tests).
    reserved_commands
        Command names plugins may not take (the core CLI's own); by default those of
        :mod:`leanml.core.cli`.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    reserved = set(reserved_commands) or _core_commands()
    infos = [PluginInfo(CORE_PLUGIN, "leanml-core", md.version("leanml-core"))]
    plugins = Plugins(
        manager=pm,
        infos=infos,
        **{kind: Registry(spec) for kind, spec in _SPECS.items()},  # type: ignore[arg-type]
    )
    owners: dict[str, str] = {}
    allow, deny = _names("LEANML_PLUGINS"), _names("LEANML_DISABLE_PLUGINS") or set()

    candidates: list[tuple[PluginInfo, Any]] = [(infos[0], lambda: builtin)]
    providers: dict[str, tuple[str, str]] = {CORE_PLUGIN: ("leanml-core", "")}
    eps = _entry_points() if entry_points is None else list(entry_points)
    for ep in eps:
        dist = ep.dist.name if ep.dist is not None else "?"
        info = PluginInfo(ep.name, dist, ep.dist.version if ep.dist is not None else "?")
        if ep.name in providers:
            if providers[ep.name] == (dist, ep.value):
                continue  # the same distribution seen twice on sys.path
            infos.append(info)
            _fail(
                info,
                RegistryError(
                    f"entry point {ep.name!r} is also provided by {providers[ep.name][0]}; "
                    "uninstall one of them"
                ),
            )
            continue
        providers[ep.name] = (dist, ep.value)
        infos.append(info)
        if (allow is not None and ep.name not in allow) or ep.name in deny:
            info.status = "disabled"
            continue
        candidates.append((info, ep.load))

    for info, load in candidates:
        try:
            module = load()
            pm.register(module, name=info.name)
        except Exception as exc:  # missing optional dependency, syntax error, bad hookimpl
            _fail(info, exc)
            continue
        try:
            staged = _stage(pm, module, reserved)
            _commit(plugins, staged, info.name, owners)
        except Exception as exc:  # a raising hook or a clash: the plugin registers nothing
            _fail(info, exc)
            pm.unregister(module)
            continue
        info.registers = {k: plugins.registry(k).by_plugin(info.name) for k in KINDS}
        info.registers["commands"] = sorted(n for n, p in owners.items() if p == info.name)
    return plugins


def _core_commands() -> set[str]:
    from .cli import CORE_COMMANDS

    return set(CORE_COMMANDS)


_CACHE: dict[str, Plugins] = {}


def get_plugins() -> Plugins:
    """The installed plugins, loaded once per process."""
    if "plugins" not in _CACHE:
        _CACHE["plugins"] = load_plugins()
    return _CACHE["plugins"]


def load_dataset(name: str, **kwargs: object) -> Dataset:
    """Load the registered data set ``name`` (``kwargs`` go to its loader)."""
    return get_plugins().datasets.get(name).load(**kwargs)
