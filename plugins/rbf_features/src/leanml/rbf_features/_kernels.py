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
columns have disjoint row supports, which makes per-grid block updates exact. The solvers
sweep the grids serially and run independent targets (one-vs-rest classes, outputs) in
parallel; binning runs in parallel over rows and over grids.
"""

from __future__ import annotations

import numpy as np
from numba import get_thread_id, njit, prange

from ._shuffle import seed_state, shuffle

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
def fit_bins(keys, chunks):
    """Number the bins of every grid from the (n, R) training keys.

    ``chunks`` (the thread count): the grids are split in that many groups, each reusing one
    scratch table; any value gives the same result.

    Returns
    -------
    local_ids : (R, n) int32, compact per-grid bin id of each row (first-seen order)
    kappa : (R,) int64, non-empty bins per grid
    table_keys, table_ids : flat open-addressing tables (uint64 keys, int32 ids), one per
        grid, sized to the grid's own kappa (load factor <= 1/2), for ``transform``
    table_start : (R + 1,) int64, grid r's table is ``table_start[r]:table_start[r + 1]``
    """
    n, R = keys.shape
    local = np.empty((R, n), dtype=np.int32)
    kappa = np.empty(R, dtype=np.int64)
    cap = _capacity(n)
    # one scratch table per thread, reused grid after grid: a fresh one per grid cost page
    # faults on every grid (a fifth of binning shuttle's 10,000 rows at R = 16)
    chunks = max(1, min(R, chunks))
    for c in prange(chunks):
        scratch_keys = np.empty(cap, dtype=np.uint64)
        scratch_ids = np.empty(cap, dtype=np.int32)
        for r in range(c, R, chunks):
            kappa[r] = _fit_grid(keys[:, r], local[r], scratch_keys, scratch_ids)
    table_start = np.zeros(R + 1, dtype=np.int64)
    for r in range(R):
        table_start[r + 1] = table_start[r] + _capacity(kappa[r])
    table_keys = np.full(table_start[R], _EMPTY, dtype=np.uint64)
    table_ids = np.full(table_start[R], -1, dtype=np.int32)  # deterministic empty slots
    for r in prange(R):
        start = table_start[r]
        mask = np.uint64(table_start[r + 1] - start - 1)
        nxt = 0
        for i in range(n):
            if local[r, i] != nxt:  # ids are first-seen: only a bin's first row is new
                continue
            k = keys[i, r]
            slot = k & mask
            while table_keys[start + slot] != _EMPTY:
                slot = (slot + np.uint64(1)) & mask
            table_keys[start + slot] = k
            table_ids[start + slot] = nxt
            nxt += 1
    return local, kappa, table_keys, table_ids, table_start


@njit(cache=True, nogil=True, parallel=True)
def transform_bins(keys, offsets, table_keys, table_ids, table_start, cols):
    """Fill ``cols`` (n, R) with the global column ids of new rows' keys; -1 where unseen."""
    n, R = keys.shape
    for i in prange(n):
        for r in range(R):
            start = table_start[r]
            loc = _probe(table_keys, table_ids, start, table_start[r + 1] - start, keys[i, r])
            cols[i, r] = loc + offsets[r] if loc >= 0 else -1


@njit(cache=True, nogil=True, parallel=True)
def to_columns(local, offsets, cols):
    """Fill ``cols`` (n, R) with the global column ids of (R, n) local ids."""
    R, n = local.shape
    for i in prange(n):
        for r in range(R):
            cols[i, r] = local[r, i] + offsets[r]


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
    rows = np.empty(n * R, dtype=cols.dtype)
    for r in prange(R):
        lo = grid_offsets[r]
        fill = ptr[lo : grid_offsets[r + 1]].copy()
        for i in range(n):
            c = cols[i, r] - lo
            rows[fill[c]] = i
            fill[c] += 1
    return ptr, rows


