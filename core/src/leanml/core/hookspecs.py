"""The whole leanml plugin contract.

A plugin is a module (or object) exposed through the ``leanml`` entry-point group, e.g. in
its ``pyproject.toml``::

    [project.entry-points.leanml]
    rbf_features = "leanml.rbf_features.plugin"

and implementing any of the hooks below, decorated with :data:`hookimpl`::

    from leanml.core import ModelSpec, hookimpl

    @hookimpl
    def register_models(register):
        register(
            ModelSpec(
                name="rb-svm",
                summary="...",
                factory="leanml.rbf_features.estimators:RBClassifier",
            )
        )

Every ``register_*`` hook is called once with a ``register`` callback (the simonw/llm
pattern), so a plugin registers any number of entries. Hooks are called through pluggy, one
plugin at a time, so ``tryfirst``/``trylast``, wrappers and implementations that take fewer
arguments behave as pluggy documents.

Rules the core enforces:

- **Lazy.** Specs name their callables as ``"package.module:attr"`` strings, imported on
  first use; ``plugin.py`` and the package's ``__init__`` import nothing heavy (use
  :func:`leanml.core.lazy.attach` for the public API and
  :class:`leanml.core.commands.LazyGroup` for the command group). Listing what is
  installed imports no torch, Numba or scikit-learn.
- **All or nothing.** A plugin whose import or any hook raises, or one of whose names is
  already taken (by the core or an earlier plugin, in entry-point name order), is marked
  failed with the reason and registers nothing at all; the others keep working.
- **Names** match ``[a-z0-9][a-z0-9_-]*`` and are global per kind; a command may not
  replace a core command or another plugin's.

The contract is versioned by :data:`CONTRACT_VERSION`; plugins depend on ``leanml-core``
with a compatible range.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from .registry import (
        DatasetSpec,
        DemoSpec,
        ExplainerSpec,
        MetricSpec,
        ModelSpec,
        SolverSpec,
    )

__all__ = ["CONTRACT_VERSION", "PROJECT_NAME", "hookimpl", "hookspec"]

#: pluggy project name and entry-point group.
PROJECT_NAME = "leanml"
#: Version of this hook contract (major bumps break plugins).
CONTRACT_VERSION = "2.0"

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
def register_explainers(register: Callable[[ExplainerSpec], None]) -> None:
    """Register explanation and data-attribution methods (neither models nor solvers)."""


@hookspec
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    """Register metrics beyond the core's shared ones."""


@hookspec
def register_demos(register: Callable[[DemoSpec], None]) -> None:
    """Register the plugin's headline experiment(s) for ``leanml demo``."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add the plugin's own click group(s) with ``cli.add_command``.

    ``cli`` is a staging group: its commands join ``leanml`` only if none of their names is
    taken. Add a :class:`leanml.core.commands.LazyGroup` so that ``leanml --help`` does not
    import the plugin's command module.
    """
