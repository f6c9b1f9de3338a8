"""What every plugin's tests and benchmarks share: a model conformance check, benchmark
fixtures, and timing/report helpers.

- :func:`check_model` runs the same checks on every registered model; each plugin's test
  suite calls it for all its models (a test parametrised over its ``ModelSpec`` names).
- A plugin's ``benchmarks/conftest.py`` imports the fixtures::

    from leanml.core.testing import bench_out, bench_size, fixed_threads  # noqa: F401

``LEANML_BENCH`` chooses ``smoke`` (CI: tiny sizes, checks that each benchmark runs) or
``full`` (the default: the sizes behind the README tables). ``LEANML_BENCH_THREADS`` (default
2) caps BLAS/OpenMP, Numba and Torch for the whole session, so each run states its threads.
``LEANML_BENCH_OUT`` is where :func:`report` tables go (default: a pytest temporary
directory, never the source tree).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .data import Dataset
from .errors import InputError
from .registry import ModelSpec
from .threads import thread_limits

__all__ = [
    "BENCH_SIZES",
    "bench_out",
    "bench_size",
    "bench_threads",
    "best_of",
    "check_model",
    "fixed_threads",
    "report",
    "toy_dataset",
]

BENCH_SIZES = ("smoke", "full")


def bench_threads() -> int:
    """Threads for benchmarks: ``LEANML_BENCH_THREADS`` (default 2)."""
    raw = os.environ.get("LEANML_BENCH_THREADS", "2")
    if not raw.isdigit() or int(raw) < 1:
        raise pytest.UsageError(f"LEANML_BENCH_THREADS must be an integer >= 1, got {raw!r}")
    return int(raw)


@pytest.fixture(scope="session")
def bench_size() -> str:
    """``"smoke"`` or ``"full"``, from ``LEANML_BENCH``."""
    size = os.environ.get("LEANML_BENCH", "full")
    if size not in BENCH_SIZES:
        raise pytest.UsageError(f"LEANML_BENCH must be one of {BENCH_SIZES}, got {size!r}")
    return size


@pytest.fixture(scope="session")
def bench_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory for benchmark tables: ``LEANML_BENCH_OUT``, else a pytest temporary one."""
    env = os.environ.get("LEANML_BENCH_OUT")
    return Path(env) if env else tmp_path_factory.mktemp("bench-results")


@pytest.fixture(scope="session", autouse=True)
def fixed_threads() -> Iterator[int]:
    """Every thread pool capped at :func:`bench_threads` for the session; yields the count."""
    with thread_limits(bench_threads()) as n:
        yield n


