"""Readers for the file formats users bring: svmlight/LIBSVM, CSV, text lines, CoNLL.

Every reader raises :class:`~leanml.core.errors.DataError` naming the file and the line of
the first malformed record. Each accepts a path or an already opened text stream (with a
``name`` to report).
"""

from __future__ import annotations

import csv
import gzip
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from .errors import DataError

if TYPE_CHECKING:
    from .data import Dataset

__all__ = [
    "FILE_FORMATS",
    "dataset_from_file",
    "load_conll",
    "load_csv",
    "load_svmlight",
    "load_text_lines",
    "looks_like_file",
    "open_text",
]


@contextmanager
def open_text(source: str | Path | IO[str]) -> Iterator[tuple[IO[str], str]]:
    """Open a path (``.gz`` transparently) or pass a stream through, with a display name."""
    if hasattr(source, "read"):
        yield source, getattr(source, "name", "<stream>")  # type: ignore[misc]
        return
    path = Path(source)  # type: ignore[arg-type]
    if not path.is_file():
        raise DataError("no such file", path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                yield fh, str(path)
        else:
            with path.open(encoding="utf-8") as fh:
                yield fh, str(path)
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text: {exc}", path) from exc


def load_svmlight(
    source: str | Path | IO[str], n_features: int | None = None, zero_based: bool | str = "auto"
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Read a svmlight/LIBSVM file: ``label idx:value idx:value ... [# comment]``.

    Parameters
    ----------
    source
        Path or text stream.
    n_features
        Number of columns; inferred from the largest index when ``None``.
    zero_based
        Whether indices start at 0; ``"auto"`` picks 1-based unless an index 0 occurs
        (LIBSVM's own files are 1-based).

    Returns
    -------
    X : scipy.sparse.csr_matrix of float64, y : ndarray of float64
    """
    indptr, indices, values, labels = [0], [], [], []
    with open_text(source) as (fh, name):
        for lineno, raw in enumerate(fh, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            try:
                labels.append(float(parts[0]))
            except ValueError:
                raise DataError(f"label {parts[0]!r} is not a number", name, lineno) from None
            if not math.isfinite(labels[-1]):
                raise DataError(f"non-finite label {parts[0]!r}", name, lineno)
            last = -1
            for tok in parts[1:]:
                if tok.startswith("qid:"):
                    continue
                idx_s, sep, val_s = tok.partition(":")
                try:
                    if not sep:
                        raise ValueError
                    idx, val = int(idx_s), float(val_s)
                except ValueError:
                    raise DataError(f"expected index:value, got {tok!r}", name, lineno) from None
                if not math.isfinite(val):
                    raise DataError(f"non-finite value {val_s!r} at index {idx}", name, lineno)
                if idx < 0 or idx <= last:
                    raise DataError(
                        f"feature indices must be non-negative and increasing, got {idx}",
                        name,
                        lineno,
                    )
                last = idx
                indices.append(idx)
                values.append(val)
            indptr.append(len(indices))
    if not labels:
        raise DataError("no records", name)
    idx_arr = np.asarray(indices, dtype=np.int64)
    if zero_based == "auto":
        zero_based = bool(idx_arr.size) and int(idx_arr.min()) == 0
    if not zero_based:
        if idx_arr.size and idx_arr.min() < 1:
            raise DataError("index 0 in a 1-based file", name)
        idx_arr -= 1
    width = int(idx_arr.max()) + 1 if idx_arr.size else 0
    if n_features is not None:
        if width > n_features:
            raise DataError(f"has feature index {width} beyond n_features={n_features}", name)
        width = n_features
    X = sp.csr_matrix(
        (np.asarray(values, dtype=np.float64), idx_arr, np.asarray(indptr, dtype=np.int64)),
        shape=(len(labels), width),
    )
    return X, np.asarray(labels)


def load_csv(
    source: str | Path | IO[str],
    target: int | str = -1,
    header: bool | str = "auto",
    delimiter: str = ",",
) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """Read a numeric CSV file with one target column.

    Parameters
    ----------
    source
        Path (``.gz`` allowed) or text stream.
    target
        Target column: index (negative counts from the end) or header name.
    header
        Whether the first row holds names; ``"auto"``: yes if it is not all numbers.
    delimiter
        Field separator.

    Returns
    -------
    X : ndarray (n, d) of float64, y : ndarray, feature_names : list or None
        ``y`` is float when every target parses as a number, else the raw strings.
    """
    with open_text(source) as (fh, name):
        reader = csv.reader(fh, delimiter=delimiter)
        # (line number, fields) so errors name the file's own line, blank lines included
        numbered = [(reader.line_num, r) for r in reader if r and any(c.strip() for c in r)]
    if not numbered:
        raise DataError("no records", name)
    first = numbered[0][1]
    if header == "auto":
        header = not all(_is_number(c) for c in first)
    names = [c.strip() for c in first] if header else None
    body = numbered[1:] if header else numbered
    width = len(first)
    if isinstance(target, str):
        if names is None or target not in names:
            raise DataError(f"no column named {target!r}", name)
        t = names.index(target)
    else:
        t = target % width
    X = np.empty((len(body), width - 1))
    y_raw = []
    for i, (lineno, row) in enumerate(body):
        if len(row) != width:
            raise DataError(f"expected {width} fields, got {len(row)}", name, lineno)
        y_raw.append(row[t].strip())
        feats = row[:t] + row[t + 1 :]
        try:
            X[i] = [float(c) for c in feats]
        except ValueError:
            bad = next(c for c in feats if not _is_number(c))
            raise DataError(f"non-numeric value {bad!r}", name, lineno) from None
        if not np.isfinite(X[i]).all():
            bad = next(c for c in feats if not math.isfinite(float(c)))
            raise DataError(f"non-finite value {bad.strip()!r}", name, lineno)
        if _is_number(y_raw[-1]) and not math.isfinite(float(y_raw[-1])):
            raise DataError(f"non-finite target {y_raw[-1]!r}", name, lineno)
    y: np.ndarray
    if all(_is_number(v) for v in y_raw):
        y = np.asarray([float(v) for v in y_raw])
    else:
        y = np.asarray(y_raw)
    feature_names = None if names is None else names[:t] + names[t + 1 :]
    return X, y, feature_names


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_text_lines(
    source: str | Path | IO[str], separator: str = "\t"
) -> tuple[list[str], np.ndarray]:
    """Read one labelled text per line: ``label<separator>text``.

    Returns
    -------
    texts : list of str, labels : ndarray of str
    """
    texts, labels = [], []
    with open_text(source) as (fh, name):
        for lineno, raw in enumerate(fh, 1):
            line = raw.rstrip("\n")
            if not line.strip():
                continue
            label, sep, text = line.partition(separator)
            if not sep or not label.strip() or not text.strip():
                raise DataError(
                    f"expected 'label{separator!r}text', got {line[:40]!r}", name, lineno
                )
            labels.append(label.strip())
            texts.append(text.strip())
    if not texts:
        raise DataError("no records", name)
    return texts, np.asarray(labels)


def load_conll(
    source: str | Path | IO[str],
    columns: int | None = None,
    separator: str | None = None,
    ragged: bool = False,
) -> list[list[list[str]]]:
    """Read CoNLL columns: one token per line, blank lines between sentences.

    Parameters
    ----------
    source
        Path or text stream. ``-DOCSTART-`` lines are skipped.
    columns
        Expected number of columns; the first line decides when ``None``.
    separator
        Column separator; any whitespace when ``None``.
    ragged
        Allow lines with different numbers of columns (at least 2: some token fields and the
        label, last), as in files whose feature columns vary per token; ``columns`` is then
        ignored.

    Returns
    -------
    sentences
        Each sentence is a list of tokens, each token the list of its columns (the last
        column is conventionally the label).
    """
    sentences: list[list[list[str]]] = []
    current: list[list[str]] = []
    with open_text(source) as (fh, name):
        for lineno, raw in enumerate(fh, 1):
            line = raw.rstrip("\n")
            if not line.strip():
                if current:
                    sentences.append(current)
                    current = []
                continue
            if line.startswith("-DOCSTART-"):
                continue
            cols = line.split(separator) if separator else line.split()
            if ragged:
                if len(cols) < 2:
                    raise DataError(
                        f"expected a token and a label, got {len(cols)} column", name, lineno
                    )
                current.append(cols)
                continue
            if columns is None:
                columns = len(cols)
            if len(cols) != columns:
                raise DataError(f"expected {columns} columns, got {len(cols)}", name, lineno)
            current.append(cols)
    if current:
        sentences.append(current)
    if not sentences:
        raise DataError("no sentences", name)
    return sentences


#: File suffixes :func:`dataset_from_file` understands, and their format.
FILE_FORMATS = {
    ".svm": "svmlight",
    ".svmlight": "svmlight",
    ".libsvm": "svmlight",
    ".csv": "csv",
    ".tsv": "text",
    ".txt": "text",
    ".conll": "conll",
}


def _format_of(path: Path) -> str | None:
    suffixes = [s for s in path.suffixes if s != ".gz"]
    return FILE_FORMATS.get(suffixes[-1].lower()) if suffixes else None


def looks_like_file(name: str) -> bool:
    """Whether a ``--dataset`` value names a file rather than a registered data set."""
    path = Path(name)
    return path.exists() or "/" in name or _format_of(path) is not None


#: Integer targets with more distinct values than this are taken as regression.
MAX_INFERRED_CLASSES = 50


def infer_task(y: Any) -> str:
    """``"classification"`` or ``"regression"`` for a target vector, as a user would expect.

    Like scikit-learn's ``type_of_target``, strings and booleans are classes and non-integral
    numbers are continuous. Unlike it, integer targets with more than
    :data:`MAX_INFERRED_CLASSES` distinct values, or with a distinct value for more than half
    the rows, are regression (counts, ages, prices in whole units), not hundreds of classes.
    Pass ``task=`` (``--task`` on the CLI) to decide otherwise.
    """
    y = np.asarray(y)
    if y.dtype.kind in "USOb":
        return "classification"
    if not np.all(np.mod(y, 1) == 0):
        return "regression"
    n_distinct = len(np.unique(y))
    if n_distinct > MAX_INFERRED_CLASSES or n_distinct > max(2, len(y) // 2):
        return "regression"
    return "classification"


def dataset_from_file(
    path: str | Path,
    test_size: float = 0.25,
    seed: int = 0,
    fmt: str | None = None,
    task: str | None = None,
) -> Dataset:
    """Load a user's file as a :class:`~leanml.core.data.Dataset` with a seeded split.

    The format follows the suffix (see :data:`FILE_FORMATS`), or ``fmt``:

    - ``svmlight``: ``label idx:value ...`` (sparse CSR ``X``);
    - ``csv``: numeric columns, the last one the target;
    - ``text``: ``label<TAB>text`` per line, classification of texts;
    - ``conll``: token columns, the last one the label, sequence labelling; ``X`` is a list
      of sentences, each a list of tokens' other columns.

    For ``svmlight`` and ``csv`` the task is ``task`` if given, else :func:`infer_task`.
    """
    from .data import Dataset

    path = Path(path)
    if fmt is not None and fmt not in set(FILE_FORMATS.values()):
        known = ", ".join(sorted(set(FILE_FORMATS.values())))
        raise DataError(f"unknown format {fmt!r}; use one of {known}", path)
    fmt = fmt or _format_of(path)
    if fmt is None:
        known = ", ".join(sorted(FILE_FORMATS))
        raise DataError(
            f"unknown file format; use one of the suffixes {known} or pass --format", path
        )
    if not path.is_file():
        raise DataError("no such file", path)
    meta: dict[str, Any] = {"source": f"user file {path}", "licence": "user's own"}
    if fmt in ("svmlight", "csv"):
        if fmt == "svmlight":
            X, y = load_svmlight(path)
            names = None
        else:
            X, y, names = load_csv(path)
        task = task or infer_task(y)
        return Dataset.from_arrays(
            path.name, X, y, test_size=test_size, seed=seed, task=task, feature_names=names, **meta
        )
    if fmt == "text":
        texts, labels = load_text_lines(path)
        return Dataset.from_arrays(
            path.name,
            texts,
            labels,
            test_size=test_size,
            seed=seed,
            task=task or "classification",
            **meta,
        )
    sentences = load_conll(path)
    X_seq = [[tok[:-1] for tok in sent] for sent in sentences]
    y_seq = [[tok[-1] for tok in sent] for sent in sentences]
    return Dataset.from_arrays(
        path.name,
        X_seq,
        y_seq,
        test_size=test_size,
        seed=seed,
        stratify=False,
        task=task or "sequence_labeling",
        **meta,
    )
