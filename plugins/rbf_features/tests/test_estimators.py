"""Estimators end to end: accuracy against the exact kernel SVM, warm start, API, CLI."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.base import clone
from sklearn.datasets import dump_svmlight_file
from sklearn.exceptions import DataConversionWarning

from leanml.core import InputError, ParameterError, load_dataset
from leanml.core.cli import cli
from leanml.rbf_features import RBClassifier, RBRegressor
from leanml.rbf_features import solvers as S
from leanml.rbf_features.experiments import minmax
from leanml.rbf_features.peers import ExactLaplacianSVC, NystroemSVC, rbf_sampler_svc


def accuracy(model, data) -> float:
    model.fit(data.X_train, data.y_train)
    return float(np.mean(model.predict(data.X_test) == data.y_test))


def test_banana_within_one_point_of_exact_laplacian_svc(banana):
    rb = accuracy(RBClassifier(256, sigma=1.0, C=1.0, random_state=0), banana)
    exact = accuracy(ExactLaplacianSVC(sigma=1.0, C=1.0), banana)
    print(f"banana: RB(R=256) {rb:.4f}, exact Laplacian SVC {exact:.4f}")
    assert rb >= exact - 0.01


@pytest.mark.slow
def test_mnist_5k_close_to_exact_and_above_peers():
    data = minmax(load_dataset("mnist_5k", seed=0))
    sigma, C, R = 40.0, 10.0, 1024
    rb = accuracy(RBClassifier(R, sigma=sigma, C=C, random_state=0), data)
    exact = accuracy(ExactLaplacianSVC(sigma=sigma, C=C), data)
    rff = accuracy(rbf_sampler_svc(R, C=C, random_state=0), data)
    nys = accuracy(NystroemSVC(R, sigma=sigma, C=C, random_state=0), data)
    print(f"mnist_5k: RB {rb:.4f} exact {exact:.4f} RBFSampler {rff:.4f} Nystroem {nys:.4f}")
    assert rb >= exact - 0.015
    assert rb > rff and rb > nys


@pytest.mark.parametrize(
    "params",
    [
        {"loss": "squared_hinge"},
        {"loss": "logistic"},
        {"loss": "squared_hinge", "penalty": "l1"},
        {"loss": "logistic", "penalty": "l1"},
    ],
)
def test_every_loss_learns_multiclass_digits(params):
    data = load_dataset("digits", seed=0)
    data = type(data)(**{**data.__dict__, "X_train": data.X_train / 16, "X_test": data.X_test / 16})
    model = RBClassifier(128, sigma=8.0, C=10.0, max_iter=50, random_state=0, **params)
    acc = accuracy(model, data)
    assert acc > 0.9, (params, acc)


def test_warm_start_adds_grids_and_carries_weights(banana, monkeypatch):
    from leanml.rbf_features import _kernels

    X, y = banana.X_train[:800], banana.y_train[:800]
    kw = {"sigma": 1.0, "loss": "logistic", "random_state": 4}
    model = RBClassifier(32, warm_start=True, **kw).fit(X, y)
    first = model.binning_.transform_ids(X)
    binned, bin_keys = [], _kernels.bin_keys
    monkeypatch.setattr(_kernels, "bin_keys", lambda *a: binned.append(a[-3].shape) or bin_keys(*a))
    model.set_params(n_grids=64).fit(X, y)
    assert binned == [(2, 32)]  # only the 32 new grids were binned (PT is d x grids)
    monkeypatch.undo()
    assert np.array_equal(model.binning_.transform_ids(X)[:, :32], first)
    cold = RBClassifier(64, **kw).fit(X, y)
    assert np.array_equal(model.binning_.transform_ids(X), cold.binning_.transform_ids(X))
    for mine, theirs in zip(model.binning_._tables, cold.binning_._tables, strict=True):
        assert np.array_equal(mine, theirs)
    assert np.allclose(model.decision_function(X), cold.decision_function(X), atol=1e-4)
    # one Newton step from the carried weights is already near the optimum; from zero it is not
    model.set_params(max_iter=1).fit(X, y)
    one_cold = RBClassifier(64, max_iter=1, **kw).fit(X, y)
    design = S.RBDesign(model.binning_.transform_ids(X), model.binning_.grid_offsets_)
    t = np.where(y == model.classes_[1], 1.0, -1.0)
    best = S.logistic_objective(design, t, cold.coef_[:, 0], 1.0, b=cold.intercept_[0])
    warm_gap = S.logistic_objective(design, t, model.coef_[:, 0], 1.0, b=model.intercept_[0]) - best
    cold_gap = (
        S.logistic_objective(design, t, one_cold.coef_[:, 0], 1.0, b=one_cold.intercept_[0]) - best
    )
    assert warm_gap < 1e-6 * best < cold_gap


def test_warm_start_keeps_the_dual_of_dcd(banana):
    X, y = banana.X_train[:800], banana.y_train[:800]
    # the intercept's warm start is tested in test_intercept.py
    kw = {"sigma": 1.0, "random_state": 4, "tol": 1e-8, "max_iter": 100_000, "fit_intercept": False}
    model = RBClassifier(32, warm_start=True, **kw).fit(X, y)
    full_iter = model.n_iter_
    model.fit(X, y)  # the same problem, started from its own solution
    assert model.n_iter_ < full_iter / 4
    # new grids: w is rebuilt from the kept dual; one epoch from there beats one from zero
    model.set_params(n_grids=64, max_iter=1).fit(X, y)
    one_cold = RBClassifier(64, **{**kw, "max_iter": 1}).fit(X, y)
    cold = RBClassifier(64, **kw).fit(X, y)
    design = S.RBDesign(model.binning_.transform_ids(X), model.binning_.grid_offsets_)
    t = np.where(y == model.classes_[1], 1.0, -1.0)
    best = S.svm_objective(design, t, cold.coef_[:, 0], 1.0, False, b=cold.intercept_[0])
    warm_gap = (
        S.svm_objective(design, t, model.coef_[:, 0], 1.0, False, b=model.intercept_[0]) - best
    )
    cold_gap = (
        S.svm_objective(design, t, one_cold.coef_[:, 0], 1.0, False, b=one_cold.intercept_[0])
        - best
    )
    assert 0 <= warm_gap < cold_gap / 3, (warm_gap, cold_gap)


def test_warm_start_warns_when_it_cannot_apply(banana):
    X, y = banana.X_train[:300], banana.y_train[:300]
    model = RBClassifier(16, sigma=1.0, loss="logistic", warm_start=True, random_state=0)
    model.fit(X, y)
    with pytest.warns(UserWarning, match="training data changed"):
        model.fit(X[:200], y[:200])
    unseeded = RBClassifier(16, sigma=1.0, loss="logistic", warm_start=True).fit(X, y)
    with pytest.warns(UserWarning, match="random_state is not an integer"):
        unseeded.fit(X, y)


def test_regressor_fits_a_smooth_function(rng):
    X = rng.uniform(-2, 2, size=(600, 2))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2
    for solver in ("cg", "bcd"):
        model = RBRegressor(256, sigma=1.0, alpha=0.1, solver=solver, max_iter=3000, random_state=0)
        assert model.fit(X[:500], y[:500]).score(X[500:], y[500:]) > 0.9
    l1 = RBRegressor(256, sigma=1.0, alpha=0.1, penalty="l1", random_state=0).fit(X[:500], y[:500])
    assert l1.score(X[500:], y[500:]) > 0.8


def test_sklearn_api(banana):
    model = RBClassifier(16, sigma=1.0, random_state=0)
    assert clone(model).get_params() == model.get_params()
    model.fit(banana.X_train[:300], banana.y_train[:300])
    assert set(model.predict(banana.X_test[:50])) <= {-1, 1}
    assert model.decision_function(banana.X_test[:5]).shape == (5,)
    assert model.__sklearn_tags__().input_tags.sparse
    assert RBRegressor().__sklearn_tags__().input_tags.sparse
    assert 1 <= model.n_iter_ <= model.max_iter
    assert not hasattr(model, "predict_proba")  # hinge loss: no probabilities


def test_predict_proba_is_the_logistic_of_the_margin(banana):
    X, y = banana.X_train[:400], banana.y_train[:400]
    model = RBClassifier(32, sigma=1.0, loss="logistic", random_state=0).fit(X, y)
    p = model.predict_proba(banana.X_test[:50])
    m = model.decision_function(banana.X_test[:50])
    assert np.allclose(p[:, 1], 1.0 / (1.0 + np.exp(-m)))
    assert np.array_equal(model.classes_[p.argmax(1)], model.predict(banana.X_test[:50]))
    digits = load_dataset("digits", seed=0)
    multi = RBClassifier(32, loss="logistic", random_state=0, max_iter=20)
    multi.fit(digits.X_train[:300], digits.y_train[:300])
    P = multi.predict_proba(digits.X_test[:40])
    M = 1.0 / (1.0 + np.exp(-multi.decision_function(digits.X_test[:40])))
    assert np.allclose(P, M / M.sum(1, keepdims=True)) and np.allclose(P.sum(1), 1.0)
    assert np.allclose(multi.predict_log_proba(digits.X_test[:40]), np.log(P))


def test_y_column_vector_is_accepted(banana):
    X, y = banana.X_train[:300], banana.y_train[:300]
    flat = RBClassifier(16, random_state=0).fit(X, y)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        column = RBClassifier(16, random_state=0).fit(X, y[:, None])
    assert np.array_equal(flat.coef_, column.coef_)


@pytest.mark.parametrize("loss", ["hinge", "logistic"])
def test_class_weight_equals_repeating_the_class(banana, loss):
    X, y = banana.X_train[:300], banana.y_train[:300]
    kw = {"sigma": 1.0, "loss": loss, "random_state": 0, "tol": 1e-10, "max_iter": 100_000}
    weighted = RBClassifier(16, class_weight={1: 3.0}, **kw).fit(X, y)
    rep = np.concatenate([np.arange(300)] + [np.flatnonzero(y == 1)] * 2)
    repeated = RBClassifier(16, **kw).fit(X[rep], y[rep])
    assert np.allclose(weighted.coef_, repeated.coef_, atol=1e-4)
    balanced = RBClassifier(16, class_weight="balanced", **kw).fit(X, y)
    assert not np.allclose(balanced.coef_, RBClassifier(16, **kw).fit(X, y).coef_, atol=1e-3)


def test_threads_parameter(banana):
    X, y = banana.X_train[:300], banana.y_train[:300]
    one = RBClassifier(16, n_jobs=1, random_state=0).fit(X, y).decision_function(X)
    two = RBClassifier(16, n_jobs=2, random_state=0).fit(X, y).decision_function(X)
    assert np.array_equal(one, two)
    with pytest.raises(ParameterError, match="n_jobs"):
        RBClassifier(16, n_jobs=0).fit(X, y)


def test_regressor_multi_output_equals_separate_fits(rng):
    X = rng.uniform(-2, 2, size=(300, 2))
    Y = np.stack([np.sin(2 * X[:, 0]), X[:, 1] ** 2], axis=1)
    for solver in ("cg", "bcd"):
        kw = {"sigma": 1.0, "alpha": 0.1, "solver": solver, "random_state": 0}
        both = RBRegressor(64, **kw).fit(X, Y)
        single = [RBRegressor(64, **kw).fit(X, Y[:, k]).predict(X) for k in range(2)]
        assert both.predict(X).shape == (300, 2)
        assert np.allclose(both.predict(X), np.stack(single, 1))


@pytest.mark.parametrize(
    ("model", "y", "error", "match"),
    [
        (RBClassifier(8), np.ones(10), InputError, "one class only"),
        (RBClassifier(8), np.arange(9) % 2, InputError, "X has 10 rows but y has 9"),
        (
            RBClassifier(8, loss="hinge", penalty="l1"),
            np.arange(10) % 2,
            ParameterError,
            "not supported",
        ),
        (RBClassifier(8, solver="pcd"), np.arange(10) % 2, ParameterError, "does not handle"),
        (RBRegressor(8, alpha=0.0), np.arange(10.0), ParameterError, "alpha must be"),
        (RBRegressor(8), np.full(10, np.nan), InputError, "NaN"),
        (RBClassifier(8), np.linspace(0, 1, 10), InputError, "continuous target"),
        (RBClassifier(8), np.r_[np.nan, np.arange(9) % 2], InputError, "NaN"),
        (RBClassifier(8), np.ones((10, 2)), InputError, "multilabel-indicator"),
    ],
)
def test_estimator_bad_input(model, y, error, match):
    with pytest.raises(error, match=match):
        model.fit(np.random.default_rng(0).normal(size=(10, 2)), y)


def test_cli_commands(tmp_path):
    runner = CliRunner()
    out = runner.invoke(
        cli, ["--quiet", "rbf-features", "convergence", "--n", "120", "--grids", "16,64"]
    )
    assert out.exit_code == 0, out.output
    assert "slope of log error" in out.output
    model = tmp_path / "m.pkl"
    out = runner.invoke(
        cli, ["rbf-features", "fit", "-d", "banana", "--model", str(model), "-R", "32"]
    )
    assert out.exit_code == 0, out.output
    data = load_dataset("banana", seed=0)
    svm = tmp_path / "test.svm"
    dump_svmlight_file(data.X_test[:100], data.y_test[:100], str(svm))
    out = runner.invoke(cli, ["rbf-features", "predict", "--model", str(model), str(svm)])
    assert out.exit_code == 0 and "accuracy against the file's labels" in out.output
    out = runner.invoke(
        cli,
        [
            "--out",
            str(tmp_path),
            "rbf-features",
            "sweep",
            "-d",
            "wine",
            "--grids",
            "16",
            "--scale",
            "--no-exact",
        ],
    )
    assert out.exit_code == 0, out.output
    assert (tmp_path / "rbf-sweep-wine.json").is_file()


def test_cli_run_and_compare_through_the_core(tmp_path):
    out = CliRunner().invoke(
        cli,
        [
            "--out",
            str(tmp_path),
            "compare",
            "-d",
            "banana",
            "--max-train",
            "800",
            "--models",
            "rb-svm,peer-rbf-sampler-svc",
            "-p",
            "rb-svm.n_grids=64",
        ],
    )
    assert out.exit_code == 0, out.output
    assert list(tmp_path.glob("compare-banana-*.json"))
    bad = CliRunner().invoke(cli, ["run", "rb-svm", "-d", "banana", "-p", "sigma=-1"])
    assert bad.exit_code == 2 and "sigma must be a finite number > 0" in bad.output


def test_sample_weight_validation(banana):
    X, y = banana.X_train[:50], banana.y_train[:50]
    for bad, match in [(np.ones(3), "shape"), (-np.ones(50), ">= 0"), (np.zeros(50), "zero")]:
        with pytest.raises(InputError, match=match):
            RBClassifier(8).fit(X, y, sample_weight=bad)


def test_regressor_takes_numeric_object_targets_and_refuses_others(rng):
    X = rng.normal(size=(40, 2))
    y = X[:, 0] * 3.0
    as_objects = RBRegressor(16, sigma=1.0, random_state=0).fit(X, y.astype(object))
    assert np.array_equal(
        as_objects.coef_, RBRegressor(16, sigma=1.0, random_state=0).fit(X, y).coef_
    )
    with pytest.raises(InputError, match="Unknown label type"):
        RBRegressor(16).fit(X, np.array(["a", 1.0] * 20, dtype=object))
