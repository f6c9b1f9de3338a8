"""Long acceptance runs on real data (``pytest -m slow -s``); figures go in the README.

Not in CI: they need GloVe (80 MB) and minutes of CPU.
"""

from __future__ import annotations

import pytest

from leanml.wme.datasets import glove_6b_50d, load
from leanml.wme.estimators import KNNWMD, WMEClassifier
from leanml.wme.experiments import classify, lee_similarity
from leanml.wme.peers import mean_vectors_svc, tfidf_svc

pytestmark = pytest.mark.slow


def _lineup(emb, Rs):
    out = {
        f"wme R={R}": (
            lambda R=R: WMEClassifier(emb, n_features=R, gamma_scale=2.0, C=0.1, random_state=0)
        )
        for R in Rs
    }
    out["knn-wmd"] = lambda: KNNWMD(emb, n_neighbors=5)
    out["tfidf-svc"] = tfidf_svc
    out["mean-vectors-svc"] = lambda: mean_vectors_svc(emb)
    return out


def _show(title, rows):
    print(f"\n{title}")
    for r in rows:
        print(
            "  "
            + ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()
            )
        )


def test_election_tweets_wme_large_r_matches_knn_wmd():
    rows = classify(load("election-tweets", seed=0), _lineup(glove_6b_50d(), (256, 2048)))
    _show("election tweets", rows)
    acc = {r["model"]: r["accuracy"] for r in rows}
    assert acc["wme R=2048"] >= acc["knn-wmd"] - 0.01


def test_reuters_r8():
    data = load("reuters-r8").subset(n_test=600, seed=0)  # kNN-WMD on 600 test documents
    rows = classify(data, _lineup(glove_6b_50d(), (256, 1024)))
    _show(f"reuters r8 ({data.n_train} train / {data.n_test} test)", rows)
    acc = {r["model"]: r["accuracy"] for r in rows}
    assert acc["wme R=1024"] >= acc["knn-wmd"] - 0.01


def test_lee_similarity():
    rows = lee_similarity(load("lee"), glove_6b_50d(), R=1024)
    _show("lee similarity", rows)
    assert all(r["pearson"] > 0.1 for r in rows)
