"""Numba hot loops for Random Binning features and the solvers on them.

Every kernel here has a plain NumPy counterpart in :mod:`._reference` that the tests
compare it with.

Notation (Wu et al., KDD 2016, Algorithm 1): for grid r and dimension j the bin index of x is
c_rj(x) = floor((x_j - u_rj) / delta_rj) = floor(x_j * a_rj - b_rj) with a = 1/delta and
b = u/delta. The d-vector of codes is folded into one 64-bit key with the additive hash
key_r(x) = sum_j c_rj(x) * P_rj (mod 2^64) for random odd multipliers P. Each grid renumbers its
keys to compact column ids with its own open-addressing table.

The feature matrix Z (n x D) is never materialised for the solvers: row i has exactly one
non-zero per grid, at column ``cols[i, r]``, of value ``v = 1/sqrt(R)``. Within a grid the
columns have disjoint row supports, which makes per-grid block updates exact and lets all
bins of one grid be updated in parallel with the sequential result.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, nogil=True, inline="always")
def _mix(h):
    # splitmix64 finaliser: spreads the additive hash over the table's low bits
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@njit(cache=True, nogil=True, parallel=True)
def bin_keys(X_dense, indptr, indices, data, sparse, n, aT, bT, PT, key0, c0T):
    """Hashed bin keys of every row in every grid, shape (n, R).

    Rows run in parallel; the grid loop is innermost over the transposed (d, R) parameter
    arrays, so it is contiguous and vectorises. For CSR input only the non-zeros are
    visited: key = key0 + sum_{j in nnz(x)} (c_j(x_j) - c_j(0)) P_j, which equals the dense key
    exactly because the hash is additive (mod 2^64).
    """
    R = aT.shape[1]
    keys = np.empty((n, R), dtype=np.uint64)
    for i in prange(n):
        acc = np.empty(R, dtype=np.uint64)
        if sparse:
            acc[:] = key0
            for p in range(indptr[i], indptr[i + 1]):
                j, x = indices[p], data[p]
                for r in range(R):
                    code = np.int64(np.floor(x * aT[j, r] - bT[j, r])) - c0T[j, r]
                    acc[r] += np.uint64(code) * PT[j, r]
        else:
            acc[:] = 0
            for j in range(X_dense.shape[1]):
                x = X_dense[i, j]
                for r in range(R):
                    acc[r] += np.uint64(np.int64(np.floor(x * aT[j, r] - bT[j, r]))) * PT[j, r]
        for r in range(R):
            keys[i, r] = _mix(acc[r])
    return keys


@njit(cache=True, nogil=True)
def _capacity(n):
    cap = 16
    while cap < 2 * n:
        cap *= 2
    return cap


@njit(cache=True, nogil=True)
def _fit_grid(keys, ids_row, scratch_keys, scratch_ids):
    """Assign compact ids (first-seen order) to ``keys``; returns the number of bins."""
    mask = np.uint64(scratch_keys.shape[0] - 1)
    scratch_keys[:] = _EMPTY
    count = 0
    for i in range(keys.shape[0]):
        k = keys[i]
        slot = k & mask
        while True:
            s = scratch_keys[slot]
            if s == k:
                ids_row[i] = scratch_ids[slot]
                break
            if s == _EMPTY:
                scratch_keys[slot] = k
                scratch_ids[slot] = count
                ids_row[i] = count
                count += 1
                break
            slot = (slot + np.uint64(1)) & mask
    return count


@njit(cache=True, nogil=True)
def _probe(table_keys, table_ids, start, cap, k):
    mask = np.uint64(cap - 1)
    slot = k & mask
    while True:
        s = table_keys[start + slot]
        if s == k:
            return table_ids[start + slot]
        if s == _EMPTY:
            return -1
        slot = (slot + np.uint64(1)) & mask


@njit(cache=True, nogil=True, parallel=True)
def fit_bins(keys):
    """Number the bins of every grid from the (n, R) training keys.

    Returns
    -------
    local_ids : (R, n) int64, compact per-grid bin id of each row (first-seen order)
    kappa : (R,) int64, non-empty bins per grid
    table_keys, table_ids : flat open-addressing tables, one per grid, for ``transform``
    table_start, table_cap : where grid r's table starts and its (power-of-two) size
    """
    n, R = keys.shape
    local = np.empty((R, n), dtype=np.int64)
    kappa = np.empty(R, dtype=np.int64)
    cap = _capacity(n)
    for r in prange(R):
        scratch_keys = np.empty(cap, dtype=np.uint64)
        scratch_ids = np.empty(cap, dtype=np.int64)
        kappa[r] = _fit_grid(keys[:, r], local[r], scratch_keys, scratch_ids)
    table_cap = np.empty(R, dtype=np.int64)
    table_start = np.zeros(R + 1, dtype=np.int64)
    for r in range(R):
        table_cap[r] = _capacity(kappa[r])
        table_start[r + 1] = table_start[r] + table_cap[r]
    table_keys = np.full(table_start[R], _EMPTY, dtype=np.uint64)
    table_ids = np.empty(table_start[R], dtype=np.int64)
    for r in prange(R):
        start, mask = table_start[r], np.uint64(table_cap[r] - 1)
        for i in range(n):
            k = keys[i, r]
            slot = k & mask
            while True:
                s = table_keys[start + slot]
                if s == k:
                    break
                if s == _EMPTY:
                    table_keys[start + slot] = k
                    table_ids[start + slot] = local[r, i]
                    break
                slot = (slot + np.uint64(1)) & mask
    return local, kappa, table_keys, table_ids, table_start, table_cap


@njit(cache=True, nogil=True, parallel=True)
def transform_bins(keys, offsets, table_keys, table_ids, table_start, table_cap):
    """(n, R) global column ids of new rows' keys; -1 where a bin was unseen at fit."""
    n, R = keys.shape
    cols = np.empty((n, R), dtype=np.int64)
    for i in prange(n):
        for r in range(R):
            loc = _probe(table_keys, table_ids, table_start[r], table_cap[r], keys[i, r])
            cols[i, r] = loc + offsets[r] if loc >= 0 else -1
    return cols


