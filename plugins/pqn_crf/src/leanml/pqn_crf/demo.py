"""`leanml demo` entry: Prox-QN against CRFsuite's OWL-QN on OCR letters."""

from __future__ import annotations

from typing import Any

import numpy as np

from leanml.core import DemoContext

from .crf import CRF
from .datasets import load_ocr
from .experiments import gap_table, trace_solvers


def run_demo(ctx: DemoContext) -> list[dict[str, Any]]:
    """Evaluations and seconds to relative gaps 1e-2..1e-4, then test accuracy.

    Full mode: 2,000 words, c1 = 1, 300 evaluations per solver (about 30 s).
    Quick mode: 150 words, 60 evaluations.
    """
    n_words, budget = (150, 60) if ctx.quick else (2000, 300)
    data = load_ocr(test_folds=(0,), n_words=n_words, seed=ctx.seed)
    ctx.echo(
        f"OCR letters: {len(data.X_train)} training words, {len(data.X_test)} test words, "
        f"c1 = 1, {budget} evaluations per solver"
    )
    traces = trace_solvers(
        data.X_train, data.y_train, 1.0, ("prox-qn", "crfsuite"), max_evals=budget,
        progress=ctx.progress,
    )  # fmt: skip
    f_star, rows = gap_table(traces, gaps=(1e-2, 1e-3, 1e-4))
    crf = CRF(c1=1.0, max_evals=budget, random_state=ctx.seed).fit(data.X_train, data.y_train)
    pred = crf.predict(data.X_test)
    acc = float(np.mean(np.concatenate(pred) == np.concatenate(data.y_test)))
    for row in rows:
        row["F*"] = f_star
        if row["solver"] == "prox-qn":
            row["test letter acc"] = acc
    return rows
