"""Numba hot loops of the boolean-QP solver; :mod:`._reference` holds their NumPy twins.

Notation (LFL, Yen et al. ICML 2017, §4; Wang, Chang, Kolter, "The Mixing method"): the
{0,1} problem max z'Cz + b'z is homogenised to max over (y0, y) in {-1,1}^(n+1) of
y^'Q y with Q = [[q00, h'], [h, C/4]], h = (C1 + b)/4. Row 0 of the (n+1) x k matrix ``V``
is the homogenising vector v0, row i >= 1 is v_i for variable i - 1.

Low-rank path: C = P diag(w) P' with P (n x D) and weights w (D,) (w = 1 gives PSD C = PP').
The mixing step for coordinate i >= 1 needs g_i = sum_{j != i} Q_ij v_j
= (S diag(w) P_i' - C_ii v_i) / 4 + h_i v0 with S = V[1:]' P (k x D), kept up to date by
rank-1 updates S += (v_i_new - v_i_old) P_i; s0 = sum_i h_i v_i likewise. One coordinate
costs O(D k), a sweep O(n D k); C is never formed. The diagonal C_ii is excluded.

Dense path: C given as an n x n array, g_i = (C_i V[1:] - C_ii v_i) / 4 + h_i v0, O(n k).

The sweeps are sequential (Gauss-Seidel). The roundings and row encodings are independent;
they run on Python threads over slices (``nogil`` kernels, see :func:`threaded`) rather than
Numba's ``prange``: a process that used Numba's GNU-OpenMP layer cannot safely ``fork``, and
``leanml run``/``compare`` fork a child per model.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _align_y0(V, s0):
    """The homogenising coordinate's update: v_0 = s_0 / ||s_0|| (kept if s_0 = 0)."""
    nrm = 0.0
    for c in range(s0.shape[0]):
        nrm += s0[c] * s0[c]
    if nrm > 0.0:
        nrm = np.sqrt(nrm)
        for c in range(s0.shape[0]):
            V[0, c] = s0[c] / nrm


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def sweep_lowrank(P, w, cdiag, h, V, S, s0, order):
    """One Gauss-Seidel mixing sweep over the coordinates in ``order`` (0..n), in place.

    S is kept as the k x D matrix V[1:]' P so that both the mat-vec g = S (w * P_i) and the
    rank-1 update S += delta P_i' run over contiguous rows of length D (SIMD; the sums may be
    reassociated, which changes results only at rounding level). The update of S for
    coordinate i and the mat-vec of the next coordinate share one pass over S.

    Parameters
    ----------
    P : (n, D) float64, C = P diag(w) P'
    w : (D,) float64
    cdiag : (n,) float64, C_ii
    h : (n,) float64, linear coupling to the homogenising spin
    V : (n + 1, k) float64 unit rows, updated
    S : (k, D) float64 = V[1:]' P, updated
    s0 : (k,) float64 = V[1:]' h, updated
    order : (n + 1,) int64 permutation of 0..n
    """
    D = P.shape[1]
    k = V.shape[1]
    T = order.shape[0]
    g = np.empty(k)
    delta = np.empty(k)
    pw = np.empty(D)
    have_g = False  # g already holds S (w * P_i) for this coordinate (fused pass)
    for t in range(T):
        i = order[t]
        if i == 0:
            _align_y0(V, s0)
            have_g = False
            continue
        r = i - 1
        if not have_g:
            for d in range(D):
                pw[d] = P[r, d] * w[d]
            for c in range(k):
                acc = 0.0
                for d in range(D):
                    acc += pw[d] * S[c, d]
                g[c] = acc
        hr = h[r]
        nrm = 0.0
        for c in range(k):
            g[c] = 0.25 * (g[c] - cdiag[r] * V[i, c]) + hr * V[0, c]
            nrm += g[c] * g[c]
        if nrm <= 0.0:
            have_g = False
            continue
        nrm = np.sqrt(nrm)
        for c in range(k):
            new = g[c] / nrm
            delta[c] = new - V[i, c]
            V[i, c] = new
        for c in range(k):
            s0[c] += hr * delta[c]
        nxt = order[t + 1] if t + 1 < T else 0
        if nxt > 0:  # update S and compute the next coordinate's mat-vec in one pass
            rn = nxt - 1
            for d in range(D):
                pw[d] = P[rn, d] * w[d]
            for c in range(k):
                dc = delta[c]
                acc = 0.0
                for d in range(D):
                    sv = S[c, d] + dc * P[r, d]
                    S[c, d] = sv
                    acc += pw[d] * sv
                g[c] = acc
            have_g = True
        else:
            for c in range(k):
                dc = delta[c]
                for d in range(D):
                    S[c, d] += dc * P[r, d]
            have_g = False


