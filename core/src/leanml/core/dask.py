"""Scale-out on Dask: run a fitted estimator over partitions of data on a cluster.

Install with ``pip install "leanml-core[dask]"`` (``dask``, ``distributed``, ``dask-ml``).
Nothing here schedules work itself: Dask's distributed scheduler does, with its retries
when a worker dies. What this module adds is small:

- :func:`dask_client` connects to a scheduler address or starts a loopback
  ``LocalCluster`` (``"local:N"``, N single-threaded process workers), and closes it.
- :func:`send_model` puts a fitted estimator on every worker once (``scatter`` with
  ``broadcast``), so tasks refer to it by key instead of each carrying a pickled copy. A
  model holding a large table should pickle small itself (WME pickles a named embedding
  table as its name and SHA-256, loaded once per worker process from the
  checksum-verified cache).
- :func:`partitioned` calls one method of that estimator on each partition of the rows
  (a NumPy array, a CSR matrix or a list of documents or sequences split on the client, a
  ``dask.array`` or a ``dask.bag`` already partitioned on the cluster) and puts the
  pieces back in order. Estimators taking arrays can equally go through dask-ml's
  ``ParallelPostFit`` (:func:`parallel_post_fit`); estimators taking lists of documents or
  sequences (WME, the CRF) need this adapter, since ``ParallelPostFit`` expects arrays.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import ParameterError

__all__ = [
    "dask_client",
    "describe",
    "parallel_post_fit",
    "parse_scheduler",
    "partitioned",
    "send_model",
]

#: Seconds to wait for a scheduler or for workers to come up.
CONNECT_TIMEOUT = 30


def _require() -> None:
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise ParameterError(
            "Dask is not installed; install the extra: pip install 'leanml-core[dask]'"
        ) from None


def parse_scheduler(scheduler: str) -> tuple[str, int | None]:
    """Split a ``--dask`` value into ``("local", N)`` or ``(address, None)``.

    Parameters
    ----------
    scheduler
        ``"local:N"`` for a loopback cluster of N process workers, or a scheduler address
        such as ``"tcp://10.0.0.5:8786"``.

    Raises
    ------
    ParameterError
        ``local:`` with anything but a positive integer, or an empty value.
    """
    text = scheduler.strip()
    if not text:
        raise ParameterError("--dask needs a scheduler address or local:N")
    if text.startswith("local"):
        _, _, count = text.partition(":")
        if not count.isdigit() or int(count) < 1:
            raise ParameterError(f"--dask {scheduler!r}: write local:N with N >= 1 workers")
        return "local", int(count)
    return text, None


@contextmanager
def dask_client(
    scheduler: str,
    memory_limit: str | int | None = "auto",
    timeout: float = CONNECT_TIMEOUT,
) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler``, closed (with its local cluster) on exit.

    Parameters
    ----------
    scheduler
        ``"local:N"``: a ``LocalCluster`` of N worker processes, one thread each, listening
        on 127.0.0.1 only (scheduler, workers and HTTP endpoints). Otherwise the address of
        a running scheduler (``dask scheduler`` / ``dask worker ADDRESS`` on the machines,
        or any Dask deployment: Kubernetes, SLURM via dask-jobqueue, ...).
    memory_limit
        Per-worker memory limit of a local cluster (Dask's ``"auto"`` splits the machine's
        memory evenly); ignored for an address, where the workers were started with theirs.
    timeout
        Seconds to wait for the scheduler and the workers.
    """
    _require()
    from distributed import Client, LocalCluster

    address, n_workers = parse_scheduler(scheduler)
    if n_workers is None:
        try:
            client = Client(address, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ParameterError(
                f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s ({exc})"
            ) from None
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # its HTTP endpoints on a free loopback port
            memory_limit=memory_limit,
        ) as cluster,
        Client(cluster, timeout=timeout) as client,
    ):
        client.wait_for_workers(n_workers, timeout=timeout)
        yield client


def describe(client: Any) -> dict[str, Any]:
    """What a run record keeps about the cluster: address, workers, threads, memory."""
    import dask
    import distributed

    workers = client.scheduler_info(n_workers=-1)["workers"]
    return {
        "scheduler": client.scheduler.address,
        "n_workers": len(workers),
        "threads": sum(w["nthreads"] for w in workers.values()),
        "memory_limit_mb": sorted(round(w["memory_limit"] / 2**20) for w in workers.values()),
        "dask": dask.__version__,
        "distributed": distributed.__version__,
    }


def send_model(estimator: Any, client: Any) -> Any:
    """Put ``estimator`` on every worker, once.

    Returns the ``Future`` tasks take in its place. ``broadcast`` keeps a replica on each
    worker, so losing one worker does not lose the model; a replacement worker copies it
    from a peer when it first needs it.
    """
    return client.scatter(estimator, broadcast=True, hash=False)


