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
from .crf import CRF
from .solvers import SolverResult, fista, owlqn, prox_qn

__all__ = ["GAPS", "TRACE_SOLVERS", "gap_table", "plot_gaps", "trace_solvers"]

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
    m: int = 40,
    owlqn_memory: int = 6,
    crfsuite_memory: int = 6,
    pairs: str = "all",
    n_threads: int | None = None,
    progress: Any = None,
) -> dict[str, dict[str, Any]]:
    """Run each solver with a budget of ``max_evals`` evaluations on one CRF problem.

    Prox-QN runs as ``CRF.fit`` would (shrinking ``"auto"``, the default inner schedule)
    with memory ``m``; our OWL-QN with ``owlqn_memory``; CRFsuite with
    ``crfsuite_memory`` (its default is 6) and ``possible_states``/``possible_transitions``
    on for ``pairs="all"``, off (its defaults) for ``pairs="observed"``.

    Returns ``{solver: {"objective", "evals", "seconds": arrays, "nnz": int,
    "wall": seconds, "m": memory}}``. CRFsuite's curve comes from its own log (loss,
    line-search trials and seconds per iteration); its ``max_iterations`` is ``max_evals``.
    """
    unknown = set(solvers) - set(TRACE_SOLVERS)
    if unknown:
        raise ParameterError(f"unknown solver(s) {sorted(unknown)}; choose from {TRACE_SOLVERS}")
    crf = CRF(c1=c1, m=m, pairs=pairs)
    data = crf._encode(X, y, fit=True)
    obj = ChainObjective(data, pairs=pairs)
    w0 = np.zeros(obj.n_params)
    wrap = progress or (lambda it, _desc: it)
    # Numba compiles (or loads from its cache) each kernel on first use: a few seconds to
    # tens of seconds in a fresh environment. Two evaluations of each solver on the first
    # sequences take that out of the timed traces.
    few = CRF(c1=c1)._encode(X[:3], y[:3], fit=True)
    tiny = ChainObjective(few, pairs=pairs)
    for name in set(solvers) - {"crfsuite"}:
        with threads(n_threads, single_blas=True):
            _run(name, tiny, np.zeros(tiny.n_params), c1, 2, m, False)
    shrink = crf._shrinking(obj)
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
                pairs=pairs,
            ).fit(X, y)
            tr = peer.objective_trace()
            W, T = peer.weights_for(crf.attributes_, crf.classes_)
            out[name] = {
                **tr,
                "nnz": int(np.count_nonzero(W) + np.count_nonzero(T)),
                "wall": peer.train_seconds_,
                "m": crfsuite_memory,
            }
            continue
        memory = m if name == "prox-qn" else owlqn_memory
        with threads(n_threads, single_blas=True):
            t0 = time.perf_counter()
            res = _run(name, obj, w0, c1, max_evals, memory, shrink)
            wall = time.perf_counter() - t0
        out[name] = {
            "objective": np.array(res.trace.objective),
            "evals": np.array(res.trace.evals),
            "seconds": np.array(res.trace.seconds),
            "nnz": int(np.count_nonzero(res.w)),
            "wall": wall,
            "m": memory if name != "fista" else 0,
        }
    return out


def _run(
    name: str, obj: ChainObjective, w0: np.ndarray, c1: float, budget: int, m: int, shrink: bool
) -> SolverResult:
    # max_iter above the evaluation budget: the budget, not max_iter, ends a trace
    kw = {"tol": 1e-12, "max_iter": 10 * budget + 10, "max_evals": budget}
    if name == "prox-qn":
        return prox_qn(obj, w0, c1, m=m, shrinking=shrink, **kw)
    if name == "owl-qn":
        return owlqn(obj, w0, c1, m=m, **kw)
    return fista(obj, w0, c1, **kw)


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


def plot_gaps(traces: dict[str, dict[str, Any]], f_star: float, path: Any) -> None:
    """Save (F - F*)/F* against evaluations and against seconds, log scale, one line each."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ParameterError("plotting needs matplotlib: pip install matplotlib") from None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, t in traces.items():
        gap = np.maximum((t["objective"] - f_star) / abs(f_star), 1e-12)
        label = f"{name} (m={t['m']})" if "m" in t else name
        axes[0].semilogy(t["evals"], gap, label=label)
        axes[1].semilogy(t["seconds"], gap, label=label)
    axes[0].set_xlabel("function evaluations")
    axes[1].set_xlabel("seconds")
    for ax in axes:
        ax.set_ylabel("(F - F*) / F*")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
