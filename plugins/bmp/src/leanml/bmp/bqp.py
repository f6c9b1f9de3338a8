"""Boolean quadratic programs max z'Cz + b'z over z in {0,1}^n, through MAXCUT.

The {0,1} problem is homogenised to a ±1 quadratic form (LFL §4.1), its SDP relaxation is
solved by the low-rank mixing method (Wang, Chang, Kolter 2017) without ever forming C when
C = P diag(w) P', and the SDP solution is rounded by random hyperplanes (best of T, in
parallel), each rounding polished by 1-flip local search.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from leanml.core import InputError, ParameterError

__all__ = [
    "BQPResult",
    "bqp_value",
    "default_rank",
    "homogenize",
    "solve_bqp",
    "solve_bqp_exhaustive",
]

#: Largest n the exhaustive reference accepts (2^n codes).
EXHAUSTIVE_MAX = 24


@dataclass
class BQPResult:
    """What :func:`solve_bqp` returns.

    Attributes
    ----------
    z
        Best code found, boolean (n,).
    value
        z'Cz + b'z at ``z``.
    sdp_value
        The mixing method's SDP objective at its last sweep, on the same scale as ``value``
        (<Q, VV'> + b'1/2). At a global optimum of the rank-k problem it is the SDP bound,
        an upper bound on every {0,1} value; ``nan`` for the exhaustive method.
    round_values
        Value of every rounding (after local search when it is on), (T,).
    history
        SDP objective after each sweep (non-decreasing).
    n_sweeps
        Sweeps run.
    seconds
        Wall time.
    method
        ``"mixing-lowrank"``, ``"mixing-dense"`` or ``"exhaustive"``.
    V
        Final unit vectors (n + 1, k), row 0 the homogenising vector.
    """

    z: np.ndarray
    value: float
    sdp_value: float = float("nan")
    round_values: np.ndarray = field(default_factory=lambda: np.empty(0))
    history: list[float] = field(default_factory=list)
    n_sweeps: int = 0
    seconds: float = 0.0
    method: str = ""
    V: np.ndarray | None = None


def default_rank(n: int) -> int:
    """Mixing rank k = ceil(sqrt(2 (n + 1))) + 1, clipped to [4, 32].

    Above sqrt(2 (n + 1)) the Burer-Monteiro problem has no spurious local optima
    generically (Boumal et al. 2016); the cap of 32 keeps large n affordable.
    """
    return int(min(32, max(4, np.ceil(np.sqrt(2.0 * (n + 1))) + 1)))


def homogenize(C: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """The ±1 form of max z'Cz + b'z: Q ((n+1) x (n+1)) and a constant.

    With y = (y0, y1..yn) in {-1, 1}^(n+1) and z = (1 + y0 y) / 2,
    z'Cz + b'z = y'Qy + const, where Q = [[1'C1/4, h'], [h, C/4]], h = (C1 + b)/4 and
    const = b'1/2. Q is PSD whenever C is and b = 0.
    """
    C = np.asarray(C, dtype=float)
    b = np.asarray(b, dtype=float)
    n = C.shape[0]
    Q = np.empty((n + 1, n + 1))
    h = (C.sum(axis=1) + b) / 4.0
    Q[0, 0] = C.sum() / 4.0
    Q[0, 1:] = h
    Q[1:, 0] = h
    Q[1:, 1:] = C / 4.0
    return Q, float(b.sum() / 2.0)


def bqp_value(
    z: np.ndarray,
    C: np.ndarray | None = None,
    b: np.ndarray | None = None,
    *,
    P: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> float:
    """z'Cz + b'z, with C dense or C = P diag(weights) P' (never formed)."""
    z = np.asarray(z, dtype=float)
    lin = 0.0 if b is None else float(np.asarray(b, dtype=float) @ z)
    if P is not None:
        q = np.asarray(P, dtype=float).T @ z
        w = np.ones_like(q) if weights is None else np.asarray(weights, dtype=float)
        return float(w @ (q * q)) + lin
    if C is None:
        return lin
    return float(z @ np.asarray(C, dtype=float) @ z) + lin


def _finite(name: str, a: np.ndarray) -> np.ndarray:
    if np.iscomplexobj(a):
        raise InputError(f"{name} is complex; solve_bqp needs real numbers")
    try:
        a = np.ascontiguousarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} is not numeric: {exc}") from None
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} contains NaN or inf")
    return a


