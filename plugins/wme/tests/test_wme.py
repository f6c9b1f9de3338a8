"""WordMoversEmbedding: feature range, determinism, kernel properties, synonym shift."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.svm import LinearSVC

from leanml.wme import RANDOM_WORDS, Embeddings, WMEClassifier, WordMoversEmbedding, similarity
from leanml.wme._reference import wmd_to_random_docs_ref
from leanml.wme.peers import mean_vectors_svc


def test_features_in_unit_interval_deterministic_and_transform_equals_fit_transform(shift):
    data, emb = shift
    X = data.X_train[:50]
    m = WordMoversEmbedding(emb, n_features=64, d_max=4, output="kernel", random_state=3)
    Z = m.fit_transform(X)
    scaled = Z * np.sqrt(64)
    assert Z.shape == (50, 64)
    assert (scaled > 0).all() and (scaled <= 1).all()
    np.testing.assert_array_equal(Z, m.transform(X))
    again = m.set_params(output="kernel").fit_transform(X)
    np.testing.assert_array_equal(Z, again)
    other = WordMoversEmbedding(emb, n_features=64, d_max=4, output="kernel", random_state=4)
    assert not np.allclose(Z, other.fit_transform(X))


def test_standardized_output_against_standard_scaler(shift):
    """With the whole training set as the sample, the default output is StandardScaler's."""
    from sklearn.preprocessing import StandardScaler

    data, emb = shift
    X = data.X_train[:80]
    kernel = WordMoversEmbedding(emb, n_features=32, gamma_sample=80, output="kernel")
    Zk = kernel.set_params(random_state=1).fit_transform(X)
    std = WordMoversEmbedding(emb, n_features=32, gamma_sample=80, random_state=1).fit(X)
    np.testing.assert_allclose(std.transform(X), StandardScaler().fit_transform(Zk), atol=1e-9)
    np.testing.assert_allclose(
        std.transform(data.X_test),
        StandardScaler().fit(Zk).transform(kernel.transform(data.X_test)),
        atol=1e-9,
    )


def test_distances_match_linprog_reference(shift):
    data, emb = shift
    m = WordMoversEmbedding(emb, n_features=6, d_max=5, random_state=0).fit(data.X_train)
    X = data.X_test[:4]
    W = m.wmd_to_random_documents(X)
    docs = m._documents(X)
    w = docs.weights()
    ref_docs = [
        (
            emb.vectors[docs.rows[docs.indptr[t] : docs.indptr[t + 1]]],
            w[docs.indptr[t] : docs.indptr[t + 1]],
        )
        for t in range(4)
    ]
    P = m.random_ptr_
    rand = [m.random_vectors_[P[r] : P[r + 1]] for r in range(6)]
    np.testing.assert_allclose(W, wmd_to_random_docs_ref(ref_docs, rand), atol=1e-8)


def test_blocks_of_random_documents_give_the_same_distances(shift, monkeypatch):
    """A ground-cost budget of a few omegas splits R into blocks without changing a value."""
    import leanml.wme.wme as wme_module

    data, emb = shift
    m = WordMoversEmbedding(emb, n_features=23, d_max=5, random_state=0).fit(data.X_train)
    whole = m.wmd_to_random_documents(data.X_test)
    n_words = len(np.unique(m._documents(data.X_test).rows))
    monkeypatch.setattr(wme_module, "GROUND_COST_BYTES", 8 * n_words * 5 * 3)
    np.testing.assert_array_equal(m.wmd_to_random_documents(data.X_test), whole)


def test_gamma_median_is_inverse_median_distance(shift):
    data, emb = shift
    m = WordMoversEmbedding(emb, n_features=32, gamma_sample=10_000, random_state=0)
    m.fit(data.X_train)
    W = m.wmd_to_random_documents(data.X_train)
    assert m.gamma_ == pytest.approx(1.0 / np.median(W), rel=1e-12)


