"""The CRF estimator: training, inference, CRFsuite parity, feature rules and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from leanml.core import InputError, ParameterError
from leanml.pqn_crf import CRF
from leanml.pqn_crf.datasets import hmm_sequences, load_ocr
from leanml.pqn_crf.features import AttributeIndex, flatten_token
from leanml.pqn_crf.peers import CRFsuiteCRF


@pytest.fixture(scope="module")
def hmm():
    X, Y = hmm_sequences(n_seq=200, n_labels=4, n_attributes=40, seed=1)
    return X[:150], Y[:150], X[150:], Y[150:]


@pytest.fixture(scope="module")
def ocr_small():
    data = load_ocr(test_folds=(), n_words=120, seed=0)
    return data.X_train, data.y_train


def test_fit_predict_marginals_score(hmm):
    X, Y, Xt, Yt = hmm
    crf = CRF(c1=0.5).fit(X, Y)
    assert crf.result_.converged
    pred = crf.predict(Xt)
    assert [len(p) for p in pred] == [len(y) for y in Yt]
    acc = crf.score(Xt, Yt)
    majority = np.mean(np.concatenate(Yt) == "L0")
    assert acc > 0.8 and acc > majority + 0.3
    marg = crf.predict_marginals(Xt[:3])
    assert set(marg[0][0]) == set(crf.classes_.tolist())
    arrays = crf.predict_marginals_array(Xt)
    np.testing.assert_allclose(np.concatenate(arrays).sum(axis=1), 1.0, atol=1e-12)
    # Viterbi labels are usually the marginal argmax on this easy problem
    agree = np.mean(np.concatenate(pred) == crf.classes_[np.concatenate(arrays).argmax(axis=1)])
    assert agree > 0.95


def test_objective_has_exact_zeros_and_kkt(hmm):
    X, Y, _, _ = hmm
    from leanml.pqn_crf.chain import ChainObjective

    for pairs in ("all", "observed"):
        crf = CRF(c1=5.0, tol=1e-8, delta=0.0, pairs=pairs).fit(X, Y)
        w = crf.coef_
        assert np.count_nonzero(w == 0.0) > w.size // 4
        obj = ChainObjective(crf._encode(X, Y, fit=False), pairs=pairs)
        assert obj.n_params == w.size
        _, g = obj(w)
        assert np.all(np.abs(g[w == 0]) <= 5.0 * (1 + 1e-6))
        assert crf.objective_ == pytest.approx(obj(w)[0] + 5.0 * np.abs(w).sum(), rel=1e-12)


def test_nll_at_crfsuite_weights_equals_its_logged_loss(ocr_small):
    X, Y = ocr_small
    c1 = 2.0
    peer = CRFsuiteCRF(c1=c1, max_iterations=60).fit(X, Y)
    crf = CRF(c1=c1, max_iter=1, pairs="all")  # only to build the same attributes and labels
    crf._encode(X, Y, fit=True)
    W, T = peer.weights_for(crf.attributes_, crf.classes_)
    crf.state_weights_, crf.transition_weights_ = W, T
    crf.pair_index_ = (np.arange(W.size), np.arange(T.size))
    ours = crf.nll(X, Y) + c1 * (np.abs(W).sum() + np.abs(T).sum())
    logged = peer.log_[-1]["loss"]
    assert abs(ours - logged) <= 1e-8 * abs(logged)
    # and the two taggers agree on the same weights
    same = np.mean(np.concatenate(crf.predict(X)) == np.concatenate(peer.predict(X)))
    assert same > 0.999


def _crfsuite_objective(peer, X, Y, c1):
    ref = CRF(c1=c1)
    ref._encode(X, Y, fit=True)  # same attributes and labels as the CRF
    W, T = peer.weights_for(ref.attributes_, ref.classes_)
    ref.state_weights_, ref.transition_weights_ = W, T
    ref.pair_index_ = (np.arange(W.size), np.arange(T.size))
    return ref.nll(X, Y) + c1 * (np.abs(W).sum() + np.abs(T).sum())


@pytest.mark.parametrize(
    "n_words, c1",
    [(40, 4.0), pytest.param(300, 1.0, marks=pytest.mark.slow)],
)
def test_prox_qn_reaches_crfsuite_optimum(n_words, c1):
    data = load_ocr(test_folds=(), n_words=n_words, seed=3)
    X, Y = data.X_train, data.y_train
    for pairs in ("all", "observed"):
        peer = CRFsuiteCRF(
            c1=c1, max_iterations=3000, epsilon=1e-10, delta=1e-12, period=50, pairs=pairs
        ).fit(X, Y)
        crf = CRF(c1=c1, tol=1e-7, delta=0.0, max_iter=3000, pairs=pairs).fit(X, Y)
        f_peer = _crfsuite_objective(peer, X, Y, c1)
        assert abs(crf.objective_ - f_peer) <= 1e-6 * f_peer, pairs
        assert np.count_nonzero(crf.coef_ == 0.0) > 0


def test_observed_pairs_are_a_restriction_of_all_pairs():
    """Observed mode = the full model with unobserved weights pinned at zero: its optimum
    is never below the full one, and its weights are zero off the observed pairs."""
    X, Y = hmm_sequences(n_seq=100, n_labels=4, n_attributes=40, noise=0.05, seed=2)
    full = CRF(c1=1.0, pairs="all", tol=1e-8, delta=0.0).fit(X, Y)
    obs = CRF(c1=1.0, pairs="observed", tol=1e-8, delta=0.0).fit(X, Y)
    assert obs.objective_ >= full.objective_ * (1 - 1e-9)
    assert obs.coef_.size < full.coef_.size
    data = obs._encode(X, Y, fit=False)
    seen = np.zeros_like(obs.state_weights_, dtype=bool)
    seen[data.X.indices, np.repeat(data.y, np.diff(data.X.indptr))] = True
    assert np.all(obs.state_weights_[~seen] == 0.0)


def test_solvers_reach_the_same_optimum(hmm):
    X, Y, _, _ = hmm
    objs = {
        s: CRF(c1=2.0, solver=s, tol=1e-7, delta=0.0, max_iter=3000).fit(X, Y).objective_
        for s in ("prox-qn", "owl-qn")
    }
    assert objs["prox-qn"] == pytest.approx(objs["owl-qn"], rel=1e-6)


def test_l2_term_is_crfsuite_c2_times_squared_norm(hmm):
    X, Y, _, _ = hmm
    crf = CRF(c1=0.0, c2=0.5, tol=1e-7, delta=0.0).fit(X[:40], Y[:40])
    w = crf.coef_
    assert crf.objective_ == pytest.approx(crf.nll(X[:40], Y[:40]) + 0.5 * w @ w, rel=1e-12)


def test_token_feature_rules():
    tok = {"w": "Paris", "len": 5, "cap": True, "ctx": {"prev": "in"}, "tags": ["a", "b"]}
    assert flatten_token(tok) == {
        "w=Paris": 1.0, "len": 5.0, "cap": 1.0, "ctx:prev=in": 1.0, "tags:a": 1.0, "tags:b": 1.0,
    }  # fmt: skip
    assert flatten_token(["x", "y"]) == {"x": 1.0, "y": 1.0}
    idx = AttributeIndex()
    Xc, offsets = idx.fit_transform([[{"a": 1.0}, {"b": 2.0}], [{"a": 3.0, "zz": 0.5}]])
    assert offsets.tolist() == [0, 2, 3] and idx.size == 3
    assert Xc.toarray().tolist() == [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [3.0, 0.0, 0.5]]
    X2, _ = idx.transform([[{"a": 1.0, "unseen": 4.0}]])
    assert X2.shape == (1, 3) and X2.toarray().tolist() == [[1.0, 0.0, 0.0]]


def test_array_sequences_equal_dict_sequences(ocr_small):
    X, Y = ocr_small
    as_dicts = [[{str(j): float(v) for j, v in enumerate(r) if v} for r in x] for x in X]
    a = CRF(c1=2.0, max_evals=15).fit(X, Y)
    b = CRF(c1=2.0, max_evals=1).fit(as_dicts, Y)
    # same attributes under other ids: move a's weights to b's order, compare the NLL
    order = [a.attributes_.names_.index(int(name)) for name in b.attributes_.names_]
    b.state_weights_ = a.state_weights_[order]
    b.transition_weights_ = a.transition_weights_
    assert b.nll(as_dicts, Y) == pytest.approx(a.nll(X, Y), rel=1e-12)
    assert [p.tolist() for p in b.predict(as_dicts)] == [p.tolist() for p in a.predict(X)]


def test_single_token_sequences_and_one_label(hmm):
    X, _, _, _ = hmm
    Xs = [[tok] for seq in X[:20] for tok in seq[:1]]
    Ys = [np.array(["A"]) for _ in Xs]
    crf = CRF(c1=0.1).fit(Xs, Ys)  # one label: log Z = score, NLL = 0
    assert crf.objective_ == pytest.approx(0.0, abs=1e-12)
    assert all(p.tolist() == ["A"] for p in crf.predict(Xs))


def test_bad_inputs(hmm):
    X, Y, _, _ = hmm
    with pytest.raises(InputError, match="empty"):
        CRF().fit([X[0], []], [Y[0], []])
    with pytest.raises(InputError, match="sequences but y has"):
        CRF().fit(X[:3], Y[:2])
    with pytest.raises(InputError, match="tokens but"):
        CRF().fit(X[:2], [Y[0], Y[1][:-1]])
    with pytest.raises(InputError, match="NaN"):
        CRF().fit([[{"a": float("nan")}]], [["x"]])
    with pytest.raises(InputError, match="no sequences"):
        CRF().fit([], [])
    with pytest.raises(InputError, match=r"y\[1\] is the string"):
        CRF().fit(X[:2], [Y[0], " ".join(Y[1])])
    with pytest.raises(InputError, match="single string"):
        CRF().fit(X[:1], "L0 L1")
    with pytest.raises(ParameterError, match="pairs"):
        CRF(pairs="some").fit(X[:3], Y[:3])
    with pytest.raises(ParameterError, match="c1"):
        CRF(c1=-1.0).fit(X[:3], Y[:3])
    with pytest.raises(ParameterError, match="solver"):
        CRF(solver="sgd").fit(X[:3], Y[:3])
    with pytest.raises(InputError, match="not fitted"):
        CRF().predict(X[:2])
    crf = CRF(c1=1.0, max_evals=20).fit(X[:30], Y[:30])
    bad = [np.array(["UNSEEN"] * len(Y[0]))]
    with pytest.raises(InputError, match="not seen in training"):
        crf.nll(X[:1], bad)
    # documented: score counts unseen gold labels as errors
    assert crf.score(X[:1], bad) == 0.0
    with pytest.raises(InputError, match="kind used in fit"):
        crf.predict([np.ones((2, 3))])


def test_max_iter_warns_convergence(hmm):
    from leanml.pqn_crf import ConvergenceWarning

    X, Y, _, _ = hmm
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        crf = CRF(c1=1.0, max_iter=3).fit(X, Y)
    assert not crf.result_.converged


def test_default_stop_is_the_decrease_rule_and_near_optimal(hmm):
    """Defaults stop by the documented rule, within ~delta*period of the optimum."""
    X, Y, _, _ = hmm
    crf = CRF(c1=1.0).fit(X, Y)
    assert crf.result_.converged
    tight = CRF(c1=1.0, tol=1e-9, delta=0.0, max_iter=5000).fit(X, Y)
    assert tight.result_.n_evals > crf.result_.n_evals
    gap = (crf.objective_ - tight.objective_) / tight.objective_
    assert 0 <= gap <= 1e-4
    F = crf.result_.trace.objective
    if "decrease" in crf.result_.message:  # the window's decrease really was below delta
        assert (F[-11] - F[-1]) < crf.delta * abs(F[-1])


def test_warm_start_and_path(hmm):
    X, Y, _, _ = hmm
    cold = CRF(c1=0.5, tol=1e-8, delta=0.0).fit(X, Y)
    warm = CRF(c1=2.0, tol=1e-8, delta=0.0, warm_start=True).fit(X, Y)
    warm.set_params(c1=0.5).fit(X, Y)
    assert warm.objective_ == pytest.approx(cold.objective_, rel=1e-7)
    assert warm.result_.n_evals < cold.result_.n_evals
    # a warm start from a model fitted on other data: weights are matched by name
    other = CRF(c1=0.5, tol=1e-8, delta=0.0, warm_start=True).fit(X[:60], Y[:60])
    other.fit(X, Y)
    assert other.objective_ == pytest.approx(cold.objective_, rel=1e-7)
    path = CRF(tol=1e-8, delta=0.0).path(X, Y, [0.5, 8.0, 2.0])
    assert [p["c1"] for p in path] == [8.0, 2.0, 0.5]
    nnz = [p["nnz"] for p in path]
    assert nnz == sorted(nnz) and nnz[0] < nnz[-1]
    assert path[-1]["objective"] == pytest.approx(cold.objective_, rel=1e-7)
    np.testing.assert_allclose(path[-1]["coef"], cold.coef_, atol=1e-4)


def test_crfsuite_peer_returns_whole_labels():
    """Tags longer than any in the first sequence come back whole (not cut to its dtype)."""
    X = [[{"w": "the"}, {"w": "dog"}], [{"w": "his"}, {"w": "cat"}]] * 10
    Y = [np.array(["DT", "NN"]), np.array(["PRP$", "NN"])] * 10
    peer = CRFsuiteCRF(c1=0.01, max_iterations=50).fit(X, Y)
    pred = peer.predict(X[:2])
    assert [p.tolist() for p in pred] == [["DT", "NN"], ["PRP$", "NN"]]
    ints = CRFsuiteCRF(c1=0.01, max_iterations=50).fit(X, [np.array([0, 1]), np.array([2, 1])] * 10)
    assert ints.predict(X[1:2])[0].tolist() == [2, 1]
