"""GLUE tasks through Hugging Face ``datasets`` by name (online, or from its cache).

``datasets`` is optional (``pip install datasets``); without it, or offline with nothing
cached, loading fails with one line. The loaded rows are plain lists, so the rest of the
plugin never imports ``datasets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leanml.core import DataError

__all__ = ["GLUE_TASKS", "GlueSplit", "load_glue"]

#: task -> (first text column, second text column or None, number of labels; 1 = regression)
GLUE_TASKS: dict[str, tuple[str, str | None, int]] = {
    "cola": ("sentence", None, 2),
    "sst2": ("sentence", None, 2),
    "mrpc": ("sentence1", "sentence2", 2),
    "qqp": ("question1", "question2", 2),
    "stsb": ("sentence1", "sentence2", 1),
    "mnli": ("premise", "hypothesis", 3),
    "qnli": ("question", "sentence", 2),
    "rte": ("sentence1", "sentence2", 2),
    "wnli": ("sentence1", "sentence2", 2),
}


@dataclass
class GlueSplit:
    """One split: ``texts`` (and ``texts_b`` for pair tasks), ``labels``, ``num_labels``."""

    texts: list[str]
    texts_b: list[str] | None
    labels: list[Any]
    num_labels: int


def load_glue(task: str, split: str = "train", repository: str = "nyu-mll/glue") -> GlueSplit:
    """Rows of GLUE ``task`` (``"sst2"``, ``"mrpc"``, ...) and ``split`` (``"train"``,
    ``"validation"``; MNLI: ``"validation_matched"``) via ``datasets.load_dataset``."""
    if task not in GLUE_TASKS:
        raise DataError(f"unknown GLUE task {task!r}; choose one of {', '.join(GLUE_TASKS)}")
    try:
        import datasets
    except ImportError:
        raise DataError("GLUE needs the datasets package: pip install datasets") from None
    col_a, col_b, num_labels = GLUE_TASKS[task]
    try:
        rows = datasets.load_dataset(repository, task, split=split)
    except Exception as exc:  # network, cache and hub errors come in many types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"cannot load GLUE {task}/{split} (offline and not cached?): {first}"
        ) from None
    texts = [r[col_a] for r in rows]
    texts_b = [r[col_b] for r in rows] if col_b else None
    labels = [r["label"] for r in rows]
    if num_labels > 1 and any(y is None or not 0 <= int(y) < num_labels for y in labels):
        raise DataError(f"GLUE {task}/{split} has labels outside [0, {num_labels}) (a test split?)")
    return GlueSplit(texts, texts_b, labels, num_labels)
