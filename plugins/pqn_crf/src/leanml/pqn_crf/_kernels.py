"""Numba hot loops: chain forward-backward, Viterbi, sparse products, the inner CD solve.

Conventions shared by every chain kernel (CRFsuite's first-order model):

- ``U`` (n_tokens x K) holds the state scores of all sequences stacked; sequence ``i`` owns
  rows ``offsets[i]:offsets[i+1]``.
- ``T`` (K x K) holds transition scores, ``T[j, k]`` from label ``j`` to label ``k``; there
  are no start or end transitions.
- ``chunks`` splits the sequences into contiguous groups of similar token counts; one
  ``prange`` iteration handles one group, so each thread owns its scratch buffers and its
  transition-gradient accumulator (no atomics, deterministic sums).

The forward-backward pass runs in exp space with per-position scaling (CRFsuite's way,
~9x faster than log space). When a sequence's scaling factors underflow or its marginals
stop summing to one (huge weights), that sequence alone is redone in log space, so the
result is exact for any finite weights. Plain NumPy references live in ``_reference.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "cd_quadratic_l1",
    "chain_forward_backward",
    "chain_viterbi",
    "csr_matmul",
    "csr_pairs_matmul",
    "csr_rows_dot",
    "csr_rows_pairs",
    "csr_t_matmul",
    "row_shift",
]

# Reassociation and contraction let LLVM vectorise the K-length sums; the flags that
# assume no NaN/inf are left out, since the underflow checks below rely on them.
_FAST = {"reassoc", "contract"}

# A scaling factor below this loses precision (subnormals are near): redo in log space.
_TINY = 1e-280
# Node marginals of each position must sum to one; a larger error means cancellation.
_SUM_TOL = 1e-9
# Attributes with at most this many label pairs gather them from D instead of a K-row sum
# (measured on OANC, K = 43).
_GATHER_PAIRS = 4


@njit(cache=True, nogil=True, fastmath=_FAST)
def _scaled_sequence(
    U, P, umax, T, M, MT, max_t, s, e, y, has_y, out, dT, alpha, beta, scale, tmp, edge
):
    """Scaled exp-space forward-backward of one sequence; returns (value, ok).

    ``P`` holds exp(U - umax) row by row (see :func:`chain_forward_backward`) and ``MT``
    is ``M.T`` contiguous. ``value`` is log Z - score(y) when ``has_y`` else log Z. On
    success ``out`` rows get the node marginals (minus the one-hot labels when ``has_y``)
    and ``dT`` accumulates the edge marginals (minus the observed transitions). On failure
    nothing is written.
    """
    K = U.shape[1]
    n = e - s
    psi = P[s:e]
    c = 0.0
    for k in range(K):
        alpha[0, k] = psi[0, k]
        c += psi[0, k]
    scale[0] = c
    for k in range(K):
        alpha[0, k] /= c
    # alpha[t] = psi[t] * (Mᵀ alpha[t-1]) as dot products, four outputs at a time: the
    # sums stay in registers and share the loads of alpha[t-1] (accumulating rows of M
    # into alpha[t] in memory was 18% slower on OANC, a store-to-load chain per label).
    for t in range(1, n):
        k = 0
        while k + 3 < K:
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            a3 = 0.0
            for j in range(K):
                x = alpha[t - 1, j]
                a0 += x * MT[k, j]
                a1 += x * MT[k + 1, j]
                a2 += x * MT[k + 2, j]
                a3 += x * MT[k + 3, j]
            alpha[t, k] = a0 * psi[t, k]
            alpha[t, k + 1] = a1 * psi[t, k + 1]
            alpha[t, k + 2] = a2 * psi[t, k + 2]
            alpha[t, k + 3] = a3 * psi[t, k + 3]
            k += 4
        while k < K:
            a0 = 0.0
            for j in range(K):
                a0 += alpha[t - 1, j] * MT[k, j]
            alpha[t, k] = a0 * psi[t, k]
            k += 1
        c = 0.0
        for k in range(K):
            c += alpha[t, k]
        if not c > _TINY:  # also false for NaN
            return 0.0, False
        scale[t] = c
        inv = 1.0 / c
        for k in range(K):
            alpha[t, k] *= inv
    log_z = (n - 1) * max_t
    for t in range(n):
        log_z += np.log(scale[t]) + umax[s + t]
    for k in range(K):
        beta[n - 1, k] = 1.0
    for j in range(K):
        for k in range(K):
            edge[j, k] = 0.0
    # One pass per position gives both beta and the edge marginals (into a local buffer,
    # added to dT only once the sequence is validated).
    for t in range(n - 2, -1, -1):
        inv = 1.0 / scale[t + 1]
        for k in range(K):
            tmp[k] = psi[t + 1, k] * beta[t + 1, k] * inv
        for j in range(K):
            a = alpha[t, j]
            acc = 0.0
            for k in range(K):
                mt = M[j, k] * tmp[k]
                acc += mt
                edge[j, k] += a * mt
            beta[t, j] = acc
    # Validate before writing anything: each position's marginals must sum to one.
    for t in range(n):
        tot = 0.0
        for k in range(K):
            tot += alpha[t, k] * beta[t, k]
        if not abs(tot - 1.0) < _SUM_TOL:
            return 0.0, False
    for t in range(n):
        for k in range(K):
            out[s + t, k] = alpha[t, k] * beta[t, k]
    for j in range(K):
        for k in range(K):
            dT[j, k] += edge[j, k]
    value = log_z
    if has_y:
        value = _subtract_observed(U, T, s, e, y, out, dT, value)
    return value, True


@njit(cache=True, nogil=True)
def _subtract_observed(U, T, s, e, y, out, dT, value):
    """Remove the observed labels' one-hots and transition counts; return log Z - score."""
    score = 0.0
    for t in range(s, e):
        out[t, y[t]] -= 1.0
        score += U[t, y[t]]
        if t > s:
            dT[y[t - 1], y[t]] -= 1.0
            score += T[y[t - 1], y[t]]
    return value - score