def _check(
    C: Any, b: Any, P: Any, weights: Any
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None, np.ndarray | None, int]:
    if (C is None) == (P is None):
        raise InputError("pass exactly one of C (n x n) or P (n x D, C = P diag(w) P')")
    if P is not None:
        P = _finite("P", P)
        if P.ndim != 2:
            raise InputError(f"P must be 2-D (n x D), got shape {P.shape}")
        n = P.shape[0]
        if weights is None:
            weights = np.ones(P.shape[1])
        weights = _finite("weights", weights)
        if weights.shape != (P.shape[1],):
            raise InputError(f"weights must have shape ({P.shape[1]},), got {weights.shape}")
    else:
        C = _finite("C", C)
        if C.ndim != 2 or C.shape[0] != C.shape[1]:
            raise InputError(f"C must be square (n x n), got shape {C.shape}")
        n = C.shape[0]
        if not np.allclose(C, C.T, rtol=1e-10, atol=1e-12 * (1.0 + np.abs(C).max(initial=0))):
            C = 0.5 * (C + C.T)  # z'Cz only sees the symmetric part
    if n == 0:
        raise InputError("the problem has no variables (n = 0)")
    b = np.zeros(n) if b is None else _finite("b", b)
    if b.shape != (n,):
        raise InputError(f"b must have shape ({n},), got {b.shape}")
    return C, b, P, weights, n


def solve_bqp_exhaustive(C: np.ndarray, b: np.ndarray | None = None) -> BQPResult:
    """Exact maximum of z'Cz + b'z by Gray-code enumeration of all 2^n codes (n <= 24).

    Parameters
    ----------
    C
        Symmetric (n, n) matrix.
    b
        Linear term (n,), zero by default.
    """
    from . import _kernels

    C, b, _, _, n = _check(C, b, None, None)
    if n > EXHAUSTIVE_MAX:
        raise ParameterError(f"exhaustive search takes n <= {EXHAUSTIVE_MAX}, got n = {n}")
    t0 = time.perf_counter()
    z, val = _kernels.exhaustive(C, b)
    return BQPResult(
        z=z.astype(bool),
        value=float(val),
        seconds=time.perf_counter() - t0,
        method="exhaustive",
    )