@njit(cache=True, nogil=True)
def sweep_dense(C, h, V, s0, order):
    """One mixing sweep with a dense symmetric C (n x n), in place; see :func:`sweep_lowrank`."""
    n = C.shape[0]
    k = V.shape[1]
    g = np.empty(k)
    for t in range(order.shape[0]):
        i = order[t]
        if i == 0:
            _align_y0(V, s0)
            continue
        r = i - 1
        for c in range(k):
            g[c] = 0.0
        for j in range(n):
            a = C[r, j]
            if a != 0.0 and j != r:
                for c in range(k):
                    g[c] += a * V[j + 1, c]
        hr = h[r]
        nrm = 0.0
        for c in range(k):
            g[c] = 0.25 * g[c] + hr * V[0, c]
            nrm += g[c] * g[c]
        if nrm <= 0.0:
            continue
        nrm = np.sqrt(nrm)
        for c in range(k):
            new = g[c] / nrm
            s0[c] += hr * (new - V[i, c])
            V[i, c] = new


@njit(cache=True, nogil=True, inline="always")
def _round_one(V, r, z):
    """z = (1 + y0 * sign(V r)) / 2 for the variables 1..n (sign(0) taken as +1)."""
    k = V.shape[1]
    p0 = 0.0
    for c in range(k):
        p0 += V[0, c] * r[c]
    y0 = 1.0 if p0 >= 0.0 else -1.0
    for i in range(1, V.shape[0]):
        p = 0.0
        for c in range(k):
            p += V[i, c] * r[c]
        y = 1.0 if p >= 0.0 else -1.0
        z[i - 1] = 1 if y * y0 > 0.0 else 0


@njit(cache=True, nogil=True, inline="always", fastmath={"reassoc", "contract"})
def _value_lowrank(P, w, b, z, q):
    """z'Cz + b'z with C = P diag(w) P'; leaves q = P'z."""
    D = P.shape[1]
    for d in range(D):
        q[d] = 0.0
    lin = 0.0
    for i in range(z.shape[0]):
        if z[i]:
            lin += b[i]
            for d in range(D):
                q[d] += P[i, d]
    quad = 0.0
    for d in range(D):
        quad += w[d] * q[d] * q[d]
    return quad + lin


@njit(cache=True, nogil=True, inline="always", fastmath={"reassoc", "contract"})
def _local_lowrank(P, w, cdiag, b, z, q, val, max_passes):
    """First-improvement 1-flip search from z (q = P'z, val its value); returns the value.

    Flipping z_i by delta = 1 - 2 z_i changes the value by delta * (2 (Cz)_i + b_i) + C_ii,
    with (Cz)_i = P_i diag(w) q in O(D); a pass costs O(n D).
    """
    n, D = P.shape
    for _ in range(max_passes):
        improved = False
        for i in range(n):
            cz = 0.0
            for d in range(D):
                cz += P[i, d] * w[d] * q[d]
            delta = 1.0 - 2.0 * z[i]
            gain = delta * (2.0 * cz + b[i]) + cdiag[i]
            if gain > 1e-12 * (1.0 + abs(val)):
                z[i] = 1 - z[i]
                for d in range(D):
                    q[d] += delta * P[i, d]
                val += gain
                improved = True
        if not improved:
            break
    return val


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def round_lowrank(P, w, cdiag, b, V, R, max_passes):
    """Random-hyperplane roundings, one per column of R (k x T), each polished by 1-flip
    local search (``max_passes`` = 0 turns it off). Independent per column: the caller
    runs slices of R on several threads (the kernels release the GIL).

    Returns Z (T x n) uint8 and values (T,) of z'Cz + b'z.
    """
    n, D = P.shape
    T = R.shape[1]
    Z = np.zeros((T, n), dtype=np.uint8)
    vals = np.empty(T)
    for t in range(T):
        z = Z[t]
        q = np.empty(D)
        _round_one(V, R[:, t], z)
        val = _value_lowrank(P, w, b, z, q)
        if max_passes > 0:
            val = _local_lowrank(P, w, cdiag, b, z, q, val, max_passes)
        vals[t] = val
    return Z, vals