# ---------------------------------------------------------------------------------------------
# Solvers. Every solver takes per-sample weights ``cost`` (C times sample_weight) and handles K
# independent targets (one-vs-rest classes or outputs) with one parallel region over the
# targets: a whole solve per thread, no synchronisation. Within one target the grids are swept
# serially; the bins of one grid have disjoint rows and could run in parallel, but at a few
# thousand rows per grid a parallel region per grid costs more than the grid's work (the 0.1
# plugin did that and ran 1.8-9x slower on 2 threads). ``threads[k]`` records which thread
# solved target k, so tests can check that the parallel path really ran in parallel.


@njit(cache=True, nogil=True)
def dcd_svm(cols, y, v, cost, squared, tol, max_iter, seed, w, alpha, bias):
    """Dual coordinate descent for the L2-regularised (squared) hinge loss SVM.

    LIBLINEAR's algorithm (Hsieh et al., ICML 2008) with its shrinking heuristic, on
    min_w 1/2 ||w||^2 + sum_i cost_i loss(y_i (w.z_i + bias)) for a fixed ``bias``. Because
    ||z_i|| = 1 exactly, Q_ii = 1 (plus 1/(2 cost_i) for the squared hinge); the fixed bias
    only shifts the linear term of the dual, 1 - y_i bias in place of 1. ``w`` and ``alpha``
    are updated in place: a warm start passes the previous ``alpha`` and the matching
    ``w = sum_i alpha_i y_i z_i``. Rows with ``cost_i = 0`` must not be passed. Returns the
    number of outer iterations.
    """
    n, R = cols.shape
    index = np.arange(n)
    active = n
    pg_max_old, pg_min_old = np.inf, -np.inf
    rng = seed_state(seed)  # the epochs' row order (see _shuffle)
    it = 0
    while it < max_iter:
        pg_max_new, pg_min_new = -np.inf, np.inf
        shuffle(index, active, rng)
        s = 0
        while s < active:
            i = index[s]
            if squared:
                upper, diag = np.inf, 0.5 / cost[i]
            else:
                upper, diag = cost[i], 0.0
            acc = 0.0
            for r in range(R):
                acc += w[cols[i, r]]
            g = y[i] * (v * acc + bias) - 1.0 + diag * alpha[i]
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
                alpha[i] = min(max(old - g / (1.0 + diag), 0.0), upper)
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


@njit(cache=True, nogil=True)
def _bias_step(alpha, y, cost, squared, g, width):
    # Newton estimate |g / g'(b)|: moving b by t moves each free alpha_i by about -y_i t / Q_ii
    # (bounded ones stay), so g'(b) ~ -sum_free 1 / Q_ii; 1 (the margins' scale) if none is free
    slope = 0.0
    for i in range(alpha.shape[0]):
        if squared:
            if alpha[i] > 0.0:
                slope += 1.0 / (1.0 + 0.5 / cost[i])
        elif 0.0 < alpha[i] < cost[i]:
            slope += 1.0
    return max(abs(g) / slope, width) if slope > 0.0 else 1.0


