"""Numba kernels: exact earth mover's distance (EMD) and batched WME distances.

The transport problem is ``min sum_ij f_ij C_ij`` over ``f >= 0`` with row sums ``a`` (the
document's n word weights) and column sums ``b`` (the D weights of the other document).
Both ``a`` and ``b`` must be non-negative and sum to the same total (callers normalise).

Solvers, dispatched by :func:`emd_cost` on the shape of the cost matrix:

- ``D == 1``: every source ships everything to the one sink, ``sum_i a_i C_i0``.
- ``D == 2``: a fractional knapsack: sink 0 takes the sources with the smallest
  ``C_i0 - C_i1`` first (sort, O(n log n)).
- ``D <= SSP_MAX_SINKS``: successive shortest paths *collapsed onto the D sinks*
  (:func:`_ssp`). Start from each word at its nearest sink under sink potentials (argmin_j
  ``C_ij - pot_j``, optimal for perturbed sink masses). Any residual path alternates
  sink -> source -> sink, so the residual graph collapses exactly onto D nodes with edge
  ``j -> k`` costing ``min_i (C_ik - C_ij)`` over the sources ``i`` that currently ship to
  ``j``. Dijkstra with node potentials on D nodes finds the cheapest surplus -> deficit
  path; only the rows of the sinks on that path are recomputed, each in O(n). Good start
  potentials leave few words to move: for ``D >= SWEEP_MIN_SINKS`` and n > 2 D one sweep
  of dual coordinate ascent (:func:`_dual_sweep`), and for n >= 16 D a solve on every 4th
  word first (:func:`_ssp_multilevel`).
- otherwise a transportation (network) simplex (:func:`_simplex`) with block-search
  pricing, used for large general pairs (both documents long).

Everything here is float64; the plain NumPy/scipy references live in ``_reference.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Largest smaller side the collapsed SSP solver takes; above it, the network simplex.
#: Measured: the SSP beats this simplex (NW-corner start) on every size up to 200 x 200.
SSP_MAX_SINKS = 128

#: From this many sinks on, the SSP starts from a sweep of dual coordinate ascent. Measured
#: (n = 10..500, d = 300 Gaussian, problems cycled): faster from D = 8 on (1.4x-1.6x at
#: D = 15), neutral at D = 6, slower at D = 3. On GloVe cost matrices (0.2.1, 1 thread, load
#: 2.5-3, each variant in its own process, twice) it pays at D = 6 too: 50 x 6 7.8 -> 6.4 us
#: and 12.2 -> 7.9 us, 200 x 6 21 -> 18 us and 32 -> 27 us, never slower.
SWEEP_MIN_SINKS = 6
#: ... and only when the (coarsest level's) words outnumber the sinks by more than this:
#: on problems about as long as wide the sweep costs more than it saves. Measured (d = 300
#: Gaussian, 20 problems cycled, 1 thread, load 8): sweep vs none at 10 x 10 6.0 vs 4.3 us,
#: 20 x 10 18 vs 6.5 us, 20 x 15 47 vs 41 us, 21 x 21 44 vs 41 us; at 50 x 21 184 vs 241 us
#: and 100 x 21 103 vs 136 us the sweep pays.
SWEEP_MIN_RATIO = 2

# Status codes returned next to a cost: 0 optimal, 1 iteration limit hit.
OK = 0
ITERATION_LIMIT = 1


@njit(cache=True, nogil=True)
def emd_d1(a: np.ndarray, C: np.ndarray) -> float:
    """Closed form for one sink: all mass goes to it."""
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * C[i, 0]
    return total


@njit(cache=True, nogil=True)
def emd_d2(a: np.ndarray, b: np.ndarray, C: np.ndarray) -> float:
    """Closed form for two sinks: fill sink 0 greedily by ``C_i0 - C_i1`` (fractional knapsack).

    The cost is ``sum_i a_i C_i1 + sum_i f_i0 (C_i0 - C_i1)`` with ``0 <= f_i0 <= a_i`` and
    ``sum_i f_i0 = b_0``: taking the smallest differences first is optimal.
    """
    n = a.shape[0]
    diff = np.empty(n)
    base = 0.0
    for i in range(n):
        diff[i] = C[i, 0] - C[i, 1]
        base += a[i] * C[i, 1]
    order = np.argsort(diff)
    need = b[0]
    for t in range(n):
        if need <= 0.0:
            break
        i = order[t]
        take = a[i] if a[i] < need else need
        base += take * diff[i]
        need -= take
    return base


@njit(cache=True, nogil=True)
def _rescan(j: int, k: int, C: np.ndarray, W: np.ndarray, A: np.ndarray, mem, cnt) -> None:
    """Recompute one collapsed edge ``W[j, k] = min_{i in sink j} C_ik - C_ij`` (argmin in A)."""
    best = np.inf
    arg = -1
    for p in range(cnt[j]):
        i = mem[j, p]
        c = C[i, k] - C[i, j]
        if c < best:
            best = c
            arg = i
    W[j, k] = best
    A[j, k] = arg


@njit(cache=True, nogil=True)
def _join(i: int, k: int, C: np.ndarray, W: np.ndarray, A: np.ndarray, mem, cnt, pos) -> None:
    """Source i starts shipping to sink k: add it to k's members and relax k's edges."""
    D = C.shape[1]
    mem[k, cnt[k]] = i
    pos[i, k] = cnt[k]
    cnt[k] += 1
    cik = C[i, k]
    for m in range(D):
        if m != k:
            c = C[i, m] - cik
            if c < W[k, m]:
                W[k, m] = c
                A[k, m] = i


@njit(cache=True, nogil=True)
def _leave(i: int, j: int, C: np.ndarray, W: np.ndarray, A: np.ndarray, mem, cnt, pos) -> None:
    """Source i stops shipping to sink j: swap-remove it; rescan only the edges it defined."""
    D = C.shape[1]
    p = pos[i, j]
    last = mem[j, cnt[j] - 1]
    mem[j, p] = last
    pos[last, j] = p
    cnt[j] -= 1
    for k in range(D):
        if A[j, k] == i:
            _rescan(j, k, C, W, A, mem, cnt)


@njit(cache=True, nogil=True)
def _split_below(t: np.ndarray, w: np.ndarray, lo: int, hi: int, p: float, eq: bool):
    """Move the ``t < p`` (``t <= p`` with ``eq``) of ``t[lo:hi]`` to the front.

    Returns the end of that block and its weight. Only the block's entries are swapped, and
    for a low pivot the test is mostly false, so the branch predicts well.
    """
    lt = lo
    w_lt = 0.0
    for i in range(lo, hi):
        x = t[i]
        if x < p or (eq and x == p):
            y = w[i]
            t[i] = t[lt]
            w[i] = w[lt]
            t[lt] = x
            w[lt] = y
            lt += 1
            w_lt += y
    return lt, w_lt


@njit(cache=True, nogil=True)
def _weighted_quantile(t: np.ndarray, w: np.ndarray, m: int, target: float, mass: float) -> float:
    """Smallest ``t_q`` in ``t[:m]`` with ``sum(w_i : t_i <= t_q) >= target``; permutes t, w.

    Quickselect, expected O(m); ``mass`` is ``sum(w[:m])``. The sweep mostly asks for a
    small share of a long range (a sink takes a few words from all the others): below 1/8
    of the mass the pivot is the smallest of 8 samples, so the first partition keeps about
    1/9 of the range instead of half. A target above the total mass gives the largest value.
    """
    lo = 0
    hi = m
    while hi - lo > 1:
        if 8.0 * target < mass and hi - lo >= 32:
            step = (hi - lo) // 8
            p = t[lo]
            for r in range(1, 8):
                if t[lo + r * step] < p:
                    p = t[lo + r * step]
        else:  # median of three
            x = t[lo]
            y = t[(lo + hi) // 2]
            z = t[hi - 1]
            if x > y:
                x, y = y, x
            if y > z:
                y = z
            p = y if y > x else x
        lt, w_lt = _split_below(t, w, lo, hi, p, False)
        if w_lt >= target and lt > lo:
            hi = lt
            mass = w_lt
        elif lt > lo:
            target -= w_lt
            mass -= w_lt
            lo = lt
        else:  # p is the smallest value left: split off its copies so the range shrinks
            le, w_eq = _split_below(t, w, lo, hi, p, True)
            if w_eq >= target or le == hi:
                return p
            target -= w_eq
            mass -= w_eq
            lo = le
    return t[lo]


@njit(cache=True, nogil=True)
def _best_sink(i: int, skip: int, C: np.ndarray, v: np.ndarray) -> tuple[float, int]:
    """``min_k C_ik - v_k`` over sinks ``k != skip`` and its argmin."""
    bc = np.inf
    best = -1
    for k in range(C.shape[1]):
        c = C[i, k] - v[k]
        if c < bc and k != skip:
            bc = c
            best = k
    return bc, best


@njit(cache=True, nogil=True)
def _dual_sweep(
    a: np.ndarray,
    b: np.ndarray,
    C: np.ndarray,
    v: np.ndarray,
    val: np.ndarray,
    arg: np.ndarray,
    tw: np.ndarray,
) -> None:
    """One sweep of exact coordinate ascent on the sink potentials ``v`` (better SSP start).

    The SSP moves about one word per augmentation; from ``v = 0`` (nearest sink) most words
    move. Any ``v`` is a valid start, and the closer it is to optimal the fewer words move.
    The dual ``g(v) = sum_j b_j v_j + sum_i a_i min_k (C_ik - v_k)`` is maximised over one
    ``v_j`` at a time: word i sits at sink j iff ``v_j > t_i = C_ij - min_{k != j} (C_ik -
    v_k)``, so the best ``v_j`` is the weighted ``b_j``-quantile of t (sink j then holds mass
    ``b_j`` up to one word). Only the side of the old ``v_j`` that holds it is searched.
    Each word keeps its best sink; the best sink other than j is only needed for the words
    at j, found by a scan of their rows, so a sweep is O(n D). Buffers: ``val`` (2, n)
    float, ``arg`` (2, n) int (best and, for the words at the current sink, second best),
    ``tw`` (2, n) float.
    """
    n, D = C.shape
    t = tw[0]
    w = tw[1]
    total = 0.0
    for i in range(n):
        total += a[i]
        val[0, i], arg[0, i] = _best_sink(i, -1, C, v)
    for j in range(D):
        # The words with t_i < v_j (at j) fill t from the front, the others from the back.
        vj = v[j]
        lo = 0
        hi = n
        held = 0.0
        for i in range(n):
            if a[i] > 0.0:
                if arg[0, i] == j:
                    val[1, i], arg[1, i] = _best_sink(i, j, C, v)
                    ti = C[i, j] - val[1, i]
                else:
                    ti = C[i, j] - val[0, i]
                if ti < vj:
                    t[lo] = ti
                    w[lo] = a[i]
                    lo += 1
                    held += a[i]
                else:
                    hi -= 1
                    t[hi] = ti
                    w[hi] = a[i]
        if held >= b[j]:
            if lo > 0:
                v[j] = _weighted_quantile(t, w, lo, b[j], held)
        elif hi < n:
            v[j] = _weighted_quantile(t[hi:], w[hi:], n - hi, b[j] - held, total - held)
        vj = v[j]
        for i in range(n):
            if a[i] > 0.0:
                x = C[i, j] - vj
                if arg[0, i] == j:
                    if x > val[1, i]:
                        val[0, i] = val[1, i]
                        arg[0, i] = arg[1, i]
                    else:
                        val[0, i] = x
                elif x < val[0, i]:
                    val[0, i] = x
                    arg[0, i] = j


@njit(cache=True, nogil=True)
def _dijkstra(
    W: np.ndarray,
    excess: np.ndarray,
    pot: np.ndarray,
    dist: np.ndarray,
    key: np.ndarray,
    pred: np.ndarray,
    tol: float,
) -> tuple[int, float]:
    """Nearest deficit sink from the surplus sinks, on reduced costs ``W + pot_j - pot_k``.

    Returns it and its distance (-1 and inf if none is reachable); fills ``dist`` (final for
    the settled sinks, which are those closer than it) and the tree ``pred``. ``key`` is
    ``dist`` for unsettled sinks and inf for settled ones. Missing edges have ``W = inf``,
    and a settled sink is never improved (its distance is at most the current one), so the
    relaxation needs no tests and compiles to selects (its outcomes are erratic branches).
    """
    D = W.shape[0]
    for j in range(D):
        pred[j] = -1
        dist[j] = 0.0 if excess[j] > tol else np.inf
        key[j] = dist[j]
    while True:
        u = -1
        du = np.inf
        for k in range(D):
            if key[k] < du:
                du = key[k]
                u = k
        if u < 0:
            return -1, np.inf
        if excess[u] < -tol:
            return u, du
        key[u] = np.inf
        pu = pot[u]
        for k in range(D):
            rc = W[u, k] + pu - pot[k]
            nd = du + (rc if rc > 0.0 else 0.0)  # rc < 0 is rounding: reduced costs are >= 0
            better = nd < dist[k]
            dist[k] = nd if better else dist[k]
            key[k] = nd if better else key[k]
            pred[k] = u if better else pred[k]


@njit(cache=True, nogil=True)
def _ssp(
    a: np.ndarray,
    b: np.ndarray,
    C: np.ndarray,
    F: np.ndarray,
    W: np.ndarray,
    A: np.ndarray,
    mem: np.ndarray,
    pos: np.ndarray,
    ivec: np.ndarray,
    fvec: np.ndarray,
    max_aug: int,
    warm: bool = False,
) -> tuple[float, int]:
    """Collapsed successive-shortest-path solver on n sources and D sinks.

    Work arrays (any contents): ``F`` (n, D) receives the optimal plan; ``W`` (D, D) float,
    ``A`` (D, D) int: collapsed edge costs and their argmin source; ``mem`` (D, n) and
    ``pos`` (n, D) int: the sources shipping to each sink and their slots; ``ivec``
    (4, D + 1) int; ``fvec`` (4, D) float. Returns ``(cost, status)``.
    With ``warm``, ``fvec[1]`` holds sink potentials to start from (else zeros); on return it
    holds the final potentials.

    Each augmentation costs O(D^2) for Dijkstra plus, per sink on the path, O(D) for a
    source joining it and O(n / D) per edge whose argmin source left it.
    """
    n, D = C.shape
    cnt = ivec[0]
    pred = ivec[1]
    nodes = ivec[2]
    srcs = ivec[3]
    excess = fvec[0]
    pot = fvec[1]
    dist = fvec[2]
    key = fvec[3]
    total = 0.0
    for j in range(D):
        total += b[j]
    # Masses below this are rounding residue of sum(a) - sum(b), not transport.
    tol = 1e-13 * total
    for j in range(D):
        excess[j] = -b[j]
        if not warm:
            pot[j] = 0.0
        cnt[j] = 0
        for k in range(D):
            W[j, k] = np.inf
            A[j, k] = -1
    # Start: every word at the sink minimising C_ij - pot_j: the optimum for the sink masses
    # this produces, so all reduced costs are >= 0 (pot = 0: the nearest sink, as in RWMD).
    for i in range(n):
        best = 0
        bc = C[i, 0] - pot[0]
        for k in range(1, D):
            c = C[i, k] - pot[k]
            if c < bc:
                bc = c
                best = k
        for k in range(D):
            F[i, k] = 0.0
        F[i, best] = a[i]
        excess[best] += a[i]
        if a[i] > 0.0:
            _join(i, best, C, W, A, mem, cnt, pos)
    status = OK
    for _ in range(max_aug):
        any_surplus = False
        for j in range(D):
            if excess[j] > tol:
                any_surplus = True
        if not any_surplus:
            break
        target, d_t = _dijkstra(W, excess, pot, dist, key, pred, tol)
        if target < 0:
            # Only rounding residue is left when the deficits are all below tolerance.
            left = 0.0
            for j in range(D):
                if excess[j] > 0.0:
                    left += excess[j]
            if left > D * tol:
                status = ITERATION_LIMIT  # sum(a) != sum(b) beyond rounding
            break
        for j in range(D):
            pot[j] += dist[j] if dist[j] < d_t else d_t
        # The path as nodes[0..L] (surplus sink first) and the source moved on each edge.
        L = 0
        k = target
        while pred[k] >= 0:
            L += 1
            k = pred[k]
        k = target
        for t in range(L, 0, -1):
            nodes[t] = k
            srcs[t] = A[pred[k], k]
            k = pred[k]
        nodes[0] = k
        # A source moved on consecutive edges j -> k -> l just moves j -> l: its flow at k
        # is untouched and must not limit the step (else the step shrinks to that flow).
        delta = -excess[target]
        if excess[k] < delta:
            delta = excess[k]
        for t in range(1, L + 1):
            if t == 1 or srcs[t - 1] != srcs[t]:
                cap = F[srcs[t], nodes[t - 1]]
                if cap < delta:
                    delta = cap
        for t in range(1, L + 1):
            i = srcs[t]
            if t == L or srcs[t + 1] != i:
                if F[i, nodes[t]] == 0.0:
                    _join(i, nodes[t], C, W, A, mem, cnt, pos)
                F[i, nodes[t]] += delta
        for t in range(1, L + 1):
            i = srcs[t]
            if t == 1 or srcs[t - 1] != i:
                j = nodes[t - 1]
                moved = F[i, j] - delta
                if moved > tol * 1e-3:
                    F[i, j] = moved
                else:
                    F[i, j] = 0.0
                    _leave(i, j, C, W, A, mem, cnt, pos)
        excess[k] -= delta
        excess[target] += delta
    else:
        status = ITERATION_LIMIT
    cost = 0.0
    for i in range(n):
        for k in range(D):
            if F[i, k] > 0.0:
                cost += F[i, k] * C[i, k]
    return cost, status


@njit(cache=True, nogil=True)
def _ssp_multilevel(
    a: np.ndarray,
    b: np.ndarray,
    C: np.ndarray,
    Cbuf: np.ndarray,
    abuf: np.ndarray,
    Fbuf: np.ndarray,
    W: np.ndarray,
    A: np.ndarray,
    Mbuf: np.ndarray,
    Pbuf: np.ndarray,
    ivec: np.ndarray,
    fvec: np.ndarray,
    Sbuf: np.ndarray,
    Kbuf: np.ndarray,
) -> tuple[float, int]:
    """Collapsed SSP warm-started from the potentials of subsampled problems.

    Each augmentation moves about one word between sinks, and the nearest-sink start leaves
    O(n) words to move. Solving first on every 4th word (then every word), each level
    starting from the coarser level's sink potentials, leaves only the words near the
    boundaries to move. For ``D >= SWEEP_MIN_SINKS`` (and more than ``SWEEP_MIN_RATIO * D``
    words) the coarsest level starts from one
    sweep of dual coordinate ascent (:func:`_dual_sweep`) instead of zero potentials. Every
    level is an exact SSP from a valid start, so the result is exact. Buffers: ``Cbuf``,
    ``Fbuf``, ``Mbuf``, ``Pbuf`` of n * D entries, ``abuf`` of n, ``Sbuf`` of 4 n (float)
    and ``Kbuf`` of 2 n (int).
    """
    n, D = C.shape
    stride = 1
    while n // (stride * 4) >= 4 * D:
        stride *= 4
    fvec[1, :] = 0.0
    coarsest = True
    cost, status = 0.0, OK
    total = 0.0
    for j in range(D):
        total += b[j]
    while stride >= 1:
        if stride == 1:
            Cs = C
            As = a
            m = n
        else:
            m = (n + stride - 1) // stride
            Cs = Cbuf[: m * D].reshape((m, D))
            As = abuf[:m]
            mass = 0.0
            for t in range(m):
                As[t] = a[t * stride]
                mass += As[t]
                for k in range(D):
                    Cs[t, k] = C[t * stride, k]
            if mass <= 0.0:
                stride //= 4
                continue
            for t in range(m):
                As[t] *= total / mass
        if coarsest and D >= SWEEP_MIN_SINKS and m > SWEEP_MIN_RATIO * D:
            val = Sbuf[: 2 * m].reshape((2, m))
            arg = Kbuf[: 2 * m].reshape((2, m))
            _dual_sweep(As, b, Cs, fvec[1], val, arg, Sbuf[2 * m : 4 * m].reshape((2, m)))
        coarsest = False
        cost, status = _ssp(
            As,
            b,
            Cs,
            Fbuf[: m * D].reshape((m, D)),
            W,
            A,
            Mbuf[: m * D].reshape((D, m)),
            Pbuf[: m * D].reshape((m, D)),
            ivec,
            fvec,
            50 * (m + D) + 1000,
            True,
        )
        stride //= 4
    return cost, status


@njit(cache=True, nogil=True)
def emd_ssp(a: np.ndarray, b: np.ndarray, C: np.ndarray) -> tuple[float, int]:
    """Exact EMD by the collapsed SSP solver (multilevel warm start); allocates scratch.

    The inputs are copied into one float block that also holds the float scratch (the ints
    share a second block). On small problems a solve takes microseconds, and its time
    depended on where the caller's arrays and eleven separate scratch arrays happened to
    lie: the same 50 x 10 problem, copied to fresh arrays, took 11.4-22 us per copy in one
    process (at most 0.4 us spread with one block; 4K aliasing or cache-set conflicts are the
    likely cause).
    """
    n, D = C.shape
    nd = n * D
    f = np.empty(3 * nd + 6 * n + D + D * D + 4 * D)
    g = np.empty(2 * nd + 2 * n + D * D + 4 * (D + 1), dtype=np.int64)
    Cc = f[:nd].reshape((n, D))
    for i in range(n):
        for k in range(D):
            Cc[i, k] = C[i, k]
    ac = f[nd : nd + n]
    ac[:] = a
    o = nd + n
    bc = f[o : o + D]
    bc[:] = b
    o += D
    Cbuf, abuf, Fbuf = f[o : o + nd], f[o + nd : o + nd + n], f[o + nd + n : o + 2 * nd + n]
    o += 2 * nd + n
    W = f[o : o + D * D].reshape((D, D))
    fvec = f[o + D * D : o + D * D + 4 * D].reshape((4, D))
    Sbuf = f[o + D * D + 4 * D :]
    A = g[: D * D].reshape((D, D))
    o = D * D
    Mbuf, Pbuf = g[o : o + nd], g[o + nd : o + 2 * nd]
    o += 2 * nd
    ivec = g[o : o + 4 * (D + 1)].reshape((4, D + 1))
    Kbuf = g[o + 4 * (D + 1) :]
    return _ssp_multilevel(ac, bc, Cc, Cbuf, abuf, Fbuf, W, A, Mbuf, Pbuf, ivec, fvec, Sbuf, Kbuf)


@njit(cache=True, nogil=True)
def _tree(
    n: int,
    m: int,
    C: np.ndarray,
    bi: np.ndarray,
    bj: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    parent: np.ndarray,
    parc: np.ndarray,
    depth: np.ndarray,
    head: np.ndarray,
    nxt: np.ndarray,
    adj: np.ndarray,
    queue: np.ndarray,
) -> None:
    """Rebuild parent pointers, depths and potentials ``u_i + v_j = C_ij`` of the basis tree.

    Nodes are rows ``0..n-1`` and columns ``n..n+m-1``; the tree is rooted at row 0. A full
    O(n + m) breadth-first pass per pivot is simpler than thread-index updates and cheap
    next to pricing.
    """
    N = n + m
    for x in range(N):
        head[x] = -1
        parent[x] = -2
    for e in range(N - 1):
        r = bi[e]
        c = n + bj[e]
        adj[2 * e] = e
        nxt[2 * e] = head[r]
        head[r] = 2 * e
        adj[2 * e + 1] = e
        nxt[2 * e + 1] = head[c]
        head[c] = 2 * e + 1
    parent[0] = -1
    parc[0] = -1
    depth[0] = 0
    u[0] = 0.0
    queue[0] = 0
    qh = 0
    qt = 1
    while qh < qt:
        x = queue[qh]
        qh += 1
        s = head[x]
        while s >= 0:
            e = adj[s]
            y = n + bj[e] if x < n else bi[e]
            if parent[y] == -2:
                parent[y] = x
                parc[y] = e
                depth[y] = depth[x] + 1
                if y >= n:
                    v[y - n] = C[bi[e], bj[e]] - u[bi[e]]
                else:
                    u[y] = C[bi[e], bj[e]] - v[bj[e]]
                queue[qt] = y
                qt += 1
            s = nxt[s]


@njit(cache=True, nogil=True)
def emd_simplex(a: np.ndarray, b: np.ndarray, C: np.ndarray, max_iter: int) -> tuple[float, int]:
    """Exact EMD by the transportation simplex (a network simplex on the bipartite graph).

    Starts from the north-west-corner basis (a spanning tree of ``n + m - 1`` arcs, zero
    flows allowed), prices arcs in blocks of about ``sqrt(n m)`` and takes the most negative
    reduced cost in the first block that has one (as LEMON/POT do).
    """
    n, m = C.shape
    N = n + m
    bi = np.empty(N - 1, dtype=np.int64)
    bj = np.empty(N - 1, dtype=np.int64)
    fl = np.empty(N - 1)
    # North-west corner start.
    ra = a.copy()
    rb = b.copy()
    i = 0
    j = 0
    for e in range(N - 1):
        bi[e] = i
        bj[e] = j
        t = ra[i] if ra[i] < rb[j] else rb[j]
        if t < 0.0:
            t = 0.0
        fl[e] = t
        ra[i] -= t
        rb[j] -= t
        # Advance exactly one index per arc so the basis is a spanning tree.
        if i == n - 1:
            j += 1
        elif j == m - 1:
            i += 1
        elif ra[i] <= rb[j]:
            i += 1
        else:
            j += 1
    u = np.empty(n)
    v = np.empty(m)
    parent = np.empty(N, dtype=np.int64)
    parc = np.empty(N, dtype=np.int64)
    depth = np.empty(N, dtype=np.int64)
    head = np.empty(N, dtype=np.int64)
    nxt = np.empty(2 * N, dtype=np.int64)
    adj = np.empty(2 * N, dtype=np.int64)
    queue = np.empty(N, dtype=np.int64)
    side = np.empty(N, dtype=np.int64)
    sgn = np.empty(N, dtype=np.int64)
    cmax = 0.0
    for i in range(n):
        for j in range(m):
            if abs(C[i, j]) > cmax:
                cmax = abs(C[i, j])
    eps = 1e-12 * (cmax if cmax > 0.0 else 1.0)
    total = n * m
    block = max(int(np.sqrt(total)), 10)
    pos = 0
    status = ITERATION_LIMIT
    for _ in range(max_iter):
        _tree(n, m, C, bi, bj, u, v, parent, parc, depth, head, nxt, adj, queue)
        # Block-search pricing from where the previous scan stopped.
        best = -eps
        bk = -1
        scanned = 0
        while scanned < total:
            stop = min(scanned + block, total)
            while scanned < stop:
                i = pos // m
                j = pos - i * m
                r = C[i, j] - u[i] - v[j]
                if r < best:
                    best = r
                    bk = pos
                pos += 1
                if pos == total:
                    pos = 0
                scanned += 1
            if bk >= 0:
                break
        if bk < 0:
            status = OK
            break
        ei = bk // m
        ej = bk - ei * m
        # Cycle: tree path from column ej up to the LCA and down to row ei, plus the new arc.
        # Arcs at odd positions counted from the column end lose theta.
        x = n + ej
        y = ei
        nx = 0
        ny = 0
        while depth[x] > depth[y]:
            side[nx] = parc[x]
            nx += 1
            x = parent[x]
        while depth[y] > depth[x]:
            sgn[ny] = parc[y]
            ny += 1
            y = parent[y]
        while x != y:
            side[nx] = parc[x]
            nx += 1
            x = parent[x]
            sgn[ny] = parc[y]
            ny += 1
            y = parent[y]
        L = nx + ny
        theta = np.inf
        leave = -1
        for p in range(L):
            e = side[p] if p < nx else sgn[L - 1 - p]
            if p % 2 == 0 and fl[e] < theta:  # position p + 1 is odd
                theta = fl[e]
                leave = e
        for p in range(L):
            e = side[p] if p < nx else sgn[L - 1 - p]
            if p % 2 == 0:
                fl[e] -= theta
            else:
                fl[e] += theta
        bi[leave] = ei
        bj[leave] = ej
        fl[leave] = theta
    cost = 0.0
    for e in range(N - 1):
        if fl[e] > 0.0:
            cost += fl[e] * C[bi[e], bj[e]]
    return cost, status


@njit(cache=True, nogil=True)
def emd_cost(a: np.ndarray, b: np.ndarray, C: np.ndarray) -> tuple[float, int]:
    """Exact EMD, dispatched on the shape: closed forms, collapsed SSP or network simplex.

    The SSP collapses onto the smaller side, so a long document against a short one is
    always cheap; two long documents go to the network simplex.
    """
    n, m = C.shape
    if m == 1:
        return emd_d1(a, C), OK
    if n == 1:
        return emd_d1(b, C.T), OK
    if m == 2:
        return emd_d2(a, b, C), OK
    if n == 2:
        return emd_d2(b, a, C.T.copy()), OK
    if m <= SSP_MAX_SINKS and m <= n:
        return emd_ssp(a, b, C)
    if n <= SSP_MAX_SINKS:
        return emd_ssp(b, a, C.T.copy())
    return emd_simplex(a, b, C, 200 * (n + m) + 10_000)


@njit(cache=True, nogil=True)
def pair_costs(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Euclidean distances ``||x_i - y_j||`` summed coordinate by coordinate.

    Differences (not ``|x|^2 + |y|^2 - 2 x.y``) so that equal vectors give exactly 0.
    """
    n, d = X.shape
    m = Y.shape[0]
    out = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            s = 0.0
            for k in range(d):
                t = X[i, k] - Y[j, k]
                s += t * t
            out[i, j] = np.sqrt(s)
    return out


