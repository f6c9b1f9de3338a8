from __future__ import annotations

from click.testing import CliRunner

from leanml.core.cli import cli


def test_train_explain_debug(tmp_path):
    runner = CliRunner()
    model = tmp_path / "mlp.pt"
    out = runner.invoke(cli, ["representer", "train-mlp", "-d", "digits", "--model", str(model)])
    assert out.exit_code == 0, out.output
    grid = tmp_path / "grid.png"
    out = runner.invoke(
        cli,
        [
            "representer",
            "explain",
            "--model",
            str(model),
            "-d",
            "digits",
            "--k",
            "3",
            "--n-test",
            "2",
            "--grid",
            str(grid),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "excitatory" in out.output and grid.is_file()
    out = runner.invoke(
        cli, ["representer", "explain", "--model", str(model), "--method", "lje", "--n-test", "2"]
    )
    assert out.exit_code == 0, out.output
    assert "representer points (lje" in out.output
    out = runner.invoke(
        cli,
        [
            "--out",
            str(tmp_path),
            "representer",
            "debug",
            "-d",
            "breast_cancer",
            "--fractions",
            "0.1",
            "--seeds",
            "1",
            "--flip-rate",
            "0.2",
        ],
    )
    assert out.exit_code == 0, out.output
    assert (tmp_path / "representer-debug-breast_cancer.json").is_file()


def test_user_errors(tmp_path):
    runner = CliRunner()
    model = tmp_path / "mlp.pt"
    runner.invoke(cli, ["representer", "train-mlp", "--model", str(model)])
    out = runner.invoke(
        cli, ["representer", "explain", "--model", str(model), "--feature-layer", "nope"]
    )
    assert out.exit_code == 2 and "model has no module 'nope'" in out.output
    out = runner.invoke(cli, ["representer", "debug", "--flip-rate", "1.5"])
    assert out.exit_code == 2 and "--flip-rate must be in (0, 1)" in out.output


def test_bench_fast_peer(tmp_path):
    out = CliRunner().invoke(cli, ["representer", "bench", "--no-slow-peer", "--k", "5"])
    assert out.exit_code == 0, out.output
    assert "captum TracInCPFast" in out.output and "representer lje" in out.output
