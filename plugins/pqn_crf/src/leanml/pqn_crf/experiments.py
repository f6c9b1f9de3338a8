"""Side-by-side solver traces on one CRF problem: Prox-QN, OWL-QN, FISTA and CRFsuite.

Every solver minimises the same objective on the same features in this process. The
optimum F* is the lowest objective any of them reached; the trace reports, per solver,
the function evaluations and seconds needed to reach each relative gap (F - F*)/F*.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from leanml.core import ParameterError

from ._base import threads
from .chain import ChainObjective
from .crf import CRF, _default_passes
from .solvers import SolverResult, fista, owlqn, prox_qn

__all__ = ["GAPS", "TRACE_SOLVERS", "gap_table", "trace_solvers"]

#: Relative gaps reported by default.
GAPS = (1e-2, 1e-3, 1e-4, 1e-6)
#: Names accepted by :func:`trace_solvers`.
TRACE_SOLVERS = ("prox-qn", "owl-qn", "fista", "crfsuite")


def trace_solvers(
    X: Sequence[Any],
    y: Sequence[Any],
    c1: float,
    solvers: Sequence[str] = ("prox-qn", "crfsuite"),
    *,
    max_evals: int = 500,
    m: int = 20,
    crfsuite_memory: int = 6,
    n_threads: int | None = None,
    progress: Any = None,
) -> dict[str, dict[str, Any]]:
    """Run each solver with a budget of ``max_evals`` evaluations on one CRF problem.

    Returns ``{solver: {"objective", "evals", "seconds": arrays, "nnz": int,
    "wall": seconds}}``. CRFsuite's curve comes from its own log (loss, line-search
    trials and seconds per iteration); its ``max_iterations`` is set to ``max_evals``.
    """
    unknown = set(solvers) - set(TRACE_SOLVERS)
    if unknown:
        raise ParameterError(f"unknown solver(s) {sorted(unknown)}; choose from {TRACE_SOLVERS}")
    crf = CRF(c1=c1)
    data = crf._encode(X, y, fit=True)
    obj = ChainObjective(data)
    w0 = np.zeros(obj.n_params)
    wrap = progress or (lambda it, _desc: it)
    # Numba compiles (or loads from its cache) each kernel on first use: a few seconds to
    # tens of seconds in a fresh environment. Two evaluations of each solver on the first
    # sequences take that out of the timed traces.
    few = CRF(c1=c1)._encode(X[:3], y[:3], fit=True)
    tiny = ChainObjective(few)
    for name in set(solvers) - {"crfsuite"}:
        with threads(n_threads, single_blas=True):
            _run(name, tiny, np.zeros(tiny.n_params), c1, 2, m)
    out: dict[str, dict[str, Any]] = {}
    for name in wrap(list(solvers), "solvers"):
        if name == "crfsuite":
            from .peers import CRFsuiteCRF

            peer = CRFsuiteCRF(
                c1=c1,
                max_iterations=max_evals,
                epsilon=1e-12,
                delta=1e-13,
                period=50,
                num_memories=crfsuite_memory,
            ).fit(X, y)
            tr = peer.objective_trace()
            W, T = peer.weights_for(crf.attributes_, crf.classes_)
            out[name] = {
                **tr,
                "nnz": int(np.count_nonzero(W) + np.count_nonzero(T)),
                "wall": peer.train_seconds_,
            }
            continue
        with threads(n_threads, single_blas=True):
            t0 = time.perf_counter()
            res = _run(name, obj, w0, c1, max_evals, m)
            wall = time.perf_counter() - t0
        out[name] = {
            "objective": np.array(res.trace.objective),
            "evals": np.array(res.trace.evals),
            "seconds": np.array(res.trace.seconds),
            "nnz": int(np.count_nonzero(res.w)),
            "wall": wall,
        }
    return out


def _run(name: str, obj: ChainObjective, w0: np.ndarray, c1: float, budget: int, m: int) -> Any:
    kw = {"tol": 1e-12, "max_iter": budget, "max_evals": budget}
    if name == "prox-qn":
        return prox_qn(obj, w0, c1, m=m, shrinking=False, inner_passes=_default_passes, **kw)
    if name == "owl-qn":
        return owlqn(obj, w0, c1, m=6, **kw)
    res: SolverResult = fista(obj, w0, c1, **kw)
    return res


def gap_table(
    traces: dict[str, dict[str, Any]], gaps: Sequence[float] = GAPS, f_star: float | None = None
) -> tuple[float, list[dict[str, Any]]]:
    """F* and one row per solver: evaluations and seconds to reach each relative gap.

    ``f_star`` defaults to the lowest objective in ``traces``.
    """
    if f_star is None:
        f_star = min(float(np.min(t["objective"])) for t in traces.values())
    rows = []
    for name, t in traces.items():
        row: dict[str, Any] = {"solver": name, "final F": float(t["objective"][-1])}
        for gap in gaps:
            hit = np.flatnonzero(t["objective"] <= f_star * (1.0 + gap))
            if hit.size:
                i = int(hit[0])
                row[f"evals@{gap:g}"] = int(t["evals"][i])
                row[f"s@{gap:g}"] = round(float(t["seconds"][i]), 3)
            else:
                row[f"evals@{gap:g}"] = None
                row[f"s@{gap:g}"] = None
        row["nnz"] = t["nnz"]
        row["total evals"] = int(t["evals"][-1])
        rows.append(row)
    return f_star, rows
