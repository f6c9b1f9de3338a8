"""Terminal output shared by the CLI and plugins: quiet mode, echo and progress bars.

Progress bars show only on a terminal and never with ``--quiet``; piped output stays clean.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import track as _rich_track

__all__ = ["console", "echo", "is_quiet", "progress", "set_quiet"]

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
