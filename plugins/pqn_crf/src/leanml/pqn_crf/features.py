"""Sequences of tokens to a stacked CSR matrix, in CRFsuite's attribute convention.

A token (an *item* in CRFsuite) is one of:

- a dict ``{name: value}``: numbers (and bools) are attribute scales; a string value ``v``
  becomes the attribute ``name=v`` with scale 1; a nested dict ``{name: {sub: v}}`` becomes
  ``name:sub``; a list of strings becomes ``name:item`` attributes (python-crfsuite's rules);
- a list of strings: each is an attribute with scale 1;
- a row of a 2-D array (a whole sequence given as an ``(n_tokens, d)`` array or CSR
  matrix): column ``j`` is attribute ``j``, zeros omitted.

Attributes are numbered on the training set; unseen attributes at prediction are ignored,
as in CRFsuite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from leanml.core import InputError

__all__ = [
    "AttributeIndex",
    "conll_token_features",
    "flatten_token",
    "pos_token_features",
    "word_features",
]


def flatten_token(token: Any, prefix: str = "") -> dict[str, float]:
    """One token as ``{attribute: scale}`` following python-crfsuite's rules."""
    out: dict[str, float] = {}
    if isinstance(token, Mapping):
        for key, value in token.items():
            name = f"{prefix}{key}"
            if isinstance(value, str):
                out[f"{name}={value}"] = 1.0
            elif isinstance(value, Mapping):
                out.update(flatten_token(value, prefix=f"{name}:"))
            elif isinstance(value, (list, tuple, set, frozenset)):
                for item in value:
                    out[f"{name}:{item}"] = 1.0
            else:
                out[name] = float(value)
    elif isinstance(token, (list, tuple)):
        for item in token:
            out[f"{prefix}{item}"] = 1.0
    elif isinstance(token, str):
        out[f"{prefix}{token}"] = 1.0
    else:
        raise InputError(f"a token must be a dict or a list of strings, got {type(token).__name__}")
    return out


def _is_matrix_sequence(seq: Any) -> bool:
    return sp.issparse(seq) or (isinstance(seq, np.ndarray) and seq.ndim == 2)


class AttributeIndex:
    """Attribute names (or column ids for array input) to consecutive integers.

    Attributes
    ----------
    names_ : list of attribute names (strings) or column ids, in id order.
    matrix_input_ : sequences were 2-D arrays / CSR matrices rather than token lists.
    """

    def __init__(self) -> None:
        self.names_: list[Any] = []
        self._ids: dict[Any, int] = {}
        self.matrix_input_ = False
        self.n_columns_ = 0

    @property
    def size(self) -> int:
        """Number of attributes."""
        return len(self.names_)

    def fit_transform(self, X: Sequence[Any]) -> tuple[sp.csr_matrix, np.ndarray]:
        """Number attributes seen in ``X`` and return its stacked CSR matrix and offsets."""
        return self._transform(X, grow=True)

    def transform(self, X: Sequence[Any]) -> tuple[sp.csr_matrix, np.ndarray]:
        """Stacked CSR matrix (n_tokens x size) and offsets; unseen attributes dropped."""
        return self._transform(X, grow=False)

    def _transform(self, X: Sequence[Any], grow: bool) -> tuple[sp.csr_matrix, np.ndarray]:
        if isinstance(X, (str, bytes)) or not isinstance(X, (Sequence, np.ndarray)):
            raise InputError("X must be a list of sequences (lists of tokens or 2-D arrays)")
        if len(X) == 0:
            raise InputError("X has no sequences")
        lengths = np.empty(len(X), dtype=np.int64)
        matrix = _is_matrix_sequence(X[0])
        if grow:
            self.matrix_input_ = matrix
        elif matrix != self.matrix_input_:
            raise InputError("sequences must be of the kind used in fit (token lists or arrays)")
        if matrix:
            blocks = []
            for i, seq in enumerate(X):
                if not _is_matrix_sequence(seq):
                    raise InputError(f"sequence {i} is not a 2-D array like the first one")
                lengths[i] = seq.shape[0]
                blocks.append(sp.csr_matrix(seq, dtype=np.float64))
            return self._columns(blocks, lengths, grow)
        indptr, indices, data = [0], [], []
        for i, seq in enumerate(X):
            if isinstance(seq, (str, bytes, Mapping)):
                raise InputError(f"sequence {i} must be a list of tokens, got {type(seq).__name__}")
            lengths[i] = len(seq)
            for token in seq:
                for name, value in flatten_token(token).items():
                    j = self._ids.get(name)
                    if j is None:
                        if not grow:
                            continue
                        j = self._ids[name] = len(self.names_)
                        self.names_.append(name)
                    indices.append(j)
                    data.append(value)
                indptr.append(len(indices))
        _check_lengths(lengths)
        X_csr = sp.csr_matrix(
            (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), indptr),
            shape=(len(indptr) - 1, len(self.names_)),
        )
        _check_finite(X_csr)
        return X_csr, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    def _columns(
        self, blocks: list[sp.csr_matrix], lengths: np.ndarray, grow: bool
    ) -> tuple[sp.csr_matrix, np.ndarray]:
        _check_lengths(lengths)
        widths = {b.shape[1] for b in blocks}
        if len(widths) != 1:
            raise InputError(f"array sequences have different widths {sorted(widths)}")
        X_all = sp.vstack(blocks, format="csr")
        X_all.eliminate_zeros()
        _check_finite(X_all)
        if grow:
            self.n_columns_ = X_all.shape[1]
            used = np.unique(X_all.indices)
            self.names_ = [int(c) for c in used]
            self._ids = {c: i for i, c in enumerate(self.names_)}
        elif X_all.shape[1] != self.n_columns_:
            raise InputError(f"sequences have {X_all.shape[1]} columns; fit saw {self.n_columns_}")
        col_map = np.full(self.n_columns_, -1, dtype=np.int64)
        col_map[np.asarray(self.names_, dtype=np.int64)] = np.arange(self.size)
        X_all = X_all[:, np.flatnonzero(col_map >= 0)] if self.size < self.n_columns_ else X_all
        return sp.csr_matrix(X_all), np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def _check_lengths(lengths: np.ndarray) -> None:
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise InputError(f"sequence {int(empty[0])} is empty; every sequence needs >= 1 token")


