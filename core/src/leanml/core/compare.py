"""Fit, evaluate and time registered models on registered data sets, in one process.

:func:`run_model` produces one :class:`RunRecord`; :func:`compare` runs several models on
the same split and adds ratios to the first model, every time measured in this process.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import inspect
import platform
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .data import Dataset
from .errors import InputError, LeanmlError, ParameterError
from .registry import MetricSpec, ModelSpec

__all__ = [
    "RunRecord",
    "compare",
    "default_metrics",
    "parse_params",
    "run_model",
    "solver_params",
]

#: Metrics scored when the user names none, by task.
DEFAULT_METRICS = {
    "classification": ("accuracy", "macro_f1"),
    "sequence_labeling": ("accuracy", "macro_f1"),
    "regression": ("rmse", "pearson"),
    "similarity": ("pearson", "spearman"),
    "retrieval": ("recall_at_k",),
}


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


def default_metrics(task: str) -> tuple[str, ...]:
    """Metric names scored by default for ``task``."""
    return DEFAULT_METRICS.get(task, ())


def parse_params(items: Iterable[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings; values are Python literals, else plain strings.

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
        try:
            params[key] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            params[key] = raw.strip()
    return params


class _PeakRSS:
    """Peak resident memory above the starting level, sampled by a background thread.

    Reads ``/proc/self/statm`` every few milliseconds (no allocation tracing, so the timed
    code runs at full speed); reports ``None`` where that file does not exist.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak: int | None = None
        self._stop = threading.Event()
        self._page = 4096
        try:
            import resource

            self._page = resource.getpagesize()
        except ImportError:  # not on POSIX
            pass

    def _rss(self) -> int | None:
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * self._page
        except OSError:
            return None

    def __enter__(self) -> _PeakRSS:
        self.start = self._rss()
        self.peak = self.start
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            rss = self._rss()
            if rss is not None and self.peak is not None:
                self.peak = max(self.peak, rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        rss = self._rss()
        if rss is not None and self.peak is not None:
            self.peak = max(self.peak, rss)

    @property
    def megabytes(self) -> float | None:
        if self.peak is None or self.start is None:
            return None
        return (self.peak - self.start) / 2**20


@dataclass
class RunRecord:
    """What one ``leanml run`` measured; written as JSON."""

    model: str
    plugin: str
    params: dict[str, Any]
    dataset: dict[str, Any]
    metrics: dict[str, float]
    fit_seconds: float
    predict_seconds: float
    peak_memory_mb: float | None
    seed: int
    threads: int | None
    versions: dict[str, str] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (non-literal params are shown with ``repr``)."""
        out = asdict(self)
        out["params"] = {k: _jsonable(v) for k, v in self.params.items()}
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
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


def _build(spec: ModelSpec, params: dict[str, Any], seed: int) -> Any:
    try:
        sig = inspect.signature(spec.resolve("factory"))
    except (TypeError, ValueError):
        sig = None
    accepts_seed = sig is not None and (
        "random_state" in sig.parameters
        or any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    )
    kwargs = {**spec.defaults, **params}
    if accepts_seed and "random_state" not in kwargs:
        kwargs["random_state"] = seed
    if sig is not None:
        try:
            sig.bind(**kwargs)
        except TypeError:
            allowed = [p for p in sig.parameters if p != "self"]
            unknown = sorted(set(params) - set(allowed))
            raise ParameterError(
                f"model {spec.name!r} does not take parameter(s) {', '.join(unknown)}; "
                f"it takes: {', '.join(allowed) or 'none'}"
            ) from None
    return spec.create(**kwargs)


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


def run_model(
    spec: ModelSpec,
    dataset: Dataset,
    metrics: Sequence[MetricSpec],
    params: dict[str, Any] | None = None,
    seed: int = 0,
    threads: int | None = None,
) -> RunRecord:
    """Fit ``spec`` on the train split, predict the test split, score and time it.

    Raises
    ------
    InputError
        The model does not take this data set's task or input kind, or it has no test split.
    ParameterError
        Unknown or invalid hyperparameters.
    """
    params = dict(params or {})
    if dataset.task not in spec.tasks:
        raise InputError(
            f"model {spec.name!r} handles {', '.join(spec.tasks)}; "
            f"dataset {dataset.name!r} is {dataset.task}"
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
    est = _build(spec, params, seed)
    try:
        with _PeakRSS() as mem:
            t0 = time.perf_counter()
            est.fit(dataset.X_train, dataset.y_train)
            t1 = time.perf_counter()
            y_pred = est.predict(dataset.X_test)
            t2 = time.perf_counter()
    except LeanmlError:
        raise
    except ValueError as exc:
        # scikit-learn reports invalid hyperparameters as InvalidParameterError(ValueError)
        if type(exc).__name__ == "InvalidParameterError":
            raise ParameterError(f"model {spec.name!r}: {exc}") from exc
        raise
    scores = {
        m.name: _score(m, est, dataset.X_test, dataset.y_test, y_pred, dataset.task)
        for m in metrics
    }
    return RunRecord(
        model=spec.name,
        plugin=spec.plugin,
        params=params,
        dataset=dataset.summary(),
        metrics=scores,
        fit_seconds=t1 - t0,
        predict_seconds=t2 - t1,
        peak_memory_mb=mem.megabytes,
        seed=seed,
        threads=threads,
        versions=_versions(spec),
    )


def compare(
    specs: Sequence[ModelSpec],
    dataset: Dataset,
    metrics: Sequence[MetricSpec],
    params: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
    threads: int | None = None,
    progress: Any = None,
) -> list[RunRecord]:
    """Run every model on the same split; ratios are to the first model's figures.

    ``ratios`` holds ``time`` (fit + predict seconds over the first model's) and, for each
    metric, the value over the first model's value.
    """
    params = params or {}
    wrap = progress or (lambda it, _desc: it)
    records = [
        run_model(s, dataset, metrics, params.get(s.name, {}), seed, threads)
        for s in wrap(specs, f"comparing on {dataset.name}")
    ]
    base = records[0]
    base_time = base.fit_seconds + base.predict_seconds
    for rec in records:
        total = rec.fit_seconds + rec.predict_seconds
        rec.ratios["time"] = total / base_time if base_time > 0 else float("nan")
        for name, value in rec.metrics.items():
            ref = base.metrics[name]
            rec.ratios[name] = value / ref if ref else float("nan")
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
        t = rec.fit_seconds + rec.predict_seconds
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
