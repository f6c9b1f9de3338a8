"""`leanml demo` entry: Prox-QN against CRFsuite's OWL-QN on OCR letters, with a figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from leanml.core import DemoContext

from .crf import CRF
from .datasets import load_ocr
from .experiments import gap_table, plot_gaps, trace_solvers


def run_demo(ctx: DemoContext) -> list[dict[str, Any]]:
    """Evaluations and seconds to relative gaps 1e-2..1e-4, test accuracy, and a figure.

    Both solvers at CRFsuite's memory m = 6, Prox-QN as ``CRF.fit`` runs it (shrinking
    ``"auto"``, default inner schedule), same objective (all pairs), 1 thread each.
    Full mode: 2,000 words, c1 = 1, 300 evaluations per solver. Quick mode: 150 words, 60.
    The figure (objective gap against evaluations and seconds, log scale) is saved as
    ``pqn-crf-gap.png`` in the output directory, beside the table.
    """
    n_words, budget = (150, 60) if ctx.quick else (2000, 300)
    data = load_ocr(test_folds=(0,), n_words=n_words, seed=ctx.seed)
    ctx.echo(
        f"OCR letters: {len(data.X_train)} training words, {len(data.X_test)} test words, "
        f"c1 = 1, m = 6 for both, {budget} evaluations per solver, 1 thread"
    )
    traces = trace_solvers(
        data.X_train, data.y_train, 1.0, ("prox-qn", "crfsuite"), max_evals=budget, m=6,
        crfsuite_memory=6, pairs="all", n_threads=1, progress=ctx.progress,
    )  # fmt: skip
    f_star, rows = gap_table(traces, gaps=(1e-2, 1e-3, 1e-4))
    out = Path(ctx.out)
    out.mkdir(parents=True, exist_ok=True)
    figure = out / "pqn-crf-gap.png"
    plot_gaps(traces, f_star, figure)
    ctx.echo(f"figure: {figure}")
    crf = CRF(c1=1.0, pairs="all", n_threads=1, random_state=ctx.seed)
    crf.fit(data.X_train, data.y_train)
    pred = crf.predict(data.X_test)
    acc = float(np.mean(np.concatenate(pred) == np.concatenate(data.y_test)))
    for row in rows:
        row["m"] = traces[row["solver"]]["m"]
        row["F*"] = f_star
        if row["solver"] == "prox-qn":
            row["CRF defaults: test letter acc"] = acc
            row["CRF defaults: evals"] = crf.result_.n_evals
    return rows