@njit(cache=True, nogil=True)
def _logsumexp(v):
    mx = v[0]
    for i in range(1, v.shape[0]):
        if v[i] > mx:
            mx = v[i]
    if mx == -np.inf:
        return mx
    acc = 0.0
    for i in range(v.shape[0]):
        acc += np.exp(v[i] - mx)
    return mx + np.log(acc)


@njit(cache=True, nogil=True)
def _log_sequence(U, T, s, e, y, has_y, out, dT, la, lb, tmp):
    """Log-space forward-backward of one sequence (the exact fallback); returns value."""
    K = U.shape[1]
    n = e - s
    for k in range(K):
        la[0, k] = U[s, k]
    for t in range(1, n):
        for k in range(K):
            for j in range(K):
                tmp[j] = la[t - 1, j] + T[j, k]
            la[t, k] = _logsumexp(tmp) + U[s + t, k]
    log_z = _logsumexp(la[n - 1])
    for k in range(K):
        lb[n - 1, k] = 0.0
    for t in range(n - 2, -1, -1):
        for j in range(K):
            for k in range(K):
                tmp[k] = T[j, k] + U[s + t + 1, k] + lb[t + 1, k]
            lb[t, j] = _logsumexp(tmp)
    for t in range(n):
        for k in range(K):
            out[s + t, k] = np.exp(la[t, k] + lb[t, k] - log_z)
    for t in range(n - 1):
        for j in range(K):
            for k in range(K):
                dT[j, k] += np.exp(la[t, j] + T[j, k] + U[s + t + 1, k] + lb[t + 1, k] - log_z)
    if has_y:
        return _subtract_observed(U, T, s, e, y, out, dT, log_z)
    return log_z


@njit(cache=True, nogil=True, parallel=True)
def row_shift(U, P, umax):
    """umax[t] = max_k U[t, k] and P = U - umax (row by row), the exponent of the potentials."""
    n, K = U.shape
    for t in prange(n):
        mx = U[t, 0]
        for k in range(1, K):
            if U[t, k] > mx:
                mx = U[t, k]
        umax[t] = mx
        for k in range(K):
            P[t, k] = U[t, k] - mx