@njit(cache=True, nogil=True)
def _doc_vs_random(
    words: np.ndarray,
    wts: np.ndarray,
    G: np.ndarray,
    rptr: np.ndarray,
    out: np.ndarray,
    status: np.ndarray,
) -> None:
    """WMD of one document (rows ``words`` of G, weights ``wts``) to every random document."""
    n = words.shape[0]
    R = rptr.shape[0] - 1
    Dmax = 0
    for r in range(R):
        if rptr[r + 1] - rptr[r] > Dmax:
            Dmax = rptr[r + 1] - rptr[r]
    # Flat buffers reshaped per random document keep every work array contiguous.
    Cbuf = np.empty(n * Dmax)
    Csub = np.empty(n * Dmax)
    asub = np.empty(n)
    Fbuf = np.empty(n * Dmax)
    Wbuf = np.empty(Dmax * Dmax)
    Abuf = np.empty(Dmax * Dmax, dtype=np.int64)
    Mbuf = np.empty(n * Dmax, dtype=np.int64)
    Pbuf = np.empty(n * Dmax, dtype=np.int64)
    ivec = np.empty((4, Dmax + 1), dtype=np.int64)
    fvec = np.empty((4, Dmax))
    Sbuf = np.empty(4 * n)
    Kbuf = np.empty(2 * n, dtype=np.int64)
    bb = np.empty(Dmax)
    for r in range(R):
        s = rptr[r]
        D = rptr[r + 1] - s
        C = Cbuf[: n * D].reshape((n, D))
        for i in range(n):
            row = words[i]
            for k in range(D):
                C[i, k] = G[row, s + k]
        for k in range(D):
            bb[k] = 1.0 / D
        b = bb[:D]
        if D == 1:
            out[r] = emd_d1(wts, C)
        elif D == 2:
            out[r] = emd_d2(wts, b, C)
        elif n == 1:
            out[r] = emd_d1(b, C.T)
        else:
            c, st = _ssp_multilevel(
                wts,
                b,
                C,
                Csub,
                asub,
                Fbuf,
                Wbuf[: D * D].reshape((D, D)),
                Abuf[: D * D].reshape((D, D)),
                Mbuf,
                Pbuf,
                ivec[:, : D + 1],
                fvec[:, :D],
                Sbuf,
                Kbuf,
            )
            out[r] = c
            if st != OK:
                status[0] = st