@njit(cache=True, nogil=True, parallel=True)
def to_columns(local, offsets):
    """(R, n) local ids -> (n, R) global column ids (``-1`` stays ``-1``)."""
    R, n = local.shape
    cols = np.empty((n, R), dtype=np.int64)
    for i in prange(n):
        for r in range(R):
            loc = local[r, i]
            cols[i, r] = loc + offsets[r] if loc >= 0 else -1
    return cols


# ---------------------------------------------------------------------------------------------
# Products with the implicit matrix Z (value v at cols[i, r]).


@njit(cache=True, nogil=True, parallel=True)
def z_dot(cols, w, v):
    """Margins m = Z w."""
    n, R = cols.shape
    m = np.empty(n)
    for i in prange(n):
        acc = 0.0
        for r in range(R):
            c = cols[i, r]
            if c >= 0:
                acc += w[c]
        m[i] = v * acc
    return m


@njit(cache=True, nogil=True, parallel=True)
def zt_dot(cols, u, v, n_cols):
    """g = Z^T u; parallel over grids, whose column ranges are disjoint."""
    n, R = cols.shape
    g = np.zeros(n_cols)
    for r in prange(R):
        for i in range(n):
            c = cols[i, r]
            if c >= 0:
                g[c] += v * u[i]
    return g


@njit(cache=True, nogil=True, parallel=True)
def column_index(cols, grid_offsets):
    """CSC view of Z, by counting sort: the rows of column c are ``rows[ptr[c]:ptr[c+1]]``.

    Grid r owns the contiguous columns ``grid_offsets[r]:grid_offsets[r+1]``, so both passes
    run in parallel over grids without conflicts.
    """
    n, R = cols.shape
    counts = np.zeros(grid_offsets[R] + 1, dtype=np.int64)
    for r in prange(R):
        for i in range(n):
            counts[cols[i, r] + 1] += 1
    ptr = np.cumsum(counts)
    rows = np.empty(n * R, dtype=np.int64)
    for r in prange(R):
        lo = grid_offsets[r]
        fill = ptr[lo : grid_offsets[r + 1]].copy()
        for i in range(n):
            c = cols[i, r] - lo
            rows[fill[c]] = i
            fill[c] += 1
    return ptr, rows


# ---------------------------------------------------------------------------------------------
# Solvers.


@njit(cache=True, nogil=True)
def dcd_svm(cols, y, v, n_cols, C, squared, tol, max_iter, seed, w, alpha):
    """Dual coordinate descent for the L2-regularised (squared) hinge loss SVM.

    LIBLINEAR's algorithm (Hsieh et al., ICML 2008) with its shrinking heuristic, on
    min_w 1/2 ||w||^2 + C sum_i loss(y_i w.z_i). Because ||z_i|| = 1 exactly, Q_ii = 1
    (plus 1/(2C) for the squared hinge). ``w`` and ``alpha`` are updated in place (warm
    start). Returns the number of outer iterations.
    """
    n, R = cols.shape
    if squared:
        upper, diag = np.inf, 0.5 / C
    else:
        upper, diag = C, 0.0
    qd = 1.0 + diag
    index = np.arange(n)
    active = n
    pg_max_old, pg_min_old = np.inf, -np.inf
    # njit code seeds Numba's own per-thread generator; Generator objects are not supported
    np.random.seed(seed)  # noqa: NPY002
    it = 0
    while it < max_iter:
        pg_max_new, pg_min_new = -np.inf, np.inf
        for s in range(active):
            j = s + np.random.randint(active - s)  # noqa: NPY002
            index[s], index[j] = index[j], index[s]
        s = 0
        while s < active:
            i = index[s]
            acc = 0.0
            for r in range(R):
                acc += w[cols[i, r]]
            g = y[i] * v * acc - 1.0 + diag * alpha[i]
            pg = 0.0
            if alpha[i] == 0.0:
                if g > pg_max_old:
                    active -= 1
                    index[s], index[active] = index[active], index[s]
                    continue
                if g < 0.0:
                    pg = g
            elif alpha[i] == upper:
                if g < pg_min_old:
                    active -= 1
                    index[s], index[active] = index[active], index[s]
                    continue
                if g > 0.0:
                    pg = g
            else:
                pg = g
            pg_max_new = max(pg_max_new, pg)
            pg_min_new = min(pg_min_new, pg)
            if abs(pg) > 1e-12:
                old = alpha[i]
                alpha[i] = min(max(old - g / qd, 0.0), upper)
                step = (alpha[i] - old) * y[i] * v
                for r in range(R):
                    w[cols[i, r]] += step
            s += 1
        it += 1
        if pg_max_new - pg_min_new <= tol:
            if active == n:
                break
            active = n
            pg_max_old, pg_min_old = np.inf, -np.inf
            continue
        pg_max_old = pg_max_new if pg_max_new > 0 else np.inf
        pg_min_old = pg_min_new if pg_min_new < 0 else -np.inf
    return it


