"""kNN-WMD against brute force and its peers, the registered peers, the word2vec loader."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from leanml.core import ParameterError
from leanml.wme import KNNWMD, Embeddings, WMEClassifier, load_word2vec, wmd_matrix
from leanml.wme.peers import MeanVectors, SIFEmbedding, mean_vectors_svc, sif_svc, tfidf_svc


@pytest.fixture
def small(shift):
    data, emb = shift
    return data.X_train[:60], data.y_train[:60], data.X_test[:12], data.y_test[:12], emb


def test_knn_wmd_equals_brute_force_with_and_without_pruning(small):
    Xtr, ytr, Xte, _, emb = small
    M = wmd_matrix(Xte, Xtr, emb)
    order = np.argsort(M, axis=1, kind="stable")[:, :3]
    solved = {}
    for prune in ("rwmd", "wcd", "none"):
        knn = KNNWMD(emb, n_neighbors=3, prune=prune).fit(Xtr, ytr)
        dist, idx = knn.kneighbors(Xte)
        np.testing.assert_allclose(dist, np.sort(M, axis=1)[:, :3], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(idx, order)  # identical neighbours
        solved[prune] = knn.n_solved_
        assert knn.n_pairs_ == 12 * 60
    assert solved["none"] == 12 * 60 > solved["wcd"] > solved["rwmd"]
    assert knn.set_params(prune="rwmd").fit(Xtr, ytr).kneighbors(Xte) is not None
    assert knn.n_rwmd_pruned_ == knn.n_pairs_ - solved["rwmd"]


@pytest.mark.parametrize("prune", ["rwmd", "wcd", "none"])
def test_knn_wmd_long_pairs_through_pot_equal_brute_force(small, monkeypatch, prune):
    # Every pair with >= 4 words on both sides goes to POT's emd_c: same neighbours as
    # brute force, same distances as this package's solvers (wmd_matrix) to 1e-10.
    from leanml.wme import distance

    Xtr, ytr, Xte, _, emb = small
    M = wmd_matrix(Xte, Xtr, emb)
    monkeypatch.setattr(distance, "POT_MIN_SIDE", 4)
    monkeypatch.setattr(distance, "POT_MAX_ASPECT", 1000)
    knn = KNNWMD(emb, n_neighbors=3, prune=prune).fit(Xtr, ytr)
    dist, idx = knn.kneighbors(Xte)
    np.testing.assert_allclose(dist, np.sort(M, axis=1)[:, :3], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(idx, np.argsort(M, axis=1, kind="stable")[:, :3])
    if prune == "none":
        assert knn.n_solved_ == knn.n_pairs_


def test_knn_wmd_in_query_chunks_equals_one_call(small, monkeypatch):
    from leanml.wme import estimators

    Xtr, ytr, Xte, _, emb = small
    knn = KNNWMD(emb, n_neighbors=3).fit(Xtr, ytr)
    dist, idx = knn.kneighbors(Xte)
    counts = knn.n_solved_, knn.n_rwmd_pruned_, knn.n_pairs_
    monkeypatch.setattr(estimators, "QUERY_CHUNK", 5)
    dist5, idx5 = knn.kneighbors(iter(Xte))  # 12 queries: chunks of 5, 5, 2
    np.testing.assert_array_equal(idx5, idx)
    np.testing.assert_array_equal(dist5, dist)
    assert (knn.n_solved_, knn.n_rwmd_pruned_, knn.n_pairs_) == counts


def test_dual_bound_is_a_lower_bound_at_least_the_one_sided_rwmd(make_case, rng):
    """Weak duality: RWMD's term on the smaller side <= the swept dual bound <= the EMD."""
    import ot

    from leanml.wme._knn import dual_bound

    raised = 0
    for case in range(200):
        a, b, C = make_case(rng, case)
        if case % 4 == 0:  # the document side smaller: the bound transposes
            a, b, C = b, a, np.ascontiguousarray(C.T)
        exact = float(ot.emd2(a, b, C))
        got = dual_bound(a, b, C)
        assert got <= exact + 1e-12
        if min(C.shape) >= 3:
            if C.shape[1] <= C.shape[0]:
                one_sided = float(a @ C.min(axis=1))
            else:
                one_sided = float(b @ C.min(axis=0))
            assert got >= one_sided - 1e-12
            raised += got > one_sided + 1e-9
    assert raised > 50  # the sweep does tighten it


def test_rwmd_to_all_equals_rwmd_per_pair_bit_for_bit(small):
    from leanml.wme import _kernels as K
    from leanml.wme._knn import TABLE_BLOCK, rwmd_to_all
    from leanml.wme.distance import _shared_table

    Xtr, ytr, Xte, _, emb = small
    knn = KNNWMD(emb).fit(Xtr, ytr)
    Q, T = knn._docs(Xte), knn.train_
    V, rq, rt = _shared_table(emb, Q, T)
    wt = T.weights()
    # A long query (several table blocks) and a one-word one.
    long_q = np.arange(V.shape[0])  # every word of both collections
    assert long_q.size > 2 * TABLE_BLOCK
    for words in (long_q, rq[:1]):
        a = np.random.default_rng(1).random(words.size)
        a /= a.sum()
        got = rwmd_to_all(V[words], a, V, T.indptr, rt, wt)
        for s in range(T.n_docs):
            st = slice(T.indptr[s], T.indptr[s + 1])
            assert got[s] == K.rwmd(a, wt[st], K.pair_costs(V[words], V[rt[st]]))


