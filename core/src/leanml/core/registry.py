"""Typed registry entries and the name-keyed registries that hold them.

A plugin describes what it offers with these dataclasses and hands them to the ``register``
callback of the matching hook (see :mod:`leanml.core.hookspecs`). The plugin manager fills
in :attr:`Entry.plugin`, so a plugin never names itself.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from .errors import RegistryError
from .lazy import Ref, is_ref, resolve

if TYPE_CHECKING:
    from .data import Dataset
    from .package_files import PackageFile

__all__ = [
    "TASKS",
    "DatasetSpec",
    "DemoContext",
    "DemoSpec",
    "Entry",
    "ExplainerSpec",
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

#: What a registered name may look like: lower case letters, digits, ``-`` and ``_``.
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")


@dataclass(frozen=True, kw_only=True)
class Entry:
    """Fields every registry entry has.

    Parameters
    ----------
    name
        Global, unique name matching :data:`NAME_PATTERN`, e.g. ``"rb-dcd"``.
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

    #: Kind of entry, in messages ("model", "dataset", ...).
    KIND: ClassVar[str] = "entry"
    #: Fields holding a :data:`~leanml.core.lazy.Ref`, checked at registration.
    REFS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.fullmatch(self.name):
            raise RegistryError(
                f"{self.KIND} name {self.name!r} is invalid: use lower case letters, digits, "
                "'-' and '_', starting with a letter or digit"
            )
        for ref in self.REFS:
            value = getattr(self, ref)
            if not (callable(value) or is_ref(value)):
                raise RegistryError(
                    f"{self.KIND} {self.name!r}: {ref} must be a callable or "
                    f"'package.module:attr', got {value!r}"
                )

    def resolve(self, ref: str) -> Callable[..., Any]:
        """Import (once) and return the callable that field ``ref`` names."""
        return resolve(getattr(self, ref), f"{ref} of {self.KIND} {self.name!r}")


