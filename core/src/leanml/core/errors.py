"""Errors a user can cause.

Every error a user can trigger (bad file, wrong shape, unknown name, bad hyperparameter,
unreachable package index) is a :class:`LeanmlError`. The CLI prints its message on one
line and exits with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

__all__ = [
    "ChecksumError",
    "DataError",
    "FetchError",
    "InputError",
    "LeanmlError",
    "ModelError",
    "ParameterError",
    "RegistryError",
]


class LeanmlError(Exception):
    """Base class of every user-facing leanml error."""


class InputError(LeanmlError, ValueError):
    """Bad data passed to an estimator: NaN, wrong shape, wrong dtype, unseen labels.

    Also a :class:`ValueError`, so scikit-learn conventions (and ``pytest.raises(ValueError)``)
    keep working.
    """


class ParameterError(LeanmlError, ValueError):
    """A hyperparameter or ``-p key=value`` option that is out of range or malformed."""


class ModelError(LeanmlError):
    """A model raised while being built, fitted or used; the message names the model and
    its parameters, ``details`` holds the traceback (shown by ``--debug``)."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class RegistryError(LeanmlError, KeyError):
    """An unknown dataset, model, solver, metric or demo name, or a name clash."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(LeanmlError):
    """A file that cannot be read; the message names the file and, where known, the line."""

    def __init__(self, message: str, path: object = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


class ChecksumError(DataError):
    """A downloaded or cached file whose SHA-256 differs from the registered one."""


class FetchError(DataError):
    """A package archive that could not be obtained (offline, unknown version, no index)."""
