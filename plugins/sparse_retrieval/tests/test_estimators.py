"""The estimator end to end on digits: the paper's load-balancing claim in miniature,
index exactness on trained embeddings, peers agreeing, API conventions, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from leanml.core import InputError, ParameterError, get_plugins, load_dataset
from leanml.sparse_retrieval import SparseRetriever, to_csr
from leanml.sparse_retrieval._reference import brute_force_topk
from leanml.sparse_retrieval.estimators import label_recall_at_10, label_recall_at_k
from leanml.sparse_retrieval.peers import make_index

EPOCHS = 20


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="module")
def flops_model(digits):
    return SparseRetriever("flops", lam=3.0, epochs=EPOCHS, batch_size=128).fit(
        digits.X_train, digits.y_train
    )


@pytest.fixture(scope="module")
def l1_model(digits):
    return SparseRetriever("l1", lam=0.03, epochs=EPOCHS, batch_size=128).fit(
        digits.X_train, digits.y_train
    )


def test_flops_spreads_nonzeros_better_than_l1_at_similar_sparsity(flops_model, l1_model, digits):
    f, l1 = flops_model.flops_stats_, l1_model.flops_stats_
    print("FLOPs", f, "\nL1", l1)
    # FLOPs reg. keeps at least as many non-zeros yet needs fewer FLOPs: a strict win
    assert f["nnz"] >= 0.8 * l1["nnz"]
    assert f["flops"] < l1["flops"]
    assert f["flops_ratio"] < 0.5 * l1["flops_ratio"]
    assert f["flops_ratio"] < 1.5
    assert l1["dead_dims"] > f["dead_dims"]
    for m in (flops_model, l1_model):
        assert m.score(digits.X_test, digits.y_test) >= 0.9
    hist = flops_model.history_
    assert len(hist) == EPOCHS and hist[0]["lam_scale"] < hist[-1]["lam_scale"] == 1.0
    assert hist[-1]["nnz"] < hist[0]["nnz"]


def test_index_on_trained_embeddings_equals_brute_force(flops_model, digits):
    D = to_csr(flops_model.transform(digits.X_train))
    Q = to_csr(flops_model.transform(digits.X_test))
    s, i, touched = flops_model.index_.search(Q, 10, return_touched=True)
    bs, bi = brute_force_topk(Q, D, 10)
    np.testing.assert_allclose(s, bs, atol=1e-5)
    np.testing.assert_array_equal(i, bi)
    lengths = np.diff(D.tocsc().indptr)
    np.testing.assert_array_equal(
        touched,
        [lengths[Q.indices[Q.indptr[q] : Q.indptr[q + 1]]].sum() for q in range(Q.shape[0])],
    )


def test_sparse_peers_agree_with_the_index(flops_model, digits):
    D = to_csr(flops_model.transform(digits.X_train))
    Q = to_csr(flops_model.transform(digits.X_test[:60]))
    ours = make_index("sparse", D.shape[1], threshold=0.0)
    ours.add(D)
    s, i = ours.search(Q, 5)
    for kind in ("scipy", "sdtopn"):
        peer = make_index(kind, D.shape[1])
        peer.add(D)
        ps, pi = peer.search(Q, 5)
        np.testing.assert_allclose(ps, s, atol=1e-5)
        agree = (pi == i) | (np.abs(ps - s) < 1e-6)  # float order may swap exact near-ties
        assert agree.all(), kind


def test_faiss_flat_equals_brute_force(digits):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 16)).astype(np.float32)
    Q = rng.normal(size=(20, 16)).astype(np.float32)
    flat = make_index("faiss-flat", 16, n_threads=1)
    flat.add(X)
    s, i = flat.search(Q, 5)
    bs, bi = brute_force_topk(Q, X, 5)
    np.testing.assert_array_equal(i, bi)
    np.testing.assert_allclose(s, bs, rtol=1e-4)
    for kind in ("faiss-ivfpq", "faiss-hnsw"):
        idx = make_index(kind, 16, n_threads=1)
        idx.add(X)
        _, ai = idx.search(Q, 5)
        recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(ai, bi, strict=True)])
        assert recall > 0.5, kind


@pytest.mark.parametrize("name", ["dense-flat", "dense-pca", "sparse-flops-scipy"])
def test_registered_peers_fit_and_predict(digits, name):
    spec = get_plugins().models.get(name)
    model = spec.create(epochs=3, batch_size=128)
    model.fit(digits.X_train, digits.y_train)
    assert model.score(digits.X_test, digits.y_test) > 0.85
    labels = model.decision_function(digits.X_test)
    assert labels.shape == (digits.n_test, 10)
    assert label_recall_at_10(digits.y_test, labels) >= model.score(digits.X_test, digits.y_test)


def test_same_seed_same_result_and_params(digits):
    a = SparseRetriever(epochs=2, batch_size=128, random_state=3)
    b = SparseRetriever(**a.get_params())
    sub = slice(0, 400)
    ea = a.fit(digits.X_train[sub], digits.y_train[sub]).transform(digits.X_test)
    eb = b.fit(digits.X_train[sub], digits.y_train[sub]).transform(digits.X_test)
    np.testing.assert_array_equal(ea, eb)
    assert a.set_params(lam=0.5).lam == 0.5
    with pytest.raises(ParameterError):
        a.set_params(nope=1)
    from sklearn.base import clone

    c = clone(a)
    assert c.get_params() == a.get_params() and not hasattr(c, "model_")


def test_label_recall_metric_by_hand():
    y = np.array([1, 2, 3])
    nl = np.array([[1, 2], [1, 1], [None, 3]], dtype=object)
    assert label_recall_at_k(y, nl, 1) == pytest.approx(1 / 3)
    assert label_recall_at_k(y, nl, 2) == pytest.approx(2 / 3)
    with pytest.raises(InputError):
        label_recall_at_k(y[:2], nl, 2)


def test_bad_parameters_and_inputs(digits):
    X, y = digits.X_train[:200], digits.y_train[:200]
    for params in (
        {"regularizer": "l0"},
        {"loss": "hinge"},
        {"index": "annoy"},
        {"lam": -1.0},
        {"index": "sparse", "activation": "none"},
        {"index": "sparse", "pca_dim": 8},
        {"warmup_fraction": 0.0},
        {"batch_size": 1},
    ):
        with pytest.raises(ParameterError):
            SparseRetriever(epochs=1, **params).fit(X, y)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        SparseRetriever(epochs=1).fit(bad, y)
    with pytest.raises(InputError):
        SparseRetriever(epochs=1).fit(X, np.zeros(200))
    with pytest.raises(InputError, match="not fitted"):
        SparseRetriever().predict(X)
    m = SparseRetriever(epochs=1, batch_size=64).fit(X, y)
    with pytest.raises(InputError, match="features"):
        m.predict(X[:, :10])