@dataclass(frozen=True, kw_only=True)
class DatasetSpec(Entry):
    """A named data set.

    Parameters
    ----------
    loader
        ``loader(**kwargs) -> Dataset`` or its ``"package.module:attr"``; must work
        offline once its files are cached.
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

    loader: Ref
    task: str
    source: str
    licence: str
    size: str = ""
    files: tuple[PackageFile, ...] = ()

    KIND: ClassVar[str] = "dataset"
    REFS: ClassVar[tuple[str, ...]] = ("loader",)

    def load(self, **kwargs: Any) -> Dataset:
        """Call the loader (imported on first use) with ``kwargs``."""
        return self.resolve("loader")(**kwargs)


@dataclass(frozen=True, kw_only=True)
class ModelSpec(Entry):
    """A named estimator factory, including the peers a plugin is compared against.

    Parameters
    ----------
    factory
        ``factory(**params)`` returns an unfitted estimator with ``fit(X, y)`` and
        ``predict(X)`` (and ``predict_proba`` / ``decision_function`` where it has them);
        a callable or its ``"package.module:attr"``.
    defaults
        Parameters passed to ``factory`` unless the user sets them, so one class can back
        several named models (``{"loss": "logistic"}``).
    solvers
        Registered solver name -> the parameters that make the model use it, e.g.
        ``{"rb-dcd": {"loss": "hinge"}}``. ``leanml run --solver`` accepts only these.
    tasks
        Task kinds the model handles.
    inputs
        Dataset kinds it accepts: ``"dense"``, ``"sparse"``, ``"texts"``, ``"sequences"``.
    max_train
        Refuse training sets larger than this (exact kernel methods), or ``None``.
    """

    factory: Ref
    defaults: Mapping[str, Any] = field(default_factory=dict)
    solvers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tasks: tuple[str, ...] = ("classification",)
    inputs: tuple[str, ...] = ("dense",)
    max_train: int | None = None

    KIND: ClassVar[str] = "model"
    REFS: ClassVar[tuple[str, ...]] = ("factory",)

    def create(self, **params: Any) -> Any:
        """A new unfitted estimator: ``factory(**{**defaults, **params})``."""
        return self.resolve("factory")(**{**self.defaults, **params})


@dataclass(frozen=True, kw_only=True)
class SolverSpec(Entry):
    """A named optimiser.

    Parameters
    ----------
    solve
        The solver callable or its ``"package.module:attr"``; its signature is documented
        by the registering plugin. Models that use it list it in :attr:`ModelSpec.solvers`.
    problem
        What it minimises, e.g. ``"l2-hinge"`` or ``"l1-composite"``.
    """

    solve: Ref
    problem: str = ""

    KIND: ClassVar[str] = "solver"
    REFS: ClassVar[tuple[str, ...]] = ("solve",)


@dataclass(frozen=True, kw_only=True)
class ExplainerSpec(Entry):
    """A named explanation or data-attribution method (neither a model nor a solver).

    Parameters
    ----------
    explain
        The method's callable or its ``"package.module:attr"``; its signature is
        documented by the registering plugin.
    defaults
        Keyword arguments passed to ``explain`` unless the caller sets them.
    kind
        What it explains, e.g. ``"data-attribution"`` or ``"feature-attribution"``.
    """

    explain: Ref
    defaults: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "data-attribution"

    KIND: ClassVar[str] = "explainer"
    REFS: ClassVar[tuple[str, ...]] = ("explain",)

    def apply(self, *args: Any, **kwargs: Any) -> Any:
        """``explain(*args, **{**defaults, **kwargs})``, imported on first use."""
        return self.resolve("explain")(*args, **{**self.defaults, **kwargs})


@dataclass(frozen=True, kw_only=True)
class MetricSpec(Entry):
    """A named metric ``func(y_true, y_out) -> float``.

    Parameters
    ----------
    func
        The metric, or its ``"package.module:attr"``.
    greater_is_better
        Direction, for ratios and "best" markers.
    needs
        What ``y_out`` is: ``"labels"`` (``predict``), ``"proba"`` (``predict_proba``) or
        ``"scores"`` (``decision_function`` or a ranking score matrix).
    tasks
        Task kinds it applies to.
    default_for
        Tasks on which ``leanml run`` / ``compare`` score it when the user names no metric.
    """

    func: Ref
    greater_is_better: bool = True
    needs: str = "labels"
    tasks: tuple[str, ...] = ("classification",)
    default_for: tuple[str, ...] = ()

    KIND: ClassVar[str] = "metric"
    REFS: ClassVar[tuple[str, ...]] = ("func",)

    def score(self, y_true: Any, y_out: Any) -> float:
        """``func(y_true, y_out)`` as a float."""
        return float(self.resolve("func")(y_true, y_out))


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

    ``run(ctx: DemoContext) -> list[dict]`` (a callable or its ``"package.module:attr"``)
    returns the rows of its result table.
    """

    run: Ref

    KIND: ClassVar[str] = "demo"
    REFS: ClassVar[tuple[str, ...]] = ("run",)

    def execute(self, ctx: DemoContext) -> list[dict[str, Any]]:
        """Import the demo on first use and run it."""
        return self.resolve("run")(ctx)


E = TypeVar("E", bound=Entry)


class Registry(Generic[E]):
    """Entries of one kind keyed by their global name.

    Parameters
    ----------
    spec_type
        The entry class it holds (``ModelSpec``, ...); its ``KIND`` names it in messages.
    """

    def __init__(self, spec_type: type[E]) -> None:
        self.spec_type = spec_type
        self.kind = spec_type.KIND
        self._entries: dict[str, E] = {}

    def check(self, entry: object, plugin: str) -> None:
        """Raise :class:`RegistryError` if ``entry`` cannot be added for ``plugin``."""
        if not isinstance(entry, self.spec_type):
            raise RegistryError(
                f"plugin {plugin!r} registered a {type(entry).__name__} as a {self.kind}; "
                f"expected a {self.spec_type.__name__}"
            )
        if entry.name in self._entries:
            other = self._entries[entry.name].plugin
            raise RegistryError(
                f"{self.kind} name {entry.name!r} is registered by both plugin {other!r} "
                f"and plugin {plugin!r}; uninstall one of them"
            )

    def add(self, entry: E, plugin: str) -> None:
        """Add ``entry`` on behalf of ``plugin``; a clash names both plugins."""
        self.check(entry, plugin)
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
