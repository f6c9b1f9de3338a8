"""Typed registry entries and the name-keyed registries that hold them.

A plugin describes what it offers with these dataclasses and hands them to the ``register``
callback of the matching hook (see :mod:`leanml.core.hookspecs`). The plugin manager fills
in :attr:`Entry.plugin`, so a plugin never names itself.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .errors import RegistryError

if TYPE_CHECKING:
    from .data import Dataset
    from .package_files import PackageFile

__all__ = [
    "TASKS",
    "DatasetSpec",
    "DemoContext",
    "DemoSpec",
    "Entry",
    "MetricSpec",
    "ModelSpec",
    "Registry",
    "SolverSpec",
]

#: Task kinds a dataset, model or metric can declare.
TASKS = (
    "classification",
    "regression",
    "sequence_labeling",
    "similarity",
    "retrieval",
    "tensor",
)


@dataclass(frozen=True, kw_only=True)
class Entry:
    """Fields every registry entry has.

    Parameters
    ----------
    name
        Global, unique name (lower case, hyphens or underscores), e.g. ``"rb-dcd"``.
    summary
        One line for the CLI tables.
    plugin
        Filled in by the plugin manager with the registering plugin's name.
    metadata
        Free-form extra facts shown by ``leanml ... info``.
    """

    name: str
    summary: str
    plugin: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DatasetSpec(Entry):
    """A named data set.

    Parameters
    ----------
    loader
        ``loader(**kwargs) -> Dataset``; must work offline once its files are cached.
    task
        One of :data:`TASKS`.
    source
        Where the data come from (package, version and member path, or a generator).
    licence
        The data's licence as stated by its source.
    size
        Human-readable shape, e.g. ``"5,300 x 2"``.
    files
        Package files the loader reads; ``leanml datasets fetch`` warms the cache with them.
    """

    loader: Callable[..., Dataset]
    task: str
    source: str
    licence: str
    size: str = ""
    files: tuple[PackageFile, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ModelSpec(Entry):
    """A named estimator factory, including the peers a plugin is compared against.

    Parameters
    ----------
    factory
        ``factory(**params)`` returns an unfitted estimator with ``fit(X, y)`` and
        ``predict(X)`` (and ``predict_proba`` / ``decision_function`` where it has them).
    tasks
        Task kinds the model handles.
    inputs
        Dataset kinds it accepts: ``"dense"``, ``"sparse"``, ``"texts"``, ``"sequences"``.
    max_train
        Refuse training sets larger than this (exact kernel methods), or ``None``.
    """

    factory: Callable[..., Any]
    tasks: tuple[str, ...] = ("classification",)
    inputs: tuple[str, ...] = ("dense",)
    max_train: int | None = None


@dataclass(frozen=True, kw_only=True)
class SolverSpec(Entry):
    """A named optimiser.

    Parameters
    ----------
    solve
        The solver callable; its signature is documented by the registering plugin.
    problem
        What it minimises, e.g. ``"l2-hinge"`` or ``"l1-composite"``.
    """

    solve: Callable[..., Any]
    problem: str = ""


@dataclass(frozen=True, kw_only=True)
class MetricSpec(Entry):
    """A named metric ``func(y_true, y_out) -> float``.

    Parameters
    ----------
    func
        The metric.
    greater_is_better
        Direction, for ratios and "best" markers.
    needs
        What ``y_out`` is: ``"labels"`` (``predict``), ``"proba"`` (``predict_proba``) or
        ``"scores"`` (``decision_function`` or a ranking score matrix).
    tasks
        Task kinds it applies to.
    """

    func: Callable[..., float]
    greater_is_better: bool = True
    needs: str = "labels"
    tasks: tuple[str, ...] = ("classification",)


@dataclass(frozen=True)
class DemoContext:
    """What ``leanml demo`` hands each plugin's demo.

    Attributes
    ----------
    quick
        Small sizes for CI (``leanml demo --quick``); finish in seconds.
    out
        A directory the demo may write figures and records to.
    seed
        Random seed to use throughout.
    progress
        ``progress(iterable, description)`` wraps long loops in a progress bar (or not,
        when quiet or piped).
    echo
        Print a line to the user (silenced by ``--quiet``).
    """

    quick: bool
    out: Any
    seed: int
    progress: Callable[..., Any]
    echo: Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class DemoSpec(Entry):
    """A plugin's headline experiment, run by ``leanml demo``.

    ``run(ctx: DemoContext) -> list[dict]`` returns the rows of its result table.
    """

    run: Callable[[DemoContext], list[dict[str, Any]]]


E = TypeVar("E", bound=Entry)


class Registry(Generic[E]):
    """Entries of one kind keyed by their global name.

    Parameters
    ----------
    kind
        ``"dataset"``, ``"model"``, ``"solver"``, ``"metric"`` or ``"demo"``, used in messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, E] = {}

    def add(self, entry: E, plugin: str) -> None:
        """Add ``entry`` on behalf of ``plugin``; a clash names both plugins."""
        if not isinstance(entry, Entry):
            raise RegistryError(
                f"plugin {plugin!r} registered a {type(entry).__name__} as a {self.kind}; "
                f"expected a {self.kind.capitalize()}Spec"
            )
        if entry.name in self._entries:
            other = self._entries[entry.name].plugin
            raise RegistryError(
                f"{self.kind} name {entry.name!r} is registered by both plugin {other!r} "
                f"and plugin {plugin!r}; uninstall one of them"
            )
        self._entries[entry.name] = replace(entry, plugin=plugin)

    def get(self, name: str) -> E:
        """The entry called ``name``; an unknown name suggests close matches."""
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise RegistryError(
                f"unknown {self.kind} {name!r}{hint} (see `leanml {self.kind}s`)"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[E]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def by_plugin(self, plugin: str) -> list[str]:
        """Names registered by ``plugin``."""
        return sorted(n for n, e in self._entries.items() if e.plugin == plugin)