def chain_forward_backward(U, T, offsets, y, chunks, has_y, out, values, use_log, work=None):
    """Forward-backward over all sequences, parallel over chunks of sequences.

    Parameters
    ----------
    U : (n_tokens, K) float64 state scores; T : (K, K) transition scores.
    offsets : (n_seq + 1,) int64 sequence boundaries; y : (n_tokens,) int64 labels.
    chunks : (n_chunks + 1,) int64 boundaries of sequence groups (one per task).
    has_y : subtract the observed labels (NLL and gradient) or not (marginals, log Z).
    out : (n_tokens, K) output: marginals, or marginals minus one-hot labels.
    values : (n_seq,) output: log Z - score(y) per sequence, or log Z.
    use_log : force the log-space path (for tests and the benchmark of the two kernels).
    work : optional (P, umax) buffers of shapes (n_tokens, K) and (n_tokens,), reused
        across calls by the training objective.

    The potentials exp(U - row max) are computed by NumPy's vectorised ``exp`` before the
    Numba pass: Numba's scalar ``exp`` took ~10 ms of a ~40 ms pass on OANC (35k tokens x
    43 labels), NumPy's ~2 ms.

    Returns
    -------
    dT : (K, K) summed edge marginals (minus observed transition counts when ``has_y``).
    n_log : number of sequences that took the log-space path.
    """
    if work is None:
        work = (np.empty(U.shape), np.empty(U.shape[0]))
    P, umax = work
    row_shift(U, P, umax)
    np.exp(P, out=P)
    return _chain_forward_backward(U, P, umax, T, offsets, y, chunks, has_y, out, values, use_log)


@njit(cache=True, nogil=True, parallel=True)
def _chain_forward_backward(U, P, umax, T, offsets, y, chunks, has_y, out, values, use_log):
    """:func:`chain_forward_backward` given P = exp(U - umax)."""
    K = U.shape[1]
    n_chunks = chunks.shape[0] - 1
    max_len = 1
    for i in range(offsets.shape[0] - 1):
        max_len = max(max_len, offsets[i + 1] - offsets[i])
    max_t = T[0, 0]
    for j in range(K):
        for k in range(K):
            max_t = max(max_t, T[j, k])
    M = np.exp(T - max_t)
    MT = np.ascontiguousarray(M.T)
    dT_parts = np.zeros((n_chunks, K, K))
    n_log = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        alpha = np.empty((max_len, K))
        beta = np.empty((max_len, K))
        scale = np.empty(max_len)
        tmp = np.empty(K)
        edge = np.empty((K, K))
        dT = dT_parts[c]
        for i in range(chunks[c], chunks[c + 1]):
            s, e = offsets[i], offsets[i + 1]
            ok = False
            if not use_log:
                v, ok = _scaled_sequence(
                    U, P, umax, T, M, MT, max_t, s, e, y, has_y, out, dT, alpha, beta, scale,
                    tmp, edge,
                )  # fmt: skip
            if not ok:
                v = _log_sequence(U, T, s, e, y, has_y, out, dT, alpha, beta, tmp)
                n_log[c] += 1
            values[i] = v
    dT = np.zeros((K, K))
    for c in range(n_chunks):
        dT += dT_parts[c]
    return dT, n_log.sum()


@njit(cache=True, nogil=True, parallel=True)
def chain_viterbi(U, T, offsets, chunks, labels):
    """Most probable label sequence of every sequence (max-product in log space).

    Writes ``labels`` (n_tokens,) and returns the best score per sequence.
    """
    K = U.shape[1]
    n_seq = offsets.shape[0] - 1
    n_chunks = chunks.shape[0] - 1
    best = np.empty(n_seq)
    max_len = 1
    for i in range(n_seq):
        max_len = max(max_len, offsets[i + 1] - offsets[i])
    for c in prange(n_chunks):
        delta = np.empty((max_len, K))
        back = np.empty((max_len, K), dtype=np.int64)
        for i in range(chunks[c], chunks[c + 1]):
            s, e = offsets[i], offsets[i + 1]
            n = e - s
            for k in range(K):
                delta[0, k] = U[s, k]
            for t in range(1, n):
                for k in range(K):
                    arg = 0
                    mx = delta[t - 1, 0] + T[0, k]
                    for j in range(1, K):
                        v = delta[t - 1, j] + T[j, k]
                        if v > mx:
                            mx = v
                            arg = j
                    delta[t, k] = mx + U[s + t, k]
                    back[t, k] = arg
            arg = 0
            for k in range(1, K):
                if delta[n - 1, k] > delta[n - 1, arg]:
                    arg = k
            best[i] = delta[n - 1, arg]
            for t in range(n - 1, -1, -1):
                labels[s + t] = arg
                if t > 0:
                    arg = back[t, arg]
    return best


