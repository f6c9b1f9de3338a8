"""`leanml run` / `compare`: records, fairness, bad input, tasks and splits, solvers."""

from __future__ import annotations

import json
import math
import sys
import time
import types

import numpy as np
import pytest
from click.testing import CliRunner

from leanml.core import InputError
from leanml.core import plugins as plugins_mod
from leanml.core.cli import cli, write_record
from leanml.core.compare import compare, run_model
from leanml.core.data import Dataset
from leanml.core.loaders import infer_task


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def strict_json(path):
    def refuse(token):
        raise AssertionError(f"{path} is not strict JSON: {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


def write_libsvm(path, n=120, d=5, seed=0, regression=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) * 3.3 if regression else (X[:, 0] > 0).astype(int)
    lines = [
        f"{t:g} " + " ".join(f"{j + 1}:{v:.4f}" for j, v in enumerate(row))
        for t, row in zip(y, X, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


# 1. Records that never crash ---------------------------------------------------------------


def test_readme_example_with_a_relative_file_path(test_plugins, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_libsvm(tmp_path / "my_data.libsvm")
    result = invoke("run", "centroid", "-d", "./my_data.libsvm")
    assert result.exit_code == 0, result.output
    (path,) = (tmp_path / "leanml-out").glob("run-centroid-my_data.libsvm-*.json")
    rec = strict_json(path)
    assert rec["dataset"]["name"] == "my_data.libsvm"
    assert rec["command"][-2:] == ["-d", "./my_data.libsvm"]
    assert rec["cpu"] and rec["timestamp"].startswith(time.strftime("%Y-"))
    assert rec["threads"]["cpus"] >= 1 and "requested" in rec["threads"]


def test_records_in_the_same_second_never_overwrite(tmp_path):
    paths = {write_record(tmp_path, ("run", "m", "../../weird name?"), {"i": i}) for i in range(5)}
    assert len(paths) == 5 and all(p.parent == tmp_path for p in paths)
    assert sorted(json.loads(p.read_text())["i"] for p in paths) == list(range(5))
    assert all("/" not in p.name and "?" not in p.name and " " not in p.name for p in paths)


def test_records_are_strict_json_even_with_nan(test_plugins, tmp_path):
    """mean-regressor predicts a constant: its Pearson correlation is NaN."""
    data = tmp_path / "reg.csv"
    rng = np.random.default_rng(0)
    rows = [
        ",".join(f"{v:.3f}" for v in (*rng.standard_normal(3), 100 * rng.random()))
        for _ in range(80)
    ]
    data.write_text("\n".join(rows) + "\n")
    result = invoke("--out", str(tmp_path), "run", "mean-regressor", "-d", str(data))
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.glob("run-mean-regressor-*.json")
    rec = strict_json(path)
    assert rec["metrics"]["pearson"] is None and math.isfinite(rec["metrics"]["rmse"])


# 2. Fair compare -----------------------------------------------------------------------------


def test_the_same_model_three_times_gets_the_same_time_and_memory(test_plugins):
    """`busy`'s first fit in a process pays a one-time cost and keeps 64 MB: fairness means
    no run benefits from, or pays for, what ran before it."""
    data = Dataset.from_arrays(
        "blobs", *_blobs(), task="classification", source="generated", licence="-"
    )
    spec = test_plugins.models.get("busy")
    metric = test_plugins.metrics.get("accuracy")
    # one thread each: less exposed to whatever else the machine runs
    records = compare(
        [spec] * 3, data, [metric], params={"busy": {"rounds": 60}}, threads=1, repeat=5
    )
    assert all(r.threads["requested"] == 1 for r in records)
    assert all(v == 1 for r in records for k, v in r.threads.items() if k.startswith("blas"))
    ratios = [r.ratios["time"] for r in records]
    assert all(0.7 <= t <= 1.4 for t in ratios), ratios
    memory = [r.peak_memory_mb for r in records]
    assert min(memory) > 40 and max(memory) / min(memory) < 1.5, memory
    # busy's one-time 64 MB happens in the warm-up, outside what is measured
    assert max(memory) < 90, memory
    assert all(r.repeat == 5 and r.fit_seconds_min <= r.fit_seconds for r in records)
    assert all("warm-up" not in r.warmup and r.warmup.startswith("fit + predict") for r in records)


def _blobs(n=400, d=8, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return rng.standard_normal((n, d)) + y[:, None], y


def test_repeat_and_ratio_columns_in_the_cli(test_plugins, tmp_path):
    result = invoke(
        "--out",
        str(tmp_path),
        "compare",
        "-d",
        "wine",
        "--models",
        "centroid,busy",
        "--repeat",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert "fastest s" in result.output and "time ratio (fastest)" in result.output
    (path,) = tmp_path.glob("compare-wine-*.json")
    runs = strict_json(path)["runs"]
    assert [r["repeat"] for r in runs] == [2, 2]


# 5. Bad input is one line, exit 2 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-p", "shrink=abc"), "parameter shrink expects a float (default 0.0), got 'abc'"),
        (("-p", "shrink=True"), "parameter shrink expects a float"),
        (("-m", "rmse"), "metric 'rmse' applies to regression; dataset 'wine' is classification"),
        (("-m", "recall_at_k"), "metric 'recall_at_k' applies to retrieval"),
    ],
)
def test_bad_parameters_and_metrics(test_plugins, args, message):
    line = one_line_error(invoke("run", "centroid", "-d", "wine", *args))
    assert message in line


def test_a_model_that_raises_is_one_line_naming_it(test_plugins):
    line = one_line_error(invoke("run", "crashy", "-d", "wine", "-p", "shrink=0.2"))
    assert "model 'crashy' (shrink=0.2) failed in fit: RuntimeError: numerical trouble" in line
    debug = CliRunner().invoke(cli, ["--debug", "run", "crashy", "-d", "wine"])
    assert "Traceback" in debug.output and "in fit" in debug.output


def test_user_text_is_never_read_as_markup(test_plugins, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(invoke("run", "centroid", "-d", "a[/b].csv"))
    assert "a[/b].csv: no such file" in line
    (tmp_path / "x[/red]").mkdir(parents=True)
    write_libsvm(tmp_path / "x[/red]" / "d[b].libsvm")
    result = invoke("run", "centroid", "-d", "x[/red]/d[b].libsvm")
    assert result.exit_code == 0, result.output
    assert "d[b].libsvm" in result.output


# 6. Tasks and splits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "task"),
    [
        (np.arange(200) % 3, "classification"),
        (np.arange(200) % 100, "regression"),  # 100 integer values: not 100 classes
        (np.array(["a", "b"] * 10), "classification"),
        (np.linspace(0, 1, 20), "regression"),
        (np.array([0.0, 1.0] * 10), "classification"),
        (np.arange(10), "regression"),  # a distinct integer per row
    ],
)
def test_target_type_inference(y, task):
    assert infer_task(y) == task


def test_libsvm_regression_file_and_task_override(test_plugins, tmp_path):
    path = tmp_path / "reg.libsvm"
    write_libsvm(path, regression=True)
    result = invoke("--out", str(tmp_path), "run", "mean-regressor", "-d", str(path))
    assert result.exit_code == 0, result.output
    classes = tmp_path / "classes.csv"
    classes.write_text("".join(f"{i % 7},{i % 5},{i % 60}\n" for i in range(300)))
    assert "is classification" in one_line_error(
        invoke("run", "mean-regressor", "-d", str(classes), "--task", "classification")
    )
    result = invoke("--out", str(tmp_path), "run", "mean-regressor", "-d", str(classes))
    assert result.exit_code == 0, result.output  # 60 distinct integers: regression
    fmt = tmp_path / "data.dat"
    write_libsvm(fmt)
    result = invoke(
        "--out", str(tmp_path), "run", "centroid", "-d", str(fmt), "--format", "svmlight"
    )
    assert result.exit_code == 0, result.output


def test_empty_split_is_an_input_error(test_plugins, tmp_path):
    with pytest.raises(InputError, match="leave an empty test split"):
        Dataset.from_arrays("tiny", np.zeros((2, 2)), np.array([0, 1]), test_size=0.25)
    path = tmp_path / "tiny.csv"
    path.write_text("1,2,0\n3,4,1\n")
    assert "empty" in one_line_error(invoke("run", "centroid", "-d", str(path)))


# 7. The solver and explainer registries ---------------------------------------------------------


def test_solver_maps_onto_the_models_parameters(test_plugins, tmp_path):
    result = invoke("--out", str(tmp_path), "run", "centroid", "-d", "wine", "--solver", "shrinker")
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.glob("run-centroid-wine-*.json")
    assert strict_json(path)["params"] == {"shrink": 0.5}
    line = one_line_error(invoke("run", "busy", "-d", "wine", "--solver", "shrinker"))
    assert "model 'busy' does not use solver 'shrinker'" in line
    assert "unknown solver" in one_line_error(invoke("run", "centroid", "-d", "wine", "-s", "x"))
    table = invoke("solvers").output
    assert "shrinker" in table and "centroid" in table
    assert "nearest-train" in invoke("explainers").output


def test_run_model_in_process_matches_the_isolated_run(test_plugins):
    data = plugins_mod.get_plugins().datasets.get("wine").load()
    spec, metric = test_plugins.models.get("centroid"), test_plugins.metrics.get("accuracy")
    inproc = run_model(spec, data, [metric], isolate=False)
    forked = run_model(spec, data, [metric], isolate=True)
    assert inproc.metrics == forked.metrics
    assert "in process" in inproc.memory_method and "forked child" in forked.memory_method


def test_no_fork_once_numba_threads_started(test_plugins, monkeypatch):
    """Numba's OpenMP layer aborts a forked child once the parent used it: run in process."""
    fake = types.ModuleType("numba.np.ufunc.parallel")
    fake._is_initialized = True
    monkeypatch.setitem(sys.modules, "numba.np.ufunc.parallel", fake)
    data = plugins_mod.get_plugins().datasets.get("wine").load()
    spec, metric = test_plugins.models.get("centroid"), test_plugins.metrics.get("accuracy")
    with pytest.warns(RuntimeWarning, match="thread pools"):
        record = run_model(spec, data, [metric])
    assert "in process" in record.memory_method


# 6. Predictions partitioned on a Dask cluster -------------------------------------------------


@pytest.mark.timeout(180)
def test_run_with_dask_records_the_cluster(test_plugins, plugin_dir, tmp_path, monkeypatch):
    # the worker processes import the test plugin's model class from the same directory
    monkeypatch.setenv("PYTHONPATH", str(plugin_dir.path))
    plain = invoke("--out", str(tmp_path / "plain"), "run", "centroid", "-d", "wine")
    assert plain.exit_code == 0, plain.output
    result = invoke(
        "--out", str(tmp_path), "run", "centroid", "-d", "wine", "--repeat", "1",
        "--dask", "local:2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.glob("run-centroid-wine-*.json")
    record = strict_json(path)
    assert record["dask"]["requested"] == "local:2" and record["dask"]["n_workers"] == 2
    assert record["dask"]["scheduler"].startswith("tcp://127.0.0.1:")
    (ref,) = (tmp_path / "plain").glob("run-centroid-wine-*.json")
    assert record["metrics"] == strict_json(ref)["metrics"]
    assert strict_json(ref)["dask"] is None


def test_bad_dask_scheduler_is_one_line(test_plugins):
    line = one_line_error(invoke("run", "centroid", "-d", "wine", "--dask", "local:0"))
    assert "local:N" in line


def test_a_string_default_also_takes_numbers_but_not_booleans():
    from leanml.core import ModelSpec, ParameterError
    from leanml.core.compare import check_params

    svc = ModelSpec(name="svc", summary="SVC", factory="sklearn.svm:SVC")
    assert check_params(svc, {"gamma": 0.5}) == {"gamma": 0.5}
    assert check_params(svc, {"gamma": "auto"}) == {"gamma": "auto"}
    with pytest.raises(ParameterError, match="parameter gamma expects a str"):
        check_params(svc, {"gamma": True})
    with pytest.raises(ParameterError, match="parameter C expects a float"):
        check_params(svc, {"C": "abc"})


def test_parameter_values_are_literals_booleans_in_any_case_or_strings():
    from leanml.core import ParameterError
    from leanml.core.compare import parse_params

    got = parse_params(
        ["a=true", "b=False", "c=TRUE", "d=truth", "e=1e-3", "f=rbf", "g=(1, 2)", "h= false "]
    )
    assert got == {
        "a": True,
        "b": False,
        "c": True,
        "d": "truth",
        "e": 0.001,
        "f": "rbf",
        "g": (1, 2),
        "h": False,
    }
    assert all(type(got[k]) is bool for k in "abch")
    with pytest.raises(ParameterError, match="expected key=value"):
        parse_params(["true"])
