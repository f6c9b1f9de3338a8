"""Dask scale-out, measured honestly on one small machine: overhead, throughput, memory bound.

Run (needs ``leanml-core[dask]`` and ``leanml-rbf-features``)::

    python core/benchmarks/dask_scaleout.py            # the README's figures
    python core/benchmarks/dask_scaleout.py --smoke    # seconds, for CI

The workload is the public inference path of a fitted ``RBClassifier`` (Random Binning
features + linear SVM, 64 grids) on 8-dimensional rows, through
:func:`leanml.core.dask.partitioned`. Three measurements, each printed with the 1-minute
load average (the machine is shared; ratios, not absolute times, are the claim):

1. Overhead: ``clf.predict(X)`` in this process (1 thread) against the same call partitioned
   on a 1-worker and a 2-worker loopback cluster (1 thread each), X in the client's memory
   (scattered to the workers, results gathered: the whole cost a user pays). Best of 3.
2. Throughput with 1 and 2 workers on rows generated on the workers (``dask.array.random``),
   predictions reduced there (a count), so nothing but counts reaches the client.
3. Memory bound: a data set larger than one worker's memory limit (``--big-rows`` x 8
   float64), processed in partitions of ``--chunk`` rows; each worker's peak RSS
   (``VmHWM``, reset after a warm-up) against its limit and against the data size.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from leanml.core.dask import dask_client, partitioned, send_model
from leanml.core.threads import thread_limits

D = 8


def _load() -> str:
    return open("/proc/loadavg").read().split()[0]


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ``ru_maxrss`` would include the parent's before exec)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _reset_peak() -> float:
    """Reset VmHWM to the current RSS (Linux >= 4.0); return the new value."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _peak_rss_mb()


def _count_positive(pred: np.ndarray) -> int:
    return int((pred > 0).sum())


def _fitted(seed: int = 0):
    from leanml.rbf_features import RBClassifier

    rng = np.random.default_rng(seed)
    X = rng.random((5000, D))
    y = np.where(np.abs(X - 0.5).sum(axis=1) < 1.9, 1, -1)
    return RBClassifier(n_grids=64, sigma=1.0, random_state=0).fit(X, y)


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def overhead(clf, n: int) -> None:
    X = np.random.default_rng(1).random((n, D))
    with thread_limits(1):
        ref = clf.predict(X)
        single = _best(lambda: clf.predict(X))
    print(f"[overhead] {n:,} rows in memory; in process (1 thread): {single:.3f} s  load {_load()}")
    for workers in (1, 2):
        with dask_client(f"local:{workers}") as client:
            model = send_model(clf, client)
            got = partitioned(model, "predict", X, client)
            assert np.array_equal(got, ref)
            t = _best(lambda c=client, m=model: partitioned(m, "predict", X, c))
        print(
            f"[overhead] local:{workers}: {t:.3f} s = {t / single:.2f}x the single process"
            f"  load {_load()}"
        )


def _stream(clf, client, n: int, chunk: int) -> tuple[int, float]:
    import dask.array as da

    X = da.random.default_rng(2).random((n, D), chunks=(chunk, D))
    model = send_model(clf, client)
    t0 = time.perf_counter()
    futures = partitioned(model, "predict", X, client, gather=False)
    counts = client.map(_count_positive, futures)
    del futures  # each partition's predictions are freed once counted
    total = sum(client.gather(counts))
    return total, time.perf_counter() - t0


def throughput(clf, n: int, chunk: int) -> None:
    rates = {}
    for workers in (1, 2):
        with dask_client(f"local:{workers}") as client:
            _stream(clf, client, chunk * 2, chunk)  # workers import and load kernels
            _, seconds = _stream(clf, client, n, chunk)
        rates[workers] = n / seconds
        print(
            f"[throughput] local:{workers}: {n:,} rows generated on the workers in "
            f"{seconds:.2f} s = {rates[workers]:,.0f} rows/s  load {_load()}"
        )
    print(f"[throughput] 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")


def memory_bound(clf, n: int, chunk: int, limit_mb: int) -> None:
    data_mb = n * D * 8 / 2**20
    with dask_client("local:2", memory_limit=f"{limit_mb}MiB") as client:
        _stream(clf, client, chunk * 2, chunk)
        before = client.run(_reset_peak)
        positives, seconds = _stream(clf, client, n, chunk)
        after = client.run(_peak_rss_mb)
    print(
        f"[memory] {n:,} rows x {D} float64 = {data_mb:,.0f} MiB of data, partitions of "
        f"{chunk:,} rows ({chunk * D * 8 / 2**20:.1f} MiB), 2 workers limited to {limit_mb} MiB"
        f" each; {seconds:.1f} s, {positives:,} positive  load {_load()}"
    )
    for (w, a), b in zip(sorted(after.items()), (before[w] for w in sorted(after)), strict=True):
        print(f"[memory]   worker {w}: peak RSS {a:,.0f} MiB (RSS after warm-up {b:,.0f} MiB)")
    worst = max(after.values())
    assert worst < limit_mb < data_mb, (worst, limit_mb, data_mb)
    print(
        f"[memory] worst worker peak {worst:,.0f} MiB < limit {limit_mb} MiB < data {data_mb:,.0f}"
        " MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--only", choices=["overhead", "throughput", "memory"], help="one part")
    parser.add_argument("--rows", type=int, default=400_000, help="rows for overhead")
    parser.add_argument("--stream-rows", type=int, default=4_000_000, help="rows for throughput")
    parser.add_argument("--big-rows", type=int, default=12_000_000, help="rows, memory bound")
    parser.add_argument("--chunk", type=int, default=100_000, help="rows per partition")
    parser.add_argument("--limit-mb", type=int, default=512, help="worker memory limit")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.stream_rows, args.big_rows, args.chunk = 20_000, 100_000, 200_000, 20_000
        args.limit_mb = 1024
    clf = _fitted()
    if args.only in (None, "overhead"):
        overhead(clf, args.rows)
    if args.only in (None, "throughput"):
        throughput(clf, args.stream_rows, args.chunk)
    # the smoke sizes fit any limit: only the full run shows the bound
    if args.only == "memory" or (args.only is None and not args.smoke):
        memory_bound(clf, args.big_rows, args.chunk, args.limit_mb)


if __name__ == "__main__":
    main()
