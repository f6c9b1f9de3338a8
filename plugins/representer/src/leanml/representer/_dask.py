"""Representer top-k on Dask: a map over training-row partitions, a reduce of the k best.

After :meth:`RepresenterExplainer.fit`, a training point's contribution to a test point is
``alpha[i, c] * <f_i, f_t>`` (``method="l2"``): the training rows partition freely. Each
partition's task scores its rows against the (small) test features and keeps its own k best
and k worst with their global row numbers and its partial sum; the client merges those
``(B, k)`` pieces. The training features never meet in one process: a partition is loaded
by its task, from the ``.npy`` file an explainer fitted with ``mmap_dir`` keeps (shared
storage on a real cluster), so a task lost with its worker is recomputed elsewhere.

Scores are computed as :meth:`RepresenterExplainer.explain` computes them: by the plugin's
own :func:`~leanml.representer._kernels.stream_topk`, in the explainer's ``score_dtype``
(float32 by default), the explained logit summed in float64.

What does not scale out: ``fit`` (the head's Newton re-convergence reads every training
feature in one process) and ``method="lje"`` (its scores need the Hessian solves of
:mod:`leanml.representer.lje`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from leanml.core import InputError, ParameterError

from ._kernels import stream_topk
from .explainer import Explanation, RepresenterExplainer

__all__ = ["explain_partitioned", "training_partitions"]

_FEATURES_FILE = "representer_train_features.npy"


def _rows(source: Any, start: int, stop: int, alpha: np.ndarray) -> tuple[int, Any, Any]:
    """One partition: ``(start, F[start:stop], alpha[start:stop])``, F read from its file."""
    if isinstance(source, str):  # the explainer's memory-mapped .npy: read only these rows
        F = np.array(np.load(source, mmap_mode="r")[start:stop])
    else:
        F = source
    return start, F, alpha


def training_partitions(explainer: RepresenterExplainer, n_partitions: int) -> list[Any]:
    """The fitted explainer's training rows as ``n_partitions`` Delayed row blocks.

    With ``mmap_dir`` each block is read by its task from the features file (only the
    ``alpha`` slice, ``n x C``, travels in the graph); without it the feature slices travel
    in the graph too, once each.
    """
    from dask import delayed

    if not hasattr(explainer, "alpha_"):
        raise InputError("call fit() before explaining")
    if explainer.method != "l2":
        raise ParameterError("only method='l2' scores partition by partition; lje does not")
    n = explainer.alpha_.shape[0]
    if not 1 <= n_partitions <= n:
        raise ParameterError(f"n_partitions must be in 1..{n}, got {n_partitions}")
    path = None if explainer.mmap_dir is None else Path(explainer.mmap_dir) / _FEATURES_FILE
    alpha = explainer._row_values_scoring.numpy()  # alpha in score_dtype, as explain() uses
    bounds = np.linspace(0, n, n_partitions + 1).round().astype(int)
    parts = []
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        source = str(path) if path is not None else explainer.train_features_[a:b].numpy()
        parts.append(delayed(_rows, pure=True)(source, a, b, alpha[a:b]))
    return parts


def _partition_topk(part: tuple[int, Any, Any], Ft: np.ndarray, t: np.ndarray, k: int):
    """One partition's k best and k worst rows (global indices) and its float64 sum."""
    start, F, alpha = part
    chunk = (start, torch.from_numpy(np.asarray(F)), torch.from_numpy(alpha))
    return tuple(
        x.numpy() for x in stream_topk(torch.from_numpy(Ft), [chunk], torch.from_numpy(t), k)
    )


def _merge(pieces: list[tuple[np.ndarray, ...]], k: int) -> tuple[np.ndarray, ...]:
    """The k best and k worst over every partition, ties to the lower training index."""
    hs, hi, ls, li = (np.concatenate([p[j] for p in pieces], axis=1) for j in range(4))
    total = np.sum([p[4] for p in pieces], axis=0)
    kk = min(k, hs.shape[1])
    best = np.lexsort((hi, -hs))[:, :kk]
    worst = np.lexsort((li, ls))[:, :kk]
    take = np.take_along_axis
    return take(hs, best, 1), take(hi, best, 1), take(ls, worst, 1), take(li, worst, 1), total


def explain_partitioned(
    explainer: RepresenterExplainer,
    X: Any,
    client: Any,
    target: Any = None,
    k: int = 10,
    partitions: list[Any] | None = None,
    timeout: float | None = None,
) -> Explanation:
    """:meth:`RepresenterExplainer.explain` computed as a map over training-row partitions.

    Parameters
    ----------
    explainer
        Fitted, ``method="l2"``.
    X
        Test inputs (the model's forward pass runs on the client: B is small).
    client
        A ``distributed.Client``.
    target, k
        As in ``explain``.
    partitions
        Row blocks from :func:`training_partitions` (default: two per worker thread),
        possibly wrapped in further Delayed steps.
    timeout
        Seconds to wait for the result.

    Returns
    -------
    The same :class:`Explanation` as ``explain``: indices equal, scores and logits equal to
    the rounding of ``score_dtype`` (the products are formed in blocks of other shapes and
    the sums run partition by partition).
    """
    from dask import delayed
    from distributed import wait

    if k < 1:
        raise ParameterError(f"k must be >= 1, got {k}")
    if partitions is None:
        threads = sum(client.nthreads().values())
        n = explainer.alpha_.shape[0] if hasattr(explainer, "alpha_") else 1
        partitions = training_partitions(explainer, min(n, 2 * max(1, threads)))
    logits = explainer.logits(X)
    Ft = explainer.features(X).to(explainer.score_dtype).numpy()
    C = logits.shape[1]
    if target is None:
        t = logits.argmax(dim=1).numpy()
    else:
        t = np.asarray(target, dtype=np.int64).reshape(-1)
        t = np.broadcast_to(t, (Ft.shape[0],)).copy() if t.size == 1 else t
        if t.shape[0] != Ft.shape[0]:
            raise InputError(f"target has {t.shape[0]} entries for {Ft.shape[0]} test points")
        if (t < 0).any() or (t >= C).any():
            raise InputError(f"target class must be in 0..{C - 1}, got {t.tolist()}")
    shared = delayed(Ft, pure=True), delayed(t, pure=True)
    tasks = [delayed(_partition_topk, pure=True)(p, *shared, k) for p in partitions]
    futures = client.compute(tasks)
    wait(futures, timeout=timeout)
    hs, hi, ls, li, total = _merge(client.gather(futures), k)
    tt = torch.from_numpy(t)
    as_t = torch.from_numpy
    return Explanation(
        tt, as_t(total) + explainer.bias_[tt], as_t(hi), as_t(hs), as_t(li), as_t(ls)
    )
