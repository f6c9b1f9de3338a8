"""Terminal output shared by the CLI and plugins: quiet mode, echo and progress bars.

Progress bars show only on a terminal and never with ``--quiet``; piped output stays clean.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import track as _rich_track
from rich.table import Table

__all__ = ["console", "echo", "is_quiet", "print_rows", "print_table", "progress", "set_quiet"]

T = TypeVar("T")

# Piped output (logs, CI) gets wide tables instead of rich's 80-column default.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
_STATE = {"quiet": False}


def set_quiet(quiet: bool) -> None:
    """Silence :func:`echo` and :func:`progress` (``leanml --quiet``)."""
    _STATE["quiet"] = quiet


def is_quiet() -> bool:
    """Whether ``--quiet`` is in force."""
    return _STATE["quiet"]


def echo(message: str) -> None:
    """Print a line unless quiet."""
    if not _STATE["quiet"]:
        console.print(message)


def progress(iterable: Iterable[T], description: str = "", total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar on a terminal; plain iteration when quiet or piped."""
    if _STATE["quiet"] or not sys.stderr.isatty():
        yield from iterable
        return
    yield from _rich_track(
        iterable, description=description, total=total, console=Console(stderr=True), transient=True
    )


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print a rich table (results are printed even with ``--quiet``).

    Every title, header and cell is shown literally: user text such as a file called
    ``a[/b].csv`` is escaped, never read as rich markup.
    """
    table = Table(title=escape(title), title_justify="left")
    for col in columns:
        table.add_column(escape(str(col)), overflow="fold")
    for row in rows:
        table.add_row(*[escape(_cell(v)) for v in row])
    console.print(table)


def print_rows(title: str, rows: Sequence[Mapping[str, object]]) -> None:
    """Print records as a table; columns are the union of their keys, first seen first."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    print_table(title, columns, [[row.get(c) for c in columns] for row in rows])