def test_monte_carlo_rate(shift):
    """Across independent draws, the spread of Z Z^T falls like R^-1/2."""
    data, emb = shift
    X = data.X_train[:25]
    gamma = 1.0 / WordMoversEmbedding(emb, n_features=64, random_state=0).fit(X).median_wmd_

    def grams(R):
        out = []
        for seed in range(24):
            m = WordMoversEmbedding(emb, n_features=R, gamma=gamma, output="kernel")
            Z = m.set_params(random_state=seed).fit(X).transform(X)
            out.append(Z @ Z.T)
        return np.array(out)

    G1, G4 = grams(64), grams(256)
    ratio = G1.std(0).mean() / G4.std(0).mean()
    assert 1.6 <= ratio <= 2.5, ratio


@pytest.mark.filterwarnings("ignore:.*lies in one direction")  # box_unit on 30 documents
@pytest.mark.parametrize("kind", RANDOM_WORDS)
def test_every_random_word_distribution(shift, kind):
    data, emb = shift
    m = WordMoversEmbedding(emb, n_features=16, d_max=3, random_words=kind, output="kernel")
    Z = m.set_params(random_state=0).fit_transform(data.X_train[:30])
    assert np.isfinite(Z).all() and (Z > 0).all()
    assert m.random_vectors_.shape == (m.random_ptr_[-1], emb.dim)
    sizes = np.diff(m.random_ptr_)
    assert sizes.min() >= 1 and sizes.max() <= 3
    if kind == "box_unit":
        np.testing.assert_allclose(np.linalg.norm(m.random_vectors_, axis=1), 1.0)
    if kind == "vocab_sample":
        words = {tuple(v) for v in np.asarray(emb.vectors, dtype=np.float64)}
        assert all(tuple(v) in words for v in m.random_vectors_)
        for r in range(16):  # distinct words within a random document
            omega = m.random_vectors_[m.random_ptr_[r] : m.random_ptr_[r + 1]]
            assert len({tuple(v) for v in omega}) == len(omega)


def test_vocab_sample_on_a_vocabulary_smaller_than_d(shift):
    _, emb = shift
    m = WordMoversEmbedding(emb, n_features=32, d_min=6, d_max=6, random_state=0)
    m.fit(["t0w1 t0w2", "t1w1 t0w2"])  # 3 distinct words, D = 6
    assert np.diff(m.random_ptr_).min() == 6
    assert len({tuple(v) for v in m.random_vectors_}) == 3


def test_tfidf_is_fitted_on_training_documents_only(shift):
    data, emb = shift
    m = WordMoversEmbedding(emb, n_features=8, weights="tfidf", random_state=0)
    m.fit(data.X_train)
    train_only = m.idf_.copy()
    with pytest.warns(UserWarning, match=r"words no training document contains.*'max'"):
        m.transform(data.X_test)  # the synonyms: every topic word is unseen
    np.testing.assert_array_equal(train_only, m.idf_)
    # Test-only words (the synonyms) get df = 1 by default, the median seen IDF on request.
    row = emb.index["t0w39"]
    assert m.idf_[row] == pytest.approx(np.log1p(len(data.X_train)))
    seen = m.idf_[m.train_rows_]
    m.set_params(unseen_idf="median").fit(data.X_train)
    assert m.idf_[row] == pytest.approx(np.median(seen))
    np.testing.assert_array_equal(m.idf_[m.train_rows_], seen)
    assert m.document_stats(data.X_test)["unseen_rate"] > 0.3  # the synonyms
    assert m.document_stats(data.X_train)["unseen_rate"] == 0.0


def test_raw_wmd_features_with_gamma_none(shift):
    data, emb = shift
    m = WordMoversEmbedding(emb, n_features=8, gamma=None, output="kernel", random_state=0)
    m.fit(data.X_train)
    np.testing.assert_array_equal(
        m.transform(data.X_test[:5]), m.wmd_to_random_documents(data.X_test[:5])
    )


def test_underflow_warning(shift):
    data, emb = shift
    m = WordMoversEmbedding(emb, n_features=16, gamma=500.0, output="kernel", random_state=0)
    m.fit(data.X_train)
    with pytest.warns(UserWarning, match="underflow"):
        m.transform(data.X_test[:10])