def test_rwmd_is_the_relaxed_lp_and_a_lower_bound(make_case, rng):
    import ot

    from leanml.wme import _kernels as K
    from leanml.wme._reference import rwmd_ref

    for case in range(40):
        a, b, C = make_case(rng, case)
        r = K.rwmd(a, b, C)
        assert r == pytest.approx(rwmd_ref(a, b, C), abs=1e-8)
        assert r <= float(ot.emd2(a, b, C)) + 1e-12


@pytest.mark.parametrize("solver", ["pot", "gensim"])
def test_knn_wmd_peers_agree(small, solver):
    Xtr, ytr, Xte, _, emb = small
    ours = KNNWMD(emb, n_neighbors=3).fit(Xtr, ytr)
    peer = KNNWMD(emb, n_neighbors=3, solver=solver).fit(Xtr, ytr)
    np.testing.assert_allclose(peer.kneighbors(Xte)[0], ours.kneighbors(Xte)[0], atol=1e-7)
    np.testing.assert_array_equal(peer.predict(Xte), ours.predict(Xte))


def test_knn_bad_parameters(small):
    Xtr, ytr, _, _, emb = small
    with pytest.raises(ParameterError, match="n_neighbors"):
        KNNWMD(emb, n_neighbors=0).fit(Xtr, ytr)
    with pytest.raises(ParameterError, match="solver"):
        KNNWMD(emb, solver="emd").fit(Xtr, ytr)
    with pytest.raises(ParameterError, match="prune"):
        KNNWMD(emb, prune=True).fit(Xtr, ytr)


def test_peers_fit_and_predict(small):
    Xtr, ytr, Xte, _, emb = small
    for model in (tfidf_svc(), mean_vectors_svc(emb), sif_svc(emb)):
        assert model.fit(Xtr, ytr).predict(Xte).shape == (12,)


def test_mean_vectors_and_sif_against_hand_computation(small):
    Xtr, _, _, _, emb = small
    doc = "t0w1 t0w1 t1w3 unknown"
    V = np.asarray(emb.vectors)
    rows = [emb.index[w] for w in ("t0w1", "t0w1", "t1w3")]
    np.testing.assert_allclose(MeanVectors(emb).fit([doc]).transform([doc])[0], V[rows].mean(0))
    sif = SIFEmbedding(emb, a=0.01, remove_pc=False).fit(Xtr)
    w = np.array([0.01 / (0.01 + sif.freq_.get(t, 0.0)) for t in ("t0w1", "t0w1", "t1w3")])
    np.testing.assert_allclose(sif.transform([doc])[0], w @ V[rows] / 3)


def test_sklearn_clone_and_params(shift):
    _, emb = shift
    clf = WMEClassifier(emb, n_features=7, C=3.0)
    copy = clone(clf)
    assert copy.get_params()["n_features"] == 7 and copy.get_params()["C"] == 3.0
    with pytest.raises(ParameterError, match="C must be > 0"):
        WMEClassifier(emb, C=0).fit(["t0w1", "t1w1"], [0, 1])


def test_word2vec_text_binary_and_glove_formats(tmp_path, shift):
    _, emb = shift
    words, V = emb.vocab[:5], np.asarray(emb.vectors[:5], dtype=np.float32)
    body = "\n".join(
        w + " " + " ".join(f"{x:.6f}" for x in v) for w, v in zip(words, V, strict=True)
    )
    (tmp_path / "v.txt").write_text(f"5 {V.shape[1]}\n{body}\n")
    (tmp_path / "g.txt").write_text(body + "\n")
    binary = f"5 {V.shape[1]}\n".encode() + b"".join(
        w.encode() + b" " + v.astype("<f4").tobytes() + b"\n" for w, v in zip(words, V, strict=True)
    )
    (tmp_path / "v.bin").write_bytes(binary)
    for name in ("v.txt", "g.txt", "v.bin"):
        got = load_word2vec(tmp_path / name)
        assert got.vocab == words
        np.testing.assert_allclose(got.vectors, V, atol=1e-6)
    gensim = pytest.importorskip("gensim")
    kv = gensim.models.KeyedVectors.load_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    got = Embeddings.from_any(kv)
    np.testing.assert_array_equal(got.vectors, kv.vectors)
    (tmp_path / "bad.txt").write_text("a 1 2\nb 1\n")
    from leanml.core import DataError

    with pytest.raises(DataError, match=r"bad\.txt:2"):
        load_word2vec(tmp_path / "bad.txt")


def test_choose_k_loo_and_bootstrap_against_brute_force(small):
    from leanml.wme.experiments import bootstrap_ci, choose_k_loo

    Xtr, ytr, _, _, emb = small
    ytr = np.asarray(ytr)
    M = wmd_matrix(Xtr, Xtr, emb)
    np.fill_diagonal(M, np.inf)  # leave one out
    order = np.argsort(M, axis=1, kind="stable")
    best, acc = choose_k_loo(emb, Xtr, ytr, ks=(1, 3, 5), n_queries=None)
    for k in (1, 3, 5):
        hits = 0
        for q in range(len(ytr)):
            near = order[q, :k]
            labels, counts = np.unique(ytr[near], return_counts=True)
            top = set(labels[counts == counts.max()])
            hits += next(ytr[j] for j in near if ytr[j] in top) == ytr[q]
        assert acc[k] == pytest.approx(hits / len(ytr))
    assert acc[best] == max(acc.values())
    lo, hi = bootstrap_ci(np.r_[np.ones(90), np.zeros(10)], n_boot=4000)
    assert lo < 0.9 < hi and hi - lo == pytest.approx(2 * 1.96 * np.sqrt(0.09 / 100), abs=0.02)