@njit(cache=True, nogil=True, parallel=True, fastmath=_FAST)
def csr_matmul(indptr, indices, data, W, row_used, U):
    """U = X @ W for CSR ``X`` (n x d) and dense ``W`` (d x K), parallel over rows.

    Attributes with ``row_used[a] == False`` (an all-zero row of W, common under L1) are
    skipped, so the cost follows the model's sparsity as well as the data's. ``U``
    (n x K) is overwritten: the solver passes the same buffer every evaluation (a fresh
    n x K array cost ~3 ms of page faults per evaluation on OANC).
    """
    n = indptr.shape[0] - 1
    K = W.shape[1]
    for t in prange(n):
        for k in range(K):
            U[t, k] = 0.0
        for p in range(indptr[t], indptr[t + 1]):
            a = indices[p]
            if not row_used[a]:
                continue
            x = data[p]
            for k in range(K):
                U[t, k] += x * W[a, k]
    return U


@njit(cache=True, nogil=True, parallel=True, fastmath=_FAST)
def csr_pairs_matmul(indptr, indices, data, pair_ptr, pair_label, wp, row_used, U):
    """U = X W where W (d x K) is given by its listed entries only (observed pairs).

    Attribute ``a`` owns the weights ``wp[pair_ptr[a]:pair_ptr[a+1]]`` for the labels
    ``pair_label[...]``; every other entry of W is zero. Attributes with ``row_used[a]``
    false (all their weights zero) are skipped. ``U`` (n x K) is overwritten.
    """
    n = indptr.shape[0] - 1
    K = U.shape[1]
    for t in prange(n):
        for k in range(K):
            U[t, k] = 0.0
        for p in range(indptr[t], indptr[t + 1]):
            a = indices[p]
            if not row_used[a]:
                continue
            x = data[p]
            for q in range(pair_ptr[a], pair_ptr[a + 1]):
                U[t, pair_label[q]] += x * wp[q]
    return U


@njit(cache=True, nogil=True, parallel=True, fastmath=_FAST)
def csr_rows_pairs(t_indptr, t_indices, t_data, D, rows, pair_ptr, pair_label, out, n_tasks):
    """out[q] = (Xᵀ D)[a, pair_label[q]] for the pairs q of every attribute a in ``rows``.

    Feature-major over Xᵀ in CSR: each task owns its attributes' outputs, so no per-thread
    n_attributes x K buffer is zeroed or summed, and only listed pairs are written (the
    gradient in the observed-pairs mode, or over a working set). An attribute with few
    pairs gathers just those labels from D (most lexical attributes have one or two); one
    with many accumulates the whole K-row, in a buffer allocated once per task (``n_tasks``
    contiguous groups of rows; a few per thread).
    """
    K = D.shape[1]
    n_rows = rows.shape[0]
    n_tasks = max(1, min(n_rows, n_tasks))
    step = (n_rows + n_tasks - 1) // n_tasks
    for b in prange(n_tasks):
        acc = np.empty(K)
        for r in range(b * step, min(n_rows, (b + 1) * step)):
            a = rows[r]
            q0, q1 = pair_ptr[a], pair_ptr[a + 1]
            if q1 - q0 <= _GATHER_PAIRS:
                for q in range(q0, q1):
                    k = pair_label[q]
                    s = 0.0
                    for p in range(t_indptr[a], t_indptr[a + 1]):
                        s += t_data[p] * D[t_indices[p], k]
                    out[q] = s
                continue
            for k in range(K):
                acc[k] = 0.0
            for p in range(t_indptr[a], t_indptr[a + 1]):
                t = t_indices[p]
                x = t_data[p]
                for k in range(K):
                    acc[k] += x * D[t, k]
            for q in range(q0, q1):
                out[q] = acc[pair_label[q]]


