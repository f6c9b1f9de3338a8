"""`leanml prune-kd experiment`: the grid is resumable and never recomputes a finished cell."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import leanml.prune_kd.grid as grid
from leanml.core import ParameterError
from leanml.core.cli import cli
from leanml.prune_kd.experiments import PipelineSettings
from leanml.prune_kd.grid import GridSpec, grid_table, load_cells, run_grid, write_outputs

TINY = PipelineSettings(
    vocab_size=300,
    tokenizer_docs=64,
    mlm_docs=64,
    hidden_size=16,
    num_heads=2,
    max_length=16,
    teacher_epochs=1,
    student_epochs=2,
    n_updates=1,
)


def _spec(**kw):
    base = dict(
        methods=("magnitude", "spd"),
        sparsities=(0.5, 0.9),
        n_trains=(24,),
        seeds=(0,),
        n_dev=16,
        settings=TINY,
    )
    base.update(kw)
    return GridSpec(**base)


def test_grid_resumes_and_never_recomputes(tmp_path, monkeypatch):
    d = tmp_path / "grid"
    first = run_grid(_spec(), d, echo=lambda s: None, max_cells=3)  # "killed" after 3 cells
    assert [c["key"] for c in first] == ["dense|0|24|0", "magnitude|0.5|24|0", "magnitude|0.9|24|0"]
    lines = (d / "cells.jsonl").read_text().splitlines()
    calls = []
    real = grid.run_method
    monkeypatch.setattr(grid, "run_method", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    full = run_grid(_spec(), d, echo=lambda s: None)
    assert calls == ["spd", "spd"]  # the teacher is loaded, finished cells are skipped
    assert (d / "cells.jsonl").read_text().splitlines()[:3] == lines
    assert len(full) == 5 and len({c["key"] for c in full}) == 5
    for c in full:
        assert c["gap"] == pytest.approx(c["train_accuracy"] - c["dev_accuracy"])
        if c["method"] != "dense":
            assert c["encoder_linear_sparsity"] == pytest.approx(c["sparsity"], abs=1e-2)
    calls.clear()
    again = run_grid(_spec(), d, echo=lambda s: None)
    assert calls == [] and again == full
    # extending the grid in place computes only the new cells (a new seed: a new teacher)
    ext = run_grid(_spec(methods=("magnitude",), seeds=(0, 1)), d, echo=lambda s: None)
    assert calls == ["dense", "magnitude", "magnitude"]
    assert len(ext) == 6
    out = write_outputs(ext, d)
    table = out["table_md"].read_text()
    assert table.count("\n") == 2 + 3  # header, rule, dense + magnitude at two sparsities
    if "figure" in out:
        assert out["figure"].stat().st_size > 0


def test_grid_refuses_other_fixed_settings_and_bad_cells(tmp_path):
    d = tmp_path / "g"
    d.mkdir()
    (d / "grid.json").write_text(json.dumps({"corpus": "r8"}))
    with pytest.raises(ParameterError, match="other fixed settings"):
        run_grid(_spec(), d, echo=lambda s: None)
    with pytest.raises(ParameterError, match="unknown student methods"):
        _spec(methods=("dense",))
    with pytest.raises(ParameterError, match="sparsity"):
        _spec(sparsities=(1.0,))


def test_table_is_mean_and_sample_std_over_seeds():
    cells = [
        {
            "method": "spd",
            "sparsity": 0.9,
            "n_train": 100,
            "seed": s,
            "train_accuracy": t,
            "dev_accuracy": v,
            "gap": t - v,
            "train_s": 1.0 + s,
            "encoder_linear_sparsity": 0.9,
        }
        for s, (t, v) in enumerate([(1.0, 0.7), (0.9, 0.6), (0.95, 0.8)])
    ]
    (row,) = grid_table(cells)
    dev = np.array([0.7, 0.6, 0.8])
    assert row["seeds"] == 3
    assert row["dev_accuracy"] == pytest.approx(dev.mean())
    assert row["dev_accuracy_std"] == pytest.approx(dev.std(ddof=1))
    assert row["gap"] == pytest.approx(np.mean([0.3, 0.3, 0.15]))


def test_experiment_cli_writes_table(tmp_path):
    args = [
        "--quiet", "--threads", "1", "--out", str(tmp_path), "prune-kd", "experiment",
        "--methods", "spd", "--sparsities", "0.9", "--n-train", "24", "--seeds", "0",
        "--n-dev", "16", "--mlm-docs", "64", "--hidden", "16", "--max-length", "16",
        "--teacher-epochs", "1", "--student-epochs", "2", "--n-updates", "1",
    ]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, (res.output, res.exception)
    d = tmp_path / "prune-kd-experiment"
    assert {c["method"] for c in load_cells(d)} == {"dense", "spd"}
    assert (d / "table.md").is_file()
    bad = CliRunner().invoke(cli, [*args[:6], "--methods", "nope"])
    assert bad.exit_code == 2