@njit(cache=True, nogil=True)
def dcd_svm_intercept(cols, y, v, cost, squared, tol, max_iter, seed, w, alpha, bias):
    """``dcd_svm`` with an unpenalised bias b, found as the root of the dual's constraint.

    With b free, the dual gains the equality constraint sum_i alpha_i y_i = 0, whose
    Lagrange multiplier is b. For a fixed b, ``dcd_svm`` minimises over w exactly (the box
    does not depend on b), giving P(b) = min_w f(w, b), convex in b with derivative
    P'(b) = -sum_i alpha_i(b) y_i (Danskin), non-decreasing in b. The optimal b is its root:
    bracket it by doubling steps from ``bias`` (the start value), then regula falsi with
    the Illinois modification until the bracket is narrower than ``tol / 10`` (margins move
    by b, so this matches the dual CD's own tolerance on margins). The first step is the
    Newton estimate ``_bias_step``, so a warm start near the optimum needs two solves. Each
    dual CD solve is warm-started from the previous one's alpha. Unlike alternating w- and
    b-updates, this is exact for the non-smooth hinge too. Returns ``(dual CD epochs in all,
    b)``.
    """
    width = max(0.1 * tol, 1e-12)
    args = (cols, y, v, cost, squared, tol, max_iter, seed, w, alpha)
    total = dcd_svm(*args, bias)
    g = np.sum(alpha * y)
    if g == 0.0:
        return total, bias
    direction = 1.0 if g > 0.0 else -1.0  # g(b) = sum alpha y falls as b grows
    lo, g_lo = bias, g
    step = _bias_step(alpha, y, cost, squared, g, width)
    hi = lo + direction * step
    total += dcd_svm(*args, hi)
    g_hi = np.sum(alpha * y)
    while g_hi * direction > 0.0 and step < 1e12:  # still the same sign: move further
        lo, g_lo = hi, g_hi
        step *= 2.0
        hi = lo + direction * step
        total += dcd_svm(*args, hi)
        g_hi = np.sum(alpha * y)
    b, g = hi, g_hi
    side = 0
    for _ in range(200):
        if g == 0.0 or abs(hi - lo) <= width * max(1.0, abs(b)):
            break
        b = hi - g_hi * (hi - lo) / (g_hi - g_lo)
        if not (min(lo, hi) < b < max(lo, hi)):  # rounding at the ends: bisect
            b = 0.5 * (lo + hi)
        total += dcd_svm(*args, b)
        g = np.sum(alpha * y)
        if g * g_hi > 0.0:
            hi, g_hi = b, g
            if side == 1:
                g_lo *= 0.5  # Illinois: the stale end's value is halved
            side = 1
        else:
            lo, g_lo = b, g
            if side == -1:
                g_hi *= 0.5
            side = -1
    return total, b  # w and alpha belong to the last solve, at b


@njit(cache=True, nogil=True, parallel=True)
def dcd_svm_classes(
    cols, Y, v, cost, squared, tol, max_iter, seed, W, A, B, fit_intercept, threads
):
    """``dcd_svm`` for each row of ``Y`` (+1/-1 targets) with duals ``A[k]``, targets in parallel.

    ``B[k]`` is target k's bias: fixed, or with ``fit_intercept`` the start of its search
    (``dcd_svm_intercept``), overwritten with the result. Each target seeds its own
    generator state with ``seed``, so the result does not depend on which thread runs it. Returns
    the iterations of each target.
    """
    K = Y.shape[0]
    iters = np.zeros(K, dtype=np.int64)
    for k in prange(K):
        threads[k] = get_thread_id()
        if fit_intercept:
            iters[k], B[k] = dcd_svm_intercept(
                cols, Y[k], v, cost, squared, tol, max_iter, seed, W[k], A[k], B[k]
            )
        else:
            iters[k] = dcd_svm(cols, Y[k], v, cost, squared, tol, max_iter, seed, W[k], A[k], B[k])
    return iters


@njit(cache=True, nogil=True)
def _ridge_epoch(ptr, rows, grid_offsets, resid, w, weight, v, alpha):
    # exact block CD: the block Hessian of a grid is diagonal (sum_b weight v^2 + alpha)
    biggest = 0.0
    for c in range(grid_offsets[-1]):
        acc, mass = 0.0, 0.0
        for p in range(ptr[c], ptr[c + 1]):
            i = rows[p]
            acc += weight[i] * resid[i]
            mass += weight[i]
        delta = (v * acc - alpha * w[c]) / (mass * v * v + alpha)
        w[c] += delta
        for p in range(ptr[c], ptr[c + 1]):
            resid[rows[p]] -= v * delta
        biggest = max(biggest, abs(delta))
    return biggest


@njit(cache=True, nogil=True)
def _ridge_bias_step(resid, weight):
    # the exact minimiser over the unpenalised bias alone: the weighted mean residual
    acc, mass = 0.0, 0.0
    for i in range(resid.shape[0]):
        acc += weight[i] * resid[i]
        mass += weight[i]
    delta = acc / mass
    for i in range(resid.shape[0]):
        resid[i] -= delta
    return delta