def solve_bqp(
    C: np.ndarray | None = None,
    b: np.ndarray | None = None,
    *,
    P: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    rank: int | None = None,
    max_sweeps: int = 50,
    tol: float = 1e-6,
    n_rounds: int = 100,
    local_search: bool = True,
    n_polish: int | None = None,
    method: str = "mixing",
    backend: str = "numba",
    random_state: int | np.random.Generator | None = None,
) -> BQPResult:
    """Maximise z'Cz + b'z over z in {0,1}^n.

    Parameters
    ----------
    C
        Dense symmetric (n, n) matrix (any sign pattern); exclusive with ``P``.
    b
        Linear term (n,) (zero by default).
    P, weights
        Low-rank form C = P diag(weights) P' with P (n, D); ``weights`` (D,) default to 1
        (PSD C = PP', the greedy step of BMP). C is never formed: a sweep costs O(n D k).
    rank
        k, the number of columns of the mixing vectors; default :func:`default_rank`.
    max_sweeps, tol
        Stop the mixing method after ``max_sweeps`` sweeps or when one sweep raises the SDP
        objective by less than ``tol`` times its magnitude.
    n_rounds
        T, the random hyperplanes tried (in parallel); the best rounding is returned.
    local_search
        Polish roundings by first-improvement 1-flip search (O(n D) a pass).
    n_polish
        How many of the best roundings to polish (low-rank path); default all of them up
        to n = 4096 and the best 8 above (on Indian Pines, polishing all 64 roundings took
        1.4 s of a 2.3 s greedy step and changed nothing).
    method
        ``"mixing"`` (SDP + rounding) or ``"exhaustive"`` (exact, n <= 24, needs dense C).
    backend
        ``"numba"`` (the kernels) or ``"numpy"`` (the reference sweep and rounding; slow).
    random_state
        Seed for the initial vectors, sweep orders and hyperplanes.

    Returns
    -------
    BQPResult
        Best code, its value, the SDP objective and the per-sweep history.
    """
    if method == "exhaustive":
        if C is None and P is not None:
            P_ = _finite("P", P)
            w = np.ones(P_.shape[1]) if weights is None else _finite("weights", weights)
            C = (P_ * w) @ P_.T
        return solve_bqp_exhaustive(C, b)
    if method != "mixing":
        raise ParameterError(f"method must be 'mixing' or 'exhaustive', got {method!r}")
    if backend not in ("numba", "numpy"):
        raise ParameterError(f"backend must be 'numba' or 'numpy', got {backend!r}")
    for name, value, low in (("max_sweeps", max_sweeps, 1), ("n_rounds", n_rounds, 1)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ParameterError(f"{name} must be an integer >= {low}, got {value!r}")
    if not tol >= 0:
        raise ParameterError(f"tol must be >= 0, got {tol!r}")
    C, b, P, weights, n = _check(C, b, P, weights)
    k = default_rank(n) if rank is None else rank
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"rank must be an integer >= 1, got {rank!r}")
    if backend == "numba":
        from . import _kernels as impl
    else:
        from . import _reference as impl
    rng = np.random.default_rng(random_state)
    t0 = time.perf_counter()

    V = rng.standard_normal((n + 1, k))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    lowrank = P is not None
    if lowrank:
        Pw = P * weights
        cdiag = np.einsum("id,id->i", Pw, P)
        h = (Pw @ P.sum(axis=0) + b) / 4.0
        q00 = float(weights @ P.sum(axis=0) ** 2) / 4.0
        S = np.ascontiguousarray(V[1:].T @ P)
    else:
        h = (C.sum(axis=1) + b) / 4.0
        q00 = float(C.sum()) / 4.0
    s0 = h @ V[1:]
    const = float(b.sum()) / 2.0

    def objective() -> float:
        V1 = V[1:]
        if lowrank:
            quad = float(np.einsum("kd,kd->d", S, S) @ weights)
        else:
            quad = float(np.einsum("ik,ik->", C @ V1, V1))
        return q00 + 2.0 * float(V[0] @ s0) + quad / 4.0 + const

    history = [objective()]
    for _ in range(max_sweeps):
        order = rng.permutation(n + 1).astype(np.int64)
        if lowrank:
            impl.sweep_lowrank(P, weights, cdiag, h, V, S, s0, order)
        else:
            impl.sweep_dense(C, h, V, s0, order)
        history.append(objective())
        if history[-1] - history[-2] <= tol * max(1.0, abs(history[-1])):
            break
    R = rng.standard_normal((k, n_rounds))
    passes = 10_000 if local_search else 0
    if n_polish is None:
        n_polish = n_rounds if n <= 4096 else 8
    elif not isinstance(n_polish, (int, np.integer)) or n_polish < 0:
        raise ParameterError(f"n_polish must be an integer >= 0, got {n_polish!r}")
    polish_some = lowrank and local_search and n_polish < n_rounds
    if lowrank:
        rargs = (P, weights, cdiag, b, V, R, 0 if polish_some else passes)
        fn, axis = impl.round_lowrank, 5
    else:
        rargs = (C, b, V, R, passes)
        fn, axis = impl.round_dense, 3
    if backend == "numba":
        Z, vals = impl.threaded(fn, 1, *rargs, axis_arg=axis)
    else:
        Z, vals = fn(*rargs)
    if polish_some and n_polish > 0:
        top = np.argsort(-vals, kind="stable")[:n_polish]
        Zt = np.ascontiguousarray(Z[top])
        pargs = (P, weights, cdiag, b, Zt, passes)
        if backend == "numba":
            Zt, vt = impl.threaded(impl.polish_lowrank, 0, *pargs, axis_arg=4)
        else:
            Zt, vt = impl.polish_lowrank(*pargs)
        Z[top], vals[top] = Zt, vt
    best = int(np.argmax(vals))
    z, value = Z[best].astype(bool), float(vals[best])
    if value < 0.0:  # the zero code is always feasible with value 0
        z, value = np.zeros(n, dtype=bool), 0.0
    if value > history[-1] + 1e-3 * max(1.0, abs(history[-1])):
        warnings.warn(
            f"a {{0,1}} code scores {value:.6g} above the mixing objective {history[-1]:.6g}: "
            "the mixing method stopped short of the SDP optimum, so sdp_value is not an "
            "upper bound here (raise max_sweeps or rank)",
            RuntimeWarning,
            stacklevel=2,
        )
    return BQPResult(
        z=z,
        value=value,
        sdp_value=history[-1],
        round_values=np.asarray(vals, dtype=float),
        history=history,
        n_sweeps=len(history) - 1,
        seconds=time.perf_counter() - t0,
        method="mixing-lowrank" if lowrank else "mixing-dense",
        V=V,
    )
