"""Training on data that does not fit one process: RB features streamed into a learner.

Inference needs nothing here: a fitted :class:`RandomBinningFeatures`, ``RBClassifier`` or
``RBRegressor`` maps rows independently, so ``leanml.core.dask.partitioned`` (or dask-ml's
``ParallelPostFit``) runs it block by block. Training is the part that needs the whole
design matrix in one process (the tailored solvers are full-batch). This module trains
without that:

1. The grids are drawn and their bins numbered from a sample of rows
   (:meth:`RandomBinningFeatures.fit`); a later row whose bin held no sample row has no
   feature in that grid, exactly as a test row does (``unseen_fraction`` measures it).
2. The rows are binned block by block on the workers (``map_blocks``) and the CSR blocks
   stream into an incremental learner's ``partial_fit`` through dask-ml's ``Incremental``,
   one block in memory at a time, in row order.

The learner is scikit-learn's ``SGDClassifier``/``SGDRegressor`` (or any ``partial_fit``
estimator), not the plugin's solvers, which need every row at every iteration.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.pipeline import Pipeline

from leanml.core import InputError

from .binning import RandomBinningFeatures

__all__ = ["stream_fit", "unseen_fraction"]


def stream_fit(
    X: Any,
    y: Any,
    features: RandomBinningFeatures,
    learner: Any,
    sample_rows: int = 20_000,
    **fit_kwargs: Any,
) -> Pipeline:
    """Fit ``features`` on the first rows of X, then ``learner`` on every row's features.

    Parameters
    ----------
    X : dask.array (n, d), chunked by rows
        Training rows; blocks are binned on the workers and never gathered.
    y : dask.array (n,), chunked like X's rows
    features
        An unfitted :class:`RandomBinningFeatures` (fitted on the first ``sample_rows``
        rows), or a fitted one (used as it is).
    learner
        An estimator with ``partial_fit`` (e.g. ``SGDClassifier(loss="hinge")``).
    sample_rows
        Rows that number the bins: bins no sample row falls in get no column.
    fit_kwargs
        Passed to every ``partial_fit`` (``classes=`` for a classifier).

    Returns
    -------
    ``Pipeline([("rb", features), ("learner", fitted learner)])``: a plain in-memory model,
    for ``predict`` in one process or partitioned on the cluster.
    """
    import dask.array as da
    from dask_ml.wrappers import Incremental

    if not isinstance(X, da.Array) or X.ndim != 2:
        raise InputError("X must be a 2-D dask array chunked by rows")
    if not isinstance(y, da.Array) or y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise InputError(f"y must be a 1-D dask array with {X.shape[0]} entries")
    X = X.rechunk({1: -1})
    y = y.rechunk((X.chunks[0],))
    if not hasattr(features, "n_columns_"):
        features.fit(X[:sample_rows].compute())
    Z = X.map_blocks(
        features.transform,
        dtype=features.dtype,
        meta=sp.csr_matrix((0, 0), dtype=features.dtype),
        chunks=(X.chunks[0], (features.n_columns_,)),
    )
    inc = Incremental(learner, scoring=None, shuffle_blocks=False)
    inc.fit(Z, y, **fit_kwargs)
    return Pipeline([("rb", features), ("learner", inc.estimator_)])


def unseen_fraction(features: RandomBinningFeatures, X: Any) -> float:
    """Fraction of (row, grid) pairs of X whose bin has no column (computed per block)."""
    import dask.array as da

    X = da.asarray(X).rechunk({1: -1})
    missing = X.map_blocks(
        lambda b: np.array([(features.transform_ids(b) < 0).sum()]),
        dtype=np.int64,
        chunks=((1,) * X.numblocks[0],),
        drop_axis=1,
    )
    return float(missing.sum().compute()) / (X.shape[0] * features.n_grids)
