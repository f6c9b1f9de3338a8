"""Plain NumPy twins of the kernels in :mod:`._kernels`, used by the tests and benchmarks.

Same arguments, same in-place updates, same random inputs (the caller draws the
permutations and hyperplanes), so the two must agree to rounding error.
"""

from __future__ import annotations

import itertools

import numpy as np


def sweep_lowrank(P, w, cdiag, h, V, S, s0, order):
    """NumPy mixing sweep with C = P diag(w) P', S = V[1:]'P (k x D); a loop over coordinates."""
    for i in order:
        if i == 0:
            nrm = np.linalg.norm(s0)
            if nrm > 0:
                V[0] = s0 / nrm
            continue
        r = i - 1
        g = 0.25 * (S @ (P[r] * w) - cdiag[r] * V[i]) + h[r] * V[0]
        nrm = np.linalg.norm(g)
        if nrm <= 0:
            continue
        new = g / nrm
        delta = new - V[i]
        V[i] = new
        S += np.outer(delta, P[r])
        s0 += h[r] * delta


def sweep_dense(C, h, V, s0, order):
    """NumPy mixing sweep with a dense C."""
    for i in order:
        if i == 0:
            nrm = np.linalg.norm(s0)
            if nrm > 0:
                V[0] = s0 / nrm
            continue
        r = i - 1
        g = 0.25 * (C[r] @ V[1:] - C[r, r] * V[i]) + h[r] * V[0]
        nrm = np.linalg.norm(g)
        if nrm <= 0:
            continue
        new = g / nrm
        s0 += h[r] * (new - V[i])
        V[i] = new


def round_codes(V, R):
    """All roundings at once: Z (T x n) uint8 with z = (1 + y0 sign(V r)) / 2."""
    Y = np.where(V @ R >= 0, 1.0, -1.0)  # (n + 1, T)
    return ((Y[1:] * Y[0]) > 0).T.astype(np.uint8)


def values(C, b, Z):
    """z'Cz + b'z for every row of Z."""
    Zf = Z.astype(float)
    return np.einsum("ti,ij,tj->t", Zf, C, Zf) + Zf @ b


def local_search(C, b, z, max_passes):
    """First-improvement 1-flip search in index order (as the kernels); returns z, value."""
    z = z.astype(np.uint8).copy()
    val = float(z @ C @ z + b @ z)
    for _ in range(max_passes):
        improved = False
        for i in range(len(z)):
            delta = 1.0 - 2.0 * z[i]
            gain = delta * (2.0 * (C[i] @ z) + b[i]) + C[i, i]
            if gain > 1e-12 * (1.0 + abs(val)):
                z[i] = 1 - z[i]
                val += gain
                improved = True
        if not improved:
            break
    return z, val


def round_dense(C, b, V, R, max_passes):
    """Roundings then local search, row by row; returns Z (T x n) and values (T,)."""
    Z = round_codes(V, R)
    vals = values(C, b, Z)
    if max_passes > 0:
        for t in range(Z.shape[0]):
            Z[t], vals[t] = local_search(C, b, Z[t], max_passes)
    return Z, vals


def exhaustive(C, b):
    """Exact max of z'Cz + b'z by listing all 2^n codes (n <= ~16)."""
    n = C.shape[0]
    Z = np.array(list(itertools.product((0, 1), repeat=n)), dtype=float)
    vals = np.einsum("ti,ij,tj->t", Z, C, Z) + Z @ b
    t = int(np.argmax(vals))
    return Z[t].astype(np.uint8), float(vals[t])


def round_lowrank(P, w, cdiag, b, V, R, max_passes):
    """Roundings and local search with C = P diag(w) P' kept in factored form."""
    Z = round_codes(V, R)
    Q = Z.astype(float) @ P  # (T, D) = Z P
    vals = (Q * Q) @ w + Z.astype(float) @ b
    if max_passes > 0:
        for t in range(Z.shape[0]):
            z, q, val = Z[t], Q[t], vals[t]
            for _ in range(max_passes):
                improved = False
                for i in range(len(z)):
                    delta = 1.0 - 2.0 * z[i]
                    gain = delta * (2.0 * (P[i] * w) @ q + b[i]) + cdiag[i]
                    if gain > 1e-12 * (1.0 + abs(val)):
                        z[i] = 1 - z[i]
                        q += delta * P[i]
                        val += gain
                        improved = True
                if not improved:
                    break
            vals[t] = val
    return Z, vals


def polish_lowrank(P, w, cdiag, b, Z, max_passes):
    """Local search on each row of Z in place (factored C); returns Z, values."""
    vals = np.empty(Z.shape[0])
    for t in range(Z.shape[0]):
        z = Z[t]
        q = z.astype(float) @ P
        val = float((q * q) @ w + z.astype(float) @ b)
        for _ in range(max_passes):
            improved = False
            for i in range(len(z)):
                delta = 1.0 - 2.0 * z[i]
                gain = delta * (2.0 * (P[i] * w) @ q + b[i]) + cdiag[i]
                if gain > 1e-12 * (1.0 + abs(val)):
                    z[i] = 1 - z[i]
                    q += delta * P[i]
                    val += gain
                    improved = True
            if not improved:
                break
        vals[t] = val
    return Z, vals


def encode_rows(G, Bq, Z0, max_passes, exact):
    """Best code per row of max_z -z'Gz + Bq[r]'z: enumeration (exact) or 1-flip search
    from Z0[r] and from zero, keeping the better (ties: the first start), as the kernel."""
    N, K = Bq.shape
    Z = np.zeros((N, K), dtype=np.uint8)
    if exact:
        codes = np.array(list(itertools.product((0, 1), repeat=K)), dtype=float)
        vals = -np.einsum("ti,ij,tj->t", codes, G, codes)  # (2^K,)
        scores = vals[None, :] + Bq @ codes.T  # (N, 2^K)
        best = scores.max(axis=1)
        for r in range(N):
            if best[r] > 0:  # the zero code (value 0) wins ties, as in the kernel
                Z[r] = codes[int(np.argmax(scores[r]))]
        return Z
    for r in range(N):
        best_val = -np.inf
        for start in (Z0[r].astype(float), np.zeros(K)):
            z = start.copy()
            val = -z @ G @ z + Bq[r] @ z
            for _ in range(max_passes):
                improved = False
                for i in range(K):
                    delta = 1.0 - 2.0 * z[i]
                    gain = delta * (-2.0 * (G[i] @ z) + Bq[r, i]) - G[i, i]
                    if gain > 1e-12 * (1.0 + abs(val)):
                        z[i] = 1 - z[i]
                        val += gain
                        improved = True
                if not improved:
                    break
            if val > best_val:
                best_val = val
                Z[r] = z.astype(np.uint8)
    return Z