@njit(cache=True, nogil=True)
def round_dense(C, b, V, R, max_passes):
    """:func:`round_lowrank` for a dense C; local search keeps u = Cz, O(n) per flip."""
    n = C.shape[0]
    T = R.shape[1]
    Z = np.zeros((T, n), dtype=np.uint8)
    vals = np.empty(T)
    for t in range(T):
        z = Z[t]
        _round_one(V, R[:, t], z)
        u = np.zeros(n)
        lin = 0.0
        for j in range(n):
            if z[j]:
                lin += b[j]
                for i in range(n):
                    u[i] += C[i, j]
        val = lin
        for i in range(n):
            if z[i]:
                val += u[i]
        for _ in range(max_passes):
            improved = False
            for i in range(n):
                delta = 1.0 - 2.0 * z[i]
                gain = delta * (2.0 * u[i] + b[i]) + C[i, i]
                if gain > 1e-12 * (1.0 + abs(val)):
                    z[i] = 1 - z[i]
                    for j in range(n):
                        u[j] += delta * C[j, i]
                    val += gain
                    improved = True
            if not improved:
                break
        vals[t] = val
    return Z, vals


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def polish_lowrank(P, w, cdiag, b, Z, max_passes):
    """1-flip local search on each row of Z (T x n, uint8, in place); returns Z, values."""
    D = P.shape[1]
    T = Z.shape[0]
    vals = np.empty(T)
    q = np.empty(D)
    for t in range(T):
        z = Z[t]
        val = _value_lowrank(P, w, b, z, q)
        vals[t] = _local_lowrank(P, w, cdiag, b, z, q, val, max_passes)
    return Z, vals


@njit(cache=True, nogil=True)
def exhaustive(C, b):
    """Exact max of z'Cz + b'z over {0,1}^n by Gray-code enumeration, O(2^n n).

    Returns the best z (uint8) and its value; ties keep the first in Gray order.
    """
    n = C.shape[0]
    z = np.zeros(n, dtype=np.uint8)
    u = np.zeros(n)
    best = 0.0
    best_z = z.copy()
    val = 0.0
    for step in range(1, 1 << n):
        # the bit that changes between Gray codes step - 1 and step
        i = 0
        s = step
        while (s & 1) == 0:
            s >>= 1
            i += 1
        delta = 1.0 - 2.0 * z[i]
        val += delta * (2.0 * u[i] + b[i]) + C[i, i]
        z[i] = 1 - z[i]
        for j in range(n):
            u[j] += delta * C[j, i]
        if val > best:
            best = val
            best_z[:] = z
    return best_z, best