def _check_finite(X: sp.csr_matrix) -> None:
    if not np.all(np.isfinite(X.data)):
        raise InputError("features contain NaN or infinite values")


def word_features(sentence: Sequence[str], i: int) -> dict[str, Any]:
    """The usual word-shape features of token ``i`` (sklearn-crfsuite's tutorial set)."""
    word = sentence[i]
    feats: dict[str, Any] = {
        "bias": 1.0,
        "word.lower": word.lower(),
        "word[-3:]": word[-3:],
        "word[-2:]": word[-2:],
        "word.isupper": word.isupper(),
        "word.istitle": word.istitle(),
        "word.isdigit": word.isdigit(),
    }
    if i > 0:
        feats["-1:word.lower"] = sentence[i - 1].lower()
    else:
        feats["BOS"] = True
    if i + 1 < len(sentence):
        feats["+1:word.lower"] = sentence[i + 1].lower()
    else:
        feats["EOS"] = True
    return feats


def conll_token_features(
    sentence: Sequence[Sequence[str]], window: int = 1, columns: Iterable[int] | None = None
) -> list[dict[str, float]]:
    """Features of a CoNLL sentence (tokens as column lists, label column removed).

    Attribute ``c{j}[{o}]=value`` for each used column ``j`` of the token at offset
    ``o`` in [-window, window], the word shape of column 0, and a bias.
    """
    cols = list(columns) if columns is not None else list(range(len(sentence[0])))
    out = []
    for i in range(len(sentence)):
        feats: dict[str, float] = {"bias": 1.0}
        for o in range(-window, window + 1):
            k = i + o
            if 0 <= k < len(sentence):
                for j in cols:
                    feats[f"c{j}[{o}]={sentence[k][j]}"] = 1.0
            else:
                feats[f"pad[{o}]"] = 1.0
        word = sentence[i][0]
        feats[f"suffix2={word[-2:]}"] = 1.0
        feats[f"suffix3={word[-3:]}"] = 1.0
        if word.isdigit():
            feats["isdigit"] = 1.0
        if word[:1].isupper():
            feats["istitle"] = 1.0
        out.append(feats)
    return out


def _shape(word: str) -> str:
    """Word shape with runs collapsed: ``McDonald's`` -> ``AaAa'a``, ``1,000`` -> ``0,0``."""
    out: list[str] = []
    for ch in word:
        c = "A" if ch.isupper() else "a" if ch.islower() else "0" if ch.isdigit() else ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


def pos_token_features(sentence: Sequence[str], i: int) -> dict[str, Any]:
    """The standard part-of-speech template for token ``i`` of a sentence of words.

    Word and lower-cased word, prefixes and suffixes of 1-3 characters, the collapsed word
    shape, capitalisation / digit / hyphen flags, and the lower-cased words at offsets -2..2
    (``BOS``/``EOS`` at the edges), plus a bias; the usual template of CRF POS taggers
    (CRFsuite's and sklearn-crfsuite's examples use subsets of it).
    """
    word = sentence[i]
    low = word.lower()
    feats: dict[str, Any] = {"bias": 1.0, "w": word, "lw": low, "shape": _shape(word)}
    for k in (1, 2, 3):
        if len(word) >= k:
            feats[f"p{k}"] = low[:k]
            feats[f"s{k}"] = low[-k:]
    if word[:1].isupper():
        feats["title"] = True
    if word.isupper():
        feats["upper"] = True
    if any(ch.isdigit() for ch in word):
        feats["digit"] = True
    if "-" in word:
        feats["hyphen"] = True
    for o in (-2, -1, 1, 2):
        k = i + o
        if 0 <= k < len(sentence):
            feats[f"{o}:lw"] = sentence[k].lower()
        elif k == -1:
            feats["BOS"] = True
        elif k == len(sentence):
            feats["EOS"] = True
    return feats
