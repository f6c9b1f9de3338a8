"""The default stopping rule on the registered sets other than OANC, against CRFsuite's.

``LEANML_BENCH=full pytest benchmarks/test_bench_defaults.py -s``: OCR letters (fold 0 held
out, c1 = 10) and the Japanese NER set (80/20 split, c1 = 1), observed pairs, 1 thread.
Rows: CRFsuite's defaults; ``CRF`` with 0.2.2's defaults; ``CRF`` with 0.2.1's settings
(m = 20, inner cap 30 passes, delta = 1e-5); a tight solve gives F* (the lowest objective
seen). Checks that defaults chosen on OANC still stop sensibly elsewhere: at or below
CRFsuite's objective, near F*, with the same accuracy.

The smoke size (``LEANML_BENCH=smoke``) runs the same code on the first 30 sequences.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pytest

from leanml.core.testing import report
from leanml.pqn_crf import CRF
from leanml.pqn_crf.chain import ChainObjective
from leanml.pqn_crf.datasets import load_ner, load_ocr
from leanml.pqn_crf.peers import CRFsuiteCRF
from leanml.pqn_crf.solvers import ConvergenceWarning

pytestmark = pytest.mark.timeout(3600)

SETS = {"ocr-letters": (load_ocr, 10.0), "ner-ja": (load_ner, 1.0)}
SETTINGS_021 = {"m": 20, "inner_passes": lambda t: min(1 + t // 2, 30), "delta": 1e-5}


def _objective(crf: CRF, W: np.ndarray, T: np.ndarray, X, Y, c1: float) -> float:
    obj = ChainObjective(crf._encode(X, Y, fit=False), pairs="all")
    w = obj.join(W, T)
    return obj(w)[0] + c1 * float(np.abs(w).sum())


@pytest.mark.parametrize("name", list(SETS))
def test_defaults_stop_at_crfsuite_objective(bench_size, name, bench_out):
    loader, c1 = SETS[name]
    data = loader()
    n = 30 if bench_size == "smoke" else len(data.X_train)
    X, Y, Xt, Yt = data.X_train[:n], data.y_train[:n], data.X_test, data.y_test
    tags = np.concatenate(Yt)
    CRF(c1=c1, max_evals=2, n_threads=1).fit(X[:5], Y[:5])  # compile outside the timing
    load = os.getloadavg()[0]
    peer = CRFsuiteCRF(c1=c1, pairs="observed").fit(X, Y)
    ref = CRF(c1=c1, max_evals=1, n_threads=1).fit(X, Y)  # encoding only
    W, T = peer.weights_for(ref.attributes_, ref.classes_)
    peer_F = _objective(ref, W, T, X, Y, c1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the budget may end it
        tight = CRF(c1=c1, n_threads=1, tol=1e-9, delta=0.0, max_iter=3000).fit(X, Y)
    f_star = min(tight.objective_, peer_F)
    rows = [
        {
            "solver": "crfsuite lbfgs defaults (m=6)",
            "wall_s": peer.train_seconds_,
            "evals": int(peer.objective_trace()["evals"][-1]),
            "gap_to_F*": (peer_F - f_star) / f_star,
            "test_acc": float(np.mean(np.concatenate(peer.predict(Xt)) == tags)),
            "load1": load,
        }
    ]
    for label, kw in (("CRF 0.2.2 defaults (m=40)", {}), ("CRF 0.2.1 settings", SETTINGS_021)):
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        crf = CRF(c1=c1, n_threads=1, **kw).fit(X, Y)
        wall = time.perf_counter() - t0
        rows.append(
            {
                "solver": label,
                "wall_s": wall,
                "evals": crf.result_.n_evals,
                "gap_to_F*": (crf.objective_ - f_star) / f_star,
                "F_rel_vs_crfsuite": (crf.objective_ - peer_F) / peer_F,
                "test_acc": crf.score(Xt, Yt),
                "load1": load,
                "stopped": crf.result_.message,
                "wall_ratio_vs_crfsuite": wall / peer.train_seconds_,
            }
        )
    for row in rows:
        row.update({"data": name, "c1": c1, "F*": f_star, "threads": 1})
    report(f"defaults-{name}-{bench_size}", rows, bench_out)
