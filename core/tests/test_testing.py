"""leanml.core.testing: the conformance check catches what it claims to, and the helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from leanml.core import InputError, ModelSpec
from leanml.core.testing import best_of, check_model, report, toy_dataset


class Good:
    """A small estimator that follows the conventions."""

    def __init__(self, shrink: float = 0.0, random_state: int | None = None) -> None:
        self.shrink = shrink
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict:
        return {"shrink": self.shrink, "random_state": self.random_state}

    def set_params(self, **params) -> Good:
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def fit(self, X, y):
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        if X.ndim != 2 or len(X) != len(y) or len(X) == 0 or not np.isfinite(X).all():
            raise InputError("bad X or y")
        rng = np.random.default_rng(self.random_state)
        self.classes_ = np.unique(y)
        noise = 1e-9 * rng.standard_normal((len(self.classes_), X.shape[1]))
        self.centres_ = np.stack([X[y == c].mean(0) for c in self.classes_]) + noise
        return self

    def predict(self, X):
        d = ((np.asarray(X)[:, None] - self.centres_[None]) ** 2).sum(-1)
        return self.classes_[d.argmin(1)]


class Unchecked(Good):
    def fit(self, X, y):  # no validation: NaN goes through
        X, y = np.asarray(X, dtype=float)[: len(y)], np.asarray(y)[: len(X)]
        self.classes_ = np.unique(y) if len(y) else np.array([0])
        self.centres_ = np.zeros((len(self.classes_), X.shape[1]))
        return self


class Unseeded(Good):
    def fit(self, X, y):
        super().fit(X, y)
        self.centres_ = self.centres_ + np.random.default_rng().standard_normal(self.centres_.shape)
        return self


class WrongLength(Good):
    def predict(self, X):
        return super().predict(X)[:-1]


def spec(factory) -> ModelSpec:
    return ModelSpec(name="m", summary="s", factory=factory)


def test_a_conforming_model_passes():
    check_model(spec(Good))
    check_model(spec(Good), data=toy_dataset(n=60, d=3, seed=4), params={"shrink": 0.1})


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (Unchecked, "did not raise"),
        (Unseeded, "same random_state gave different predictions"),
        (WrongLength, "predictions for"),
    ],
)
def test_each_defect_is_caught(factory, message):
    with pytest.raises(AssertionError, match=message):
        check_model(spec(factory))


def test_scikit_learn_estimators_get_its_checks():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression

    peer = ModelSpec(name="peer-logreg", summary="s", factory=LogisticRegression)
    check_model(peer, params={"max_iter": 500})  # peers may raise any ValueError
    with pytest.raises(AssertionError, match=r"not <class 'leanml\.core\.errors\.InputError'>"):
        check_model(ModelSpec(name="logreg", summary="s", factory=LogisticRegression))


def test_best_of_and_report(tmp_path, capsys):
    calls = []
    seconds, result = best_of(lambda: calls.append(1) or len(calls), repeats=4)
    assert result == 4 and len(calls) == 4 and seconds >= 0
    path = report("bench-x", [{"method": "a", "seconds": 0.123456}], tmp_path)
    assert json.loads(path.read_text()) == [{"method": "a", "seconds": 0.123456}]
    assert "method=a, seconds=0.1235" in capsys.readouterr().out
