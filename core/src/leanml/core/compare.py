"""Fit, evaluate and time registered models on registered data sets, fairly.

:func:`run_model` produces one :class:`RunRecord`; :func:`compare` runs several models on
the same split and adds ratios to the first model.

Fairness: each model runs in a child process forked from the same parent state, so what one
model loaded, compiled or allocated never helps or burdens the next. In that child the model
first gets an untimed warm-up fit and predict on a small slice of the training set (Numba
compilation and cache loading, lazy imports, allocator growth), then ``repeat`` timed fits
and predictions from fresh estimators; the record keeps the median and the minimum. Peak
memory is the child's ``ru_maxrss`` above its resident size at the fork, so it does not
depend on what ran before. Where ``fork`` is unavailable the run happens in process and
memory is sampled from ``/proc`` (``memory_method`` says which).
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import inspect
import math
import multiprocessing as mp
import os
import platform
import statistics
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import errors
from .data import Dataset, take_rows
from .errors import InputError, LeanmlError, ModelError, ParameterError
from .registry import MetricSpec, ModelSpec
from .threads import numba_pool_started, set_threads

__all__ = [
    "RunRecord",
    "check_params",
    "compare",
    "parse_params",
    "run_model",
    "solver_params",
]


def solver_params(spec: ModelSpec, solver: str) -> dict[str, Any]:
    """The parameters that make model ``spec`` use the registered solver ``solver``.

    Raises
    ------
    ParameterError
        The model does not accept that solver.
    """
    if solver not in spec.solvers:
        accepted = ", ".join(spec.solvers) or "none (it has a single built-in solver)"
        raise ParameterError(
            f"model {spec.name!r} does not use solver {solver!r}; it accepts: {accepted}"
        )
    return dict(spec.solvers[solver])


_BOOLEANS = {"true": True, "false": False}


def parse_params(items: Iterable[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings; values are Python literals (``true``/``false`` in any
    case are booleans, as a shell user writes them), else plain strings.

    Raises
    ------
    ParameterError
        For an item without ``=`` or with an empty key.
    """
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(f"bad parameter {item!r}: expected key=value, e.g. -p C=0.5")
        value = raw.strip()
        if value.lower() in _BOOLEANS:
            params[key] = _BOOLEANS[value.lower()]
            continue
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


