"""Registration (lazy), conformance of every registered model, data sets, CLI, peers."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from leanml.core import Dataset, InputError, load_dataset
from leanml.core.cli import cli
from leanml.core.plugins import load_plugins
from leanml.core.testing import check_model

PLUGINS = load_plugins()
MODELS = sorted(m.name for m in PLUGINS.models if m.plugin == "bmp")


@pytest.fixture(scope="module")
def small_digits() -> Dataset:
    from leanml.bmp.datasets import digits_tensor

    X = digits_tensor()[0][:160]
    return Dataset.from_arrays("tiny", X, X, task="tensor", stratify=False, source="-", licence="-")


def test_registers_everything_and_imports_nothing_heavy() -> None:
    code = (
        "import sys; from leanml.core.plugins import load_plugins; p = load_plugins(); "
        "assert 'bmp' in p.models and 'indian-pines' in p.datasets; "
        "heavy = [m for m in ('numba', 'tensorly', 'sklearn', 'cvxpy', 'matplotlib') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert set(MODELS) == {
        "bmp",
        "peer-tensorly-cp",
        "peer-tensorly-nn-cp",
        "peer-tensorly-tucker",
        "peer-sklearn-nmf-unfold",
    }
    assert {"bmp-mixing", "bmp-exhaustive", "bmp-sdp-scs", "bmp-anneal"} <= {
        s.name for s in PLUGINS.solvers
    }


@pytest.mark.parametrize("name", MODELS)
def test_registered_model_conforms(name: str, small_digits: Dataset) -> None:
    spec = PLUGINS.models.get(name)
    params = {"n_atoms": 3} if name == "bmp" else {"rank": 3}
    check_model(spec, data=small_digits, params=params)


def test_registered_data_sets() -> None:
    ip = load_dataset("indian-pines", seed=0)
    assert ip.task == "tensor" and ip.n_train + ip.n_test == 145 * 145
    assert ip.X_train.shape[1] == 200 and ip.X_train.dtype == np.float64
    assert ip.X_train.min() >= 955 and ip.X_train.max() <= 9604  # uint16 range, cast
    np.testing.assert_array_equal(ip.X_test, ip.y_test)
    dg = load_dataset("digits-tensor", seed=0)
    assert dg.X_train.shape[1:] == (8, 8) and dg.n_train + dg.n_test == 1797
    assert dg.kind == "tensor"
    pl = load_dataset("bmp-planted", seed=3)
    assert pl.X_train.shape[1:] == (12, 12)
    np.testing.assert_array_equal(pl.X_train, load_dataset("bmp-planted", seed=3).X_train)


def test_indian_pines_cube_and_ground_truth() -> None:
    from leanml.bmp.datasets import indian_pines_cube

    cube, gt = indian_pines_cube(crop=20)
    assert cube.shape == (20, 20, 200) and gt.shape == (20, 20)
    assert gt.min() >= 0 and gt.max() <= 16
    with pytest.raises(InputError, match="crop"):
        indian_pines_cube(crop=500)


def test_metrics() -> None:
    from leanml.bmp.metrics import relative_error, tensor_rmse

    a = np.ones((3, 2, 2))
    assert tensor_rmse(a, a + 0.5) == pytest.approx(0.5)
    assert relative_error(a, 2 * a) == pytest.approx(1.0)
    with pytest.raises(InputError):
        tensor_rmse(a, a[:2])
    with pytest.raises(InputError):
        relative_error(0 * a, a)


def test_run_and_compare_through_the_core(tmp_path) -> None:
    # `leanml run` forks a child per model, after this process ran the kernels on threads
    runner = CliRunner()
    out = runner.invoke(
        cli,
        ["--out", str(tmp_path), "run", "bmp", "-d", "bmp-planted", "-m", "tensor_rmse"],
    )
    assert out.exit_code == 0, out.output
    record = json.loads(next(tmp_path.glob("run-bmp-*.json")).read_text())
    # held-out rows carry noise 0.05 the features cannot explain; 5 planted atoms
    assert record["metrics"]["tensor_rmse"] < 0.075
    out = runner.invoke(
        cli,
        [
            "--out",
            str(tmp_path),
            "compare",
            "-d",
            "digits-tensor",
            "--models",
            "bmp,peer-tensorly-cp,peer-sklearn-nmf-unfold",
            "-m",
            "relative_error",
            "-p",
            "rank=4",
            "-p",
            "bmp.n_atoms=4",
            "--max-train",
            "300",
        ],
    )
    assert out.exit_code == 0, out.output
    bad = runner.invoke(
        cli, ["run", "bmp", "-d", "bmp-planted", "-m", "tensor_rmse", "-p", "lam=-1"]
    )
    assert bad.exit_code == 2 and "lam" in bad.output


def test_cli_fit_maxcut_compare(tmp_path) -> None:
    runner = CliRunner()
    out = runner.invoke(
        cli,
        ["--out", str(tmp_path), "bmp", "fit", "-d", "indian-pines", "--crop", "16", "-k", "3"],
    )
    assert out.exit_code == 0, out.output
    assert (tmp_path / "bmp-fit-indian-pines-codes.png").stat().st_size > 0
    saved = np.load(tmp_path / "bmp-fit-indian-pines.npz")
    assert saved["features"].shape[1:] == (200,) and int(saved["n_rows"]) == 256
    out = runner.invoke(
        cli,
        [
            "--out",
            str(tmp_path),
            "bmp",
            "fit",
            "-d",
            "indian-pines",
            "--crop",
            "12",
            "-k",
            "3",
            "--model",
            "tucker",
            "--coded-modes",
            "0,1",
        ],
    )
    assert out.exit_code == 0, out.output
    saved = np.load(tmp_path / "bmp-fit-indian-pines.npz")
    assert saved["core"].shape[-1] == 200 and saved["codes_mode1"].shape[0] == 12

    rng = np.random.default_rng(0)
    P = rng.standard_normal((14, 3))
    np.savez(tmp_path / "p.npz", P=P, b=rng.standard_normal(14))
    out = runner.invoke(
        cli, ["--out", str(tmp_path), "bmp", "maxcut", str(tmp_path / "p.npz"), "--exact"]
    )
    assert out.exit_code == 0, out.output
    assert "exhaustive" in out.output and "sdp" in out.output
    z = np.load(tmp_path / "maxcut-p-z.npy")
    from leanml.bmp.bqp import bqp_value, solve_bqp_exhaustive

    with np.load(tmp_path / "p.npz") as f:
        best = solve_bqp_exhaustive(f["P"] @ f["P"].T, f["b"]).value
        assert bqp_value(z, P=f["P"], b=f["b"]) == pytest.approx(best)

    out = runner.invoke(
        cli,
        [
            "--out",
            str(tmp_path),
            "bmp",
            "compare",
            "-d",
            "digits-tensor",
            "--atoms",
            "2,4",
            "--peers",
            "cp,tucker",
        ],
    )
    assert out.exit_code == 0, out.output
    rows = json.loads((tmp_path / "bmp-compare-digits-tensor.json").read_text())
    assert {r["model"] for r in rows} == {"bmp", "cp", "tucker"}
    assert (tmp_path / "bmp-compare-digits-tensor.png").exists()

    for args in (
        ["bmp", "fit", "-d", "nope"],
        ["bmp", "compare", "-d", "digits-tensor", "--peers", "svd"],
        ["bmp", "compare", "-d", "digits-tensor", "--atoms", "x"],
    ):
        bad = runner.invoke(cli, args)
        assert bad.exit_code == 2, (args, bad.output)
    np.save(tmp_path / "bad.npy", np.array([[1.0, np.nan], [np.nan, 1.0]]))
    bad = runner.invoke(cli, ["bmp", "maxcut", str(tmp_path / "bad.npy")])
    assert bad.exit_code == 2 and "NaN" in bad.output


# -- peers -------------------------------------------------------------------------------


def test_tensor_peers_reconstruct_exact_low_rank_tensors() -> None:
    from leanml.bmp.peers import CPPeer, NMFPeer, TuckerPeer

    rng = np.random.default_rng(0)
    A, B, C = (np.abs(rng.standard_normal((n, 2))) for n in (30, 5, 4))
    X = np.einsum("ir,jr,kr->ijk", A, B, C)
    for peer in (CPPeer(2), TuckerPeer(2), NMFPeer(2, max_iter=2000)):
        peer.fit(X)
        assert np.sqrt(np.mean((peer.reconstruct() - X) ** 2)) < 1e-3 * X.std()
        # new rows through the row-mode factor
        np.testing.assert_allclose(peer.predict(X[:5]), X[:5], atol=1e-2 * X.std())
    assert CPPeer(2).fit(X).storage_bytes() == 4 * 2 * (30 + 5 + 4)
    assert TuckerPeer(2).fit(X).storage_bytes() == 4 * (8 + 2 * (30 + 5 + 4))
    with pytest.raises(InputError, match="non-negative"):
        NMFPeer(2).fit(-X)


def test_equal_bytes_ranks_fit_the_budget() -> None:
    from leanml.bmp.experiments import _BYTES, peer_rank_for_bytes

    shape = (145, 145, 200)
    for peer in ("cp", "tucker"):
        for budget in (5_000, 20_000, 80_000):
            r = peer_rank_for_bytes(peer, shape, budget)
            assert _BYTES[peer](shape, r) <= budget < _BYTES[peer](shape, r + 1)


def test_solver_peers_agree_with_brute_force() -> None:
    from leanml.bmp.bqp import solve_bqp_exhaustive
    from leanml.bmp.peers import anneal_bqp, sdp_bound

    rng = np.random.default_rng(1)
    A = rng.standard_normal((12, 12))
    C, b = (A + A.T) / 2, rng.standard_normal(12)
    exact = solve_bqp_exhaustive(C, b).value
    assert anneal_bqp(C, b, random_state=0).value == pytest.approx(exact)
    sdp = sdp_bound(C, b, random_state=0)
    assert sdp.sdp_value >= exact - 1e-3 and sdp.value <= exact + 1e-9
