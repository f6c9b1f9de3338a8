"""Estimators end to end: accuracy against the exact kernel SVM, warm start, API, CLI."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.base import clone
from sklearn.datasets import dump_svmlight_file

from leanml.core import InputError, ParameterError, load_dataset
from leanml.core.cli import cli
from leanml.rbf_features import RBClassifier, RBRegressor
from leanml.rbf_features.experiments import minmax
from leanml.rbf_features.peers import ExactLaplacianSVC, nystroem_svc, rbf_sampler_svc


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
    rff = accuracy(rbf_sampler_svc(R, sigma=sigma, C=C, random_state=0), data)
    nys = accuracy(nystroem_svc(R, sigma=sigma, C=C, random_state=0), data)
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


def test_warm_start_keeps_grids_and_weights(banana):
    X, y = banana.X_train[:800], banana.y_train[:800]
    model = RBClassifier(32, sigma=1.0, loss="logistic", warm_start=True, random_state=4).fit(X, y)
    first = model.binning_.transform_ids(X)
    model.set_params(n_grids=64).fit(X, y)
    assert np.array_equal(model.binning_.transform_ids(X)[:, :32] >= 0, first >= 0)
    cold = RBClassifier(64, sigma=1.0, loss="logistic", random_state=4).fit(X, y)
    assert np.allclose(model.decision_function(X), cold.decision_function(X), atol=1e-4)


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


@pytest.mark.parametrize(
    ("model", "y", "error", "match"),
    [
        (RBClassifier(8), np.ones(10), InputError, "single class"),
        (RBClassifier(8), np.arange(9) % 2, InputError, "y must be 1-D with 10"),
        (
            RBClassifier(8, loss="hinge", penalty="l1"),
            np.arange(10) % 2,
            ParameterError,
            "not supported",
        ),
        (RBClassifier(8, solver="pcd"), np.arange(10) % 2, ParameterError, "does not handle"),
        (RBRegressor(8, alpha=0.0), np.arange(10.0), ParameterError, "alpha must be"),
        (RBRegressor(8), np.full(10, np.nan), InputError, "NaN"),
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
            "--sigma",
            "2",
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
