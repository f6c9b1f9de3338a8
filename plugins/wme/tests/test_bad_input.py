"""Bad inputs give clear errors, or the documented ``on_empty`` behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from leanml.core import InputError, ParameterError
from leanml.wme import Embeddings, WordMoversEmbedding, emd, wmd


@pytest.fixture
def fitted(shift):
    data, emb = shift
    m = WordMoversEmbedding(emb, n_features=8, output="kernel", random_state=0)
    return m.fit(data.X_train), emb


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"gamma": 0.0}, "gamma must be > 0"),
        ({"gamma": -1.0}, "gamma must be > 0"),
        ({"gamma": float("nan")}, "gamma must be > 0"),
        ({"gamma": "mean"}, "gamma must be"),
        ({"n_features": 0}, "n_features"),
        ({"n_features": 2.5}, "n_features"),
        ({"d_min": 5, "d_max": 3}, "d_min=5 must not exceed d_max=3"),
        ({"d_max": 0}, "d_max"),
        ({"random_words": "uniform"}, "random_words"),
        ({"weights": "bm25"}, "weights"),
        ({"on_empty": "skip"}, "on_empty"),
        ({"output": "raw"}, "output"),
        ({"unseen_idf": 0.0}, "unseen_idf"),
        ({"gamma_scale": 0}, "gamma_scale"),
    ],
)
def test_bad_hyperparameters(shift, params, match):
    data, emb = shift
    with pytest.raises(ParameterError, match=match):
        WordMoversEmbedding(emb, **params).fit(data.X_train)


def test_empty_and_all_oov_documents_follow_on_empty(fitted):
    m, _ = fitted
    docs = ["t0w1 t0w2", "", "zzz qqq unknownword", "the and of"]
    with pytest.warns(UserWarning, match="3 of 4 documents have no in-vocabulary word"):
        Z = m.transform(docs)
    assert (Z[0] > 0).all() and (Z[1:] == 0).all()
    m.set_params(on_empty="nan")
    with pytest.warns(UserWarning):
        Z = m.transform(docs)
    assert np.isnan(Z[1:]).all() and np.isfinite(Z[0]).all()
    m.set_params(on_empty="raise")
    with pytest.raises(InputError, match=r"3 document\(s\) have no in-vocabulary word"):
        m.transform(docs)
    assert m.document_stats(docs)["n_empty"] == 3
    assert m.document_stats(docs)["oov_rate"] == pytest.approx(3 / 5)


def test_all_training_documents_out_of_vocabulary(shift):
    _, emb = shift
    with pytest.raises(InputError, match="all 2 training documents are empty"):
        WordMoversEmbedding(emb).fit(["foo bar", "baz"])


def test_nan_vectors_rejected():
    V = np.ones((3, 4))
    V[1, 2] = np.nan
    with pytest.raises(InputError, match=r"'b'.*NaN"):
        Embeddings(V, ["a", "b", "c"])
    with pytest.raises(InputError, match="NaN"):
        wmd((np.array([[np.nan, 0.0]]), [1.0]), (np.ones((1, 2)), [1.0]))


def test_mismatched_dimensions_and_vocabulary(fitted, shift):
    with pytest.raises(InputError, match="3 words but the vector table has 2 rows"):
        Embeddings(np.ones((2, 4)), ["a", "b", "c"])
    with pytest.raises(InputError, match="doc_a has 3-d vectors but doc_b has 4-d"):
        wmd(np.ones((2, 3)), np.ones((2, 4)))
    m, emb = fitted
    wider = Embeddings(np.hstack([emb.vectors, emb.vectors]), emb.vocab)
    m.embeddings_ = wider  # e.g. a model unpickled next to other vectors
    with pytest.raises(InputError, match="embedding dimension 40 differs"):
        m.transform(["t0w1"])


def test_non_string_tokens_and_documents(fitted):
    m, _ = fitted
    with pytest.raises(InputError, match="non-string token 3"):
        m.transform([["t0w1", 3]])
    with pytest.raises(InputError, match="document 1 is int"):
        m.transform(["t0w1", 5])
    with pytest.raises(InputError, match="iterable of documents"):
        m.transform("t0w1 t0w2")
    with pytest.raises(InputError, match="not str"):
        Embeddings(np.ones((2, 2)), ["a", 7])


def test_unfitted_transform_raises(shift):
    from sklearn.exceptions import NotFittedError

    _, emb = shift
    with pytest.raises(NotFittedError):
        WordMoversEmbedding(emb).transform(["t0w1"])


def test_emd_and_wmd_bad_weights_and_shapes():
    C = np.ones((2, 3))
    with pytest.raises(InputError, match="shape"):
        emd([0.5, 0.5], [1.0, 0.0], C)
    with pytest.raises(InputError, match="non-negative"):
        emd([1.5, -0.5], [1, 1, 1], C)
    with pytest.raises(InputError, match="sums to 0"):
        emd([0.0, 0.0], [1, 1, 1], C)
    with pytest.raises(InputError, match="empty"):
        emd([], [1.0], np.ones((0, 1)))
    with pytest.raises(InputError, match="NaN or infinite"):
        emd([1, 1], [1, 1, 1], np.full((2, 3), np.inf))
    with pytest.raises(InputError, match="pass embeddings"):
        wmd("a text", "another")


def test_text_wmd_with_all_oov_document(shift):
    _, emb = shift
    with pytest.raises(InputError, match="no in-vocabulary word"):
        wmd("t0w1", "nothing known", embeddings=emb)
    assert wmd("t0w1 t0w2", "t0w2 t0w1", embeddings=emb) == 0.0


def test_bad_embeddings_argument():
    with pytest.raises(InputError, match="neither a file nor a known name"):
        WordMoversEmbedding("no-such-vectors").fit(["a"])
    with pytest.raises(InputError, match="embeddings must be"):
        WordMoversEmbedding(42).fit(["a"])