@njit(cache=True, nogil=True, parallel=True, fastmath=_FAST)
def csr_t_matmul(indptr, indices, data, D, n_cols, n_parts):
    """G = Xᵀ D (n_cols x K) for CSR ``X``, token-major with one buffer per part.

    Reads each row of D once (the feature-major order re-reads D once per attribute,
    3x slower on OCR); ``n_parts`` buffers of n_cols x K are summed at the end.
    """
    n = indptr.shape[0] - 1
    K = D.shape[1]
    parts = np.zeros((n_parts, n_cols, K))
    step = (n + n_parts - 1) // n_parts
    for c in prange(n_parts):
        G = parts[c]
        for t in range(c * step, min(n, (c + 1) * step)):
            for p in range(indptr[t], indptr[t + 1]):
                a = indices[p]
                x = data[p]
                for k in range(K):
                    G[a, k] += x * D[t, k]
    out = parts[0].copy()
    for c in range(1, n_parts):
        out += parts[c]
    return out


@njit(cache=True, nogil=True, parallel=True, fastmath=_FAST)
def csr_rows_dot(t_indptr, t_indices, t_data, D, rows):
    """G[r] = sum_t X[t, rows[r]] * D[t] from Xᵀ in CSR (the feature-indexed layout).

    Computes only the attributes in ``rows``: the partial gradient over a working set.
    """
    K = D.shape[1]
    G = np.zeros((rows.shape[0], K))
    for r in prange(rows.shape[0]):
        a = rows[r]
        acc = np.zeros(K)  # a local accumulator stays in registers; G[r] would not
        for p in range(t_indptr[a], t_indptr[a + 1]):
            t = t_indices[p]
            x = t_data[p]
            for k in range(K):
                acc[k] += x * D[t, k]
        G[r] = acc
    return G


@njit(cache=True, nogil=True, fastmath=_FAST)
def cd_quadratic_l1(w, g, Q, Qh, gamma, lam, d, dh, max_passes, tol, seed):
    """Randomised coordinate descent on min_d gᵀd + ½dᵀBd + lam*||w + d||_1.

    ``B = gamma*I - Q Qhᵀ`` is the compact L-BFGS matrix restricted to the working set:
    ``Q`` (n x r) holds the rows of [gamma*S, Y] and ``Qh`` (n x r) the rows of
    (R [gamma*S, Y]ᵀ)ᵀ. ``dh = Qhᵀ d`` is kept up to date, so each coordinate costs O(r).
    ``d`` and ``dh`` are updated in place (warm start). Stops after ``max_passes`` passes or
    when a pass moves no coordinate by more than ``tol * max|d|``. Returns passes done.
    """
    n, r = Q.shape
    diag = np.empty(n)
    for i in range(n):
        acc = 0.0
        for q in range(r):
            acc += Q[i, q] * Qh[i, q]
        diag[i] = gamma - acc
    # Numba's njit RNG is the legacy per-thread one (Generator objects do not compile).
    np.random.seed(seed)  # noqa: NPY002
    passes = 0
    for _ in range(max_passes):
        passes += 1
        order = np.random.permutation(n)  # noqa: NPY002
        max_step = 0.0
        max_d = 0.0
        for idx in range(n):
            i = order[idx]
            a = diag[i]
            b = g[i] + gamma * d[i]
            for q in range(r):
                b -= Q[i, q] * dh[q]
            c = w[i] + d[i]
            u = c - b / a
            thr = lam / a
            if u > thr:
                z = u - thr - c
            elif u < -thr:
                z = u + thr - c
            else:
                z = -c
            if z != 0.0:
                d[i] += z
                for q in range(r):
                    dh[q] += z * Qh[i, q]
                if abs(z) > max_step:
                    max_step = abs(z)
            if abs(d[i]) > max_d:
                max_d = abs(d[i])
        if max_step <= tol * max_d:
            break
    return passes