@njit(cache=True, nogil=True)
def encode_rows(G, Bq, Z0, max_passes, exact):
    """Best code per row for fixed features: max_z -z'Gz + Bq[r]'z over {0,1}^K.

    With G = W W' (K x K) and Bq[r] = 2 W (x_r - intercept), this minimises
    ||x_r - intercept - W'z||^2 over binary z. ``exact`` enumerates all 2^K codes in Gray
    order, O(2^K K) per row; otherwise 1-flip local search (at most ``max_passes`` passes)
    from two starts, ``Z0[r]`` and the zero code, keeping the better.
    """
    N, K = Bq.shape
    Z = np.zeros((N, K), dtype=np.uint8)
    for r in range(N):
        b = Bq[r]
        z = np.zeros(K, dtype=np.uint8)
        u = np.zeros(K)
        if exact:
            best = 0.0
            val = 0.0
            for step in range(1, 1 << K):
                i = 0
                s = step
                while (s & 1) == 0:
                    s >>= 1
                    i += 1
                delta = 1.0 - 2.0 * z[i]
                val += delta * (-2.0 * u[i] + b[i]) - G[i, i]
                z[i] = 1 - z[i]
                for j in range(K):
                    u[j] += delta * G[j, i]
                if val > best:
                    best = val
                    Z[r, :] = z
            continue
        best = -np.inf
        for start in range(2):
            val = 0.0
            for i in range(K):
                z[i] = Z0[r, i] if start == 0 else 0
                u[i] = 0.0
            for i in range(K):
                if z[i]:
                    val += b[i]
                    for j in range(K):
                        u[j] += G[j, i]
            for i in range(K):
                if z[i]:
                    val -= u[i]
            for _ in range(max_passes):
                improved = False
                for i in range(K):
                    delta = 1.0 - 2.0 * z[i]
                    gain = delta * (-2.0 * u[i] + b[i]) - G[i, i]
                    if gain > 1e-12 * (1.0 + abs(val)):
                        z[i] = 1 - z[i]
                        for j in range(K):
                            u[j] += delta * G[j, i]
                        val += gain
                        improved = True
                if not improved:
                    break
            if val > best:
                best = val
                Z[r, :] = z
    return Z


def threaded(fn, split, *args, axis_arg, out_axis: int = 0):
    """Run ``fn(*args)`` on slices of ``args[axis_arg]`` along ``split`` on several threads.

    ``axis_arg`` is the index (or a tuple of indices) of the arguments to cut along axis
    ``split`` (1 for the k x T hyperplanes, 0 for the rows to encode); outputs (one array or
    a tuple) are concatenated along ``out_axis``.
    Uses as many threads as Numba's current thread count (capped by leanml's
    ``thread_limits`` / ``--threads``).
    """
    import numba

    cut = (axis_arg,) if isinstance(axis_arg, int) else tuple(axis_arg)
    n = args[cut[0]].shape[split]
    workers = max(1, min(numba.get_num_threads(), n // 8))
    if workers == 1:
        return fn(*args)
    from concurrent.futures import ThreadPoolExecutor

    bounds = np.linspace(0, n, workers + 1).astype(int)

    def part(j):
        a = list(args)
        for i in cut:
            sl = [slice(None)] * a[i].ndim
            sl[split] = slice(bounds[j], bounds[j + 1])
            a[i] = np.ascontiguousarray(a[i][tuple(sl)])
        return fn(*a)

    with ThreadPoolExecutor(workers) as ex:
        parts = list(ex.map(part, range(workers)))
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p, axis=out_axis) for p in zip(*parts, strict=True))
    return np.concatenate(parts, axis=out_axis)


def warm(fit_only: bool = False) -> None:
    """Compile (or load from Numba's cache) the kernels on a tiny problem, so that demos and
    benchmarks do not time the JIT. ``fit_only``: just the low-rank kernels BMP's fit uses.
    """
    rng = np.random.default_rng(0)
    P = rng.standard_normal((4, 3))
    w = np.ones(3)
    C = P @ P.T
    cdiag = np.diag(C).copy()
    b = rng.standard_normal(4)
    V = rng.standard_normal((5, 2))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    order = np.arange(5)
    R = rng.standard_normal((2, 3))
    sweep_lowrank(P, w, cdiag, b, V, V[1:].T @ P, b @ V[1:], order)
    round_lowrank(P, w, cdiag, b, V, R, 2)
    polish_lowrank(P, w, cdiag, b, np.zeros((2, 4), dtype=np.uint8), 2)
    if fit_only:
        return
    sweep_dense(C, b, V, b @ V[1:], order)
    round_dense(C, b, V, R, 2)
    exhaustive(C, b)
    Bq = rng.standard_normal((3, 4))
    encode_rows(C, Bq, np.zeros((3, 4), dtype=np.uint8), 2, True)
    encode_rows(C, Bq, np.zeros((3, 4), dtype=np.uint8), 2, False)