@njit(cache=True, nogil=True, parallel=True)
def dcd_svm_classes(cols, Y, v, n_cols, C, squared, tol, max_iter, seed, W):
    """One-vs-rest: ``dcd_svm`` for each row of ``Y`` (+1/-1 targets), classes in parallel.

    Each class reseeds Numba's generator with ``seed``, so the result does not depend on
    which thread runs it.
    """
    K, n = Y.shape
    for k in prange(K):
        alpha = np.zeros(n)
        dcd_svm(cols, Y[k], v, n_cols, C, squared, tol, max_iter, seed, W[k], alpha)


@njit(cache=True, nogil=True, parallel=True)
def ridge_block_epoch(ptr, rows, grid_offsets, resid, w, v, alpha):
    """One epoch of exact block coordinate descent for ridge, one grid (block) at a time.

    Minimises 1/2 ||Z w - y||^2 + alpha/2 ||w||^2 with ``resid = y - Z w`` kept in sync. The
    block Hessian of a grid is diagonal (count_b v^2 + alpha), so each bin's closed-form step
    is the exact block minimiser, and bins of one grid touch disjoint rows: they are updated
    in parallel with the sequential result. Returns the largest |step|.
    """
    R = grid_offsets.shape[0] - 1
    biggest = 0.0
    for r in range(R):
        lo, hi = grid_offsets[r], grid_offsets[r + 1]
        steps = np.empty(hi - lo)
        for c in prange(lo, hi):
            acc = 0.0
            for p in range(ptr[c], ptr[c + 1]):
                acc += resid[rows[p]]
            cnt = ptr[c + 1] - ptr[c]
            delta = (v * acc - alpha * w[c]) / (cnt * v * v + alpha)
            w[c] += delta
            for p in range(ptr[c], ptr[c + 1]):
                resid[rows[p]] -= v * delta
            steps[c - lo] = abs(delta)
        if hi > lo:
            biggest = max(biggest, steps.max())
    return biggest


@njit(cache=True, nogil=True, inline="always")
def _loss_grad(kind, m, y):
    # kind 0: square 1/2 (m - y)^2; 1: squared hinge max(0, 1 - y m)^2; 2: logistic
    if kind == 0:
        return m - y
    if kind == 1:
        slack = 1.0 - y * m
        return -2.0 * y * slack if slack > 0.0 else 0.0
    z = y * m
    if z > 0:
        e = np.exp(-z)
        return -y * e / (1.0 + e)
    return -y / (1.0 + np.exp(z))


@njit(cache=True, nogil=True, parallel=True)
def l1_prox_epoch(ptr, rows, grid_offsets, margins, y, w, v, C, kind, curvature):
    """One epoch of the paper's parallel L1 proximal coordinate descent.

    Minimises ||w||_1 + C sum_i loss(m_i, y_i) with ``margins = Z w`` kept in sync. For each
    bin b: g = C sum_{i in b} loss'(m_i) v, H = C L count_b v^2 (L bounds loss''), and
    w_b <- soft(w_b - g/H, 1/H). All bins of one grid run in parallel; since their rows are
    disjoint the result equals the sequential sweep bit for bit. Returns the largest |step|.
    """
    R = grid_offsets.shape[0] - 1
    biggest = 0.0
    for r in range(R):
        lo, hi = grid_offsets[r], grid_offsets[r + 1]
        steps = np.empty(hi - lo)
        for c in prange(lo, hi):
            g = 0.0
            for p in range(ptr[c], ptr[c + 1]):
                i = rows[p]
                g += _loss_grad(kind, margins[i], y[i])
            cnt = ptr[c + 1] - ptr[c]
            h = C * curvature * cnt * v * v
            g *= C * v
            z = w[c] - g / h
            new = np.sign(z) * max(abs(z) - 1.0 / h, 0.0)
            delta = new - w[c]
            if delta != 0.0:
                w[c] = new
                for p in range(ptr[c], ptr[c + 1]):
                    margins[rows[p]] += v * delta
            steps[c - lo] = abs(delta)
        if hi > lo:
            biggest = max(biggest, steps.max())
    return biggest