def best_of(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    """``(fastest wall seconds over repeats, last result)`` of calling ``fn()``."""
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def report(name: str, rows: Sequence[Mapping[str, Any]], out: Path) -> Path:
    """Print benchmark ``rows`` (run pytest with ``-s``) and save them to ``out/name.json``."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(list(rows), indent=2, default=float) + "\n")
    print(f"\n{name}")
    for row in rows:
        cells = (f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
        print("  " + ", ".join(cells))
    return path


def toy_dataset(task: str = "classification", n: int = 120, d: int = 6, seed: int = 0) -> Dataset:
    """Small, well-separated dense data for :func:`check_model` (3 classes, or a regression)."""
    rng = np.random.default_rng(seed)
    if task == "classification":
        y = np.arange(n) % 3
        X = rng.standard_normal((n, d)) + 3.0 * np.eye(3, d)[y]
    elif task == "regression":
        X = rng.standard_normal((n, d))
        y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    else:
        raise ValueError(f"toy_dataset has no {task!r} data; pass your own to check_model")
    return Dataset.from_arrays("toy", X, y, task=task, source="generated", licence="-", seed=seed)


def _holds_estimator(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_holds_estimator(v) for v in value)
    return hasattr(value, "get_params")


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters that are values, not estimators (a clone holds new estimator objects)."""
    return {k: v for k, v in params.items() if not _holds_estimator(v)}


def _bad_inputs(data: Dataset) -> list[tuple[str, Any, Any]]:
    X, y = data.X_train, data.y_train
    cases = [("X and y of different lengths", X, y[: len(y) // 2])]
    if isinstance(X, np.ndarray) and X.dtype.kind == "f":
        nan = X.copy()
        nan[0, 0] = np.nan
        cases.append(("a NaN in X", nan, y))
        cases.append(("an empty X", X[:0], y[:0]))
    return cases


def check_model(
    spec: ModelSpec, data: Dataset | None = None, params: Mapping[str, Any] | None = None
) -> None:
    """The checks every registered model passes (call it from a plugin's tests).

    1. The factory builds an estimator; ``get_params``/``set_params`` round-trip and
       ``sklearn.base.clone`` keeps the parameters (where the estimator has them).
    2. ``fit`` then ``predict`` returns one prediction per test row.
    3. The same ``random_state`` gives the same predictions.
    4. ``fit`` on bad input (lengths that differ, NaN, no rows) raises
       :class:`~leanml.core.InputError`; peers (``peer-*``, third-party code) may raise any
       ``ValueError``.
    5. For scikit-learn estimators, a subset of ``sklearn.utils.estimator_checks``:
       parameter invariance under ``get_params``, ``set_params``, and ``fit`` not
       overwriting constructor parameters.

    Parameters
    ----------
    spec
        The registered model.
    data
        Data of the model's task and input kind; default :func:`toy_dataset` of its first
        task (dense inputs only).
    params
        Hyperparameters for a small, quick configuration.
    """
    data = data if data is not None else toy_dataset(spec.tasks[0])
    params = {**dict(params or {}), "random_state": 0}
    try:
        est = spec.create(**params)
    except TypeError:  # a model without random_state
        params.pop("random_state")
        est = spec.create(**params)
    name = spec.name

    if hasattr(est, "get_params"):
        got = est.get_params()
        assert all(got[k] == v for k, v in params.items() if k in got), f"{name}: get_params"
        assert est.set_params(**got) is est, f"{name}: set_params must return self"
    try:
        from sklearn.base import BaseEstimator, clone
    except ImportError:
        BaseEstimator = None
    if BaseEstimator is not None and isinstance(est, BaseEstimator):
        from sklearn.utils import estimator_checks as ec

        assert _plain(clone(est).get_params()) == _plain(est.get_params()), f"{name}: clone"
        ec.check_get_params_invariance(name, spec.create(**params))
        ec.check_set_params(name, spec.create(**params))

    first = spec.create(**params).fit(data.X_train, data.y_train)
    assert first is not None, f"{name}: fit must return self"
    pred = first.predict(data.X_test)
    assert len(pred) == data.n_test, f"{name}: {len(pred)} predictions for {data.n_test} rows"
    again = spec.create(**params).fit(data.X_train, data.y_train).predict(data.X_test)
    same = len(again) == len(pred) and all(
        np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(pred, again, strict=True)
    )  # row by row: sequence labellers return one array per sequence
    assert same, f"{name}: the same random_state gave different predictions"

    if BaseEstimator is not None and isinstance(est, BaseEstimator):
        fresh = spec.create(**params)
        before = fresh.get_params()
        fresh.fit(data.X_train, data.y_train)
        after = _plain(fresh.get_params())
        assert after == _plain(before), f"{name}: fit changed constructor parameters"

    allowed: type[Exception] | tuple[type[Exception], ...]
    allowed = ValueError if name.startswith("peer-") else InputError
    for what, X, y in _bad_inputs(data):
        try:
            spec.create(**params).fit(X, y)
        except allowed:
            continue
        except Exception as exc:
            raise AssertionError(
                f"{name}: fit on {what} raised {type(exc).__name__}, not {allowed}"
            ) from exc
        raise AssertionError(f"{name}: fit on {what} did not raise")