@njit(cache=True, nogil=True, parallel=True)
def ridge_bcd_targets(
    ptr, rows, grid_offsets, Resid, W, B, fit_intercept, weight, v, alpha, tol, max_iter, threads
):
    """Exact block coordinate descent for ridge, one grid (block) at a time, for each target.

    Minimises 1/2 sum_i weight_i (z_i.w + b - y_i)^2 + alpha/2 ||w||^2 with
    ``Resid[k] = y_k - Z w_k - B[k]`` kept in sync; targets run in parallel. With
    ``fit_intercept`` each epoch starts with the exact step on the unpenalised bias ``B[k]``
    (the first one centres y); otherwise ``B`` stays as given. Stops when the largest
    single step of an epoch (bias included) is below ``tol`` times the largest weight
    (bias excluded, so that adding a constant to y does not loosen the test). Returns the epochs of
    each target.
    """
    K = W.shape[0]
    iters = np.zeros(K, dtype=np.int64)
    for k in prange(K):
        threads[k] = get_thread_id()
        for it in range(max_iter):
            step = 0.0
            if fit_intercept:
                delta = _ridge_bias_step(Resid[k], weight)
                B[k] += delta
                step = abs(delta)
            step = max(
                step, _ridge_epoch(ptr, rows, grid_offsets, Resid[k], W[k], weight, v, alpha)
            )
            iters[k] = it + 1
            if step <= tol * max(np.abs(W[k]).max(), 1e-12):  # not |b|: shift-invariant
                break
    return iters


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


@njit(cache=True, nogil=True)
def _l1_epoch(ptr, rows, grid_offsets, margins, y, w, cost, v, kind, curvature):
    # for each bin b: g = sum_{i in b} cost_i loss'(m_i) v, H = L v^2 sum_{i in b} cost_i
    biggest = 0.0
    for c in range(grid_offsets[-1]):
        g, mass = 0.0, 0.0
        for p in range(ptr[c], ptr[c + 1]):
            i = rows[p]
            g += cost[i] * _loss_grad(kind, margins[i], y[i])
            mass += cost[i]
        h = curvature * mass * v * v
        if h > 0.0:
            z = w[c] - g * v / h
            new = np.sign(z) * max(abs(z) - 1.0 / h, 0.0)
        else:  # no weighted row in this bin: only the penalty is left
            new = 0.0
        delta = new - w[c]
        if delta != 0.0:
            w[c] = new
            for p in range(ptr[c], ptr[c + 1]):
                margins[rows[p]] += v * delta
        biggest = max(biggest, abs(delta))
    return biggest


@njit(cache=True, nogil=True)
def _l1_bias_step(margins, y, cost, kind, curvature):
    # the unpenalised bias: a Newton step with the loss's curvature bound L (exact for the
    # square loss; for the others it minimises a quadratic majoriser, so it never ascends)
    g, mass = 0.0, 0.0
    for i in range(margins.shape[0]):
        g += cost[i] * _loss_grad(kind, margins[i], y[i])
        mass += cost[i]
    delta = -g / (curvature * mass)
    for i in range(margins.shape[0]):
        margins[i] += delta
    return delta


@njit(cache=True, nogil=True, parallel=True)
def l1_prox_targets(
    ptr, rows, grid_offsets, M, Y, W, B, fit_intercept, cost, v, kind, curvature, tol, max_iter,
    threads,
):  # fmt: skip
    """The paper's L1 proximal coordinate descent, for each target, targets in parallel.

    Minimises ||w||_1 + sum_i cost_i loss(m_i, y_i), m = Z w + b, with ``M[k] = Z w_k + B[k]``
    kept in sync; w_b <- soft(w_b - g/H, 1/H) bin by bin (L bounds loss''). With
    ``fit_intercept`` each epoch starts with a step on the unpenalised bias ``B[k]``. Stops
    when the largest step of an epoch is below ``tol`` times the largest weight. Returns the
    epochs of each target.
    """
    K = W.shape[0]
    iters = np.zeros(K, dtype=np.int64)
    for k in prange(K):
        threads[k] = get_thread_id()
        for it in range(max_iter):
            step = 0.0
            if fit_intercept:
                delta = _l1_bias_step(M[k], Y[k], cost, kind, curvature)
                B[k] += delta
                step = abs(delta)
            step = max(
                step,
                _l1_epoch(ptr, rows, grid_offsets, M[k], Y[k], W[k], cost, v, kind, curvature),
            )
            iters[k] = it + 1
            if step <= tol * max(np.abs(W[k]).max(), 1e-12):  # not |b|: shift-invariant
                break
    return iters