def test_synonym_shift_wme_beats_bag_of_words(shift):
    """Test words are unseen synonyms: bag of words is at chance, WME is not. Mean word
    vectors solve this task too (topic centres differ), see the next test."""
    data, emb = shift
    bow = CountVectorizer().fit(data.X_train)
    svc = LinearSVC().fit(bow.transform(data.X_train), data.y_train)
    bow_acc = np.mean(svc.predict(bow.transform(data.X_test)) == data.y_test)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no empty documents, no underflow here
        wme = WMEClassifier(emb, n_features=128, d_max=4, random_state=0)
        wme_acc = wme.fit(data.X_train, data.y_train).score(data.X_test, data.y_test)
    mean_acc = mean_vectors_svc(emb).fit(data.X_train, data.y_train).score(data.X_test, data.y_test)
    assert bow_acc <= 0.4
    assert wme_acc >= 0.9
    assert mean_acc >= 0.9  # measured 1.0: this task alone does not separate WMD from means


def _bimodal(n: int = 200, L: int = 10, words: int = 40, dim: int = 20, seed: int = 0):
    """Class "split": half the words near +c, half near -c; class "centre": words near 0.

    Both classes have the same mean word vector in expectation, so averaging vectors loses
    the class; test documents use only unseen words (the second half of each cluster), so
    bag of words is at chance too. WMD sees the two clusters.
    """
    vr = np.random.default_rng(0)
    c = 3.0 * vr.standard_normal(dim)
    vocab, vecs = [], []
    for name, centre in (("p", c), ("n", -c), ("o", 0.0 * c)):
        for j in range(words):
            vocab.append(f"{name}{j}")
            vecs.append(centre + vr.standard_normal(dim))
    emb = Embeddings(np.asarray(vecs), vocab)
    rng = np.random.default_rng(seed)

    def docs(offset):
        def pick(name, k):
            return [f"{name}{offset + j}" for j in rng.integers(0, words // 2, size=k)]

        X = [
            " ".join(pick("p", L // 2) + pick("n", L // 2) if i % 2 else pick("o", L))
            for i in range(n)
        ]
        return X, np.asarray(["split" if i % 2 else "centre" for i in range(n)])

    return docs(0), docs(words // 2), emb


@pytest.mark.filterwarnings("ignore:.*lies in one direction")  # the class is one number here
def test_wme_separates_what_mean_vectors_cannot():
    (Xtr, ytr), (Xte, yte), emb = _bimodal()
    mean_acc = mean_vectors_svc(emb).fit(Xtr, ytr).score(Xte, yte)
    wme_acc = WMEClassifier(emb, n_features=64, d_max=4, random_state=0).fit(Xtr, ytr)
    wme_acc = wme_acc.score(Xte, yte)
    assert mean_acc <= 0.65  # two balanced classes: chance is 0.5 (measured 0.495)
    assert wme_acc >= 0.9  # measured 1.0


def test_logreg_classifier_and_decision_function(shift):
    data, emb = shift
    clf = WMEClassifier(emb, n_features=32, classifier="logreg", random_state=0)
    clf.fit(data.X_train, data.y_train)
    scores = clf.decision_function(data.X_test)
    assert scores.shape == (len(data.X_test), 4)
    np.testing.assert_array_equal(clf.classes_[scores.argmax(1)], clf.predict(data.X_test))


def test_similarity_prefers_same_topic(shift):
    data, emb = shift
    same = [i for i in range(1, 200) if data.y_test[i] == data.y_test[0]][:5]
    diff = [i for i in range(1, 200) if data.y_test[i] != data.y_test[0]][:5]
    a = [data.X_test[0]] * 10
    b = [data.X_test[i] for i in same + diff]
    s = similarity(a, b, embeddings=emb, n_features=128, random_state=0)
    assert s.shape == (10,) and (s > 0).all() and (s <= 1 + 1e-12).all()
    assert s[:5].min() > s[5:].max()
    M = similarity(a[:1], b, embeddings=emb, n_features=128, random_state=0, pairwise=True)
    assert M.shape == (1, 10)


def test_demo_figure_plots_every_model(tmp_path):
    from matplotlib.image import imread

    from leanml.wme.demo import accuracy_time_figure

    rows = [
        {"model": "wme R=64", "accuracy": 0.8, "total_s": 1.5},
        {"model": "knn-wmd", "accuracy": 0.87, "total_s": 4.0},
        {"model": "tfidf-svc", "accuracy": 0.91, "total_s": 0.05},
    ]
    path = accuracy_time_figure(rows, "tweets", tmp_path / "fig.png")
    image = imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0  # not a blank canvas
