"""Resumable kNN-WMD: ``kneighbors`` in chunks of queries, each chunk saved to a checkpoint.

kNN-WMD on 1,000 20 Newsgroups documents runs for the better part of an hour on two cores;
an interrupted run (killed session, preempted machine) continues from the last saved chunk
instead of starting over. The checkpoint is an ``.npz`` file replaced atomically after each
chunk, keyed by a fingerprint of the model and the queries so that a different run never
resumes from it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from leanml.core import InputError

from .estimators import KNNWMD

__all__ = ["kneighbors_checkpointed"]


def _fingerprint(knn: KNNWMD, X: Sequence[Any]) -> str:
    """SHA-256 of what determines the result: k, pruning, solver, training and query data."""
    h = hashlib.sha256()
    h.update(repr((knn.n_neighbors, knn.prune, knn.solver, len(X))).encode())
    for arr in (knn.train_.indptr, knn.train_.rows, knn.train_.counts):
        h.update(np.ascontiguousarray(arr).tobytes())
    for x in X:
        h.update(repr(x).encode())
        h.update(b"\0")
    return h.hexdigest()


def kneighbors_checkpointed(
    knn: KNNWMD,
    X: Sequence[Any],
    path: str | os.PathLike[str],
    chunk: int = 16,
    log: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``knn.kneighbors(X)``, computed ``chunk`` queries at a time and saved after each chunk.

    Parameters
    ----------
    knn
        A fitted :class:`~leanml.wme.KNNWMD`.
    X
        The query documents (a sequence: its order is the result's order).
    path
        The checkpoint (``.npz``). If it exists and belongs to this model and these queries,
        the queries it holds are not recomputed.
    chunk
        Queries per ``kneighbors`` call (and per save).
    log
        Called with a one-line progress message after each chunk.

    Returns
    -------
    dist, idx : (n_queries, k), as :meth:`KNNWMD.kneighbors` returns them.

    Raises
    ------
    InputError
        The checkpoint was written by a different model or for different queries.
    """
    X = list(X)
    path = Path(path)
    key = _fingerprint(knn, X)
    k = knn.n_neighbors
    dist, idx = np.empty((0, k)), np.empty((0, k), dtype=np.int64)
    if path.exists():
        with np.load(path) as saved:
            if str(saved["key"]) != key:
                raise InputError(f"{path} is the checkpoint of another model or query set")
            dist, idx = saved["dist"], saved["idx"]
    for lo in range(len(dist), len(X), chunk):
        d, i = knn.kneighbors(X[lo : lo + chunk])
        dist, idx = np.vstack([dist, d]), np.vstack([idx, i])
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, key=key, dist=dist, idx=idx)
        os.replace(tmp, path)  # atomic: a kill leaves the previous checkpoint intact
        if log is not None:
            log(f"{len(dist)}/{len(X)} queries, {knn.n_solved_} exact solves in the last chunk")
    return dist, idx
