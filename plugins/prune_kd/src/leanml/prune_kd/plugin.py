"""leanml hook implementations for prune_kd (lazy: imports nothing heavy)."""

from __future__ import annotations

from collections.abc import Callable

import click

from leanml.core import DemoSpec, hookimpl
from leanml.core.commands import LazyGroup

_PKG = "leanml.prune_kd"


@hookimpl
def register_demos(register: Callable[[DemoSpec], None]) -> None:
    """Dense vs magnitude vs SparseBERT at 90% on a tiny BERT."""
    register(
        DemoSpec(
            name="prune-kd",
            summary="tiny BERT: dense vs magnitude vs SparseBERT at 90%",
            run=f"{_PKG}.demo:run_demo",
        )
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    """`leanml prune-kd ...`."""
    cli.add_command(
        LazyGroup(
            "prune-kd",
            f"{_PKG}.cli:prune_kd",
            help="Sparse BERT by pruning while distilling (Xu, Yen et al., NAACL 2021).",
        )
    )
