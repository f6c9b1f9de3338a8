"""The whole leanml plugin contract.

A plugin is a module (or object) exposed through the ``leanml`` entry-point group, e.g. in
its ``pyproject.toml``::

    [project.entry-points.leanml]
    rbf_features = "leanml.rbf_features.plugin"

and implementing any of the hooks below, decorated with :data:`hookimpl`::

    from leanml.core import ModelSpec, hookimpl

    @hookimpl
    def register_models(register):
        register(ModelSpec(name="rb-svm", summary="...", factory=RBClassifier))

Every ``register_*`` hook is called once with a ``register`` callback (the simonw/llm
pattern), so a plugin registers any number of entries. Names are global: a clash is an
error naming both plugins. The contract is versioned by :data:`CONTRACT_VERSION`; plugins
depend on ``leanml-core`` with a compatible range.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from .registry import DatasetSpec, DemoSpec, MetricSpec, ModelSpec, SolverSpec

__all__ = ["CONTRACT_VERSION", "PROJECT_NAME", "hookimpl", "hookspec"]

#: pluggy project name and entry-point group.
PROJECT_NAME = "leanml"
#: Version of this hook contract (major bumps break plugins).
CONTRACT_VERSION = "1.0"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register named data sets: ``register(DatasetSpec(...))`` once per data set."""


@hookspec
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register named estimators, including the peers the plugin is compared against."""


@hookspec
def register_solvers(register: Callable[[SolverSpec], None]) -> None:
    """Register named optimisers a model can be fitted with."""


@hookspec
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    """Register metrics beyond the core's shared ones."""


@hookspec
def register_demos(register: Callable[[DemoSpec], None]) -> None:
    """Register the plugin's headline experiment(s) for ``leanml demo``."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add the plugin's own click group to the ``leanml`` CLI (``cli.add_command``)."""