@njit(cache=True, nogil=True, parallel=True)
def wmd_to_random_docs(
    indptr: np.ndarray,
    words: np.ndarray,
    weights: np.ndarray,
    G: np.ndarray,
    rptr: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """WMD of every document to every random document, in parallel over documents.

    Parameters
    ----------
    indptr, words, weights
        Documents in CSR form: document ``t`` has rows ``words[indptr[t]:indptr[t+1]]`` of
        ``G`` with weights (summing to 1) ``weights[...]``. Empty documents get ``inf``.
    G
        ``(n_words, total_random_words)`` ground costs, computed once per vocabulary word.
    rptr
        Random document ``r`` is columns ``rptr[r]:rptr[r+1]`` of ``G``, uniform weights.

    Returns
    -------
    dist : (n_docs, R) float64, status : (n_docs,) int64 (0 when every solve was optimal)
    """
    N = indptr.shape[0] - 1
    R = rptr.shape[0] - 1
    out = np.empty((N, R))
    status = np.zeros(N, dtype=np.int64)
    for t in prange(N):
        lo = indptr[t]
        hi = indptr[t + 1]
        if hi == lo:
            for r in range(R):
                out[t, r] = np.inf
            continue
        _doc_vs_random(words[lo:hi], weights[lo:hi], G, rptr, out[t], status[t : t + 1])
    return out, status


@njit(cache=True, nogil=True, parallel=True)
def wmd_pairs(
    indptr_a: np.ndarray,
    words_a: np.ndarray,
    weights_a: np.ndarray,
    indptr_b: np.ndarray,
    words_b: np.ndarray,
    weights_b: np.ndarray,
    V: np.ndarray,
    pa: np.ndarray,
    pb: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """WMD of document pairs ``(pa[p], pb[p])`` over one table of word vectors ``V``."""
    P = pa.shape[0]
    out = np.empty(P)
    status = np.zeros(P, dtype=np.int64)
    for p in prange(P):
        s, t = pa[p], pb[p]
        wa = words_a[indptr_a[s] : indptr_a[s + 1]]
        wb = words_b[indptr_b[t] : indptr_b[t + 1]]
        if wa.shape[0] == 0 or wb.shape[0] == 0:
            out[p] = np.inf
            continue
        C = pair_costs(V[wa], V[wb])
        c, st = emd_cost(
            weights_a[indptr_a[s] : indptr_a[s + 1]], weights_b[indptr_b[t] : indptr_b[t + 1]], C
        )
        out[p] = c
        status[p] = st
    return out, status


@njit(cache=True, nogil=True, parallel=True)
def centroid_distances(centroids_a: np.ndarray, centroids_b: np.ndarray) -> np.ndarray:
    """Word-centroid distances ``||X_a a - X_b b||``, a lower bound on WMD (Kusner et al.)."""
    na = centroids_a.shape[0]
    out = np.empty((na, centroids_b.shape[0]))
    for s in prange(na):
        out[s] = pair_costs(centroids_a[s : s + 1], centroids_b)[0]
    return out


@njit(cache=True, nogil=True)
def rwmd(a: np.ndarray, b: np.ndarray, C: np.ndarray) -> float:
    """Relaxed WMD (Kusner et al., 2015): ``max(sum_i a_i min_j C_ij, sum_j b_j min_i C_ij)``.

    Each term drops one marginal constraint, so both are lower bounds on the EMD.
    """
    n, m = C.shape
    rows = 0.0
    for i in range(n):
        best = C[i, 0]
        for j in range(1, m):
            if C[i, j] < best:
                best = C[i, j]
        rows += a[i] * best
    cols = 0.0
    for j in range(m):
        best = C[0, j]
        for i in range(1, n):
            if C[i, j] < best:
                best = C[i, j]
        cols += b[j] * best
    return max(rows, cols)