def parallel_post_fit(estimator: Any) -> Any:
    """dask-ml's ``ParallelPostFit`` around a fitted array estimator.

    Its ``predict``/``transform``/``decision_function`` of a ``dask.array`` run block by
    block on the cluster (the estimator is embedded in each task's spec, so use it for
    estimators of a few MB at most; :func:`partitioned` ships the model once per worker).
    """
    _require()
    from dask_ml.wrappers import ParallelPostFit

    return ParallelPostFit(estimator)


def _length(part: Any) -> int:
    return part.shape[0] if hasattr(part, "shape") else len(part)


def _apply(model: Any, method: str, part: Any) -> Any:
    """One partition: ``model.method(part)``; ``None`` for an empty partition."""
    if _length(part) == 0:
        return None
    return getattr(model, method)(part if hasattr(part, "shape") else list(part))


def _split(X: Any, n_partitions: int) -> list[Any]:
    n = _length(X)
    if n == 0:
        raise ParameterError("no rows to process")
    bounds = np.linspace(0, n, min(n_partitions, n) + 1).round().astype(int)
    return [X[a:b] for a, b in itertools.pairwise(bounds)]


def _partitions(X: Any, client: Any, n_partitions: int | None) -> list[Any]:
    """X as a list of per-partition objects a task can take (Delayed or Future)."""
    import dask.array as da
    import dask.bag as db
    from dask.delayed import Delayed

    if isinstance(X, list) and X and all(isinstance(p, Delayed) for p in X):
        return X
    if isinstance(X, db.Bag):
        return list(X.to_delayed())
    if isinstance(X, da.Array):
        if X.ndim != 2:
            raise ParameterError(f"a dask array input must be 2-D, got {X.ndim}-D")
        return list(X.rechunk({1: -1}).to_delayed().ravel())
    if n_partitions is None:
        threads = sum(client.nthreads().values())
        n_partitions = 2 * max(1, threads)
    if n_partitions < 1:
        raise ParameterError(f"n_partitions must be >= 1, got {n_partitions}")
    if not (hasattr(X, "shape") or isinstance(X, Sequence)):
        X = list(X)
    return client.scatter(_split(X, n_partitions), hash=False)


def _combine(pieces: Sequence[Any]) -> Any:
    """Put per-partition results back together in row order."""
    kept = [p for p in pieces if p is not None]
    if not kept:
        raise ParameterError("no rows to process")
    first = kept[0]
    if sp.issparse(first):
        return sp.vstack(kept, format="csr")
    if isinstance(first, np.ndarray):
        return np.concatenate(kept, axis=0)
    if isinstance(first, list):
        return [item for piece in kept for item in piece]
    raise TypeError(f"cannot put {type(first).__name__} results of partitions back together")


def partitioned(
    estimator: Any,
    method: str,
    X: Any,
    client: Any,
    n_partitions: int | None = None,
    gather: bool = True,
    timeout: float | None = None,
) -> Any:
    """``estimator.method(X)``, computed partition by partition on a Dask cluster.

    Parameters
    ----------
    estimator
        A fitted estimator, or the ``Future`` :func:`send_model` returned for it (pass that
        when calling several times: the model then travels once in all).
    method
        ``"predict"``, ``"transform"``, ``"decision_function"``, ... any method mapping rows
        to rows (one output row, document or sequence per input one).
    X
        A NumPy array, CSR matrix or list (documents, token sequences): split on the client
        into ``n_partitions`` contiguous slices and scattered; or a ``dask.array`` (row
        blocks), a ``dask.bag`` (its partitions) or a list of ``dask.delayed`` objects (each
        computing one partition: array, CSR matrix or list), whose data never pass through
        the client.
    client
        A ``distributed.Client`` (see :func:`dask_client`).
    n_partitions
        For in-memory X; default twice the cluster's threads.
    gather
        ``True``: the combined result (array, CSR matrix or list, as the single-process call
        returns). ``False``: one ``Future`` per partition, left on the workers (for results
        larger than the client's memory: reduce or write them out there).
    timeout
        Seconds to wait for the result (``None``: no limit).

    Returns
    -------
    The result of ``estimator.method(X)``, equal to the single-process call's, or the list
    of per-partition futures (``None`` results for empty partitions).
    """
    _require()
    from dask import delayed
    from distributed import Future, wait

    if not isinstance(method, str) or method.startswith("_"):
        raise ParameterError(f"method must be a public method name, got {method!r}")
    model = estimator if isinstance(estimator, Future) else None
    if model is None:
        if not callable(getattr(estimator, method, None)):
            raise ParameterError(f"{type(estimator).__name__} has no method {method!r}")
        model = send_model(estimator, client)
    parts = _partitions(X, client, n_partitions)
    tasks = [delayed(_apply, pure=True)(model, method, part) for part in parts]
    futures = client.compute(tasks)
    if not gather:
        return futures
    wait(futures, timeout=timeout)
    return _combine(client.gather(futures))
