"""A click group that imports its plugin's command module only when it is used.

``leanml --help`` lists every plugin's group with its one-line help; building the real
groups would import each plugin's CLI module (and through it torch or Numba). A plugin
registers a :class:`LazyGroup` instead::

    @hookimpl
    def register_commands(cli):
        cli.add_command(LazyGroup("wme", "leanml.wme.cli:wme", help="Word Mover's Embedding."))
"""

from __future__ import annotations

from typing import Any

import click

from .errors import RegistryError
from .lazy import resolve

__all__ = ["LazyGroup"]


class LazyGroup(click.Group):
    """A click group standing in for ``target`` until it is invoked or asked for help.

    Parameters
    ----------
    name
        The command name under ``leanml`` (hyphens, e.g. ``"rbf-features"``).
    target
        ``"package.module:attr"`` of the real :class:`click.Group`.
    help
        One line for ``leanml --help``.
    """

    def __init__(self, name: str, target: str, help: str) -> None:
        super().__init__(name=name, help=help)
        self.target = target
        self._real: click.Group | None = None

    def _load(self) -> click.Group:
        if self._real is None:
            real = resolve(self.target, f"command group {self.name!r}")
            if not isinstance(real, click.Group):
                raise RegistryError(f"command group {self.name!r}: {self.target} is not a group")
            self._real = real
        return self._real

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        return self._load().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        return self._load().invoke(ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._load().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load().get_command(ctx, cmd_name)