class _PeakRSS:
    """Peak resident memory above the starting level, sampled by a background thread.

    The fallback where runs cannot be forked: reads ``/proc/self/statm`` every few
    milliseconds; reports ``None`` where that file does not exist.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.start: int | None = None
        self.peak: int | None = None
        self._stop = threading.Event()

    def __enter__(self) -> _PeakRSS:
        self.start = self.peak = _rss_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            rss = _rss_bytes()
            if rss is not None and self.peak is not None:
                self.peak = max(self.peak, rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        rss = _rss_bytes()
        if rss is not None and self.peak is not None:
            self.peak = max(self.peak, rss)

    @property
    def megabytes(self) -> float | None:
        if self.peak is None or self.start is None:
            return None
        return (self.peak - self.start) / 2**20


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _max_rss_bytes() -> int | None:
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def _high_water_bytes() -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_high_water() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux ``clear_refs`` 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return _high_water_bytes() is not None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` says."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def threads_in_effect() -> dict[str, Any]:
    """Thread counts the loaded libraries are actually using (none is imported here)."""
    out: dict[str, Any] = {"cpus": os.cpu_count()}
    if "numba" in sys.modules:
        out["numba"] = sys.modules["numba"].get_num_threads()
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].get_num_threads()
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return out
    for pool in threadpool_info():
        out[f"{pool['user_api']}:{pool['internal_api']}"] = pool["num_threads"]
    return out


@dataclass
class RunRecord:
    """What one model's run measured; written as JSON by ``leanml run`` and ``compare``.

    Times are the median over ``repeat`` timed runs after an untimed warm-up; ``*_min``
    are the fastest run.
    """

    model: str
    plugin: str
    params: dict[str, Any]
    dataset: dict[str, Any]
    metrics: dict[str, float]
    fit_seconds: float
    predict_seconds: float
    peak_memory_mb: float | None
    seed: int
    threads: dict[str, Any]
    fit_seconds_min: float = math.nan
    predict_seconds_min: float = math.nan
    repeat: int = 1
    warmup: str = ""
    memory_method: str = ""
    timestamp: str = ""
    command: list[str] = field(default_factory=list)
    cpu: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    ratios: dict[str, float | None] = field(default_factory=dict)
    dask: dict[str, Any] | None = None

    @property
    def seconds(self) -> float:
        """Median fit + predict seconds."""
        return self.fit_seconds + self.predict_seconds

    @property
    def best_seconds(self) -> float:
        """Fastest fit + predict seconds (what ratios compare: the least noisy figure)."""
        return self.fit_seconds_min + self.predict_seconds_min

    def to_dict(self) -> dict[str, Any]:
        """A strictly JSON-serialisable dict: non-finite floats become ``None``."""
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


def _versions(spec: ModelSpec) -> dict[str, str]:
    out = {"python": platform.python_version()}
    names = ["leanml-core", "numpy", "scipy", "scikit-learn", "numba", "torch"]
    from .plugins import get_plugins

    for info in get_plugins().infos:
        if info.name == spec.plugin:
            names.insert(1, info.distribution)
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return out


def _type_ok(value: Any, default: Any) -> bool:
    if default is None or value is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, str):
        # a string default is often a mode beside numbers: gamma="scale" or gamma=0.1
        return isinstance(value, (str, int, float)) and not isinstance(value, bool)
    return True


def check_params(spec: ModelSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Check ``params`` against the model's signature and its defaults' types.

    Returns the keyword arguments for the factory (spec defaults under the user's).

    Raises
    ------
    ParameterError
        An unknown parameter, or a value whose type does not match the parameter's default
        (``-p C=abc`` where ``C`` defaults to ``1.0``).
    """
    try:
        sig = inspect.signature(spec.resolve("factory"))
    except (TypeError, ValueError):
        return {**spec.defaults, **params}
    named = {
        n: p for n, p in sig.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    takes_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    unknown = sorted(set(params) - set(named)) if not takes_any else []
    if unknown:
        raise ParameterError(
            f"model {spec.name!r} does not take parameter(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(named) or 'none'}"
        )
    kwargs = {**spec.defaults, **params}
    for key, value in params.items():
        default = named[key].default if key in named else None
        default = spec.defaults.get(key, None if default is inspect.Parameter.empty else default)
        if not _type_ok(value, default):
            raise ParameterError(
                f"model {spec.name!r}: parameter {key} expects a {type(default).__name__} "
                f"(default {default!r}), got {value!r}"
            )
    return kwargs


def _build(spec: ModelSpec, params: dict[str, Any], seed: int) -> Any:
    kwargs = check_params(spec, params)
    try:
        sig = inspect.signature(spec.resolve("factory"))
        accepts_seed = "random_state" in sig.parameters or any(
            p.kind is p.VAR_KEYWORD for p in sig.parameters.values()
        )
    except (TypeError, ValueError):
        accepts_seed = False
    if accepts_seed and "random_state" not in kwargs:
        kwargs["random_state"] = seed
    return spec.resolve("factory")(**kwargs)


def _flat(y: Any) -> np.ndarray:
    if isinstance(y, np.ndarray):
        return y.ravel() if y.dtype != object else np.concatenate([np.asarray(s) for s in y])
    if len(y) and isinstance(y[0], (list, tuple, np.ndarray)):
        return np.concatenate([np.asarray(s) for s in y])
    return np.asarray(y)


def _score(metric: MetricSpec, est: Any, X_test: Any, y_true: Any, y_pred: Any, task: str) -> float:
    if metric.needs == "labels":
        if task == "sequence_labeling":
            return metric.score(_flat(y_true), _flat(y_pred))
        return metric.score(np.asarray(y_true), np.asarray(y_pred))
    if metric.needs == "proba":
        if not hasattr(est, "predict_proba"):
            raise ParameterError(
                f"metric {metric.name!r} needs predict_proba, which the model lacks"
            )
        classes = getattr(est, "classes_", None)
        y = np.asarray(y_true)
        if classes is not None:
            y = np.searchsorted(np.asarray(classes), y)
        return metric.score(y, est.predict_proba(X_test))
    method = getattr(est, "decision_function", None) or getattr(est, "predict_proba", None)
    if method is None:
        raise ParameterError(f"metric {metric.name!r} needs scores, which the model lacks")
    return metric.score(y_true, method(X_test))


def _undefined_as_nan(score: Any, metric: MetricSpec, *args: Any) -> float:
    """A metric undefined for these predictions (Pearson of a constant) is NaN, not a crash;
    records write it as ``null``."""
    try:
        return score(metric, *args)
    except InputError:
        return math.nan


def _check_compatible(spec: ModelSpec, dataset: Dataset, metrics: Sequence[MetricSpec]) -> None:
    if dataset.task not in spec.tasks:
        raise InputError(
            f"model {spec.name!r} handles {', '.join(spec.tasks)}; "
            f"dataset {dataset.name!r} is {dataset.task} (see --task)"
        )
    if dataset.kind not in spec.inputs:
        raise InputError(
            f"model {spec.name!r} takes {', '.join(spec.inputs)} input; "
            f"dataset {dataset.name!r} is {dataset.kind}"
        )
    if dataset.X_test is None or dataset.y_test is None:
        raise InputError(f"dataset {dataset.name!r} has no labelled test split")
    if spec.max_train is not None and dataset.n_train > spec.max_train:
        raise InputError(
            f"model {spec.name!r} accepts at most {spec.max_train} training rows; dataset "
            f"{dataset.name!r} has {dataset.n_train} (use --max-train to subsample)"
        )
    for metric in metrics:
        if dataset.task not in metric.tasks:
            raise ParameterError(
                f"metric {metric.name!r} applies to {', '.join(metric.tasks)}; "
                f"dataset {dataset.name!r} is {dataset.task}"
            )


#: Rows in the untimed warm-up fit (at least two of every class).
WARMUP_ROWS = 64


def _warmup_rows(dataset: Dataset) -> np.ndarray:
    n = dataset.n_train
    first = np.arange(min(n, WARMUP_ROWS))
    if dataset.task != "classification":
        return first
    y = np.asarray(dataset.y_train)
    per_class = [np.flatnonzero(y == c)[:2] for c in np.unique(y)]
    return np.unique(np.concatenate([first, *per_class]))


def _model_failure(
    spec: ModelSpec, params: dict[str, Any], stage: str, exc: Exception
) -> Exception:
    if isinstance(exc, LeanmlError):
        return exc
    # scikit-learn reports invalid hyperparameters as InvalidParameterError(ValueError)
    if type(exc).__name__ == "InvalidParameterError":
        return ParameterError(f"model {spec.name!r}: {exc}")
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "default parameters"
    first = (str(exc).strip().splitlines() or [""])[0]
    return ModelError(
        f"model {spec.name!r} ({shown}) failed in {stage}: {type(exc).__name__}: {first}",
        details="".join(traceback.format_exception(exc)),
    )


class _Worker:
    """One model's measurements: built and warmed up on creation, then timed run by run.

    Parameters
    ----------
    fork_rss
        In a forked child, its resident size at the fork: turns on the peak memory
        measurement (above the resident size after the warm-up where Linux lets the peak be
        reset, else the child's whole ``ru_maxrss`` above ``fork_rss``).
    """

    def __init__(
        self,
        spec: ModelSpec,
        dataset: Dataset,
        metrics: Sequence[MetricSpec],
        params: dict[str, Any],
        seed: int,
        threads: int | None = None,
        fork_rss: int | None = None,
        client: Any = None,
    ) -> None:
        if threads is not None:  # in a forked child: its own pools, started here
            set_threads(threads)
        self.spec, self.dataset, self.metrics = spec, dataset, metrics
        self.params, self.seed, self.fork_rss = params, seed, fork_rss
        self.client = client
        self.fits: list[float] = []
        self.predicts: list[float] = []
        self.last: tuple[Any, Any] | None = None
        with self._stage("construction"):
            _build(spec, params, seed)
        rows = _warmup_rows(dataset)
        with self._stage("the warm-up fit"):
            try:
                warm = _build(spec, params, seed)
                warm.fit(take_rows(dataset.X_train, rows), take_rows(dataset.y_train, rows))
                self._predict(warm, take_rows(dataset.X_test, np.arange(min(dataset.n_test, 64))))
                self.warmup = f"fit + predict on {len(rows)} training rows"
            except LeanmlError:
                raise
            except Exception as exc:  # a slice too small for this model: time it cold
                self.warmup = f"skipped ({type(exc).__name__} on {len(rows)} rows)"
        self.base = _rss_bytes() if fork_rss is not None and _reset_high_water() else None

    def _predict(self, est: Any, X: Any) -> Any:
        """``est.predict(X)``, partitioned on the Dask cluster when there is one."""
        if self.client is None:
            return est.predict(X)
        from .dask import partitioned

        return partitioned(est, "predict", X, self.client)

    @contextmanager
    def _stage(self, stage: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            raise _model_failure(self.spec, self.params, stage, exc) from exc

    def run_once(self) -> None:
        """One timed fit and predict of a fresh estimator."""
        self.last = None  # the previous run's model must not count in this run's peak memory
        est = _build(self.spec, self.params, self.seed)
        with self._stage("fit"):
            t0 = time.perf_counter()
            est.fit(self.dataset.X_train, self.dataset.y_train)
            t1 = time.perf_counter()
        with self._stage("predict"):
            y_pred = self._predict(est, self.dataset.X_test)
            t2 = time.perf_counter()
        self.fits.append(t1 - t0)
        self.predicts.append(t2 - t1)
        self.last = (est, y_pred)

    def finish(self) -> dict[str, Any]:
        """Scores of the last run, thread counts, peak memory."""
        assert self.last is not None, "finish() before run_once()"
        est, y_pred = self.last
        d = self.dataset
        with self._stage("scoring"):
            scores = {
                m.name: _undefined_as_nan(_score, m, est, d.X_test, d.y_test, y_pred, d.task)
                for m in self.metrics
            }
        memory, method = None, ""
        if self.base is not None:
            memory = (_high_water_bytes() or self.base) - self.base
            method = "peak RSS (VmHWM) above the RSS after the warm-up, in a forked child"
        elif self.fork_rss is not None and (peak := _max_rss_bytes()) is not None:
            memory = peak - self.fork_rss
            method = "ru_maxrss of a forked child above its RSS at the fork (imports included)"
        return {
            "fits": self.fits,
            "predicts": self.predicts,
            "metrics": scores,
            "warmup": self.warmup,
            "threads": threads_in_effect(),
            "memory": None if memory is None else memory / 2**20,
            "memory_method": method,
        }


def _child(conn: Any, args: tuple[Any, ...]) -> None:
    """A forked worker: warm up, then answer "run" and "finish" until finished."""
    try:
        worker = _Worker(*args, fork_rss=_rss_bytes())
        conn.send(("ready",))
        while conn.recv() == "run":
            worker.run_once()
            conn.send(("ran",))
        conn.send(("done", worker.finish()))
    except BaseException as exc:
        details = getattr(exc, "details", None) or "".join(traceback.format_exception(exc))
        conn.send(("error", type(exc).__name__, str(exc), details))
    finally:
        conn.close()


class _ChildRunner:
    """The parent's handle on a forked :func:`_child`."""

    def __init__(self, args: tuple[Any, ...], name: str) -> None:
        ctx = mp.get_context("fork")
        self.name = name
        self.conn, child_end = ctx.Pipe()
        self.proc = ctx.Process(target=_child, args=(child_end, args), daemon=True)
        self.proc.start()
        child_end.close()
        self._expect("ready")

    def _expect(self, what: str) -> tuple[Any, ...]:
        try:
            message = self.conn.recv()
        except EOFError:
            self.proc.join()
            raise ModelError(
                f"model {self.name!r} crashed in its worker process (exit code "
                f"{self.proc.exitcode})"
            ) from None
        if message[0] == "error":
            self.close()
            _, kind, text, details = message
            cls = getattr(errors, kind, None)
            if isinstance(cls, type) and issubclass(cls, LeanmlError) and cls is not ModelError:
                raise cls(text)
            raise ModelError(text, details=details)
        assert message[0] == what, message
        return message

    def run_once(self) -> None:
        self.conn.send("run")
        self._expect("ran")

    def finish(self) -> dict[str, Any]:
        self.conn.send("finish")
        result = self._expect("done")[1]
        self.close()
        return result

    def close(self) -> None:
        self.conn.close()
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()


class _InProcessRunner:
    """The same protocol in this process; memory sampled from ``/proc`` around each run."""

    def __init__(self, args: tuple[Any, ...], name: str, client: Any = None) -> None:
        self.worker = _Worker(*args, client=client)
        self.peak: float | None = None

    def run_once(self) -> None:
        with _PeakRSS() as mem:
            self.worker.run_once()
        if mem.megabytes is not None:
            self.peak = max(self.peak or 0.0, mem.megabytes)

    def finish(self) -> dict[str, Any]:
        result = self.worker.finish()
        result["memory"] = self.peak
        result["memory_method"] = "/proc/self/statm sampled every 5 ms, in process"
        return result

    def close(self) -> None:
        pass


def can_isolate() -> bool:
    """Whether runs can be forked into their own process here and now.

    Not where ``fork`` does not exist, and not once this process has started Numba's
    parallel thread pool (its OpenMP layer aborts a forked child that uses it) or imported
    torch (a forked child hangs in GNU OpenMP once the parent used it). The CLI forks before
    any of that happens; a script that ran kernels first gets in-process runs and a warning.
    """
    if "fork" not in mp.get_all_start_methods() or numba_pool_started():
        return False
    return "torch" not in sys.modules


def _measure_all(
    jobs: Sequence[tuple[ModelSpec, dict[str, Any]]],
    dataset: Dataset,
    metrics: Sequence[MetricSpec],
    seed: int,
    threads: int | None,
    repeat: int,
    isolate: bool,
    progress: Any,
    client: Any = None,
) -> list[dict[str, Any]]:
    """Warm every model up, then time them in interleaved rounds.

    Round ``r`` runs model 1, model 2, ... once each, one at a time, so a burst of load on a
    shared machine falls on every model alike instead of on whichever ran during it.
    """
    runners: list[Any] = []
    try:
        for spec, params in jobs:
            args = (spec, dataset, metrics, params, seed, threads)
            if isolate:
                runners.append(_ChildRunner(args, spec.name))
            else:
                runners.append(_InProcessRunner(args, spec.name, client))
        for _ in progress(range(repeat), f"timing on {dataset.name}"):
            for runner in runners:
                runner.run_once()
        return [runner.finish() for runner in runners]
    finally:
        for runner in runners:
            runner.close()


def _record(
    spec: ModelSpec,
    params: dict[str, Any],
    dataset: Dataset,
    result: dict[str, Any],
    seed: int,
    threads: int | None,
    repeat: int,
    command: Sequence[str] | None,
) -> RunRecord:
    return RunRecord(
        model=spec.name,
        plugin=spec.plugin,
        params=params,
        dataset=dataset.summary(),
        metrics=result["metrics"],
        fit_seconds=statistics.median(result["fits"]),
        predict_seconds=statistics.median(result["predicts"]),
        fit_seconds_min=min(result["fits"]),
        predict_seconds_min=min(result["predicts"]),
        repeat=repeat,
        warmup=result["warmup"],
        peak_memory_mb=result["memory"],
        memory_method=result["memory_method"],
        seed=seed,
        threads={"requested": threads, **result["threads"]},
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        command=list(sys.argv if command is None else command),
        cpu=cpu_model(),
        versions=_versions(spec),
    )


def run_model(
    spec: ModelSpec,
    dataset: Dataset,
    metrics: Sequence[MetricSpec],
    params: dict[str, Any] | None = None,
    seed: int = 0,
    threads: int | None = None,
    repeat: int = 1,
    isolate: bool | None = None,
    command: Sequence[str] | None = None,
    client: Any = None,
) -> RunRecord:
    """Fit ``spec`` on the train split, predict the test split, score and time it.

    Parameters
    ----------
    spec, dataset, metrics
        What to run, on what, scored how.
    params
        Hyperparameters (checked by :func:`check_params`).
    seed
        Passed as ``random_state`` where the model takes one.
    threads
        Cap every thread pool of the run at this many threads (recorded beside the counts
        actually in effect); ``None`` leaves the libraries' defaults.
    repeat
        Timed fits and predictions; the record holds their median and minimum.
    isolate
        Run in a forked child process (default: where ``fork`` exists).
    command
        The command line to record (default ``sys.argv``).
    client
        A ``distributed.Client``: predictions run partitioned on its cluster
        (:func:`leanml.core.dask.partitioned`), the fit in this process; the run is then not
        forked (a child of a process with a cluster connection is not safe to fork).

    Raises
    ------
    InputError
        The model does not take this data set's task or input kind, or it has no test split.
    ParameterError
        Unknown or invalid hyperparameters, or a metric for another task.
    ModelError
        The model raised while being built, fitted or used.
    """
    return compare(
        [spec],
        dataset,
        metrics,
        {spec.name: params or {}},
        seed,
        threads,
        None,
        repeat,
        isolate,
        command,
        client,
    )[0]


def compare(
    specs: Sequence[ModelSpec],
    dataset: Dataset,
    metrics: Sequence[MetricSpec],
    params: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
    threads: int | None = None,
    progress: Any = None,
    repeat: int = 1,
    isolate: bool | None = None,
    command: Sequence[str] | None = None,
    client: Any = None,
) -> list[RunRecord]:
    """Run every model on the same split; ratios are to the first model's figures.

    Every model is warmed up in its own process, then the models are timed in ``repeat``
    interleaved rounds (see the module docstring). ``ratios`` holds ``time`` (the fastest
    fit + predict over the first model's fastest: on a shared machine the minimum is the
    most repeatable figure; the median is recorded beside it) and, for each metric, the
    value over the first model's value (``None`` where undefined). ``params`` is keyed by
    model name; ``progress(iterable, description)`` wraps the timing rounds. ``client``: as
    in :func:`run_model`.
    """
    params = params or {}
    if repeat < 1:
        raise ParameterError(f"repeat must be >= 1, got {repeat}")
    jobs = []
    for spec in specs:  # refuse a bad pairing before spending time on the others
        _check_compatible(spec, dataset, metrics)
        check_params(spec, params.get(spec.name, {}))
        jobs.append((spec, dict(params.get(spec.name, {}))))
    if client is not None:
        if isolate:
            raise ParameterError("runs on a Dask cluster are not forked: pass isolate=False")
        isolate = False
    if isolate is None:
        isolate = can_isolate()
        if not isolate:
            warnings.warn(
                "this process already started Numba's or torch's thread pools, which a forked "
                "child cannot use: models run in this process, one after another, so later "
                "ones may benefit from what earlier ones loaded (see memory_method)",
                RuntimeWarning,
                stacklevel=2,
            )
    wrap = progress or (lambda it, _desc: it)
    results = _measure_all(jobs, dataset, metrics, seed, threads, repeat, isolate, wrap, client)
    records = [
        _record(spec, p, dataset, result, seed, threads, repeat, command)
        for (spec, p), result in zip(jobs, results, strict=True)
    ]
    if client is not None:
        from .dask import describe

        cluster = {**describe(client), "runs": "fit in this process, predict partitioned"}
        for rec in records:
            rec.dask = cluster
    base = records[0]
    for rec in records:
        best = base.best_seconds
        rec.ratios["time"] = rec.best_seconds / best if best > 0 else None
        for name, value in rec.metrics.items():
            ref = base.metrics[name]
            rec.ratios[name] = value / ref if ref else None
    return records


def plot_quality_time(records: Sequence[RunRecord], metric: str, path: Path) -> Path:
    """Save a quality-versus-time scatter of ``records`` to ``path`` (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ParameterError("--plot needs matplotlib: pip install 'leanml-core[plot]'") from None
    fig, ax = plt.subplots(figsize=(6, 4))
    for rec in records:
        t = rec.seconds
        ax.scatter([t], [rec.metrics[metric]])
        ax.annotate(rec.model, (t, rec.metrics[metric]), textcoords="offset points", xytext=(4, 4))
    ax.set_xscale("log")
    ax.set_xlabel("fit + predict seconds (log)")
    ax.set_ylabel(metric)
    ax.set_title(f"{records[0].dataset['name']}: {metric} vs time")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
