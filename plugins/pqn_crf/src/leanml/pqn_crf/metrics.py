"""Sequence-labelling metrics: token accuracy and entity-level F1 for IOB tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from leanml.core import InputError

__all__ = ["entity_f1", "iob_entities", "token_accuracy"]


def token_accuracy(y_true: Sequence[Sequence[Any]], y_pred: Sequence[Sequence[Any]]) -> float:
    """Fraction of tokens whose predicted label equals the gold one."""
    _check(y_true, y_pred)
    a = np.concatenate([np.asarray(s) for s in y_true])
    b = np.concatenate([np.asarray(s) for s in y_pred])
    return float(np.mean(a == b))


def iob_entities(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """Entities ``(type, start, end)`` of one IOB1/IOB2 tag sequence (conlleval's rules).

    An entity starts at ``B-X``, or at ``I-X`` that does not continue an entity of type X;
    it ends before ``O``, ``B-*`` or a tag of another type.
    """
    out: set[tuple[str, int, int]] = set()
    kind, start = None, 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, typ = str(tag).partition("-")
        begins = prefix == "B" or (prefix == "I" and typ != kind)
        if kind is not None and (prefix == "O" or begins or typ != kind):
            out.add((kind, start, i))
            kind = None
        if prefix in ("B", "I") and (begins or kind is None):
            kind, start = typ, i
    return out


def entity_f1(y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]]) -> dict[str, float]:
    """Micro precision, recall and F1 over exact-match entities."""
    _check(y_true, y_pred)
    tp = n_true = n_pred = 0
    for t, p in zip(y_true, y_pred, strict=True):
        et, ep = iob_entities(list(t)), iob_entities(list(p))
        tp += len(et & ep)
        n_true += len(et)
        n_pred += len(ep)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _check(y_true: Sequence[Any], y_pred: Sequence[Any]) -> None:
    if len(y_true) != len(y_pred):
        raise InputError(f"{len(y_true)} gold sequences but {len(y_pred)} predicted")
    for i, (t, p) in enumerate(zip(y_true, y_pred, strict=True)):
        if len(t) != len(p):
            raise InputError(f"sequence {i}: {len(t)} gold labels but {len(p)} predicted")
    if not len(y_true):
        raise InputError("no sequences to score")
