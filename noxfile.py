"""nox is the one entry point for checks: lint, per-distribution tests, integration, bench.

- ``lint``: ruff check and ruff format --check over the whole repository.
- ``tests-core``: core alone in a fresh venv.
- ``tests-<plugin>``: core plus that one plugin in a fresh venv (proves it installs and
  registers on its own, and that uninstalling it removes it from the CLI), its tests, and its
  benchmarks in smoke mode.
- ``integration``: everything installed together: discovery, the real shared data sets,
  ``leanml demo --quick``.
- ``bench``: every plugin's pytest-benchmark suite at full size (not run by default).

Torch is pinned through ``constraints.txt`` so test environments stay small.
"""

from __future__ import annotations

import json
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())

nox.options.sessions = ["lint", "tests-core", *[f"tests-{p}" for p in PLUGINS], "integration"]
nox.options.error_on_missing_interpreters = True


def _install(session: nox.Session, *targets: str) -> None:
    session.install(*CONSTRAINTS, *targets)


def _leanml_plugins(session: nox.Session) -> set[str]:
    code = (
        "import json; from leanml.core.plugins import load_plugins; "
        "print(json.dumps([[i.name, i.version, i.error] for i in load_plugins().infos]))"
    )
    out = session.run("python", "-c", code, silent=True)
    infos = json.loads(str(out).strip().splitlines()[-1])
    failed = [f"{n}: {e}" for n, _, e in infos if e]
    if failed:
        session.error(f"plugins failed to load: {failed}")
    return {n for n, _, _ in infos}


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(name="tests-core")
def tests_core(session: nox.Session) -> None:
    """Core alone: unit tests of the contract, CLI, data layer and metrics."""
    _install(session, f"{ROOT / 'core'}[test,plot]")
    session.chdir(ROOT / "core")
    session.run("pytest", "tests", "-q", *session.posargs)


def _plugin_session(plugin: str) -> None:
    @nox.session(name=f"tests-{plugin}")
    def tests_plugin(session: nox.Session) -> None:
        _install(session, str(ROOT / "core"), f"{ROOT / 'plugins' / plugin}[test]")
        found = _leanml_plugins(session)
        if found != {"core", plugin}:
            session.error(f"expected exactly core and {plugin}, found {sorted(found)}")
        session.run("leanml", "plugins")
        session.chdir(ROOT / "plugins" / plugin)
        session.run("pytest", "tests", "-q", *session.posargs)
        if Path("benchmarks").is_dir():
            session.run(
                "pytest", "benchmarks", "-q", "--benchmark-disable", env={"LEANML_BENCH": "smoke"}
            )
        dist = f"leanml-{plugin.replace('_', '-')}"
        session.run("pip", "uninstall", "-y", "-q", dist)
        if _leanml_plugins(session) != {"core"}:
            session.error(f"{plugin} still registered after uninstalling {dist}")

    tests_plugin.__doc__ = f"Core plus {plugin} alone: install, register, tests, smoke benchmarks."


for _plugin in PLUGINS:
    _plugin_session(_plugin)


@nox.session
def integration(session: nox.Session) -> None:
    """Everything installed together: discovery, real shared data, demo in quick mode."""
    _install(session, f"{ROOT / 'core'}[test]", *[f"{ROOT / 'plugins' / p}[test]" for p in PLUGINS])
    found = _leanml_plugins(session)
    if found != {"core", *PLUGINS}:
        session.error(f"expected core + {PLUGINS}, found {sorted(found)}")
    session.run("pytest", str(ROOT / "tests" / "integration"), "-q")
    session.run("leanml", "--quiet", "--out", str(ROOT / ".nox" / "demo-out"), "demo", "--quick")


@nox.session
def bench(session: nox.Session) -> None:
    """Every plugin's pytest-benchmark suite at full size (ratios go in plugin READMEs)."""
    _install(session, str(ROOT / "core"), *[f"{ROOT / 'plugins' / p}[test]" for p in PLUGINS])
    for plugin in PLUGINS:
        bench_dir = ROOT / "plugins" / plugin / "benchmarks"
        if bench_dir.is_dir():
            session.chdir(bench_dir.parent)
            session.run("pytest", "benchmarks", *session.posargs, env={"LEANML_BENCH": "full"})
