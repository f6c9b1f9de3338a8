"""Plain NumPy references for the Numba kernels, used by the tests (and the throughput
benchmark's baseline). Written for clarity: vectorised over rows, one grid at a time."""

from __future__ import annotations

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised (uint64 arithmetic wraps modulo 2^64)."""
    h = (h ^ (h >> np.uint64(30))) * _M1
    h = (h ^ (h >> np.uint64(27))) * _M2
    return h ^ (h >> np.uint64(31))


def grid_keys(X: np.ndarray, a: np.ndarray, b: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Hashed bin keys of every row of dense ``X`` in every grid, as an (R, n) array."""
    keys = np.empty((a.shape[0], X.shape[0]), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(a.shape[0]):
            codes = np.floor(X * a[r] - b[r]).astype(np.int64).astype(np.uint64)
            keys[r] = mix((codes * P[r]).sum(axis=1, dtype=np.uint64))
    return keys


def fit_bins(X: np.ndarray, a: np.ndarray, b: np.ndarray, P: np.ndarray):
    """Compact per-grid ids in first-seen order (as the kernel assigns them) via np.unique."""
    keys = grid_keys(X, a, b, P)
    local = np.empty(keys.shape, dtype=np.int64)
    kappa = np.empty(keys.shape[0], dtype=np.int64)
    for r, row in enumerate(keys):
        _, first, inverse = np.unique(row, return_index=True, return_inverse=True)
        rank = np.empty(len(first), dtype=np.int64)
        rank[np.argsort(first)] = np.arange(len(first))
        local[r] = rank[inverse]
        kappa[r] = len(first)
    return local, kappa


def dcd_svm(Z, y, C: float, squared: bool, n_epochs: int, seed: int = 0) -> np.ndarray:
    """Textbook dual coordinate descent (no shrinking) on an explicit CSR matrix ``Z``."""
    rng = np.random.default_rng(seed)
    n = Z.shape[0]
    upper, diag = (np.inf, 0.5 / C) if squared else (C, 0.0)
    qd = np.asarray(Z.multiply(Z).sum(axis=1)).ravel() + diag
    alpha, w = np.zeros(n), np.zeros(Z.shape[1])
    for _ in range(n_epochs):
        for i in rng.permutation(n):
            zi = Z.getrow(i)
            g = y[i] * zi.dot(w)[0] - 1.0 + diag * alpha[i]
            new = min(max(alpha[i] - g / qd[i], 0.0), upper)
            w[zi.indices] += (new - alpha[i]) * y[i] * zi.data
            alpha[i] = new
    return w


def _slope(loss: str, m: np.ndarray, y: np.ndarray) -> np.ndarray:
    if loss == "squared":
        return m - y
    if loss == "squared_hinge":
        return -2.0 * y * np.maximum(0.0, 1.0 - y * m)
    return -y / (1.0 + np.exp(y * m))


def l1_prox_sweep(
    Z, y, w, C: float, loss: str, n_epochs: int, fit_intercept: bool = False
) -> np.ndarray | tuple[np.ndarray, float]:
    """Sequential proximal coordinate descent, column by column, on explicit CSR ``Z``.

    With ``fit_intercept`` each epoch starts with the step b -= g_b / (L sum_i C) on the
    unpenalised bias (L the loss's curvature bound); returns ``(w, b)`` then."""
    Zc = Z.tocsc()
    w = w.copy()
    b = 0.0
    m = Z @ w
    curvature = {"squared": 1.0, "squared_hinge": 2.0, "logistic": 0.25}[loss]
    for _ in range(n_epochs):
        if fit_intercept:
            step = -C * _slope(loss, m, y).sum() / (curvature * C * len(y))
            b += step
            m += step
        for c in range(Z.shape[1]):
            rows = Zc.indices[Zc.indptr[c] : Zc.indptr[c + 1]]
            vals = Zc.data[Zc.indptr[c] : Zc.indptr[c + 1]]
            g = C * np.dot(_slope(loss, m[rows], y[rows]), vals)
            h = C * curvature * np.dot(vals, vals)
            z = w[c] - g / h
            new = np.sign(z) * max(abs(z) - 1.0 / h, 0.0)
            m[rows] += (new - w[c]) * vals
            w[c] = new
    return (w, b) if fit_intercept else w


def digest_words(words: np.ndarray, seeds: np.ndarray) -> tuple[np.uint64, np.uint64]:
    """``_digest.digest_words`` with the four lanes as a vector (word i to lane i % 4)."""
    p1, p2 = np.uint64(0x9E3779B185EBCA87), np.uint64(0xC2B2AE3D27D4EB4F)
    acc = seeds.astype(np.uint64).copy()
    padded = np.zeros(-(-len(words) // 4) * 4, dtype=np.uint64)
    padded[: len(words)] = words
    with np.errstate(over="ignore"):
        for row, block in enumerate(padded.reshape(-1, 4)):
            live = np.arange(4) + 4 * row < len(words)  # the tail leaves later lanes alone
            new = acc + block * p2
            new = ((new << np.uint64(31)) | (new >> np.uint64(33))) * p1
            acc = np.where(live, new, acc)
        n = np.uint64(len(words))
        one = np.array([acc[1] + n, acc[3] - n], dtype=np.uint64)
        inner = mix(one)
        return tuple(mix(np.array([acc[0] ^ inner[0], acc[2] ^ inner[1]], dtype=np.uint64)))


def splitmix64_outputs(seed: int, count: int) -> list[int]:
    """The first ``count`` raw splitmix64 outputs for ``seed``, in Python integers."""
    mask, x, out = 2**64 - 1, seed & (2**64 - 1), []
    for _ in range(count):
        x = (x + 0x9E3779B97F4A7C15) & mask
        z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append(z ^ (z >> 31))
    return out


def splitmix_draws(seed: int, bounds: np.ndarray) -> np.ndarray:
    """``_shuffle.randbelow``'s draws for each bound: Lemire's textbook acceptance test
    (product's low half >= (2^32 - n) mod n) for n < 2^32, the output modulo n above."""
    outputs = iter(splitmix64_outputs(seed, 4 * len(bounds) + 64))
    draws = []
    for n in map(int, bounds):
        while True:
            z = next(outputs)
            if n > 2**32 - 1:
                draws.append(z % n)
                break
            m = (z >> 32) * n
            if m & 0xFFFFFFFF >= (2**32 - n) % n:
                draws.append(m >> 32)
                break
    return np.array(draws, dtype=np.int64)
