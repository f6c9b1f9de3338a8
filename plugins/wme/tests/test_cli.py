"""`leanml wme ...` through click, and the plugin's registrations."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from leanml.core.cli import cli
from leanml.core.plugins import load_plugins


def test_registrations():
    pm = load_plugins()
    for name in ("wme-svm", "knn-wmd", "peer-knn-wmd-pot", "peer-knn-wmd-gensim", "peer-sif-svc"):
        assert pm.models.get(name).plugin == "wme"
    for name in ("election-tweets", "lee", "synonym-shift"):
        assert pm.datasets.get(name).plugin == "wme"
    assert pm.datasets.get("reuters-r8").plugin == "core"  # the text corpora are shared


def test_embed_writes_a_feature_matrix(tmp_path):
    texts = tmp_path / "docs.txt"
    texts.write_text("t0w1 t0w2 common1\nt1w4 t1w5\n\nt2w3\n")
    out = tmp_path / "Z.npy"
    result = CliRunner().invoke(
        cli,
        [
            "wme",
            "embed",
            str(texts),
            "-o",
            str(out),
            "-e",
            "synonym-shift",
            "-R",
            "16",
            "--scale",
            "kernel",
        ],
    )
    assert result.exit_code == 0, result.output
    Z = np.load(out)
    assert Z.shape == (3, 16) and (Z > 0).all()


def test_classify_synonym_shift(tmp_path):
    result = CliRunner().invoke(
        cli,
        ["--out", str(tmp_path), "wme", "classify", "-d", "synonym-shift", "-R", "32", "--no-knn"],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "wme-classify-synonym-shift.json").read_text())
    acc = {r["model"]: r["accuracy"] for r in rows}
    assert acc["wme R=128"] >= 0.9 and acc["tfidf-svc"] <= 0.4


def test_bad_input_exits_2(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["wme", "embed", str(empty), "-o", str(tmp_path / "z.npy")])
    assert result.exit_code == 2 and "no documents" in result.output
    result = runner.invoke(
        cli, ["wme", "embed", str(empty), "-o", str(tmp_path / "z.npy"), "--gamma", "x"]
    )
    assert result.exit_code == 2
    result = runner.invoke(cli, ["wme", "classify", "-d", "no-such-set"])
    assert result.exit_code == 2 and "unknown dataset" in result.output
