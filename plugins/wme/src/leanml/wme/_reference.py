"""Plain NumPy/scipy references for the Numba kernels, used by the tests.

- :func:`emd_linprog`: the transport LP solved by HiGHS (``scipy.optimize.linprog``).
- :func:`emd_bruteforce_d2`: D = 2 by scanning every breakpoint of the one-dimensional dual.
- :func:`pair_costs_ref`: ``scipy.spatial.distance.cdist``.
- :func:`wmd_to_random_docs_ref`: the batched WME distances, one ``emd_linprog`` per pair.
- :func:`rwmd_ref`: the relaxed WMD as the larger of two LPs, each with one marginal dropped.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.spatial.distance import cdist

__all__ = [
    "emd_bruteforce_d2",
    "emd_linprog",
    "pair_costs_ref",
    "rwmd_ref",
    "wmd_to_random_docs_ref",
]


def emd_linprog(a: np.ndarray, b: np.ndarray, C: np.ndarray) -> float:
    """EMD as a linear program in ``n * m`` flows, solved exactly by HiGHS."""
    n, m = C.shape
    rows = sp.kron(sp.eye(n), np.ones((1, m)))  # sum_j f_ij = a_i
    cols = sp.kron(np.ones((1, n)), sp.eye(m))  # sum_i f_ij = b_j
    A_eq = sp.vstack([rows, cols]).tocsr()
    res = linprog(
        C.ravel(),
        A_eq=A_eq,
        b_eq=np.concatenate([a, b]),
        bounds=(0, None),
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if res.status != 0:
        raise RuntimeError(f"linprog failed: {res.message}")
    return float(res.fun)


def emd_bruteforce_d2(a: np.ndarray, b: np.ndarray, C: np.ndarray) -> float:
    """Two sinks: the cost is ``sum a_i C_i1 + min sum f_i (C_i0 - C_i1)``, a concave dual.

    Maximise the dual ``b_0 t + sum_i a_i min(0, C_i0 - C_i1 - t)`` over ``t``: the maximum
    sits at a breakpoint ``t = C_i0 - C_i1``, so try them all (O(n^2)).
    """
    diff = C[:, 0] - C[:, 1]
    base = float(a @ C[:, 1])
    best = -np.inf
    for t in diff:
        best = max(best, b[0] * t + float(a @ np.minimum(0.0, diff - t)))
    return base + best


def pair_costs_ref(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Euclidean ground costs by scipy."""
    return cdist(X, Y)


def wmd_to_random_docs_ref(
    docs: list[tuple[np.ndarray, np.ndarray]], random_docs: list[np.ndarray]
) -> np.ndarray:
    """WMD of each ``(vectors, weights)`` document to each uniform-weight random document."""
    out = np.empty((len(docs), len(random_docs)))
    for t, (X, w) in enumerate(docs):
        for r, Wr in enumerate(random_docs):
            b = np.full(len(Wr), 1.0 / len(Wr))
            out[t, r] = emd_linprog(w / w.sum(), b, cdist(X, Wr))
    return out


def rwmd_ref(a: np.ndarray, b: np.ndarray, C: np.ndarray) -> float:
    """Kusner et al.'s relaxed WMD: the transport LP with only the row (then only the
    column) constraints, solved by HiGHS; the larger of the two optima."""
    n, m = C.shape
    rows = sp.kron(sp.eye(n), np.ones((1, m))).tocsr()
    cols = sp.kron(np.ones((1, n)), sp.eye(m)).tocsr()
    out = []
    for A, rhs in ((rows, a), (cols, b)):
        res = linprog(
            C.ravel(),
            A_eq=A,
            b_eq=rhs,
            bounds=(0, None),
            method="highs",
            options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
        )
        if res.status != 0:
            raise RuntimeError(res.message)
        out.append(res.fun)
    return float(max(out))
